import { isDeepStrictEqual } from 'node:util';
import { hasBom } from '../core/json/json';
import { type ArrayItem, type JsonPath, JsonTextEditor, jsonTextStyleOf } from '../core/json/jsonEdits';
import type { Todo, TodosDocument } from './todosSchema';

/**
 * The to-do list's text after an edit: `text` (which parsed as `previous`) changed only where `next` differs.
 * To-dos are matched by id; a moved to-do keeps its own bytes; members nobody changed, ours or not, keep theirs.
 * So a number like 12345678901234567890, which JSON.parse cannot hold, survives every edit of the list.
 */
export function editTodosText(
  text: string,
  previous: TodosDocument,
  next: TodosDocument,
  removed?: RemovedTodoTexts,
): string {
  const editor = new JsonTextEditor(text);
  editMembers(editor, [], previous, next, 'tasks');
  const previousIndex = new Map(previous.tasks.map((todo, index) => [todo.id, index]));
  const nextIds = new Set(next.tasks.map((todo) => todo.id));
  previous.tasks.forEach((todo, index) => {
    if (!nextIds.has(todo.id)) removed?.remember(todo, editor.rawAt(['tasks', index]));
  });
  editTodoList(editor, previous.tasks, next.tasks, (todo) => previousIndex.get(todo.id) ?? -1, removed);
  return editor.text;
}

/**
 * The text of to-dos removed lately (by one store), so that putting one back, as Undo does, restores its bytes:
 * the view holds it as a JavaScript value, in which 12345678901234567890 is already lost.
 */
export class RemovedTodoTexts {
  private readonly entries = new Map<string, { todo: Todo; raw: string }>();

  constructor(private readonly limit = 200) {}

  remember(todo: Todo, raw: string): void {
    this.entries.delete(todo.id);
    this.entries.set(todo.id, { todo: structuredClone(todo), raw });
    if (this.entries.size > this.limit) this.entries.delete(this.entries.keys().next().value!);
  }

  /** The text `todo` had when it was removed, when it is back exactly as it was. */
  rawOf(todo: Todo): string | undefined {
    const entry = this.entries.get(todo.id);
    return entry && isDeepStrictEqual(entry.todo, todo) ? entry.raw : undefined;
  }
}

/**
 * Migration v0 → v1 as an edit of the text, so it keeps what it does not change: a bare array is wrapped in
 * `{ "version": 1, "tasks": [...] }` (its lines indented one step more), an unversioned object gets `"version": 1`
 * as its first member, and each to-do gets only the members v1 needs (id, done, createdAt, updatedAt).
 */
export function migrateTodosText(text: string, migrated: TodosDocument): string {
  const bom = hasBom(text) ? '\ufeff' : '';
  const body = text.slice(bom.length);
  const legacy: unknown = JSON.parse(body);
  let editor: JsonTextEditor;
  if (Array.isArray(legacy)) {
    const start = body.search(/\S/);
    const end = body.replace(/\s+$/, '').length;
    const array = body.slice(start, end);
    const { eol, indentUnit } = jsonTextStyleOf(body);
    const wrapped = array.includes('\n')
      ? `{${eol}${indentUnit}"version": ${migrated.version},${eol}${indentUnit}"tasks": ${array.replace(/\n/g, `\n${indentUnit}`)}${eol}}`
      : `{"version": ${migrated.version}, "tasks": ${array}}`;
    editor = new JsonTextEditor(bom + body.slice(0, start) + wrapped + body.slice(end));
  } else {
    editor = new JsonTextEditor(text);
    editor.insertProperty([], 'version', migrated.version, 0);
  }
  const legacyTodos = (Array.isArray(legacy) ? legacy : (legacy as { tasks: object[] }).tasks) as object[];
  // Matched by position: a legacy to-do may have no id, or one the migration replaced.
  editTodoList(editor, legacyTodos, migrated.tasks, (_, position) => position);
  return editor.text;
}

/** An own member's value (never one inherited, such as `__proto__`); undefined when absent. */
function memberOf(object: object, key: string): unknown {
  return Object.getOwnPropertyDescriptor(object, key)?.value;
}

/** Sets, adds or removes each member of the object at `path` whose value differs between `before` and `after`. */
function editMembers(editor: JsonTextEditor, path: JsonPath, before: object, after: object, skip?: string): void {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  for (const key of keys) {
    if (key === skip) continue;
    const old = memberOf(before, key);
    const now = memberOf(after, key);
    if (isDeepStrictEqual(old, now)) continue;
    if (now === undefined) editor.removeProperty(path, key);
    else editor.setProperty(path, key, now);
  }
}

/**
 * Brings the `tasks` array from `previous` to `next` in one rewrite: a to-do that stays keeps its own text (one that
 * changed gets only its changed members edited), a new one is laid out like its neighbours, and the space between
 * two to-dos that stay neighbours is kept. `previousIndexOf` says which earlier to-do (if any) a to-do is.
 */
function editTodoList(
  editor: JsonTextEditor,
  previous: readonly object[],
  next: readonly Todo[],
  previousIndexOf: (todo: Todo, position: number) => number,
  removed?: RemovedTodoTexts,
): void {
  const items = next.map((todo, position): ArrayItem => {
    const index = previousIndexOf(todo, position);
    if (index < 0) {
      const raw = removed?.rawOf(todo);
      return raw === undefined ? { value: todo } : { raw };
    }
    if (isDeepStrictEqual(previous[index], todo)) return { index };
    const own = new JsonTextEditor(editor.rawAt(['tasks', index]), editor.style);
    editMembers(own, [], previous[index]!, todo);
    return { index, raw: own.text };
  });
  const unchanged =
    items.length === previous.length &&
    items.every((item, position) => 'index' in item && item.index === position && item.raw === undefined);
  if (!unchanged) editor.rewriteArray(['tasks'], items);
}
