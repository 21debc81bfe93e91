import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import * as vscode from 'vscode';
import { messageOf } from '../../core/errors';
import {
  recoverTodos,
  type TodosRecoveryCandidate,
  type TodosRecoveryResult,
  todosRecoveryCandidates,
} from '../../state/todosRecovery';
import { decodeTodosText, type Todo } from '../../state/todosSchema';
import type { TodosStore } from '../../state/todosStore';
import { CommandId, TODO_BACKUP_SCHEME } from '../commandIds';
import { displayDateTime } from '../dates';
import { showDiffPicker } from '../diffPicker';
import { showResult, showResultError, withProgressNotification } from '../resultToasts';
import { openFolderForTodosMessage, type TodosModel, TodosUnavailableError } from './todosModel';

/** `crashSafeState.recoverTodos` arguments: a candidate id (file name) or `confirm` skips the Quick Pick. */
export interface RecoverTodosArgs {
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
  context.subscriptions.push(
    vscode.workspace.registerTextDocumentContentProvider(TODO_BACKUP_SCHEME, {
      provideTextDocumentContent: readBackup,
    }),
  );
}

/** Content of `crashsafe-todo-backup:<path>`: the backup's text, read-only, for the recovery diff. */
async function readBackup(uri: vscode.Uri): Promise<string> {
  return readFile(uri.fsPath, 'utf8').catch((error: unknown) =>
    vscode.l10n.t({
      message: '(cannot be read: {0})',
      args: [String(error)],
      comment: ["Shown instead of a backup's text; {0} is the error, in English."],
    }),
  );
}

/** How many titles a recovery candidate shows in the picker. */
const TITLES_SHOWN = 3;

/** A Recover To-Do List… picker item: what the candidate holds (counts and its first titles) and when it was saved. */
export interface RecoveryPickItem extends vscode.QuickPickItem {
  candidate: TodosRecoveryCandidate;
}

/**
 * A candidate's contents for the picker: how many to-dos, how many are done (when they could be read), the first
 * titles (`titles`, already joined) and how many more there are.
 */
function describeContents(count: number, done: number | undefined, titles: string, more: number): string {
  if (count === 0) return vscode.l10n.t('an empty to-do list');
  if (count === 1) {
    return done === undefined
      ? vscode.l10n.t({
          message: '1 to-do: {0}',
          args: [titles],
          comment: ["{0} is the to-do's title (may be empty)."],
        })
      : vscode.l10n.t({
          message: '1 to-do ({0} done): {1}',
          args: [done, titles],
          comment: ["{0} is 0 or 1, {1} the to-do's title."],
        });
  }
  if (more > 0) {
    return done === undefined
      ? vscode.l10n.t({
          message: '{0} to-dos: {1} · and {2} more',
          args: [count, titles, more],
          comment: [
            '{1} is the first to-dos\' titles, separated by " · " (may be empty); {2} is how many are not listed.',
          ],
        })
      : vscode.l10n.t({
          message: '{0} to-dos ({1} done): {2} · and {3} more',
          args: [count, done, titles, more],
          comment: ['{2} is the first to-dos\' titles, separated by " · "; {3} is how many are not listed.'],
        });
  }
  return done === undefined
    ? vscode.l10n.t({
        message: '{0} to-dos: {1}',
        args: [count, titles],
        comment: ['{1} is the to-dos\' titles, separated by " · " (may be empty).'],
      })
    : vscode.l10n.t({
        message: '{0} to-dos ({1} done): {2}',
        args: [count, done, titles],
        comment: ['{2} is the to-dos\' titles, separated by " · ".'],
      });
}

/** Describes a usable candidate for the picker, reading its to-dos for their titles. */
export async function recoveryPickItem(candidate: TodosRecoveryCandidate): Promise<RecoveryPickItem> {
  const saved = displayDateTime(candidate.modifiedAt);
  let todos: Todo[] | undefined;
  try {
    const decoded = await decodeTodosText(
      candidate.path,
      await readFile(candidate.path, 'utf8'),
      async () => new Date(candidate.modifiedAt),
    );
    if ('document' in decoded) todos = decoded.document.tasks;
  } catch {
    // Gone or changed since it was listed: the counts from the listing still describe it.
  }
  const count = todos?.length ?? candidate.todoCount ?? 0;
  const done = todos?.filter((todo) => todo.done).length;
  const titles = (todos ?? []).slice(0, TITLES_SHOWN).map((todo) => `${todo.done ? '$(check) ' : ''}${todo.title}`);
  return {
    label: candidate.id,
    description:
      candidate.kind === 'backup'
        ? vscode.l10n.t({ message: 'backup · saved {0}', args: [saved], comment: ['{0} is a date and time.'] })
        : vscode.l10n.t({
            message: 'leftover temp file · saved {0}',
            args: [saved],
            comment: ['{0} is a date and time.'],
          }),
    detail: describeContents(count, done, titles.join(' · '), Math.max(0, count - TITLES_SHOWN)),
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
async function pickCandidate(
  path: string,
  usable: readonly TodosRecoveryCandidate[],
): Promise<TodosRecoveryCandidate | undefined> {
  const picked = await showDiffPicker({
    title: vscode.l10n.t('Recover the to-do list from… (the damaged file is kept in backups/)'),
    placeholder: vscode.l10n.t('Highlight a copy to compare it with the damaged file; Enter restores it'),
    items: await Promise.all(usable.map(recoveryPickItem)),
    matchOnDescription: true,
    matchOnDetail: true,
    diffOf: (item) => ({
      original: vscode.Uri.file(path),
      modified: vscode.Uri.file(item.candidate.path).with({ scheme: TODO_BACKUP_SCHEME }),
      title: vscode.l10n.t({
        message: '{0} (damaged) ↔ {1}',
        args: [basename(path), item.candidate.id],
        comment: [
          "A diff editor's title: {0} is the damaged to-do file, {1} the backup or temp file compared with it.",
        ],
      }),
    }),
  });
  return picked?.candidate;
}

function storeOf(model: TodosModel): TodosStore {
  if (!model.store) throw new TodosUnavailableError(openFolderForTodosMessage(), model.state);
  return model.store;
}

/**
 * Recover To-Do List…: picks a backup or temp file (showing a diff against the damaged file), restores it and says
 * so. When the list is readable, says there is nothing to recover.
 */
export async function recoverTodosCommand(
  { model, log }: { model: TodosModel; log: vscode.LogOutputChannel },
  args: RecoverTodosArgs = {},
): Promise<TodosRecoveryResult | NothingToRecover | undefined> {
  if (model.state.kind !== 'problem') {
    // Also what the problem notification's Recover… button says once the file has been recovered or fixed.
    const message = alreadyUsableMessage(model);
    void showResult(message);
    return { alreadyUsable: true, message };
  }
  let candidateId = args.candidate;
  try {
    if (candidateId === undefined && !args.confirm) {
      const candidates = await todosRecoveryCandidates(storeOf(model));
      const usable = candidates.filter((candidate) => candidate.problem === undefined);
      if (usable.length === 0) {
        const choice = await vscode.window.showErrorMessage(
          vscode.l10n.t({
            message: 'No backup or temp file holds a usable to-do list ({0} unusable). Fix {1} by hand.',
            args: [candidates.length, basename(model.path ?? 'tasks.json')],
            comment: ["{0} is how many backups and temp files were found unusable, {1} the to-do file's name."],
          }),
          vscode.l10n.t('Open File'),
        );
        if (choice) await vscode.commands.executeCommand(CommandId.OpenTodoFile);
        return undefined;
      }
      const pick = await pickCandidate(model.path ?? usable[0]!.path, usable);
      if (!pick) return undefined;
      candidateId = pick.id;
    }
    const store = storeOf(model);
    const chosen = candidateId;
    // A slow recovery (a busy lock, a slow disk) shows that it is running; its result comes once that has closed.
    const result = await withProgressNotification({ title: vscode.l10n.t('Recovering the to-do list…') }, () =>
      recoverTodos(store, chosen),
    );
    log.info(
      `Recovered ${store.path} from ${result.restoredFrom.path}` +
        (result.preservedAs ? `; the damaged file is kept as ${result.preservedAs}` : ''),
    );
    // Reading the restored file also resumes the edits that waited for it.
    await model.reload();
    void showResult(recoveredMessage(result));
    return result;
  } catch (error) {
    const message = messageOf(error);
    log.error(`To-do list recovery failed: ${message}`);
    void showResultError(message);
    return undefined;
  } finally {
    await closeRecoveryDiffs();
  }
}

/** What Recover To-Do List… says when the list is not damaged (any more). */
function alreadyUsableMessage(model: TodosModel): string {
  if (model.state.kind !== 'ok') return vscode.l10n.t('There is no damaged to-do list to recover.');
  if (!model.path)
    return vscode.l10n.t('The to-do list is readable (already recovered or fixed): there is nothing to recover.');
  return vscode.l10n.t({
    message: '{0} is readable (already recovered or fixed): there is nothing to recover.',
    args: [basename(model.path)],
    comment: ["{0} is the to-do file's name."],
  });
}

/** The notification after a recovery: how many to-dos, from which copy, and where the damaged file went. */
function recoveredMessage(result: TodosRecoveryResult): string {
  const count = result.document.tasks.length;
  const from = result.restoredFrom.id;
  if (result.preservedAs) {
    const kept = basename(result.preservedAs);
    return count === 1
      ? vscode.l10n.t({
          message: 'Recovered 1 to-do from {0}. The damaged file was kept as {1}.',
          args: [from, kept],
          comment: [
            '{0} is the backup or temp file the to-do came from, {1} the file name the damaged file was kept as.',
          ],
        })
      : vscode.l10n.t({
          message: 'Recovered {0} to-dos from {1}. The damaged file was kept as {2}.',
          args: [count, from, kept],
          comment: [
            '{1} is the backup or temp file the to-dos came from, {2} the file name the damaged file was kept as.',
          ],
        });
  }
  return count === 1
    ? vscode.l10n.t({
        message: 'Recovered 1 to-do from {0}.',
        args: [from],
        comment: ['{0} is the backup or temp file the to-do came from.'],
      })
    : vscode.l10n.t({
        message: 'Recovered {0} to-dos from {1}.',
        args: [count, from],
        comment: ['{1} is the backup or temp file the to-dos came from.'],
      });
}
