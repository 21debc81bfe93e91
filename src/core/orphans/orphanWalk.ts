import type { BigIntStats } from 'node:fs';
import { sep } from 'node:path';
import { messageOf } from '../errors';
import {
  byName,
  compileWalkFilter,
  type FilterOptions,
  type Folder,
  listBatch,
  reasonFrom,
  refusesUnsafeFolders,
  resolveRoots,
  type ScanError,
  safeFolders,
} from '../folderListing';
import { type DirEntryLike, type FsLike, nodeFs } from '../fs';
import { compileCustomPatterns } from '../names/tempPatterns';
import { GitTrackedFiles } from './gitTracked';
import {
  type CachedFolder,
  type EntryText,
  entryOf,
  kidsByName,
  type ListingCacheUse,
  type ListingCounts,
  provenBy,
  recordFolder,
  settledBefore,
  stampOf,
} from './listingCache';
import {
  type Candidate,
  candidatesIn,
  type Inspection,
  inspectCandidates,
  mayBeTempName,
  type Orphan,
  undecodableIn,
} from './orphanInspect';
import { OrphanJudge } from './orphanJudge';

export type { ScanError } from '../folderListing';
export { compileExcluder, isInside, listFolder, resolveRoots } from '../folderListing';
export type { Orphan } from './orphanInspect';
export { GROUP_FILE_NOTE } from './orphanInspect';

export interface ScanOptions extends FilterOptions {
  /** User patterns such as `{target}.bak~` (see compileCustomPatterns). */
  extraPatterns?: string[];
  fs?: FsLike;
  now?: number;
  /** Called after each batch of folders with the number of files seen so far. */
  onProgress?: (visitedFiles: number) => void;
  /** Called for each unreadable or skipped folder or file; scanOrphans collects these into `errors`. */
  onError?: (error: ScanError) => void;
  signal?: AbortSignal;
  /**
   * Refuse to enter folders another user owns or others may write (default: when running as root), as
   * systemd-tmpfiles refuses unsafe path transitions: their owner could swap them for a symlink mid-sweep.
   */
  refuseUnsafeFolders?: boolean;
  /** A whole walk's listing cache (listingCache.ts): folders it proves unchanged are not read. */
  listingCache?: ListingCacheUse;
  /** Counts of folders read and taken from the cache, added to as the walk goes. */
  listingCounts?: ListingCounts;
}

export interface ScanResult {
  orphans: Orphan[];
  errors: ScanError[];
}

/** Folders read at once; enough to keep libuv's thread pool busy without holding many listings in memory. */
const FOLDER_BATCH = 32;

/**
 * Candidates judged and yielded as one unit; the next unit is judged while this one is yielded. Bounds the orphans
 * held at once, however many temps one folder holds.
 */
const CANDIDATE_CHUNK = 1024;

/**
 * Walks the roots and yields each orphaned temp as it is found. Never follows symlinks, skips `.git`, excluded paths
 * and (as root) folders other users control, reports unreadable folders (and names that are not valid UTF-8) through
 * `onError` and goes on. Memory stays bounded by the folder batch and the candidate chunk; open files by
 * MAX_OPEN_FILES. Running out of descriptors for longer than the retries wait rejects the walk
 * (DescriptorsExhaustedError): it is never reported as a judgement.
 */
export async function* walkOrphans(roots: readonly string[], options: ScanOptions = {}): AsyncGenerator<Orphan> {
  const fs = options.fs ?? nodeFs;
  const report = options.onError ?? (() => undefined);
  const starts = (await resolveRoots(fs, roots, report)).map((root) => ({ dir: root, relativeDir: '' }));
  yield* walkFolders(starts, options);
}

/** A listed folder worth a closer look: it holds names a rule may take for temps, or names that are not valid UTF-8. */
export interface ListedFolder {
  dir: string;
  relativeDir: string;
  entries: DirEntryLike[];
  maybeTemps: string[];
}

/** What a listing walk still has to do: folders to read (the last is read next) and the files seen so far. */
export interface ListingState {
  stack: Folder[];
  visitedFiles: number;
  /** Folders read so far, and folders whose listing came from the cache instead. */
  foldersRead: number;
  foldersFromCache: number;
}

/**
 * Reads folders depth first from `state.stack` (its last folder next), a batch at a time, and yields each batch's
 * folders worth a closer look (an empty array for a batch with none). Skips `.git`, excluded folders and (as root)
 * folders other users control, reporting them; pushes the subfolders of each folder read. Stops when the stack is
 * empty, or after a batch when `until(state)` holds: the folders left on the stack are then still to read.
 * `breadthFirst` reads the stack from its first folder instead, so the folders left are a wide frontier.
 */
export async function* listFolders(
  state: ListingState,
  options: ScanOptions,
  until?: (state: ListingState) => boolean,
  breadthFirst = false,
): AsyncGenerator<ListedFolder[]> {
  const fs = options.fs ?? nodeFs;
  const report = options.onError ?? (() => undefined);
  const custom = compileCustomPatterns(options.extraPatterns);
  const filter = compileWalkFilter(options);
  const uid = refusesUnsafeFolders(options.refuseUnsafeFolders);
  const usesPaths = filter.usesPaths;
  const cache = options.listingCache;
  const lstatBigint = cache ? fs.lstatBigintSync?.bind(fs) : undefined;
  const counts = options.listingCounts;
  /**
   * With a cache: one lstat per folder before it is read, which both proves (or records) its listing and, as root,
   * checks its owner (the lstat safeFolders would take). Returns the folders to enter; `checked` reports the others.
   */
  const stampFolders = (folders: Folder[], checked: boolean): Folder[] => {
    if (!cache || !lstatBigint) return folders;
    // Read before the lstats: a ctime older than this by SETTLED_MS can never equal a later change's.
    const settledCtimeNs = settledBefore(Date.now() + cache.clockOffsetMs);
    const kept: Folder[] = [];
    for (const folder of folders) {
      let stats: BigIntStats;
      try {
        stats = lstatBigint(folder.dir);
      } catch (error) {
        if (checked && uid !== undefined)
          report({ path: folder.dir, error: `not entered: ${messageOf(error)}`, skipped: true });
        // Without the ownership check its read reports what is wrong, as without a cache.
        else kept.push(folder);
        continue;
      }
      const reason = checked ? reasonFrom(stats, uid) : undefined;
      if (reason) {
        report({ path: folder.dir, error: `not entered: ${reason}`, skipped: true });
        continue;
      }
      folder.stamp = stampOf(stats, settledCtimeNs);
      kept.push(folder);
    }
    return kept;
  };
  const { stack } = state;
  while (stack.length > 0) {
    options.signal?.throwIfAborted();
    const batch = breadthFirst
      ? stack.splice(0, FOLDER_BATCH)
      : stack.splice(Math.max(0, stack.length - FOLDER_BATCH)).reverse();
    if (cache)
      stampFolders(
        batch.filter((folder) => folder.stamp === undefined),
        false,
      );
    const proven =
      cache?.reuse === true ? batch.map((folder) => provenBy(folder.cached, folder.stamp, cache.dev)) : undefined;
    const listings = await listBatch(fs, proven ? batch.filter((_, index) => !proven[index]) : batch, report);
    let nextListing = 0;
    const listed: ListedFolder[] = [];
    let subfolders: Folder[] = [];
    for (let index = 0; index < batch.length; index++) {
      const folder = batch[index]!;
      const { dir, relativeDir } = folder;
      // Relative paths are only needed to match exclude globs.
      const relativeOf = (name: string) => (relativeDir ? `${relativeDir}/${name}` : name);
      const prefix = dir.endsWith(sep) ? dir : dir + sep;
      /** A subfolder to enter unless the filters skip it, with its entry of the last walk and its new entry's slot. */
      const enter = (name: string, cached: CachedFolder | undefined, slot: Folder['slot']): void => {
        if (filter.skipsFolder(name, usesPaths ? relativeOf(name) : name)) return;
        const subfolder: Folder = { dir: prefix + name, relativeDir: usesPaths ? relativeOf(name) : '' };
        if (cached) subfolder.cached = cached;
        if (slot) subfolder.slot = slot;
        subfolders.push(subfolder);
      };
      if (proven?.[index]) {
        // Unchanged since it was listed (same node, ctime and mtime): its cached names stand for a read.
        const [ino, ctimeNs, mtimeNs, files, names, oldKids] = folder.cached!;
        state.foldersFromCache += 1;
        if (counts) counts.foldersFromCache += 1;
        state.visitedFiles += files;
        const kids: (CachedFolder | 0 | EntryText)[] = new Array(names.length).fill(0);
        if (folder.slot) folder.slot.kids[folder.slot.index] = [ino, ctimeNs, mtimeNs, files, names, kids];
        for (let i = 0; i < names.length; i++) enter(names[i]!, entryOf(oldKids[i]), { kids, index: i });
        continue;
      }
      const entries = listings[nextListing++];
      if (!entries) continue;
      state.foldersRead += 1;
      if (counts) counts.foldersRead += 1;
      const allFolderNames: string[] = [];
      const maybeTemps: string[] = [];
      let files = 0;
      let undecodable = false;
      for (const entry of entries) {
        if (entry.nameBytes) {
          undecodable = true; // reported by the caller, never entered nor judged by its decoded name
          continue;
        }
        if (entry.isDirectory()) allFolderNames.push(entry.name);
        else if (entry.isFile()) {
          files += 1;
          if (mayBeTempName(entry.name, custom)) maybeTemps.push(entry.name);
        }
      }
      state.visitedFiles += files;
      if (maybeTemps.length > 0 || undecodable) listed.push({ dir, relativeDir, entries, maybeTemps });
      allFolderNames.sort(byName);
      // The new entry keeps every subfolder name (filters apply at use, so a settings change needs no new cache).
      const entry = cache
        ? recordFolder(folder.stamp, cache.dev, files, allFolderNames, maybeTemps.length > 0 || undecodable)
        : undefined;
      if (entry && folder.slot) folder.slot.kids[folder.slot.index] = entry;
      const oldKids = entry ? kidsByName(folder.cached) : undefined;
      let recorded = 0;
      for (const name of allFolderNames) {
        // The entry drops names a cache cannot hold; the others are in the same order.
        const slotIndex = entry?.[4][recorded] === name ? recorded++ : undefined;
        enter(
          name,
          oldKids?.get(name),
          entry && slotIndex !== undefined ? { kids: entry[5], index: slotIndex } : undefined,
        );
      }
    }
    if (cache) subfolders = stampFolders(subfolders, true);
    else if (uid !== undefined) subfolders = await safeFolders(fs, subfolders, uid, report);
    if (breadthFirst) for (const folder of subfolders) stack.push(folder);
    // Depth first: the last folder pushed is read next, so the stack stays small.
    else for (let i = subfolders.length - 1; i >= 0; i--) stack.push(subfolders[i]!);
    options.onProgress?.(state.visitedFiles);
    yield listed;
    if (until?.(state)) return;
  }
}

/**
 * Walks from already resolved folders, each with its path relative to its root (so excludes read the same as in a
 * walk from the root): the incremental model re-walks one subtree this way.
 */
export function walkFolders(starts: readonly Folder[], options: ScanOptions = {}): AsyncGenerator<Orphan> {
  const state: ListingState = { stack: [...starts].reverse(), visitedFiles: 0, foldersRead: 0, foldersFromCache: 0 };
  return inspectListed(listFolders(state, options), options);
}

/**
 * Turns listed folders into orphans: candidates by name, then each chunk inspected while the previous one is
 * yielded (or the next folders are listed). Names that are not valid UTF-8 are reported.
 */
export async function* inspectListed(
  batches: AsyncIterable<readonly ListedFolder[]>,
  options: ScanOptions,
): AsyncGenerator<Orphan> {
  const fs = options.fs ?? nodeFs;
  const report = options.onError ?? (() => undefined);
  const custom = compileCustomPatterns(options.extraPatterns);
  const rules = { custom, filter: compileWalkFilter(options) };
  const now = options.now ?? Date.now();
  const git = new GitTrackedFiles(fs);
  const groupJournals = new Map<string, Promise<string | undefined>>();
  let pending: Promise<(Orphan | undefined)[]> | undefined;
  const settle = function* (orphans: (Orphan | undefined)[]) {
    for (const orphan of orphans) if (orphan) yield orphan;
  };
  for await (const listed of batches) {
    const candidates: Candidate[] = [];
    for (const { dir, relativeDir, entries, maybeTemps } of listed) {
      const relativeOf = (name: string) => (relativeDir ? `${relativeDir}/${name}` : name);
      if (maybeTemps.length > 0)
        for (const candidate of candidatesIn(dir, entries, rules, relativeOf, maybeTemps)) candidates.push(candidate);
      if (entries.some((entry) => entry.nameBytes))
        for (const error of undecodableIn(dir, entries, custom)) report(error);
    }
    // Inspect each chunk of this batch's candidates while the previous chunk is yielded (or the next batch is read).
    for (let start = 0; start < candidates.length; start += CANDIDATE_CHUNK) {
      const judge = new OrphanJudge(fs, (path, error) => report({ path, error }));
      const inspection: Inspection = { fs, now, report, judge, groupJournals };
      const inspected = inspectCandidates(inspection, candidates.slice(start, start + CANDIDATE_CHUNK), custom, git);
      inspected.catch(() => undefined); // awaited below; this only stops an early unhandled-rejection report
      if (pending) yield* settle(await pending);
      pending = inspected;
    }
  }
  if (pending) yield* settle(await pending);
}

/** Scans the roots and collects every orphan and every unreadable or skipped path. */
export async function scanOrphans(roots: readonly string[], options: ScanOptions = {}): Promise<ScanResult> {
  const errors: ScanError[] = [];
  const orphans: Orphan[] = [];
  const onError = (error: ScanError) => {
    errors.push(error);
    options.onError?.(error);
  };
  for await (const orphan of walkOrphans(roots, { ...options, onError })) orphans.push(orphan);
  return { orphans, errors };
}
