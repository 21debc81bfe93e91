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
}


/** Destructive commands need a trusted workspace; says so when it is not. */
export function requireTrust(action: string): boolean {
  if (vscode.workspace.isTrusted) return true;
  void vscode.window.showWarningMessage(`Crash-Safe State does not ${action} in an untrusted workspace. Trust the workspace first.`);
  return false;
}
