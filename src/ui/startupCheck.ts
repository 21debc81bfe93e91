import { basename } from 'node:path';
import * as vscode from 'vscode';
import type { Orphan } from '../core/orphans';
import { CommandId } from './commandIds';

/** Targets that have no valid content while a valid temp of theirs exists: the cases worth interrupting for. */
export function brokenTargetsWithValidTemp(orphans: readonly Orphan[]): string[] {
  const targets = orphans
    .filter((orphan) => orphan.targetState !== 'ok' && orphan.validJson === true)
    .map((orphan) => orphan.target);
  return [...new Set(targets)];
}

/** What the startup check offered: the broken targets and the notification's actions. */
export interface StartupOffer {
  targets: string[];
  actions: string[];
}

/**
 * Offers "Recover" and "Show" for the broken targets the first scan found. In Restricted Mode only "Show":
 * recovering replaces files, which needs trust.
 */
export function offerRecovery(orphans: readonly Orphan[], relative: (path: string) => string): StartupOffer {
  const targets = brokenTargetsWithValidTemp(orphans);
  const actions = vscode.workspace.isTrusted ? ['Recover', 'Show'] : ['Show'];
  if (targets.length > 0) void askToRecover(targets, actions, relative);
  return { targets, actions: targets.length > 0 ? actions : [] };
}

async function askToRecover(broken: string[], actions: string[], relative: (path: string) => string): Promise<void> {
  const first = broken[0]!;
  const trustHint = vscode.workspace.isTrusted ? '' : ' Trust the workspace to recover it.';
  const message =
    (broken.length === 1
      ? `${relative(first)} has no valid content, but a valid temp file of it exists.`
      : `${broken.length} files have no valid content, but valid temp files of them exist (first: ${basename(first)}).`) + trustHint;
  const action = await vscode.window.showWarningMessage(message, ...actions);
  if (action === 'Recover') await vscode.commands.executeCommand(CommandId.Recover, broken.length === 1 ? { target: first } : undefined);
  if (action === 'Show') await vscode.commands.executeCommand(CommandId.ShowOrphans);
}
