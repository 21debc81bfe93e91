import { messageOf } from '../core/errors';
import { JsonValueError } from '../core/json/jsonStore';
import type { TodoEdit } from './todoEdits';
import { InvalidTodoError, TodoNotFoundError, TodosDocumentError } from './todoErrors';

/** Where edits go: `TodosStore.apply` (a read-modify-write under the cross-process lock). */
export interface TodoEditSink {
  apply(edits: readonly TodoEdit[]): Promise<unknown>;
}

/** What one save of queued edits came to. */
export interface TodoSaveOutcome {
  /** How many edits are now durable in the file. */
  saved: number;
  /** Those edits, in order, so a view can show them until it has re-read the file. */
  savedEdits: TodoEdit[];
  /** Edits that can never apply (the to-do was deleted elsewhere, a bad title); they were dropped. */
  dropped: Array<{ edit: TodoEdit; error: Error }>;
  /** The file is unusable (corrupt, invalid…): nothing was written and the edits stay queued until `resume()`. */
  blocked?: TodosDocumentError;
  /** Any other failure (lock timeout, disk full…): the edits stay queued and are retried after a back-off. */
  failed?: Error;
}

export interface TodoEditQueueOptions {
  /** A save starts this long after the first unsaved edit; edits made in between share it. */
  delayMs: number;
  /** Back-off before retrying after a failure other than an unusable file; doubles up to `maxRetryDelayMs`. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** After every save attempt (before `onChange`, so a listener can update what it shows first). */
  onSaved?: (outcome: TodoSaveOutcome) => void;
  /** Whenever the queue's contents change (an edit queued, saved, dropped or requeued). */
  onChange?: () => void;
}

const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(messageOf(error)));

/** Errors that say the edit itself can never apply, so retrying is pointless. Anything else may pass. */
function isPermanent(error: unknown): boolean {
  return error instanceof TodoNotFoundError || error instanceof InvalidTodoError || error instanceof JsonValueError;
}

/**
 * Unsaved to-do edits and the timer that saves them: the user's save delay. An edit is saved at most `delayMs`
 * after it was queued (bursts share one save, and the store's LockedDocument puts them in one locked write).
 * Saves never overlap. Edits refused because the file is unusable stay queued, in order, until `resume()`;
 * nothing is written meanwhile.
 */
export class TodoEditQueue {
  private pending: TodoEdit[] = [];
  private inFlight: TodoEdit[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private saving: Promise<void> | undefined;
  private blocked = false;
  private retryDelayMs: number;
  private disposed = false;

  constructor(
    private readonly sink: TodoEditSink,
    private options: TodoEditQueueOptions,
  ) {
    this.retryDelayMs = options.retryDelayMs ?? 1000;
  }

  /** Unsaved edits, oldest first (those being saved now included). */
  get edits(): readonly TodoEdit[] {
    return [...this.inFlight, ...this.pending];
  }

  /** True while edits wait because the file is unusable. */
  get isBlocked(): boolean {
    return this.blocked;
  }

  /** Changes the save delay; the next scheduled save uses it. */
  setDelay(delayMs: number): void {
    this.options = { ...this.options, delayMs };
  }

  /** Queues edits, in order; they are saved within `delayMs`. */
  push(...edits: TodoEdit[]): void {
    if (this.disposed) throw new Error('The task list is closed');
    if (edits.length === 0) return;
    this.pending.push(...edits);
    this.options.onChange?.();
    if (!this.blocked) this.schedule(this.options.delayMs);
  }

  /** The file became usable again (reloaded or recovered): queued edits are saved now. */
  resume(): void {
    if (!this.blocked) return;
    this.blocked = false;
    if (this.pending.length > 0) this.schedule(0);
  }

  /** Saves everything queued now and waits for it (also waits for a save already running). */
  async flush(): Promise<void> {
    this.clearTimer();
    for (;;) {
      if (this.saving) await this.saving;
      else if (this.pending.length > 0 && !this.blocked) await this.saveNow();
      else return;
    }
  }

  /** Stops the timer. Unsaved edits are lost unless `flush()` ran first. */
  dispose(): void {
    this.disposed = true;
    this.clearTimer();
  }

  private schedule(delayMs: number): void {
    // The first unsaved edit starts the clock; later ones join that save rather than push it back.
    if (this.timer || this.disposed) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        if (this.saving) {
          void this.saving.then(() => this.pending.length > 0 && this.schedule(0));
        } else {
          void this.saveNow();
        }
      },
      Math.max(0, delayMs),
    );
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private saveNow(): Promise<void> {
    this.saving = this.saveBatch().finally(() => {
      this.saving = undefined;
    });
    return this.saving;
  }

  private async saveBatch(): Promise<void> {
    const batch = this.pending.splice(0);
    this.inFlight = batch;
    // One apply per edit, so each fails alone; called together, they still share one locked write.
    const results = await Promise.allSettled(batch.map((edit) => this.sink.apply([edit])));
    const outcome: TodoSaveOutcome = { saved: 0, savedEdits: [], dropped: [] };
    const keep: TodoEdit[] = [];
    results.forEach((result, index) => {
      const edit = batch[index]!;
      if (result.status === 'fulfilled') {
        outcome.saved += 1;
        outcome.savedEdits.push(edit);
      } else if (result.reason instanceof TodosDocumentError) {
        outcome.blocked = result.reason;
        keep.push(edit);
      } else if (isPermanent(result.reason)) {
        outcome.dropped.push({ edit, error: asError(result.reason) });
      } else {
        outcome.failed ??= asError(result.reason);
        keep.push(edit);
      }
    });
    this.inFlight = [];
    this.pending.unshift(...keep);
    if (outcome.blocked) {
      this.blocked = true;
    } else if (outcome.failed) {
      const delay = this.retryDelayMs;
      this.retryDelayMs = Math.min(delay * 2, this.options.maxRetryDelayMs ?? 30_000);
      this.schedule(delay);
    } else {
      this.retryDelayMs = this.options.retryDelayMs ?? 1000;
    }
    this.options.onSaved?.(outcome);
    this.options.onChange?.();
  }
}
