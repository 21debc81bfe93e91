import { Worker } from 'node:worker_threads';
import { messageOf } from '../errors';
import type { Folder, ScanError } from '../folderListing';
import { type DirEntryLike, nodeFs } from '../fs';
import { type CachedFolder, EntryText, type ListingCacheUse, takeTree, treeText } from './listingCache';
import type { Orphan } from './orphanInspect';
import {
  inspectListed,
  type ListedFolder,
  type ListingState,
  listFolders,
  type ScanOptions,
  walkFolders,
} from './orphanWalk';

/** Where the listing of a whole walk runs: `count` worker threads loading `script` (dist/walkWorker.js). */
export interface WalkWorkers {
  count: number;
  script: string;
  /**
   * A worker failed and its folders were walked on the caller's thread instead: worth a log line, but no drift
   * (nothing was missed), so never a reason for another walk.
   */
  onFailure?: (message: string) => void;
}

/** The options a worker lists with: the walk's own, minus what cannot cross a thread (fs, callbacks, signal). */
export type ListingOptions = Pick<
  ScanOptions,
  'exclude' | 'workspaceExclude' | 'skipNodeModules' | 'extraPatterns' | 'refuseUnsafeFolders'
>;

export interface ListingJob {
  /** Without `slot`: where a start's new cache entry goes stays on the caller's thread. */
  starts: Folder[];
  options: ListingOptions;
  /**
   * The walk's listing cache, without its tree: each start's part of it comes as JSON text in `cachedTexts` ('' for
   * none), which crosses a thread far cheaper than the cloned tree; or, for a walk with one start, the cache file
   * itself (`file`), parsed and validated in the worker.
   */
  cache?: Pick<ListingCacheUse, 'dev' | 'reuse' | 'clockOffsetMs' | 'file'> & { cachedTexts: string[] };
}

enum EntryKind {
  File,
  Folder,
  Symlink,
  Other,
}

interface SentEntry {
  name: string;
  kind: EntryKind;
  nameBytes?: Uint8Array;
}

interface SentFolder {
  dir: string;
  relativeDir: string;
  maybeTemps: string[];
  entries: SentEntry[];
}

export type WorkerMessage =
  | { kind: 'listed'; folders: SentFolder[] }
  | { kind: 'error'; error: ScanError }
  /** Why the listing cache was ignored, for the log (never a scan error). */
  | { kind: 'note'; message: string }
  | {
      kind: 'done';
      visitedFiles: number;
      foldersRead: number;
      foldersFromCache: number;
      /** With a cache: each start's new entry as JSON text, in the order of `starts`. */
      entries?: string[];
    }
  | { kind: 'failed'; message: string };

/**
 * Folders left to read, per worker, before the listing is handed out: the caller's thread reads the top of the tree,
 * breadth first, until it holds this many per worker, then deals them round-robin, so each worker gets a share of
 * every big subtree.
 */
const FOLDERS_PER_WORKER = 16;

/**
 * A whole walk that saw fewer files than this last time runs on the caller's thread: starting a thread costs about
 * 100 ms of CPU, more than such a walk (the OrphanTracker decides by its last walk of the folder).
 */
export const WORKERS_FROM_FILES = 30_000;

function sendEntry(entry: DirEntryLike): SentEntry {
  const kind = entry.isFile()
    ? EntryKind.File
    : entry.isDirectory()
      ? EntryKind.Folder
      : entry.isSymbolicLink()
        ? EntryKind.Symlink
        : EntryKind.Other;
  return entry.nameBytes ? { name: entry.name, kind, nameBytes: entry.nameBytes } : { name: entry.name, kind };
}

function receiveEntry({ name, kind, nameBytes }: SentEntry): DirEntryLike {
  return {
    name,
    ...(nameBytes ? { nameBytes: Buffer.from(nameBytes) } : {}),
    isFile: () => kind === EntryKind.File,
    isDirectory: () => kind === EntryKind.Folder,
    isSymbolicLink: () => kind === EntryKind.Symlink,
  };
}

/** The worker's side: lists its folders with the walk's own rules and posts what the main thread must inspect. */
export async function runListingJob(job: ListingJob, post: (message: WorkerMessage) => void): Promise<void> {
  const entries: (CachedFolder | 0 | EntryText)[] | undefined = job.cache
    ? new Array(job.starts.length).fill(0)
    : undefined;
  const listingCache: ListingCacheUse | undefined = job.cache && {
    dev: job.cache.dev,
    reuse: job.cache.reuse,
    clockOffsetMs: job.cache.clockOffsetMs,
    tree: undefined,
    holder: [],
    ...(job.cache.file ? { file: job.cache.file } : {}),
    log: (message) => post({ kind: 'note', message }),
  };
  // The cache file itself (a walk with one start): parsed and validated here, as the caller's thread would.
  const fileTree = listingCache?.file && job.starts.length === 1 ? takeTree(listingCache) : undefined;
  const starts = job.starts.map((start, index): Folder => {
    if (!entries) return start;
    // Text the caller's thread made from a cache it validated.
    const text = job.cache?.cachedTexts[index];
    const cached = fileTree ?? (text ? (JSON.parse(text) as CachedFolder) : undefined);
    return { ...start, ...(cached ? { cached } : {}), slot: { kids: entries, index } };
  });
  const state: ListingState = { stack: starts.reverse(), visitedFiles: 0, foldersRead: 0, foldersFromCache: 0 };
  try {
    const onError = (error: ScanError) => post({ kind: 'error', error });
    for await (const listed of listFolders(state, { ...job.options, onError, listingCache })) {
      if (listed.length === 0) continue;
      post({
        kind: 'listed',
        folders: listed.map(({ dir, relativeDir, maybeTemps, entries }) => ({
          dir,
          relativeDir,
          maybeTemps,
          entries: entries.map(sendEntry),
        })),
      });
    }
    const { visitedFiles, foldersRead, foldersFromCache } = state;
    const texts = entries?.map(treeText);
    post({ kind: 'done', visitedFiles, foldersRead, foldersFromCache, ...(texts ? { entries: texts } : {}) });
  } catch (error) {
    post({ kind: 'failed', message: messageOf(error) });
  }
}

/**
 * walkFolders with the listing (readdir and the ownership lstat, nearly all of a walk's time) in `workers` threads,
 * off the caller's thread and on every core; the judging of candidates stays here. Same folders, same rules, same
 * reports. A worker that fails or cannot start is replaced by a walk of its folders here, never by a gap (folders it
 * already delivered are not delivered twice), and told to `workers.onFailure`. Without workers, or with a file-system seam other than node's (tests'
 * fakes cannot cross a thread), it is walkFolders.
 */
export function walkFoldersInWorkers(
  starts: readonly Folder[],
  options: ScanOptions,
  workers: WalkWorkers | undefined,
): AsyncGenerator<Orphan> {
  if (!workers || workers.count < 1 || (options.fs !== undefined && options.fs !== nodeFs))
    return walkFolders(starts, options);
  return inspectListed(listInWorkers(starts, options, workers), options);
}

async function* listInWorkers(
  starts: readonly Folder[],
  options: ScanOptions,
  workers: WalkWorkers,
): AsyncGenerator<ListedFolder[]> {
  const report = options.onError ?? (() => undefined);
  const state: ListingState = { stack: [...starts], visitedFiles: 0, foldersRead: 0, foldersFromCache: 0 };
  const cache = options.listingCache;
  let parts: Folder[][];
  if (cache?.file && starts.length === 1) {
    // A cache to reuse: one worker parses it and walks the whole tree, depth first. A proven folder costs one
    // lstat, less than dealing it out (at 1,000,000 files: 2.7 s of CPU in 2 threads, 1.0–2.1 s in one), and the
    // tree lives and dies in that worker's heap, never the host's (docs/benchmarks.md, 2026-12-07, round 4).
    parts = [state.stack.splice(0)];
  } else {
    const fanOut = workers.count * FOLDERS_PER_WORKER;
    yield* listFolders(state, options, (now) => now.stack.length >= fanOut, true);
    if (state.stack.length === 0) return;
    // Breadth first, the stack's first folder is read next: dealt in reading order.
    const pending = state.stack.splice(0);
    parts = Array.from({ length: Math.min(workers.count, pending.length) }, () => []);
    for (let i = 0; i < pending.length; i++) parts[i % parts.length]!.push(pending[i]!);
  }
  const listingOptions: ListingOptions = {
    exclude: options.exclude,
    workspaceExclude: options.workspaceExclude,
    skipNodeModules: options.skipNodeModules,
    extraPatterns: options.extraPatterns,
    refuseUnsafeFolders: options.refuseUnsafeFolders,
  };
  const jobCache = (part: Folder[]) =>
    cache && {
      dev: cache.dev,
      reuse: cache.reuse,
      clockOffsetMs: cache.clockOffsetMs,
      cachedTexts: part.map((start) => (start.cached ? JSON.stringify(start.cached) : '')),
      ...(cache.file && parts.length === 1 ? { file: cache.file } : {}),
    };

  const queue: ListedFolder[][] = [];
  let wake: (() => void) | undefined;
  let running = parts.length;
  let failure: unknown;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  const started: Worker[] = [];

  /** One part: in a worker, or here if the worker fails (skipping the folders it already delivered). */
  const runPart = (part: Folder[]) => {
    const delivered = new Set<string>();
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      running -= 1;
      notify();
    };
    const fallBack = (why: string) => {
      if (settled) return;
      settled = true;
      workers.onFailure?.(`a walk's worker failed (${why}); its ${part.length} folder(s) were walked here instead`);
      // The worker was to parse the cache file: here it is parsed here.
      const tree = cache?.file && part.length === 1 ? takeTree(cache) : undefined;
      if (tree) part[0]!.cached = tree;
      const here: ListingState = { stack: [...part].reverse(), visitedFiles: 0, foldersRead: 0, foldersFromCache: 0 };
      void (async () => {
        for await (const listed of listFolders(here, options)) {
          const fresh = listed.filter((folder) => !delivered.has(folder.dir));
          if (fresh.length > 0) queue.push(fresh);
          notify();
        }
      })()
        .catch((error: unknown) => {
          failure ??= error;
        })
        .finally(() => {
          running -= 1;
          notify();
        });
    };
    let worker: Worker;
    try {
      worker = new Worker(workers.script, {
        workerData: {
          // The slot (a reference into this thread's new tree) stays here; the entry comes back with `done`.
          starts: part.map(({ slot: _slot, cached: _cached, ...start }) => start),
          options: listingOptions,
          ...(cache ? { cache: jobCache(part) } : {}),
        } satisfies ListingJob,
      });
    } catch (error) {
      fallBack(messageOf(error));
      return;
    }
    started.push(worker);
    worker.on('message', (message: WorkerMessage) => {
      if (settled) return;
      if (message.kind === 'listed') {
        const folders = message.folders.map((folder) => {
          delivered.add(folder.dir);
          return { ...folder, entries: folder.entries.map(receiveEntry) };
        });
        queue.push(folders);
        notify();
      } else if (message.kind === 'error') report(message.error);
      else if (message.kind === 'note') cache?.log?.(message.message);
      else if (message.kind === 'done') {
        state.visitedFiles += message.visitedFiles;
        if (options.listingCounts) {
          options.listingCounts.foldersRead += message.foldersRead;
          options.listingCounts.foldersFromCache += message.foldersFromCache;
        }
        part.forEach((start, index) => {
          const entry = message.entries?.[index];
          if (start.slot && entry) start.slot.kids[start.slot.index] = new EntryText(entry);
        });
        finish();
      } else fallBack(message.message);
    });
    worker.on('error', (error) => fallBack(messageOf(error)));
    worker.on('exit', (code) => fallBack(`it exited with code ${code} before it was done`));
  };

  try {
    for (const part of parts) runPart(part);
    while (running > 0 || queue.length > 0) {
      if (failure !== undefined) throw failure;
      const next = queue.shift();
      if (next) {
        yield next;
        continue;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
    if (failure !== undefined) throw failure;
    options.onProgress?.(state.visitedFiles);
  } finally {
    for (const worker of started) void worker.terminate();
  }
}
