import * as vscode from 'vscode';
import type { ExtensionSettings } from '../settings';
import type { OrphanModel } from './orphanModel';
import type { OrphanRow } from './orphansView';
import type { StatusSnapshot } from './statusBar';

export interface CommandContext {
  model: OrphanModel;
  log: vscode.LogOutputChannel;
  settings: () => ExtensionSettings;
  relative: (path: string) => string;
  status: () => StatusSnapshot;
  rows: () => OrphanRow[];
  /** Runs after the Scan command's rescan: the check of the files Local History knows. */
  afterScan?: () => Promise<unknown>;
}

/** Destructive commands need a trusted workspace; says so when it is not. */
export function requireTrust(action: 'recover' | 'sweep'): boolean {
  if (vscode.workspace.isTrusted) return true;
  void vscode.window.showWarningMessage(
    action === 'recover'
      ? vscode.l10n.t('Crash-Safe State does not recover files in an untrusted workspace. Trust the workspace first.')
      : vscode.l10n.t('Crash-Safe State does not sweep files in an untrusted workspace. Trust the workspace first.'),
  );
  return false;
}
