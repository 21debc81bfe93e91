import { basename } from 'node:path';
import * as vscode from 'vscode';
import { tempNameGlobs } from '../../core/names/tempPatterns';
import type { FileEvent } from '../../core/orphans/orphanTracker';
import { Disposable } from '../dispose';

/** Events are handed over this long after the last one, so a burst is one batch… */
const BATCH_QUIET_MS = 40;
/** …but never later than this after the first, so a steady stream still flows. */
const BATCH_MAX_WAIT_MS = 200;
/** More target names than this and one change watcher on every name is simpler than a list. */
const MAX_TARGET_NAMES = 500;

/** Glob-special characters a literal name cannot carry into a VS Code glob; `?` matches them, and the model re-checks. */
const asGlobLiteral = (name: string) => name.replace(/[[\]{}*?,!\\]/g, '?');

/**
 * The file watchers of the orphan model. Three kinds of events matter, each from its own glob:
 * - temp names, from the recogniser's own globs (tempNameGlobs) plus the user's patterns: created, changed, deleted;
 * - structure: any name, created or deleted only (a folder's name has no shape; a created folder is walked, since
 *   files written into it before the watcher saw it are never reported), plus `.git/HEAD` for checkouts;
 * - targets of the orphans known now, changed only (a target turning corrupt changes its orphan's state); the glob
 *   lists their names and is rebuilt when the set of names changes.
 * VS Code applies `files.watcherExclude` before any of these; the model applies the other exclusions.
 */
export class OrphanWatchers extends Disposable {
  private pending = new Map<string, FileEvent>();
  private quiet: ReturnType<typeof setTimeout> | undefined;
  private deadline: ReturnType<typeof setTimeout> | undefined;
  private temps: vscode.Disposable | undefined;
  private targets: vscode.Disposable | undefined;
  private tempGlob = '';
  private targetGlob = '';

  private structure: vscode.Disposable | undefined;

  constructor(private readonly sink: (events: FileEvent[]) => void) {
    super();
    this.structure = this.watchStructure();
    this._register({
      dispose: () => {
        this.structure?.dispose();
        this.temps?.dispose();
        this.targets?.dispose();
        this.clearTimers();
      },
    });
  }

  private watchStructure(): vscode.Disposable {
    return vscode.Disposable.from(this.watch('**/*', { change: false }), this.watch('**/.git/HEAD'));
  }

  /**
   * New watchers for every glob: after a workspace folder was deleted and created again, the old ones may have
   * stopped with the old folder and never report anything again.
   */
  restart(): void {
    this.structure?.dispose();
    this.structure = this.watchStructure();
    const temps = this.tempGlob;
    const targets = this.targetGlob;
    this.temps?.dispose();
    this.targets?.dispose();
    this.temps = temps ? this.watch(temps) : undefined;
    this.targets = targets ? this.watch(targets, { create: false, delete: false }) : undefined;
  }

  /** The temp glob for these user patterns (rebuilt only when it changes). */
  setTempPatterns(patterns: readonly string[]): void {
    const glob = `**/{${tempNameGlobs(patterns).join(',')}}`;
    if (glob === this.tempGlob) return;
    this.tempGlob = glob;
    this.temps?.dispose();
    this.temps = this.watch(glob);
  }

  /** Follows changes of these targets' contents. */
  setTargets(targets: readonly string[]): void {
    const names = [...new Set(targets.map((target) => asGlobLiteral(basename(target))))].sort();
    const glob = names.length === 0 ? '' : names.length > MAX_TARGET_NAMES ? '**/*' : `**/{${names.join(',')}}`;
    if (glob === this.targetGlob) return;
    this.targetGlob = glob;
    this.targets?.dispose();
    this.targets = glob ? this.watch(glob, { create: false, delete: false }) : undefined;
  }

  /** The globs watched now, for diagnostics. */
  get globs(): { temps: string; targets: string } {
    return { temps: this.tempGlob, targets: this.targetGlob };
  }

  /** Hands over at once whatever is pending. */
  flush(): void {
    this.clearTimers();
    if (this.pending.size === 0) return;
    const events = [...this.pending.values()];
    this.pending = new Map();
    this.sink(events);
  }

  private watch(glob: string, kinds: { create?: boolean; change?: boolean; delete?: boolean } = {}): vscode.Disposable {
    const { create = true, change = true, delete: remove = true } = kinds;
    const watcher = vscode.workspace.createFileSystemWatcher(glob, !create, !change, !remove);
    const listeners = [
      create && watcher.onDidCreate((uri) => this.add('created', uri)),
      change && watcher.onDidChange((uri) => this.add('changed', uri)),
      remove && watcher.onDidDelete((uri) => this.add('deleted', uri)),
    ].filter((listener): listener is vscode.Disposable => listener !== false);
    return vscode.Disposable.from(watcher, ...listeners);
  }

  private add(kind: FileEvent['kind'], uri: vscode.Uri): void {
    if (uri.scheme !== 'file') return;
    const path = uri.fsPath;
    // One event per path and kind per batch, though several watchers report it.
    this.pending.set(`${kind}:${path}`, { kind, path });
    if (this.quiet) clearTimeout(this.quiet);
    this.quiet = setTimeout(() => this.flush(), BATCH_QUIET_MS);
    this.deadline ??= setTimeout(() => this.flush(), BATCH_MAX_WAIT_MS);
  }

  private clearTimers(): void {
    if (this.quiet) clearTimeout(this.quiet);
    if (this.deadline) clearTimeout(this.deadline);
    this.quiet = undefined;
    this.deadline = undefined;
  }
}
