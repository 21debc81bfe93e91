export function withoutNpmVariables(env?: NodeJS.ProcessEnv): Record<string, string>;
