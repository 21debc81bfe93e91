import { lstatSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import picomatch from 'picomatch';
import {
  DescriptorsExhaustedError,
  INSPECTIONS_AT_ONCE,
  isDescriptorExhaustion,
  mapBounded,
  retryWhileExhausted,
  withOpenFiles,
} from './boundedOpens';
import { messageOf } from './errors';
import { type DirEntryLike, describeNameBytes, type FsLike, nodeFs } from './fs';
import type { CachedFolder, EntryText, FolderStamp } from './orphans/listingCache';

/** A folder or file a walk could not read, or skipped; the walk went on without it. */
export interface ScanError {
  path: string;
  error: string;
  /** Deliberately not entered (an unsafe folder), rather than unreadable. */
  skipped?: boolean;
}

/** A folder still to read; `relativeDir` (from its root, with `/`) is kept only when excludes need it. */
export interface Folder {
  dir: string;
  relativeDir: string;
  /** With a listing cache: this folder's entry from the last walk, used only if `stamp` proves it. */
  cached?: CachedFolder;
  /** With a listing cache: this folder's lstat, taken before it is read. */
  stamp?: FolderStamp;
  /** With a listing cache: where this folder's new entry goes (its parent's kids, at its name's index). */
  slot?: { kids: (CachedFolder | 0 | EntryText)[]; index: number };
}

const NOT_A_FILE: DirEntryLike = {
  name: '',
  isFile: () => false,
  isDirectory: () => false,
  isSymbolicLink: () => false,
};

/**
 * A folder's entries with their types, never following symlinks (falls back to readdir + lstat). The listing counts
 * against MAX_OPEN_FILES and waits out a shortage of descriptors.
 */
export async function listFolder(fs: FsLike, dir: string): Promise<DirEntryLike[]> {
  if (fs.readdirEntries) {
    const readdirEntries = fs.readdirEntries.bind(fs);
    return withOpenFiles(() => readdirEntries(dir));
  }
  const names = await withOpenFiles(() => fs.readdir(dir));
  return mapBounded(names, INSPECTIONS_AT_ONCE, async (name): Promise<DirEntryLike> => {
    try {
      const stats = await fs.lstat(join(dir, name));
      return {
        name,
        isFile: () => stats.isFile(),
        isDirectory: () => stats.isDirectory(),
        isSymbolicLink: () => stats.isSymbolicLink(),
      };
    } catch {
      return { ...NOT_A_FILE, name };
    }
  });
}

/** A listed name whose bytes are not valid UTF-8: Node's lossy text of it, and its bytes as `\xNN` for messages. */
export interface UndecodableName {
  decoded: string;
  shown: string;
}

/**
 * The names in a folder that are exactly what is on disk, and the others: names whose bytes are not valid UTF-8,
 * which no string path reaches (their decoded text may even name another file).
 */
export async function exactNames(
  fs: FsLike,
  dir: string,
): Promise<{ names: string[]; undecodable: UndecodableName[] }> {
  const readdirEntries = fs.readdirEntries?.bind(fs);
  if (!readdirEntries) return { names: await withOpenFiles(() => fs.readdir(dir)), undecodable: [] };
  const names: string[] = [];
  const undecodable: UndecodableName[] = [];
  for (const entry of await withOpenFiles(() => readdirEntries(dir))) {
    if (entry.nameBytes) undecodable.push({ decoded: entry.name, shown: describeNameBytes(entry.nameBytes) });
    else names.push(entry.name);
  }
  return { names, undecodable };
}

/** Why a listed name cannot be acted on: its bytes are not valid UTF-8, so its decoded text may name another file. */
export const UNDECODABLE_NAME_NOTE =
  'its name is not valid UTF-8, so no path reaches it exactly (its decoded text may name another file); it was not judged and is never swept or recovered: rename it to inspect it';

/** One folder's listing, synchronously where the seam allows it (cheaper per folder, see FsLike). */
export function listFolderFast(fs: FsLike, dir: string): DirEntryLike[] | Promise<DirEntryLike[]> {
  return fs.readdirEntriesSync ? fs.readdirEntriesSync(dir) : listFolder(fs, dir);
}

export const yieldToEventLoop = () => new Promise<void>((resolveYield) => setImmediate(resolveYield));

/**
 * Lists a batch of folders; unreadable ones are reported and come back undefined. A shortage of descriptors is waited
 * out, and if it lasts, thrown (DescriptorsExhaustedError): a folder is never reported unreadable for it.
 */
export async function listBatch(
  fs: FsLike,
  batch: readonly Folder[],
  report: (error: ScanError) => void,
): Promise<(DirEntryLike[] | undefined)[]> {
  const failed = (dir: string, error: unknown) => {
    if (error instanceof DescriptorsExhaustedError) throw error;
    report({ path: dir, error: messageOf(error) });
    return undefined;
  };
  const listSync = fs.readdirEntriesSync?.bind(fs);
  if (listSync) {
    // Synchronous reads are far cheaper per folder; yielding once per batch keeps the event loop responsive.
    await yieldToEventLoop();
    const listings: (DirEntryLike[] | undefined)[] = [];
    for (const { dir } of batch) {
      try {
        listings.push(listSync(dir));
      } catch (error) {
        listings.push(
          isDescriptorExhaustion(error)
            ? await retryWhileExhausted(() => listSync(dir)).catch((again: unknown) => failed(dir, again))
            : failed(dir, error),
        );
      }
    }
    return listings;
  }
  return Promise.all(batch.map(({ dir }) => listFolder(fs, dir).catch((error: unknown) => failed(dir, error))));
}

/** A relative path with `/` between names, whatever this platform's separator. */
export const toSlashes = sep === '/' ? (path: string) => path : (path: string) => path.split(sep).join('/');

export const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Matches exclude globs against a path relative to the root. Where `\` is the separator (pass `path.win32` to test
 * that), it becomes `/` in paths and globs alike before matching (no Windows name holds `*` or `?`, so `\` is never
 * needed as an escape there), so a glob such as `build/**` means the same on every platform. A glob without `/`
 * matches a name at any depth, unless `wholePathOnly` (VS Code's `files.exclude` reading: always the whole path).
 */
export function compileExcluder(
  globs: readonly string[] | undefined,
  pathModule: { readonly sep: string } = { sep },
  wholePathOnly = false,
): (relativePath: string) => boolean {
  if (!globs || globs.length === 0) return () => false;
  const toSlashes = pathModule.sep === '\\' ? (text: string) => text.replaceAll('\\', '/') : (text: string) => text;
  const normalised = globs.map(toSlashes);
  const byName = wholePathOnly ? [] : normalised.filter((g) => !g.includes('/'));
  const byPath = wholePathOnly ? normalised : normalised.filter((g) => g.includes('/'));
  // `windows` given, so picomatch never guesses the platform from `navigator` (a deprecation error in VS Code);
  // false, because paths and globs use `/` by now: the same matching on every platform.
  const options = { dot: true, windows: false };
  const matchName = byName.length > 0 ? picomatch(byName, options) : () => false;
  const matchPath = byPath.length > 0 ? picomatch(byPath, options) : () => false;
  return (relativePath) => {
    const path = toSlashes(relativePath);
    return matchPath(path) || matchName(path.slice(path.lastIndexOf('/') + 1));
  };
}

/** Folders no walk enters. */
export const ALWAYS_SKIPPED_FOLDERS: ReadonlySet<string> = new Set(['.git']);

export interface FilterOptions {
  /** picomatch globs; a glob without `/` matches a name at any depth, one with `/` the path relative to the root. */
  exclude?: string[];
  /** VS Code globs (`files.exclude`, `files.watcherExclude`): always matched against the whole relative path. */
  workspaceExclude?: string[];
  /** Skip `node_modules` folders. */
  skipNodeModules?: boolean;
}

/** What a walk leaves out, asked by the walk for each entry and by the incremental model for each event. */
export interface WalkFilter {
  /** Relative paths are only worth building when some glob reads them. */
  readonly usesPaths: boolean;
  skipsFolder(name: string, relativePath: string): boolean;
  skipsFile(relativePath: string): boolean;
  /** True when a walk would never reach `relativePath` (`/`-separated, a folder if `isFolder`): it or a folder above is skipped. */
  skipsPath(relativePath: string, isFolder?: boolean): boolean;
}

export function compileWalkFilter(options: FilterOptions): WalkFilter {
  const ours = compileExcluder(options.exclude);
  const workspace = compileExcluder(options.workspaceExclude, { sep }, true);
  const usesPaths = (options.exclude?.length ?? 0) + (options.workspaceExclude?.length ?? 0) > 0;
  const excluded = (relativePath: string) => usesPaths && (ours(relativePath) || workspace(relativePath));
  const skipsFolder = (name: string, relativePath: string) =>
    ALWAYS_SKIPPED_FOLDERS.has(name) ||
    (options.skipNodeModules === true && name === 'node_modules') ||
    excluded(relativePath);
  return {
    usesPaths,
    skipsFolder,
    skipsFile: excluded,
    skipsPath(relativePath, isFolder = false) {
      if (relativePath === '') return false;
      let start = 0;
      for (let slash = relativePath.indexOf('/'); slash !== -1; slash = relativePath.indexOf('/', start)) {
        if (skipsFolder(relativePath.slice(start, slash), relativePath.slice(0, slash))) return true;
        start = slash + 1;
      }
      return isFolder ? skipsFolder(relativePath.slice(start), relativePath) : excluded(relativePath);
    },
  };
}

/** Resolves roots to real absolute folders, dropping any root inside another so nothing is visited twice. */
export async function resolveRoots(
  fs: FsLike,
  roots: readonly string[],
  report: (error: ScanError) => void,
): Promise<string[]> {
  const real: string[] = [];
  for (const root of roots) {
    const absolute = resolve(root);
    try {
      const path = await fs.realpath(absolute);
      if (!(await fs.stat(path)).isDirectory()) {
        report({ path: absolute, error: `${absolute} is not a folder` });
        continue;
      }
      real.push(path);
    } catch (error) {
      report({ path: absolute, error: messageOf(error) });
    }
  }
  const unique = [...new Set(real)].sort();
  return unique.filter((root) => !unique.some((other) => other !== root && isInside(root, other)));
}

/** True when `path` is `root` or lies below it (both absolute and normalised). */
export function isInside(path: string, root: string): boolean {
  if (path === root) return true;
  const prefix = root.endsWith(sep) ? root : root + sep;
  return path.startsWith(prefix);
}

/** The deepest folder containing all of `folders` (absolute, normalised); stops at a root (another drive on Windows). */
export function commonFolder(folders: readonly string[]): string {
  let common = folders[0]!;
  for (const folder of folders)
    while (!isInside(folder, common) && dirname(common) !== common) common = dirname(common);
  return common;
}

type LstatResult = Awaited<ReturnType<FsLike['lstat']>>;

/** Why a folder with these stats is unsafe to enter for `uid` (undefined: no ownership check), or undefined. */
export function reasonFrom(
  stats: Pick<LstatResult, 'isDirectory'> & { uid: number | bigint; mode: number | bigint },
  uid: number | undefined,
): string | undefined {
  if (!stats.isDirectory()) return 'it is no longer a folder';
  if (uid === undefined) return undefined;
  if (Number(stats.uid) !== uid) return `it belongs to another user (uid ${stats.uid})`;
  if ((Number(stats.mode) & 0o002) !== 0) return 'other users may write to it';
  return undefined;
}

/** Why a folder is unsafe to enter for this user, or undefined. */
export async function unsafeFolderReason(fs: FsLike, dir: string, uid: number): Promise<string | undefined> {
  return reasonFrom(await fs.lstat(dir), uid);
}

/** The folders safe to enter; the others are reported as skipped. */
export async function safeFolders(
  fs: FsLike,
  folders: Folder[],
  uid: number,
  report: (error: ScanError) => void,
): Promise<Folder[]> {
  // The real file system answers synchronously: one lstat per folder through the thread pool cost a third of a walk.
  const reasons =
    fs === nodeFs
      ? folders.map((folder) => {
          try {
            return reasonFrom(lstatSync(folder.dir), uid);
          } catch (error) {
            return messageOf(error);
          }
        })
      : await Promise.all(
          folders.map((folder) => unsafeFolderReason(fs, folder.dir, uid).catch((error: unknown) => messageOf(error))),
        );
  return folders.filter((folder, index) => {
    const reason = reasons[index];
    if (reason) report({ path: folder.dir, error: `not entered: ${reason}`, skipped: true });
    return !reason;
  });
}

/** Whether this process refuses folders others control (default: when running as root). */
export function refusesUnsafeFolders(option: boolean | undefined): number | undefined {
  const uid = process.getuid?.();
  return uid !== undefined && (option ?? uid === 0) ? uid : undefined;
}
