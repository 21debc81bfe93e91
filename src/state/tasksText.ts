import { isDeepStrictEqual } from 'node:util';
import { hasBom } from '../core/json/json';
import { type ArrayItem, type JsonPath, JsonTextEditor, jsonTextStyleOf } from '../core/json/jsonEdits';
import type { Task, TasksDocument } from './tasksSchema';

/**
 * The task list's text after an edit: `text` (which parsed as `previous`) changed only where `next` differs.
 * Tasks are matched by id; a moved task keeps its own bytes; members nobody changed, ours or not, keep theirs.
 * So a number like 12345678901234567890, which JSON.parse cannot hold, survives every edit of the list.
 */
export function editTasksText(
  text: string,
  previous: TasksDocument,
  next: TasksDocument,
  removed?: RemovedTaskTexts,
): string {
  const editor = new JsonTextEditor(text);
  editMembers(editor, [], previous, next, 'tasks');
  const previousIndex = new Map(previous.tasks.map((task, index) => [task.id, index]));
  const nextIds = new Set(next.tasks.map((task) => task.id));
  previous.tasks.forEach((task, index) => {
    if (!nextIds.has(task.id)) removed?.remember(task, editor.rawAt(['tasks', index]));
  });
  editTaskList(editor, previous.tasks, next.tasks, (task) => previousIndex.get(task.id) ?? -1, removed);
  return editor.text;
}

/**
 * The text of to-dos removed lately (by one store), so that putting one back, as Undo does, restores its bytes:
 * the view holds it as a JavaScript value, in which 12345678901234567890 is already lost.
 */
export class RemovedTaskTexts {
  private readonly entries = new Map<string, { task: Task; raw: string }>();

  constructor(private readonly limit = 200) {}

  remember(task: Task, raw: string): void {
    this.entries.delete(task.id);
    this.entries.set(task.id, { task: structuredClone(task), raw });
    if (this.entries.size > this.limit) this.entries.delete(this.entries.keys().next().value!);
  }

  /** The text `task` had when it was removed, when it is back exactly as it was. */
  rawOf(task: Task): string | undefined {
    const entry = this.entries.get(task.id);
    return entry && isDeepStrictEqual(entry.task, task) ? entry.raw : undefined;
  }
}

/**
 * Migration v0 → v1 as an edit of the text, so it keeps what it does not change: a bare array is wrapped in
 * `{ "version": 1, "tasks": [...] }` (its lines indented one step more), an unversioned object gets `"version": 1`
 * as its first member, and each task gets only the members v1 needs (id, done, createdAt, updatedAt).
 */
export function migrateTasksText(text: string, migrated: TasksDocument): string {
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
  const legacyTasks = (Array.isArray(legacy) ? legacy : (legacy as { tasks: object[] }).tasks) as object[];
  // Matched by position: a legacy task may have no id, or one the migration replaced.
  editTaskList(editor, legacyTasks, migrated.tasks, (_, position) => position);
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
 * Brings the `tasks` array from `previous` to `next` in one rewrite: a task that stays keeps its own text (one that
 * changed gets only its changed members edited), a new one is laid out like its neighbours, and the space between
 * two tasks that stay neighbours is kept. `previousIndexOf` says which earlier task (if any) a task is.
 */
function editTaskList(
  editor: JsonTextEditor,
  previous: readonly object[],
  next: readonly Task[],
  previousIndexOf: (task: Task, position: number) => number,
  removed?: RemovedTaskTexts,
): void {
  const items = next.map((task, position): ArrayItem => {
    const index = previousIndexOf(task, position);
    if (index < 0) {
      const raw = removed?.rawOf(task);
      return raw === undefined ? { value: task } : { raw };
    }
    if (isDeepStrictEqual(previous[index], task)) return { index };
    const own = new JsonTextEditor(editor.rawAt(['tasks', index]), editor.style);
    editMembers(own, [], previous[index]!, task);
    return { index, raw: own.text };
  });
  const unchanged =
    items.length === previous.length &&
    items.every((item, position) => 'index' in item && item.index === position && item.raw === undefined);
  if (!unchanged) editor.rewriteArray(['tasks'], items);
}
