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

/** Offers "Recover" and "Show" for the broken targets the first scan found; returns those targets. */
export function offerRecovery(orphans: readonly Orphan[], relative: (path: string) => string): string[] {
  const broken = brokenTargetsWithValidTemp(orphans);
  if (broken.length > 0) void askToRecover(broken, relative);
  return broken;
}

async function askToRecover(broken: string[], relative: (path: string) => string): Promise<void> {
  const first = broken[0]!;
  const message =
    broken.length === 1
      ? `${relative(first)} has no valid content, but a valid temp file of it exists.`
      : `${broken.length} files have no valid content, but valid temp files of them exist (first: ${basename(first)}).`;
  const action = await vscode.window.showWarningMessage(message, 'Recover', 'Show');
  if (action === 'Recover') await vscode.commands.executeCommand(CommandId.Recover, broken.length === 1 ? { target: first } : undefined);
  if (action === 'Show') await vscode.commands.executeCommand(CommandId.ShowOrphans);
}
