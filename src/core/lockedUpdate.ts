import { randomBytes } from 'node:crypto';
import * as callbackFs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import * as properLockfile from 'proper-lockfile';
import { errnoOf, type FsLike, nodeFs } from './fs';

/**
 * Cross-process lock parameters. The lock is proper-lockfile's: a directory `<target>.lock` whose mtime the
 * holder refreshes every `updateMs`; a lock not refreshed for `staleMs` belongs to a dead (or frozen) holder.
 */
export interface LockSettings {
  /** A lock older than this is stale and taken over. proper-lockfile enforces at least 2000 ms. */
  staleMs: number;
  /** How often the holder refreshes the lock; proper-lockfile clamps it to [1000, staleMs / 2]. */
  updateMs: number;
  /** Give up with LockTimeoutError after waiting this long; longer than staleMs so a stale lock is always recovered first. */
  acquireTimeoutMs: number;
  /** First backoff between attempts; it grows by half each attempt, with jitter, up to retryMaxMs. */
  retryMinMs: number;
  retryMaxMs: number;
}

/**
 * 10 s stale tolerates an event loop frozen for several seconds (a busy extension host) without a false takeover,
 * and still recovers from a kill -9 within 10 s. Contended waiters poll every 5–200 ms; after 30 s they give up.
 */
export const DEFAULT_LOCK_SETTINGS: Readonly<LockSettings> = Object.freeze({
  staleMs: 10_000,
  updateMs: 2_000,
  acquireTimeoutMs: 30_000,
  retryMinMs: 5,
  retryMaxMs: 200,
});

/** The lock directory proper-lockfile uses for `target`. */
export function lockPathFor(target: string): string {
  return `${resolve(target)}.lock`;
}

/** The lock stayed busy for the whole wait. Nothing was read or written. */
export class LockTimeoutError extends Error {
  override readonly name = 'LockTimeoutError';
  constructor(
    readonly lockPath: string,
    readonly waitedMs: number,
  ) {
    super(
      `Cannot lock ${lockPath}: another process held it for ${Math.round(waitedMs / 1000)} s. ` +
        'If no other VS Code window or crash-safe command is running, the lock is removed automatically once it is stale.',
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

/** A lock this process holds. */
export interface HeldLock {
  readonly lockPath: string;
  /** Throws LockLostError unless the lock directory is still the one we created and proper-lockfile still refreshes it. */
  assertHeld(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolveSleep) => setTimeout(resolveSleep, ms));

/** An ELOCKED error as proper-lockfile makes them, so its retry path treats ours the same. */
function lockedError(lockPath: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`Lock file is already being held: ${lockPath}`), { code: 'ELOCKED' });
}

/**
 * Takes over a stale lock by renaming it to a unique name first, so only one contender can claim it.
 * proper-lockfile 4.1.2 removes a stale lock with rmdir, which lets a late contender remove the lock another one
 * has just re-created — and both then hold it (node-proper-lockfile#121). A claimed directory that is not stale
 * after all was just re-created by a contender: it is handed back and we wait like everyone else.
 */
export async function takeOverStaleLock(lockPath: string, staleMs: number): Promise<void> {
  const claimed = `${lockPath}.reclaim-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await fsp.rename(lockPath, claimed);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return; // Someone else took it over; mkdir decides between us.
    throw error;
  }
  const stats = await fsp.stat(claimed);
  if (stats.mtimeMs < Date.now() - staleMs) {
    await fsp.rm(claimed, { recursive: true, force: true });
    return;
  }
  try {
    await fsp.rename(claimed, lockPath);
  } catch {
    await fsp.rm(claimed, { recursive: true, force: true });
  }
  throw lockedError(lockPath);
}

interface LockFsState {
  releasing: boolean;
  /** The identity of the lock directory we created; release removes only that one. */
  identity?: string;
}

/** The callback-style fs proper-lockfile needs, with rmdir replaced by the rename-based takeover (plain rmdir on release). */
function lockFs(lockPath: string, staleMs: number, state: LockFsState) {
  return {
    mkdir: callbackFs.mkdir,
    stat: callbackFs.stat,
    utimes: callbackFs.utimes,
    realpath: callbackFs.realpath,
    rmdirSync: callbackFs.rmdirSync,
    rmdir(path: string, callback: (error: NodeJS.ErrnoException | null) => void): void {
      if (resolve(path) !== lockPath) {
        callbackFs.rmdir(path, callback);
        return;
      }
      if (state.releasing) {
        // A lock taken over from us is someone else's now: leave it in place.
        lockIdentity(lockPath).then(
          (identity) => (identity === state.identity ? callbackFs.rmdir(path, callback) : callback(null)),
          () => callback(null),
        );
        return;
      }
      takeOverStaleLock(lockPath, staleMs).then(
        () => callback(null),
        (error: NodeJS.ErrnoException) => callback(error),
      );
    },
  };
}

/**
 * Which directory sits at `lockPath`: device, inode and birth time in nanoseconds. File systems reuse a freed
 * inode at once, so a lock removed and re-created by someone else often has our inode; its birth time differs.
 */
async function lockIdentity(lockPath: string): Promise<string> {
  const stats = await fsp.stat(lockPath, { bigint: true });
  return `${stats.dev}:${stats.ino}:${stats.birthtimeNs}`;
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
 * The target's directory must exist. Waits with backoff up to acquireTimeoutMs, taking over a stale lock
 * (holder killed) once it is staleMs old. The lock is released when `action` settles, even if it throws.
 */
export async function withFileLock<T>(
  target: string,
  action: (lock: HeldLock) => Promise<T>,
  settings: Partial<LockSettings> = {},
): Promise<T> {
  const resolved = resolveLockSettings(settings);
  const file = resolve(target);
  const lockPath = lockPathFor(file);
  const state: LockFsState = { releasing: false };
  let compromised: Error | undefined;
  const options: properLockfile.LockOptions = {
    stale: resolved.staleMs,
    update: resolved.updateMs,
    realpath: false,
    retries: 0,
    fs: lockFs(lockPath, resolved.staleMs, state),
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
      const waited = Date.now() - started;
      if (waited >= resolved.acquireTimeoutMs) throw new LockTimeoutError(lockPath, waited);
      await sleep(Math.min(delay * (1 + Math.random()), resolved.retryMaxMs));
      delay = Math.min(delay * 1.5, resolved.retryMaxMs);
    }
  }

  const ours = await lockIdentity(lockPath).catch(() => undefined);
  state.identity = ours;
  const held: HeldLock = {
    lockPath,
    async assertHeld() {
      if (compromised) throw new LockLostError(lockPath, compromised.message);
      if (!ours) throw new LockLostError(lockPath, 'the lock directory vanished right after it was created');
      let now: string;
      try {
        now = await lockIdentity(lockPath);
      } catch (error) {
        throw new LockLostError(lockPath, `the lock directory is gone (${errnoOf(error) ?? String(error)})`);
      }
      if (now !== ours) throw new LockLostError(lockPath, 'another process took the lock over');
    },
  };
  try {
    return await action(held);
  } finally {
    state.releasing = true;
    try {
      await release();
    } catch {
      // ERELEASED after a takeover: the lock is no longer ours to remove, and the action's outcome stands.
    }
  }
}

/**
 * Creates `directory` and any missing parents; with `durable`, fsyncs the parent of each new directory
 * so the new entries survive a power cut (as the atomic writer does for a target's parents).
 */
export async function ensureDirectory(directory: string, fs: FsLike = nodeFs, durable = true): Promise<void> {
  const target = resolve(directory);
  const missing: string[] = [];
  for (let dir = target; ; dir = dirname(dir)) {
    try {
      const stats = await fs.stat(dir);
      if (!stats.isDirectory()) {
        throw Object.assign(new Error(`${dir} is not a directory`), { code: 'ENOTDIR', path: dir });
      }
      break;
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT' || dirname(dir) === dir) throw error;
      missing.push(dir);
    }
  }
  if (missing.length === 0) return;
  await fs.mkdir(target, { recursive: true });
  if (durable && process.platform !== 'win32') {
    for (const dir of missing.reverse()) await fs.fsyncDir(dirname(dir));
  }
}

/** Options for a LockedDocument: how to load and save the value under the lock. */
export interface LockedDocumentOptions<D> {
  /** The document file; its lock is `<target>.lock`. */
  target: string;
  /** Reads the current value; called under the lock. Throw to refuse the whole batch (for example a corrupt file). */
  load(): Promise<D>;
  /** Persists `next`; called under the lock, only when the batch changed the value. */
  save(next: D, previous: D): Promise<void>;
  /** Runs before each lock acquisition, for example to create the document's directory. */
  prepare?(): Promise<void>;
  lock?: Partial<LockSettings>;
  /** Copies a value so a throwing mutation leaves no trace. Default: structuredClone. */
  clone?(value: D): D;
}

interface QueuedMutation<D> {
  mutate: (draft: D) => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** Up to this many fresh attempts when the lock is lost before the save; nothing was written in between. */
const LOST_LOCK_ATTEMPTS = 3;

/**
 * A document updated by read-modify-write under a cross-process lock, with in-process batching:
 * mutations queued while a batch waits for the lock (or is saving) are applied together under one lock
 * acquisition and cost one save. Each caller settles when the save that carried its mutation is durable;
 * a mutation that throws rejects alone and changes nothing.
 */
export class LockedDocument<D> {
  private pending: QueuedMutation<D>[] = [];
  private draining: Promise<void> | undefined;
  private counters = { batches: 0, saves: 0 };

  constructor(private readonly options: LockedDocumentOptions<D>) {}

  /** Applies `mutate` to a draft of the current value (synchronously, possibly again after a lost lock) and saves. */
  update<R>(mutate: (draft: D) => R): Promise<R> {
    return new Promise<R>((resolveUpdate, rejectUpdate) => {
      this.pending.push({ mutate, resolve: resolveUpdate as (value: unknown) => void, reject: rejectUpdate });
      this.draining ??= this.drain();
    });
  }

  /** Resolves once every queued mutation has settled. */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  /** How many lock-holding batches ran and how many of them saved. */
  get stats(): { batches: number; saves: number } {
    return { ...this.counters };
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0) await this.runBatch();
    } finally {
      this.draining = undefined;
    }
  }

  private async runBatch(): Promise<void> {
    let batch: QueuedMutation<D>[] = [];
    try {
      await this.options.prepare?.();
      for (let attempt = 1; ; attempt++) {
        const retry = await withFileLock(
          this.options.target,
          async (lock) => {
            // Taken only now, so everything queued while we waited for the lock shares this one save.
            batch = [...batch, ...this.pending.splice(0)];
            this.counters.batches += 1;
            return this.applyBatch(batch, lock, attempt < LOST_LOCK_ATTEMPTS);
          },
          this.options.lock,
        );
        if (!retry) return;
      }
    } catch (error) {
      // Before the lock was ours nothing was taken from the queue: everyone waiting shares the failure.
      const failing = batch.length > 0 ? batch : this.pending.splice(0);
      for (const entry of failing) entry.reject(error);
    }
  }

  /** Returns true when the lock was lost before saving and the batch should run again. */
  private async applyBatch(batch: QueuedMutation<D>[], lock: HeldLock, mayRetry: boolean): Promise<boolean> {
    const clone = this.options.clone ?? ((value: D): D => structuredClone(value));
    const loaded: D = await this.options.load();
    let current = loaded;
    const applied: Array<{ entry: QueuedMutation<D>; result: unknown }> = [];
    const failed: Array<{ entry: QueuedMutation<D>; error: unknown }> = [];
    for (const entry of batch) {
      const draft = clone(current);
      try {
        const result = entry.mutate(draft);
        current = draft;
        applied.push({ entry, result });
      } catch (error) {
        failed.push({ entry, error });
      }
    }
    let saveError: unknown;
    if (applied.length > 0 && !isDeepStrictEqual(current, loaded)) {
      try {
        await lock.assertHeld();
      } catch (error) {
        if (mayRetry && error instanceof LockLostError) return true;
        throw error;
      }
      try {
        await this.options.save(current, loaded);
        this.counters.saves += 1;
      } catch (error) {
        saveError = error ?? new Error('save failed');
      }
    }
    batch.length = 0;
    for (const { entry, error } of failed) entry.reject(error);
    for (const { entry, result } of applied) {
      if (saveError === undefined) entry.resolve(result);
      else entry.reject(saveError);
    }
    return false;
  }
}
