import { isDeepStrictEqual } from 'node:util';
import type { Task, TasksDocument } from './tasksSchema';
import { TaskNotFoundError, TasksDocumentError } from './tasksStore';

/**
 * One user edit of the task list, stated as an intent rather than a whole new list, so it can be replayed on
 * whatever the file holds when it is saved: edits made elsewhere meanwhile (another window, the CLI) survive.
 * Every edit is idempotent, because the view shows `disk + unsaved edits` and may briefly see one twice.
 */
export type TaskEdit =
  | { kind: 'add'; task: Task }
  | { kind: 'update'; id: string; title?: string; notes?: string | null; done?: boolean; at: string }
  | { kind: 'remove'; id: string }
  /** Places the task just before `beforeId`, or last when `beforeId` is null. */
  | { kind: 'move'; id: string; beforeId: string | null };

/**
 * Applies `edit` to `document` in place.
 * `strict` (when saving): editing a task that no longer exists throws TaskNotFoundError.
 * Otherwise (when only showing) such an edit is skipped. Removing or moving a missing task is never an error:
 * the task is gone either way.
 */
export function applyTaskEdit(document: TasksDocument, edit: TaskEdit, strict: boolean, path?: string): void {
  const indexOf = (id: string) => document.tasks.findIndex((task) => task.id === id);
  switch (edit.kind) {
    case 'add': {
      const existing = document.tasks.find((task) => task.id === edit.task.id);
      if (existing && existing.createdAt === edit.task.createdAt) return;
      // Another writer chose the same random id (1 in 2^32): keep both tasks under distinct ids.
      let id = edit.task.id;
      for (let n = 2; document.tasks.some((task) => task.id === id); n++) id = `${edit.task.id}-${n}`;
      document.tasks.push({ ...edit.task, id });
      return;
    }
    case 'update': {
      const index = indexOf(edit.id);
      if (index < 0) {
        if (strict) throw new TaskNotFoundError(path ?? 'the task list', edit.id);
        return;
      }
      const task = document.tasks[index]!;
      const before = { ...task };
      if (edit.title !== undefined) task.title = edit.title;
      if (edit.done !== undefined) task.done = edit.done;
      if (edit.notes === null || edit.notes === '') delete task.notes;
      else if (edit.notes !== undefined) task.notes = edit.notes;
      if (!isDeepStrictEqual(task, before)) task.updatedAt = edit.at;
      return;
    }
    case 'remove': {
      const index = indexOf(edit.id);
      if (index >= 0) document.tasks.splice(index, 1);
      return;
    }
    case 'move': {
      const index = indexOf(edit.id);
      if (index < 0 || edit.beforeId === edit.id) return;
      if (edit.beforeId !== null && indexOf(edit.beforeId) < 0) return;
      const [task] = document.tasks.splice(index, 1);
      const at = edit.beforeId === null ? document.tasks.length : indexOf(edit.beforeId);
      document.tasks.splice(at, 0, task!);
      return;
    }
  }
}

/** The document with `edits` applied on a copy (non-strict): what the view shows before they are saved. */
export function withTaskEdits(document: TasksDocument, edits: readonly TaskEdit[]): TasksDocument {
  const copy = structuredClone(document);
  for (const edit of edits) applyTaskEdit(copy, edit, false);
  return copy;
}

/**
 * The `beforeId` that moves `id` one place up (`-1`) or down (`+1`) in `tasks`;
 * undefined when it is already at that end.
 */
export function neighbourAnchor(tasks: readonly Task[], id: string, direction: -1 | 1): string | null | undefined {
  const index = tasks.findIndex((task) => task.id === id);
  if (index < 0) return undefined;
  if (direction === -1) return index === 0 ? undefined : tasks[index - 1]!.id;
  if (index >= tasks.length - 1) return undefined;
  return tasks[index + 2]?.id ?? null;
}

/** Where edits go: TasksStore.mutate (a read-modify-write under the cross-process lock). */
export interface TaskEditSink {
  readonly path: string;
  mutate<R>(mutate: (document: TasksDocument) => R): Promise<R>;
}

/** What one save of queued edits came to. */
export interface TaskSaveOutcome {
  /** How many edits are now durable in the file. */
  saved: number;
  /** Those edits, in order, so a view can show them until it has re-read the file. */
  savedEdits: TaskEdit[];
  /** Edits that can never apply (the task was deleted elsewhere, a bad title); they were dropped. */
  dropped: Array<{ edit: TaskEdit; error: Error }>;
  /** The file is unusable (corrupt, invalid…): nothing was written and the edits stay queued until `resume()`. */
  blocked?: TasksDocumentError;
  /** Any other failure (lock timeout, disk full…): the edits stay queued and are retried after a back-off. */
  failed?: Error;
}

export interface TaskEditQueueOptions {
  /** A save starts this long after the first unsaved edit; edits made in between share it. */
  delayMs: number;
  /** Back-off before retrying after a failure other than an unusable file; doubles up to `maxRetryDelayMs`. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** After every save attempt (before `onChange`, so a listener can update what it shows first). */
  onSaved?: (outcome: TaskSaveOutcome) => void;
  /** Whenever the queue's contents change (an edit queued, saved, dropped or requeued). */
  onChange?: () => void;
}

const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));

/** Errors that say the edit itself can never apply, so retrying is pointless. */
function isPermanent(error: unknown): boolean {
  return error instanceof TaskNotFoundError || error instanceof RangeError || (error instanceof Error && error.name === 'JsonValueError');
}

/**
 * Unsaved task edits and the timer that saves them. An edit is saved at most `delayMs` after it was queued
 * (bursts share one save, and the store coalesces them into one locked write). Saves never overlap. Edits
 * refused because the file is unusable stay queued, in order, until `resume()`; nothing is written meanwhile.
 */
export class TaskEditQueue {
  private pending: TaskEdit[] = [];
  private inFlight: TaskEdit[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private saving: Promise<void> | undefined;
  private blocked = false;
  private retryDelayMs: number;
  private disposed = false;

  constructor(
    private sink: TaskEditSink,
    private options: TaskEditQueueOptions,
  ) {
    this.retryDelayMs = options.retryDelayMs ?? 1000;
  }

  /** Unsaved edits, oldest first (those being saved now included). */
  get edits(): readonly TaskEdit[] {
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

  /** Sends later saves to another document (after the path setting changed); unsaved edits go with them. */
  retarget(sink: TaskEditSink): void {
    this.sink = sink;
    this.blocked = false;
  }

  /** Queues an edit; it is saved within `delayMs`. */
  push(edit: TaskEdit): void {
    if (this.disposed) throw new Error('The task list is closed');
    this.pending.push(edit);
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
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.saving) {
        void this.saving.then(() => this.pending.length > 0 && this.schedule(0));
      } else {
        void this.saveNow();
      }
    }, Math.max(0, delayMs));
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
    const sink = this.sink;
    // One mutate per edit, queued together: the store applies them in one locked batch, and each fails alone.
    const results = await Promise.allSettled(batch.map((edit) => sink.mutate((document) => applyTaskEdit(document, edit, true, sink.path))));
    const outcome: TaskSaveOutcome = { saved: 0, savedEdits: [], dropped: [] };
    const keep: TaskEdit[] = [];
    results.forEach((result, index) => {
      const edit = batch[index]!;
      if (result.status === 'fulfilled') {
        outcome.saved += 1;
        outcome.savedEdits.push(edit);
      } else if (result.reason instanceof TasksDocumentError) {
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
