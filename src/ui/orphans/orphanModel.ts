import * as vscode from 'vscode';
import { type Orphan, type SweepResult, scanOrphans, sweepOrphans } from '../../core/orphans';
import { SingleFlight } from '../../core/singleFlight';
import { Disposable } from '../dispose';
import type { ExtensionSettings } from '../settings';

/** File names any supported tool gives its temps; events only trigger a rescan, which decides for itself. */
const TEMP_WATCH_GLOB = '**/{*.tmp,*.vsctmp,*.tmp-*,*.tmp.*,*.[0-9]*}';
const RESCAN_DEBOUNCE_MS = 400;

/** The workspace's orphans, kept current by a debounced watcher plus a periodic rescan. */
export class OrphanModel extends Disposable {
  private readonly changed = this._register(new vscode.EventEmitter<readonly Orphan[]>());
  readonly onDidChange = this.changed.event;
  private current: readonly Orphan[] = [];
  /** When the last scan finished (Date.now()); undefined until the first one has, so nobody shows "clean" early. */
  private lastScan: number | undefined;
  private readonly scans = new SingleFlight(() => this.scanOnce());
  private debounce: ReturnType<typeof setTimeout> | undefined;
  private interval: ReturnType<typeof setInterval> | undefined;
  private everythingWatcher: vscode.Disposable | undefined;

  constructor(
    private settings: ExtensionSettings,
    private readonly log: vscode.LogOutputChannel,
  ) {
    super();
    this._register(this.watch(TEMP_WATCH_GLOB));
    this._register({
      dispose: () => {
        this.stopTimers();
        this.watchEverything(false);
      },
    });
    this._register(vscode.workspace.onDidChangeWorkspaceFolders(() => this.scheduleRescan()));
    this.applySettings(settings);
  }

  get orphans(): readonly Orphan[] {
    return this.current;
  }

  /** True once the first scan has finished: until then `orphans` is empty because nothing was looked at yet. */
  get scanned(): boolean {
    return this.lastScan !== undefined;
  }

  get lastScanAt(): number | undefined {
    return this.lastScan;
  }

  /** Orphans at least `olderThanMinutes` old (default: the orphanAgeMinutes setting), so a sweep may take them. */
  stale(orphans: readonly Orphan[] = this.current, olderThanMinutes = this.settings.orphanAgeMinutes): Orphan[] {
    return orphans.filter((orphan) => orphan.ageMs >= olderThanMinutes * 60_000);
  }

  /**
   * What a sweep of `orphans` would do now, touching nothing: sweep's own dry run, so previews and menus give the
   * same reasons (young, live writer, git-tracked, only valid copy) the sweep itself will.
   */
  planSweep(orphans: readonly Orphan[] = this.current, olderThanMinutes = this.settings.orphanAgeMinutes): Promise<SweepResult> {
    return sweepOrphans(orphans, {
      dryRun: true,
      olderThanMs: olderThanMinutes * 60_000,
      roots: this.roots,
      extraPatterns: this.settings.tempPatterns,
    });
  }

  get roots(): string[] {
    return (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath);
  }

  applySettings(settings: ExtensionSettings): void {
    this.settings = settings;
    this.stopTimers();
    // User patterns may name files the built-in glob misses; watch everything only then.
    this.watchEverything(settings.tempPatterns.length > 0);
    if (settings.scanIntervalMinutes > 0) {
      this.interval = setInterval(() => this.scheduleRescan(), settings.scanIntervalMinutes * 60_000);
    }
  }

  /** Scans every folder of the workspace; concurrent requests share one scan and queue at most one more. */
  rescan(): Promise<readonly Orphan[]> {
    return this.scans.run();
  }

  private async scanOnce(): Promise<readonly Orphan[]> {
    const started = performance.now();
    const { orphans, errors } = await scanOrphans(this.roots, {
      exclude: this.settings.exclude,
      skipNodeModules: !this.settings.scanNodeModules,
      extraPatterns: this.settings.tempPatterns,
    });
    for (const { path, error } of errors) this.log.warn(`Scan could not read ${path}: ${error}`);
    this.log.debug(`Scanned ${this.roots.length} folder(s) in ${(performance.now() - started).toFixed(0)} ms: ${orphans.length} orphan(s)`);
    this.current = orphans;
    this.lastScan = Date.now();
    this.changed.fire(orphans);
    return orphans;
  }

  scheduleRescan(): void {
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      this.rescan().catch((error: unknown) => this.log.error(`Rescan failed: ${String(error)}`));
    }, RESCAN_DEBOUNCE_MS);
  }

  private watch(glob: string): vscode.Disposable {
    const watcher = vscode.workspace.createFileSystemWatcher(glob);
    const listeners = [watcher.onDidCreate, watcher.onDidDelete, watcher.onDidChange].map((event) =>
      event(() => this.scheduleRescan()),
    );
    return vscode.Disposable.from(watcher, ...listeners);
  }

  private watchEverything(on: boolean): void {
    if (on) {
      this.everythingWatcher ??= this.watch('**/*');
    } else {
      this.everythingWatcher?.dispose();
      this.everythingWatcher = undefined;
    }
  }

  private stopTimers(): void {
    if (this.debounce) clearTimeout(this.debounce);
    if (this.interval) clearInterval(this.interval);
    this.debounce = undefined;
    this.interval = undefined;
  }
}
