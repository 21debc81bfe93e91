import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import * as vscode from 'vscode';
import { messageOf } from '../../core/errors';
import { recoverTasks, type TasksRecoveryCandidate, type TasksRecoveryResult, tasksRecoveryCandidates } from '../../state/tasksRecovery';
import { decodeTasksText, type Task } from '../../state/tasksSchema';
import type { TasksStore } from '../../state/tasksStore';
import { CommandId, TODO_BACKUP_SCHEME } from '../commandIds';
import { type TasksModel, TasksUnavailableError } from './todosModel';

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

/** Shows backups read-only beside the damaged file in the recovery diff. */
export function registerTodoBackupContent(context: vscode.ExtensionContext): void {
  context.subscriptions.push(vscode.workspace.registerTextDocumentContentProvider(TODO_BACKUP_SCHEME, { provideTextDocumentContent: readBackup }));
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
    const decoded = await decodeTasksText(candidate.path, await readFile(candidate.path, 'utf8'), async () => new Date(candidate.modifiedAt));
    if ('document' in decoded) tasks = decoded.document.tasks;
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

function storeOf(model: TasksModel): TasksStore {
  if (!model.store) throw new TasksUnavailableError('Open a folder to keep a to-do list.', model.state);
  return model.store;
}

/**
 * Recover To-Do List…: picks a backup or temp file (showing a diff against the damaged file), restores it and says
 * so. When the list is readable, says there is nothing to recover.
 */
export async function recoverTodos(
  { model, log }: { model: TasksModel; log: vscode.LogOutputChannel },
  args: RecoverTasksArgs = {},
): Promise<TasksRecoveryResult | NothingToRecover | undefined> {
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
      const candidates = await tasksRecoveryCandidates(storeOf(model));
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
    const store = storeOf(model);
    const result = await recoverTasks(store, candidateId);
    log.info(`Recovered ${store.path} from ${result.restoredFrom.path}` + (result.preservedAs ? `; the damaged file is kept as ${result.preservedAs}` : ''));
    // Reading the restored file also resumes the edits that waited for it.
    await model.reload();
    const count = result.document.tasks.length;
    void vscode.window.showInformationMessage(
      `Recovered ${count} to-do${count === 1 ? '' : 's'} from ${result.restoredFrom.id}.` +
        (result.preservedAs ? ` The damaged file was kept as ${basename(result.preservedAs)}.` : ''),
    );
    return result;
  } catch (error) {
    const message = messageOf(error);
    log.error(`To-do list recovery failed: ${message}`);
    void vscode.window.showErrorMessage(message);
    return undefined;
  } finally {
    await closeRecoveryDiffs();
  }
}
