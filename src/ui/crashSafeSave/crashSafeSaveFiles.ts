import { relative, sep } from 'node:path';
import * as vscode from 'vscode';
import { compileExcluder } from '../../core/folderListing';
import { readCrashSafeSaveFiles } from '../settings';

/**
 * Which files `crashSafeState.crashSafeSave.files` names: the globs matched like `files.exclude`, against the whole
 * path relative to the file's (`file:`) workspace folder. The globs are read at use and compiled again only when they
 * change; the reopen layer and the pre-save layer share one matcher each.
 */
export class CrashSafeSaveFilesMatcher {
  private compiled: { key: string; matches: (relativePath: string) => boolean } | undefined;

  /** The folder path of a `file:` URI the globs match, else undefined (outside a folder, not `file:`, no globs). */
  folderOf(fileUri: vscode.Uri): string | undefined {
    if (fileUri.scheme !== 'file') return undefined;
    const globs = readCrashSafeSaveFiles(fileUri);
    if (globs.length === 0) return undefined;
    const folder = vscode.workspace.getWorkspaceFolder(fileUri);
    if (folder?.uri.scheme !== 'file') return undefined;
    const inside = relative(folder.uri.fsPath, fileUri.fsPath);
    if (inside === '' || inside === '..' || inside.startsWith(`..${sep}`)) return undefined;
    const key = JSON.stringify(globs);
    if (this.compiled?.key !== key) this.compiled = { key, matches: compileExcluder(globs, { sep }, true) };
    return this.compiled.matches(inside) ? folder.uri.fsPath : undefined;
  }

  matches(fileUri: vscode.Uri): boolean {
    return this.folderOf(fileUri) !== undefined;
  }
}
