import { lstat } from 'node:fs/promises';
import * as os from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { INSPECTIONS_AT_ONCE, mapBounded } from '../../core/boundedOpens';
import { type FolderIdentity, folderIdentity, sameFolder } from '../../core/fs';
import { type ListingCacheStore, listingCacheFolder } from '../../core/orphans/listingCache';
import {
  type Orphan,
  type SweepOptions,
  type SweepResult,
  sweepOptionsFrom,
  sweepOrphans,
} from '../../core/orphans/orphans';
import {
  type FileEvent,
  OrphanTracker,
  type TrackedRoot,
  type TrackerOptions,
  type TrackerStats,
} from '../../core/orphans/orphanTracker';
import { SingleFlight } from '../../core/singleFlight';
import { Disposable } from '../dispose';
import type { ExtensionSettings } from '../settings';
import { OrphanWatchers } from './orphanWatchers';
import { safetyNetIntervalMs, safetyNetWaitMs } from './safetyNetSchedule';

const RESCAN_DEBOUNCE_MS = 400;
/** After an event the model could not follow (an unreadable folder, an overflow), the safety net runs this soon. */
const DRIFT_RESCAN_MS = 30_000;

/** How often the known orphans (and each workspace folder itself) are checked for a change the watcher missed. */
const VANISHED_CHECK_MS = 5_000;

/** What the model did, for the API's diagnostics and the host benchmark. */
export interface OrphanModelStats extends TrackerStats {
  /** Safety-net walks run, and skipped (a walk was running, or a recent one left nothing to doubt). */
  safetyNetRuns: number;
  safetyNetSkipped: number;
  /** Times a due safety net waited for file events to go quiet. */
  safetyNetDeferred: number;
  /** Orphans found gone by the periodic check of known orphans, whose delete event never came. */
  missedDeletions: number;
  /** Walks because a workspace folder itself was deleted, re-created or replaced (its watcher may have stopped). */
  foldersReplaced: number;
  /** Times orphans were found again where a deletion had dropped them, though no event said they were back. */
  cameBack: number;
  /** How long the last full walk took. */
  lastWalkMs: number | undefined;
  /** The watchers' globs now. */
  globs: { temps: string; targets: string };
}

/** VS Code's own exclusions of a folder: `files.exclude` and `files.watcherExclude` (plain `true` entries). */
function workspaceExcludes(folder: vscode.WorkspaceFolder): string[] {
  const globs: string[] = [];
  for (const key of ['exclude', 'watcherExclude']) {
    const map = vscode.workspace.getConfiguration('files', folder.uri).get<Record<string, unknown>>(key) ?? {};
    // `{ when: … }` entries depend on siblings; only unconditional ones are read.
    for (const [glob, on] of Object.entries(map)) if (on === true) globs.push(glob);
  }
  return globs;
}

/**
 * The threads that list a whole walk's folders: off the host's thread, and on every core (up to 4). The bundle
 * dist/walkWorker.js sits beside dist/extension.js (esbuild.mjs).
 */
const WALK_WORKERS = {
  count: Math.min(4, Math.max(1, os.availableParallelism())),
  script: join(__dirname, 'walkWorker.js'),
};

function trackerOptions(
  settings: ExtensionSettings,
  log: vscode.LogOutputChannel,
  listingCache: ListingCacheStore | undefined,
): TrackerOptions {
  return {
    walkWorkers: { ...WALK_WORKERS, onFailure: (message) => log.warn(`Scan: ${message}`) },
    listingCache,
    exclude: settings.exclude,
    skipNodeModules: !settings.scanNodeModules,
    extraPatterns: settings.tempPatterns,
    onError: ({ path, error }) => log.warn(`Scan could not read ${path}: ${error}`),
  };
}

/**
 * The workspace's orphans, kept current at a cost per change: watcher events go to the incremental tracker
 * (src/core/orphans/orphanTracker.ts), which re-judges only what they touch. Whole walks run at start-up, on Rescan, on a
 * settings change and as a safety net `scanIntervalMinutes` after the last one (longer for a huge workspace, and not
 * amid a storm of file events).
 */
export class OrphanModel extends Disposable {
  private readonly changed = this._register(new vscode.EventEmitter<readonly Orphan[]>());
  readonly onDidChange = this.changed.event;
  private readonly tracker: OrphanTracker;
  private readonly watchers: OrphanWatchers;
  /** When the last full walk finished (Date.now()); undefined until the first one has, so nobody shows "clean" early. */
  private lastScan: number | undefined;
  private lastWalkMs: number | undefined;
  private walking = false;
  private readonly scans = new SingleFlight(() => this.scanOnce());
  private debounce: ReturnType<typeof setTimeout> | undefined;
  private safetyNet: ReturnType<typeof setTimeout> | undefined;
  private safetyNetRuns = 0;
  private safetyNetSkipped = 0;
  private safetyNetDeferred = 0;
  /** When the last file event came (Date.now()): the safety net waits for a storm of them to end. */
  private lastEventAt: number | undefined;
  private missedDeletions = 0;
  /** Each folder's node when it was last walked: a folder deleted or replaced under us (a new copy at its path) is walked again. */
  private readonly rootNodes = new Map<string, FolderIdentity>();
  /** Walks started because a workspace folder itself went, came back or was replaced. */
  private foldersReplaced = 0;
  private cameBack = 0;

  /** Where whole walks keep their folder-listing cache (src/core/orphans/listingCache.ts); none without a storage folder. */
  private readonly listingCache: ListingCacheStore | undefined;
  /** The next walk reads every folder (Rescan asked for it). */
  private freshNext = false;

  constructor(
    private readonly settings: () => ExtensionSettings,
    private readonly log: vscode.LogOutputChannel,
    listingCacheDir?: string,
  ) {
    super();
    this.listingCache =
      listingCacheDir === undefined
        ? undefined
        : listingCacheFolder(listingCacheDir, { log: (message) => log.info(message) });
    this.tracker = new OrphanTracker(trackerOptions(settings(), log, this.listingCache));
    this.watchers = this._register(new OrphanWatchers((events) => this.follow(events)));
    this._register({ dispose: () => this.stopTimers() });
    // File watchers can drop an event under load; checking only the known orphans costs O(orphans), never a walk.
    const checkGone = setInterval(() => {
      void this.dropVanishedOrphans();
      void this.checkRootsReplaced();
      void this.recheckDropped();
    }, VANISHED_CHECK_MS);
    this._register({ dispose: () => clearInterval(checkGone) });
    this._register(vscode.workspace.onDidChangeWorkspaceFolders(() => void this.syncFolders()));
    this._register(
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (event.affectsConfiguration('files.exclude') || event.affectsConfiguration('files.watcherExclude'))
          this.scheduleRescan();
      }),
    );
    this.settingsChanged();
  }

  get orphans(): readonly Orphan[] {
    return this.tracker.orphans();
  }

  /** True once the first scan has finished: until then `orphans` is empty because nothing was looked at yet. */
  get scanned(): boolean {
    return this.lastScan !== undefined;
  }

  get lastScanAt(): number | undefined {
    return this.lastScan;
  }

  stats(): OrphanModelStats {
    return {
      ...this.tracker.stats,
      safetyNetRuns: this.safetyNetRuns,
      safetyNetSkipped: this.safetyNetSkipped,
      safetyNetDeferred: this.safetyNetDeferred,
      missedDeletions: this.missedDeletions,
      foldersReplaced: this.foldersReplaced,
      cameBack: this.cameBack,
      lastWalkMs: this.lastWalkMs,
      globs: this.watchers.globs,
    };
  }

  /** Orphans at least `olderThanMinutes` old (default: the orphanAgeMinutes setting), so a sweep may take them. */
  stale(orphans: readonly Orphan[] = this.orphans, olderThanMinutes = this.settings().orphanAgeMinutes): Orphan[] {
    return orphans.filter((orphan) => orphan.ageMs >= olderThanMinutes * 60_000);
  }

  /**
   * What a sweep of `orphans` would do now, touching nothing: sweep's own dry run, so previews and menus give the
   * same reasons (young, live writer, git-tracked, only valid copy) the sweep itself will.
   */
  planSweep(
    orphans: readonly Orphan[] = this.orphans,
    olderThanMinutes = this.settings().orphanAgeMinutes,
  ): Promise<SweepResult> {
    return sweepOrphans(orphans, { ...this.sweepOptions(olderThanMinutes), dryRun: true });
  }

  /**
   * The options a sweep of this workspace runs with now: the preview above and the Sweep command both take them.
   * It hands over the whole settings object, so a sweep setting named alike in ExtensionSettings and SweepSettings
   * reaches the sweep without a change here.
   */
  sweepOptions(olderThanMinutes = this.settings().orphanAgeMinutes): SweepOptions {
    return sweepOptionsFrom({ ...this.settings(), roots: this.roots, olderThanMinutes });
  }

  get roots(): string[] {
    return this.folders().map((folder) => folder.uri.fsPath);
  }

  private folders(): vscode.WorkspaceFolder[] {
    return (vscode.workspace.workspaceFolders ?? []).filter((folder) => folder.uri.scheme === 'file');
  }

  private trackedRoots(): TrackedRoot[] {
    return this.folders().map((folder) => ({ path: folder.uri.fsPath, workspaceExclude: workspaceExcludes(folder) }));
  }

  /** The settings changed: read them again. The caller rescans (extension.ts does) so new patterns reach what is known. */
  settingsChanged(): void {
    const settings = this.settings();
    this.tracker.configure(trackerOptions(settings, this.log, this.listingCache));
    this.watchers.setTempPatterns(settings.tempPatterns);
    this.armSafetyNet();
  }

  /**
   * Walks every folder of the workspace; concurrent requests share one walk and queue at most one more. Folders
   * the listing cache proves unchanged are not read, unless `fresh` (the Rescan command): then every folder is.
   */
  rescan(options: { fresh?: boolean } = {}): Promise<readonly Orphan[]> {
    if (options.fresh) this.freshNext = true;
    return this.scans.run();
  }

  /** A rescan soon; requests in a burst share it. */
  scheduleRescan(): void {
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      this.rescan().catch((error: unknown) => this.log.error(`Rescan failed: ${String(error)}`));
    }, RESCAN_DEBOUNCE_MS);
  }

  /** Re-judges these paths (files a command just removed, renamed or wrote) without a walk. */
  refresh(paths: readonly string[]): void {
    this.watchers.flush();
    this.follow(paths.map((path) => ({ kind: 'changed', path })));
  }

  private async scanOnce(): Promise<readonly Orphan[]> {
    const started = performance.now();
    const fresh = this.freshNext;
    this.freshNext = false;
    this.walking = true;
    try {
      await this.noteRoots();
      await this.tracker.setRoots(this.trackedRoots());
      const before = { ...this.tracker.stats };
      const orphans = await this.tracker.walk(undefined, { fresh });
      this.lastWalkMs = performance.now() - started;
      const stats = this.tracker.stats;
      this.log.debug(
        `Walked ${this.roots.length} folder(s) in ${this.lastWalkMs.toFixed(0)} ms: ${orphans.length} orphan(s); ` +
          `${stats.foldersRead - before.foldersRead} folder(s) read, ` +
          `${stats.foldersFromCache - before.foldersFromCache} from the listing cache (${stats.listingCache})`,
      );
      this.lastScan = Date.now();
      this.publish();
      return orphans;
    } finally {
      this.walking = false;
      this.armSafetyNet();
    }
  }

  /** Folders added are walked on their own; folders removed are forgotten; the others are not touched. */
  private async syncFolders(): Promise<void> {
    try {
      await this.noteRoots();
      const added = await this.tracker.setRoots(this.trackedRoots());
      if (added.length > 0) await this.tracker.walk(added);
      this.publish();
    } catch (error) {
      this.log.error(`Following the workspace folders failed: ${String(error)}`);
    }
  }

  /** Remembers each folder's node as it is before a walk. */
  private async noteRoots(): Promise<void> {
    const roots = this.roots;
    for (const path of [...this.rootNodes.keys()]) if (!roots.includes(path)) this.rootNodes.delete(path);
    for (const path of roots) {
      const identity = await folderIdentity(path);
      if (identity) this.rootNodes.set(path, identity);
    }
  }

  /**
   * A workspace folder deleted and created again (a fresh copy at its path): the file watcher may have stopped with
   * the old folder, and never reports what the new one holds. Its node changed, so it is walked again.
   */
  private async checkRootsReplaced(): Promise<void> {
    if (this.walking || this.lastScan === undefined) return;
    for (const [path, known] of this.rootNodes) {
      const now = await folderIdentity(path);
      if (!now || sameFolder(known, now)) continue;
      this.foldersReplaced += 1;
      this.log.info(`The workspace folder ${path} was ${now === 'missing' ? 'deleted' : 'replaced'}: walking it again`);
      this.rootNodes.set(path, now);
      if (now !== 'missing') this.watchers.restart();
      this.scheduleRescan();
      return;
    }
  }

  /** Feeds a deletion for each known orphan that is no longer on disk (its event was lost). */
  private async dropVanishedOrphans(): Promise<void> {
    const known = this.tracker.orphans();
    if (known.length === 0 || this.walking) return;
    const gone: FileEvent[] = [];
    // Bounded like every fan-out: 100,000 known orphans must not mean 100,000 pending lstats.
    await mapBounded(known, INSPECTIONS_AT_ONCE, (orphan) =>
      lstat(orphan.path).then(
        () => undefined,
        (error: { code?: string }) => {
          if (error.code === 'ENOENT') gone.push({ kind: 'deleted', path: orphan.path });
        },
      ),
    );
    if (gone.length === 0) return;
    this.missedDeletions += gone.length;
    this.follow(gone);
  }

  /** Walks (or judges again) what came back where a deletion dropped orphans, though no event said so. */
  private async recheckDropped(): Promise<void> {
    try {
      if (await this.tracker.recheckDropped()) {
        this.cameBack += 1;
        this.publish();
      }
    } catch (error) {
      this.log.error(`Looking again at deleted folders failed: ${String(error)}`);
    }
  }

  private follow(events: FileEvent[]): void {
    if (events.length > 0) this.lastEventAt = Date.now();
    // The folder itself deleted or created: what is under it cannot be followed name by name.
    const roots = this.roots;
    if (events.some((event) => event.kind !== 'changed' && roots.includes(event.path))) void this.checkRootsReplaced();
    this.tracker.apply(events).then(
      (changed) => {
        if (changed) this.publish();
        if (this.tracker.takeDrift()) this.armSafetyNet(DRIFT_RESCAN_MS);
      },
      (error: unknown) => {
        this.log.error(`Following file events failed: ${String(error)}`);
        this.armSafetyNet(DRIFT_RESCAN_MS);
      },
    );
  }

  private publish(): void {
    const orphans = this.tracker.orphans();
    this.watchers.setTargets(this.tracker.targets());
    this.changed.fire(orphans);
  }

  /**
   * The safety net: a full walk an interval after the last full walk (whatever started it), or `soonMs` from now if
   * sooner. The interval is `scanIntervalMinutes`, longer where one walk would take more than 1% of it. It never
   * overlaps a walk, is skipped while the last one is recent and nothing suggests drift, and waits for file events to
   * go quiet (a build's storm), at most one interval more.
   */
  private armSafetyNet(soonMs?: number): void {
    if (this.safetyNet) clearTimeout(this.safetyNet);
    this.safetyNet = undefined;
    const intervalMs = safetyNetIntervalMs(this.settings().scanIntervalMinutes, this.lastWalkMs);
    if (intervalMs <= 0) return;
    const regular = (this.lastScan ?? Date.now()) + intervalMs - Date.now();
    const delay = Math.max(1_000, Math.min(regular, soonMs ?? regular));
    const drift = soonMs !== undefined;
    this.safetyNet = setTimeout(() => {
      this.safetyNet = undefined;
      const recent = this.lastScan !== undefined && Date.now() - this.lastScan < intervalMs - 1_000;
      if (this.walking || (recent && !drift)) {
        this.safetyNetSkipped += 1;
        this.armSafetyNet();
        return;
      }
      this.runSafetyNetWhenQuiet(Date.now() + intervalMs);
    }, delay);
  }

  private runSafetyNetWhenQuiet(deadline: number): void {
    const waitMs = safetyNetWaitMs(Date.now(), this.lastEventAt, deadline);
    if (waitMs > 0) {
      this.safetyNetDeferred += 1;
      this.safetyNet = setTimeout(() => {
        this.safetyNet = undefined;
        this.runSafetyNetWhenQuiet(deadline);
      }, waitMs);
      return;
    }
    if (this.walking) {
      this.safetyNetSkipped += 1;
      this.armSafetyNet();
      return;
    }
    this.safetyNetRuns += 1;
    this.rescan().catch((error: unknown) => this.log.error(`Rescan failed: ${String(error)}`));
  }

  private stopTimers(): void {
    if (this.debounce) clearTimeout(this.debounce);
    if (this.safetyNet) clearTimeout(this.safetyNet);
    this.debounce = undefined;
    this.safetyNet = undefined;
  }
}
