import type * as vscode from 'vscode';
import type { GroupCommitResult, GroupFile, GroupRecoveryReport } from '../core/groups/groupCommit';
import type { JsonReadResult, JsonSchema } from '../core/json/jsonStore';
import type { Orphan } from '../core/orphans/orphans';
import type { Todo } from '../state/todosSchema';
import type { BrokenFile, HistoryCheckStats } from './copies/brokenFiles';
import type { CrashSafeAutoSaveStats } from './crashSafeSave/crashSafeAutoSave';
import type { CrashSafeFsStats } from './crashSafeSave/crashSafeFs';
import type { CrashSafeQuickDiffStats } from './crashSafeSave/crashSafeQuickDiff';
import type { CrashSafeReopenStats } from './crashSafeSave/crashSafeReopen';
import type { CrashSafeSaveGuardStats } from './crashSafeSave/crashSafeSaveGuard';
import type { crashSafeReopenTiming } from './crashSafeSave/editorSwap';
import type { GroupStartupStats } from './groups/groupStartupRecovery';
import type { OrphanModelStats } from './orphans/orphanModel';
import type { PreSaveStats } from './preSaveCopyLayer';
import type { AutoSnapshotStats } from './snapshots/snapshotService';
import type { TodosState } from './todos/todosModel';
import type { UndoStepInfo } from './todos/todosUndo';
import type { TodoRow } from './todos/todosView';

/** What the To-Dos view shows and what it has saved (read-only copies). */
export interface TodosDiagnostics {
  state: TodosState;
  /** The to-dos as shown: the file plus unsaved edits (named after the file's own `tasks` field). */
  tasks: readonly Todo[];
  /** Edits not yet durable in the file. */
  unsavedEdits: number;
  /** True while edits wait because the file is unusable. */
  blocked: boolean;
  /** Save batches that wrote the file, and reloads from disk. */
  saves: number;
  reloads: number;
  lastSaveError: string | undefined;
  /** The view's message line (set while the file is unusable). */
  message: string | undefined;
  /** The view's rows, in order. */
  rows: readonly TodoRow[];
  /** The removals Undo (Ctrl+Z) can take back, newest first. */
  undo: readonly UndoStepInfo[];
}

/** What `activate` returns: other extensions persist their JSON crash-safely through it. */
export interface CrashSafeStateApi {
  /**
   * Validates (optionally against a JSON Schema), then writes atomically with the user's durability setting. Writes to
   * one path coalesce: each settles once its value or a newer one is durable, so a burst costs at most two writes.
   */
  writeJson(path: string, value: unknown, options?: { schema?: JsonSchema }): Promise<void>;
  /**
   * Replaces every listed file, or none, even across a crash (see docs/group-commits.md), with the user's durability
   * setting. All files must be on one file system.
   */
  commitGroup(files: readonly GroupFile[]): Promise<GroupCommitResult>;
  /** Finishes or undoes every interrupted group commit under `root`; call it at your own start-up. */
  recoverGroups(root: string): Promise<GroupRecoveryReport>;
  /** Reads and classifies a JSON file: missing, empty, corrupt (line:column), invalid or valid. */
  readJson<T = unknown>(path: string, options?: { schema?: JsonSchema }): Promise<JsonReadResult<T>>;
  /** Rescans the workspace, reading every folder afresh (as the Rescan command does), and returns its orphaned temp files. */
  scan(): Promise<readonly Orphan[]>;
  /** Fires after every scan with the current orphans. */
  onDidChangeOrphans: vscode.Event<readonly Orphan[]>;
  /** How long `activate` took, in milliseconds (its budget is 50 ms). */
  readonly activationMs: number;
  /** Read-only views of what the UI shows, for diagnostics and integration tests. */
  readonly diagnostics: {
    statusBarText(): string;
    /** What the startup check offered: broken targets, and the notification's actions. */
    startupOffer(): { readonly targets: readonly string[]; readonly actions: readonly string[] };
    /** The To-Dos view. */
    todos(): TodosDiagnostics;
    /** @deprecated The old name of `todos()`, kept for callers of 0.1.0. */
    tasks(): TodosDiagnostics;
    /** Automatic settings snapshots taken or skipped. */
    settingsSnapshots(): AutoSnapshotStats;
    /** Crash-safe saves of `crashsafe:` documents: atomic writes, refusals and auto-saves. */
    crashSafeSave(): CrashSafeFsStats & {
      autoSave: CrashSafeAutoSaveStats;
      guard: CrashSafeSaveGuardStats;
      /** The crashSafeSave.files reopen layer: plain editors reopened crash-safe, turned back, left plain. */
      reopen: CrashSafeReopenStats;
      /** Git's gutter diff in crash-safe editors. */
      gitGutter: CrashSafeQuickDiffStats;
    };
    /** Test seam of editor swaps, by the globs or the commands (in-host only): see `crashSafeReopenTiming`. */
    readonly crashSafeReopenTiming: typeof crashSafeReopenTiming;
    /** Pre-save copies of `crashSafeSave.files` matches: written, pruned, kept, skipped, slow, failed. */
    preSaveCopies(): PreSaveStats;
    /** The orphan model's work: full and subtree walks, folders listed, events followed or ignored. */
    orphans(): OrphanModelStats;
    /**
     * The whole walk start-up, a settings change and the safety net run: it takes unchanged folders' listings from
     * the cache the last walk wrote (`orphans().foldersFromCache`), where `scan()` reads every folder.
     */
    startupWalk(): Promise<readonly Orphan[]>;
    /** Start-up recovery of group commits: runs, whether journals wait for trust, the last run. */
    groupStartupRecovery(): GroupStartupStats;
    /** The walkthrough's context keys set so far in this window (see src/ui/walkthroughProgress.ts). */
    walkthrough(): string[];
    /** Recover From…: where Local History is read, the start-up check over it, and the broken files a copy can restore. */
    copies(): {
      historyDir: string | undefined;
      remoteAuthorities: readonly string[] | 'any' | undefined;
      lastHistoryCheck: HistoryCheckStats | undefined;
      brokenFiles: Pick<BrokenFile, 'target' | 'reason' | 'best'>[];
    };
  };
}
