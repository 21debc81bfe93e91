import { resolve } from 'node:path';
import { type WriteJsonOptions, writeJson } from './jsonStore';

interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Serialises writes to one target. While a write is in flight only the newest pending value is kept,
 * so a burst costs at most two writes. Each caller settles when its value or a newer one is durable,
 * or rejects with the error of the write that carried it.
 */
export class CoalescingWriter<T> {
  private pending: { value: T; waiters: Waiter[] } | undefined;
  private writing = false;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly writeValue: (value: T) => Promise<void>) {}

  write(value: T): Promise<void> {
    return new Promise<void>((resolveWrite, rejectWrite) => {
      const waiter = { resolve: resolveWrite, reject: rejectWrite };
      if (this.pending) {
        this.pending.value = value;
        this.pending.waiters.push(waiter);
      } else {
        this.pending = { value, waiters: [waiter] };
      }
      this.pump();
    });
  }

  /** True while a write is in flight or queued. */
  get busy(): boolean {
    return this.writing || this.pending !== undefined;
  }

  /** Resolves once every queued write has settled (successfully or not). */
  flush(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolveIdle) => this.idleWaiters.push(resolveIdle));
  }

  private pump(): void {
    if (this.writing) return;
    const batch = this.pending;
    if (!batch) {
      const idle = this.idleWaiters;
      this.idleWaiters = [];
      for (const notify of idle) notify();
      return;
    }
    this.pending = undefined;
    this.writing = true;
    this.writeValue(batch.value).then(
      () => this.settle(batch.waiters, undefined),
      (error: unknown) => this.settle(batch.waiters, error ?? new Error('write failed')),
    );
  }

  private settle(waiters: Waiter[], error: unknown): void {
    this.writing = false;
    for (const waiter of waiters) {
      if (error === undefined) waiter.resolve();
      else waiter.reject(error);
    }
    this.pump();
  }
}

const jsonWriters = new Map<string, CoalescingWriter<unknown>>();

/** The process-wide coalescing JSON writer for `path`; all callers for one target share its queue. */
export function jsonWriterFor(path: string, options: WriteJsonOptions = {}): CoalescingWriter<unknown> {
  const key = resolve(path);
  let writer = jsonWriters.get(key);
  if (!writer) {
    const frozen = { ...options };
    writer = new CoalescingWriter<unknown>((value) => writeJson(key, value, frozen));
    jsonWriters.set(key, writer);
  }
  return writer;
}

/** Waits for every coalescing JSON writer in this process; `deactivate` and the CLI call it before exiting. */
export async function flushAllJsonWriters(): Promise<void> {
  await Promise.all([...jsonWriters.values()].map((writer) => writer.flush()));
}
