// The To-Dos view driven by keys: Delete runs the command with no argument (VS Code passes no row), so it acts on
// the view's selection. After a delete the row that took the deleted one's place is selected, and a Delete pressed
// while the tree is still catching up (VS Code maps no selected row to a to-do until it fetched the rows again)
// acts on it: never a silent no-op.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { Todo } from '../../../src/state/todosSchema';
import type { CrashSafeStateApi, TodosDiagnostics } from '../../../src/ui/api';
import { waitFor } from './waiting';

const EXTENSION_ID = 'crash-safe-state.crash-safe-state';

async function diagnostics(): Promise<TodosDiagnostics> {
  const extension = vscode.extensions.getExtension<CrashSafeStateApi>(EXTENSION_ID)!;
  return (await extension.activate()).diagnostics.todos();
}

const add = (title: string) => vscode.commands.executeCommand<Todo>('crashSafeState.addTodo', { title });
/** What the Delete key runs: the command with no argument. */
const pressDelete = () => vscode.commands.executeCommand<Todo[] | undefined>('crashSafeState.deleteTodo');

suite('the To-Dos view by keys: Delete twice in a row', () => {
  suiteSetup(async () => {
    await waitFor('the list to load', async () => (await diagnostics()).state.kind === 'ok');
  });

  test('Delete on a row, then at once the Delete key (no argument): the row that took its place goes too', async function () {
    this.timeout(60_000);
    const added: Todo[] = [];
    for (const title of ['keys A', 'keys B', 'keys C', 'keys D']) added.push(await add(title));
    // The view shown, as the Explorer shows it; the first Delete from B's row (its inline button passes the row).
    await vscode.commands.executeCommand('crashSafeState.todos.focus');
    await waitFor('the view to show them', async () =>
      (await diagnostics()).rows.some((row) => row.label === 'keys D'),
    );
    // The tree has fetched and drawn its rows (the view's own visibility reaches the extension host a moment later).
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const b = added[1]!;
    const first = await vscode.commands.executeCommand<Todo[]>('crashSafeState.deleteTodo', { kind: 'todo', todo: b });
    // At once the Delete key: no argument, so the command acts on the selection, while the tree is catching up.
    const second = await pressDelete();
    const left = (await diagnostics()).tasks.map((todo) => todo.title).filter((title) => title.startsWith('keys '));
    assert.deepEqual(
      [first?.map((todo) => todo.title), second?.map((todo) => todo.title), left],
      [['keys B'], ['keys C'], ['keys A', 'keys D']],
      'the second Delete acted on the row that took the first one’s place',
    );
    for (const todo of added.filter((todo) => left.includes(todo.title))) {
      await vscode.commands.executeCommand('crashSafeState.deleteTodo', { id: todo.id });
    }
  });
});
