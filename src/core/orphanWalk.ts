import { join, resolve, sep } from 'node:path';
import picomatch from 'picomatch';
import { type DirEntryLike, errnoOf, type FsLike, nodeFs } from './fs';
import { GitTrackedFiles } from './gitTracked';
import { findJournal } from './groupJournal';
import { OrphanJudge, type TargetState } from './orphanJudge';
import {
  type CustomPattern,
  compileCustomPatterns,
  mightBeTemp,
  type OrphanKind,
  type RecognisedGroupFile,
  recogniseGroupFile,
  recogniseTemp,
} from './tempPatterns';

/** A temp file a crash (or a writer still at work) left beside its target. Paths are absolute. */
export interface Orphan {
  path: string;
  target: string;
  kind: OrphanKind;
  size: number;
  mtimeMs: number;
  ageMs: number;
  /** Whether the whole temp parses as JSON; null for non-JSON targets or temps that could not be judged. */
  validJson: boolean | null;
  targetState: TargetState;
  /** Why the temp or its target could not be judged, or why the target is corrupt. */
  note?: string;
  /** git tracks this file in its working tree: never swept. */
  gitTracked?: boolean;
  /**
   * The journal of the group commit this file belongs to (for the journal itself, its own path); the group's files
   * are one unit that only `recover --groups` finishes. Absent for a group file whose journal is gone.
   */
  group?: string;
}

/** A folder or file the walk could not read, or skipped; the walk went on without it. */
export interface ScanError {
  path: string;
  error: string;
  /** Deliberately not entered (an unsafe folder), rather than unreadable. */
  skipped?: boolean;
}

export interface ScanOptions {
  /** picomatch globs; a glob without `/` matches a name at any depth, one with `/` the path relative to the root. */
  exclude?: string[];
  /** Skip `node_modules` folders (default false: npm leaves `package.json.<n>` orphans there). */
  skipNodeModules?: boolean;
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
}

export interface ScanResult {
  orphans: Orphan[];
  errors: ScanError[];
}

/** Folders read at once; enough to keep libuv's thread pool busy without holding many listings in memory. */
const FOLDER_BATCH = 32;
const ALWAYS_SKIPPED_FOLDERS = new Set(['.git']);
/** What Node puts in a name whose bytes are not valid UTF-8; such a path cannot be opened by its decoded name. */
const REPLACEMENT_CHARACTER = '\ufffd';

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const NOT_A_FILE: DirEntryLike = {
  name: '',
  isFile: () => false,
  isDirectory: () => false,
  isSymbolicLink: () => false,
};

/** A folder's entries with their types, never following symlinks (falls back to readdir + lstat). */
export async function listFolder(fs: FsLike, dir: string): Promise<DirEntryLike[]> {
  if (fs.readdirEntries) return fs.readdirEntries(dir);
  const names = await fs.readdir(dir);
  return Promise.all(
    names.map(async (name): Promise<DirEntryLike> => {
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
    }),
  );
}

const yieldToEventLoop = () => new Promise<void>((resolveYield) => setImmediate(resolveYield));

/** Lists a batch of folders; unreadable ones are reported and come back undefined. */
async function listBatch(
  fs: FsLike,
  batch: readonly Folder[],
  report: (error: ScanError) => void,
): Promise<(DirEntryLike[] | undefined)[]> {
  const failed = (dir: string, error: unknown) => {
    report({ path: dir, error: describeError(error) });
    return undefined;
  };
  const listSync = fs.readdirEntriesSync?.bind(fs);
  if (listSync) {
    // Synchronous reads are far cheaper per folder; yielding once per batch keeps the event loop responsive.
    await yieldToEventLoop();
    return batch.map(({ dir }) => {
      try {
        return listSync(dir);
      } catch (error) {
        return failed(dir, error);
      }
    });
  }
  return Promise.all(batch.map(({ dir }) => listFolder(fs, dir).catch((error: unknown) => failed(dir, error))));
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Matches exclude globs against a path relative to the root. Where `\` is the separator (pass `path.win32` to test
 * that), it becomes `/` in paths and globs alike before matching (no Windows name holds `*` or `?`, so `\` is never
 * needed as an escape there), so a glob such as `build/**` means the same on every platform.
 */
export function compileExcluder(
  globs: readonly string[] | undefined,
  pathModule: { readonly sep: string } = { sep },
): (relativePath: string) => boolean {
  if (!globs || globs.length === 0) return () => false;
  const toSlashes = pathModule.sep === '\\' ? (text: string) => text.replaceAll('\\', '/') : (text: string) => text;
  const normalised = globs.map(toSlashes);
  const byName = normalised.filter((g) => !g.includes('/'));
  const byPath = normalised.filter((g) => g.includes('/'));
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
      report({ path: absolute, error: describeError(error) });
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

/** Why a folder is unsafe to enter for this user, or undefined. */
export async function unsafeFolderReason(fs: FsLike, dir: string, uid: number): Promise<string | undefined> {
  const stats = await fs.lstat(dir);
  if (!stats.isDirectory()) return 'it is no longer a folder';
  if (stats.uid !== uid) return `it belongs to another user (uid ${stats.uid})`;
  if ((stats.mode & 0o002) !== 0) return 'other users may write to it';
  return undefined;
}

/** A folder still to read; `relativeDir` (from its root, with `/`) is kept only when excludes need it. */
interface Folder {
  dir: string;
  relativeDir: string;
}

interface Candidate {
  dir: string;
  name: string;
  siblings: ReadonlySet<string>;
  folders: ReadonlySet<string>;
}

interface Inspection {
  fs: FsLike;
  now: number;
  report: (error: ScanError) => void;
  judge: OrphanJudge;
  /** Each group's journal, looked up once per walk. */
  groupJournals: Map<string, Promise<string | undefined>>;
}

/** Why a group commit's file is listed; sweep keeps them all (see orphanSweep). */
export const GROUP_FILE_NOTE = 'part of an interrupted group commit; recover it with recover --groups';
const ORPHANED_GROUP_FILE_NOTE = 'left by a group commit whose journal is gone; recover --groups removes it';

/** A journal, temp or backup of a group commit, shown with the journal that binds its group. */
async function inspectGroupFile(
  inspection: Inspection,
  dir: string,
  path: string,
  stats: Awaited<ReturnType<FsLike['lstat']>>,
  named: RecognisedGroupFile,
): Promise<Orphan> {
  const target = named.target === undefined ? path : join(dir, named.target);
  let journal = inspection.groupJournals.get(named.groupId);
  if (!journal) {
    journal =
      named.role === 'journal'
        ? Promise.resolve(path)
        : findJournal(inspection.fs, dir, named.groupId).then((found) => (found.state === 'found' ? found.path : undefined));
    inspection.groupJournals.set(named.groupId, journal);
  }
  const [temp, targetJudgement, group] = await Promise.all([
    inspection.judge.temp(path, target),
    inspection.judge.target(target),
    journal,
  ]);
  return {
    path,
    target,
    kind: 'crash-safe',
    size: stats.size,
    mtimeMs: stats.mtimeMs,
    ageMs: Math.max(0, inspection.now - stats.mtimeMs),
    validJson: temp.validJson,
    targetState: targetJudgement.state,
    note: group ? GROUP_FILE_NOTE : ORPHANED_GROUP_FILE_NOTE,
    ...(group ? { group } : {}),
  };
}

/** lstat, re-recognise with the real mtime, and judge one candidate; undefined if it is not an orphan after all. */
async function inspectCandidate(
  inspection: Inspection,
  candidate: Candidate,
  custom: readonly CustomPattern[],
): Promise<Orphan | undefined> {
  const path = join(candidate.dir, candidate.name);
  let stats: Awaited<ReturnType<FsLike['lstat']>>;
  try {
    stats = await inspection.fs.lstat(path);
  } catch (error) {
    if (candidate.name.includes(REPLACEMENT_CHARACTER)) {
      inspection.report({ path, error: 'its name is not valid UTF-8, so it cannot be opened by name; rename it to inspect it' });
    } else if (errnoOf(error) !== 'ENOENT') inspection.report({ path, error: describeError(error) });
    return undefined;
  }
  if (!stats.isFile()) return undefined;
  const grouped = recogniseGroupFile(candidate.name);
  if (grouped) return inspectGroupFile(inspection, candidate.dir, path, stats, grouped);
  const recognised = recogniseTemp(candidate.name, candidate.siblings, custom, {
    mtimeMs: stats.mtimeMs,
    now: inspection.now,
  });
  if (!recognised || candidate.folders.has(recognised.target)) return undefined;
  const target = join(candidate.dir, recognised.target);
  const [temp, targetJudgement] = await Promise.all([
    inspection.judge.temp(path, target),
    inspection.judge.target(target),
  ]);
  const note = temp.reason ?? targetJudgement.reason;
  return {
    path,
    target,
    kind: recognised.kind,
    size: stats.size,
    mtimeMs: stats.mtimeMs,
    ageMs: Math.max(0, inspection.now - stats.mtimeMs),
    validJson: temp.validJson,
    targetState: targetJudgement.state,
    ...(note ? { note } : {}),
  };
}

/** Marks the orphans git tracks (a tracked `data.json.1700000000` is a file of the project, not a leftover). */
async function markGitTracked(git: GitTrackedFiles, orphans: (Orphan | undefined)[]): Promise<void> {
  const found = orphans.filter((orphan): orphan is Orphan => orphan !== undefined);
  if (found.length === 0) return;
  const tracking = await git.check(found.map((orphan) => orphan.path));
  for (const orphan of found) {
    const answer = tracking.get(orphan.path);
    if (answer === 'tracked') orphan.gitTracked = true;
    else if (answer === 'unknown') orphan.note ??= 'git could not say whether it tracks this file';
  }
}

/**
 * Walks the roots and yields each orphaned temp as it is found. Never follows symlinks, skips `.git`, excluded paths
 * and (as root) folders other users control, reports unreadable folders through `onError` and goes on. Memory stays
 * bounded by the folder batch.
 */
export async function* walkOrphans(roots: readonly string[], options: ScanOptions = {}): AsyncGenerator<Orphan> {
  const fs = options.fs ?? nodeFs;
  const report = options.onError ?? (() => undefined);
  const custom = compileCustomPatterns(options.extraPatterns);
  const excluded = compileExcluder(options.exclude);
  const uid = process.getuid?.();
  const refuseUnsafe = uid !== undefined && (options.refuseUnsafeFolders ?? uid === 0);
  const now = options.now ?? Date.now();
  const git = new GitTrackedFiles(fs);
  const groupJournals = new Map<string, Promise<string | undefined>>();
  const hasExcludes = (options.exclude?.length ?? 0) > 0;
  const stack: Folder[] = (await resolveRoots(fs, roots, report)).reverse().map((root) => ({ dir: root, relativeDir: '' }));
  let visitedFiles = 0;
  let pending: Promise<(Orphan | undefined)[]> | undefined;
  const settle = function* (orphans: (Orphan | undefined)[]) {
    options.onProgress?.(visitedFiles);
    for (const orphan of orphans) if (orphan) yield orphan;
  };

  while (stack.length > 0) {
    options.signal?.throwIfAborted();
    const batch = stack.splice(Math.max(0, stack.length - FOLDER_BATCH)).reverse();
    const listings = await listBatch(fs, batch, report);
    const candidates: Candidate[] = [];
    let subfolders: Folder[] = [];
    for (const [index, entries] of listings.entries()) {
      if (!entries) continue;
      const { dir, relativeDir } = batch[index]!;
      // Relative paths are only needed to match exclude globs.
      const relativeOf = (name: string) => (relativeDir ? `${relativeDir}/${name}` : name);
      const folderNames: string[] = [];
      const maybeTemps: string[] = [];
      for (const entry of entries) {
        if (entry.isDirectory()) {
          const name = entry.name;
          if (ALWAYS_SKIPPED_FOLDERS.has(name) || (options.skipNodeModules && name === 'node_modules')) continue;
          if (hasExcludes && excluded(relativeOf(name))) continue;
          folderNames.push(name);
        } else if (entry.isFile()) {
          visitedFiles += 1;
          if (custom.length > 0 || mightBeTemp(entry.name)) maybeTemps.push(entry.name);
        }
      }
      if (maybeTemps.length > 0) {
        const siblings = new Set<string>();
        const folders = new Set<string>();
        for (const entry of entries) (entry.isDirectory() ? folders : siblings).add(entry.name);
        for (const name of maybeTemps.sort(byName)) {
          // Lenient first pass (no mtime yet); inspectCandidate re-checks with the real mtime.
          const recognised =
            recogniseGroupFile(name) ?? recogniseTemp(name, siblings, custom, { mtimeMs: Number.POSITIVE_INFINITY });
          if (!recognised) continue;
          if (hasExcludes && excluded(relativeOf(name))) continue;
          candidates.push({ dir, name, siblings, folders });
        }
      }
      for (const name of folderNames.sort(byName)) {
        subfolders.push({ dir: dir.endsWith(sep) ? dir + name : dir + sep + name, relativeDir: hasExcludes ? relativeOf(name) : '' });
      }
    }
    if (refuseUnsafe) subfolders = await safeFolders(fs, subfolders, uid, report);
    // Depth first: the last folder pushed is read next, so the stack stays small.
    for (let i = subfolders.length - 1; i >= 0; i--) stack.push(subfolders[i]!);

    // Inspect this batch's candidates while the next batch of folders is read.
    const judge = new OrphanJudge(fs, (path, error) => report({ path, error }));
    const inspection: Inspection = { fs, now, report, judge, groupJournals };
    const inspected = Promise.all(candidates.map((c) => inspectCandidate(inspection, c, custom))).then(async (found) => {
      await markGitTracked(git, found);
      return found;
    });
    inspected.catch(() => undefined); // awaited below; this only stops an early unhandled-rejection report
    if (pending) yield* settle(await pending);
    pending = inspected;
  }
  if (pending) yield* settle(await pending);
}

async function safeFolders(fs: FsLike, folders: Folder[], uid: number, report: (error: ScanError) => void): Promise<Folder[]> {
  const reasons = await Promise.all(
    folders.map((folder) => unsafeFolderReason(fs, folder.dir, uid).catch((error: unknown) => describeError(error))),
  );
  return folders.filter((folder, index) => {
    const reason = reasons[index];
    if (reason) report({ path: folder.dir, error: `not entered: ${reason}`, skipped: true });
    return !reason;
  });
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
