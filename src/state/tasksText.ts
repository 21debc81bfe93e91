import { isDeepStrictEqual } from 'node:util';
import type { JSONPath } from 'jsonc-parser';
import { hasBom } from '../core/json';
import { JsonTextEditor, jsonTextStyleOf } from '../core/jsonEdits';
import type { Task, TasksDocument } from './tasksSchema';

/**
 * The task list's text after an edit: `text` (which parsed as `previous`) changed only where `next` differs.
 * Tasks are matched by id; a moved task keeps its own bytes; members nobody changed, ours or not, keep theirs.
 * So a number like 12345678901234567890, which JSON.parse cannot hold, survives every edit of the list.
 */
export function editTasksText(text: string, previous: TasksDocument, next: TasksDocument): string {
  const editor = new JsonTextEditor(text);
  editMembers(editor, [], previous, next, 'tasks');
  editTaskList(editor, previous.tasks, next.tasks);
  return editor.text;
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
  migrated.tasks.forEach((task, index) => {
    editMembers(editor, ['tasks', index], legacyTasks[index]!, task);
  });
  return editor.text;
}

/** An own member's value (never one inherited, such as `__proto__`); undefined when absent. */
function memberOf(object: object, key: string): unknown {
  return Object.getOwnPropertyDescriptor(object, key)?.value;
}

/** Sets, adds or removes each member of the object at `path` whose value differs between `before` and `after`. */
function editMembers(editor: JsonTextEditor, path: JSONPath, before: object, after: object, skip?: string): void {
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
 * Brings the `tasks` array from `previous` to `next` with the fewest element moves: tasks in a longest run that
 * kept its order stay put, the others are cut (keeping their text) and put back where they now belong.
 */
function editTaskList(editor: JsonTextEditor, previous: Task[], next: Task[]): void {
  const previousIndex = new Map(previous.map((task, index) => [task.id, index]));
  const nextIds = new Set(next.map((task) => task.id));
  const staying = longestIncreasingRun(next.map((task) => previousIndex.get(task.id)).filter((index) => index !== undefined));
  const cut = new Map<string, string>();
  for (let index = previous.length - 1; index >= 0; index--) {
    const id = previous[index]!.id;
    if (staying.has(index)) continue;
    if (nextIds.has(id)) cut.set(id, editor.rawAt(['tasks', index]));
    editor.removeElement(['tasks'], index);
  }
  next.forEach((task, index) => {
    const was = previousIndex.get(task.id);
    if (was !== undefined && staying.has(was)) return;
    const raw = cut.get(task.id);
    editor.insertElement(['tasks'], index, raw === undefined ? task : { raw });
  });
  next.forEach((task, index) => {
    const was = previousIndex.get(task.id);
    if (was !== undefined) editMembers(editor, ['tasks', index], previous[was]!, task);
  });
}

/** The values of one longest strictly increasing subsequence of `values`. */
function longestIncreasingRun(values: number[]): Set<number> {
  const tails: number[] = [];
  const before: number[] = new Array(values.length).fill(-1);
  values.forEach((value, position) => {
    let low = 0;
    let high = tails.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (values[tails[middle]!]! < value) low = middle + 1;
      else high = middle;
    }
    if (low > 0) before[position] = tails[low - 1]!;
    tails[low] = position;
  });
  const run = new Set<number>();
  for (let position = tails.at(-1) ?? -1; position !== -1; position = before[position]!) run.add(values[position]!);
  return run;
}
