import type { Stats } from 'node:fs';
import * as callbackFs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import * as properLockfile from 'proper-lockfile';
import {
  confirmEntryUnchanged,
  errnoOf,
  FileChangedError,
  type FileIdentity,
  identityOf,
  nodeFs,
  sameFile,
  sameNode,
} from '../fs';
import { lockNameFor, nextNonce } from '../names/tempNames';
import {
  describeLockPathContent,
  inspectLockPath,
  judgeLock,
  LOCK_OWNER_FILE,
  type LockFolder,
  type LockVerdict,
  ownerRecordFor,
  readLockOwner,
  readLockOwnerSync,
} from './lockOwner';

/**
 * Cross-process lock parameters. The lock is proper-lockfile's directory `<target>.lock`, whose mtime the holder
 * refreshes every `updateMs`, plus an owner record inside it naming the holder (pid, host, process start time).
 */
export interface LockSettings {
  /**
   * A lock not refreshed for this long is taken over, but only when its holder cannot be checked: it runs on
   * another host, or the lock has no readable owner record. A holder on this host is taken over once it has exited,
   * at once, and never while it runs. proper-lockfile enforces at least 2000 ms.
   */
  staleMs: number;
  /** How often the holder refreshes the lock; proper-lockfile clamps it to [1000, staleMs / 2]. */
  updateMs: number;
  /** Give up with LockTimeoutError after waiting this long. */
  acquireTimeoutMs: number;
  /** First backoff between attempts; it grows by half each attempt, with jitter, up to retryMaxMs. */
  retryMinMs: number;
  retryMaxMs: number;
}

/**
 * 10 s stale tolerates a remote holder whose event loop freezes for several seconds without a false takeover.
 * Contended waiters poll every 5–200 ms; after 30 s without the lock changing hands they give up (at most 120 s while
 * it keeps changing hands: writers are making progress).
 */
export const DEFAULT_LOCK_SETTINGS: Readonly<LockSettings> = Object.freeze({
  staleMs: 10_000,
  updateMs: 2_000,
  acquireTimeoutMs: 30_000,
  retryMinMs: 5,
  retryMaxMs: 200,
});

/** A wait on a lock that keeps changing hands may run this many times acquireTimeoutMs before it gives up. */
const CONTENDED_WAIT_FACTOR = 4;

/** The lock directory for `target` (proper-lockfile's lockfilePath): `<target>.lock`, shortened for long names (lockNameFor). */
export function lockPathFor(target: string): string {
  const file = resolve(target);
  return join(dirname(file), lockNameFor(basename(file)));
}

/** The lock stayed busy for the whole wait. Nothing was read or written. */
export class LockTimeoutError extends Error {
  override readonly name = 'LockTimeoutError';
  constructor(
    readonly lockPath: string,
    readonly waitedMs: number,
    /**
     * The one process that held it for the whole wait, e.g. `pid 4242 on host build-7`; undefined when none was
     * named, or when it changed hands during the wait (then no single process is to blame).
     */
    readonly holder?: string,
    /** Without a holder: what was at the lock path instead, or who held it last. */
    found?: string,
  ) {
    const waited = `${Math.round(waitedMs / 1000)} s`;
    super(
      holder
        ? `Cannot lock ${lockPath}: ${holder} held it for the whole ${waited} wait. ` +
            'A lock whose holder has exited is taken over automatically; if that process is stopped or hung, end it.'
        : `Cannot lock ${lockPath}: it stayed busy for the whole ${waited} wait, and no process holding it could be ` +
            `identified: ${found ?? 'it was gone at each look (writers taking turns); try again'}.`,
    );
  }
}

/** A wait that ran out while other writers took the lock in turn: contention, no hung process. */
class LockContendedError extends LockTimeoutError {
  constructor(lockPath: string, waitedMs: number, holders: number, lastHolder: string) {
    super(lockPath, waitedMs);
    this.message =
      `Cannot lock ${lockPath}: it stayed busy for the whole ${Math.round(waitedMs / 1000)} s wait, held in turn by at ` +
      `least ${holders} writers (last ${lastHolder}). Nothing was written; it is in heavy use, not stuck: try again.`;
  }
}

/**
 * What is at the lock path cannot be judged: not a lock this tool makes (a symlink, a file, a folder holding other
 * files), or a lock folder whose age and owner both tell nothing. It is never taken over; the message says what it is.
 */
export class LockUnjudgeableError extends Error {
  override readonly name = 'LockUnjudgeableError';
  constructor(
    readonly lockPath: string,
    /** What is there, e.g. `a symbolic link to "/gone", which leads nowhere (dangling)`. */
    readonly found: string,
    advice: string,
    waitedMs?: number,
  ) {
    const waited = waitedMs === undefined ? '' : ` (unchanged for the whole ${Math.round(waitedMs / 1000)} s wait)`;
    super(`Cannot lock ${lockPath}: it is ${found}${waited}. ${advice}`);
  }
}

/** The lock was taken over (or removed) while we held it; the write it guarded was not made. */
export class LockLostError extends Error {
  override readonly name = 'LockLostError';
  constructor(
    readonly lockPath: string,
    readonly reason: string,
  ) {
    super(`Lost the lock ${lockPath} before writing: ${reason}`);
  }
}

/** The document changed on disk after it was loaded (a writer that ignores the lock); nothing was written over it. */
export class DocumentChangedError extends Error {
  override readonly name = 'DocumentChangedError';
  constructor(readonly path: string) {
    super(`${path} changed on disk after it was read, by a writer that did not take the lock; it was not overwritten`);
  }
}

/** The LockLostError or DocumentChangedError behind `error` (writers wrap them), if any: the save wrote nothing. */
export function commitRefusalIn(error: unknown): LockLostError | DocumentChangedError | undefined {
  for (let cause = error, depth = 0; cause instanceof Error && depth < 8; cause = cause.cause, depth++) {
    if (cause instanceof LockLostError || cause instanceof DocumentChangedError) return cause;
  }
  return undefined;
}

/** A lock this process holds. */
export interface HeldLock {
  readonly lockPath: string;
  /**
   * Throws LockLostError unless the lock directory still holds our owner record and proper-lockfile has not
   * reported it compromised. Call it immediately before the rename that commits a write.
   */
  assertHeld(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolveSleep) => setTimeout(resolveSleep, ms));

/** An ELOCKED error as proper-lockfile makes them, so its retry path treats ours the same. */
function lockedError(lockPath: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`Lock file is already being held: ${lockPath}`), { code: 'ELOCKED' });
}

/** An ELOCKED error carrying the verdict behind it, so the final error can say what held the lock. */
function heldError(lockPath: string, verdict: LockVerdict): NodeJS.ErrnoException & { verdict: LockVerdict } {
  return Object.assign(lockedError(lockPath), { verdict });
}

function verdictIn(error: unknown): LockVerdict | undefined {
  return typeof error === 'object' && error !== null && 'verdict' in error
    ? (error as { verdict: LockVerdict }).verdict
    : undefined;
}

/**
 * Removes a lock folder only while it is still the one judged: same folder, same owner.json (or none), nothing else
 * inside. owner.json goes through a handle on the folder, so a swap for a symlink cannot redirect the unlink.
 * Returns false, with nothing removed, when it is not.
 */
async function removeLockFolder(path: string, judged: LockFolder): Promise<boolean> {
  const content = await inspectLockPath(path);
  if (content.kind !== 'folder' || !sameNode(content.lock.folder, judged.folder)) return false;
  const { ownerFile } = content.lock;
  if ((ownerFile === undefined) !== (judged.ownerFile === undefined)) return false;
  if (ownerFile && judged.ownerFile) {
    if (!sameFile(ownerFile, judged.ownerFile)) return false;
    await nodeFs.unlinkChecked!(path, LOCK_OWNER_FILE, content.lock.folder, ownerFile);
  }
  await fsp.rmdir(path); // ENOTEMPTY if something was put inside meanwhile: then it is not ours to remove.
  return true;
}

/**
 * Takes over an abandoned lock (see judgeLock) and returns the verdict; throws ELOCKED while it is held or cannot be
 * judged yet, and LockUnjudgeableError for something that is not a lock. The folder is renamed to a unique name
 * first, so only one contender can claim it: proper-lockfile 4.1.2's rmdir lets a late contender remove the lock
 * another one has just re-created, and both then hold it (node-proper-lockfile#121). A claimed folder that is not
 * the abandoned one judged was just re-created by a contender: it is handed back and we wait like everyone else.
 * Takers go one at a time, through `<lock>.takeover` (made with mkdir, holding the taker's owner record), and judge
 * the lock again inside it. Nothing but a lock folder (owner.json alone) is ever removed.
 */
export async function takeOverStaleLock(lockPath: string, staleMs: number): Promise<LockVerdict> {
  const seen = abandonedOrThrow(lockPath, await judgeLock(lockPath, staleMs));
  if (seen.state === 'free') return seen;
  // One taker at a time: without this, a late taker could rename away the lock an earlier taker had just re-created
  // (judged abandoned a moment before) and hand it back too late, so a live holder lost its lock.
  const section = `${lockPath}${TAKEOVER_SUFFIX}`;
  const token = nextNonce() + nextNonce();
  if (!(await enterTakeover(section, staleMs, token))) throw heldError(lockPath, seen);
  try {
    // Inside, nobody else removes the lock folder, and its dead holder never will: what is judged now is what we claim.
    const verdict = abandonedOrThrow(lockPath, await judgeLock(lockPath, staleMs));
    if (verdict.state === 'free') return verdict;
    return await claimAbandoned(lockPath, staleMs, verdict);
  } finally {
    await removeOwnLock(section, token).catch(() => undefined);
  }
}

/** The folder beside a lock that a taker holds while it takes the lock over (fits: see LOCK_RECLAIM_RESERVE). */
const TAKEOVER_SUFFIX = '.takeover';

function abandonedOrThrow(
  lockPath: string,
  verdict: LockVerdict,
): Extract<LockVerdict, { state: 'free' | 'abandoned' }> {
  if (verdict.state === 'free' || verdict.state === 'abandoned') return verdict;
  if (verdict.state === 'foreign') throw new LockUnjudgeableError(lockPath, verdict.found, verdict.advice);
  throw heldError(lockPath, verdict);
}

/**
 * Makes the takeover folder with our owner record; false while another taker is inside. One that died inside is
 * judged like a lock (its owner record, else its age) and removed when abandoned, for the next try.
 */
async function enterTakeover(section: string, staleMs: number, token: string): Promise<boolean> {
  try {
    await fsp.mkdir(section);
  } catch (error) {
    if (errnoOf(error) !== 'EEXIST') throw error;
    const other = await judgeLock(section, staleMs).catch(() => undefined);
    if (other?.state === 'abandoned') await removeLockFolder(section, other.lock).catch(() => false);
    return false;
  }
  return recordOwner(section, token).then(
    () => true,
    () => false,
  );
}

/** Claims the abandoned lock folder by renaming it to a unique name, checks it is the one judged, and removes it. */
async function claimAbandoned(
  lockPath: string,
  staleMs: number,
  verdict: Extract<LockVerdict, { state: 'abandoned' }>,
): Promise<LockVerdict> {
  const claimed = `${lockPath}.reclaim-${process.pid}-${nextNonce()}`;
  try {
    await fsp.rename(lockPath, claimed);
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'ENOENT') return { state: 'free' }; // Someone else took it over; mkdir decides between us.
    if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOTDIR') throw heldError(lockPath, verdict); // Replaced.
    throw error;
  }
  const again = await judgeLock(claimed, staleMs).catch(() => undefined);
  const unchanged =
    again?.state === 'abandoned' &&
    sameNode(again.lock.folder, verdict.lock.folder) &&
    again.lock.owner?.token === verdict.lock.owner?.token;
  if (unchanged && (await removeLockFolder(claimed, again.lock).catch(() => false))) return verdict;
  try {
    await fsp.rename(claimed, lockPath);
  } catch {
    // A newer lock is in place. If the one we claimed had a holder, its owner check before writing now fails.
    // Only a lock folder goes; anything else stays, under the claimed name.
    const left = await inspectLockPath(claimed).catch(() => undefined);
    if (left?.kind === 'folder') await removeLockFolder(claimed, left.lock).catch(() => false);
  }
  throw heldError(lockPath, again && again.state !== 'free' ? again : verdict);
}

/** The lock folder we made and the owner record we wrote in it, as they were right after: what release re-checks. */
interface RecordedOwner {
  /** The folder's lstat once the record was in it; it also answers proper-lockfile's own stat of the new lock. */
  folder: Stats;
  ownerFile: FileIdentity;
}

const openFd = promisify(callbackFs.open);
const writeFd = promisify(callbackFs.write);
const fstatFd = promisify(callbackFs.fstat);
const closeFd = promisify(callbackFs.close);

/**
 * Writes our owner record into the lock directory we just made. O_EXCL makes the record the arbiter: if a takeover
 * swapped the directory under us, at most one of the processes that made one can record itself in what is there.
 * `localDisk`: the folder is proven on a local disk file system, so the record's fstat is synchronous (localDisk.ts).
 */
async function recordOwner(lockPath: string, token: string, localDisk = false): Promise<RecordedOwner | undefined> {
  try {
    const fd = await openFd(join(lockPath, LOCK_OWNER_FILE), 'wx');
    let closing: Promise<void> | undefined;
    const close = () => {
      closing ??= closeFd(fd);
      return closing;
    };
    try {
      const record = Buffer.from(JSON.stringify(ownerRecordFor(token)));
      for (let at = 0; at < record.length; ) at += (await writeFd(fd, record, at)).bytesWritten;
      const ownerFile = localDisk ? callbackFs.fstatSync(fd) : await fstatFd(fd);
      // The folder's mtime is final once the record exists (writing it changes the file, not the folder), so it is
      // looked at while the record closes. Unknown (undefined) when it cannot be seen: release then reads the record.
      const [folder] = await Promise.all([fsp.lstat(lockPath).catch(() => undefined), close()]);
      return folder && { folder, ownerFile: identityOf(ownerFile) };
    } finally {
      await close().catch(() => undefined);
    }
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'EEXIST' || code === 'ENOENT') {
      throw Object.assign(new Error(`${lockPath} was replaced before our owner record was written`), {
        code: 'EEXIST',
      });
    }
    // Left empty, our directory would block everyone for staleMs.
    await fsp.rmdir(lockPath).catch(() => undefined);
    throw error;
  }
}

/**
 * Whether the lock folder is still the one we made, holding the owner record we wrote, unchanged (device, inode, size,
 * mtime, looked at through the folder held open): then it is ours, without listing the folder and reading the record
 * again. False (and the record is read) when anything differs or cannot be seen.
 */
async function stillAsMade(
  lockPath: string,
  recorded: RecordedOwner | undefined,
  localDisk: boolean,
): Promise<boolean> {
  if (!recorded) return false;
  return confirmEntryUnchanged(lockPath, LOCK_OWNER_FILE, recorded.folder, recorded.ownerFile, { localDisk }).then(
    () => true,
    () => false,
  );
}

/**
 * Removes the lock directory if it still holds our record; a lock taken over from us is someone else's now. With
 * `recorded`, the very folder and owner file we made (device, inode, size, mtime) are removed through a handle on the
 * folder without listing it or reading the record again; anything else there is judged by its record, as without.
 */
async function removeOwnLock(
  lockPath: string,
  token: string,
  recorded?: RecordedOwner,
  localDisk = false,
): Promise<void> {
  const unlinked =
    recorded &&
    (await nodeFs.unlinkChecked!(lockPath, LOCK_OWNER_FILE, recorded.folder, recorded.ownerFile, { localDisk }).then(
      () => true,
      (error: unknown) => {
        if (error instanceof FileChangedError || errnoOf(error) === 'ENOENT') return false;
        throw error;
      },
    ));
  if (!unlinked) {
    const content = await inspectLockPath(lockPath);
    if (content.kind !== 'folder' || content.lock.owner?.token !== token || !content.lock.ownerFile) return;
    await nodeFs.unlinkChecked!(lockPath, LOCK_OWNER_FILE, content.lock.folder, content.lock.ownerFile);
  }
  await fsp.rmdir(lockPath).catch((error: unknown) => {
    if (errnoOf(error) !== 'ENOENT') throw error;
  });
}

function removeOwnLockSync(lockPath: string, token: string): void {
  try {
    if (readLockOwnerSync(lockPath)?.token !== token) return;
    callbackFs.rmSync(join(lockPath, LOCK_OWNER_FILE), { force: true });
    callbackFs.rmdirSync(lockPath);
  } catch {
    // At exit, best effort: a lock left behind by an exited holder is taken over at once.
  }
}

/** proper-lockfile's mtime precision probe result, per folder holding locks (its file system's precision). */
const mtimePrecisions = new Map<string, PropertyDescriptor>();
const PRECISIONS_REMEMBERED = 256;

/**
 * proper-lockfile probes the mtime precision of a new lock (a utimes and a stat, each a journalled metadata change on
 * most file systems) once per fs object and keeps the answer on that object under a private symbol. Our fs object is
 * made per acquisition, so the answer is kept per folder here instead: the next lock in that folder skips the utimes.
 */
function rememberingMtimePrecision<T extends object>(fs: T, folder: string): T {
  return new Proxy(fs, {
    defineProperty(target, key, descriptor) {
      if (typeof key !== 'symbol') return Reflect.defineProperty(target, key, descriptor);
      mtimePrecisions.delete(folder);
      mtimePrecisions.set(folder, descriptor);
      if (mtimePrecisions.size > PRECISIONS_REMEMBERED) mtimePrecisions.delete(mtimePrecisions.keys().next().value!);
      return true;
    },
    get(target, key, receiver) {
      if (typeof key === 'symbol' && !(key in target)) return mtimePrecisions.get(folder)?.value;
      return Reflect.get(target, key, receiver);
    },
  });
}

/**
 * The callback-style fs proper-lockfile needs: mkdir also records us as owner before the lock counts as held, and
 * rmdir (release, and proper-lockfile's own stale removal) removes the lock only if it is ours. Takeover decisions
 * are withFileLock's, through takeOverStaleLock.
 */
function lockFs(lockPath: string, token: string, localDisk: boolean, made: { recorded?: RecordedOwner }) {
  /** The new lock's lstat, for proper-lockfile's stat right after mkdir; a utimes makes it old. */
  let justMade: Stats | undefined;
  return {
    // lstat: a symlink at the lock path is judged as what it is, never by what it points to.
    stat(path: string, callback: (error: NodeJS.ErrnoException | null, stats: Stats) => void): void {
      const answer = resolve(path) === lockPath ? justMade : undefined;
      justMade = undefined;
      if (answer) process.nextTick(callback, null, answer);
      else callbackFs.lstat(path, callback);
    },
    utimes(path: string, atime: Date, mtime: Date, callback: (error: NodeJS.ErrnoException | null) => void): void {
      justMade = undefined;
      callbackFs.utimes(path, atime, mtime, callback);
    },
    realpath: callbackFs.realpath,
    mkdir(path: string, callback: (error: NodeJS.ErrnoException | null) => void): void {
      if (resolve(path) !== lockPath) {
        callbackFs.mkdir(path, callback);
        return;
      }
      callbackFs.mkdir(path, (error) => {
        if (error) {
          callback(error);
          return;
        }
        recordOwner(lockPath, token, localDisk).then(
          (recorded) => {
            made.recorded = recorded;
            justMade = recorded?.folder;
            callback(null);
          },
          (recordError: NodeJS.ErrnoException) => callback(recordError),
        );
      });
    },
    rmdir(path: string, callback: (error: NodeJS.ErrnoException | null) => void): void {
      if (resolve(path) !== lockPath) {
        callbackFs.rmdir(path, callback);
        return;
      }
      // Not ours: proper-lockfile then finds the lock still there (ELOCKED) or, on release, leaves it alone.
      removeOwnLock(lockPath, token, made.recorded, localDisk).then(
        () => callback(null),
        (error: NodeJS.ErrnoException) => callback(error),
      );
    },
    rmdirSync(path: string): void {
      if (resolve(path) === lockPath) removeOwnLockSync(lockPath, token);
      else callbackFs.rmdirSync(path);
    },
  };
}

/**
 * The error for a wait that ran out, naming what held the lock as precisely as it is known. `holdersSeen`: the
 * acquisitions seen holding it during the wait; more than one means it changed hands, and no process is to blame.
 */
function busyError(lockPath: string, waitedMs: number, verdict: LockVerdict | undefined, holdersSeen: number): Error {
  switch (verdict?.state) {
    case 'undecidable':
    case 'foreign':
      return new LockUnjudgeableError(lockPath, verdict.found, verdict.advice, waitedMs);
    case 'held':
      if (holdersSeen > 1) return new LockContendedError(lockPath, waitedMs, holdersSeen, verdict.holder);
      return verdict.identified
        ? new LockTimeoutError(lockPath, waitedMs, verdict.holder)
        : new LockTimeoutError(lockPath, waitedMs, undefined, `it is ${verdict.holder}`);
    default:
      return new LockTimeoutError(lockPath, waitedMs);
  }
}

/** Normalises partial settings, applying proper-lockfile's own clamps so our checks agree with its. */
export function resolveLockSettings(settings: Partial<LockSettings> = {}): LockSettings {
  const merged = { ...DEFAULT_LOCK_SETTINGS, ...settings };
  const staleMs = Math.max(merged.staleMs, 2000);
  return {
    ...merged,
    staleMs,
    updateMs: Math.max(Math.min(merged.updateMs, staleMs / 2), 1000),
    retryMaxMs: Math.max(merged.retryMaxMs, merged.retryMinMs),
  };
}

/** What the caller knows about the lock's folder. */
export interface LockPlace {
  /**
   * Proven on a local disk file system (write/localDisk.ts): the owner record's fstat, and the folder's fstat and close
   * at the holder's check and at release, are synchronous, as the write path's are.
   */
  localDisk?: boolean;
}

/**
 * Runs `action` while holding the cross-process lock for `target` (the directory `<target>.lock`).
 * The target's directory must exist. Waits with backoff up to acquireTimeoutMs; a lock whose holder on this machine
 * has exited is taken over at once, one held from another host or without an owner record once staleMs old.
 * The lock is released when `action` settles, even if it throws.
 */
export async function withFileLock<T>(
  target: string,
  action: (lock: HeldLock) => Promise<T>,
  settings: Partial<LockSettings> = {},
  where: LockPlace = {},
): Promise<T> {
  const resolved = resolveLockSettings(settings);
  const file = resolve(target);
  const lockPath = lockPathFor(file);
  const token = nextNonce() + nextNonce();
  let compromised: Error | undefined;
  const localDisk = where.localDisk === true;
  const made: { recorded?: RecordedOwner } = {};
  const options: properLockfile.LockOptions = {
    stale: resolved.staleMs,
    update: resolved.updateMs,
    realpath: false,
    lockfilePath: lockPath,
    retries: 0,
    fs: rememberingMtimePrecision(lockFs(lockPath, token, localDisk, made), dirname(lockPath)),
    onCompromised: (error) => {
      // proper-lockfile's default throws from a timer, killing the process; we refuse the write instead.
      compromised = error;
    },
  };

  const started = Date.now();
  let delay = resolved.retryMinMs;
  let release: () => Promise<void>;
  let lastSeen: LockVerdict | undefined;
  const holdersSeen = new Set<string>();
  // While the lock keeps changing hands the writers are making progress: the wait runs until acquireTimeoutMs after
  // the last change (at most CONTENDED_WAIT_FACTOR times as long in all), and polls quickly again after each change,
  // so a waiter that lost many turns is not also the slowest to look.
  let lastChange = started;
  const note = (verdict: LockVerdict | undefined): void => {
    if (verdict?.state !== 'held' || verdict.token === undefined || holdersSeen.has(verdict.token)) return;
    if (holdersSeen.size > 0) {
      lastChange = Date.now();
      delay = resolved.retryMinMs;
    }
    holdersSeen.add(verdict.token);
  };
  for (;;) {
    try {
      release = await properLockfile.lock(file, options);
      break;
    } catch (error) {
      if (errnoOf(error) !== 'ELOCKED') throw error;
    }
    const now = Date.now();
    const waited = now - started;
    const stillMoving = now - lastChange < resolved.acquireTimeoutMs;
    if (
      waited >= resolved.acquireTimeoutMs &&
      (!stillMoving || waited >= resolved.acquireTimeoutMs * CONTENDED_WAIT_FACTOR)
    ) {
      const verdict = await judgeLock(lockPath, resolved.staleMs).catch(() => undefined);
      note(verdict);
      throw busyError(lockPath, waited, verdict && verdict.state !== 'free' ? verdict : lastSeen, holdersSeen.size);
    }
    try {
      await takeOverStaleLock(lockPath, resolved.staleMs);
      continue; // Free or taken over: try again at once.
    } catch (error) {
      if (errnoOf(error) !== 'ELOCKED') throw error;
      lastSeen = verdictIn(error) ?? lastSeen;
      note(verdictIn(error));
    }
    await sleep(Math.min(delay * (1 + Math.random()), resolved.retryMaxMs));
    delay = Math.min(delay * 1.5, resolved.retryMaxMs);
  }

  const throwIfCompromised = (): void => {
    if (compromised) throw new LockLostError(lockPath, compromised.message);
  };
  const held: HeldLock = {
    lockPath,
    async assertHeld() {
      throwIfCompromised();
      if (
        !(await stillAsMade(lockPath, made.recorded, localDisk)) &&
        (await readLockOwner(lockPath))?.token !== token
      ) {
        const now = await inspectLockPath(lockPath).catch(() => undefined);
        throw new LockLostError(
          lockPath,
          now?.kind === 'missing'
            ? 'the lock folder is gone'
            : `the lock was taken over; it is now ${now ? describeLockPathContent(now) : 'unreadable'}`,
        );
      }
      throwIfCompromised(); // proper-lockfile may have reported it while we read.
    },
  };
  try {
    return await action(held);
  } finally {
    let released = true;
    try {
      await release();
    } catch {
      released = false; // ERELEASED after proper-lockfile reported the lock compromised.
    }
    // A compromised lock is no longer refreshed but may still carry our record, which would block our next attempt.
    if (!released || compromised) await removeOwnLock(lockPath, token).catch(() => undefined);
  }
}
