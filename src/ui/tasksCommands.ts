import { basename } from 'node:path';
import * as vscode from 'vscode';
import type { Task } from '../state/tasksSchema';
import type { TasksRecoveryResult } from '../state/tasksStore';
import { CommandId } from './commandIds';
import { type TaskChange, type TasksModel, type TasksState, TasksUnavailableError } from './tasksModel';
import { isTaskNode, showTasksError, type TaskNode, type TasksView } from './tasksView';

/** `crashSafeState.addTask` arguments: a title skips the input box. */
export interface AddTaskArgs {
  title?: string;
  notes?: string;
}

/** Arguments for the per-task commands when driven without the view: the task's id plus what to set. */
export interface TaskArgs {
  id: string;
  title?: string;
  notes?: string;
  done?: boolean;
}

/** `crashSafeState.recoverTasks` arguments: a candidate id (file name) or `confirm` skips the Quick Pick. */
export interface RecoverTasksArgs {
  candidate?: string;
  confirm?: boolean;
}

export interface TaskCommandDeps {
  model: TasksModel;
  view: TasksView;
  log: vscode.LogOutputChannel;
}

/** A command's first argument: the clicked row, an args object, or nothing (then the view's selection). */
type Target = TaskNode | TaskArgs | undefined;

/** Registers the Tasks commands; each returns its result (the task(s) as they will be saved) for callers and tests. */
export function registerTaskCommands(context: vscode.ExtensionContext, deps: TaskCommandDeps): void {
  const register = (id: CommandId, run: (...args: never[]) => unknown) =>
    context.subscriptions.push(vscode.commands.registerCommand(id, run));
  const { model } = deps;

  register(CommandId.AddTask, (args?: AddTaskArgs) => guarded(deps, () => addTask(deps, args)));
  register(CommandId.EditTask, (target?: Target) =>
    guarded(deps, async () => {
      const task = resolveTask(deps, target);
      if (!task) return undefined;
      const title = hasArg(target, 'title') ? target.title : await askTitle(task.title);
      return title === undefined ? undefined : model.update(task.id, { title });
    }),
  );
  register(CommandId.EditTaskNotes, (target?: Target) =>
    guarded(deps, async () => {
      const task = resolveTask(deps, target);
      if (!task) return undefined;
      const notes = hasArg(target, 'notes') ? target.notes : await askNotes(task);
      return notes === undefined ? undefined : model.update(task.id, { notes });
    }),
  );
  register(CommandId.ToggleTask, (target?: Target, selected?: readonly TaskNode[]) =>
    guarded(deps, () =>
      resolveTasks(deps, target, selected).map((task) => {
        const change: TaskChange = { done: hasArg(target, 'done') ? target.done : !task.done };
        return model.update(task.id, change);
      }),
    ),
  );
  register(CommandId.DeleteTask, (target?: Target, selected?: readonly TaskNode[]) =>
    guarded(deps, () => resolveTasks(deps, target, selected).map((task) => model.remove(task.id))),
  );
  register(CommandId.MoveTaskUp, (target?: Target) => guarded(deps, () => moveBy(deps, target, -1)));
  register(CommandId.MoveTaskDown, (target?: Target) => guarded(deps, () => moveBy(deps, target, 1)));
  register(CommandId.ReloadTasks, async (): Promise<TasksState> => {
    await model.reload();
    return model.state;
  });
  register(CommandId.OpenTasksFile, () => openTasksFile(model));
  register(CommandId.RecoverTasks, (args?: RecoverTasksArgs) => recoverTasks(deps, args));
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
    const message = error instanceof Error ? error.message : String(error);
    deps.log.warn(`Task command refused: ${message}`);
    void showTasksError(message, error instanceof TasksUnavailableError ? error.state : deps.model.state);
    return undefined;
  }
}

async function addTask({ model }: TaskCommandDeps, args: AddTaskArgs = {}): Promise<Task | undefined> {
  // Checked before asking, so nobody types a title only to be told the file is unusable.
  model.assertEditable();
  const title =
    args.title ??
    (await vscode.window.showInputBox({
      title: 'Add Task',
      prompt: 'The task is saved to the workspace task list automatically.',
      placeHolder: 'What needs doing?',
      validateInput: (value) => (value.trim().length === 0 ? 'A task needs a title' : undefined),
    }));
  if (title === undefined) return undefined;
  return model.add(title, args.notes);
}

function askTitle(current: string): Thenable<string | undefined> {
  return vscode.window.showInputBox({
    title: 'Edit Task',
    value: current,
    validateInput: (value) => (value.trim().length === 0 ? 'A task needs a title' : undefined),
  });
}

function askNotes(task: Task): Thenable<string | undefined> {
  return vscode.window.showInputBox({
    title: `Notes for "${task.title}"`,
    value: task.notes ?? '',
    prompt: 'Leave empty to remove the notes.',
  });
}

/** The task a command acts on: the clicked row, the args' id, or the single selected row. */
function resolveTask(deps: TaskCommandDeps, target: Target): Task | undefined {
  return resolveTasks(deps, target, undefined)[0];
}

/** Every task a command acts on: the selection when the clicked row is part of it, else the one target. */
function resolveTasks(deps: TaskCommandDeps, target: Target, selected: readonly TaskNode[] | undefined): Task[] {
  const { model } = deps;
  const byId = (id: string) => {
    const task = model.tasks.find((candidate) => candidate.id === id);
    if (!task) throw new TasksUnavailableError(`No task with id "${id}" in the list (it may have been removed elsewhere).`, model.state);
    return task;
  };
  if (isTaskNode(target)) {
    const many = (selected ?? []).filter(isTaskNode);
    const ids = many.some((node) => node.task.id === target.task.id) ? many.map((node) => node.task.id) : [target.task.id];
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
  // Up: before the task above. Down: before the task two below (last when there is none).
  const beforeId = direction === -1 ? neighbour.id : (tasks[index + 2]?.id ?? null);
  return deps.model.move(task.id, beforeId);
}

async function openTasksFile(model: TasksModel): Promise<void> {
  const path = model.path;
  if (!path) {
    void vscode.window.showInformationMessage('Open a folder to keep a task list.');
    return;
  }
  const uri = vscode.Uri.file(path);
  const exists = await vscode.workspace.fs.stat(uri).then(
    () => true,
    () => false,
  );
  if (!exists) {
    void vscode.window.showInformationMessage(`${basename(path)} does not exist yet: add a task first.`);
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

async function recoverTasks(deps: TaskCommandDeps, args: RecoverTasksArgs = {}): Promise<TasksRecoveryResult | undefined> {
  const { model, log } = deps;
  if (model.state.kind !== 'problem') {
    void vscode.window.showInformationMessage('The task list is readable; there is nothing to recover.');
    return undefined;
  }
  let candidateId = args.candidate;
  try {
    if (candidateId === undefined && !args.confirm) {
      const candidates = await model.recoveryCandidates();
      const usable = candidates.filter((candidate) => candidate.problem === undefined);
      if (usable.length === 0) {
        const choice = await vscode.window.showErrorMessage(
          `No backup or temp file holds a usable task list (${candidates.length} unusable). Fix ${basename(model.path ?? 'tasks.json')} by hand.`,
          'Open File',
        );
        if (choice) await vscode.commands.executeCommand(CommandId.OpenTasksFile);
        return undefined;
      }
      const pick = await vscode.window.showQuickPick(
        usable.map((candidate) => ({
          label: candidate.id,
          description: `${candidate.kind === 'backup' ? 'backup' : 'leftover temp file'} · ${candidate.taskCount} task${candidate.taskCount === 1 ? '' : 's'}`,
          detail: `saved ${new Date(candidate.modifiedAt).toLocaleString()}`,
          candidate,
        })),
        {
          title: 'Recover the task list from…',
          placeHolder: 'The damaged file is kept in backups/ before it is replaced',
        },
      );
      if (!pick) return undefined;
      candidateId = pick.candidate.id;
    }
    const result = await model.recover(candidateId);
    void vscode.window.showInformationMessage(
      `Recovered ${result.document.tasks.length} task(s) from ${result.restoredFrom.id}.` +
        (result.preservedAs ? ` The damaged file was kept as ${basename(result.preservedAs)}.` : ''),
    );
    return result;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log.error(`Task list recovery failed: ${message}`);
    void vscode.window.showErrorMessage(message);
    return undefined;
  }
}
