import type { CodeServer, StartCodeServerOptions } from './codeServer.mjs';
import type { HostPaths } from './ensureHost.mjs';

/** User settings of `npm start`'s private profile (startup editor, no Chat side bar, no AI onboarding). */
export const USER_SETTINGS: Readonly<Record<string, unknown>>;
/** `env` without the test harness's variables (CS_*, CRASH_ITERATIONS, MOCHA_*). */
export function userEnv(env?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
/** The startCodeServer() options of `npm start`'s workbench, for the given .vsix. */
export function userServerOptions(options: {
  paths: HostPaths;
  vsix: string;
  env?: NodeJS.ProcessEnv;
  onOutput?: StartCodeServerOptions['onOutput'];
  displayLanguage?: string;
}): StartCodeServerOptions & { paths: HostPaths; env: NodeJS.ProcessEnv; smokeTestDriver: false };
/** The URL that opens `folder`, with no development payload. */
export function userWorkbenchUrl(server: CodeServer, folder: string): string;
/** Starts code-server with the extension installed from `vsix` (packaged first when not given). */
export function startUserWorkbench(options: {
  paths: HostPaths;
  folder: string;
  vsix?: string;
  env?: NodeJS.ProcessEnv;
  onOutput?: StartCodeServerOptions['onOutput'];
  displayLanguage?: string;
  log?: (line: string) => void;
}): Promise<{ server: CodeServer; url: string; timings: { packageMs: number; serverMs: number } }>;
