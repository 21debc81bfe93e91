import { posix } from 'node:path';
import * as vscode from 'vscode';
import { CRASH_SAFE_SCHEME } from '../commandIds';

/*
 * The shape of a `crashsafe:` URI. The workbench draws the breadcrumb from the URI's path, one crumb per segment,
 * and only a `file:` resource can sit in a (`file:`) workspace folder, so the path alone carries what the user
 * should see:
 * - a file inside a workspace folder: `crashsafe://workspace/state/state.json?<the folder's file: URI>`, the path
 *   relative to the folder (breadcrumb "state › state.json"), the folder in the query; package.json's
 *   resourceLabelFormatters show it as `state/state.json` (tab hover, title, Open Editors);
 * - any other file: `crashsafe:/abs/path/file.json`, no query, the path (and authority) are the file's own.
 */

/** The authority of the workspace-relative shape (its own label formatter drops the path's leading slash). */
export const WORKSPACE_RELATIVE_AUTHORITY = 'workspace';

/** The `file:` URI a `crashsafe:` URI edits, or undefined when it names none exactly (`..` segments, a folder that is not `file:`). */
export function realFileUri(uri: vscode.Uri): vscode.Uri | undefined {
  if (uri.scheme !== CRASH_SAFE_SCHEME) return uri.scheme === 'file' ? uri : undefined;
  if (!uri.query) return vscode.Uri.from({ scheme: 'file', authority: uri.authority, path: uri.path });
  let folder: vscode.Uri;
  try {
    folder = vscode.Uri.parse(uri.query, true);
  } catch {
    return undefined;
  }
  if (folder.scheme !== 'file' || folder.query || folder.fragment || uri.authority !== WORKSPACE_RELATIVE_AUTHORITY)
    return undefined;
  const segments = uri.path.split('/').slice(1);
  if (!uri.path.startsWith('/') || segments.some((segment) => segment === '.' || segment === '..')) return undefined;
  const named = segments.filter((segment) => segment !== '');
  return named.length === 0 ? folder : vscode.Uri.joinPath(folder, ...named);
}

/** The `crashsafe:` URI that edits `fileUri`: relative to its workspace folder when it lies in one, else absolute. */
export function toCrashSafeUri(fileUri: vscode.Uri): vscode.Uri {
  const folder = vscode.workspace.getWorkspaceFolder(fileUri)?.uri;
  return (folder && relativeShape(fileUri, folder)) ?? absoluteShape(fileUri);
}

/**
 * The `crashsafe:` URI of `fileUri` in the shape of `like` (a `crashsafe:` URI of the same folder): what a watcher
 * reports must name the file the way the open editor does.
 */
export function toCrashSafeUriLike(fileUri: vscode.Uri, like: vscode.Uri): vscode.Uri {
  if (like.query) {
    const folder = realFileUri(like.with({ path: '/' }));
    const relative = folder && relativeShape(fileUri, folder);
    if (relative) return relative;
  }
  return absoluteShape(fileUri);
}

function absoluteShape(fileUri: vscode.Uri): vscode.Uri {
  return vscode.Uri.from({ scheme: CRASH_SAFE_SCHEME, authority: fileUri.authority, path: fileUri.path });
}

/** The relative shape, only when it maps back to exactly `fileUri` (never an approximation). */
function relativeShape(fileUri: vscode.Uri, folder: vscode.Uri): vscode.Uri | undefined {
  if (folder.scheme !== 'file' || fileUri.scheme !== 'file' || folder.authority !== fileUri.authority) return undefined;
  const relative = posix.relative(folder.path, fileUri.path);
  if (!relative || relative.startsWith('..') || posix.isAbsolute(relative)) return undefined;
  const candidate = vscode.Uri.from({
    scheme: CRASH_SAFE_SCHEME,
    authority: WORKSPACE_RELATIVE_AUTHORITY,
    path: `/${relative}`,
    query: folder.toString(),
  });
  return realFileUri(candidate)?.toString() === fileUri.with({ query: '', fragment: '' }).toString()
    ? candidate
    : undefined;
}
