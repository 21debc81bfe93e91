import { isDeepStrictEqual } from 'node:util';
import { errnoOf, type FsLike, nodeFs } from '../fs';
import { commitRefusalIn, type HeldLock, LockLostError, type LockSettings, withFileLock } from './fileLock';

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
   * Persists `next`; called under the lock, only when the batch changed the value. Run `beforeCommit` immediately
   * before the rename that replaces the document (writeFileAtomic's `beforeRename` option): it throws LockLostError
   * once the lock is no longer ours. Throw
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
