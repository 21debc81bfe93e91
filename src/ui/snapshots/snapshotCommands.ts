import { relative } from 'node:path';
import * as vscode from 'vscode';
import { messageOf } from '../../core/errors';
import {
  changedSettingKeys,
  type RestoreResult,
  type SettingsSnapshots,
  type SettingValues,
  type SnapshotSummary,
  sameSettingsBytes,
  snapshotBytes,
  type TakeResult,
} from '../../state/snapshots';
import { CommandId, SNAPSHOT_SCHEME } from '../commandIds';
import { displayDateTime } from '../dates';
import { confirmModal } from '../dialogs';
import { type PickerDiff, showDiffPicker } from '../diffPicker';
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
  return displayDateTime(snapshot.takenAt);
}

/** Setting keys for a message, at most `limit` of them; callers word the empty list themselves. */
function listKeys(keys: readonly string[], limit = 6): string {
  const listed = keys.slice(0, limit).join(', ');
  if (keys.length <= limit) return listed;
  return vscode.l10n.t({
    message: '{0} and {1} more',
    args: [listed, keys.length - limit],
    comment: ['{0} is a list of setting ids, separated by ", "; {1} is how many more changed.'],
  });
}

/** A snapshot's reason as the picker shows it: the reasons this extension records are localised, others shown as given. */
function reasonLabel(reason: string): string {
  switch (reason) {
    case 'command':
      return vscode.l10n.t({
        message: 'command',
        comment: ['Why a settings snapshot was taken: the user ran Take Settings Snapshot.'],
      });
    case 'auto':
      return vscode.l10n.t({
        message: 'auto',
        comment: ['Why a settings snapshot was taken: automatically, after the settings changed.'],
      });
    case 'startup':
      return vscode.l10n.t({
        message: 'startup',
        comment: ['Why a settings snapshot was taken: automatically, when the window opened.'],
      });
    default:
      return reason;
  }
}

/** The notification after Take Settings Snapshot took one. */
function takenMessage(previousId: string | undefined, changedKeys: readonly string[]): string {
  if (previousId === undefined) return vscode.l10n.t('Settings snapshot taken (the first snapshot).');
  if (changedKeys.length === 0)
    return vscode.l10n.t('Settings snapshot taken (changed since the previous one: no setting).');
  return vscode.l10n.t({
    message: 'Settings snapshot taken (changed since the previous one: {0}).',
    args: [listKeys(changedKeys)],
    comment: ['{0} is a list of setting ids.'],
  });
}

/** Registers Take Settings Snapshot and Restore Settings Snapshot…; each returns its result. */
export function registerSnapshotCommands(
  context: vscode.ExtensionContext,
  service: SettingsSnapshotService,
  log: vscode.LogOutputChannel,
): void {
  context.subscriptions.push(
    vscode.commands.registerCommand(CommandId.TakeSettingsSnapshot, (args?: TakeSnapshotArgs) =>
      takeSnapshot(service, log, args),
    ),
    vscode.commands.registerCommand(CommandId.RestoreSettingsSnapshot, (args?: RestoreSnapshotArgs) =>
      restoreSnapshot(service, log, args),
    ),
  );
}

async function takeSnapshot(
  service: SettingsSnapshotService,
  log: vscode.LogOutputChannel,
  args: TakeSnapshotArgs = {},
): Promise<TakeResult | undefined> {
  try {
    const result = await service.take(args.reason ?? 'command');
    if (!result) {
      void vscode.window.showInformationMessage(vscode.l10n.t('Open a folder to take settings snapshots.'));
      return undefined;
    }
    if (result.taken) {
      const { snapshot } = result;
      void vscode.window.showInformationMessage(takenMessage(snapshot.previousId, snapshot.changedKeys));
      log.info(`Settings snapshot ${snapshot.id} taken by command`);
    } else {
      void vscode.window.showInformationMessage(
        vscode.l10n.t({
          message: 'Settings are unchanged since the snapshot of {0}; no new snapshot was needed.',
          args: [when(result.newest)],
          comment: ['{0} is a date and time.'],
        }),
      );
    }
    return result;
  } catch (error) {
    const message = messageOf(error);
    log.error(`Settings snapshot failed: ${message}`);
    void vscode.window.showErrorMessage(
      vscode.l10n.t({
        message: 'Settings snapshot failed: {0}',
        args: [message],
        comment: ['{0} is the reason, in English.'],
      }),
    );
    return undefined;
  }
}

async function restoreSnapshot(
  service: SettingsSnapshotService,
  log: vscode.LogOutputChannel,
  args: RestoreSnapshotArgs = {},
): Promise<RestoreResult | undefined> {
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showWarningMessage(
      vscode.l10n.t('Crash-Safe State does not restore settings in an untrusted workspace. Trust the workspace first.'),
    );
    return undefined;
  }
  const store = service.snapshots();
  if (!store) {
    void vscode.window.showInformationMessage(vscode.l10n.t('Open a folder to restore settings snapshots.'));
    return undefined;
  }
  const settingsUri = vscode.Uri.file(store.settingsPath);
  const dirty = vscode.workspace.textDocuments.find(
    (document) => document.isDirty && document.uri.fsPath === store.settingsPath,
  );
  if (dirty) {
    void vscode.window.showErrorMessage(
      vscode.l10n.t('.vscode/settings.json has unsaved changes in an editor. Save or revert them, then restore.'),
    );
    return undefined;
  }
  try {
    // What the user is shown (picker, diff, question) is this one read; the restore writes only while it still holds.
    const currentBytes = await store.currentSettingsBytes();
    const currentValues = service.effectiveValues(store, currentBytes?.toString('utf8') ?? null);
    let id = args.id;
    if (id === undefined) {
      id = await pickSnapshot(store, settingsUri, currentBytes, currentValues);
      if (id === undefined) return undefined;
    }
    const snapshot = await store.read(id);
    const keys = changedSettingKeys(currentValues, snapshot.values);
    if (!args.confirm || args.preview) {
      const { original, modified, title } = restoreDiff(settingsUri, currentBytes, { id, takenAt: snapshot.takenAt });
      await vscode.commands.executeCommand('vscode.diff', original, modified, title, { preview: true });
    }
    if (!args.confirm) {
      const question =
        keys.length === 0
          ? vscode.l10n.t({
              message:
                'Restore .vscode/settings.json to the snapshot of {0}? It changes no setting. The current settings are snapshotted first, so this can be undone.',
              args: [when(snapshot)],
              comment: ['{0} is a date and time.'],
            })
          : vscode.l10n.t({
              message:
                'Restore .vscode/settings.json to the snapshot of {0}? It changes {1}. The current settings are snapshotted first, so this can be undone.',
              args: [when(snapshot), listKeys(keys)],
              comment: ['{0} is a date and time, {1} a list of setting ids.'],
            });
      const confirmed = await confirmModal(question, vscode.l10n.t('Restore'));
      if (!confirmed) return undefined;
    }
    const result = await service.restore(store, id, currentBytes);
    log.info(`Restored settings snapshot ${id}; changed ${result.changedKeys.join(', ') || 'no keys'}`);
    void vscode.window.showInformationMessage(
      restoredMessage(when(result.restored), result.changedKeys, relative(store.workspaceDir, store.snapshotsDir)),
    );
    return result;
  } catch (error) {
    const message = messageOf(error);
    log.error(`Restoring settings snapshot failed: ${message}`);
    void vscode.window.showErrorMessage(
      vscode.l10n.t({
        message: 'Restoring the settings snapshot failed: {0}',
        args: [message],
        comment: ['{0} is the reason, in English.'],
      }),
    );
    return undefined;
  } finally {
    // The preview has done its job whether the restore happened or not; a lingering diff would look pending.
    await closeSnapshotDiffs();
  }
}

/** The notification after a restore: which snapshot, what changed, and where the previous state went. */
function restoredMessage(taken: string, changedKeys: readonly string[], snapshotsDir: string): string {
  if (changedKeys.length === 0) {
    return vscode.l10n.t({
      message: 'Restored the settings of {0} (no setting changed). The previous state is in the snapshot list ({1}).',
      args: [taken, snapshotsDir],
      comment: ['{0} is the date and time of the snapshot, {1} the folder of the snapshots.'],
    });
  }
  return vscode.l10n.t({
    message: 'Restored the settings of {0} ({1} changed). The previous state is in the snapshot list ({2}).',
    args: [taken, listKeys(changedKeys), snapshotsDir],
    comment: ['{0} is the date and time of the snapshot, {1} a list of setting ids, {2} the folder of the snapshots.'],
  });
}

/** Closes every restore preview (a diff whose right side is a snapshot document). */
async function closeSnapshotDiffs(): Promise<void> {
  const tabs = vscode.window.tabGroups.all
    .flatMap((group) => group.tabs)
    .filter((tab) => tab.input instanceof vscode.TabInputTextDiff && tab.input.modified.scheme === SNAPSHOT_SCHEME);
  if (tabs.length > 0) await vscode.window.tabGroups.close(tabs, true);
}

/** The restore preview: settings.json as it is now (or missing) ↔ the snapshot's. */
function restoreDiff(
  settingsUri: vscode.Uri,
  currentBytes: Buffer | null,
  snapshot: Pick<SnapshotSummary, 'id' | 'takenAt'>,
): PickerDiff {
  return {
    original:
      currentBytes === null
        ? vscode.Uri.from({ scheme: SNAPSHOT_SCHEME, path: '/missing/settings.json' })
        : settingsUri,
    modified: vscode.Uri.from({ scheme: SNAPSHOT_SCHEME, path: `/${snapshot.id}/settings.json` }),
    title: vscode.l10n.t({
      message: 'settings.json (now) ↔ snapshot of {0}',
      args: [when(snapshot)],
      comment: ["A diff editor's title; {0} is a date and time."],
    }),
  };
}

/**
 * A Quick Pick of the snapshots, newest first, each with the keys restoring it would change; the highlighted one's
 * diff against settings.json shows beside it (as in Recover To-Do List…).
 */
async function pickSnapshot(
  store: SettingsSnapshots,
  settingsUri: vscode.Uri,
  currentBytes: Buffer | null,
  currentValues: SettingValues,
): Promise<string | undefined> {
  const { snapshots, damaged } = await store.list();
  if (snapshots.length === 0) {
    void vscode.window.showInformationMessage(
      damaged.length > 0
        ? vscode.l10n.t({
            message: 'No settings snapshots yet ({0} damaged). Run "Crash-Safe State: Take Settings Snapshot" first.',
            args: [damaged.length],
            comment: ["{0} is how many snapshot files could not be read. The quoted text is a command's title."],
          })
        : vscode.l10n.t({
            message: 'No settings snapshots yet. Run "Crash-Safe State: Take Settings Snapshot" first.',
            comment: ["The quoted text is a command's title."],
          }),
    );
    return undefined;
  }
  const items = await Promise.all(
    snapshots.map(async (summary) => {
      const document = await store.read(summary.id);
      const keys = changedSettingKeys(currentValues, document.values);
      const sameText = sameSettingsBytes(snapshotBytes(document), currentBytes);
      return {
        label: when(summary),
        description: reasonLabel(summary.reason),
        detail:
          keys.length > 0
            ? vscode.l10n.t({
                message: '$(diff) changes {0}',
                args: [listKeys(keys)],
                comment: ['{0} is a list of setting ids. Keep $(diff): it is an icon.'],
              })
            : sameText
              ? vscode.l10n.t('same as now')
              : vscode.l10n.t('$(diff) same values, different text (comments or formatting)'),
        id: summary.id,
        summary,
      };
    }),
  );
  const pick = await showDiffPicker({
    title: vscode.l10n.t('Restore Settings Snapshot'),
    placeholder: vscode.l10n.t('Highlight a snapshot to see its diff; Enter asks before restoring'),
    items,
    matchOnDetail: true,
    diffOf: (item) => restoreDiff(settingsUri, currentBytes, item.summary),
  });
  return pick?.id;
}
