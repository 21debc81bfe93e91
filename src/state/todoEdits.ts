import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { InvalidTodoError, TodoNotFoundError } from './todoErrors';
import { type Todo, type TodosDocument, todosDocumentProblems } from './todosSchema';

/**
 * One user edit of the to-do list, stated as an intent rather than a whole new list, so it can be replayed on
 * whatever the file holds when it is saved: edits made elsewhere meanwhile (another window, the CLI) survive.
 * Every edit is idempotent, because the view shows `disk + unsaved edits` and may briefly see one twice.
 * The CLI and the view both build these and hand them to `TodosStore.apply`.
 */
export type TodoEdit =
  | { kind: 'add'; todo: Todo }
  | TodoUpdate
  | { kind: 'remove'; id: string }
  /** Places the to-do just before `beforeId`, or last when `beforeId` is null. */
  | { kind: 'move'; id: string; beforeId: string | null };

/** Sets fields of a to-do; `notes: null` or `''` removes the notes. `at` becomes updatedAt when something changed. */
export interface TodoUpdate {
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
  if (trimmed.length === 0) throw new InvalidTodoError('A to-do needs a non-empty title.');
  return trimmed;
}

/** A fresh id: 8 hex digits (short and shell-friendly), drawn again while it is in `taken`. */
export function newTodoId(
  taken: Iterable<string> = [],
  draw: () => string = () => randomBytes(4).toString('hex'),
): string {
  const used = new Set(taken);
  for (;;) {
    const id = draw();
    if (!used.has(id)) return id;
  }
}

export interface NewTodoOptions {
  notes?: string;
  /** Ids in use, to draw a fresh one (an add that still meets a taken id is renamed when applied). */
  taken?: Iterable<string>;
  /** The creation time (default now) and the id source (default random), for tests. */
  now?: Date;
  newId?: () => string;
}

/** The edit that appends a new, not-done to-do. Throws InvalidTodoError for an empty title. */
export function addTodoEdit(title: string, options: NewTodoOptions = {}): Extract<TodoEdit, { kind: 'add' }> {
  const stamp = (options.now ?? new Date()).toISOString();
  const todo: Todo = {
    id: newTodoId(options.taken, options.newId),
    title: cleanTitle(title),
    done: false,
    createdAt: stamp,
    updatedAt: stamp,
  };
  if (options.notes !== undefined && options.notes.length > 0) todo.notes = options.notes;
  return { kind: 'add', todo };
}

/** The edit that changes title, notes or done of to-do `id`. Throws InvalidTodoError for an empty title. */
export function updateTodoEdit(
  id: string,
  change: Pick<TodoUpdate, 'title' | 'notes' | 'done'>,
  now = new Date(),
): TodoUpdate {
  const edit: TodoUpdate = { kind: 'update', id, at: now.toISOString() };
  if (change.title !== undefined) edit.title = cleanTitle(change.title);
  if (change.notes !== undefined) edit.notes = change.notes;
  if (change.done !== undefined) edit.done = change.done;
  return edit;
}

/** A to-do added or updated while saving must be valid on its own, so a bad edit fails alone rather than its batch. */
function assertValidTodo(todo: Todo): void {
  const problems = todosDocumentProblems({ version: 1, tasks: [todo] });
  if (problems.length > 0) throw new InvalidTodoError(`Invalid task "${todo.id}": ${problems.join('; ')}`);
}

/**
 * Applies `edit` to `document` in place; returns the to-do it added, changed, moved or removed (a copy), or
 * undefined when that to-do is not there.
 * `strict` (when saving): editing a to-do that no longer exists throws TodoNotFoundError, and an edit that would
 * make a to-do invalid throws InvalidTodoError. Otherwise (when only showing) such an edit is skipped. Removing or
 * moving a missing to-do is never an error: the to-do is gone either way.
 */
export function applyTodoEdit(
  document: TodosDocument,
  edit: TodoEdit,
  strict: boolean,
  path?: string,
): Todo | undefined {
  const indexOf = (id: string) => document.tasks.findIndex((todo) => todo.id === id);
  switch (edit.kind) {
    case 'add': {
      const existing = document.tasks.find((todo) => todo.id === edit.todo.id);
      if (existing && existing.createdAt === edit.todo.createdAt) return { ...existing };
      // Another writer chose the same random id (1 in 2^32): keep both to-dos under distinct ids.
      let id = edit.todo.id;
      for (let n = 2; document.tasks.some((todo) => todo.id === id); n++) id = `${edit.todo.id}-${n}`;
      const todo = { ...edit.todo, id };
      if (strict) assertValidTodo(todo);
      document.tasks.push(todo);
      return { ...todo };
    }
    case 'update': {
      const index = indexOf(edit.id);
      if (index < 0) {
        if (strict) throw new TodoNotFoundError(path ?? 'the task list', edit.id);
        return undefined;
      }
      const todo = { ...document.tasks[index]! };
      const before = { ...todo };
      if (edit.title !== undefined) todo.title = edit.title;
      if (edit.done !== undefined) todo.done = edit.done;
      if (edit.notes === null || edit.notes === '') delete todo.notes;
      else if (edit.notes !== undefined) todo.notes = edit.notes;
      if (!isDeepStrictEqual(todo, before)) todo.updatedAt = edit.at;
      if (strict) assertValidTodo(todo);
      document.tasks[index] = todo;
      return { ...todo };
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
      const [todo] = document.tasks.splice(index, 1);
      const at = edit.beforeId === null ? document.tasks.length : indexOf(edit.beforeId);
      document.tasks.splice(at, 0, todo!);
      return { ...todo! };
    }
  }
}

/** The document with `edits` applied on a copy (non-strict): what the view shows before they are saved. */
export function withTodoEdits(document: TodosDocument, edits: readonly TodoEdit[]): TodosDocument {
  const copy = structuredClone(document);
  for (const edit of edits) applyTodoEdit(copy, edit, false);
  return copy;
}
