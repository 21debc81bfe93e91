import { join } from 'node:path';
import * as vscode from 'vscode';
import type { HistoryOptions } from '../../core/copies/historyCopies';

/** Where this window's Local History lives, and which resources in it name local paths. */
export interface LocalHistoryPlace {
  /** `<User>/History`: the parent of globalStorageUri's parent, plus History. */
  dir: string | undefined;
  history: Pick<HistoryOptions, 'remoteAuthorities'>;
}

/**
 * The Local History folder of the host this extension runs on, which is where the workspace lives. In a remote
 * extension host (code-server, Remote SSH) `vscode.env.remoteName` is set and the History folder is the server's: its
 * resources are `vscode-remote://<the browser's authority>/<path of this machine>`, so any authority names a local path.
 */
export function localHistoryOf(context: Pick<vscode.ExtensionContext, 'globalStorageUri'>): LocalHistoryPlace {
  const storage = context.globalStorageUri;
  // `User/globalStorage/<extension id>`: only a file-system path can be read by core.
  const dir = storage.scheme === 'file' ? join(storage.fsPath, '..', '..', 'History') : undefined;
  return { dir, history: { remoteAuthorities: vscode.env.remoteName ? 'any' : [] } };
}
