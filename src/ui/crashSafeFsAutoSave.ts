import { basename } from 'node:path';
import * as vscode from 'vscode';
import { isJsonFileName, jsonFlavourOf, jsonTextProblem } from '../core/json';
import { CommandId, CRASH_SAFE_SCHEME } from './commandIds';
import { type CrashSafeFileSystem, readCrashSafeSaveSettings, toCrashSafeUri } from './crashSafeFs';
import { Disposable } from './dispose';

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
 * content parses. Content that does not parse is left unsaved (the editor keeps it dirty) and a status-bar note
 * says where it breaks.
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
        if (event.document.uri.scheme === CRASH_SAFE_SCHEME && event.contentChanges.length > 0) this.schedule(event.document);
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
    const path = document.uri.fsPath;
    if (isJsonFileName(path)) {
      const problem = jsonTextProblem(document.getText(), jsonFlavourOf(path));
      if (problem) {
        this.counters.skippedInvalid += 1;
        this.counters.lastSkipped = `${basename(path)} ${problem.line}:${problem.column} ${problem.message}`;
        this.log.debug(`Not auto-saving ${path}: ${problem.message} at line ${problem.line}, column ${problem.column}`);
        vscode.window.setStatusBarMessage(
          `$(warning) ${basename(path)} not auto-saved: ${problem.message} at line ${problem.line}, column ${problem.column}`,
          5000,
        );
        return;
      }
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

/** Registers "Reopen With Crash-Safe Save"; it returns the `crashsafe:` URI it opened. */
export function registerCrashSafeSaveCommands(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): void {
  context.subscriptions.push(
    vscode.commands.registerCommand(CommandId.ReopenWithCrashSafeSave, (uri?: vscode.Uri) => reopenWithCrashSafeSave(uri, log)),
  );
}

function tabsShowing(uri: vscode.Uri): vscode.Tab[] {
  const key = uri.toString();
  return vscode.window.tabGroups.all
    .flatMap((group) => group.tabs)
    .filter((tab) => tab.input instanceof vscode.TabInputText && tab.input.uri.toString() === key);
}

/**
 * Reopens a JSON file as `crashsafe:` in the same editor group. Unsaved changes move to the new editor (where
 * they are auto-saved once they parse), and the old editor is reverted and closed.
 */
async function reopenWithCrashSafeSave(uri: vscode.Uri | undefined, log: vscode.LogOutputChannel): Promise<vscode.Uri | undefined> {
  const target = uri instanceof vscode.Uri ? uri : vscode.window.activeTextEditor?.document.uri;
  if (!target) {
    void vscode.window.showInformationMessage('Open a JSON file first, then reopen it with crash-safe save.');
    return undefined;
  }
  if (target.scheme === CRASH_SAFE_SCHEME) {
    await vscode.window.showTextDocument(target, { preview: false });
    return target;
  }
  if (target.scheme !== 'file' || !isJsonFileName(target.fsPath)) {
    void vscode.window.showErrorMessage(`Crash-safe save works for .json and .jsonc files on disk, not ${target.toString(true)}.`);
    return undefined;
  }
  const crashSafeUri = toCrashSafeUri(target);
  const oldDocument = vscode.workspace.textDocuments.find((document) => document.uri.toString() === target.toString());
  const unsavedText = oldDocument?.isDirty ? oldDocument.getText() : undefined;
  const oldTabs = tabsShowing(target);
  const viewColumn = oldTabs[0]?.group.viewColumn ?? vscode.window.activeTextEditor?.viewColumn;

  const document = await vscode.workspace.openTextDocument(crashSafeUri);
  await vscode.window.showTextDocument(document, { viewColumn, preview: false });
  if (unsavedText !== undefined && unsavedText !== document.getText()) {
    const edit = new vscode.WorkspaceEdit();
    edit.replace(crashSafeUri, new vscode.Range(document.positionAt(0), document.positionAt(document.getText().length)), unsavedText);
    await vscode.workspace.applyEdit(edit);
  }
  if (oldDocument?.isDirty) {
    // The changes live on in the crash-safe editor; reverting first lets the old tab close without a save prompt.
    await vscode.window.showTextDocument(oldDocument, { viewColumn: oldTabs[0]?.group.viewColumn, preserveFocus: false });
    await vscode.commands.executeCommand('workbench.action.files.revert');
  }
  if (oldTabs.length > 0) await vscode.window.tabGroups.close(tabsShowing(target));
  await vscode.window.showTextDocument(document, { viewColumn, preview: false });
  log.info(`Reopened ${target.fsPath} with crash-safe save`);
  return crashSafeUri;
}
