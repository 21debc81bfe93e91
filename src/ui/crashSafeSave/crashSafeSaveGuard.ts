import { basename } from 'node:path';
import * as vscode from 'vscode';
import { isJsonFileName, jsonFlavourOf, jsonTextProblem, type ParsePosition } from '../../core/json/json';
import { CommandId, CRASH_SAFE_SCHEME } from '../commandIds';
import { Disposable } from '../dispose';
import { parseFailureLabel } from '../reasonWords';
import { readCrashSafeSaveSettings } from '../settings';
import { askSaveAnyway, type CrashSafeFileSystem, describeInvalidJson } from './crashSafeFs';
import { realFileUri } from './crashSafeUri';

/** Counters for diagnostics and tests. */
export interface CrashSafeSaveGuardStats {
  /** `crashsafe:` documents that carry the "does not parse" error marker now (their URIs). */
  marked: string[];
  /** The status-bar reason as shown now, or undefined while hidden. */
  statusText: string | undefined;
  /** Saves (the Save command) declined before VS Code saved: Cancel in the question, or the refuse setting. */
  declined: number;
}

/** Where a `crashsafe:` JSON document fails to parse as its file's flavour; undefined when it parses or is not JSON. */
export function crashSafeProblem(document: vscode.TextDocument): ParsePosition | undefined {
  if (document.uri.scheme !== CRASH_SAFE_SCHEME) return undefined;
  const path = realFileUri(document.uri)?.fsPath;
  if (!path || !isJsonFileName(path)) return undefined;
  return jsonTextProblem(document.getText(), jsonFlavourOf(path));
}

/** The file a `crashsafe:` document edits, for messages (crashSafeProblem is undefined for one that names none). */
function pathOf(uri: vscode.Uri): string {
  return realFileUri(uri)?.fsPath ?? uri.path;
}

/** The status-bar reason an unsaved `crashsafe:` document carries while it does not parse. */
export function notAutoSavedText(path: string, problem: ParsePosition): string {
  return vscode.l10n.t({
    message: '$(warning) {0} not auto-saved: {1}',
    args: [basename(path), parseFailureLabel(problem)],
    comment: [
      '{0} is a file name, {1} what is wrong and where ("the file ends inside a string, line 4, column 16"). Keep $(warning): it is an icon.',
    ],
  });
}

/**
 * Keeps a declined or deferred save of a `crashsafe:` document from ever reaching the workbench as "Failed to save".
 * A provider's writeFile can only write or fail, and an extension cannot cancel a save, so the decision is made
 * before VS Code saves:
 * - content that does not parse carries an error marker; with `files.autoSaveWhenNoErrors` (on for JSON by this
 *   extension's configuration defaults) VS Code's own auto-save waits for it to go, and saves then;
 * - Save (Ctrl+S / Cmd+S) in a crash-safe editor asks "Save it anyway?" first; Cancel leaves the editor dirty;
 * - while the active crash-safe editor is unsaved and does not parse, the status bar says why.
 */
export class CrashSafeSaveGuard extends Disposable {
  private readonly markers = this._register(vscode.languages.createDiagnosticCollection('crashSafeSave'));
  private readonly status = this._register(
    vscode.window.createStatusBarItem('crashSafeState.saveGuard', vscode.StatusBarAlignment.Left, 99),
  );
  private declined = 0;

  constructor(
    private readonly fileSystem: CrashSafeFileSystem,
    private readonly log: vscode.LogOutputChannel,
  ) {
    super();
    this.status.name = vscode.l10n.t('Crash-Safe Save');
    this.status.command = 'workbench.actions.view.problems';
    this._register(vscode.commands.registerCommand(CommandId.SaveCrashSafe, (uri?: vscode.Uri) => this.save(uri)));
    this._register(vscode.workspace.onDidOpenTextDocument((document) => this.refresh(document)));
    this._register(vscode.workspace.onDidChangeTextDocument((event) => this.refresh(event.document)));
    this._register(vscode.workspace.onDidSaveTextDocument((document) => this.refresh(document)));
    this._register(
      vscode.workspace.onDidCloseTextDocument((document) => {
        this.markers.delete(document.uri);
        this.updateStatus();
      }),
    );
    this._register(vscode.window.onDidChangeActiveTextEditor(() => this.updateStatus()));
    for (const document of vscode.workspace.textDocuments) this.refresh(document);
  }

  get stats(): CrashSafeSaveGuardStats {
    const marked: string[] = [];
    this.markers.forEach((uri) => {
      marked.push(uri.toString());
    });
    return { marked, statusText: this.status.text || undefined, declined: this.declined };
  }

  private refresh(document: vscode.TextDocument): void {
    if (document.uri.scheme !== CRASH_SAFE_SCHEME) return;
    const problem = crashSafeProblem(document);
    if (problem) {
      const at = document.positionAt(problem.offset);
      const end = document.lineAt(at.line).range.end;
      const range = new vscode.Range(at, at.character < end.character ? at.translate(0, 1) : at);
      const marker = new vscode.Diagnostic(
        range,
        describeInvalidJson(pathOf(document.uri), problem),
        vscode.DiagnosticSeverity.Error,
      );
      marker.source = 'Crash-Safe State';
      this.markers.set(document.uri, [marker]);
    } else {
      this.markers.delete(document.uri);
    }
    this.updateStatus();
  }

  private updateStatus(): void {
    const document = vscode.window.activeTextEditor?.document;
    const problem = document?.isDirty ? crashSafeProblem(document) : undefined;
    if (!document || !problem) {
      this.status.text = '';
      this.status.hide();
      return;
    }
    const path = pathOf(document.uri);
    this.status.text = notAutoSavedText(path, problem);
    this.status.tooltip = vscode.l10n.t({
      message: 'Not saved: {0}.',
      args: [describeInvalidJson(path, problem)],
      comment: ['{0} says which file is not valid JSON and where.'],
    });
    this.status.show();
  }

  /** Save for a crash-safe editor: content that does not parse is asked about (or refused) before VS Code saves. */
  private async save(uri?: vscode.Uri): Promise<boolean> {
    const target = uri instanceof vscode.Uri ? uri.toString() : vscode.window.activeTextEditor?.document.uri.toString();
    const document = vscode.workspace.textDocuments.find((candidate) => candidate.uri.toString() === target);
    if (!document || document.uri.scheme !== CRASH_SAFE_SCHEME) {
      await vscode.commands.executeCommand('workbench.action.files.save');
      return false;
    }
    const problem = crashSafeProblem(document);
    if (!problem) return document.save();
    const path = pathOf(document.uri);
    const policy = readCrashSafeSaveSettings(document.uri).invalidJson;
    if (policy === 'save') return document.save();
    const text = document.getText();
    if (policy === 'ask' && (await askSaveAnyway(describeInvalidJson(path, problem)))) {
      const forget = this.fileSystem.allowInvalidOnce(document.uri, text);
      try {
        return await document.save();
      } finally {
        forget();
      }
    }
    this.declined += 1;
    this.log.info(
      `Not saving ${path}: it does not parse and the save was ${policy === 'ask' ? 'cancelled' : 'refused'}`,
    );
    this.updateStatus();
    return false;
  }
}
