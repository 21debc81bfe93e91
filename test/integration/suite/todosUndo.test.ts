// The To-Dos view, round 3 of the workbench review: Undo is a stack shared by Ctrl+Z and each removal's
// notification, the view says what is wrong with an unusable file once, and to-do rows carry no icon.
import * as assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Todo, TodosDocument } from '../../../src/state/todosSchema';
import type { CrashSafeStateApi, TodosDiagnostics } from '../../../src/ui/api';
import { integrationEnvironment } from './environment';
import { waitFor } from './waiting';

const EXTENSION_ID = 'crash-safe-state.crash-safe-state';

async function diagnostics(): Promise<TodosDiagnostics> {
  const extension = vscode.extensions.getExtension<CrashSafeStateApi>(EXTENSION_ID)!;
  return (await extension.activate()).diagnostics.todos();
}

const add = (title: string) => vscode.commands.executeCommand<Todo>('crashSafeState.addTodo', { title });
const remove = (todo: Todo) => vscode.commands.executeCommand<Todo[]>('crashSafeState.deleteTodo', { id: todo.id });
/** Ctrl+Z in the view runs the command with no argument; a notification's Undo names its step. */
const undo = (step?: number) =>
  vscode.commands.executeCommand<Todo[] | undefined>(
    'crashSafeState.undoTodoRemoval',
    ...(step === undefined ? [] : [{ step }]),
  );

suite('the To-Dos view: an Undo stack, one problem text, no icon gap', () => {
  let todosFile: string;
  const ids = async () => (await diagnostics()).tasks.map((todo) => todo.id);
  const onDisk = () => (JSON.parse(readFileSync(todosFile, 'utf8')) as TodosDocument).tasks.map((todo) => todo.id);

  suiteSetup(async () => {
    todosFile = path.join(integrationEnvironment().workspace, '.vscode', 'crash-safe', 'tasks.json');
    await waitFor('the list to load', async () => (await diagnostics()).state.kind === 'ok');
  });

  test('Ctrl+Z takes back 25 deletes one by one, newest first, each to its place', async function () {
    this.timeout(60_000);
    const todos: Todo[] = [];
    for (let i = 1; i <= 25; i++) todos.push(await add(`stack ${String(i).padStart(2, '0')}`));
    const before = await ids();
    // Every other one first, then the rest: the stack must also put back neighbours in between.
    const order = [...todos.filter((_, i) => i % 2 === 0), ...todos.filter((_, i) => i % 2 === 1)];
    for (const todo of order) await remove(todo);
    const shown = await diagnostics();
    // Earlier suites may have left steps below ours.
    assert.deepEqual(
      shown.undo.slice(0, 25).map((step) => step.titles),
      [...order].reverse().map((todo) => [todo.title]),
      'the stack holds every delete, newest first',
    );
    for (const todo of [...order].reverse()) {
      const back = await undo();
      assert.deepEqual(
        back?.map((t) => t.id),
        [todo.id],
        `Ctrl+Z put back ${JSON.stringify(back?.map((t) => t.title))}, expected "${todo.title}"`,
      );
    }
    assert.deepEqual(await ids(), before, 'every to-do is back at its place');
    assert.equal((await diagnostics()).undo.length, shown.undo.length - 25);
    await waitFor('the file to hold them all again', () => onDisk().join() === before.join() || undefined);
  });

  test('a notification’s Undo takes back its own step after later ones; a second time it says it was done already', async () => {
    const [a, b, c] = [await add('toast A'), await add('toast B'), await add('toast C')];
    await remove(a);
    const stepA = (await diagnostics()).undo[0]!.id;
    await remove(c);
    assert.deepEqual(
      (await diagnostics()).undo.slice(0, 2).map((step) => step.titles),
      [['toast C'], ['toast A']],
    );
    // The toast of the first delete, pressed after the second: it puts back A, not C.
    assert.deepEqual(
      (await undo(stepA))?.map((t) => t.title),
      ['toast A'],
    );
    const shown = (await diagnostics()).tasks.map((t) => t.title);
    assert.ok(shown.includes('toast A') && !shown.includes('toast C'), shown.join(', '));
    assert.ok(shown.indexOf('toast A') < shown.indexOf('toast B'), 'A is back above B');
    // Ctrl+Z now takes back the remaining step (C); the stale toast does nothing and says so ([]).
    assert.deepEqual(
      (await undo())?.map((t) => t.title),
      ['toast C'],
    );
    assert.deepEqual(await undo(stepA), []);
    assert.equal((await diagnostics()).tasks.filter((t) => t.title === 'toast A').length, 1, 'A is there once');
    for (const todo of [a, b, c]) await remove(todo);
  });

  test('an unusable file: the first row says what is wrong, the message line says what it means, nothing twice', async function () {
    this.timeout(30_000);
    await waitFor('no unsaved edits', async () => (await diagnostics()).unsavedEdits === 0);
    const good = readFileSync(todosFile, 'utf8');
    writeFileSync(todosFile, '{ "version": 1, "tasks": [ { "id": "x"');
    try {
      const shown = await waitFor('the problem', async () => {
        const state = await diagnostics();
        return state.state.kind === 'problem' && state;
      });
      const headline = shown.rows[0]!.label;
      assert.match(headline, /^Not valid JSON: .+, line 1, column \d+$/);
      assert.ok(shown.message, 'the message line says what the problem means');
      assert.ok(!shown.message.includes(headline), `the problem is shown twice: "${shown.message}" and "${headline}"`);
      assert.doesNotMatch(shown.message, /Not valid JSON|line 1, column/, shown.message);
      assert.match(shown.message, /tasks\.json/);
      assert.equal(shown.rows[0]!.icon, 'error', 'status rows keep their icon');
    } finally {
      writeFileSync(todosFile, good);
      await waitFor('the list to be usable again', async () => (await diagnostics()).state.kind === 'ok');
    }
  });

  test('to-do rows, done or not, have no icon (and no resource URI bringing one), so the title follows the checkbox', async () => {
    const open = await add('no icon, open');
    const done = await add('no icon, done');
    await vscode.commands.executeCommand('crashSafeState.toggleTodo', { id: done.id, done: true });
    const rows = (await diagnostics()).rows.filter((row) => row.label.startsWith('no icon'));
    assert.deepEqual(
      rows.map((row) => [row.label, row.checked, row.icon]),
      [
        ['no icon, open', false, undefined],
        ['no icon, done', true, undefined],
      ],
    );
    for (const todo of [open, done]) await remove(todo);
  });
});
