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
  dirs: { profileDir: string; userData: string; extensions: string; config: string; data: string; tmp: string };
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>;
  /** The workbench URL that opens `folder` with the development extension (and optionally its tests). */
  workbenchUrl(options: WorkbenchOptions): string;
  /** Stops the whole process group and removes the private profile. */
  stop(): Promise<void>;
}

/** Asks the kernel for a free TCP port on 127.0.0.1. */
export function freePort(): Promise<number>;
/** Starts code-server with a private profile and resolves once /healthz answers 200. */
export function startCodeServer(options?: {
  paths?: HostPaths;
  port?: number;
  env?: NodeJS.ProcessEnv;
  onOutput?: (chunk: Buffer, stream: 'stdout' | 'stderr') => void;
  healthTimeoutMs?: number;
  disableWorkspaceTrust?: boolean;
  extraArgs?: string[];
}): Promise<CodeServer>;
/** Builds `<baseUrl>/?folder=…&payload=…` for the development extension and its tests. */
export function workbenchUrl(baseUrl: string, options?: WorkbenchOptions): string;
