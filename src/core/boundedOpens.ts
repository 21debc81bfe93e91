import { errnoOf } from './fs';

/**
 * Files this process holds open at once through `withOpenFiles` (judging temps and targets, listing folders): far
 * below the smallest usual soft limit (256 on macOS, 1,024 on Linux), so other code keeps room for its own.
 */
export const MAX_OPEN_FILES = 64;

/** Candidates inspected at once by a walk: bounds the pending work (and memory), not only the open files. */
export const INSPECTIONS_AT_ONCE = MAX_OPEN_FILES;

/** Backoff while descriptors are exhausted (EMFILE, ENFILE): about 3.3 s in all, then DescriptorsExhaustedError. */
export const DESCRIPTOR_RETRY_DELAYS_MS: readonly number[] = [10, 20, 40, 80, 160, 320, 640, 1000, 1000];

/**
 * The process (or the system) ran out of file descriptors and stayed out of them. Never a judgement of a file: whoever
 * meets it stops and says so, and the CLI exits 1.
 */
export class DescriptorsExhaustedError extends Error {
  override readonly name = 'DescriptorsExhaustedError';
  constructor(
    readonly code: string,
    override readonly cause: unknown,
  ) {
    super(
      `out of file descriptors (${code}) for ${DESCRIPTOR_RETRY_DELAYS_MS.reduce((a, b) => a + b, 0)} ms: ` +
        'other code holds too many files open, or the limit is very low (ulimit -n); nothing was judged from this failure',
    );
  }
}

/** EMFILE (this process) or ENFILE (the whole system): a shortage of descriptors, not a fact about the file. */
export function isDescriptorExhaustion(error: unknown): boolean {
  const code = errnoOf(error);
  return code === 'EMFILE' || code === 'ENFILE';
}

const sleep = (ms: number) => new Promise((resolveSleep) => setTimeout(resolveSleep, ms));

/** Runs `operation`, waiting and retrying while descriptors are exhausted; then DescriptorsExhaustedError. */
export async function retryWhileExhausted<T>(
  operation: () => T | Promise<T>,
  delays: readonly number[] = DESCRIPTOR_RETRY_DELAYS_MS,
): Promise<T> {
  for (let tries = 0; ; tries++) {
    try {
      return await operation();
    } catch (error) {
      if (!isDescriptorExhaustion(error)) throw error;
      if (tries >= delays.length) throw new DescriptorsExhaustedError(errnoOf(error) ?? 'EMFILE', error);
      await sleep(delays[tries]!);
    }
  }
}

/** At most `max` tasks run at once; the others wait their turn, first come first served. */
export class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly max: number) {}

  async run<T>(todo: () => Promise<T>): Promise<T> {
    if (this.active < this.max) this.active += 1;
    else await new Promise<void>((resolveTurn) => this.waiting.push(resolveTurn));
    try {
      return await todo();
    } finally {
      // The slot passes straight to the next waiter, so `active` stays at most `max`.
      const next = this.waiting.shift();
      if (next) next();
      else this.active -= 1;
    }
  }
}

/** The one bound on files this process holds open for reading (see MAX_OPEN_FILES). */
const openFiles = new Limiter(MAX_OPEN_FILES);

/**
 * Runs an operation that holds files open (a read, a folder listing): at most MAX_OPEN_FILES at once in this process,
 * retried while descriptors are exhausted. Only for leaf operations: one must never wait for another inside it.
 */
export function withOpenFiles<T>(operation: () => Promise<T>): Promise<T> {
  return openFiles.run(() => retryWhileExhausted(operation));
}

/**
 * `fn` over `items` with at most `limit` calls pending at once, results in order. After a failure no new call starts,
 * and the first failure is thrown.
 */
export async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index]!);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
