import { basename, dirname, join, relative } from 'node:path';
import { messageOf } from '../errors';
import {
  compileWalkFilter,
  type Folder,
  isInside,
  listFolderFast,
  refusesUnsafeFolders,
  type ScanError,
  safeFolders,
  toSlashes,
  type WalkFilter,
} from '../folderListing';
import { type DirEntryLike, type FsLike, isAbsent, nodeFs } from '../fs';
import { type CustomPattern, compileCustomPatterns } from '../names/tempPatterns';
import { GitTrackedFiles } from './gitTracked';
import { type ListingCacheStore, openListingCache, saveListingCache, takeTree } from './listingCache';
import { type FileEvent, foldersAmong, newWork, planEvent, type Work } from './orphanEvents';
import { OrphanIndex } from './orphanIndex';
import { candidatesIn, inspectCandidates, type Orphan } from './orphanInspect';
import { OrphanJudge } from './orphanJudge';
import type { ScanOptions } from './orphanWalk';
import { type WalkWorkers, WORKERS_FROM_FILES, walkFoldersInWorkers } from './walkWorkers';

export type { FileEvent } from './orphanEvents';

/** A workspace folder: the path as the editor spells it (events use it), and its own VS Code exclude globs. */
export interface TrackedRoot {
  path: string;
  workspaceExclude?: string[];
}

export type TrackerOptions = Pick<
  ScanOptions,
  'fs' | 'exclude' | 'skipNodeModules' | 'extraPatterns' | 'onError' | 'refuseUnsafeFolders'
> & {
  /** Worker threads that list the folders of a whole walk (the in-host model's); without them it runs here. */
  walkWorkers?: WalkWorkers;
  /**
   * Where whole walks keep their folder-listing cache (listingCache.ts): a walk reads only the folders changed since
   * the last one. Without it every folder is read.
   */
  listingCache?: ListingCacheStore;
};

/** How a whole walk may use the listing cache: `fresh` reads every folder (Rescan) and only writes the cache. */
export interface WalkOptions {
  fresh?: boolean;
}

/** What the tracker did, for diagnostics and the host benchmark. */
export interface TrackerStats {
  /** Walks of a whole folder of the workspace: start-up, Rescan, the safety net, a checkout at its top. */
  fullWalks: number;
  /** Walks of one folder below: created, renamed, or a checkout in a nested repository. */
  subtreeWalks: number;
  /** Folders listed to re-judge names in them (one per folder per batch of events). */
  folderListings: number;
  /** Names re-judged by the rules. */
  namesJudged: number;
  /** Events received, and those left out (excluded, outside every folder, or nothing our rules read). */
  events: number;
  eventsIgnored: number;
  /** Batches with more events for one folder than are worth following; that folder was walked instead. */
  overflows: number;
  /** Time spent applying events (listing, judging, subtree walks), in milliseconds: what changes cost the host. */
  eventMs: number;
  /** Folders whole walks read, and folders whose listing they took from the cache instead (all walks so far). */
  foldersRead: number;
  foldersFromCache: number;
  /** The last whole walk's cache: 'used', 'fresh' (every folder read, the cache written), or why there was none. */
  listingCache: string;
}

/** Events for one workspace folder in one batch beyond which walking it is cheaper than following them. */
const OVERFLOW_EVENTS = 50_000;

/**
 * How long a path whose orphans a deletion dropped is looked at again by recheckDropped: a folder deleted and
 * copied back may come back without an event (the watcher merges its delete and create into a change, or loses it).
 */
const DROPPED_WATCH_MS = 60_000;
/** At most this many such paths are kept (the oldest go first); the caller's safety-net walk covers the rest. */
const MAX_DROPPED_WATCHED = 256;

interface Root {
  /** As the editor spells it, and as the walk resolves it (realpath). */
  given: string;
  real: string;
  filter: WalkFilter;
  workspaceExclude: string[];
}

/**
 * The orphans of a set of folders, kept current by file events at a cost per change: an event re-judges only the
 * names it touches (and a temp's target, or a target's temps), listing their folder once per batch; a created
 * folder, or a checkout (`.git/HEAD`), re-walks only that subtree. Whole walks are for start-up, the caller's
 * safety net and explicit rescans. One operation at a time: events that arrive during a walk are applied after it.
 */
export class OrphanTracker {
  readonly stats: TrackerStats = {
    fullWalks: 0,
    subtreeWalks: 0,
    folderListings: 0,
    namesJudged: 0,
    events: 0,
    eventsIgnored: 0,
    overflows: 0,
    eventMs: 0,
    foldersRead: 0,
    foldersFromCache: 0,
    listingCache: 'none yet',
  };
  private readonly index = new OrphanIndex();
  private roots: Root[] = [];
  private custom: readonly CustomPattern[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  /** Files the last whole walk of each folder saw (by real path): whether the next one starts threads. */
  private readonly filesWalked = new Map<string, number>();
  /** Set when something may have been missed (an unreadable folder, an overflow); see takeDrift. */
  private drift = false;
  /** Real paths whose orphans a deletion dropped lately → until when recheckDropped looks at them. */
  private readonly dropped = new Map<string, number>();

  constructor(private options: TrackerOptions = {}) {
    this.configure(options);
  }

  /** New patterns or excludes; the caller walks again for them to apply to what is known. */
  configure(options: TrackerOptions): void {
    this.options = options;
    this.custom = compileCustomPatterns(options.extraPatterns);
    this.roots = this.roots.map((root) => this.makeRoot(root.given, root.real, root.workspaceExclude));
  }

  private get fs(): FsLike {
    return this.options.fs ?? nodeFs;
  }

  private makeRoot(given: string, real: string, workspaceExclude: string[]): Root {
    const filter = compileWalkFilter({ ...this.options, workspaceExclude });
    return { given, real, filter, workspaceExclude };
  }

  orphans(now?: number): readonly Orphan[] {
    return this.index.list(now);
  }

  /** The targets of the orphans known now: a watcher of their changes keeps target states current. */
  targets(): string[] {
    return this.index.targets();
  }

  /** True once, after something may have been missed: the caller's next safety-net walk should not be skipped. */
  takeDrift(): boolean {
    const drift = this.drift;
    this.drift = false;
    return drift;
  }

  /** Sets the folders; forgets the orphans of folders gone and returns the real paths of the new ones, still to walk. */
  setRoots(roots: readonly TrackedRoot[]): Promise<string[]> {
    return this.serialise(async () => {
      const resolved: Root[] = [];
      for (const { path, workspaceExclude = [] } of roots) {
        try {
          const real = await this.fs.realpath(path);
          if ((await this.fs.stat(real)).isDirectory()) resolved.push(this.makeRoot(path, real, workspaceExclude));
        } catch (error) {
          this.report({ path, error: messageOf(error) });
        }
      }
      // A folder inside another is walked with it, never twice.
      const kept = resolved.filter(
        (root) => !resolved.some((other) => other.real !== root.real && isInside(root.real, other.real)),
      );
      const before = new Set(this.roots.map((root) => root.real));
      for (const old of this.roots) if (!kept.some((root) => root.real === old.real)) this.index.replaceUnder(old.real);
      this.roots = resolved;
      return [...new Set(kept.map((root) => root.real))].filter((real) => !before.has(real));
    });
  }

  /** Walks whole folders (default: all) and replaces what was known of them. */
  walk(reals?: readonly string[], options: WalkOptions = {}): Promise<readonly Orphan[]> {
    return this.serialise(async () => {
      for (const root of this.outermost()) {
        if (reals && !reals.includes(root.real)) continue;
        await this.walkSubtree(root, root.real, options);
      }
      return this.index.list();
    });
  }

  /** Applies a batch of events; true when the orphans changed. */
  apply(events: readonly FileEvent[]): Promise<boolean> {
    return this.serialise(async () => {
      const started = performance.now();
      const before = this.index.version;
      const work = new Map<Root, Work>();
      for (const event of events) {
        this.stats.events += 1;
        if (!this.route(event, work)) this.stats.eventsIgnored += 1;
      }
      for (const [root, todo] of work) {
        if (todo.events > OVERFLOW_EVENTS) {
          this.stats.overflows += 1;
          this.drift = true;
          await this.walkSubtree(root, root.real);
        } else {
          await this.process(root, todo);
        }
      }
      this.stats.eventMs += performance.now() - started;
      return this.index.version !== before;
    });
  }

  /**
   * Looks again at the paths whose orphans a deletion dropped in the last minute: one that is back (no event said
   * so) is walked, if a folder, or judged again by its name. True when the orphans changed.
   */
  recheckDropped(now = Date.now()): Promise<boolean> {
    if (this.dropped.size === 0) return Promise.resolve(false);
    return this.serialise(async () => {
      const before = this.index.version;
      const work = new Map<Root, Work>();
      for (const [path, until] of [...this.dropped]) {
        if (until < now) {
          this.dropped.delete(path);
          continue;
        }
        const kind = await this.kindNow(path);
        if (kind === 'missing' || kind === 'unknown') continue;
        this.dropped.delete(path);
        const root = this.outermost().find((candidate) => isInside(path, candidate.real));
        if (!root) continue;
        const todo = work.get(root) ?? newWork();
        work.set(root, todo);
        if (path === root.real) todo.subtrees.add(path);
        else planEvent(todo, 'created', path, root, this.index, this.custom);
      }
      for (const [root, todo] of work) await this.process(root, todo);
      return this.index.version !== before;
    });
  }

  private rememberDropped(path: string): void {
    this.dropped.delete(path);
    this.dropped.set(path, Date.now() + DROPPED_WATCH_MS);
    for (const oldest of this.dropped.keys()) {
      if (this.dropped.size <= MAX_DROPPED_WATCHED) break;
      this.dropped.delete(oldest);
    }
  }

  private serialise<T>(operation: () => Promise<T>): Promise<T> {
    const run = this.queue.then(operation, operation);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The folders to walk: none inside another, and one per real folder (two workspace folders may be one). */
  private outermost(): Root[] {
    return this.roots.filter(
      (root, i) =>
        this.roots.findIndex((other) => other.real === root.real) === i &&
        !this.roots.some((other) => other.real !== root.real && isInside(root.real, other.real)),
    );
  }

  /** The real path of an event's path and the outermost folder holding it. */
  private locate(path: string): { root: Root; real: string } | undefined {
    let best: Root | undefined;
    for (const root of this.roots)
      if (isInside(path, root.given) && (!best || root.given.length > best.given.length)) best = root;
    if (!best) return undefined;
    const real = best.real + path.slice(best.given.length);
    const root = this.outermost().find((candidate) => isInside(real, candidate.real));
    return root && { root, real };
  }

  /** Notes what one event asks for; false when it asks nothing. */
  private route(event: FileEvent, work: Map<Root, Work>): boolean {
    const located = this.locate(event.path);
    if (!located) return false;
    const todo = work.get(located.root) ?? newWork();
    work.set(located.root, todo);
    return planEvent(todo, event.kind, located.real, located.root, this.index, this.custom);
  }

  private async process(root: Root, todo: Work): Promise<void> {
    for (const path of todo.deleted) {
      // A delete event can arrive after the path came back (a folder removed and made again): walk it, never drop it.
      const now = await this.kindNow(path);
      if (now === 'folder') todo.subtrees.add(path);
      else if (now !== 'unknown') {
        if (now === 'missing' && this.index.hasUnder(path)) this.rememberDropped(path);
        this.index.replaceUnder(path); // a file that is back is judged again by its name
      }
    }
    for (const [dir, names] of todo.created) {
      for (const folder of await foldersAmong(this.fs, dir, names)) {
        if (!root.filter.skipsFolder(basename(folder), toSlashes(relative(root.real, folder))))
          todo.subtrees.add(folder);
      }
    }
    const walked = [...todo.subtrees].filter((dir) => isInside(dir, root.real)).sort();
    const subtrees = walked.filter((dir, i) => !walked.slice(0, i).some((outer) => isInside(dir, outer)));
    for (const dir of subtrees) await this.walkSubtree(root, dir);
    const folders = [...todo.names].filter(([dir]) => !subtrees.some((walkedDir) => isInside(dir, walkedDir)));
    if (folders.length > 0) await this.rejudge(root, folders);
  }

  /** What is at `path` now; only a proven absence lets a delete event drop what was known ("unknown" keeps it). */
  private async kindNow(path: string): Promise<'missing' | 'folder' | 'other' | 'unknown'> {
    try {
      return (await this.fs.lstat(path)).isDirectory() ? 'folder' : 'other';
    } catch (error) {
      return isAbsent(error) ? 'missing' : 'unknown';
    }
  }

  /** Walks `dir` (a root, or a folder below one) and replaces what was known under it. */
  private async walkSubtree(root: Root, dir: string, walkOptions: WalkOptions = {}): Promise<void> {
    if (dir === root.real) this.stats.fullWalks += 1;
    else this.stats.subtreeWalks += 1;
    const relativeDir = root.filter.usesPaths ? toSlashes(relative(root.real, dir)) : '';
    if (dir !== root.real && (await this.unsafeOrSkipped(root, dir))) return this.index.replaceUnder(dir);
    const found: Orphan[] = [];
    const start: Folder = { dir, relativeDir };
    // The listing cache: whole walks of a workspace folder only (one below is a created or renamed folder).
    const store = dir === root.real ? this.options.listingCache : undefined;
    const key = { root: root.real, extraPatterns: this.options.extraPatterns ?? [] };
    const opened = store && (await openListingCache(store, key, walkOptions.fresh !== true, this.fs));
    const listingCache = opened && !('none' in opened) ? opened : undefined;
    if (store)
      this.stats.listingCache = opened && 'none' in opened ? opened.none : walkOptions.fresh ? 'fresh' : 'used';
    if (listingCache) start.slot = { kids: listingCache.holder, index: 0 };
    const listingCounts = { foldersRead: 0, foldersFromCache: 0 };
    const onError = (error: ScanError) => {
      // The folder went before its walk: what was under it went with it.
      if (error.path === dir && /ENOENT|ENOTDIR/.test(error.error)) return;
      this.report(error);
    };
    const { walkWorkers, listingCache: _store, ...options } = this.options;
    // Threads only for a whole folder that was large last time (or not walked yet): a folder below a root is a
    // created or renamed one, and a small workspace is walked faster than a thread starts.
    const filesBefore = this.filesWalked.get(root.real);
    const large = filesBefore === undefined || filesBefore >= WORKERS_FROM_FILES;
    const workers = dir === root.real && large ? walkWorkers : undefined;
    // Walked here: the cache file is parsed here. In workers, the one worker that walks with it parses it.
    if (listingCache && !workers) {
      const tree = takeTree(listingCache);
      if (tree) start.cached = tree;
    }
    let files = 0;
    const onProgress = (visitedFiles: number) => {
      files = visitedFiles;
    };
    for await (const orphan of walkFoldersInWorkers(
      [start],
      { ...options, workspaceExclude: root.workspaceExclude, onError, onProgress, listingCache, listingCounts },
      workers,
    )) {
      found.push(orphan);
    }
    this.stats.foldersRead += listingCounts.foldersRead;
    this.stats.foldersFromCache += listingCounts.foldersFromCache;
    if (store && listingCache) await saveListingCache(store, key, listingCache);
    if (dir === root.real) this.filesWalked.set(root.real, files);
    this.index.replaceUnder(dir, found);
    for (const path of this.dropped.keys()) if (isInside(path, dir)) this.dropped.delete(path);
  }

  /** True when a walk from the root would not reach `dir`: a folder on the way is skipped, or unsafe to enter. */
  private async unsafeOrSkipped(root: Root, dir: string): Promise<boolean> {
    if (root.filter.skipsPath(toSlashes(relative(root.real, dir)), true)) return true;
    const uid = refusesUnsafeFolders(this.options.refuseUnsafeFolders);
    if (uid === undefined) return false;
    const chain: Folder[] = [];
    for (let folder = dir; folder !== root.real && isInside(folder, root.real); folder = dirname(folder)) {
      chain.push({ dir: folder, relativeDir: '' });
    }
    const safe = await safeFolders(this.fs, chain, uid, () => undefined);
    return safe.length < chain.length;
  }

  /** Re-judges names in their folders: one listing per folder, then the walk's own inspection. */
  private async rejudge(root: Root, folders: readonly [string, Set<string>][]): Promise<void> {
    const fs = this.fs;
    const report = (error: ScanError) => this.report(error);
    const judge = new OrphanJudge(fs, (path, error) => report({ path, error }));
    const inspection = {
      fs,
      now: Date.now(),
      report,
      judge,
      groupJournals: new Map<string, Promise<string | undefined>>(),
    };
    const git = new GitTrackedFiles(fs);
    for (const [dir, names] of folders) {
      if (await this.unsafeOrSkipped(root, dir)) continue;
      let entries: DirEntryLike[];
      try {
        entries = await listFolderFast(fs, dir);
      } catch (error) {
        if (isAbsent(error)) this.index.replaceUnder(dir);
        else this.report({ path: dir, error: messageOf(error) });
        continue;
      }
      this.stats.folderListings += 1;
      this.stats.namesJudged += names.size;
      const relativeDir = toSlashes(relative(root.real, dir));
      const relativeOf = (name: string) => (relativeDir ? `${relativeDir}/${name}` : name);
      const candidates = candidatesIn(dir, entries, { custom: this.custom, filter: root.filter }, relativeOf, names);
      const found = await inspectCandidates(inspection, candidates, this.custom, git);
      const byPath = new Map(found.filter((orphan) => orphan !== undefined).map((orphan) => [orphan.path, orphan]));
      const present = new Set(entries.filter((entry) => entry.isFile() && !entry.nameBytes).map((entry) => entry.name));
      for (const name of names) {
        const path = join(dir, name);
        const orphan = byPath.get(path);
        if (orphan) this.index.set(orphan);
        else this.index.delete(path, present.has(name));
      }
    }
  }

  private report(error: ScanError): void {
    this.drift = true;
    this.options.onError?.(error);
  }
}
