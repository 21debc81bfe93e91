import { basename } from 'node:path';
import * as vscode from 'vscode';
import { messageOf } from '../../core/errors';
import { type Orphan, type SweepResult, sweepOrphans } from '../../core/orphans/orphans';
import { type Reason, reasonText } from '../../core/reasons';
import { CommandId } from '../commandIds';
import { confirmModal } from '../dialogs';
import { reasonLabel } from '../reasonWords';
import { showResult, showResultWarning, withProgressNotification } from '../resultToasts';
import type { WhenTrashUnavailable } from '../settings';
import { markWalkthrough, WalkthroughKey } from '../walkthroughProgress';
import { type CommandContext, requireTrust } from './commandContext';
import {
  asSentence,
  describeKept,
  describeOrphan,
  folderLabel,
  listNames,
  needsRecovery,
  targetsNeedingRecovery,
  uiText,
} from './format';

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
/** Why a file the trash refused was kept: English in the result and the log (like the core's reasons), worded when shown. */
const NO_TRASH: Reason = { code: 'trash-unavailable' };

/** "Sweep 3 orphaned temp files (1 kept, see why below)": the title of the sweep preview. */
function previewTitle(removed: number, kept: number): string {
  if (kept === 0)
    return removed === 1
      ? vscode.l10n.t('Sweep 1 orphaned temp file')
      : vscode.l10n.t('Sweep {0} orphaned temp files', removed);
  return removed === 1
    ? vscode.l10n.t({
        message: 'Sweep 1 orphaned temp file ({0} kept, see why below)',
        args: [kept],
        comment: ['{0} is the number of temp files a sweep would keep; why is shown in the list below.'],
      })
    : vscode.l10n.t({
        message: 'Sweep {0} orphaned temp files ({1} kept, see why below)',
        args: [removed, kept],
        comment: [
          '{0} is the number of temp files a sweep would remove, {1} the number it would keep; why is shown in the list below.',
        ],
      });
}

/** The first sentence of the sweep summary: how many went, and whether to the trash. */
function sweptSentence(removed: number, inTrash: number): string {
  if (removed === 0) return vscode.l10n.t('Swept nothing.');
  if (removed === 1) {
    return inTrash === 1
      ? vscode.l10n.t('Swept 1 orphaned temp file (moved to the trash).')
      : vscode.l10n.t('Swept 1 orphaned temp file (deleted permanently).');
  }
  if (inTrash === removed) return vscode.l10n.t('Swept {0} orphaned temp files (moved to the trash).', removed);
  if (inTrash === 0) return vscode.l10n.t('Swept {0} orphaned temp files (deleted permanently).', removed);
  return vscode.l10n.t({
    message: 'Swept {0} orphaned temp files ({1} moved to the trash, {2} deleted permanently).',
    args: [removed, inTrash, removed - inTrash],
    comment: ['{0} is the number of files removed, {1} + {2} = {0}.'],
  });
}

/** "2 files could not be removed: data/a.json.tmp: EACCES…" naming the first failure. */
function failedSentence(count: number, first: string, error: string): string {
  return count === 1
    ? vscode.l10n.t({
        message: '1 file could not be removed: {0}: {1}.',
        args: [first, error],
        comment: ['{0} is the first file that could not be removed, {1} the error (in English).'],
      })
    : vscode.l10n.t({
        message: '{0} files could not be removed: {1}: {2}.',
        args: [count, first, error],
        comment: ['{0} is a number of files, {1} the first that could not be removed, {2} the error (in English).'],
      });
}

/** The text of the permanent-deletion question when the trash refused some files. */
function noTrashQuestion(count: number): string {
  return count === 1
    ? vscode.l10n.t('The trash is not available here. Delete 1 orphaned temp file permanently?')
    : vscode.l10n.t('The trash is not available here. Delete {0} orphaned temp files permanently?', count);
}

function previewItems(
  orphans: readonly Orphan[],
  plan: SweepResult,
  relative: (path: string) => string,
): SweepPreviewItem[] {
  const byPath = new Map(orphans.map((orphan) => [orphan.path, orphan]));
  const line = (path: string) => {
    const orphan = byPath.get(path);
    return `${folderLabel(relative(path))}${orphan ? ` · ${describeOrphan(orphan)}` : ''}`;
  };
  return [
    ...plan.removed.map((path) => ({ path, label: basename(path), description: line(path), picked: true })),
    ...plan.kept.map(({ path, why }) => ({
      path,
      label: basename(path),
      description: `${vscode.l10n.t({ message: 'kept: {0}', args: [reasonLabel(why)], comment: ['{0} is why a sweep keeps the file.'] })} · ${line(path)}`,
      picked: false,
      keptBecause: reasonLabel(why),
    })),
  ];
}

const deletePermanentlyAction = () => vscode.l10n.t('Delete Permanently');

/** The detail of the permanent-deletion question: the files, why the trash refused, and the setting that answers it. */
function noTrashDetail(names: readonly string[], refusal: string | undefined): string {
  const why = trashUnsupported
    ? vscode.l10n.t('This file system has no trash.')
    : vscode.l10n.t({
        message: 'The trash refused: {0}',
        args: [String(refusal)],
        comment: ['{0} is the error the trash gave, in English.'],
      });
  const setting = vscode.l10n.t({
    message: 'The setting {0} answers this for every sweep.',
    args: ['crashSafeState.sweep.whenTrashUnavailable'],
    comment: ['{0} is the id of a setting.'],
  });
  return `${asSentence(listNames(names, 5))}\n\n${why}\n${setting}`;
}

/**
 * The sweep preview: ticked rows go. A row sweep keeps (the only valid copy, young, git's…) cannot be ticked: a tick
 * is taken back at once and the placeholder says why, so the count of selected rows is what will really go.
 */
async function pickWhatToSweep<T extends vscode.QuickPickItem & { keptBecause?: string }>(
  items: readonly T[],
  title: string,
): Promise<readonly T[] | undefined> {
  const pick = vscode.window.createQuickPick<T>();
  pick.canSelectMany = true;
  pick.title = title;
  pick.placeholder = vscode.l10n.t('Untick what you want to keep');
  pick.matchOnDescription = true;
  pick.items = items;
  pick.selectedItems = items.filter((item) => item.picked);
  try {
    return await new Promise<readonly T[] | undefined>((resolve) => {
      pick.onDidChangeSelection((selected) => {
        const refused = selected.find((item) => item.keptBecause !== undefined);
        if (!refused) return;
        pick.selectedItems = selected.filter((item) => item.keptBecause === undefined);
        pick.placeholder = vscode.l10n.t({
          message: '{0} cannot be swept: {1}',
          args: [refused.label, refused.keptBecause],
          comment: ['{0} is a file name, {1} why a sweep keeps it.'],
        });
      });
      pick.onDidAccept(() => resolve(pick.selectedItems));
      pick.onDidHide(() => resolve(undefined));
      pick.show();
    });
  } finally {
    pick.dispose();
  }
}

export async function sweep(deps: CommandContext, args: SweepArgs = {}): Promise<SweepOutcome | undefined> {
  if (!requireTrust('sweep')) return undefined;
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
    const title = previewTitle(plan.removed.length, plan.kept.length);
    if (args.dryRun) return { ...plan, trashed: [], message: title, actions: [], preview };
    if (plan.removed.length === 0) {
      return report(
        deps,
        orphans,
        { removed: [], kept: plan.kept, failed: plan.failed },
        { trashed: [], noTrash: [], preview, nothingToDo: true },
      );
    }
    type PreviewPick = vscode.QuickPickItem & { path?: string; keptBecause?: string };
    const separator = (label: string): PreviewPick => ({ label, kind: vscode.QuickPickItemKind.Separator });
    const pickable = (item: SweepPreviewItem): PreviewPick => ({
      label: item.label,
      description: item.description,
      picked: item.picked,
      path: item.path,
      ...(item.picked ? {} : { keptBecause: item.keptBecause ?? '' }),
    });
    const items: PreviewPick[] = [
      ...preview.filter((item) => item.picked).map(pickable),
      ...(plan.kept.length
        ? [
            separator(vscode.l10n.t('Kept: a sweep leaves these')),
            ...preview.filter((item) => !item.picked).map(pickable),
          ]
        : []),
    ];
    const picks = await pickWhatToSweep(items, title);
    if (!picks || picks.length === 0) return undefined;
    const picked = new Set(picks.map((pick) => pick.path));
    chosen = orphans.filter((orphan) => picked.has(orphan.path));
    keptBefore = plan.kept.filter(({ path }) => !picked.has(path));
  }
  if (args.dryRun) {
    const plan = await model.planSweep(chosen, olderThanMinutes);
    return { ...plan, trashed: [], message: '', actions: [], preview: previewItems(orphans, plan, deps.relative) };
  }

  // The preview's own options (model.planSweep), without dryRun.
  const sweepOptions = model.sweepOptions(olderThanMinutes);
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
  // A progress toast only for a slow sweep: beside the result it would make two toasts for one action.
  const first = await withProgressNotification(
    { title: vscode.l10n.t('Sweeping orphaned temp files'), cancellable: true },
    (progress, token) => {
      const abort = new AbortController();
      token.onCancellationRequested(() => abort.abort());
      return sweepOrphans(chosen, {
        ...sweepOptions,
        remove: settings.useTrash ? moveToTrash : undefined,
        signal: abort.signal,
        onProgress: (done: number) =>
          progress.report({
            message: vscode.l10n.t({
              message: '{0} of {1}',
              args: [done, chosen.length],
              comment: ['Sweep progress: {0} files done of {1}.'],
            }),
            increment: 100 / chosen.length,
          }),
      });
    },
  );
  const result: SweepResult = {
    removed: first.removed,
    kept: [...keptBefore, ...first.kept],
    failed: first.failed.filter(({ path }) => !noTrash.has(path)),
  };
  const refused = chosen.filter(
    (orphan) => noTrash.has(orphan.path) && first.failed.some(({ path }) => path === orphan.path),
  );
  let keptForNoTrash: string[] = [];
  if (refused.length > 0) {
    const policy = args.whenTrashUnavailable ?? deps.settings().whenTrashUnavailable;
    const names = refused.map((orphan) => deps.relative(orphan.path));
    const deletePermanently =
      policy === 'deletePermanently' ||
      (policy === 'ask' &&
        (await confirmModal(
          noTrashQuestion(refused.length),
          deletePermanentlyAction(),
          noTrashDetail(names, noTrash.get(refused[0]!.path)),
        )));
    if (deletePermanently) {
      // A fresh sweep: every check again, then the unlink pinned to the checked folder.
      const second = await sweepOrphans(refused, sweepOptions);
      result.removed.push(...second.removed);
      result.kept.push(...second.kept);
      result.failed.push(...second.failed);
    } else {
      keptForNoTrash = refused.map((orphan) => orphan.path);
      result.kept.push(...keptForNoTrash.map((path) => ({ path, reason: reasonText(NO_TRASH), why: NO_TRASH })));
    }
  }
  if (result.removed.length > 0) markWalkthrough(WalkthroughKey.Swept);
  return report(deps, orphans, result, { trashed, noTrash: keptForNoTrash, preview, olderThanMinutes });
}

/** Logs every file, shows one summary that names what was kept and why, and offers the next step. */
function report(
  deps: CommandContext,
  orphans: readonly Orphan[],
  result: SweepResult,
  extra: {
    trashed: string[];
    noTrash: string[];
    preview?: SweepPreviewItem[];
    nothingToDo?: boolean;
    olderThanMinutes?: number;
  },
): SweepOutcome {
  const { log, relative, model } = deps;
  const trashed = new Set(extra.trashed);
  for (const path of result.removed)
    log.info(`Swept ${path} (${trashed.has(path) ? 'moved to the trash' : 'deleted permanently'})`);
  for (const { path, reason } of result.kept) log.info(`Kept ${path}: ${reason}`);
  for (const { path, error } of result.failed) log.error(`Could not sweep ${path}: ${error}`);

  const removed = result.removed.length;
  const inTrash = result.removed.filter((path) => trashed.has(path)).length;
  const parts = [extra.nothingToDo ? vscode.l10n.t('Nothing to sweep.') : sweptSentence(removed, inTrash)];
  if (result.kept.length)
    parts.push(
      describeKept(
        result.kept.map(({ path, why }) => ({ path, reason: reasonLabel(why) })),
        relative,
      ),
    );
  if (result.failed.length) {
    parts.push(failedSentence(result.failed.length, relative(result.failed[0]!.path), uiText(result.failed[0]!.error)));
  }
  const message = parts.join(' ');

  // A kept valid copy of a broken target: offer to recover it right here.
  const keptPaths = new Set(result.kept.map(({ path }) => path));
  const recoverable = targetsNeedingRecovery(
    orphans.filter((orphan) => keptPaths.has(orphan.path) && needsRecovery(orphan)),
  );
  const recoverAction =
    recoverable.length === 1
      ? vscode.l10n.t('Recover {0}…', relative(recoverable[0]!))
      : recoverable.length > 1
        ? vscode.l10n.t('Recover…')
        : undefined;
  const deletePermanently = deletePermanentlyAction();
  const openLog = vscode.l10n.t('Open Log');
  const actions = [
    ...(recoverAction && vscode.workspace.isTrusted ? [recoverAction] : []),
    ...(extra.noTrash.length ? [deletePermanently] : []),
    ...(result.failed.length || result.kept.length > 3 ? [openLog] : []),
  ];
  const shown = result.failed.length ? showResultWarning(message, ...actions) : showResult(message, ...actions);
  void shown.then((action) => {
    if (!action) return;
    if (action === recoverAction) {
      void vscode.commands.executeCommand(
        CommandId.Recover,
        recoverable.length === 1 ? { target: recoverable[0] } : undefined,
      );
    } else if (action === deletePermanently) {
      const args: SweepArgs = {
        paths: extra.noTrash,
        olderThanMinutes: extra.olderThanMinutes,
        whenTrashUnavailable: 'deletePermanently',
      };
      void vscode.commands.executeCommand(CommandId.Sweep, args);
    } else if (action === openLog) {
      log.show();
    }
  });
  // Only what the sweep touched is judged again; the watcher would say the same a little later.
  model.refresh(result.removed);
  return {
    ...result,
    trashed: result.removed.filter((path) => trashed.has(path)),
    message,
    actions,
    preview: extra.preview,
  };
}
