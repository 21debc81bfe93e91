import { relative } from 'node:path';
import * as vscode from 'vscode';
import { messageOf } from '../../core/errors';
import { changedSettingKeys, type RestoreResult, type SettingsSnapshots, type SettingValues, type SnapshotSummary, type TakeResult } from '../../state/snapshots';
import { CommandId, SNAPSHOT_SCHEME } from '../commandIds';
import { confirmModal } from '../dialogs';
import type { SettingsSnapshotService } from './snapshotService';

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
    const message = messageOf(error);
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
    const message = messageOf(error);
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
