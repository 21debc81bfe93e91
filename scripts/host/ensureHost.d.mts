/** Paths of the installed (or to-be-installed) host under `<root>/.cache/host`. */
export interface HostPaths {
  cacheDir: string;
  nodeDir: string;
  nodeBinDir: string;
  nodeBinary: string;
  codeServerDir: string;
  codeServerEntry: string;
  chromium: string;
  stampFile: string;
}
export const NODE_VERSION: string;
export const CODE_SERVER_VERSION: string;
export const CHROMIUM_PATH: string;
/** Where everything lives under `<root>/.cache/host`, whether or not it is installed yet. */
export function hostPaths(root?: string): HostPaths;
/** Installs whatever is missing and returns the paths; `log` receives one line per step. */
export function ensureHost(options?: { root?: string; log?: (line: string) => void }): Promise<HostPaths>;
