import * as vscode from 'vscode';
import { DescriptorsExhaustedError } from '../../core/boundedOpens';
import {
  type BestCopyFinder,
  type BrokenWithCopy,
  brokenWithCopy,
  checkFilesHistoryKnows,
  LARGEST_CHECKED,
} from '../../core/copies/historyCheck';
import { judgeBroken } from '../../core/copies/judgeBroken';
import { messageOf } from '../../core/errors';
import { nodeFs } from '../../core/fs';
import { ACTIVE_FILE_BROKEN_CONTEXT_KEY } from '../commandIds';
import { bestCopyOf, type CopiesDeps } from './recoverFromCommand';

export type BrokenFile = BrokenWithCopy;

/** What the start-up pass over Local History did. */
export interface HistoryCheckStats {
  /** Files in the workspace that Local History knows. */
  known: number;
  checked: number;
  broken: number;
  ms: number;
  cancelled: boolean;
  notes: string[];
}

/** The pass shows a window progress only when it takes longer than this. */
const PROGRESS_AFTER_MS = 1000;

/**
 * Broken files a copy can restore: found at start-up among the files Local History knows, and followed afterwards
 * (a recovered or repaired file leaves). Feeds the Problems entries, the start-up offer and the editor-title context key.
 */
export class BrokenFiles implements vscode.Disposable {
  private readonly byTarget = new Map<string, BrokenFile>();
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private readonly abort = new AbortController();
  private readonly disposables: vscode.Disposable[] = [this.changed];
  private activeFileBroken: boolean | undefined;
  private activeGeneration = 0;
  lastCheck: HistoryCheckStats | undefined;

  constructor(private readonly deps: Pick<CopiesDeps, 'settings' | 'place' | 'log'>) {
    this.disposables.push(
      vscode.window.tabGroups.onDidChangeTabs(() => void this.judgeActiveFile()),
      vscode.workspace.onDidSaveTextDocument((document) => void this.recheck([document.uri.fsPath])),
    );
    void this.judgeActiveFile();
  }

  files(): BrokenFile[] {
    return [...this.byTarget.values()];
  }

  /** Whether the active editor's file is broken (judgeBroken): the `crashSafeState.activeFileBroken` context key. */
  private async judgeActiveFile(): Promise<void> {
    const generation = ++this.activeGeneration;
    const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
    const uri = input instanceof vscode.TabInputText || input instanceof vscode.TabInputCustom ? input.uri : undefined;
    let broken = false;
    if (uri?.scheme === 'file') {
      try {
        const stats = await nodeFs.stat(uri.fsPath);
        broken = stats.isFile() && stats.size <= LARGEST_CHECKED && (await judgeBroken(uri.fsPath)).broken;
      } catch {
        broken = false; // missing or unreadable: unknown means no claim
      }
    }
    if (generation !== this.activeGeneration || broken === this.activeFileBroken) return;
    this.activeFileBroken = broken;
    await vscode.commands.executeCommand('setContext', ACTIVE_FILE_BROKEN_CONTEXT_KEY, broken);
  }

  /**
   * The start-up pass: every file inside the workspace folders that Local History knows (the `resource` of each
   * entries.json) is checked for NUL-filled or empty content, a few at a time; each broken one with a good copy joins.
   * Never throws; cancelled by dispose.
   */
  async checkLocalHistory(folders: readonly string[]): Promise<HistoryCheckStats> {
    const started = performance.now();
    const stats: HistoryCheckStats = { known: 0, checked: 0, broken: 0, ms: 0, cancelled: false, notes: [] };
    const signal = this.abort.signal;
    const dir = this.deps.place.dir;
    let progressDone: (() => void) | undefined;
    const progressTimer = setTimeout(() => {
      void vscode.window.withProgress(
        {
          location: vscode.ProgressLocation.Window,
          title: vscode.l10n.t('Crash-Safe State: checking files that Local History knows'),
        },
        () =>
          new Promise<void>((done) => {
            progressDone = done;
          }),
      );
    }, PROGRESS_AFTER_MS);
    try {
      if (!dir || folders.length === 0) return stats;
      const {
        known: paths,
        found,
        notes,
      } = await checkFilesHistoryKnows(dir, folders, {
        history: this.deps.place.history,
        bestCopyOf: this.bestCopyOf,
        signal,
      });
      stats.notes.push(...notes);
      stats.known = paths.length;
      stats.checked = paths.length;
      const before = this.byTarget.size;
      paths.forEach((path, index) => {
        const file = found[index];
        if (file) this.byTarget.set(path, file);
        else this.byTarget.delete(path);
      });
      stats.broken = found.filter(Boolean).length;
      if (stats.broken > 0 || this.byTarget.size !== before) this.changed.fire();
    } catch (error) {
      if (signal.aborted) stats.cancelled = true;
      else {
        if (error instanceof DescriptorsExhaustedError) stats.notes.push(messageOf(error));
        else stats.notes.push(`Local History check failed: ${messageOf(error)}`);
      }
    } finally {
      clearTimeout(progressTimer);
      progressDone?.();
      stats.ms = performance.now() - started;
      this.lastCheck = stats;
      this.deps.log.info(
        `Local History check: ${stats.known} known file(s), ${stats.checked} checked, ${stats.broken} broken with a good copy ` +
          `in ${stats.ms.toFixed(0)} ms${stats.cancelled ? ' (cancelled)' : ''}` +
          (stats.notes.length > 0 ? `; ${stats.notes.join('; ')}` : ''),
      );
    }
    return stats;
  }

  private readonly bestCopyOf: BestCopyFinder = async (target, signal, historyIndex) =>
    (await bestCopyOf(this.deps, target, signal, historyIndex)).best;

  /** Judges known broken files again (after a save or a recovery): a repaired one leaves. */
  async recheck(paths: readonly string[]): Promise<void> {
    let changed = false;
    for (const path of paths) {
      if (!this.byTarget.has(path)) continue;
      const still = await brokenWithCopy(path, this.bestCopyOf);
      if (still) this.byTarget.set(path, still);
      else this.byTarget.delete(path);
      changed = true;
    }
    if (changed) this.changed.fire();
    void this.judgeActiveFile();
  }

  dispose(): void {
    this.abort.abort();
    for (const disposable of this.disposables) disposable.dispose();
  }
}
