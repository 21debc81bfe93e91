import { isAbsolute, relative, resolve } from 'node:path';
import * as vscode from 'vscode';
import { readTodoSettings, type TodoSettings } from '../settings';

export type TodosLocation =
  | { kind: 'ok'; folder: vscode.WorkspaceFolder; path: string; relativePosix: string; settings: TodoSettings }
  | { kind: 'no-folder' }
  | { kind: 'outside'; path: string; message: string };

/** The first file-scheme workspace folder and the configured to-do file in it (which must stay inside it). */
export function locateTodosFile(): TodosLocation {
  const folder = vscode.workspace.workspaceFolders?.find((candidate) => candidate.uri.scheme === 'file');
  if (!folder) return { kind: 'no-folder' };
  const settings = readTodoSettings(folder.uri);
  const path = resolve(folder.uri.fsPath, settings.relativePath);
  const inside = relative(folder.uri.fsPath, path);
  if (isAbsolute(settings.relativePath) || inside.startsWith('..') || isAbsolute(inside) || inside === '') {
    return {
      kind: 'outside',
      path,
      message: vscode.l10n.t({
        message: 'The setting {0} ("{1}") must name a file inside the workspace folder {2}.',
        args: [settings.pathSetting, settings.relativePath, folder.uri.fsPath],
        comment: ["{0} is a setting id, {1} its value (a path), {2} the folder's path."],
      }),
    };
  }
  return { kind: 'ok', folder, path, relativePosix: inside.split(/[\\/]/).join('/'), settings };
}
