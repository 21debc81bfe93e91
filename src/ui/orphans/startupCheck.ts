import { basename } from 'node:path';
import * as vscode from 'vscode';
import { mapBounded } from '../../core/boundedOpens';
import { judgeBroken } from '../../core/copies/judgeBroken';
import type { Orphan } from '../../core/orphans/orphans';
import { RecoveryError, recoverTarget } from '../../core/orphans/recovery';
import { CommandId } from '../commandIds';
import type { BrokenFile } from '../copies/brokenFiles';
import { copyLabel } from '../copies/copyWords';
import { targetsNeedingRecovery } from './format';

/** Targets that have no valid content while a valid temp of theirs exists: the cases worth interrupting for. */
export function brokenTargetsWithValidTemp(orphans: readonly Orphan[]): string[] {
  return targetsNeedingRecovery(orphans);
}

/** The notification's buttons; a click is compared against the same (localised) labels. */
const recoverAction = () => vscode.l10n.t('Recover');
const showAction = () => vscode.l10n.t('Show');

/** What the startup check offered: the broken targets and the notification's actions. */
export interface StartupOffer {
  targets: string[];
  actions: string[];
}

/** What a click on the startup notification did. */
export type StartupActionOutcome = 'recover' | 'already-recovered' | 'show' | 'none';

/**
 * Offers "Recover" and "Show" for the broken targets the first scan found. In Restricted Mode only "Show":
 * recovering replaces files, which needs trust.
 */
export function offerRecovery(
  orphans: readonly Orphan[],
  relative: (path: string) => string,
  extraPatterns?: string[],
  copyBacked: readonly BrokenFile[] = [],
): StartupOffer {
  const withTemp = brokenTargetsWithValidTemp(orphans);
  // Broken files (NUL bytes, empty) that no temp but another copy (Local History, git, a backup) can restore.
  const others = copyBacked.filter((file) => !withTemp.includes(file.target));
  const targets = [...withTemp, ...others.map((file) => file.target)];
  const actions = vscode.workspace.isTrusted ? [recoverAction(), showAction()] : [showAction()];
  if (targets.length > 0) void askToRecover(targets, actions, relative, extraPatterns, others);
  return { targets, actions: targets.length > 0 ? actions : [] };
}

/** "holds only NUL bytes" or "is empty", for a message about a broken file. */
function damageWords(file: BrokenFile): string {
  return file.reason === 'nul' ? vscode.l10n.t('it holds only NUL bytes') : vscode.l10n.t('it is empty');
}

/** The message about broken files that copies other than temps can restore (some may have temps too). */
function copyBackedMessage(broken: readonly string[], file: BrokenFile, relative: (path: string) => string): string {
  const trusted = vscode.workspace.isTrusted;
  if (broken.length === 1) {
    return trusted
      ? vscode.l10n.t({
          message: '{0} is damaged ({1}), but a good copy of it exists: {2}.',
          args: [relative(file.target), damageWords(file), copyLabel(file.best)],
          comment: ['{0} is a file, {1} what is wrong with it, {2} a copy (e.g. "Local History · 14:02 · 2.0 KiB").'],
        })
      : vscode.l10n.t({
          message: '{0} is damaged ({1}), but a good copy of it exists: {2}. Trust the workspace to recover it.',
          args: [relative(file.target), damageWords(file), copyLabel(file.best)],
          comment: ['{0} is a file, {1} what is wrong with it, {2} a copy (e.g. "Local History · 14:02 · 2.0 KiB").'],
        });
  }
  return trusted
    ? vscode.l10n.t({
        message: '{0} files have no valid content, but good copies of them exist (first: {1}).',
        args: [broken.length, basename(broken[0]!)],
        comment: ['{0} is the number of files (2 or more), {1} the name of the first.'],
      })
    : vscode.l10n.t({
        message:
          '{0} files have no valid content, but good copies of them exist (first: {1}). Trust the workspace to recover them.',
        args: [broken.length, basename(broken[0]!)],
        comment: ['{0} is the number of files (2 or more), {1} the name of the first.'],
      });
}

async function askToRecover(
  broken: string[],
  actions: string[],
  relative: (path: string) => string,
  extraPatterns?: string[],
  copyBacked: readonly BrokenFile[] = [],
): Promise<void> {
  const first = broken[0]!;
  const trusted = vscode.workspace.isTrusted;
  let message: string;
  if (copyBacked.length > 0) {
    message = copyBackedMessage(broken, copyBacked[0]!, relative);
  } else if (broken.length === 1) {
    message = trusted
      ? vscode.l10n.t('{0} has no valid content, but a valid temp file of it exists.', relative(first))
      : vscode.l10n.t(
          '{0} has no valid content, but a valid temp file of it exists. Trust the workspace to recover it.',
          relative(first),
        );
  } else {
    message = trusted
      ? vscode.l10n.t({
          message: '{0} files have no valid content, but valid temp files of them exist (first: {1}).',
          args: [broken.length, basename(first)],
          comment: ['{0} is the number of files (2 or more), {1} the name of the first.'],
        })
      : vscode.l10n.t({
          message:
            '{0} files have no valid content, but valid temp files of them exist (first: {1}). Trust the workspace to recover them.',
          args: [broken.length, basename(first)],
          comment: ['{0} is the number of files (2 or more), {1} the name of the first.'],
        });
  }
  const action = await vscode.window.showWarningMessage(message, ...actions);
  await handleStartupAction(
    action,
    broken,
    relative,
    extraPatterns,
    copyBacked.map((file) => file.target),
  );
}

/** Those of `targets` that still need recovery now: the core's own check, so a valid target is never offered. */
async function stillBroken(
  targets: readonly string[],
  extraPatterns?: string[],
  copyBacked: readonly string[] = [],
): Promise<string[]> {
  // A few at a time: each dry run lists its target's folder and judges its temps.
  const verdicts = await mapBounded(targets, 4, (target) =>
    copyBacked.includes(target)
      ? judgeBroken(target).then((verdict) => verdict.state !== 'missing' && verdict.broken)
      : recoverTarget(target, { dryRun: true, extraPatterns }).then(
          () => true,
          // Anything but "it is valid" still needs the Recover command to explain itself.
          (error: unknown) => !(error instanceof RecoveryError && error.code === 'not-needed'),
        ),
  );
  return targets.filter((_, index) => verdicts[index]);
}

/**
 * Acts on a click on the startup notification. VS Code cannot withdraw a notification, so it may be clicked long
 * after the file was recovered some other way: then "Recover" only says so.
 */
export async function handleStartupAction(
  action: string | undefined,
  targets: readonly string[],
  relative: (path: string) => string,
  extraPatterns?: string[],
  copyBacked: readonly string[] = [],
): Promise<StartupActionOutcome> {
  if (action === showAction()) {
    // A file only other copies can restore has no row in Orphaned Temp Files: its entry is in Problems.
    const onlyCopies = copyBacked.length > 0 && targets.every((target) => copyBacked.includes(target));
    await vscode.commands.executeCommand(onlyCopies ? 'workbench.actions.view.problems' : CommandId.ShowOrphans);
    return 'show';
  }
  if (action !== recoverAction()) return 'none';
  const remaining = await stillBroken(targets, extraPatterns, copyBacked);
  if (remaining.length === 0) {
    void vscode.window.showInformationMessage(
      targets.length === 1
        ? vscode.l10n.t(
            '{0} has already been recovered (it is valid now); there is nothing to do.',
            relative(targets[0]!),
          )
        : vscode.l10n.t(
            'All {0} files have already been recovered (they are valid now); there is nothing to do.',
            targets.length,
          ),
    );
    return 'already-recovered';
  }
  // A file no temp can restore goes to Recover From…, which offers every copy; several: the user picks the file first.
  const viaCopies = remaining.filter((target) => copyBacked.includes(target));
  let target = remaining.length === 1 ? remaining[0] : undefined;
  if (remaining.length > 1 && viaCopies.length > 0) {
    target = (
      await vscode.window.showQuickPick(
        remaining.map((path) => ({ label: relative(path), path })),
        { title: vscode.l10n.t('Recover which file?') },
      )
    )?.path;
    if (!target) return 'none';
  }
  const command = target && viaCopies.includes(target) ? CommandId.RecoverFrom : CommandId.Recover;
  await vscode.commands.executeCommand(command, target ? { target } : undefined);
  return 'recover';
}
