import { randomBytes } from 'node:crypto';
import * as callbackFs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import * as properLockfile from 'proper-lockfile';
import { errnoOf } from './fs';
import { isLockOwner, judgeLock, LOCK_OWNER_FILE, ownerRecordFor, readLockOwner } from './lockOwner';
import { lockNameFor } from './tempNames';

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
 * Contended waiters poll every 5–200 ms; after 30 s they give up.
 */
export const DEFAULT_LOCK_SETTINGS: Readonly<LockSettings> = Object.freeze({
  staleMs: 10_000,
  updateMs: 2_000,
  acquireTimeoutMs: 30_000,
  retryMinMs: 5,
  retryMaxMs: 200,
});

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
    /** Who held it when we gave up, e.g. `pid 4242 on host build-7`. */
    readonly holder = 'another process',
  ) {
    super(
      `Cannot lock ${lockPath}: ${holder} held it for the whole ${Math.round(waitedMs / 1000)} s wait. ` +
        'A lock whose holder has exited is taken over automatically; if that process is stopped or hung, end it.',
    );
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

/**
 * Takes over an abandoned lock (see judgeLock); throws ELOCKED while it is held. The directory is renamed to a
 * unique name first, so only one contender can claim it: proper-lockfile 4.1.2's rmdir lets a late contender remove
 * the lock another one has just re-created, and both then hold it (node-proper-lockfile#121). A claimed directory
 * that is not abandoned after all was just re-created by a contender: it is handed back and we wait like everyone else.
 */
export async function takeOverStaleLock(lockPath: string, staleMs: number): Promise<void> {
  const verdict = await judgeLock(lockPath, staleMs);
  if (verdict.state === 'free') return;
  if (verdict.state === 'held') throw lockedError(lockPath);
  const claimed = `${lockPath}.reclaim-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await fsp.rename(lockPath, claimed);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return; // Someone else took it over; mkdir decides between us.
    throw error;
  }
  if ((await judgeLock(claimed, staleMs)).state !== 'held') {
    await fsp.rm(claimed, { recursive: true, force: true });
    return;
  }
  try {
    await fsp.rename(claimed, lockPath);
  } catch {
    // A newer lock is in place. If the one we claimed had a holder, its owner check before writing now fails.
    await fsp.rm(claimed, { recursive: true, force: true });
  }
  throw lockedError(lockPath);
}

/**
 * Writes our owner record into the lock directory we just made. O_EXCL makes the record the arbiter: if a takeover
 * swapped the directory under us, at most one of the processes that made one can record itself in what is there.
 */
async function recordOwner(lockPath: string, token: string): Promise<void> {
  try {
    await fsp.writeFile(join(lockPath, LOCK_OWNER_FILE), JSON.stringify(ownerRecordFor(token)), { flag: 'wx' });
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'EEXIST' || code === 'ENOENT') {
      throw Object.assign(new Error(`${lockPath} was claimed by another process`), { code: 'EEXIST' });
    }
    // Left empty, our directory would block everyone for staleMs.
    await fsp.rmdir(lockPath).catch(() => undefined);
    throw error;
  }
}

/** Removes the lock directory if it still holds our record; a lock taken over from us is someone else's now. */
async function removeOwnLock(lockPath: string, token: string): Promise<void> {
  if ((await readLockOwner(lockPath))?.token !== token) return;
  await fsp.rm(join(lockPath, LOCK_OWNER_FILE), { force: true });
  await fsp.rmdir(lockPath).catch((error: unknown) => {
    if (errnoOf(error) !== 'ENOENT') throw error;
  });
}

function removeOwnLockSync(lockPath: string, token: string): void {
  try {
    const owner: unknown = JSON.parse(callbackFs.readFileSync(join(lockPath, LOCK_OWNER_FILE), 'utf8'));
    if (!isLockOwner(owner) || owner.token !== token) return;
    callbackFs.rmSync(join(lockPath, LOCK_OWNER_FILE), { force: true });
    callbackFs.rmdirSync(lockPath);
  } catch {
    // At exit, best effort: a lock left behind by an exited holder is taken over at once.
  }
}

/**
 * The callback-style fs proper-lockfile needs: mkdir also records us as owner before the lock counts as held, and
 * rmdir (release, and proper-lockfile's own stale removal) removes the lock only if it is ours. Takeover decisions
 * are withFileLock's, through takeOverStaleLock.
 */
function lockFs(lockPath: string, token: string) {
  return {
    stat: callbackFs.stat,
    utimes: callbackFs.utimes,
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
        recordOwner(lockPath, token).then(
          () => callback(null),
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
      removeOwnLock(lockPath, token).then(
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
): Promise<T> {
  const resolved = resolveLockSettings(settings);
  const file = resolve(target);
  const lockPath = lockPathFor(file);
  const token = randomBytes(8).toString('hex');
  let compromised: Error | undefined;
  const options: properLockfile.LockOptions = {
    stale: resolved.staleMs,
    update: resolved.updateMs,
    realpath: false,
    lockfilePath: lockPath,
    retries: 0,
    fs: lockFs(lockPath, token),
    onCompromised: (error) => {
      // proper-lockfile's default throws from a timer, killing the process; we refuse the write instead.
      compromised = error;
    },
  };

  const started = Date.now();
  let delay = resolved.retryMinMs;
  let release: () => Promise<void>;
  for (;;) {
    try {
      release = await properLockfile.lock(file, options);
      break;
    } catch (error) {
      if (errnoOf(error) !== 'ELOCKED') throw error;
    }
    const waited = Date.now() - started;
    if (waited >= resolved.acquireTimeoutMs) {
      const verdict = await judgeLock(lockPath, resolved.staleMs).catch(() => undefined);
      throw new LockTimeoutError(lockPath, waited, verdict && verdict.state !== 'free' ? verdict.holder : undefined);
    }
    try {
      await takeOverStaleLock(lockPath, resolved.staleMs);
      continue; // Free or taken over: try again at once.
    } catch (error) {
      if (errnoOf(error) !== 'ELOCKED') throw error;
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
      if ((await readLockOwner(lockPath))?.token !== token) {
        const present = await fsp.stat(lockPath).then(
          () => true,
          () => false,
        );
        throw new LockLostError(lockPath, present ? 'another process took the lock over' : 'the lock directory is gone');
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
