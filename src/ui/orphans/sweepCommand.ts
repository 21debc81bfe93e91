import { basename } from 'node:path';
import * as vscode from 'vscode';
import { messageOf } from '../../core/errors';
import { type Orphan, type SweepResult, sweepOrphans } from '../../core/orphans';
import { CommandId } from '../commandIds';
import { confirmModal } from '../dialogs';
import type { WhenTrashUnavailable } from '../settings';
import { type CommandContext, requireTrust } from './commandContext';
import { describeKept, describeOrphan, folderLabel, listNames, needsRecovery, plural, targetsNeedingRecovery, uiText } from './format';

export type { WhenTrashUnavailable };

/** Arguments that let keybindings and tests drive Sweep without any dialog. */
export interface SweepArgs {
  /** Sweep exactly these orphans (still only if stale); skips the preview. */
  paths?: string[];
  olderThanMinutes?: number;
  /** Overrides the `sweep.whenTrashUnavailable` setting for this sweep. */
  whenTrashUnavailable?: WhenTrashUnavailable;
  /** Return the preview (what would go, what stays and why) without showing or removing anything. */
  dryRun?: boolean;
}

/** One line of the sweep preview. */
export interface SweepPreviewItem {
  path: string;
  label: string;
  description: string;
  /** Ticked: the sweep would remove it. */
  picked: boolean;
  /** Why the sweep keeps it (unticked rows). */
  keptBecause?: string;
}

/** What a sweep did and what it told the user. */
export interface SweepOutcome extends SweepResult {
  /** Removed files that went to the trash; the other removed ones were deleted permanently. */
  trashed: string[];
  /** The summary notification and its buttons. */
  message: string;
  actions: string[];
  /** The preview rows (always for a dry run; for a sweep that showed a preview). */
  preview?: SweepPreviewItem[];
}

/** Set once a file system said it has no trash (code-server, most remotes): later sweeps skip the attempt. */
let trashUnsupported = false;
const NO_TRASH_REASON = 'the trash is not available here, and it was not deleted permanently';
const PREVIEW_KEPT_SEPARATOR = 'Kept: a sweep leaves these';

function previewItems(orphans: readonly Orphan[], plan: SweepResult, relative: (path: string) => string): SweepPreviewItem[] {
  const byPath = new Map(orphans.map((orphan) => [orphan.path, orphan]));
  const line = (path: string) => {
    const orphan = byPath.get(path);
    return `${folderLabel(relative(path))}${orphan ? ` · ${describeOrphan(orphan)}` : ''}`;
  };
  return [
    ...plan.removed.map((path) => ({ path, label: basename(path), description: line(path), picked: true })),
    ...plan.kept.map(({ path, reason }) => ({
      path,
      label: basename(path),
      description: `kept: ${uiText(reason)} · ${line(path)}`,
      picked: false,
      keptBecause: uiText(reason),
    })),
  ];
}

export async function sweep(deps: CommandContext, args: SweepArgs = {}): Promise<SweepOutcome | undefined> {
  if (!requireTrust('sweep files')) return undefined;
  const { model } = deps;
  const settings = deps.settings();
  const olderThanMinutes = args.olderThanMinutes ?? settings.orphanAgeMinutes;
  const orphans = await model.rescan();
  let chosen: Orphan[];
  let preview: SweepPreviewItem[] | undefined;
  // Kept already in the preview (and not ticked anyway): still named in the result.
  let keptBefore: SweepResult['kept'] = [];
  if (args.paths) {
    const wanted = new Set(args.paths);
    chosen = orphans.filter((orphan) => wanted.has(orphan.path));
  } else {
    const plan = await model.planSweep(orphans, olderThanMinutes);
    preview = previewItems(orphans, plan, deps.relative);
    const title = `Sweep ${plural(plan.removed.length, 'orphaned temp file')}${plan.kept.length ? ` (${plan.kept.length} kept, see why below)` : ''}`;
    if (args.dryRun) return { ...plan, trashed: [], message: title, actions: [], preview };
    if (plan.removed.length === 0) {
      return report(deps, orphans, { removed: [], kept: plan.kept, failed: plan.failed }, { trashed: [], noTrash: [], preview, nothingToDo: true });
    }
    type PreviewPick = vscode.QuickPickItem & { path?: string };
    const separator = (label: string): PreviewPick => ({ label, kind: vscode.QuickPickItemKind.Separator });
    const pickable = (item: SweepPreviewItem): PreviewPick => ({ label: item.label, description: item.description, picked: item.picked, path: item.path });
    const items: PreviewPick[] = [
      ...preview.filter((item) => item.picked).map(pickable),
      ...(plan.kept.length ? [separator(PREVIEW_KEPT_SEPARATOR), ...preview.filter((item) => !item.picked).map(pickable)] : []),
    ];
    const picks = await vscode.window.showQuickPick(items, {
      canPickMany: true,
      title,
      placeHolder: 'Untick what you want to keep',
      matchOnDescription: true,
    });
    if (!picks || picks.length === 0) return undefined;
    const picked = new Set(picks.map((pick) => pick.path));
    chosen = orphans.filter((orphan) => picked.has(orphan.path));
    keptBefore = plan.kept.filter(({ path }) => !picked.has(path));
  }
  if (args.dryRun) {
    const plan = await model.planSweep(chosen, olderThanMinutes);
    return { ...plan, trashed: [], message: '', actions: [], preview: previewItems(orphans, plan, deps.relative) };
  }

  const sweepOptions = { olderThanMs: olderThanMinutes * 60_000, roots: model.roots, extraPatterns: settings.tempPatterns };
  // Files the trash refused, and why: a choice for the user, not a failure.
  const noTrash = new Map<string, string>();
  const trashed: string[] = [];
  const moveToTrash = async (path: string): Promise<void> => {
    if (trashUnsupported) {
      noTrash.set(path, 'the file system has no trash');
      throw new Error('the file system has no trash');
    }
    try {
      await vscode.workspace.fs.delete(vscode.Uri.file(path), { useTrash: true });
      trashed.push(path);
    } catch (error) {
      if (error instanceof vscode.FileSystemError && error.code === 'FileNotFound') {
        throw Object.assign(new Error('already gone'), { code: 'ENOENT' });
      }
      const message = messageOf(error);
      // VS Code: "Unable to delete file '…' via trash because provider does not support it."
      if (/trash/i.test(message) && /support/i.test(message)) trashUnsupported = true;
      noTrash.set(path, message);
      throw error;
    }
  };
  const first = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'Sweeping orphaned temp files', cancellable: true },
    (progress, token) => {
      const abort = new AbortController();
      token.onCancellationRequested(() => abort.abort());
      return sweepOrphans(chosen, {
        ...sweepOptions,
        remove: settings.useTrash ? moveToTrash : undefined,
        signal: abort.signal,
        onProgress: (done: number) => progress.report({ message: `${done} of ${chosen.length}`, increment: 100 / chosen.length }),
      });
    },
  );
  const result: SweepResult = {
    removed: first.removed,
    kept: [...keptBefore, ...first.kept],
    failed: first.failed.filter(({ path }) => !noTrash.has(path)),
  };
  const refused = chosen.filter((orphan) => noTrash.has(orphan.path) && first.failed.some(({ path }) => path === orphan.path));
  let keptForNoTrash: string[] = [];
  if (refused.length > 0) {
    const policy = args.whenTrashUnavailable ?? deps.settings().whenTrashUnavailable;
    const names = refused.map((orphan) => deps.relative(orphan.path));
    const deletePermanently =
      policy === 'deletePermanently' ||
      (policy === 'ask' &&
        (await confirmModal(
          `The trash is not available here. Delete ${plural(refused.length, 'orphaned temp file')} permanently?`,
          'Delete Permanently',
          `${listNames(names, 5)}.\n\n${trashUnsupported ? 'This file system has no trash.' : `The trash refused: ${noTrash.get(refused[0]!.path)}`}\nThe setting crashSafeState.sweep.whenTrashUnavailable answers this for every sweep.`,
        )));
    if (deletePermanently) {
      // A fresh sweep: every check again, then the unlink pinned to the checked folder.
      const second = await sweepOrphans(refused, sweepOptions);
      result.removed.push(...second.removed);
      result.kept.push(...second.kept);
      result.failed.push(...second.failed);
    } else {
      keptForNoTrash = refused.map((orphan) => orphan.path);
      result.kept.push(...keptForNoTrash.map((path) => ({ path, reason: NO_TRASH_REASON })));
    }
  }
  return report(deps, orphans, result, { trashed, noTrash: keptForNoTrash, preview, olderThanMinutes });
}

/** Logs every file, shows one summary that names what was kept and why, and offers the next step. */
function report(
  deps: CommandContext,
  orphans: readonly Orphan[],
  result: SweepResult,
  extra: { trashed: string[]; noTrash: string[]; preview?: SweepPreviewItem[]; nothingToDo?: boolean; olderThanMinutes?: number },
): SweepOutcome {
  const { log, relative, model } = deps;
  const trashed = new Set(extra.trashed);
  for (const path of result.removed) log.info(`Swept ${path} (${trashed.has(path) ? 'moved to the trash' : 'deleted permanently'})`);
  for (const { path, reason } of result.kept) log.info(`Kept ${path}: ${reason}`);
  for (const { path, error } of result.failed) log.error(`Could not sweep ${path}: ${error}`);

  const removed = result.removed.length;
  const inTrash = result.removed.filter((path) => trashed.has(path)).length;
  const how =
    removed === 0 ? '' : inTrash === removed ? ' (moved to the trash)' : inTrash === 0 ? ' (deleted permanently)' : ` (${inTrash} moved to the trash, ${removed - inTrash} deleted permanently)`;
  const parts = [
    extra.nothingToDo ? 'Nothing to sweep.' : removed === 0 ? 'Swept nothing.' : `Swept ${plural(removed, 'orphaned temp file')}${how}.`,
  ];
  if (result.kept.length) parts.push(describeKept(result.kept, relative));
  if (result.failed.length) {
    parts.push(`${plural(result.failed.length, 'file')} could not be removed: ${relative(result.failed[0]!.path)}: ${uiText(result.failed[0]!.error)}.`);
  }
  const message = parts.join(' ');

  // A kept valid copy of a broken target: offer to recover it right here.
  const keptPaths = new Set(result.kept.map(({ path }) => path));
  const recoverable = targetsNeedingRecovery(orphans.filter((orphan) => keptPaths.has(orphan.path) && needsRecovery(orphan)));
  const recoverAction =
    recoverable.length === 1 ? `Recover ${relative(recoverable[0]!)}…` : recoverable.length > 1 ? 'Recover…' : undefined;
  const actions = [
    ...(recoverAction && vscode.workspace.isTrusted ? [recoverAction] : []),
    ...(extra.noTrash.length ? ['Delete Permanently'] : []),
    ...(result.failed.length || result.kept.length > 3 ? ['Open Log'] : []),
  ];
  const shown = result.failed.length ? vscode.window.showWarningMessage(message, ...actions) : vscode.window.showInformationMessage(message, ...actions);
  void Promise.resolve(shown).then((action) => {
    if (!action) return;
    if (action === recoverAction) {
      void vscode.commands.executeCommand(CommandId.Recover, recoverable.length === 1 ? { target: recoverable[0] } : undefined);
    } else if (action === 'Delete Permanently') {
      const args: SweepArgs = { paths: extra.noTrash, olderThanMinutes: extra.olderThanMinutes, whenTrashUnavailable: 'deletePermanently' };
      void vscode.commands.executeCommand(CommandId.Sweep, args);
    } else if (action === 'Open Log') {
      log.show();
    }
  });
  // Only what the sweep touched is judged again; the watcher would say the same a little later.
  model.refresh(result.removed);
  return { ...result, trashed: result.removed.filter((path) => trashed.has(path)), message, actions, preview: extra.preview };
}
