import { setTimeout as delay } from 'node:timers/promises';

/**
 * The workbench's spam protection: a notification that is the 4th to start within 800 ms gets no toast and goes
 * silently to the notification centre. Our notifications are paced so that at most OURS_PER_WINDOW of them start
 * within PACE_WINDOW_MS (a sliding window, which bounds the workbench's fixed one), leaving room for another source:
 * a burst of quick actions (two rows swept, three to-dos deleted) still ends in a toast for each, a moment later.
 */
export const PACE_WINDOW_MS = 850;
export const OURS_PER_WINDOW = 2;

/** When our notifications started (ms), newest last, within the last window; and the queue of those waiting. */
export class ToastPacer {
  private starts: number[] = [];
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly sleep: (ms: number) => Promise<unknown> = delay,
  ) {}

  /** Resolves when a notification may start now without exceeding the pace, in call order; takes that slot. */
  slot(): Promise<void> {
    const taken = this.queue.then(async () => {
      for (;;) {
        const now = this.now();
        this.starts = this.starts.filter((start) => now - start < PACE_WINDOW_MS);
        if (this.starts.length < OURS_PER_WINDOW) {
          this.starts.push(now);
          return;
        }
        await this.sleep(this.starts[0]! + PACE_WINDOW_MS - now);
      }
    });
    this.queue = taken;
    return taken;
  }
}
