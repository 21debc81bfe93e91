import { relative as relativePath } from 'node:path';
import * as vscode from 'vscode';
import { messageOf } from './core/errors';
import { commitGroup, recoverGroups } from './core/groups/groupCommit';
import { flushAllJsonWriters, writeJsonCoalesced } from './core/json/coalescingWriter';
import { readJson } from './core/json/jsonStore';
import type { CrashSafeStateApi, TodosDiagnostics } from './ui/api';
import { CommandId } from './ui/commandIds';
import { BrokenFiles } from './ui/copies/brokenFiles';
import { COPY_SCHEME, CopyContentProvider } from './ui/copies/copyContent';
import { localHistoryOf } from './ui/copies/localHistory';
import { type RecoverFromArgs, recoverFrom } from './ui/copies/recoverFromCommand';
import { CrashSafeAutoSave, registerCrashSafeSaveCommands, switchEditor } from './ui/crashSafeSave/crashSafeAutoSave';
import { CrashSafeFileSystem } from './ui/crashSafeSave/crashSafeFs';
import { CrashSafeQuickDiff } from './ui/crashSafeSave/crashSafeQuickDiff';
import { CrashSafeReopen } from './ui/crashSafeSave/crashSafeReopen';
import { CrashSafeSaveGuard } from './ui/crashSafeSave/crashSafeSaveGuard';
import { crashSafeReopenTiming } from './ui/crashSafeSave/editorSwap';
import { registerOrphanDecorations } from './ui/decorations/orphanDecorations';
import { registerOrphanDiagnostics } from './ui/diagnostics/orphanDiagnostics';
import { GroupStartupRecovery } from './ui/groups/groupStartupRecovery';
import { registerCommands } from './ui/orphans/orphanCommands';
import { OrphanModel } from './ui/orphans/orphanModel';
import { OrphansView } from './ui/orphans/orphansView';
import { offerRecovery, type StartupOffer } from './ui/orphans/startupCheck';
import { OrphanStatusBar } from './ui/orphans/statusBar';
import { PreSaveCopyLayer } from './ui/preSaveCopyLayer';
import { onDidChangeSettings, readSettings } from './ui/settings';
import { registerSnapshotCommands } from './ui/snapshots/snapshotCommands';
import { SettingsSnapshotService } from './ui/snapshots/snapshotService';
import { registerTodoCommands } from './ui/todos/todosCommands';
import { flushAllTodoModels, TodosModel } from './ui/todos/todosModel';
import { TodosView } from './ui/todos/todosView';
import { walkthroughMarks } from './ui/walkthroughProgress';

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
  // The listing cache of whole walks lives in our own storage (this workspace's, else the global one).
  const model = new OrphanModel(() => settings, log, (context.storageUri ?? context.globalStorageUri).fsPath);
  context.subscriptions.push(model);
  const statusBar = new OrphanStatusBar();
  context.subscriptions.push(statusBar);
  const orphansView = new OrphansView(model, relative);
  context.subscriptions.push(orphansView);
  // Until the first scan ends the item says "scanning…": an empty list then means "not looked yet", not "clean".
  let firstScanError: string | undefined;
  const refreshStatusBar = () =>
    statusBar.update({
      scanned: model.scanned,
      orphans: model.orphans,
      showWhenClean: settings.showWhenClean,
      relative,
      scanError: firstScanError,
    });
  context.subscriptions.push(
    model.onDidChange(() => {
      firstScanError = undefined;
      refreshStatusBar();
    }),
  );
  // Recover From…: every copy of a file (Local History, git, temps, backups); broken files a copy can restore.
  const place = localHistoryOf(context);
  const copyContent = new CopyContentProvider();
  context.subscriptions.push(vscode.workspace.registerTextDocumentContentProvider(COPY_SCHEME, copyContent));
  const brokenFiles = new BrokenFiles({ settings: () => settings, place, log });
  context.subscriptions.push(brokenFiles);
  context.subscriptions.push(
    vscode.commands.registerCommand(CommandId.RecoverFrom, (arg?: vscode.Uri | RecoverFromArgs) =>
      recoverFrom(
        {
          log,
          settings: () => settings,
          relative,
          model,
          provider: copyContent,
          place,
          recovered: (target) => void brokenFiles.recheck([target]),
        },
        arg,
      ),
    ),
  );
  const workspaceFolderPaths = () =>
    (vscode.workspace.workspaceFolders ?? [])
      .filter((folder) => folder.uri.scheme === 'file')
      .map((folder) => folder.uri.fsPath);
  registerCommands(context, {
    model,
    log,
    settings: () => settings,
    relative,
    status: () => statusBar.snapshot(),
    rows: () => orphansView.rows(),
    afterScan: () => brokenFiles.checkLocalHistory(workspaceFolderPaths()),
  });
  registerOrphanDiagnostics(context, { model, settings: () => settings, relative, log, brokenFiles });
  const refreshDecorations = registerOrphanDecorations(context, { model, enabled: () => settings.explorerDecorations });
  refreshStatusBar();

  // Workspace state: the To-Dos view, settings snapshots and crash-safe editing. Nothing is read until after activation.
  const durability = () => settings.durability;
  const todos = new TodosModel({ durability, log });
  context.subscriptions.push(todos);
  const todosView = new TodosView(todos, relative, log);
  context.subscriptions.push(todosView);
  const todoCommands = registerTodoCommands(context, { model: todos, view: todosView, log });
  const snapshots = new SettingsSnapshotService({ durability, log });
  context.subscriptions.push(snapshots);
  registerSnapshotCommands(context, snapshots, log);
  const crashSafeFs = new CrashSafeFileSystem({ durability, log });
  context.subscriptions.push(crashSafeFs);
  const crashSafeAutoSave = new CrashSafeAutoSave(crashSafeFs, log);
  context.subscriptions.push(crashSafeAutoSave);
  const crashSafeSaveGuard = new CrashSafeSaveGuard(crashSafeFs, log);
  context.subscriptions.push(crashSafeSaveGuard);
  const crashSafeReopen = new CrashSafeReopen(log, switchEditor);
  context.subscriptions.push(crashSafeReopen);
  registerCrashSafeSaveCommands(context, log, crashSafeReopen);
  const crashSafeQuickDiff = new CrashSafeQuickDiff(log);
  context.subscriptions.push(crashSafeQuickDiff);
  const preSaveCopies = new PreSaveCopyLayer({ durability }, log);
  context.subscriptions.push(preSaveCopies);

  // Interrupted group commits inside the workspace are finished after the first scan (in a trusted workspace).
  const groupStartup = new GroupStartupRecovery({ model, log, relative });
  context.subscriptions.push(groupStartup);
  context.subscriptions.push(
    vscode.commands.registerCommand(CommandId.FinishInterruptedGroupCommits, () => groupStartup.rescanAndRun()),
  );

  const warnOfRefusedPatterns = () => {
    for (const { reason } of settings.refusedTempPatterns) {
      log.warn(`crashSafeState.tempPatterns: ${reason}`);
      const openSettings = vscode.l10n.t('Open Settings');
      void vscode.window
        .showWarningMessage(vscode.l10n.t('Crash-Safe State ignores a temp pattern: {0}', reason), openSettings)
        .then(
          (action) =>
            action === openSettings &&
            vscode.commands.executeCommand('workbench.action.openSettings', 'crashSafeState.tempPatterns'),
        );
    }
  };
  warnOfRefusedPatterns();
  context.subscriptions.push(
    onDidChangeSettings(() => {
      settings = readSettings();
      warnOfRefusedPatterns();
      refreshDecorations();
      model.settingsChanged();
      void todos.settingsChanged();
      refreshStatusBar();
      model.scheduleRescan();
    }),
  );

  // The first scan runs after activation returns, so it never delays the window.
  let startupOffer: StartupOffer = { targets: [], actions: [] };
  setTimeout(() => {
    void todos.start();
    snapshots.start();
    model.rescan().then(
      async (orphans) => {
        // Groups first, so the start-up check judges what they leave (a group's temp is no file to recover).
        const left = await groupStartup.afterFirstScan(orphans);
        if (!settings.startupCheck) return;
        // Files Local History knows that are now NUL bytes or empty join the offer (bounded; cancelled on dispose).
        await brokenFiles.checkLocalHistory(workspaceFolderPaths());
        startupOffer = offerRecovery(left, relative, settings.tempPatterns, brokenFiles.files());
      },
      (error: unknown) => {
        log.error(`Initial scan failed: ${String(error)}`);
        firstScanError = messageOf(error);
        refreshStatusBar();
      },
    );
  }, 0);

  const todosDiagnostics = (): TodosDiagnostics => ({
    state: structuredClone(todos.state),
    tasks: structuredClone(todos.todos),
    unsavedEdits: todos.unsavedEdits,
    ...todos.stats,
    message: todosView.message,
    rows: todosView.rows(),
    undo: todoCommands.undoStack(),
  });
  const diagnostics: CrashSafeStateApi['diagnostics'] = {
    statusBarText: () => statusBar.text,
    startupOffer: () => startupOffer,
    todos: todosDiagnostics,
    tasks: todosDiagnostics,
    settingsSnapshots: () => snapshots.stats,
    crashSafeSave: () => ({
      ...crashSafeFs.stats,
      autoSave: crashSafeAutoSave.stats,
      guard: crashSafeSaveGuard.stats,
      reopen: crashSafeReopen.stats,
      gitGutter: crashSafeQuickDiff.stats,
    }),
    crashSafeReopenTiming,
    preSaveCopies: () => ({ ...preSaveCopies.stats }),
    orphans: () => model.stats(),
    startupWalk: () => model.rescan(),
    groupStartupRecovery: () => groupStartup.stats,
    walkthrough: walkthroughMarks,
    copies: () => ({
      historyDir: place.dir,
      remoteAuthorities: place.history.remoteAuthorities,
      lastHistoryCheck: brokenFiles.lastCheck,
      brokenFiles: brokenFiles.files().map((file) => ({ target: file.target, reason: file.reason, best: file.best })),
    }),
  };
  const activationMs = performance.now() - started;
  log.info(`Activated in ${activationMs.toFixed(1)} ms`);
  return {
    // Coalesced per target, so a burst from another extension costs two writes; `deactivate` waits for them.
    writeJson: (path, value, options) =>
      writeJsonCoalesced(path, value, { schema: options?.schema, durability: settings.durability }),
    readJson: (path, options) => readJson(path, options),
    commitGroup: (files) => commitGroup(files, { durability: settings.durability }),
    recoverGroups: (root) => recoverGroups(root),
    scan: () => model.rescan({ fresh: true }),
    onDidChangeOrphans: model.onDidChange,
    activationMs,
    diagnostics,
  };
}

/** Waits for every pending state write, so closing the window never drops the last edit. */
export async function deactivate(): Promise<void> {
  await Promise.all([flushAllJsonWriters(), flushAllTodoModels()]);
}
