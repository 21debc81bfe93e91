import { relative as relativePath } from 'node:path';
import * as vscode from 'vscode';
import { flushAllJsonWriters } from './core/coalescingWriter';
import { readJson, writeJson } from './core/jsonStore';
import type { CrashSafeStateApi } from './ui/api';
import { registerCommands } from './ui/commands';
import { OrphanModel } from './ui/orphanModel';
import { OrphansView } from './ui/orphansView';
import { onDidChangeSettings, readSettings } from './ui/settings';
import { offerRecovery } from './ui/startupCheck';
import { OrphanStatusBar } from './ui/statusBar';

/** Workspace-relative path for messages, absolute outside the workspace. */
function relative(path: string): string {
  const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(path));
  if (!folder) return path;
  const inside = relativePath(folder.uri.fsPath, path);
  return (vscode.workspace.workspaceFolders?.length ?? 0) > 1 ? `${folder.name}/${inside}` : inside;
}

export function activate(context: vscode.ExtensionContext): CrashSafeStateApi {
  const started = performance.now();
  let settings = readSettings();
  const log = vscode.window.createOutputChannel('Crash-Safe State', { log: true });
  context.subscriptions.push(log);
  const model = new OrphanModel(settings, log);
  context.subscriptions.push(model);
  const statusBar = new OrphanStatusBar();
  context.subscriptions.push(statusBar);
  context.subscriptions.push(new OrphansView(model, relative));
  const refreshStatusBar = () => statusBar.update(model.orphans, settings.showWhenClean, relative);
  context.subscriptions.push(model.onDidChange(refreshStatusBar));
  context.subscriptions.push(
    onDidChangeSettings(() => {
      settings = readSettings();
      model.applySettings(settings);
      refreshStatusBar();
      model.scheduleRescan();
    }),
  );
  registerCommands(context, { model, log, settings: () => settings, relative });
  refreshStatusBar();

  // The first scan runs after activation returns, so it never delays the window.
  const startupOffers: string[] = [];
  setTimeout(() => {
    model.rescan().then(
      (orphans) => {
        if (settings.startupCheck) startupOffers.push(...offerRecovery(orphans, relative));
      },
      (error: unknown) => log.error(`Initial scan failed: ${String(error)}`),
    );
  }, 0);

  const activationMs = performance.now() - started;
  log.info(`Activated in ${activationMs.toFixed(1)} ms`);
  return {
    writeJson: (path, value, options) => writeJson(path, value, { ...options, durability: settings.durability }),
    readJson: (path, options) => readJson(path, options),
    scan: () => model.rescan(),
    onDidChangeOrphans: model.onDidChange,
    activationMs,
    diagnostics: { statusBarText: () => statusBar.text, startupOffers: () => startupOffers },
  };
}

/** Waits for every pending state write, so closing the window never drops the last edit. */
export function deactivate(): Promise<void> {
  return flushAllJsonWriters();
}
