import * as vscode from 'vscode';
import { messageOf } from '../../core/errors';
import { addTaskEdit, cleanTitle, type TaskUpdate, updateTaskEdit } from '../../state/taskEdits';
import type { Task } from '../../state/tasksSchema';
import { CommandId, LEGACY_TODO_COMMAND_IDS } from '../commandIds';
import {
  openFolderForTodosMessage,
  type TasksModel,
  type TasksState,
  TasksUnavailableError,
  unknownTodoMessage,
} from './todosModel';
import { type RecoverTasksArgs, recoverTodos, registerTodoBackupContent } from './todosRecovery';
import { TodoRemovals } from './todosUndo';
import { isTaskNode, type TaskNode, type TasksView } from './todosView';

/** `crashSafeState.addTodo` arguments: a title skips the input box. */
export interface AddTaskArgs {
  title?: string;
  notes?: string;
}

/** Arguments for the per-to-do commands when driven without the view: the to-do's id plus what to set. */
export interface TaskArgs {
  id: string;
  title?: string;
  notes?: string;
  done?: boolean;
}

export interface TaskCommandDeps {
  model: TasksModel;
  view: TasksView;
  log: vscode.LogOutputChannel;
}

/** A command's first argument: the clicked row, an args object, or nothing (then the view's selection). */
type Target = TaskNode | TaskArgs | undefined;

/**
 * Registers the to-do commands (and their pre-rename ids); each returns its result (the to-do(s) as they will be
 * saved) for callers and tests.
 */
export function registerTaskCommands(context: vscode.ExtensionContext, deps: TaskCommandDeps): void {
  const handlers = new Map<CommandId, (...args: never[]) => unknown>();
  const register = (id: CommandId, run: (...args: never[]) => unknown) => {
    handlers.set(id, run);
    context.subscriptions.push(vscode.commands.registerCommand(id, run));
  };
  const { model } = deps;
  const removals = new TodoRemovals(model, (run) => guarded(deps, run));

  register(CommandId.AddTodo, (args?: AddTaskArgs) => guarded(deps, () => addTodo(deps, args)));
  register(CommandId.EditTodo, (target?: Target) =>
    guarded(deps, async () => {
      const task = resolveTask(deps, target);
      if (!task) return undefined;
      const title = hasArg(target, 'title') ? target.title : await askTitle(task.title);
      return title === undefined ? undefined : update(model, task.id, { title });
    }),
  );
  register(CommandId.EditTodoNotes, (target?: Target) =>
    guarded(deps, async () => {
      const task = resolveTask(deps, target);
      if (!task) return undefined;
      const notes = hasArg(target, 'notes') ? target.notes : await askNotes(task);
      return notes === undefined ? undefined : update(model, task.id, { notes });
    }),
  );
  register(CommandId.ToggleTodo, (target?: Target, selected?: readonly TaskNode[]) =>
    guarded(deps, () => {
      const tasks = resolveTasks(deps, target, selected);
      if (tasks.length === 0) return [];
      const shown = model.apply(
        tasks.map((task) => updateTaskEdit(task.id, { done: hasArg(target, 'done') ? target.done : !task.done })),
      );
      return tasks.map((task) => shown.find((candidate) => candidate.id === task.id)!);
    }),
  );
  register(CommandId.DeleteTodo, (target?: Target, selected?: readonly TaskNode[]) =>
    guarded(deps, () => {
      const tasks = resolveTasks(deps, target, selected);
      if (tasks.length === 0) return [];
      const message =
        tasks.length === 1
          ? vscode.l10n.t({
              message: 'Deleted the to-do "{0}".',
              args: [tasks[0]!.title],
              comment: ['{0} is the title the user gave the to-do.'],
            })
          : vscode.l10n.t('Deleted {0} to-dos.', tasks.length);
      return removals.remove(tasks, message);
    }),
  );
  register(CommandId.ClearDoneTodos, () =>
    guarded(deps, () => {
      model.assertEditable();
      const done = model.tasks.filter((task) => task.done);
      if (done.length === 0) {
        void vscode.window.showInformationMessage(vscode.l10n.t('No to-do is done yet: nothing to clear.'));
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
  register(CommandId.UndoTodoRemoval, () => guarded(deps, () => removals.undo()));
  register(CommandId.MoveTodoUp, (target?: Target) => guarded(deps, () => moveBy(deps, target, -1)));
  register(CommandId.MoveTodoDown, (target?: Target) => guarded(deps, () => moveBy(deps, target, 1)));
  register(CommandId.ReloadTodos, async (): Promise<TasksState> => {
    await model.reload();
    return model.state;
  });
  register(CommandId.OpenTodoFile, () => openTasksFile(model));
  register(CommandId.RecoverTodos, (args?: RecoverTasksArgs) => recoverTodos(deps, args));
  registerTodoBackupContent(context);

  // The ids before the rename keep working (keybindings, scripts); they are not in the Command Palette.
  for (const [legacy, id] of Object.entries(LEGACY_TODO_COMMAND_IDS)) {
    const run = handlers.get(id);
    if (run) context.subscriptions.push(vscode.commands.registerCommand(legacy, run));
  }
}

/** Queues a change of one to-do; returns it as it will be saved. */
function update(model: TasksModel, id: string, change: Pick<TaskUpdate, 'title' | 'notes' | 'done'>): Task {
  return model.apply([updateTaskEdit(id, change)]).find((task) => task.id === id)!;
}

/** True for an args object (not a row of the view). */
function isTaskArgs(target: Target): target is TaskArgs {
  return typeof target === 'object' && target !== null && !('kind' in target) && typeof target.id === 'string';
}

function hasArg<K extends keyof TaskArgs>(target: Target, key: K): target is TaskArgs & Required<Pick<TaskArgs, K>> {
  return isTaskArgs(target) && target[key] !== undefined;
}

/** Runs an edit, turning a refusal (unusable file, unknown id, empty title) into an error message and `undefined`. */
async function guarded<T>(deps: TaskCommandDeps, run: () => T | Promise<T>): Promise<T | undefined> {
  try {
    return await run();
  } catch (error) {
    const message = messageOf(error);
    deps.log.warn(`To-do command refused: ${message}`);
    deps.view.reportRefusal(message, error instanceof TasksUnavailableError ? error.state : deps.model.state);
    return undefined;
  }
}

async function addTodo({ model }: TaskCommandDeps, args: AddTaskArgs = {}): Promise<Task | undefined> {
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
  const edit = addTaskEdit(title, { notes: args.notes, taken: model.tasks.map((task) => task.id) });
  model.apply([edit]);
  return edit.task;
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

function askNotes(task: Task): Thenable<string | undefined> {
  return vscode.window.showInputBox({
    title: vscode.l10n.t({
      message: 'Notes for "{0}"',
      args: [task.title],
      comment: ['{0} is the title the user gave the to-do.'],
    }),
    value: task.notes ?? '',
    prompt: vscode.l10n.t('Leave empty to remove the notes.'),
  });
}

/** The to-do a command acts on: the clicked row, the args' id, or the single selected row. */
function resolveTask(deps: TaskCommandDeps, target: Target): Task | undefined {
  return resolveTasks(deps, target, undefined)[0];
}

/** Every to-do a command acts on: the selection when the clicked row is part of it, else the one target. */
function resolveTasks(deps: TaskCommandDeps, target: Target, selected: readonly TaskNode[] | undefined): Task[] {
  const { model } = deps;
  const byId = (id: string) => {
    const task = model.tasks.find((candidate) => candidate.id === id);
    if (!task) throw new TasksUnavailableError(unknownTodoMessage(id), model.state);
    return task;
  };
  if (isTaskNode(target)) {
    const many = (selected ?? []).filter(isTaskNode);
    const ids = many.some((node) => node.task.id === target.task.id)
      ? many.map((node) => node.task.id)
      : [target.task.id];
    return ids.map(byId);
  }
  if (isTaskArgs(target)) return [byId(target.id)];
  return deps.view.selection().map((node) => byId(node.task.id));
}

function moveBy(deps: TaskCommandDeps, target: Target, direction: -1 | 1): readonly Task[] | undefined {
  const task = resolveTask(deps, target);
  if (!task) return undefined;
  const tasks = deps.model.tasks;
  const index = tasks.findIndex((candidate) => candidate.id === task.id);
  const neighbour = tasks[index + direction];
  if (!neighbour) return tasks;
  // Up: before the to-do above. Down: before the to-do two below (last when there is none).
  const beforeId = direction === -1 ? neighbour.id : (tasks[index + 2]?.id ?? null);
  return deps.model.apply([{ kind: 'move', id: task.id, beforeId }]);
}

async function openTasksFile(model: TasksModel): Promise<void> {
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
