import { basename } from 'node:path';
import * as vscode from 'vscode';
import { mapBounded } from '../../core/boundedOpens';
import type { Orphan } from '../../core/orphans/orphans';
import { RecoveryError, recoverTarget } from '../../core/orphans/recovery';
import { CommandId } from '../commandIds';
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
): StartupOffer {
  const targets = brokenTargetsWithValidTemp(orphans);
  const actions = vscode.workspace.isTrusted ? [recoverAction(), showAction()] : [showAction()];
  if (targets.length > 0) void askToRecover(targets, actions, relative, extraPatterns);
  return { targets, actions: targets.length > 0 ? actions : [] };
}

async function askToRecover(
  broken: string[],
  actions: string[],
  relative: (path: string) => string,
  extraPatterns?: string[],
): Promise<void> {
  const first = broken[0]!;
  const trusted = vscode.workspace.isTrusted;
  let message: string;
  if (broken.length === 1) {
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
  await handleStartupAction(action, broken, relative, extraPatterns);
}

/** Those of `targets` that still need recovery now: the core's own check, so a valid target is never offered. */
async function stillBroken(targets: readonly string[], extraPatterns?: string[]): Promise<string[]> {
  // A few at a time: each dry run lists its target's folder and judges its temps.
  const verdicts = await mapBounded(targets, 4, (target) =>
    recoverTarget(target, { dryRun: true, extraPatterns }).then(
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
): Promise<StartupActionOutcome> {
  if (action === showAction()) {
    await vscode.commands.executeCommand(CommandId.ShowOrphans);
    return 'show';
  }
  if (action !== recoverAction()) return 'none';
  const remaining = await stillBroken(targets, extraPatterns);
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
  await vscode.commands.executeCommand(
    CommandId.Recover,
    remaining.length === 1 ? { target: remaining[0] } : undefined,
  );
  return 'recover';
}
