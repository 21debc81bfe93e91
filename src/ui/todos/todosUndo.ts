import * as vscode from 'vscode';
import type { TodoEdit } from '../../state/todoEdits';
import type { Todo } from '../../state/todosSchema';
import { CommandId, TODOS_CAN_UNDO_CONTEXT_KEY } from '../commandIds';
import { showResult } from '../resultToasts';
import type { TodosModel } from './todosModel';

/** A removed to-do and the ids that followed it, so an undo can put it back at its place. */
export interface RemovedTodo {
  todo: Todo;
  following: readonly string[];
}

/** One Delete or Clear Done: its to-dos in list order. */
type Removal = readonly RemovedTodo[];

/** One step of the undo stack: a removal, the list it was made in, and whether it has been undone. */
interface UndoStep {
  /** Counts up from 1 in this window; the step's notification names it when it runs the Undo command. */
  id: number;
  path: string | undefined;
  removal: Removal;
  undone: boolean;
}

/** A step as diagnostics report it. */
export interface UndoStepInfo {
  id: number;
  titles: string[];
}

/** `crashSafeState.undoTodoRemoval` arguments: the step a removal's notification undoes (default: the last one). */
export interface UndoTodoArgs {
  step: number;
}

/** How many removals Undo can take back, newest first; older ones can still be undone from their notification. */
export const UNDO_DEPTH = 50;

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
 * Delete and Clear Done with Undo: a stack of the last UNDO_DEPTH removals. The Undo command (Ctrl+Z in the view)
 * takes back the newest step not yet undone; each removal's notification takes back its own step, even after later
 * ones, and says so when that step was undone already. Every undo says what it put back.
 */
export class TodoRemovals {
  private readonly steps: UndoStep[] = [];
  /** Every step by id, also those pushed off the stack, so their notifications keep working. */
  private readonly byId = new Map<number, UndoStep>();
  private nextId = 1;

  constructor(
    private readonly model: TodosModel,
    private readonly guard: Guard,
  ) {}

  /** The steps Undo can take back, newest first. */
  get stack(): UndoStepInfo[] {
    return [...this.steps]
      .reverse()
      .map((step) => ({ id: step.id, titles: step.removal.map(({ todo }) => todo.title) }));
  }

  /** Removes `todos`, remembering for each the to-dos that followed it, and offers Undo with `message`. */
  remove(todos: readonly Todo[], message: string): Todo[] {
    const order = this.model.todos.map((todo) => todo.id);
    const removal = todos.map((todo) => ({
      todo: structuredClone(todo),
      following: order.slice(order.indexOf(todo.id) + 1),
    }));
    removal.sort((a, b) => order.indexOf(a.todo.id) - order.indexOf(b.todo.id));
    this.model.apply(removal.map(({ todo }): TodoEdit => ({ kind: 'remove', id: todo.id })));
    const step: UndoStep = { id: this.nextId++, path: this.model.path, removal, undone: false };
    this.byId.set(step.id, step);
    this.steps.push(step);
    if (this.steps.length > UNDO_DEPTH) this.steps.shift();
    this.updateContext();
    const undo = vscode.l10n.t('Undo');
    void showResult(message, undo).then((choice) => {
      const args: UndoTodoArgs = { step: step.id };
      if (choice === undo) void vscode.commands.executeCommand(CommandId.UndoTodoRemoval, args);
    });
    return removal.map(({ todo }) => todo);
  }

  /**
   * Puts a removal back: the step `args` names (a notification's), else the newest step not yet undone. Returns
   * the to-dos put back ([] when none needed it), or undefined when there was no step to undo.
   */
  async undo(args?: UndoTodoArgs): Promise<Todo[] | undefined> {
    const step = args === undefined ? this.steps.at(-1) : this.byId.get(args.step);
    if (!step) {
      void showResult(vscode.l10n.t('There is no removed to-do to put back.'));
      return undefined;
    }
    if (step.undone) {
      void showResult(vscode.l10n.t('That removal was undone already.'));
      return [];
    }
    if (step.path !== this.model.path) {
      void showResult(vscode.l10n.t('That removal was made in another to-do list; nothing was put back.'));
      return undefined;
    }
    const restored = await this.guard(() => {
      const present = new Set(this.model.todos.map((todo) => todo.id));
      this.model.apply(restoreEdits(this.model.todos, step.removal));
      return step.removal.map(({ todo }) => todo).filter((todo) => !present.has(todo.id));
    });
    // Refused (an unusable file): the step stays, so Undo can be tried again once the file is usable.
    if (restored === undefined) return undefined;
    step.undone = true;
    const at = this.steps.indexOf(step);
    if (at >= 0) this.steps.splice(at, 1);
    this.updateContext();
    void showResult(undoneMessage(restored, step.removal.length));
    return restored;
  }

  private updateContext(): void {
    void vscode.commands.executeCommand('setContext', TODOS_CAN_UNDO_CONTEXT_KEY, this.steps.length > 0);
  }
}

/** What an undo did: the to-dos put back, and how many of the step were in the list already. */
function undoneMessage(restored: readonly Todo[], total: number): string {
  if (restored.length === 0) return vscode.l10n.t('Nothing to put back: those to-dos are in the list already.');
  if (restored.length < total) {
    return vscode.l10n.t({
      message: 'Put back {0} of {1} to-dos; the others are in the list already.',
      args: [restored.length, total],
      comment: ['{0} to-dos were put back; {1} were removed by the step being undone.'],
    });
  }
  return restored.length === 1
    ? vscode.l10n.t({
        message: 'Put back the to-do "{0}".',
        args: [restored[0]!.title],
        comment: ['{0} is the title the user gave the to-do.'],
      })
    : vscode.l10n.t('Put back {0} to-dos.', restored.length);
}
