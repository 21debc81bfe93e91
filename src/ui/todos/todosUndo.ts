import * as vscode from 'vscode';
import type { TaskEdit } from '../../state/taskEdits';
import type { Task } from '../../state/tasksSchema';
import { TODOS_CAN_UNDO_CONTEXT_KEY } from '../commandIds';
import type { TasksModel } from './todosModel';

/** A removed to-do and the ids that followed it, so an undo can put it back at its place. */
export interface RemovedTask {
  task: Task;
  following: readonly string[];
}

/** One Delete or Clear Done: its to-dos in list order. */
type Removal = readonly RemovedTask[];

/** Runs an edit, turning a refusal into a message for the user and `undefined`. */
type Guard = <T>(run: () => T | Promise<T>) => Promise<T | undefined>;

/**
 * The edits that put removed to-dos back where they were: each just before the first of the to-dos that followed
 * it (`following`, in the old order) that is in the list, or last. Restored from the end, so neighbours removed
 * together land in their old order. A to-do that is back already is left alone.
 */
export function restoreEdits(shown: readonly Task[], removed: Removal): TaskEdit[] {
  const present = new Set(shown.map((task) => task.id));
  const edits: TaskEdit[] = [];
  for (const { task, following } of [...removed].reverse()) {
    if (present.has(task.id)) continue;
    edits.push({ kind: 'add', task: structuredClone(task) });
    edits.push({ kind: 'move', id: task.id, beforeId: following.find((id) => present.has(id)) ?? null });
    present.add(task.id);
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
    private readonly model: TasksModel,
    private readonly guard: Guard,
  ) {}

  /** Removes `tasks`, remembering for each the to-dos that followed it, and offers Undo with `message`. */
  remove(tasks: readonly Task[], message: string): Task[] {
    const order = this.model.tasks.map((task) => task.id);
    const removal = tasks.map((task) => ({
      task: structuredClone(task),
      following: order.slice(order.indexOf(task.id) + 1),
    }));
    removal.sort((a, b) => order.indexOf(a.task.id) - order.indexOf(b.task.id));
    this.model.apply(removal.map(({ task }): TaskEdit => ({ kind: 'remove', id: task.id })));
    this.last = removal;
    void vscode.commands.executeCommand('setContext', TODOS_CAN_UNDO_CONTEXT_KEY, true);
    const undo = vscode.l10n.t('Undo');
    void vscode.window.showInformationMessage(message, undo).then((choice) => {
      if (choice === undo) void this.guard(() => this.undo(removal));
    });
    return removal.map(({ task }) => task);
  }

  /** Puts a removal back (default: the last one); returns its to-dos, or undefined when there is none. */
  undo(removal: Removal | undefined = this.last): Task[] | undefined {
    if (!removal) {
      void vscode.window.showInformationMessage(vscode.l10n.t('There is no removed to-do to put back.'));
      return undefined;
    }
    if (removal === this.last) {
      this.last = undefined;
      void vscode.commands.executeCommand('setContext', TODOS_CAN_UNDO_CONTEXT_KEY, false);
    }
    this.model.apply(restoreEdits(this.model.tasks, removal));
    return removal.map(({ task }) => task);
  }
}
