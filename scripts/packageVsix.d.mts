/** The arguments `npm run package` gives vsce. */
export const VSCE_PACKAGE_ARGS: string[];
/** Builds the .vsix in a temp staging folder (dist/ untouched); `dispose()` removes the folder. */
export function buildVsix(options?: { repoRoot?: string }): { vsix: string; stage: string; dispose(): void };
