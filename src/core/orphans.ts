import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { threadId } from 'node:worker_threads';
import { type ParseError, parse as parseJsonc } from 'jsonc-parser';
import picomatch from 'picomatch';
import { type DirEntryLike, errnoOf, type FsLike, nodeFs } from './fs';
import { locateParseError } from './jsonStore';
import { liveTempPaths } from './tempNames';
import {
  type CustomPattern,
  compileCustomPatterns,
  mightBeTemp,
  type OrphanKind,
  type RecognisedTemp,
  recogniseTemp,
} from './tempPatterns';

export type { CustomPattern, OrphanKind, RecogniseContext, RecognisedTemp } from './tempPatterns';
export { compileCustomPatterns, MIN_UINT32_DIGITS, recogniseTemp } from './tempPatterns';

/** The state of the file an orphan would have replaced. */
export type TargetState = 'ok' | 'missing' | 'empty' | 'corrupt';

/** A temp file a crash (or a writer still at work) left beside its target. Paths are absolute. */
export interface Orphan {
  path: string;
  target: string;
  kind: OrphanKind;
  size: number;
  mtimeMs: number;
  ageMs: number;
  /** Whether the whole temp parses as JSON; null for non-JSON targets or temps over the inspection limit. */
  validJson: boolean | null;
  targetState: TargetState;
}

/** A folder or file the walk could not read; the walk went on without it. */
export interface ScanError {
  path: string;
  error: string;
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
  /** Called for each unreadable folder or file; scanOrphans collects these into `errors`. */
  onError?: (error: ScanError) => void;
  signal?: AbortSignal;
}

export interface ScanResult {
  orphans: Orphan[];
  errors: ScanError[];
}

/** Temps and targets larger than this are not parsed: validJson is null and a non-empty target counts as ok. */
export const MAX_INSPECT_BYTES = 8 * 1024 * 1024;
/** Folders read at once; enough to keep libuv's thread pool busy without holding many listings in memory. */
const FOLDER_BATCH = 32;
/** A temp of ours whose writer is alive and that was touched this recently is being written right now. */
export const LIVE_WRITER_WINDOW_MS = 10 * 60_000;
const ALWAYS_SKIPPED_FOLDERS = new Set(['.git']);

/** Targets whose temps and content are checked as JSON (comments and trailing commas allowed, as VS Code writes). */
export function isJsonTarget(target: string): boolean {
  return /\.(json|jsonc|code-workspace)$/i.test(target);
}

export type JsonDocumentCheck = { ok: true; value: unknown } | { ok: false; empty: boolean; reason: string };

/** Parses a whole document as JSON, falling back to JSONC (comments, trailing commas) for VS Code's own files. */
export function checkJsonDocument(text: string): JsonDocumentCheck {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (body.trim().length === 0) return { ok: false, empty: true, reason: 'it is empty' };
  try {
    return { ok: true, value: JSON.parse(body) };
  } catch {
    const errors: ParseError[] = [];
    const value: unknown = parseJsonc(body, errors, { allowTrailingComma: true, allowEmptyContent: false });
    if (errors.length === 0) return { ok: true, value };
    const position = locateParseError(body);
    return {
      ok: false,
      empty: false,
      reason: `not valid JSON: ${position.message} at line ${position.line}, column ${position.column}`,
    };
  }
}

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
async function listFolder(fs: FsLike, dir: string): Promise<DirEntryLike[]> {
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

function compileExcluder(globs: readonly string[] | undefined): (relativePath: string) => boolean {
  if (!globs || globs.length === 0) return () => false;
  const byName = globs.filter((g) => !g.includes('/'));
  const byPath = globs.filter((g) => g.includes('/'));
  const matchName = byName.length > 0 ? picomatch(byName, { dot: true }) : () => false;
  const matchPath = byPath.length > 0 ? picomatch(byPath, { dot: true }) : () => false;
  return (relativePath) => matchPath(relativePath) || matchName(relativePath.slice(relativePath.lastIndexOf('/') + 1));
}

/** Resolves roots to real absolute folders, dropping any root inside another so nothing is visited twice. */
async function resolveRoots(
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

interface Inspector {
  fs: FsLike;
  now: number;
  report: (error: ScanError) => void;
  targetStates: Map<string, Promise<TargetState>>;
}

/** Reads a file for inspection unless it is over the limit; undefined when too large or unreadable. */
async function readBounded(inspector: Inspector, path: string, size: number): Promise<string | undefined> {
  if (size > MAX_INSPECT_BYTES) return undefined;
  try {
    return (await inspector.fs.readFile(path)).toString('utf8');
  } catch (error) {
    inspector.report({ path, error: describeError(error) });
    return undefined;
  }
}

/** ok, missing, empty, or (for JSON targets) corrupt. An unreadable or huge target reads as ok. */
async function inspectTarget(inspector: Inspector, target: string): Promise<TargetState> {
  let size: number;
  try {
    const stats = await inspector.fs.stat(target);
    if (!stats.isFile()) return 'missing';
    size = stats.size;
  } catch (error) {
    if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR') return 'missing';
    inspector.report({ path: target, error: describeError(error) });
    return 'ok';
  }
  if (size === 0) return 'empty';
  if (!isJsonTarget(target)) return 'ok';
  const text = await readBounded(inspector, target, size);
  if (text === undefined) return 'ok';
  const check = checkJsonDocument(text);
  if (check.ok) return 'ok';
  return check.empty ? 'empty' : 'corrupt';
}

function targetStateOf(inspector: Inspector, target: string): Promise<TargetState> {
  let state = inspector.targetStates.get(target);
  if (!state) {
    state = inspectTarget(inspector, target);
    inspector.targetStates.set(target, state);
  }
  return state;
}

async function validJsonOf(inspector: Inspector, path: string, target: string, size: number): Promise<boolean | null> {
  if (!isJsonTarget(target)) return null;
  const text = await readBounded(inspector, path, size);
  return text === undefined ? null : checkJsonDocument(text).ok;
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

/** lstat, re-recognise with the real mtime, and describe one candidate; undefined if it is not an orphan after all. */
async function inspectCandidate(
  inspector: Inspector,
  candidate: Candidate,
  custom: readonly CustomPattern[],
): Promise<Orphan | undefined> {
  const path = join(candidate.dir, candidate.name);
  let stats: Awaited<ReturnType<FsLike['lstat']>>;
  try {
    stats = await inspector.fs.lstat(path);
  } catch (error) {
    if (errnoOf(error) !== 'ENOENT') inspector.report({ path, error: describeError(error) });
    return undefined;
  }
  if (!stats.isFile()) return undefined;
  const recognised = recogniseTemp(candidate.name, candidate.siblings, custom, {
    mtimeMs: stats.mtimeMs,
    now: inspector.now,
  });
  if (!recognised || candidate.folders.has(recognised.target)) return undefined;
  const target = join(candidate.dir, recognised.target);
  const [validJson, targetState] = await Promise.all([
    validJsonOf(inspector, path, target, stats.size),
    targetStateOf(inspector, target),
  ]);
  return {
    path,
    target,
    kind: recognised.kind,
    size: stats.size,
    mtimeMs: stats.mtimeMs,
    ageMs: Math.max(0, inspector.now - stats.mtimeMs),
    validJson,
    targetState,
  };
}

/**
 * Walks the roots and yields each orphaned temp as it is found. Never follows symlinks, skips `.git` and excluded
 * paths, reports unreadable folders through `onError` and goes on. Memory stays bounded by the folder batch.
 */
export async function* walkOrphans(roots: readonly string[], options: ScanOptions = {}): AsyncGenerator<Orphan> {
  const fs = options.fs ?? nodeFs;
  const report = options.onError ?? (() => undefined);
  const custom = compileCustomPatterns(options.extraPatterns);
  const excluded = compileExcluder(options.exclude);
  const inspector: Inspector = { fs, now: options.now ?? Date.now(), report, targetStates: new Map() };
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
    const subfolders: Folder[] = [];
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
          if (!recogniseTemp(name, siblings, custom, { mtimeMs: Number.POSITIVE_INFINITY })) continue;
          if (hasExcludes && excluded(relativeOf(name))) continue;
          candidates.push({ dir, name, siblings, folders });
        }
      }
      for (const name of folderNames.sort(byName)) {
        subfolders.push({ dir: dir.endsWith(sep) ? dir + name : dir + sep + name, relativeDir: hasExcludes ? relativeOf(name) : '' });
      }
    }
    // Depth first: the last folder pushed is read next, so the stack stays small.
    for (let i = subfolders.length - 1; i >= 0; i--) stack.push(subfolders[i]!);

    // Inspect this batch's candidates while the next batch of folders is read.
    const batchInspector: Inspector = { ...inspector, targetStates: new Map() };
    const inspected = Promise.all(candidates.map((c) => inspectCandidate(batchInspector, c, custom)));
    inspected.catch(() => undefined); // awaited below; this only stops an early unhandled-rejection report
    if (pending) yield* settle(await pending);
    pending = inspected;
  }
  if (pending) yield* settle(await pending);
}

/** Scans the roots and collects every orphan and every unreadable path. */
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

export interface SweepOptions {
  /** Only orphans at least this old (by mtime, re-read at sweep time) are removed. */
  olderThanMs: number;
  /** Report what would be removed; touch nothing. */
  dryRun?: boolean;
  /** Nothing outside these folders is removed. */
  roots: readonly string[];
  /** How to remove a file (the extension passes a move-to-trash); default unlink through `fs`. */
  remove?: (path: string) => Promise<void>;
  signal?: AbortSignal;
  onProgress?: (processed: number, total: number) => void;
  fs?: FsLike;
  now?: number;
  /** The same user patterns the scan used, so custom orphans are re-recognised. */
  extraPatterns?: string[];
  /** Also remove valid temps whose target is missing, empty or corrupt (default: keep them for `recover`). */
  includeRecoverable?: boolean;
}

export interface SweepResult {
  removed: string[];
  kept: { path: string; reason: string }[];
  failed: { path: string; error: string }[];
}

/** True when a process with this pid exists (EPERM means it exists but belongs to someone else). */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoOf(error) === 'EPERM';
  }
}

/** Why a temp of ours must stay because its writer may still be using it; undefined if it may go. */
export function liveWriterReason(path: string, recognised: RecognisedTemp, ageMs: number): string | undefined {
  if (liveTempPaths.has(path)) return 'this process is writing it right now';
  if (recognised.kind !== 'crash-safe' || recognised.pid === undefined) return undefined;
  // Our own pid and thread: liveTempPaths is exact, so a temp missing from it is from a dead process that had our pid.
  if (recognised.pid === process.pid && recognised.threadId === threadId) return undefined;
  if (ageMs < LIVE_WRITER_WINDOW_MS && isProcessAlive(recognised.pid)) {
    return `its writer (pid ${recognised.pid}) is still running and touched it ${formatAge(ageMs)} ago`;
  }
  return undefined;
}

/** A short human age: 45 s, 12 min, 3 h, 2 d. */
export function formatAge(ms: number): string {
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 86_400_000) return `${Math.round(ms / 3_600_000)} h`;
  return `${Math.round(ms / 86_400_000)} d`;
}

type Verdict = { remove: true } | { remove: false; reason: string } | { failed: string };

/**
 * Removes recognised orphans older than the threshold. Every orphan is re-checked at sweep time: still a regular
 * file inside a root and not under a symlink, unchanged since the scan, still recognised, not held by a live writer,
 * old enough, and not the only valid copy of a broken target. Per-file errors are collected and the sweep goes on.
 */
export async function sweepOrphans(orphans: readonly Orphan[], options: SweepOptions): Promise<SweepResult> {
  const fs = options.fs ?? nodeFs;
  const now = options.now ?? Date.now();
  const custom = compileCustomPatterns(options.extraPatterns);
  const remove = options.remove ?? ((path: string) => fs.unlink(path));
  const ignoreErrors = () => undefined;
  const roots = await resolveRoots(fs, options.roots, ignoreErrors);
  const inspector: Inspector = { fs, now, report: ignoreErrors, targetStates: new Map() };
  const listings = new Map<string, Promise<{ siblings: Set<string>; folders: Set<string> }>>();
  const result: SweepResult = { removed: [], kept: [], failed: [] };

  const listingOf = (dir: string) => {
    let listing = listings.get(dir);
    if (!listing) {
      listing = listFolder(fs, dir).then((entries) => ({
        siblings: new Set(entries.filter((e) => !e.isDirectory()).map((e) => e.name)),
        folders: new Set(entries.filter((e) => e.isDirectory()).map((e) => e.name)),
      }));
      listings.set(dir, listing);
    }
    return listing;
  };

  const judge = async (orphan: Orphan): Promise<Verdict> => {
    const path = orphan.path;
    const dir = dirname(path);
    if (!isAbsolute(path) || resolve(path) !== path || !roots.some((root) => path !== root && isInside(path, root))) {
      return { remove: false, reason: 'outside the roots' };
    }
    try {
      if ((await fs.realpath(dir)) !== dir) return { remove: false, reason: 'reached through a symlink' };
    } catch (error) {
      return { failed: describeError(error) };
    }
    let stats: Awaited<ReturnType<FsLike['lstat']>>;
    try {
      stats = await fs.lstat(path);
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return { remove: false, reason: 'already gone' };
      return { failed: describeError(error) };
    }
    if (!stats.isFile()) return { remove: false, reason: 'not a regular file' };
    if (stats.mtimeMs !== orphan.mtimeMs || stats.size !== orphan.size) {
      return { remove: false, reason: 'changed since the scan (still being written?)' };
    }
    let listing: { siblings: Set<string>; folders: Set<string> };
    try {
      listing = await listingOf(dir);
    } catch (error) {
      return { failed: describeError(error) };
    }
    const recognised = recogniseTemp(basename(path), listing.siblings, custom, { mtimeMs: stats.mtimeMs, now });
    if (!recognised || join(dir, recognised.target) !== orphan.target || listing.folders.has(recognised.target)) {
      return { remove: false, reason: 'not recognised as a temp file' };
    }
    const ageMs = Math.max(0, now - stats.mtimeMs);
    const live = liveWriterReason(path, recognised, ageMs);
    if (live) return { remove: false, reason: live };
    if (ageMs < options.olderThanMs) {
      return { remove: false, reason: `younger than ${formatAge(options.olderThanMs)} (${formatAge(ageMs)} old)` };
    }
    if (!options.includeRecoverable) {
      const targetState = await targetStateOf(inspector, orphan.target);
      if (targetState !== 'ok' && (await validJsonOf(inspector, path, orphan.target, stats.size)) === true) {
        return {
          remove: false,
          reason: `the target is ${targetState} and this is a valid copy; run \`crash-safe recover ${orphan.target}\` first`,
        };
      }
    }
    return { remove: true };
  };

  for (const [index, orphan] of orphans.entries()) {
    options.signal?.throwIfAborted();
    const verdict = await judge(orphan);
    if ('failed' in verdict) result.failed.push({ path: orphan.path, error: verdict.failed });
    else if (!verdict.remove) result.kept.push({ path: orphan.path, reason: verdict.reason });
    else if (options.dryRun) result.removed.push(orphan.path);
    else {
      try {
        await remove(orphan.path);
        result.removed.push(orphan.path);
      } catch (error) {
        result.failed.push({ path: orphan.path, error: describeError(error) });
      }
    }
    options.onProgress?.(index + 1, orphans.length);
  }
  return result;
}
