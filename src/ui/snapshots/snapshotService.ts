import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import * as vscode from 'vscode';
import type { Durability } from '../../core/atomicWrite';
import {
  changedSettingKeys,
  DEFAULT_SNAPSHOT_KEEP,
  type RestoreResult,
  SettingsSnapshots,
  type SettingValues,
  type SnapshotSummary,
  settingsValuesFromText,
  type TakeResult,
} from '../../state/snapshots';
import { CONFIG_SECTION, CommandId, SNAPSHOT_SCHEME } from '../commandIds';
import { confirmModal } from '../dialogs';
import { Disposable } from '../dispose';

/** `crashSafeState.snapshots.*` settings. */
export interface SnapshotSettings {
  keep: number;
  auto: boolean;
}

export function readSnapshotSettings(folder?: vscode.Uri): SnapshotSettings {
  const config = vscode.workspace.getConfiguration(CONFIG_SECTION, folder);
  const keep = config.get<number>('snapshots.keep', DEFAULT_SNAPSHOT_KEEP);
  return {
    keep: Number.isFinite(keep) ? Math.max(1, Math.trunc(keep)) : DEFAULT_SNAPSHOT_KEEP,
    auto: config.get<boolean>('snapshots.auto', true),
  };
}

/** Configuration changes arrive in bursts (one per key a settings edit touches); one snapshot covers them. */
export const AUTO_SNAPSHOT_DELAY_MS = 1000;
/** The baseline snapshot waits a moment, so it never competes with the window's start-up. */
const STARTUP_SNAPSHOT_DELAY_MS = 1000;

/** `crashSafeState.takeSettingsSnapshot` arguments. */
export interface TakeSnapshotArgs {
  reason?: string;
}

/**
 * `crashSafeState.restoreSettingsSnapshot` arguments: `id` skips the Quick Pick; `confirm` skips the diff and the
 * question; `preview` shows the diff even with `confirm` (it is closed after the restore, as always).
 */
export interface RestoreSnapshotArgs {
  id?: string;
  confirm?: boolean;
  preview?: boolean;
}

/** Counters of the automatic snapshots, for diagnostics and tests. */
export interface AutoSnapshotStats {
  taken: number;
  skippedUnchanged: number;
  lastId: string | undefined;
  lastError: string | undefined;
}

export interface SnapshotDeps {
  durability: () => Durability;
  log: vscode.LogOutputChannel;
}

/**
 * Settings snapshots of the first workspace folder's `.vscode/settings.json`: by command, automatically after a
 * configuration change (debounced; skipped when nothing changed) and once at start-up as a baseline, plus restore
 * with a Quick Pick, a diff preview and a confirmation. Nothing is created in a folder without a settings.json.
 */
export class SettingsSnapshotService extends Disposable implements vscode.TextDocumentContentProvider {
  private autoTimer: ReturnType<typeof setTimeout> | undefined;
  private startupTimer: ReturnType<typeof setTimeout> | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly autoStats: AutoSnapshotStats = { taken: 0, skippedUnchanged: 0, lastId: undefined, lastError: undefined };

  constructor(private readonly deps: SnapshotDeps) {
    super();
    this._register(vscode.workspace.registerTextDocumentContentProvider(SNAPSHOT_SCHEME, this));
    this._register(vscode.workspace.onDidChangeConfiguration(() => this.scheduleAuto(AUTO_SNAPSHOT_DELAY_MS)));
    this._register({
      dispose: () => {
        clearTimeout(this.autoTimer);
        clearTimeout(this.startupTimer);
      },
    });
  }

  get stats(): AutoSnapshotStats {
    return { ...this.autoStats };
  }

  /** Takes the baseline snapshot a little after start-up, so the state before the first change is kept too. */
  start(): void {
    // Its own timer: a configuration change during start-up must not replace the state from before it.
    this.startupTimer = setTimeout(() => void this.autoSnapshot('startup'), STARTUP_SNAPSHOT_DELAY_MS);
  }

  /** The snapshots of the first file-scheme workspace folder, or undefined without one. */
  snapshots(): SettingsSnapshots | undefined {
    const folder = vscode.workspace.workspaceFolders?.find((candidate) => candidate.uri.scheme === 'file');
    if (!folder) return undefined;
    const settings = readSnapshotSettings(folder.uri);
    return new SettingsSnapshots(folder.uri.fsPath, { keep: settings.keep, durability: this.deps.durability() });
  }

  /** VS Code's effective workspace-scope values of the keys settings.json holds (parsed values where VS Code has none). */
  effectiveValues(store: SettingsSnapshots, text: string | null): SettingValues {
    const parsed = settingsValuesFromText(text).values;
    const folderUri = vscode.Uri.file(store.workspaceDir);
    const config = vscode.workspace.getConfiguration(undefined, folderUri);
    // In a multi-root workspace a folder's .vscode/settings.json is the folder scope, not the workspace scope.
    const multiRoot = vscode.workspace.workspaceFile !== undefined;
    const values: SettingValues = {};
    for (const key of Object.keys(parsed)) {
      const inspected = config.inspect(key);
      const effective = multiRoot ? inspected?.workspaceFolderValue : inspected?.workspaceValue;
      values[key] = effective === undefined ? parsed[key] : effective;
    }
    return values;
  }

  /** Takes a snapshot now (serialised with automatic ones); undefined without a workspace folder. */
  take(reason: string): Promise<TakeResult | undefined> {
    return this.serialised(async () => {
      const store = this.snapshots();
      if (!store) return undefined;
      const text = await store.currentSettingsText();
      return store.take({ reason, values: this.effectiveValues(store, text) });
    });
  }

  /** Restores a snapshot (first snapshotting the current state). */
  restore(store: SettingsSnapshots, id: string): Promise<RestoreResult> {
    return this.serialised(async () => {
      const text = await store.currentSettingsText();
      return store.restore(id, { values: this.effectiveValues(store, text) });
    });
  }

  /** Content of `crashsafe-snapshot:/<id>/settings.json`: that snapshot's raw settings.json text. */
  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const id = uri.path.split('/').filter(Boolean)[0] ?? '';
    if (id === 'missing') return '';
    const store = this.snapshots();
    if (!store) return '';
    const snapshot = await store.read(id);
    return snapshot.settingsText ?? '';
  }

  private serialised<T>(action: () => Promise<T>): Promise<T> {
    const run = this.queue.then(action, action);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private scheduleAuto(delayMs: number): void {
    clearTimeout(this.autoTimer);
    this.autoTimer = setTimeout(() => {
      this.autoTimer = undefined;
      void this.autoSnapshot('auto');
    }, delayMs);
  }

  private async autoSnapshot(reason: string): Promise<void> {
    const store = this.snapshots();
    if (!store || !readSnapshotSettings(vscode.Uri.file(store.workspaceDir)).auto) return;
    // Opening a folder must not create files in it: only a folder with workspace settings (or snapshots) gets them.
    if (!existsSync(store.settingsPath) && !existsSync(store.snapshotsDir)) return;
    if (!vscode.workspace.isTrusted) return;
    try {
      const result = await this.take(reason);
      if (!result) return;
      if (result.taken) {
        this.autoStats.taken += 1;
        this.autoStats.lastId = result.snapshot.id;
        this.deps.log.info(
          `Settings snapshot ${result.snapshot.id} (${reason}): ${result.snapshot.changedKeys.join(', ') || 'text only'}` +
            (result.pruned.length > 0 ? `; pruned ${result.pruned.length}` : ''),
        );
      } else {
        this.autoStats.skippedUnchanged += 1;
      }
      this.autoStats.lastError = undefined;
    } catch (error) {
      this.autoStats.lastError = error instanceof Error ? error.message : String(error);
      this.deps.log.error(`Automatic settings snapshot failed: ${this.autoStats.lastError}`);
    }
  }
}

/** The Quick Pick / message wording for a snapshot's time. */
function when(snapshot: Pick<SnapshotSummary, 'takenAt'>): string {
  return new Date(snapshot.takenAt).toLocaleString();
}

function listKeys(keys: readonly string[], limit = 6): string {
  if (keys.length === 0) return 'no setting';
  return keys.slice(0, limit).join(', ') + (keys.length > limit ? ` and ${keys.length - limit} more` : '');
}

/** Registers Take Settings Snapshot and Restore Settings Snapshot…; each returns its result. */
export function registerSnapshotCommands(context: vscode.ExtensionContext, service: SettingsSnapshotService, log: vscode.LogOutputChannel): void {
  context.subscriptions.push(
    vscode.commands.registerCommand(CommandId.TakeSettingsSnapshot, (args?: TakeSnapshotArgs) => takeSnapshot(service, log, args)),
    vscode.commands.registerCommand(CommandId.RestoreSettingsSnapshot, (args?: RestoreSnapshotArgs) => restoreSnapshot(service, log, args)),
  );
}

async function takeSnapshot(service: SettingsSnapshotService, log: vscode.LogOutputChannel, args: TakeSnapshotArgs = {}): Promise<TakeResult | undefined> {
  try {
    const result = await service.take(args.reason ?? 'command');
    if (!result) {
      void vscode.window.showInformationMessage('Open a folder to take settings snapshots.');
      return undefined;
    }
    if (result.taken) {
      const { snapshot } = result;
      const changes = snapshot.previousId === undefined ? 'the first snapshot' : `changed since the previous one: ${listKeys(snapshot.changedKeys)}`;
      void vscode.window.showInformationMessage(`Settings snapshot taken (${changes}).`);
      log.info(`Settings snapshot ${snapshot.id} taken by command`);
    } else {
      void vscode.window.showInformationMessage(`Settings are unchanged since the snapshot of ${when(result.newest)}; no new snapshot was needed.`);
    }
    return result;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log.error(`Settings snapshot failed: ${message}`);
    void vscode.window.showErrorMessage(`Settings snapshot failed: ${message}`);
    return undefined;
  }
}

async function restoreSnapshot(
  service: SettingsSnapshotService,
  log: vscode.LogOutputChannel,
  args: RestoreSnapshotArgs = {},
): Promise<RestoreResult | undefined> {
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showWarningMessage('Crash-Safe State does not restore settings in an untrusted workspace. Trust the workspace first.');
    return undefined;
  }
  const store = service.snapshots();
  if (!store) {
    void vscode.window.showInformationMessage('Open a folder to restore settings snapshots.');
    return undefined;
  }
  const settingsUri = vscode.Uri.file(store.settingsPath);
  const dirty = vscode.workspace.textDocuments.find((document) => document.isDirty && document.uri.fsPath === store.settingsPath);
  if (dirty) {
    void vscode.window.showErrorMessage('.vscode/settings.json has unsaved changes in an editor. Save or revert them, then restore.');
    return undefined;
  }
  try {
    const currentText = await store.currentSettingsText();
    const currentValues = service.effectiveValues(store, currentText);
    let id = args.id;
    if (id === undefined) {
      id = await pickSnapshot(store, currentText, currentValues);
      if (id === undefined) return undefined;
    }
    const snapshot = await store.read(id);
    const keys = changedSettingKeys(currentValues, snapshot.values);
    if (!args.confirm || args.preview) {
      const left = currentText === null ? vscode.Uri.from({ scheme: SNAPSHOT_SCHEME, path: '/missing/settings.json' }) : settingsUri;
      const right = vscode.Uri.from({ scheme: SNAPSHOT_SCHEME, path: `/${id}/settings.json` });
      await vscode.commands.executeCommand('vscode.diff', left, right, `settings.json (now) ↔ snapshot of ${when(snapshot)}`, { preview: true });
    }
    if (!args.confirm) {
      const confirmed = await confirmModal(
        `Restore .vscode/settings.json to the snapshot of ${when(snapshot)}? It changes ${listKeys(keys)}. ` +
          'The current settings are snapshotted first, so this can be undone.',
        'Restore',
      );
      if (!confirmed) return undefined;
    }
    const result = await service.restore(store, id);
    log.info(`Restored settings snapshot ${id}; changed ${result.changedKeys.join(', ') || 'no keys'}`);
    void vscode.window.showInformationMessage(
      `Restored the settings of ${when(result.restored)} (${listKeys(result.changedKeys)} changed). ` +
        `The previous state is in the snapshot list (${relative(store.workspaceDir, store.snapshotsDir)}).`,
    );
    return result;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log.error(`Restoring settings snapshot failed: ${message}`);
    void vscode.window.showErrorMessage(`Restoring the settings snapshot failed: ${message}`);
    return undefined;
  } finally {
    // The preview has done its job whether the restore happened or not; a lingering diff would look pending.
    await closeSnapshotDiffs();
  }
}

/** Closes every restore preview (a diff whose right side is a snapshot document). */
async function closeSnapshotDiffs(): Promise<void> {
  const tabs = vscode.window.tabGroups.all
    .flatMap((group) => group.tabs)
    .filter((tab) => tab.input instanceof vscode.TabInputTextDiff && tab.input.modified.scheme === SNAPSHOT_SCHEME);
  if (tabs.length > 0) await vscode.window.tabGroups.close(tabs, true);
}

/** A Quick Pick of the snapshots, newest first, each with the keys restoring it would change. */
async function pickSnapshot(store: SettingsSnapshots, currentText: string | null, currentValues: SettingValues): Promise<string | undefined> {
  const { snapshots, damaged } = await store.list();
  if (snapshots.length === 0) {
    void vscode.window.showInformationMessage(
      `No settings snapshots yet${damaged.length > 0 ? ` (${damaged.length} damaged)` : ''}. Run "Crash-Safe State: Take Settings Snapshot" first.`,
    );
    return undefined;
  }
  const items = await Promise.all(
    snapshots.map(async (summary) => {
      const document = await store.read(summary.id);
      const keys = changedSettingKeys(currentValues, document.values);
      const sameText = document.settingsText === currentText;
      return {
        label: when(summary),
        description: summary.reason,
        detail:
          keys.length > 0
            ? `$(diff) changes ${listKeys(keys)}`
            : sameText
              ? 'same as now'
              : '$(diff) same values, different text (comments or formatting)',
        id: summary.id,
      };
    }),
  );
  const pick = await vscode.window.showQuickPick(items, {
    title: 'Restore Settings Snapshot',
    placeHolder: 'Pick a snapshot to preview; you confirm after seeing the diff',
    matchOnDetail: true,
  });
  return pick?.id;
}
