import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import * as vscode from 'vscode';
import { decodeTasksDocument, type Task } from '../../state/tasksSchema';
import type { TasksRecoveryCandidate, TasksRecoveryResult } from '../../state/tasksStore';
import { CommandId, LEGACY_TODO_COMMAND_IDS, TODO_BACKUP_SCHEME, TODOS_CAN_UNDO_CONTEXT_KEY } from '../commandIds';
import { type RemovedTask, type TaskChange, type TasksModel, type TasksState, TasksUnavailableError } from './todosModel';
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

/** `crashSafeState.recoverTodos` arguments: a candidate id (file name) or `confirm` skips the Quick Pick. */
export interface RecoverTasksArgs {
  candidate?: string;
  confirm?: boolean;
}

/** What Recover To-Do List… returns when the list is readable (say, from a notification shown before it was recovered). */
export interface NothingToRecover {
  alreadyUsable: true;
  message: string;
}

export interface TaskCommandDeps {
  model: TasksModel;
  view: TasksView;
  log: vscode.LogOutputChannel;
}

/** A command's first argument: the clicked row, an args object, or nothing (then the view's selection). */
type Target = TaskNode | TaskArgs | undefined;

/** The last removal (Delete or Clear Done), for Undo. */
interface Removal {
  removed: RemovedTask[];
}

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
  let lastRemoval: Removal | undefined;
  const removed = (removal: Removal, what: string) => {
    lastRemoval = removal;
    void vscode.commands.executeCommand('setContext', TODOS_CAN_UNDO_CONTEXT_KEY, true);
    // Each notification undoes its own removal, even after a later one.
    void vscode.window.showInformationMessage(what, 'Undo').then((choice) => {
      if (choice === 'Undo') void undo(removal);
    });
  };
  const undo = (removal: Removal | undefined) =>
    guarded(deps, () => {
      if (!removal) {
        void vscode.window.showInformationMessage('There is no removed to-do to put back.');
        return undefined;
      }
      if (removal === lastRemoval) {
        lastRemoval = undefined;
        void vscode.commands.executeCommand('setContext', TODOS_CAN_UNDO_CONTEXT_KEY, false);
      }
      model.restore(removal.removed);
      return removal.removed.map(({ task }) => task);
    });

  register(CommandId.AddTodo, (args?: AddTaskArgs) => guarded(deps, () => addTask(deps, args)));
  register(CommandId.EditTodo, (target?: Target) =>
    guarded(deps, async () => {
      const task = resolveTask(deps, target);
      if (!task) return undefined;
      const title = hasArg(target, 'title') ? target.title : await askTitle(task.title);
      return title === undefined ? undefined : model.update(task.id, { title });
    }),
  );
  register(CommandId.EditTodoNotes, (target?: Target) =>
    guarded(deps, async () => {
      const task = resolveTask(deps, target);
      if (!task) return undefined;
      const notes = hasArg(target, 'notes') ? target.notes : await askNotes(task);
      return notes === undefined ? undefined : model.update(task.id, { notes });
    }),
  );
  register(CommandId.ToggleTodo, (target?: Target, selected?: readonly TaskNode[]) =>
    guarded(deps, () =>
      resolveTasks(deps, target, selected).map((task) => {
        const change: TaskChange = { done: hasArg(target, 'done') ? target.done : !task.done };
        return model.update(task.id, change);
      }),
    ),
  );
  register(CommandId.DeleteTodo, (target?: Target, selected?: readonly TaskNode[]) =>
    guarded(deps, () => {
      const tasks = resolveTasks(deps, target, selected);
      if (tasks.length === 0) return [];
      const removal = removeAll(model, tasks);
      removed(removal, tasks.length === 1 ? `Deleted the to-do "${tasks[0]!.title}".` : `Deleted ${tasks.length} to-dos.`);
      return removal.removed.map(({ task }) => task);
    }),
  );
  register(CommandId.ClearDoneTodos, () =>
    guarded(deps, () => {
      model.assertEditable();
      const done = model.tasks.filter((task) => task.done);
      if (done.length === 0) {
        void vscode.window.showInformationMessage('No to-do is done yet: nothing to clear.');
        return [];
      }
      const removal = removeAll(model, done);
      removed(removal, `Cleared ${done.length} done to-do${done.length === 1 ? '' : 's'}.`);
      return removal.removed.map(({ task }) => task);
    }),
  );
  register(CommandId.UndoTodoRemoval, () => undo(lastRemoval));
  register(CommandId.MoveTodoUp, (target?: Target) => guarded(deps, () => moveBy(deps, target, -1)));
  register(CommandId.MoveTodoDown, (target?: Target) => guarded(deps, () => moveBy(deps, target, 1)));
  register(CommandId.ReloadTodos, async (): Promise<TasksState> => {
    await model.reload();
    return model.state;
  });
  register(CommandId.OpenTodoFile, () => openTasksFile(model));
  register(CommandId.RecoverTodos, (args?: RecoverTasksArgs) => recoverTasks(deps, args));
  context.subscriptions.push(vscode.workspace.registerTextDocumentContentProvider(TODO_BACKUP_SCHEME, { provideTextDocumentContent: readBackup }));

  // The ids before the rename keep working (keybindings, scripts); they are not in the Command Palette.
  for (const [legacy, id] of Object.entries(LEGACY_TODO_COMMAND_IDS)) {
    const run = handlers.get(id);
    if (run) context.subscriptions.push(vscode.commands.registerCommand(legacy, run));
  }
}

/** Removes `tasks`, remembering for each the to-dos that followed it, so Undo can put it back at its place. */
function removeAll(model: TasksModel, tasks: readonly Task[]): Removal {
  const order = model.tasks.map((task) => task.id);
  const removed = tasks.map((task) => ({ task: structuredClone(task), following: order.slice(order.indexOf(task.id) + 1) }));
  removed.sort((a, b) => order.indexOf(a.task.id) - order.indexOf(b.task.id));
  for (const { task } of removed) model.remove(task.id);
  return { removed };
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
    deps.log.warn(`To-do command refused: ${message}`);
    deps.view.reportRefusal(message, error instanceof TasksUnavailableError ? error.state : deps.model.state);
    return undefined;
  }
}

async function addTask({ model }: TaskCommandDeps, args: AddTaskArgs = {}): Promise<Task | undefined> {
  // Checked before asking, so nobody types a title only to be told the file is unusable.
  model.assertEditable();
  const where = model.path ? vscode.workspace.asRelativePath(model.path) : 'the workspace';
  const title =
    args.title ??
    (await vscode.window.showInputBox({
      title: 'Add To-Do',
      prompt: `Saved to ${where} automatically.`,
      placeHolder: 'What needs doing?',
      validateInput: (value) => (value.trim().length === 0 ? 'A to-do needs a title' : undefined),
    }));
  if (title === undefined) return undefined;
  return model.add(title, args.notes);
}

function askTitle(current: string): Thenable<string | undefined> {
  return vscode.window.showInputBox({
    title: 'Edit To-Do',
    value: current,
    validateInput: (value) => (value.trim().length === 0 ? 'A to-do needs a title' : undefined),
  });
}

function askNotes(task: Task): Thenable<string | undefined> {
  return vscode.window.showInputBox({
    title: `Notes for "${task.title}"`,
    value: task.notes ?? '',
    prompt: 'Leave empty to remove the notes.',
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
    if (!task) throw new TasksUnavailableError(`No to-do with id "${id}" in the list (it may have been removed elsewhere).`, model.state);
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
  // Up: before the to-do above. Down: before the to-do two below (last when there is none).
  const beforeId = direction === -1 ? neighbour.id : (tasks[index + 2]?.id ?? null);
  return deps.model.move(task.id, beforeId);
}

async function openTasksFile(model: TasksModel): Promise<void> {
  const path = model.path;
  if (!path) {
    void vscode.window.showInformationMessage('Open a folder to keep a to-do list.');
    return;
  }
  const uri = vscode.Uri.file(path);
  const exists = await vscode.workspace.fs.stat(uri).then(
    () => true,
    () => false,
  );
  if (!exists) {
    void vscode.window.showInformationMessage(`${vscode.workspace.asRelativePath(path)} does not exist yet: add a to-do first.`);
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

/** Content of `crashsafe-todo-backup:<path>`: the backup's text, read-only, for the recovery diff. */
async function readBackup(uri: vscode.Uri): Promise<string> {
  return readFile(uri.fsPath, 'utf8').catch((error: unknown) => `(cannot be read: ${String(error)})`);
}

/** How many titles a recovery candidate shows in the picker. */
const TITLES_SHOWN = 3;

/** A Recover To-Do List… picker item: what the candidate holds (counts and its first titles) and when it was saved. */
export interface RecoveryPickItem extends vscode.QuickPickItem {
  candidate: TasksRecoveryCandidate;
}

/** Describes a usable candidate for the picker, reading its to-dos for their titles. */
export async function recoveryPickItem(candidate: TasksRecoveryCandidate): Promise<RecoveryPickItem> {
  const kind = candidate.kind === 'backup' ? 'backup' : 'leftover temp file';
  const saved = new Date(candidate.modifiedAt).toLocaleString();
  let tasks: Task[] | undefined;
  try {
    const decoded = decodeTasksDocument(JSON.parse(await readFile(candidate.path, 'utf8')), { fallbackTime: candidate.modifiedAt });
    if (decoded.ok) tasks = decoded.document.tasks;
  } catch {
    // Gone or changed since it was listed: the counts from the listing still describe it.
  }
  const count = tasks?.length ?? candidate.taskCount ?? 0;
  const done = tasks ? ` (${tasks.filter((task) => task.done).length} done)` : '';
  const titles = (tasks ?? []).slice(0, TITLES_SHOWN).map((task) => `${task.done ? '$(check) ' : ''}${task.title}`);
  const more = count > TITLES_SHOWN ? ` · and ${count - TITLES_SHOWN} more` : '';
  return {
    label: candidate.id,
    description: `${kind} · saved ${saved}`,
    detail: count === 0 ? 'an empty to-do list' : `${count} to-do${count === 1 ? '' : 's'}${done}: ${titles.join(' · ')}${more}`,
    candidate,
  };
}

/** Closes the recovery diffs this command opened (their right side is a backup document). */
async function closeRecoveryDiffs(): Promise<void> {
  const tabs = vscode.window.tabGroups.all
    .flatMap((group) => group.tabs)
    .filter((tab) => tab.input instanceof vscode.TabInputTextDiff && tab.input.modified.scheme === TODO_BACKUP_SCHEME);
  if (tabs.length > 0) await vscode.window.tabGroups.close(tabs, true);
}

/** A Quick Pick of the candidates that shows a diff of the damaged file against the highlighted one. */
async function pickCandidate(path: string, usable: readonly TasksRecoveryCandidate[]): Promise<TasksRecoveryCandidate | undefined> {
  const items = await Promise.all(usable.map(recoveryPickItem));
  const picker = vscode.window.createQuickPick<RecoveryPickItem>();
  try {
    picker.title = 'Recover the to-do list from… (the damaged file is kept in backups/)';
    picker.placeholder = 'Highlight a copy to compare it with the damaged file; Enter restores it';
    picker.items = items;
    picker.matchOnDescription = true;
    picker.matchOnDetail = true;
    // Showing the diff moves focus only if asked to; this keeps the picker open if it does anyway.
    picker.ignoreFocusOut = true;
    const preview = (item: RecoveryPickItem | undefined) => {
      if (!item) return;
      const right = vscode.Uri.file(item.candidate.path).with({ scheme: TODO_BACKUP_SCHEME });
      void vscode.commands.executeCommand('vscode.diff', vscode.Uri.file(path), right, `${basename(path)} (damaged) ↔ ${item.candidate.id}`, {
        preview: true,
        preserveFocus: true,
      });
    };
    return await new Promise<TasksRecoveryCandidate | undefined>((resolve) => {
      picker.onDidChangeActive((active) => preview(active[0]));
      picker.onDidAccept(() => resolve(picker.selectedItems[0]?.candidate ?? picker.activeItems[0]?.candidate));
      picker.onDidHide(() => resolve(undefined));
      picker.show();
      preview(items[0]);
    });
  } finally {
    picker.dispose();
  }
}

async function recoverTasks(deps: TaskCommandDeps, args: RecoverTasksArgs = {}): Promise<TasksRecoveryResult | NothingToRecover | undefined> {
  const { model, log } = deps;
  if (model.state.kind !== 'problem') {
    // Also what the problem notification's Recover… button says once the file has been recovered or fixed.
    const name = model.path ? basename(model.path) : 'The to-do list';
    const message =
      model.state.kind === 'ok' ? `${name} is readable (already recovered or fixed): there is nothing to recover.` : 'There is no damaged to-do list to recover.';
    void vscode.window.showInformationMessage(message);
    return { alreadyUsable: true, message };
  }
  let candidateId = args.candidate;
  try {
    if (candidateId === undefined && !args.confirm) {
      const candidates = await model.recoveryCandidates();
      const usable = candidates.filter((candidate) => candidate.problem === undefined);
      if (usable.length === 0) {
        const choice = await vscode.window.showErrorMessage(
          `No backup or temp file holds a usable to-do list (${candidates.length} unusable). Fix ${basename(model.path ?? 'tasks.json')} by hand.`,
          'Open File',
        );
        if (choice) await vscode.commands.executeCommand(CommandId.OpenTodoFile);
        return undefined;
      }
      const pick = await pickCandidate(model.path ?? usable[0]!.path, usable);
      if (!pick) return undefined;
      candidateId = pick.id;
    }
    const result = await model.recover(candidateId);
    const count = result.document.tasks.length;
    void vscode.window.showInformationMessage(
      `Recovered ${count} to-do${count === 1 ? '' : 's'} from ${result.restoredFrom.id}.` +
        (result.preservedAs ? ` The damaged file was kept as ${basename(result.preservedAs)}.` : ''),
    );
    return result;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log.error(`To-do list recovery failed: ${message}`);
    void vscode.window.showErrorMessage(message);
    return undefined;
  } finally {
    await closeRecoveryDiffs();
  }
}
