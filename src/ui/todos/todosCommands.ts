import * as vscode from 'vscode';
import { messageOf } from '../../core/errors';
import { addTodoEdit, cleanTitle, type TodoUpdate, updateTodoEdit } from '../../state/todoEdits';
import type { Todo } from '../../state/todosSchema';
import { CommandId, LEGACY_TODO_COMMAND_IDS } from '../commandIds';
import { showResult } from '../resultToasts';
import {
  openFolderForTodosMessage,
  type TodosModel,
  type TodosState,
  TodosUnavailableError,
  unknownTodoMessage,
} from './todosModel';
import { type RecoverTodosArgs, recoverTodosCommand, registerTodoBackupContent } from './todosRecovery';
import { TodoRemovals, type UndoStepInfo, type UndoTodoArgs } from './todosUndo';
import { isTodoNode, type TodoNode, type TodosView } from './todosView';

/** `crashSafeState.addTodo` arguments: a title skips the input box. */
export interface AddTodoArgs {
  title?: string;
  notes?: string;
}

/** Arguments for the per-to-do commands when driven without the view: the to-do's id plus what to set. */
export interface TodoArgs {
  id: string;
  title?: string;
  notes?: string;
  done?: boolean;
}

export interface TodoCommandDeps {
  model: TodosModel;
  view: TodosView;
  log: vscode.LogOutputChannel;
}

/**
 * A command's first argument: the clicked row, the focused row (a key; null when VS Code has none), an args object,
 * or nothing (then the view's selection).
 */
type Target = TodoNode | TodoArgs | null | undefined;

/**
 * Registers the to-do commands (and their pre-rename ids); each returns its result (the to-do(s) as they will be
 * saved) for callers and tests.
 */
export function registerTodoCommands(
  context: vscode.ExtensionContext,
  deps: TodoCommandDeps,
): { undoStack: () => UndoStepInfo[] } {
  const handlers = new Map<CommandId, (...args: never[]) => unknown>();
  const register = (id: CommandId, run: (...args: never[]) => unknown) => {
    handlers.set(id, run);
    context.subscriptions.push(vscode.commands.registerCommand(id, run));
  };
  const { model } = deps;
  const removals = new TodoRemovals(model, (run) => guarded(deps, run));

  register(CommandId.AddTodo, (args?: AddTodoArgs) => guarded(deps, () => addTodo(deps, args)));
  register(CommandId.EditTodo, (target?: Target) =>
    guarded(deps, async () => {
      const todo = await resolveTodo(deps, target);
      if (!todo) return undefined;
      const title = hasArg(target, 'title') ? target.title : await askTitle(todo.title);
      return title === undefined ? undefined : update(model, todo.id, { title });
    }),
  );
  register(CommandId.EditTodoNotes, (target?: Target) =>
    guarded(deps, async () => {
      const todo = await resolveTodo(deps, target);
      if (!todo) return undefined;
      const notes = hasArg(target, 'notes') ? target.notes : await askNotes(todo);
      return notes === undefined ? undefined : update(model, todo.id, { notes });
    }),
  );
  register(CommandId.ToggleTodo, (target?: Target, selected?: readonly TodoNode[]) =>
    guarded(deps, async () => {
      const todos = await resolveTodos(deps, target, selected);
      if (todos.length === 0) return [];
      const shown = model.apply(
        todos.map((todo) => updateTodoEdit(todo.id, { done: hasArg(target, 'done') ? target.done : !todo.done })),
      );
      return todos.map((todo) => shown.find((candidate) => candidate.id === todo.id)!);
    }),
  );
  register(CommandId.DeleteTodo, (target?: Target, selected?: readonly TodoNode[]) =>
    guarded(deps, async () => {
      const todos = await resolveTodos(deps, target, selected);
      if (todos.length === 0) return [];
      const message =
        todos.length === 1
          ? vscode.l10n.t({
              message: 'Deleted the to-do "{0}".',
              args: [todos[0]!.title],
              comment: ['{0} is the title the user gave the to-do.'],
            })
          : vscode.l10n.t('Deleted {0} to-dos.', todos.length);
      const before = model.todos;
      const removed = removals.remove(todos, message);
      // From the view (a row, a key, the palette), not a script naming ids: the next row is selected for the next key.
      if (!isTodoArgs(target))
        deps.view.selectAfterRemoval(
          before,
          removed.map((todo) => todo.id),
        );
      return removed;
    }),
  );
  register(CommandId.ClearDoneTodos, () =>
    guarded(deps, () => {
      model.assertEditable();
      const done = model.todos.filter((todo) => todo.done);
      if (done.length === 0) {
        void showResult(vscode.l10n.t('No to-do is done yet: nothing to clear.'));
        return [];
      }
      return removals.remove(
        done,
        done.length === 1
          ? vscode.l10n.t('Cleared 1 done to-do.')
          : vscode.l10n.t('Cleared {0} done to-dos.', done.length),
      );
    }),
  );
  register(CommandId.UndoTodoRemoval, (args?: UndoTodoArgs) => removals.undo(isUndoArgs(args) ? args : undefined));
  register(CommandId.MoveTodoUp, (target?: Target) => guarded(deps, () => moveBy(deps, target, -1)));
  register(CommandId.MoveTodoDown, (target?: Target) => guarded(deps, () => moveBy(deps, target, 1)));
  register(CommandId.ReloadTodos, async (): Promise<TodosState> => {
    await model.reload();
    return model.state;
  });
  register(CommandId.OpenTodoFile, () => openTodosFile(model));
  register(CommandId.RecoverTodos, (args?: RecoverTodosArgs) => recoverTodosCommand(deps, args));
  registerTodoBackupContent(context);

  // The ids before the rename keep working (keybindings, scripts); they are not in the Command Palette.
  for (const [legacy, id] of Object.entries(LEGACY_TODO_COMMAND_IDS)) {
    const run = handlers.get(id);
    if (run) context.subscriptions.push(vscode.commands.registerCommand(legacy, run));
  }
  return { undoStack: () => removals.stack };
}

/** Queues a change of one to-do; returns it as it will be saved. */
function update(model: TodosModel, id: string, change: Pick<TodoUpdate, 'title' | 'notes' | 'done'>): Todo {
  return model.apply([updateTodoEdit(id, change)]).find((todo) => todo.id === id)!;
}

/** Undo's own arguments (a notification's step); a keybinding or a row passes something else, meaning "the last". */
function isUndoArgs(value: unknown): value is UndoTodoArgs {
  return typeof value === 'object' && value !== null && typeof (value as { step?: unknown }).step === 'number';
}

/** True for an args object (not a row of the view). */
function isTodoArgs(target: Target): target is TodoArgs {
  return typeof target === 'object' && target !== null && !('kind' in target) && typeof target.id === 'string';
}

function hasArg<K extends keyof TodoArgs>(target: Target, key: K): target is TodoArgs & Required<Pick<TodoArgs, K>> {
  return isTodoArgs(target) && target[key] !== undefined;
}

/** Runs an edit, turning a refusal (unusable file, unknown id, empty title) into an error message and `undefined`. */
async function guarded<T>(deps: TodoCommandDeps, run: () => T | Promise<T>): Promise<T | undefined> {
  try {
    return await run();
  } catch (error) {
    const message = messageOf(error);
    deps.log.warn(`To-do command refused: ${message}`);
    deps.view.reportRefusal(message, error instanceof TodosUnavailableError ? error.state : deps.model.state);
    return undefined;
  }
}

async function addTodo({ model }: TodoCommandDeps, args: AddTodoArgs = {}): Promise<Todo | undefined> {
  // Checked before asking, so nobody types a title only to be told the file is unusable.
  model.assertEditable();
  const prompt = model.path
    ? vscode.l10n.t({
        message: 'Each change is saved to {0} automatically.',
        args: [vscode.workspace.asRelativePath(model.path)],
        comment: ['{0} is the to-do file.'],
      })
    : vscode.l10n.t('Each change is saved to the workspace automatically.');
  const title =
    args.title ??
    (await vscode.window.showInputBox({
      title: vscode.l10n.t('Add To-Do'),
      prompt,
      placeHolder: vscode.l10n.t('What needs doing?'),
      validateInput: titleProblem,
    }));
  if (title === undefined) return undefined;
  const edit = addTodoEdit(title, { notes: args.notes, taken: model.todos.map((todo) => todo.id) });
  model.apply([edit]);
  return edit.todo;
}

/** The input box's check: the same one the edit makes. */
function titleProblem(value: string): string | undefined {
  try {
    cleanTitle(value);
    return undefined;
  } catch (error) {
    return messageOf(error);
  }
}

function askTitle(current: string): Thenable<string | undefined> {
  return vscode.window.showInputBox({
    title: vscode.l10n.t('Edit To-Do'),
    value: current,
    validateInput: titleProblem,
  });
}

function askNotes(todo: Todo): Thenable<string | undefined> {
  return vscode.window.showInputBox({
    title: vscode.l10n.t({
      message: 'Notes for "{0}"',
      args: [todo.title],
      comment: ['{0} is the title the user gave the to-do.'],
    }),
    value: todo.notes ?? '',
    prompt: vscode.l10n.t('Leave empty to remove the notes.'),
  });
}

/** The to-do a command acts on: the clicked or focused row, the args' id, or the first selected row. */
async function resolveTodo(deps: TodoCommandDeps, target: Target): Promise<Todo | undefined> {
  return (await resolveTodos(deps, target, undefined))[0];
}

/**
 * Every to-do a command acts on: the selection when the clicked (or, from a key, focused) row is part of it, else
 * that row; an args object's id; with no row, the view's selection. No to-do to act on is said, never silent.
 */
async function resolveTodos(
  deps: TodoCommandDeps,
  target: Target,
  selected: readonly TodoNode[] | undefined,
): Promise<Todo[]> {
  const { model, view } = deps;
  const find = (id: string) => model.todos.find((candidate) => candidate.id === id);
  const byId = (id: string) => {
    const todo = find(id);
    if (!todo) throw new TodosUnavailableError(unknownTodoMessage(id), model.state);
    return todo;
  };
  // A key's focused row that a delete just removed, before the tree caught up: act on what the tree shows next.
  if (isTodoNode(target) && !find(target.todo.id) && view.settling) {
    await view.settled();
    target = undefined;
  }
  if (isTodoNode(target)) {
    const many = (selected ?? view.selection()).filter(isTodoNode);
    const ids = many.some((node) => node.todo.id === target.todo.id)
      ? many.map((node) => node.todo.id)
      : [target.todo.id];
    return ids.map(byId);
  }
  if (isTodoArgs(target)) return [byId(target.id)];
  // No row (a key VS Code passed none with, the Command Palette): the selection, read once the tree shows the rows
  // last given to it; meanwhile VS Code reports it empty, or with rows just removed.
  const present = () => view.selection().flatMap((node) => find(node.todo.id) ?? []);
  let todos = present();
  if (view.settling || todos.length === 0 || todos.length < view.selection().length) {
    await view.settled();
    todos = present();
  }
  if (todos.length === 0) void showResult(vscode.l10n.t('Select a to-do first.'));
  return todos;
}

async function moveBy(deps: TodoCommandDeps, target: Target, direction: -1 | 1): Promise<readonly Todo[] | undefined> {
  const todo = await resolveTodo(deps, target);
  if (!todo) return undefined;
  const todos = deps.model.todos;
  const index = todos.findIndex((candidate) => candidate.id === todo.id);
  const neighbour = todos[index + direction];
  if (!neighbour) return todos;
  // Up: before the to-do above. Down: before the to-do two below (last when there is none).
  const beforeId = direction === -1 ? neighbour.id : (todos[index + 2]?.id ?? null);
  return deps.model.apply([{ kind: 'move', id: todo.id, beforeId }]);
}

async function openTodosFile(model: TodosModel): Promise<void> {
  const path = model.path;
  if (!path) {
    void vscode.window.showInformationMessage(openFolderForTodosMessage());
    return;
  }
  const uri = vscode.Uri.file(path);
  const exists = await vscode.workspace.fs.stat(uri).then(
    () => true,
    () => false,
  );
  if (!exists) {
    void vscode.window.showInformationMessage(
      vscode.l10n.t({
        message: '{0} does not exist yet: add a to-do first.',
        args: [vscode.workspace.asRelativePath(path)],
        comment: ['{0} is the to-do file.'],
      }),
    );
    return;
  }
  const state = model.state;
  const position = state.kind === 'problem' ? state.problem.position : undefined;
  const editor = await vscode.window.showTextDocument(uri, { preview: false });
  if (position) {
    const at = new vscode.Position(position.line - 1, position.column - 1);
    editor.selection = new vscode.Selection(at, at);
    editor.revealRange(new vscode.Range(at, at), vscode.TextEditorRevealType.InCenter);
  }
}
