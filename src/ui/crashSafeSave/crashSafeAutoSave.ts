import { basename } from 'node:path';
import * as vscode from 'vscode';
import { isJsonFileName } from '../../core/json/json';
import { CommandId, CRASH_SAFE_SCHEME, OPEN_JSON_FILES_CONTEXT_KEY } from '../commandIds';
import { Disposable } from '../dispose';
import { readCrashSafeSaveSettings } from '../settings';
import { type CrashSafeFileSystem, toCrashSafeUri } from './crashSafeFs';
import { crashSafeProblem } from './crashSafeSaveGuard';
import { realFileUri } from './crashSafeUri';
import { holdSwapForTests, isActiveTabIn, showInPlaceOf } from './editorSwap';

/** Counters of the auto-save, for diagnostics and tests. */
export interface CrashSafeAutoSaveStats {
  /** Automatic saves that wrote the file. */
  saved: number;
  /** Edit pauses that ended with content that does not parse, so nothing was saved. */
  skippedInvalid: number;
  /** Where the last skipped document failed to parse: `name line:column message`. */
  lastSkipped: string | undefined;
}

/**
 * Saves `crashsafe:` documents after an edit pause (`crashSafeState.crashSafeSave.autoSaveDelayMs`) when their
 * content parses. Content that does not parse is left unsaved (the editor keeps it dirty); the save guard's
 * status-bar item says where it breaks.
 */
export class CrashSafeAutoSave extends Disposable {
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly counters: CrashSafeAutoSaveStats = { saved: 0, skippedInvalid: 0, lastSkipped: undefined };

  constructor(
    private readonly fileSystem: CrashSafeFileSystem,
    private readonly log: vscode.LogOutputChannel,
  ) {
    super();
    this._register(
      vscode.workspace.onDidChangeTextDocument((event) => {
        if (event.document.uri.scheme === CRASH_SAFE_SCHEME && event.contentChanges.length > 0)
          this.schedule(event.document);
      }),
    );
    this._register(vscode.workspace.onDidCloseTextDocument((document) => this.cancel(document.uri)));
    this._register({
      dispose: () => {
        for (const key of [...this.timers.keys()]) this.cancelKey(key);
      },
    });
  }

  get stats(): CrashSafeAutoSaveStats {
    return { ...this.counters };
  }

  private schedule(document: vscode.TextDocument): void {
    const delay = readCrashSafeSaveSettings(document.uri).autoSaveDelayMs;
    const key = document.uri.toString();
    this.cancelKey(key);
    if (delay <= 0) return;
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        void this.saveIfValid(document);
      }, delay),
    );
  }

  private async saveIfValid(document: vscode.TextDocument): Promise<void> {
    if (document.isClosed || !document.isDirty) return;
    const path = realFileUri(document.uri)?.fsPath ?? document.uri.path;
    const problem = crashSafeProblem(document);
    if (problem) {
      // The save guard's status-bar item says so while the editor is active; nothing to show here.
      this.counters.skippedInvalid += 1;
      this.counters.lastSkipped = `${basename(path)} ${problem.line}:${problem.column} ${problem.message}`;
      this.log.debug(`Not auto-saving ${path}: ${problem.message} at line ${problem.line}, column ${problem.column}`);
      return;
    }
    const unmark = this.fileSystem.markAutomatic(document.uri);
    try {
      if (await document.save()) this.counters.saved += 1;
    } catch (error) {
      this.log.warn(`Auto-save of ${path} failed: ${String(error)}`);
    } finally {
      unmark();
    }
  }

  private cancel(uri: vscode.Uri): void {
    this.cancelKey(uri.toString());
  }

  private cancelKey(key: string): void {
    const timer = this.timers.get(key);
    if (timer) clearTimeout(timer);
    this.timers.delete(key);
  }
}

/** The user's reopen choices, told to the glob's reopen layer (a file reopened normally stays so for the session). */
export interface ReopenChoices {
  keepPlain(fileUri: vscode.Uri): void;
  forgetKeepPlain(fileUri: vscode.Uri): void;
}

/**
 * Registers "Reopen With Crash-Safe Save" (also titled "Open With Crash-Safe Save" for the Explorer item of a file
 * that is not open) and "Reopen Without Crash-Safe Save"; each returns the URI it opened. Keeps the context key
 * that tells the Explorer menu which of the two titles fits.
 */
export function registerCrashSafeSaveCommands(
  context: vscode.ExtensionContext,
  log: vscode.LogOutputChannel,
  choices: ReopenChoices,
): void {
  const reopen = (uri?: vscode.Uri) => reopenWithCrashSafeSave(uri, log, choices);
  context.subscriptions.push(
    vscode.commands.registerCommand(CommandId.ReopenWithCrashSafeSave, reopen),
    vscode.commands.registerCommand(CommandId.OpenWithCrashSafeSave, reopen),
    vscode.commands.registerCommand(CommandId.ReopenWithoutCrashSafeSave, (uri?: vscode.Uri) =>
      reopenWithoutCrashSafeSave(uri, log, choices),
    ),
    vscode.commands.registerCommand(CommandId.RevealCrashSafeInExplorer, revealInExplorer),
    new OpenJsonFilesContext(),
  );
}

/** Publishes the paths of the JSON files open in plain editors, so the Explorer says "Reopen" for those, "Open" for the rest. */
class OpenJsonFilesContext extends Disposable {
  private last = '';

  constructor() {
    super();
    this._register(vscode.window.tabGroups.onDidChangeTabs(() => this.update()));
    this._register(vscode.window.tabGroups.onDidChangeTabGroups(() => this.update()));
    this.update();
  }

  private update(): void {
    const paths = new Set<string>();
    for (const tab of vscode.window.tabGroups.all.flatMap((group) => group.tabs)) {
      if (
        tab.input instanceof vscode.TabInputText &&
        tab.input.uri.scheme === 'file' &&
        isJsonFileName(tab.input.uri.fsPath)
      ) {
        paths.add(tab.input.uri.fsPath);
      }
    }
    const sorted = [...paths].sort();
    const key = sorted.join('\n');
    if (key === this.last) return;
    this.last = key;
    void vscode.commands.executeCommand('setContext', OPEN_JSON_FILES_CONTEXT_KEY, sorted);
  }
}

function tabsShowing(uri: vscode.Uri): vscode.Tab[] {
  const key = uri.toString();
  return vscode.window.tabGroups.all
    .flatMap((group) => group.tabs)
    .filter((tab) => tab.input instanceof vscode.TabInputText && tab.input.uri.toString() === key);
}

/**
 * Shows `to` in place of `from` in the same editor group, with its selection and scroll. Unsaved changes move to
 * the new editor, and the old editor is reverted and closed. A user who turned to another file while `to` was being
 * read keeps it: `to` then opens behind it (see showInPlaceOf).
 */
export async function switchEditor(from: vscode.Uri, to: vscode.Uri): Promise<void> {
  const oldDocument = vscode.workspace.textDocuments.find((document) => document.uri.toString() === from.toString());
  const dirtyOld = oldDocument?.isDirty ? oldDocument : undefined;
  const unsavedText = dirtyOld?.getText();
  const oldTabs = tabsShowing(from);
  const viewColumn = oldTabs[0]?.group.viewColumn ?? vscode.window.activeTextEditor?.viewColumn;
  const oldEditor = vscode.window.visibleTextEditors.find(
    (editor) => editor.document.uri.toString() === from.toString() && editor.viewColumn === viewColumn,
  );
  const selections = oldEditor?.selections;
  const visible = oldEditor?.visibleRanges[0];
  const lookedAt = isActiveTabIn(viewColumn, from) ? from : undefined;
  const focusedGroup = vscode.window.tabGroups.activeTabGroup.viewColumn;

  const document = await vscode.workspace.openTextDocument(to);
  await holdSwapForTests();
  let editor = await showInPlaceOf(
    // Unsaved changes move only through a shown editor (the old one is reverted in front): then it is shown.
    dirtyOld ? undefined : lookedAt,
    document,
    viewColumn,
    {
      preview: false,
      selection: selections?.[0],
      focus: vscode.window.tabGroups.activeTabGroup.viewColumn === focusedGroup,
    },
  );
  if (unsavedText !== undefined && unsavedText !== document.getText()) {
    const edit = new vscode.WorkspaceEdit();
    edit.replace(
      to,
      new vscode.Range(document.positionAt(0), document.positionAt(document.getText().length)),
      unsavedText,
    );
    await vscode.workspace.applyEdit(edit);
  }
  if (dirtyOld) {
    // The changes live on in the new editor; reverting first lets the old tab close without a save prompt.
    await vscode.window.showTextDocument(dirtyOld, {
      viewColumn: oldTabs[0]?.group.viewColumn,
      preserveFocus: false,
    });
    await vscode.commands.executeCommand('workbench.action.files.revert');
  }
  if (oldTabs.length > 0) await vscode.window.tabGroups.close(tabsShowing(from));
  // Back to the new editor only when the revert took the focus: a user who has moved on meanwhile keeps theirs.
  if (dirtyOld) editor = await vscode.window.showTextDocument(document, { viewColumn, preview: false });
  if (!editor || !vscode.window.visibleTextEditors.includes(editor)) return;
  if (selections) editor.selections = [...selections];
  if (visible) editor.revealRange(visible, vscode.TextEditorRevealType.AtTop);
}

/** Reopens a JSON file as `crashsafe:` in the same editor group (where unsaved changes are auto-saved once they parse). */
async function reopenWithCrashSafeSave(
  uri: vscode.Uri | undefined,
  log: vscode.LogOutputChannel,
  choices: ReopenChoices,
): Promise<vscode.Uri | undefined> {
  const target = uri instanceof vscode.Uri ? uri : vscode.window.activeTextEditor?.document.uri;
  if (!target) {
    void vscode.window.showInformationMessage(
      vscode.l10n.t('Open a JSON file first, then reopen it with crash-safe save.'),
    );
    return undefined;
  }
  if (target.scheme === CRASH_SAFE_SCHEME) {
    await vscode.window.showTextDocument(target, { preview: false });
    return target;
  }
  if (target.scheme !== 'file' || !isJsonFileName(target.fsPath)) {
    void vscode.window.showErrorMessage(
      vscode.l10n.t({
        message: 'Crash-safe save works for .json and .jsonc files on disk, not {0}.',
        args: [target.toString(true)],
        comment: ['{0} is a URI.'],
      }),
    );
    return undefined;
  }
  choices.forgetKeepPlain(target);
  const crashSafeUri = toCrashSafeUri(target);
  await switchEditor(target, crashSafeUri);
  log.info(`Reopened ${target.fsPath} with crash-safe save`);
  return crashSafeUri;
}

/** Reopens a `crashsafe:` editor as the plain file, saved by VS Code as usual. */
async function reopenWithoutCrashSafeSave(
  uri: vscode.Uri | undefined,
  log: vscode.LogOutputChannel,
  choices: ReopenChoices,
): Promise<vscode.Uri | undefined> {
  const target = uri instanceof vscode.Uri ? uri : vscode.window.activeTextEditor?.document.uri;
  if (!target || (target.scheme !== CRASH_SAFE_SCHEME && target.scheme !== 'file')) {
    void vscode.window.showInformationMessage(
      vscode.l10n.t('Open a file with crash-safe save first, then reopen it without.'),
    );
    return undefined;
  }
  const fileUri = realFileUri(target);
  if (!fileUri) return undefined;
  // Before the plain editor opens, so the crashSafeSave.files globs do not reopen it at once.
  choices.keepPlain(fileUri);
  if (target.scheme === 'file') {
    await vscode.window.showTextDocument(fileUri, { preview: false });
    return fileUri;
  }
  await switchEditor(target, fileUri);
  log.info(`Reopened ${fileUri.fsPath} without crash-safe save`);
  return fileUri;
}

/** Reveals the `file:` a `crashsafe:` editor edits in the Explorer (which lists only `file:` items); returns it. */
async function revealInExplorer(uri?: vscode.Uri): Promise<vscode.Uri | undefined> {
  const target = uri instanceof vscode.Uri ? uri : vscode.window.activeTextEditor?.document.uri;
  const fileUri = target && realFileUri(target);
  if (!fileUri) return undefined;
  await vscode.commands.executeCommand('revealInExplorer', fileUri);
  return fileUri;
}
