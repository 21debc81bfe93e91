import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { constants } from 'node:fs';
import { join } from 'node:path';
import { messageOf } from '../errors';
import { errnoOf, type FsLike, nodeFs, readRegularFile } from '../fs';
import { tempNameGlobs } from '../names/tempPatterns';
import { writeFileAtomic } from '../write/atomicWrite';
import { LOCAL_DISK_TYPES } from '../write/localDisk';

/**
 * The folder-listing cache of whole walks (docs/orphan-rules.md, "The listing cache"). A folder's entry is
 * `[ino, ctimeNs, mtimeNs, files, subfolderNames, kids]`: its subfolder names (unfiltered, sorted) and its count of
 * files, as listed when an lstat showed that ino, ctime and mtime; `kids[i]` is the entry of `subfolderNames[i]`, or
 * 0. An entry with `ino` '' is untrusted (its folder is always read): it only holds the entries below it.
 */
export type CachedFolder = [
  ino: string,
  ctimeNs: string,
  mtimeNs: string,
  files: number,
  names: string[],
  kids: (CachedFolder | 0 | EntryText)[],
];

/**
 * A part of a new tree a worker thread built, as the JSON text it sent: a cloned tree costs far more to pass between
 * threads than its text, and the text is only written out, never read here.
 */
export class EntryText {
  constructor(readonly json: string) {}
}

/** An entry below another, if it is one (a tree read from a file holds no EntryText). */
export const entryOf = (kid: CachedFolder | 0 | EntryText | undefined): CachedFolder | undefined =>
  Array.isArray(kid) ? kid : undefined;

/**
 * The rules that decide which folders are cached (mayBeTempName and what a listing keeps): a version to bump when
 * they change, and a digest of the recogniser's own name globs, so a rule added or changed without the bump still
 * makes a cache of older rules ignored whole.
 */
export const LISTING_CACHE_RULES = `1:${createHash('sha256').update(tempNameGlobs().join('\n')).digest('hex').slice(0, 16)}`;

const FORMAT = 'crash-safe-state listing cache';
/** A cache file larger than this is not read (a million-file tree writes about 5 MB). */
export const MAX_CACHE_BYTES = 128 * 1024 * 1024;
/** Deeper than any path Linux can name (PATH_MAX 4096 bytes, at least 2 per level). */
const MAX_DEPTH = 2048;
const MAX_FOLDERS = 10_000_000;
const MAX_FILES_PER_FOLDER = 100_000_000;
/** A listing is recorded only when the folder's ctime is at least this much older than the clock before its lstat. */
export const SETTLED_MS = 2_000;

/** Where a cache lives and the seams its checks use (tests inject statfs, the platform and the clock). */
export interface ListingCacheStore {
  /** The cache file's bytes for `root`, or undefined when there is none or it cannot be read as a regular file. */
  load(root: string): Promise<Uint8Array | undefined>;
  save(root: string, text: string): Promise<void>;
  /** In place of the walk's FsLike.statfs. */
  statfs?(path: string): Promise<{ type: number | bigint }>;
  platform?: NodeJS.Platform;
  now?(): number;
  /** Told why a cache file was ignored or not written (once per walk). */
  log?(message: string): void;
}

/** A folder's lstat, taken before its listing: what proves a cached listing, and what a new one is recorded with. */
export interface FolderStamp {
  dev: string;
  ino: string;
  ctimeNs: string;
  mtimeNs: string;
  /** The ctime was at least SETTLED_MS older than the clock read before the lstat. */
  settled: boolean;
}

/** One whole walk's use of the cache: read (unless `reuse` is false) and the new entries recorded. */
export interface ListingCacheUse {
  /** The device of the root: only folders on it are cached. */
  dev: string;
  /** False: every folder is read (Rescan), the cache is only written. */
  reuse: boolean;
  /** Milliseconds to add to Date.now() (tests move the clock; a worker gets the caller's). */
  clockOffsetMs: number;
  /** The entry of the root from the last walk, once `file` is parsed and valid (takeTree). */
  tree: CachedFolder | undefined;
  /**
   * The cache file's text, not parsed yet: it is parsed where the walk runs (a worker thread, so the host's heap
   * never holds the tree), by takeTree.
   */
  file?: { text: string; key: CacheKey };
  /** Told why the file was ignored. */
  log?: (message: string) => void;
  /** holder[0] becomes the root's new entry. */
  holder: (CachedFolder | 0 | EntryText)[];
}

/** Folders a walk read and folders it took from the cache. */
export interface ListingCounts {
  foldersRead: number;
  foldersFromCache: number;
}

/** A name a cache may hold: one path component, never '.', '..', a separator or NUL, at most 255 bytes. */
export function cacheableName(name: string): boolean {
  return (
    name.length > 0 &&
    name !== '.' &&
    name !== '..' &&
    !name.includes('/') &&
    !name.includes('\\') &&
    !name.includes('\0') &&
    Buffer.byteLength(name) <= 255
  );
}

/** The latest ctime (ns) a folder may have to count as settled, for a clock read (ms) before its lstat. */
export const settledBefore = (nowMs: number): bigint => BigInt(Math.floor(nowMs) - SETTLED_MS) * 1_000_000n;

/** The stamp of a folder from bigint lstat stats; `settledCtimeNs` is settledBefore(the clock before the lstat). */
export function stampOf(stats: BigIntStats, settledCtimeNs: bigint): FolderStamp {
  return {
    dev: stats.dev.toString(),
    ino: stats.ino.toString(),
    ctimeNs: stats.ctimeNs.toString(),
    mtimeNs: stats.mtimeNs.toString(),
    settled: stats.ctimeNs <= settledCtimeNs,
  };
}

/** True when `cached` is a trusted entry and the folder's lstat now is exactly the one it was listed at. */
export function provenBy(cached: CachedFolder | undefined, stamp: FolderStamp | undefined, dev: string): boolean {
  return (
    cached !== undefined &&
    stamp !== undefined &&
    cached[0] !== '' &&
    stamp.dev === dev &&
    stamp.ino === cached[0] &&
    stamp.ctimeNs === cached[1] &&
    stamp.mtimeNs === cached[2]
  );
}

/**
 * The new entry of a folder just read: trusted only when its lstat was settled, on the root's device, it holds no
 * name a rule may take for a temp (`keepsNoListing` false) and every subfolder name is one a cache may hold.
 */
export function recordFolder(
  stamp: FolderStamp | undefined,
  dev: string,
  files: number,
  subfolders: string[],
  keepsNoListing: boolean,
): CachedFolder {
  const names = subfolders.filter(cacheableName);
  const trusted =
    !keepsNoListing && stamp !== undefined && stamp.settled && stamp.dev === dev && names.length === subfolders.length;
  const kids: (CachedFolder | 0 | EntryText)[] = new Array(names.length).fill(0);
  return trusted ? [stamp.ino, stamp.ctimeNs, stamp.mtimeNs, files, names, kids] : ['', '', '', 0, names, kids];
}

/** The entries below `cached` by name, for a folder read afresh (its names may have changed). */
export function kidsByName(cached: CachedFolder | undefined): Map<string, CachedFolder> | undefined {
  if (!cached) return undefined;
  const byName = new Map<string, CachedFolder>();
  const [, , , , names, kids] = cached;
  for (let i = 0; i < names.length; i++) {
    const kid = entryOf(kids[i]);
    if (kid) byName.set(names[i]!, kid);
  }
  return byName;
}

/**
 * The tree as it is written: untrusted entries with nothing trusted below them dropped (they would only cost
 * bytes), and each EntryText replaced by a placeholder string `texts` maps back (see treeText).
 */
function pruned(entry: CachedFolder | 0 | EntryText, texts: string[]): CachedFolder | 0 | string {
  if (!entry) return 0;
  if (entry instanceof EntryText) {
    if (entry.json === '0') return 0;
    texts.push(entry.json);
    return `\u0000${texts.length - 1}`;
  }
  const [ino, ctimeNs, mtimeNs, files, names, kids] = entry;
  const keptKids = kids.map((kid) => pruned(kid, texts)) as CachedFolder[];
  if (ino !== '') return [ino, ctimeNs, mtimeNs, files, names, keptKids];
  const keptNames: string[] = [];
  const kept: CachedFolder[] = [];
  for (let i = 0; i < names.length; i++) {
    const kid = keptKids[i];
    if (kid) {
      keptNames.push(names[i]!);
      kept.push(kid);
    }
  }
  return kept.length > 0 ? ['', '', '', 0, keptNames, kept] : 0;
}

/** What a cache file is for: a cache of another root, rule set or set of user patterns is ignored. */
export interface CacheKey {
  root: string;
  extraPatterns: readonly string[];
}

/**
 * An entry (or 0) as JSON text. Placeholders are `"\u0000<n>"` in the text: no name a cache holds contains NUL or
 * a backslash, so nothing else in the text can look like one.
 */
export function treeText(entry: CachedFolder | 0 | EntryText): string {
  const texts: string[] = [];
  const text = JSON.stringify(pruned(entry, texts));
  return texts.length === 0 ? text : text.replace(/"\\u0000(\d+)"/g, (_, index: string) => texts[Number(index)]!);
}

export function serialiseListingCache(
  key: CacheKey,
  dev: string,
  tree: CachedFolder | EntryText,
  writtenAt: number,
): string {
  const header = JSON.stringify({
    format: FORMAT,
    rules: LISTING_CACHE_RULES,
    root: key.root,
    extraPatterns: key.extraPatterns,
    dev,
    writtenAt,
  });
  return `${header.slice(0, -1)},"tree":${treeText(tree)}}`;
}

const DIGITS = /^\d{1,20}$/;

/**
 * The tree of a cache file, or why the whole file is ignored: any entry that is not exactly what this module writes
 * (a name with a separator, '.', '..', NUL, a duplicate, a wrong type, too deep, too many) rejects all of it.
 */
export function parseListingCache(
  bytes: Uint8Array | string,
  key: CacheKey,
  dev: string,
  nowMs: number,
): { tree: CachedFolder } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8'));
  } catch (error) {
    return { problem: `not JSON (${messageOf(error)})` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { problem: 'not a cache object' };
  const file = value as Record<string, unknown>;
  if (file.format !== FORMAT) return { problem: 'not a listing cache' };
  if (file.rules !== LISTING_CACHE_RULES) return { problem: 'written for other rules' };
  if (file.root !== key.root) return { problem: 'written for another folder' };
  const patterns = file.extraPatterns;
  if (
    !Array.isArray(patterns) ||
    patterns.length !== key.extraPatterns.length ||
    patterns.some((pattern, i) => pattern !== key.extraPatterns[i])
  )
    return { problem: 'written for other temp patterns' };
  if (file.dev !== dev) return { problem: 'written for another device' };
  if (typeof file.writtenAt !== 'number' || !Number.isFinite(file.writtenAt)) return { problem: 'no time written' };
  if (file.writtenAt > nowMs) return { problem: 'written in the future (the clock went back)' };
  const problem = invalidTree(file.tree);
  return problem ? { problem } : { tree: file.tree as CachedFolder };
}

/** Why `tree` is not a well-formed entry, or undefined. Iterative: a hostile depth cannot overflow the stack. */
function invalidTree(tree: unknown): string | undefined {
  const stack: [unknown, number][] = [[tree, 0]];
  let folders = 0;
  while (stack.length > 0) {
    const [entry, depth] = stack.pop()!;
    if (depth > MAX_DEPTH) return 'too deep';
    if (++folders > MAX_FOLDERS) return 'too many folders';
    if (!Array.isArray(entry) || entry.length !== 6) return 'an entry of the wrong shape';
    const [ino, ctimeNs, mtimeNs, files, names, kids] = entry as unknown[];
    const untrusted = ino === '' && ctimeNs === '' && mtimeNs === '' && files === 0;
    const stamped =
      typeof ino === 'string' &&
      typeof ctimeNs === 'string' &&
      typeof mtimeNs === 'string' &&
      DIGITS.test(ino) &&
      DIGITS.test(ctimeNs) &&
      DIGITS.test(mtimeNs);
    if (!untrusted && !stamped) return 'an entry with a wrong stamp';
    if (typeof files !== 'number' || !Number.isSafeInteger(files) || files < 0 || files > MAX_FILES_PER_FOLDER)
      return 'a wrong count of files';
    if (!Array.isArray(names) || !Array.isArray(kids) || names.length !== kids.length)
      return 'an entry with wrong names';
    let previous = '';
    for (let i = 0; i < names.length; i++) {
      const name: unknown = names[i];
      if (typeof name !== 'string' || !cacheableName(name)) return 'a name that is not one folder name';
      // Written sorted: strictly increasing also proves no name is listed twice.
      if (i > 0 && !(previous < name)) return 'names out of order or listed twice';
      previous = name;
      const kid: unknown = kids[i];
      if (kid === 0) continue;
      stack.push([kid, depth + 1]);
    }
  }
  return undefined;
}

/**
 * The cache use of a whole walk of `root`, or why there is none (a full walk exactly as without a cache): only on
 * Linux, on the write path's local disk file systems (LOCAL_DISK_TYPES), whose ctime is this kernel's clock;
 * elsewhere (NFS, CIFS, FUSE, overlay) a timestamp may come from another clock or be coarser. A cache file that is missing, unreadable or not
 * valid still gives a use (the walk records a new one), with no tree.
 */
export async function openListingCache(
  store: ListingCacheStore,
  key: CacheKey,
  reuse: boolean,
  fs: FsLike,
): Promise<ListingCacheUse | { none: string }> {
  const platform = store.platform ?? process.platform;
  if (platform !== 'linux') return { none: `no cache on ${platform}` };
  if (!fs.lstatBigintSync) return { none: 'no bigint lstat' };
  const statfs = store.statfs ?? fs.statfs?.bind(fs);
  if (!statfs) return { none: 'no statfs' };
  let type: number;
  let dev: string;
  try {
    type = Number((await statfs(key.root)).type);
    dev = fs.lstatBigintSync(key.root).dev.toString();
  } catch (error) {
    return { none: messageOf(error) };
  }
  if (!LOCAL_DISK_TYPES.has(type)) return { none: `file system type 0x${type.toString(16)} is not cached` };
  const clockOffsetMs = (store.now?.() ?? Date.now()) - Date.now();
  const use: ListingCacheUse = { dev, reuse, clockOffsetMs, tree: undefined, holder: [0], log: store.log };
  if (!reuse) return use;
  let bytes: Uint8Array | undefined;
  try {
    bytes = await store.load(key.root);
  } catch (error) {
    store.log?.(`The listing cache of ${key.root} was not read (${messageOf(error)}): a full walk`);
    return use;
  }
  if (bytes) use.file = { text: Buffer.from(bytes).toString('utf8'), key };
  return use;
}

/** Parses and validates `use.file` (where the walk runs); afterwards `use.tree` holds the tree if it was valid. */
export function takeTree(use: Omit<ListingCacheUse, 'holder'>): CachedFolder | undefined {
  const file = use.file;
  if (!file) return use.tree;
  use.file = undefined;
  const parsed = parseListingCache(file.text, file.key, use.dev, Date.now() + use.clockOffsetMs);
  if ('problem' in parsed)
    use.log?.(`The listing cache of ${file.key.root} was ignored (${parsed.problem}): a full walk`);
  else use.tree = parsed.tree;
  return use.tree;
}

/** Writes the new cache of a finished walk; a failure is logged, never thrown (the next walk reads everything). */
export async function saveListingCache(store: ListingCacheStore, key: CacheKey, use: ListingCacheUse): Promise<void> {
  const tree = use.holder[0];
  if (!tree || (tree instanceof EntryText && tree.json === '0')) return;
  try {
    await store.save(key.root, serialiseListingCache(key, use.dev, tree, Date.now() + use.clockOffsetMs));
  } catch (error) {
    store.log?.(`The listing cache of ${key.root} was not written: ${messageOf(error)}`);
  }
}

/** The file of `root`'s cache in `folder`: named by a digest of the root path, so any path has a name. */
export function cacheFileOf(folder: string, root: string): string {
  return join(folder, `listing-${createHash('sha256').update(root).digest('hex').slice(0, 32)}.json`);
}

/**
 * A store of cache files in `folder` (the extension's own storage): read bounded, never through a symlink and only
 * as a regular file; written atomically, never through a symlink or over anything but a regular file.
 */
export function listingCacheFolder(folder: string, options: Omit<ListingCacheStore, 'load' | 'save'> = {}) {
  const store: ListingCacheStore = {
    ...options,
    async load(root) {
      try {
        return await readRegularFile(cacheFileOf(folder, root), MAX_CACHE_BYTES, constants.O_NOFOLLOW ?? 0);
      } catch (error) {
        if (errnoOf(error) === 'ENOENT') return undefined;
        throw error;
      }
    },
    async save(root, text) {
      const path = cacheFileOf(folder, root);
      const isRegularOrAbsent = async () => {
        try {
          if (!(await nodeFs.lstat(path)).isFile()) throw new Error(`${path} is not a regular file; left as it is`);
        } catch (error) {
          if (errnoOf(error) !== 'ENOENT') throw error;
        }
      };
      await isRegularOrAbsent();
      // The cache can always be rebuilt: no fsync needed, only a whole file or none.
      await writeFileAtomic(path, text, {
        createParents: true,
        durability: 'fast',
        beforeRename: isRegularOrAbsent,
      });
    },
  };
  return store;
}
