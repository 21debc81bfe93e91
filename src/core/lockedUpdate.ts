import { randomBytes } from 'node:crypto';
import * as callbackFs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import * as properLockfile from 'proper-lockfile';
import { errnoOf, type FsLike, nodeFs } from './fs';

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

/** The lock directory proper-lockfile uses for `target`. */
export function lockPathFor(target: string): string {
  return `${resolve(target)}.lock`;
}

/** The file inside the lock directory that names its holder. */
export const LOCK_OWNER_FILE = 'owner.json';

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

/** Who holds a lock: written into the lock directory before the lock counts as held. */
export interface LockOwner {
  pid: number;
  hostname: string;
  /** Linux: the pid namespace (`pid:[…]`); pids are only comparable within one. */
  pidNamespace?: string;
  /** Linux: the process start time, field 22 of /proc/<pid>/stat, so a reused pid is told apart. */
  startTicks?: number;
  /** Unique per acquisition: tells our record from a successor's. */
  token: string;
  acquiredAt: string;
}

interface ProcStat {
  state: string;
  startTicks: number;
}

/** Parses /proc/<pid>/stat; the name (field 2) may hold spaces and parentheses, so fields are counted after its last `)`. */
function parseProcStat(text: string): ProcStat | undefined {
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const startTicks = Number(fields[22 - 3]);
  return state && Number.isSafeInteger(startTicks) ? { state, startTicks } : undefined;
}

function readProcSync<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined; // No /proc (macOS, Windows): pids are checked with kill(pid, 0) alone.
  }
}

let thisProcess: Omit<LockOwner, 'token' | 'acquiredAt'> | undefined;

function thisProcessIdentity(): Omit<LockOwner, 'token' | 'acquiredAt'> {
  thisProcess ??= {
    pid: process.pid,
    hostname: hostname(),
    pidNamespace: readProcSync(() => callbackFs.readlinkSync('/proc/self/ns/pid')),
    startTicks: readProcSync(() => parseProcStat(callbackFs.readFileSync('/proc/self/stat', 'utf8'))?.startTicks),
  };
  return thisProcess;
}

/** The owner record this process writes for an acquisition identified by `token`. */
export function ownerRecordFor(token: string): LockOwner {
  return { ...thisProcessIdentity(), token, acquiredAt: new Date().toISOString() };
}

function isLockOwner(value: unknown): value is LockOwner {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Partial<Record<keyof LockOwner, unknown>>;
  return (
    typeof record.pid === 'number' &&
    Number.isSafeInteger(record.pid) &&
    record.pid > 0 &&
    typeof record.hostname === 'string' &&
    typeof record.token === 'string' &&
    (record.pidNamespace === undefined || typeof record.pidNamespace === 'string') &&
    (record.startTicks === undefined || typeof record.startTicks === 'number')
  );
}

/** The owner record in a lock directory, or undefined when it is missing, partly written or not ours to parse. */
export async function readLockOwner(lockDir: string): Promise<LockOwner | undefined> {
  try {
    const parsed: unknown = JSON.parse(await fsp.readFile(join(lockDir, LOCK_OWNER_FILE), 'utf8'));
    return isLockOwner(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** True when `owner`'s pids are comparable with ours: same host and pid namespace. */
function onThisMachine(owner: LockOwner): boolean {
  const self = thisProcessIdentity();
  return owner.hostname === self.hostname && owner.pidNamespace === self.pidNamespace;
}

/** Whether the process an owner record names (on this machine) still runs. Unsure means alive. */
async function holderIsAlive(owner: LockOwner): Promise<boolean> {
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if (errnoOf(error) === 'ESRCH') return false;
    // EPERM: it exists, under another user.
  }
  let stat: ProcStat | undefined;
  try {
    stat = parseProcStat(await fsp.readFile(`/proc/${owner.pid}/stat`, 'utf8'));
  } catch {
    return true; // No /proc, or hidden (hidepid): existence is all we can tell.
  }
  if (!stat) return true;
  if (stat.state === 'Z' || stat.state === 'X') return false; // Killed, not yet reaped by its parent.
  return owner.startTicks === undefined || stat.startTicks === owner.startTicks;
}

function describeOwner(owner: LockOwner): string {
  return `pid ${owner.pid} on host ${owner.hostname}`;
}

type LockVerdict = { state: 'free' } | { state: 'held'; holder: string } | { state: 'abandoned'; holder: string };

/**
 * Decides whether a lock directory may be taken over. A holder on this machine: only once it has exited (pid gone,
 * or reused, as its start time shows). A holder elsewhere, or a directory without a readable owner record (just
 * created, or left by a writer killed before recording itself): only once not refreshed for `staleMs`.
 */
async function judgeLock(lockDir: string, staleMs: number): Promise<LockVerdict> {
  let mtimeMs: number;
  try {
    mtimeMs = (await fsp.stat(lockDir)).mtimeMs;
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return { state: 'free' };
    throw error;
  }
  const owner = await readLockOwner(lockDir);
  if (owner && onThisMachine(owner)) {
    return (await holderIsAlive(owner))
      ? { state: 'held', holder: describeOwner(owner) }
      : { state: 'abandoned', holder: describeOwner(owner) };
  }
  const holder = owner ? describeOwner(owner) : 'a process that left no owner record';
  return mtimeMs < Date.now() - staleMs ? { state: 'abandoned', holder } : { state: 'held', holder };
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

/**
 * Identifies the file at `path` for compare-before-rename: device, inode, size, mtime and ctime, or `absent`.
 * A replace by rename changes the inode, an in-place edit the size or the times.
 */
export async function fileRevision(path: string, fs: FsLike = nodeFs): Promise<string> {
  try {
    const stats = await fs.stat(path);
    return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}`;
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return 'absent';
    throw error;
  }
}

/** Options for a LockedDocument: how to load and save the value under the lock. */
export interface LockedDocumentOptions<D> {
  /** The document file; its lock is `<target>.lock`. */
  target: string;
  /** Reads the current value; called under the lock. Throw to refuse the whole batch (for example a corrupt file). */
  load(): Promise<D>;
  /**
   * Persists `next`; called under the lock, only when the batch changed the value. Call `beforeCommit` immediately
   * before the rename that replaces the document: it throws LockLostError once the lock is no longer ours. Throw
   * DocumentChangedError when the file is no longer the one `previous` was loaded from. Either way, write nothing:
   * the batch is then loaded and applied again.
   */
  save(next: D, previous: D, beforeCommit: () => Promise<void>): Promise<void>;
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

/** Up to this many attempts when the lock is lost or the document changed before the commit; nothing was written in between. */
const REFUSED_COMMIT_ATTEMPTS = 3;

/**
 * A document updated by read-modify-write under a cross-process lock, with in-process batching:
 * mutations queued while a batch waits for the lock (or is saving) are applied together under one lock
 * acquisition and cost one save. Each caller settles once the save that carried its mutation is durable and the
 * lock is released; a mutation that throws rejects alone and changes nothing.
 */
export class LockedDocument<D> {
  private pending: QueuedMutation<D>[] = [];
  private draining: Promise<void> | undefined;
  private counters = { batches: 0, saves: 0 };

  constructor(private readonly options: LockedDocumentOptions<D>) {}

  /** Applies `mutate` to a draft of the current value (synchronously, possibly again after a refused commit) and saves. */
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
        const settle = await withFileLock(
          this.options.target,
          async (lock) => {
            // Taken only now, so everything queued while we waited for the lock shares this one save.
            batch = [...batch, ...this.pending.splice(0)];
            this.counters.batches += 1;
            return this.applyBatch(batch, lock, attempt < REFUSED_COMMIT_ATTEMPTS);
          },
          this.options.lock,
        );
        // Settled only now: a caller that exits once its edit resolves leaves no lock behind.
        if (settle) {
          settle();
          return;
        }
      }
    } catch (error) {
      // Before the lock was ours nothing was taken from the queue: everyone waiting shares the failure.
      const failing = batch.length > 0 ? batch : this.pending.splice(0);
      for (const entry of failing) entry.reject(error);
    }
  }

  /**
   * Returns what settles the batch's callers, or undefined when the commit was refused (lock lost, document
   * changed) and the batch should run again.
   */
  private async applyBatch(
    batch: QueuedMutation<D>[],
    lock: HeldLock,
    mayRetry: boolean,
  ): Promise<(() => void) | undefined> {
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
        if (mayRetry && error instanceof LockLostError) return undefined;
        throw error;
      }
      try {
        await this.options.save(current, loaded, () => lock.assertHeld());
        this.counters.saves += 1;
      } catch (error) {
        const refusal = commitRefusalIn(error);
        if (mayRetry && refusal) return undefined;
        saveError = refusal ?? error ?? new Error('save failed');
      }
    }
    batch.length = 0;
    return () => {
      for (const { entry, error } of failed) entry.reject(error);
      for (const { entry, result } of applied) {
        if (saveError === undefined) entry.resolve(result);
        else entry.reject(saveError);
      }
    };
  }
}
