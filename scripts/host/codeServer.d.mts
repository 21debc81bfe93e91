import type { HostPaths } from './ensureHost.mjs';

export const HOST: string;
/** Chromium flags that keep a headless run offline, quiet and working as root. */
export const CHROMIUM_ARGS: string[];

/** What to open in the workbench. */
export interface WorkbenchOptions {
  folder?: string;
  extensionDevelopmentPath?: string | string[];
  extensionTestsPath?: string;
}

/** A running code-server. */
export interface CodeServer {
  port: number;
  baseUrl: string;
  pid: number;
  /** The command line the server was started with (after the Node binary and its preload). */
  args: string[];
  dirs: ProfileDirs;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>;
  /**
   * The workbench URL that opens `folder` with the development extension (and optionally its tests). Throws for a
   * development extension or tests unless the server was started with `smokeTestDriver: true`.
   */
  workbenchUrl(options: WorkbenchOptions): string;
  /** Stops the whole process group and removes the private profile. */
  stop(): Promise<void>;
}

/** Asks the kernel for a free TCP port on 127.0.0.1. */
export function freePort(): Promise<number>;
/** The private profile's folders. */
export interface ProfileDirs {
  profileDir: string;
  userData: string;
  extensions: string;
  config: string;
  data: string;
  tmp: string;
}
/** The command line (after the Node binary) that starts code-server; `smokeTestDriver` defaults to false. */
export function codeServerArgs(options: {
  paths: HostPaths;
  port: number;
  configFile: string;
  dirs: Pick<ProfileDirs, 'userData' | 'extensions'>;
  disableWorkspaceTrust?: boolean;
  smokeTestDriver?: boolean;
  extraArgs?: string[];
}): string[];
/** The command line (after the Node binary) that installs a .vsix into the profile's extensions folder. */
export function installExtensionArgs(options: {
  paths: HostPaths;
  configFile: string;
  dirs: Pick<ProfileDirs, 'userData' | 'extensions'>;
  vsix: string;
}): string[];
/** Options of startCodeServer(). */
export interface StartCodeServerOptions {
  paths?: HostPaths;
  port?: number;
  env?: NodeJS.ProcessEnv;
  onOutput?: (chunk: Buffer, stream: 'stdout' | 'stderr') => void;
  healthTimeoutMs?: number;
  disableWorkspaceTrust?: boolean;
  /** Test tooling: loads extensionDevelopmentPath/extensionTestsPath, and hides notification toasts. Default false. */
  smokeTestDriver?: boolean;
  /** .vsix files installed into the private profile (code-server --install-extension) before the server starts. */
  extensions?: string[];
  /** Written to the private profile's User/settings.json. */
  userSettings?: Record<string, unknown>;
  /** The server ends its process group and removes its profile once this process is gone (default true). */
  watchParent?: boolean;
  /** Starts the workbench in this display language (`--locale`, e.g. `de`); see displayLanguageFiles(). */
  displayLanguage?: string;
  extraArgs?: string[];
}
/** Writes the profile's languagepacks.json so `--locale language` takes effect without a marketplace pack. */
export function displayLanguageFiles(dirs: Pick<ProfileDirs, 'profileDir' | 'userData'>, language: string): void;
/** Starts code-server with a private profile and resolves once /healthz answers 200. */
export function startCodeServer(options?: StartCodeServerOptions): Promise<CodeServer>;
/** Builds `<baseUrl>/?folder=…&payload=…` for the development extension and its tests. */
export function workbenchUrl(baseUrl: string, options?: WorkbenchOptions): string;
