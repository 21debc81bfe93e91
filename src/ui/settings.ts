import * as vscode from 'vscode';
import type { Durability } from '../core/atomicWrite';
import { CONFIG_SECTION } from './commandIds';

/** The extension's settings, read together; package.json `contributes.configuration` documents each. */
export interface ExtensionSettings {
  durability: Durability;
  orphanAgeMinutes: number;
  tempPatterns: string[];
  exclude: string[];
  scanNodeModules: boolean;
  showWhenClean: boolean;
  useTrash: boolean;
  scanIntervalMinutes: number;
  startupCheck: boolean;
}

export function readSettings(): ExtensionSettings {
  const config = vscode.workspace.getConfiguration(CONFIG_SECTION);
  return {
    durability: config.get<Durability>('durability') === 'fast' ? 'fast' : 'full',
    orphanAgeMinutes: Math.max(0, config.get<number>('orphanAgeMinutes', 10)),
    tempPatterns: config.get<string[]>('tempPatterns', []),
    exclude: config.get<string[]>('exclude', ['**/.git/**']),
    scanNodeModules: config.get<boolean>('scanNodeModules', true),
    showWhenClean: config.get<boolean>('statusBar.showWhenClean', true),
    useTrash: config.get<boolean>('sweep.useTrash', true),
    scanIntervalMinutes: Math.max(0, config.get<number>('scanIntervalMinutes', 5)),
    startupCheck: config.get<boolean>('startupCheck', true),
  };
}

/** Fires `listener` only for changes under our section, as Error Lens does. */
export function onDidChangeSettings(listener: () => void): vscode.Disposable {
  return vscode.workspace.onDidChangeConfiguration((event) => {
    if (event.affectsConfiguration(CONFIG_SECTION)) listener();
  });
}
