import { dirname, resolve } from 'node:path';
import { messageOf } from '../errors';
import {
  errnoOf,
  type FileHandleLike,
  type FileIdentity,
  type FolderHandleLike,
  type FsLike,
  fsyncsDirectories,
  identityOf,
  NotReadableError,
  nodeFs,
  RenameRefusedError,
  type RenameRetryOptions,
  renameWithRetry,
  sameFile,
  statThroughLink,
} from '../fs';
import { liveTempPaths, ourTempPath } from '../names/tempNames';
import { type Durability, isDurable } from './durability';
import { ensureDirectory, missingFolders } from './ensureDirectory';
import { learnLocalDisk, provenLocalDisk, statOpenFile, syncAndClose } from './localDisk';
import { processUmask } from './umask';

export type { Durability } from './durability';

export type WriteStep =
  | 'resolve'
  | 'mkdir'
  | 'open'
  | 'write'
  | 'chmod'
  | 'chown'
  | 'fsync'
  | 'close'
  | 'link'
  | 'confirm'
  | 'rename'
  | 'fsync-dir';

export interface AtomicWriteOptions extends RenameRetryOptions {
  durability?: Durability;
  /** Mode for a new target; an existing target keeps its own. Default 0o666 less the umask. */
  mode?: number;
  /** Create missing parent directories (and fsync their parents) instead of failing. */
  createParents?: boolean;
  /**
   * The bytes the caller read the target as (null: it must not exist). Checked right before the rename, through a
   * symlink as the write goes: a target that is no longer that file or content is not written over (step `confirm`,
   * code ECHANGED), so a save made after the caller's read is kept.
   */
  expected?: Uint8Array | null;
  /**
   * Runs after the temp is complete (and durable) and after the `expected` check, right before the rename (again
   * before each retry of a refused rename): the caller's last word on the commit (the lock still held, the file
   * still the one loaded). A throw aborts the
   * write (step `confirm`, code ECANCELED unless the error has one, the callback's error as `cause`): the temp is removed and the target is not touched.
   */
  beforeRename?: () => Promise<void>;
  fs?: FsLike;
}

/**
 * A failed atomic write; no temp file is left behind. The target is unchanged, except after a failed directory
 * fsync that follows the rename: then it holds the new content, which may or may not survive a power loss.
 */
export class AtomicWriteError extends Error {
  override readonly name = 'AtomicWriteError';
  constructor(
    readonly target: string,
    readonly step: WriteStep,
    readonly code: string,
    override readonly cause: unknown,
    /** What the failure left behind, when that is not "nothing changed". */
    note?: string,
  ) {
    super(`Cannot write ${target}: ${step} failed with ${code} (${messageOf(cause)})${note ? `; ${note}` : ''}`);
  }
}

/** An error at `step`, carrying the errno (or `fallbackCode` when the cause has none). */
function stepError(target: string, step: WriteStep, cause: unknown, fallbackCode = 'EIO'): AtomicWriteError {
  if (cause instanceof AtomicWriteError) return cause;
  return new AtomicWriteError(target, step, errnoOf(cause) ?? fallbackCode, cause);
}

async function attempt<T>(target: string, step: WriteStep, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    throw stepError(target, step, error);
  }
}

interface ResolvedTarget {
  /** The real file to replace: a symlinked target is written through, so the link survives. */
  realPath: string;
  existing: { mode: number; uid: number; gid: number; identity: FileIdentity } | undefined;
}

async function resolveTarget(
  target: string,
  fs: FsLike,
  createParents: boolean,
  durable: boolean,
): Promise<ResolvedTarget> {
  const { realPath, stats: existingStats } = await statThroughLink(fs, target).catch((error: unknown) => {
    throw stepError(target, 'resolve', error);
  });
  if (existingStats?.isDirectory()) {
    throw new AtomicWriteError(target, 'resolve', 'EISDIR', new Error('the target is a directory'));
  }
  if (existingStats && !existingStats.isFile()) {
    throw new AtomicWriteError(target, 'resolve', 'EINVAL', new Error('the target is not a regular file'));
  }
  if (!existingStats) await ensureParent(target, fs, createParents, durable);
  return {
    realPath,
    existing: existingStats && {
      mode: existingStats.mode & 0o7777,
      uid: existingStats.uid,
      gid: existingStats.gid,
      identity: identityOf(existingStats),
    },
  };
}

/** Checks the parent exists; with createParents, makes it (and, when durable, fsyncs each new folder's parent). */
async function ensureParent(target: string, fs: FsLike, createParents: boolean, durable: boolean): Promise<void> {
  let missing: string[];
  try {
    missing = await missingFolders(dirname(target), fs);
  } catch (error) {
    if (errnoOf(error) === 'ENOTDIR') throw new AtomicWriteError(target, 'resolve', 'ENOTDIR', error);
    throw stepError(target, 'resolve', error);
  }
  if (missing.length === 0) return;
  if (!createParents) {
    throw new AtomicWriteError(
      target,
      'resolve',
      'ENOENT',
      new Error(`the parent directory ${dirname(target)} does not exist`),
    );
  }
  await attempt(target, 'mkdir', () => ensureDirectory(dirname(target), fs, durable));
}

async function writeAll(handle: FileHandleLike, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset, offset);
    if (bytesWritten <= 0) {
      throw Object.assign(new Error(`short write: ${offset} of ${data.length} bytes written`), { code: 'ENOSPC' });
    }
    offset += bytesWritten;
  }
}

/** The rename into place, retried while refused (see renameWithRetry); a refusal after the retries names `target`. */
async function renameIntoPlace(
  fs: FsLike,
  from: string,
  to: string,
  target: string,
  delays: readonly number[] | undefined,
  beforeEachTry: (() => Promise<void>) | undefined,
): Promise<void> {
  try {
    await renameWithRetry(fs, from, to, delays, beforeEachTry);
  } catch (error) {
    if (!(error instanceof RenameRefusedError)) throw error;
    throw new AtomicWriteError(target, 'rename', error.code, error.cause, `${error.hint}; ${target} is unchanged`);
  }
}

async function removeQuietly(fs: FsLike, path: string): Promise<void> {
  try {
    await fs.unlink(path);
  } catch {
    // Best effort: the original error is the one worth reporting.
  }
}

/**
 * Replaces `targetPath` with `data` so that a crash leaves either the complete old or the complete new content.
 * Sequence: exclusive temp beside the target → write all → fsync → close → rename → fsync the directory.
 * On failure the temp is removed and an AtomicWriteError names path, step and errno; the target is byte-identical
 * unless the directory fsync after the rename failed (see AtomicWriteError).
 */
export function writeFileAtomic(
  targetPath: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  // Writes to one target from this process run in submission order, so the last one submitted wins.
  const key = resolve(targetPath);
  const previous = writesInFlight.get(key);
  const next = () => writeOnce(key, data, options);
  const write = previous ? previous.then(next, next) : next();
  writesInFlight.set(key, write);
  const forget = () => {
    if (writesInFlight.get(key) === write) writesInFlight.delete(key);
  };
  write.then(forget, forget);
  return write;
}

const writesInFlight = new Map<string, Promise<void>>();

async function writeOnce(target: string, data: string | Uint8Array, options: AtomicWriteOptions): Promise<void> {
  const fs = options.fs ?? nodeFs;
  const durable = isDurable(options.durability);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;

  // The temp is created beside the path as given while the target is inspected; the common case then costs
  // no extra round trip. A symlinked target or a missing parent creates it again where it belongs.
  let tempPath = ourTempPath(target);
  let tempMode = modesWritten(fs).get(target) ?? TEMP_MODE;
  const optimisticOpen = openTemp(fs, tempPath, tempMode);
  let resolved: ResolvedTarget;
  try {
    resolved = await resolveTarget(target, fs, options.createParents ?? false, durable);
  } catch (error) {
    await discardTemp(fs, tempPath, await optimisticOpen);
    throw error;
  }
  const { realPath, existing } = resolved;
  const folderPath = dirname(realPath);
  // On a proven local disk file system the temp's fstat and the folder's close are synchronous (localDisk.ts).
  const local = existing !== undefined && provenLocalDisk(fs, folderPath, existing.identity.dev);
  const mode = existing?.mode ?? options.mode ?? 0o666 & ~processUmask();
  const owner = existing && process.getuid?.() === 0 ? { uid: existing.uid, gid: existing.gid } : undefined;
  const ownerIsOurs = owner === undefined || (owner.uid === process.geteuid?.() && owner.gid === process.getegid?.());
  // The folder is opened for its fsync while the temp is written; fsynced after the rename, as fsyncDir would.
  const folder = durable && fsyncsDirectories() && fs.openFolder ? openFolder(fs, folderPath) : undefined;
  let handle: FileHandleLike | undefined;
  try {
    const opened = await optimisticOpen;
    if (opened instanceof Error && realPath === target && errnoOf(opened) !== 'ENOENT') {
      throw stepError(target, 'open', opened);
    }
    const guessTooWide = tempMode !== TEMP_MODE && !fitsBefore(tempMode, mode, ownerIsOurs);
    if (opened instanceof Error || realPath !== target || guessTooWide) {
      await discardTemp(fs, tempPath, opened);
      tempPath = ourTempPath(realPath);
      if (guessTooWide) tempMode = TEMP_MODE;
      const reopened = await openTemp(fs, tempPath, tempMode);
      if (reopened instanceof Error) throw stepError(target, 'open', reopened);
      handle = reopened;
    } else {
      handle = opened;
    }
    const temp = handle;
    await Promise.all([
      attempt(target, 'write', () => writeAll(temp, bytes)),
      giveModeAndOwner(target, temp, tempMode, mode, owner, local),
    ]);
    if (durable) await attempt(target, 'fsync', () => temp.sync());
    handle = undefined;
    // Asynchronous even on a local disk: closing a written file may free preallocated blocks (waits for the journal).
    await attempt(target, 'close', () => temp.close());
    if (options.expected !== undefined)
      await confirmExpected(fs, target, realPath, existing?.identity, options.expected);
    // The target is never held open here: FUSE (libfuse) and NFS turn a rename over an open file into two
    // renames (target → .fuse_hidden*/.nfs*, then temp → target), and a crash between them loses the target.
    const { beforeRename } = options;
    const check = beforeRename && (() => runBeforeRename(target, beforeRename));
    await attempt(target, 'rename', () =>
      renameIntoPlace(fs, tempPath, realPath, target, options.renameRetryDelaysMs, check),
    );
    liveTempPaths.delete(tempPath);
  } catch (error) {
    if (handle) await closeQuietly(handle);
    if (liveTempPaths.delete(tempPath)) await removeQuietly(fs, tempPath);
    if (folder) await closeFolder(await folder);
    throw stepError(target, 'write', error);
  }
  rememberMode(modesWritten(fs), target, ownerIsOurs ? mode : undefined);
  if (durable && fsyncsDirectories()) {
    try {
      const early = await folder;
      if (early instanceof Error || early === undefined) await fs.fsyncDir(folderPath);
      else await syncAndClose(early, local);
    } catch (error) {
      // No rollback: undoing the rename would need the same failing directory fsync to stick.
      const after = existing ? 'may hold the old or the new content' : 'may be missing or hold the new content';
      throw new AtomicWriteError(
        target,
        'fsync-dir',
        errnoOf(error) ?? 'EIO',
        error,
        `the new content is in place but not confirmed durable: after a power loss ${target} ${after}`,
      );
    }
  }
  // Asked after the write, so that no write waits for it: the next ones to this folder may use it.
  if (existing && !local) void learnLocalDisk(fs, folderPath, existing.identity.dev);
}

/**
 * Whether a temp created with `openedWith` shows nobody more than the target will: no bit outside the target's
 * mode, and, while root's temp is not yet chowned to another owner, no group or other bits at all.
 */
function fitsBefore(openedWith: number, mode: number, ownerIsOurs: boolean): boolean {
  return (openedWith & ~mode) === 0 && (ownerIsOurs || (openedWith & 0o077) === 0);
}

/**
 * Gives the temp the target's mode and (as root) owner. With fstat it looks first and changes only what differs
 * (the kernel applied umask, default ACL and setgid folder); without, it predicts from the umask as before.
 * A new owner comes before a wider mode, so the group and others never see the temp under root's group.
 */
async function giveModeAndOwner(
  target: string,
  temp: FileHandleLike,
  openedWith: number,
  mode: number,
  owner: { uid: number; gid: number } | undefined,
  localDisk: boolean,
): Promise<void> {
  // Without an owner to check, fstat only where a remembered mode may already be right: a temp of TEMP_MODE is
  // judged by the umask as before, and a mode with bits the temp was not created with needs the fchmod anyway.
  if (temp.stat && (owner !== undefined || (openedWith !== TEMP_MODE && (mode & ~openedWith) === 0))) {
    const made = await attempt(target, 'chmod', () => statOpenFile(temp, localDisk));
    if (owner && (made.uid !== owner.uid || made.gid !== owner.gid))
      await attempt(target, 'chown', () => temp.chown(owner.uid, owner.gid));
    // A chown by root clears set-user/group-ID bits: set the mode again after it.
    if ((made.mode & 0o7777) !== mode || (owner && (made.uid !== owner.uid || made.gid !== owner.gid)))
      await attempt(target, 'chmod', () => temp.chmod(mode));
    return;
  }
  // open(2) made the temp `openedWith` less the umask: a target of just that mode needs no fchmod.
  const chmodNeeded = (mode & ~openedWith) !== 0 || mode !== (openedWith & ~processUmask());
  await Promise.all([
    chmodNeeded ? attempt(target, 'chmod', () => temp.chmod(mode)) : undefined,
    owner ? attempt(target, 'chown', () => temp.chown(owner.uid, owner.gid)) : undefined,
  ]);
}

/**
 * The mode each recent target was last written with, where the owner was ours: the next temp is created with it,
 * so a repeated write needs no fchmod. A guess only: the target's mode as inspected still decides (fitsBefore).
 */
const modesByFs = new WeakMap<FsLike, Map<string, number>>();
const MODES_REMEMBERED = 1024;

/** Per file system: the same path in another FsLike (a test's fake) is another file. */
function modesWritten(fs: FsLike): Map<string, number> {
  const known = modesByFs.get(fs);
  if (known) return known;
  const modes = new Map<string, number>();
  modesByFs.set(fs, modes);
  return modes;
}

function rememberMode(modes: Map<string, number>, target: string, mode: number | undefined): void {
  modes.delete(target);
  // Only modes that let the owner read and write: a temp is never created read-only (some FUSE and NFS servers
  // check the mode at the first write).
  if (mode === undefined || (mode & TEMP_MODE) !== TEMP_MODE || mode === TEMP_MODE) return;
  modes.set(target, mode);
  if (modes.size > MODES_REMEMBERED) modes.delete(modes.keys().next().value!);
}

async function openFolder(fs: FsLike, path: string): Promise<FolderHandleLike | Error> {
  try {
    return await fs.openFolder!(path);
  } catch (error) {
    // Opened again after the rename by fsyncDir, which reports what still fails.
    return error instanceof Error ? error : new Error(String(error));
  }
}

async function closeFolder(folder: FolderHandleLike | Error): Promise<void> {
  if (folder instanceof Error) return;
  try {
    await folder.close();
  } catch {
    // Already failing; the original error is the one worth reporting.
  }
}

/**
 * The target must still hold `expected` (null: still be absent) and be the file inspected at the start (device,
 * inode, size, mtime: read first, then checked, so a write during the read is caught too).
 */
async function confirmExpected(
  fs: FsLike,
  target: string,
  realPath: string,
  seen: FileIdentity | undefined,
  expected: Uint8Array | null,
): Promise<void> {
  const name = realPath === target ? target : `${target} (${realPath})`;
  const changed = (now: string) =>
    new AtomicWriteError(
      target,
      'confirm',
      'ECHANGED',
      new Error(`${name} changed since it was read: it ${now}`),
      `${target} is unchanged`,
    );
  let bytes: Buffer | undefined;
  try {
    bytes = await fs.readFile(realPath);
  } catch (error) {
    // Not a regular file any more, or grown past the read bound: not what was read either way.
    if (error instanceof NotReadableError)
      throw changed(
        error.code === 'ENOTREG'
          ? 'is not a regular file'
          : 'holds other content than the one the new content was made from',
      );
    if (errnoOf(error) !== 'ENOENT') throw stepError(target, 'confirm', error);
  }
  if (expected === null) {
    if (bytes !== undefined) throw changed('exists, but the new content was made for no file there');
    return;
  }
  if (bytes === undefined) throw changed('is missing');
  if (!bytes.equals(expected)) throw changed('holds other content than the one the new content was made from');
  const now = await attempt(target, 'confirm', () => fs.lstat(realPath));
  if (seen === undefined || !now.isFile() || !sameFile(identityOf(now), seen))
    throw changed('was written again since it was inspected');
}

/** The caller's check before the rename; its refusal becomes a `confirm` failure that leaves the target unchanged. */
async function runBeforeRename(target: string, beforeRename: () => Promise<void>): Promise<void> {
  try {
    await beforeRename();
  } catch (error) {
    throw new AtomicWriteError(target, 'confirm', errnoOf(error) ?? 'ECANCELED', error, `${target} is unchanged`);
  }
}

/** The temp's mode until it is complete: only its owner reads what is not yet the target's. */
const TEMP_MODE = 0o600;

async function openTemp(fs: FsLike, tempPath: string, mode: number): Promise<FileHandleLike | Error> {
  liveTempPaths.add(tempPath);
  try {
    // 'wx' is O_CREAT|O_EXCL: a symlink planted at the temp path is never followed.
    return await fs.open(tempPath, 'wx', mode);
  } catch (error) {
    liveTempPaths.delete(tempPath);
    return error instanceof Error ? error : new Error(String(error));
  }
}

async function discardTemp(fs: FsLike, tempPath: string, opened: FileHandleLike | Error): Promise<void> {
  if (opened instanceof Error) return;
  await closeQuietly(opened);
  liveTempPaths.delete(tempPath);
  await removeQuietly(fs, tempPath);
}

async function closeQuietly(handle: FileHandleLike): Promise<void> {
  try {
    await handle.close();
  } catch {
    // Already failing or finished; there is nothing better to report.
  }
}
