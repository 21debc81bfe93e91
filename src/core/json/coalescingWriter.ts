import { resolve } from 'node:path';
import { type AtomicWriteOptions, writeFileAtomic } from '../write/atomicWrite';
import { prepareJson, type WriteJsonOptions } from './jsonStore';

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

interface JsonWrite {
  text: string;
  options: AtomicWriteOptions;
}

/** Writers with writes in flight or queued, by absolute target; an idle writer is dropped. */
const jsonWriters = new Map<string, CoalescingWriter<JsonWrite>>();

function jsonWriterFor(target: string): CoalescingWriter<JsonWrite> {
  let writer = jsonWriters.get(target);
  if (!writer) {
    writer = new CoalescingWriter<JsonWrite>((next) => writeFileAtomic(target, next.text, next.options));
    jsonWriters.set(target, writer);
  }
  return writer;
}

/**
 * `writeJson`, coalesced per target: the value is serialised and checked against its schema at once, so each caller
 * hears of its own invalid value; then every caller for the target shares one queue, so a burst costs at most two
 * writes. The newest value's write options apply to the callers it supersedes. The extension API writes through it.
 */
export function writeJsonCoalesced(path: string, value: unknown, options: WriteJsonOptions = {}): Promise<void> {
  const { schema, ...writeOptions } = options;
  let text: string;
  try {
    text = prepareJson(path, value, schema);
  } catch (error) {
    return Promise.reject(error);
  }
  const target = resolve(path);
  const writer = jsonWriterFor(target);
  const written = writer.write({ text, options: writeOptions });
  const forgetIfIdle = () => {
    if (!writer.busy && jsonWriters.get(target) === writer) jsonWriters.delete(target);
  };
  written.then(forgetIfIdle, forgetIfIdle);
  return written;
}

/** Waits for every coalesced JSON write in this process; `deactivate` calls it so closing never drops one. */
export async function flushAllJsonWriters(): Promise<void> {
  await Promise.all([...jsonWriters.values()].map((writer) => writer.flush()));
}
