/** Paths of the installed (or to-be-installed) host under its cache folder. */
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
/** Where everything lives under `cacheDir`, whether or not it is installed yet. */
/** `$CRASH_SAFE_HOST_CACHE`, else `$XDG_CACHE_HOME/crash-safe-state/host` (default `~/.cache/…`). */
export function defaultHostCacheDir(): string;
export function hostPaths(cacheDir?: string): HostPaths;
/** Installs whatever is missing and returns the paths; `log` receives one line per step. */
/** `aptPackages: false` skips the Debian package check (tests that must not run apt-get). */
export function ensureHost(options?: {
  cacheDir?: string;
  log?: (line: string) => void;
  aptPackages?: boolean;
}): Promise<HostPaths>;
