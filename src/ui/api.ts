import type * as vscode from 'vscode';
import type { JsonReadResult, JsonSchema } from '../core/jsonStore';
import type { Orphan } from '../core/orphans';

/** What `activate` returns: other extensions persist their JSON crash-safely through it. */
export interface CrashSafeStateApi {
  /** Validates (optionally against a JSON Schema), then writes atomically with the user's durability setting. */
  writeJson(path: string, value: unknown, options?: { schema?: JsonSchema }): Promise<void>;
  /** Reads and classifies a JSON file: missing, empty, corrupt (line:column), invalid or valid. */
  readJson<T = unknown>(path: string, options?: { schema?: JsonSchema }): Promise<JsonReadResult<T>>;
  /** Rescans the workspace and returns its orphaned temp files. */
  scan(): Promise<readonly Orphan[]>;
  /** Fires after every scan with the current orphans. */
  onDidChangeOrphans: vscode.Event<readonly Orphan[]>;
  /** How long `activate` took, in milliseconds (its budget is 50 ms). */
  readonly activationMs: number;
  /** Read-only views of what the UI shows, for diagnostics and integration tests. */
  readonly diagnostics: {
    statusBarText(): string;
    /** Targets the startup check offered to recover. */
    startupOffers(): readonly string[];
  };
}
