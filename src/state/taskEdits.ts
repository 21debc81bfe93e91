import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { InvalidTaskError, TaskNotFoundError } from './taskErrors';
import { type Task, type TasksDocument, tasksDocumentProblems } from './tasksSchema';

/**
 * One user edit of the task list, stated as an intent rather than a whole new list, so it can be replayed on
 * whatever the file holds when it is saved: edits made elsewhere meanwhile (another window, the CLI) survive.
 * Every edit is idempotent, because the view shows `disk + unsaved edits` and may briefly see one twice.
 * The CLI and the view both build these and hand them to `TasksStore.apply`.
 */
export type TaskEdit =
  | { kind: 'add'; task: Task }
  | TaskUpdate
  | { kind: 'remove'; id: string }
  /** Places the task just before `beforeId`, or last when `beforeId` is null. */
  | { kind: 'move'; id: string; beforeId: string | null };

/** Sets fields of a task; `notes: null` or `''` removes the notes. `at` becomes updatedAt when something changed. */
export interface TaskUpdate {
  kind: 'update';
  id: string;
  title?: string;
  notes?: string | null;
  done?: boolean;
  at: string;
}

/** A title as saved: trimmed, and never empty. */
export function cleanTitle(title: string): string {
  const trimmed = title.trim();
  if (trimmed.length === 0) throw new InvalidTaskError('A to-do needs a non-empty title.');
  return trimmed;
}

/** A fresh id: 8 hex digits (short and shell-friendly), drawn again while it is in `taken`. */
export function newTaskId(
  taken: Iterable<string> = [],
  draw: () => string = () => randomBytes(4).toString('hex'),
): string {
  const used = new Set(taken);
  for (;;) {
    const id = draw();
    if (!used.has(id)) return id;
  }
}

export interface NewTaskOptions {
  notes?: string;
  /** Ids in use, to draw a fresh one (an add that still meets a taken id is renamed when applied). */
  taken?: Iterable<string>;
  /** The creation time (default now) and the id source (default random), for tests. */
  now?: Date;
  newId?: () => string;
}

/** The edit that appends a new, not-done task. Throws InvalidTaskError for an empty title. */
export function addTaskEdit(title: string, options: NewTaskOptions = {}): Extract<TaskEdit, { kind: 'add' }> {
  const stamp = (options.now ?? new Date()).toISOString();
  const task: Task = {
    id: newTaskId(options.taken, options.newId),
    title: cleanTitle(title),
    done: false,
    createdAt: stamp,
    updatedAt: stamp,
  };
  if (options.notes !== undefined && options.notes.length > 0) task.notes = options.notes;
  return { kind: 'add', task };
}

/** The edit that changes title, notes or done of task `id`. Throws InvalidTaskError for an empty title. */
export function updateTaskEdit(
  id: string,
  change: Pick<TaskUpdate, 'title' | 'notes' | 'done'>,
  now = new Date(),
): TaskUpdate {
  const edit: TaskUpdate = { kind: 'update', id, at: now.toISOString() };
  if (change.title !== undefined) edit.title = cleanTitle(change.title);
  if (change.notes !== undefined) edit.notes = change.notes;
  if (change.done !== undefined) edit.done = change.done;
  return edit;
}

/** A task added or updated while saving must be valid on its own, so a bad edit fails alone rather than its batch. */
function assertValidTask(task: Task): void {
  const problems = tasksDocumentProblems({ version: 1, tasks: [task] });
  if (problems.length > 0) throw new InvalidTaskError(`Invalid task "${task.id}": ${problems.join('; ')}`);
}

/**
 * Applies `edit` to `document` in place; returns the task it added, changed, moved or removed (a copy), or
 * undefined when that task is not there.
 * `strict` (when saving): editing a task that no longer exists throws TaskNotFoundError, and an edit that would
 * make a task invalid throws InvalidTaskError. Otherwise (when only showing) such an edit is skipped. Removing or
 * moving a missing task is never an error: the task is gone either way.
 */
export function applyTaskEdit(
  document: TasksDocument,
  edit: TaskEdit,
  strict: boolean,
  path?: string,
): Task | undefined {
  const indexOf = (id: string) => document.tasks.findIndex((task) => task.id === id);
  switch (edit.kind) {
    case 'add': {
      const existing = document.tasks.find((task) => task.id === edit.task.id);
      if (existing && existing.createdAt === edit.task.createdAt) return { ...existing };
      // Another writer chose the same random id (1 in 2^32): keep both tasks under distinct ids.
      let id = edit.task.id;
      for (let n = 2; document.tasks.some((task) => task.id === id); n++) id = `${edit.task.id}-${n}`;
      const task = { ...edit.task, id };
      if (strict) assertValidTask(task);
      document.tasks.push(task);
      return { ...task };
    }
    case 'update': {
      const index = indexOf(edit.id);
      if (index < 0) {
        if (strict) throw new TaskNotFoundError(path ?? 'the task list', edit.id);
        return undefined;
      }
      const task = { ...document.tasks[index]! };
      const before = { ...task };
      if (edit.title !== undefined) task.title = edit.title;
      if (edit.done !== undefined) task.done = edit.done;
      if (edit.notes === null || edit.notes === '') delete task.notes;
      else if (edit.notes !== undefined) task.notes = edit.notes;
      if (!isDeepStrictEqual(task, before)) task.updatedAt = edit.at;
      if (strict) assertValidTask(task);
      document.tasks[index] = task;
      return { ...task };
    }
    case 'remove': {
      const index = indexOf(edit.id);
      return index < 0 ? undefined : document.tasks.splice(index, 1)[0];
    }
    case 'move': {
      const index = indexOf(edit.id);
      if (index < 0) return undefined;
      if (edit.beforeId === edit.id || (edit.beforeId !== null && indexOf(edit.beforeId) < 0))
        return { ...document.tasks[index]! };
      const [task] = document.tasks.splice(index, 1);
      const at = edit.beforeId === null ? document.tasks.length : indexOf(edit.beforeId);
      document.tasks.splice(at, 0, task!);
      return { ...task! };
    }
  }
}

/** The document with `edits` applied on a copy (non-strict): what the view shows before they are saved. */
export function withTaskEdits(document: TasksDocument, edits: readonly TaskEdit[]): TasksDocument {
  const copy = structuredClone(document);
  for (const edit of edits) applyTaskEdit(copy, edit, false);
  return copy;
}
