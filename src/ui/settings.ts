import * as vscode from 'vscode';
import type { Durability } from '../core/atomicWrite';
import { compileCustomPatterns } from '../core/tempPatterns';
import { CONFIG_SECTION } from './commandIds';

/** The extension's settings, read together; package.json `contributes.configuration` documents each. */
export interface ExtensionSettings {
  durability: Durability;
  orphanAgeMinutes: number;
  /** The `tempPatterns` the recogniser accepts; the refused ones are in `refusedTempPatterns`. */
  tempPatterns: string[];
  /** Patterns refused as malformed or over-broad (they would match rotated logs, backups…), with the reason. */
  refusedTempPatterns: { pattern: string; reason: string }[];
  exclude: string[];
  scanNodeModules: boolean;
  showWhenClean: boolean;
  useTrash: boolean;
  scanIntervalMinutes: number;
  startupCheck: boolean;
}

/** Splits the user's patterns into the usable ones and the refused ones, each judged on its own. */
function checkTempPatterns(patterns: readonly string[]): Pick<ExtensionSettings, 'tempPatterns' | 'refusedTempPatterns'> {
  const tempPatterns: string[] = [];
  const refusedTempPatterns: { pattern: string; reason: string }[] = [];
  for (const pattern of patterns) {
    try {
      compileCustomPatterns([pattern]);
      tempPatterns.push(pattern);
    } catch (error) {
      refusedTempPatterns.push({ pattern, reason: error instanceof Error ? error.message : String(error) });
    }
  }
  return { tempPatterns, refusedTempPatterns };
}

export function readSettings(): ExtensionSettings {
  const config = vscode.workspace.getConfiguration(CONFIG_SECTION);
  const patterns = config.get<unknown>('tempPatterns', []);
  return {
    durability: config.get<Durability>('durability') === 'fast' ? 'fast' : 'full',
    orphanAgeMinutes: Math.max(0, config.get<number>('orphanAgeMinutes', 10)),
    ...checkTempPatterns(Array.isArray(patterns) ? patterns.filter((p): p is string => typeof p === 'string') : []),
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
