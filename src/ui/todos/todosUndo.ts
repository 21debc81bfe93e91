import * as vscode from 'vscode';
import type { TodoEdit } from '../../state/todoEdits';
import type { Todo } from '../../state/todosSchema';
import { TODOS_CAN_UNDO_CONTEXT_KEY } from '../commandIds';
import type { TodosModel } from './todosModel';

/** A removed to-do and the ids that followed it, so an undo can put it back at its place. */
export interface RemovedTodo {
  todo: Todo;
  following: readonly string[];
}

/** One Delete or Clear Done: its to-dos in list order. */
type Removal = readonly RemovedTodo[];

/** Runs an edit, turning a refusal into a message for the user and `undefined`. */
type Guard = <T>(run: () => T | Promise<T>) => Promise<T | undefined>;

/**
 * The edits that put removed to-dos back where they were: each just before the first of the to-dos that followed
 * it (`following`, in the old order) that is in the list, or last. Restored from the end, so neighbours removed
 * together land in their old order. A to-do that is back already is left alone.
 */
export function restoreEdits(shown: readonly Todo[], removed: Removal): TodoEdit[] {
  const present = new Set(shown.map((todo) => todo.id));
  const edits: TodoEdit[] = [];
  for (const { todo, following } of [...removed].reverse()) {
    if (present.has(todo.id)) continue;
    edits.push({ kind: 'add', todo: structuredClone(todo) });
    edits.push({ kind: 'move', id: todo.id, beforeId: following.find((id) => present.has(id)) ?? null });
    present.add(todo.id);
  }
  return edits;
}

/**
 * Delete and Clear Done with Undo. Each removal's notification undoes that removal, even after a later one; the
 * Undo command (and its context key) undoes the last.
 */
export class TodoRemovals {
  private last: Removal | undefined;

  constructor(
    private readonly model: TodosModel,
    private readonly guard: Guard,
  ) {}

  /** Removes `todos`, remembering for each the to-dos that followed it, and offers Undo with `message`. */
  remove(todos: readonly Todo[], message: string): Todo[] {
    const order = this.model.todos.map((todo) => todo.id);
    const removal = todos.map((todo) => ({
      todo: structuredClone(todo),
      following: order.slice(order.indexOf(todo.id) + 1),
    }));
    removal.sort((a, b) => order.indexOf(a.todo.id) - order.indexOf(b.todo.id));
    this.model.apply(removal.map(({ todo }): TodoEdit => ({ kind: 'remove', id: todo.id })));
    this.last = removal;
    void vscode.commands.executeCommand('setContext', TODOS_CAN_UNDO_CONTEXT_KEY, true);
    const undo = vscode.l10n.t('Undo');
    void vscode.window.showInformationMessage(message, undo).then((choice) => {
      if (choice === undo) void this.guard(() => this.undo(removal));
    });
    return removal.map(({ todo }) => todo);
  }

  /** Puts a removal back (default: the last one); returns its to-dos, or undefined when there is none. */
  undo(removal: Removal | undefined = this.last): Todo[] | undefined {
    if (!removal) {
      void vscode.window.showInformationMessage(vscode.l10n.t('There is no removed to-do to put back.'));
      return undefined;
    }
    if (removal === this.last) {
      this.last = undefined;
      void vscode.commands.executeCommand('setContext', TODOS_CAN_UNDO_CONTEXT_KEY, false);
    }
    this.model.apply(restoreEdits(this.model.todos, removal));
    return removal.map(({ todo }) => todo);
  }
}
