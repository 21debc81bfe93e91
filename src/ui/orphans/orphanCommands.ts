import * as vscode from 'vscode';
import type { Orphan } from '../../core/orphans/orphans';
import { CommandId, ORPHANS_VIEW_ID } from '../commandIds';
import type { CommandContext } from './commandContext';
import { type RecoverArgs, recover } from './recoverCommand';
import { type MenuArgs, menu } from './statusMenu';
import { type SweepArgs, sweep } from './sweepCommand';

export type { CommandContext } from './commandContext';
export type { RecoverArgs, RecoverOutcome } from './recoverCommand';
export type { MenuArgs, MenuEntry, StatusMenu } from './statusMenu';
export type { SweepArgs, SweepOutcome, SweepPreviewItem, WhenTrashUnavailable } from './sweepCommand';

/**
 * Registers the orphan commands (scan, sweep, recover, the views' actions); to-do, snapshot, crash-safe save and group
 * commands register in their own folders. Each returns its result so callers (and tests) can check it.
 */
export function registerCommands(context: vscode.ExtensionContext, deps: CommandContext): void {
  const register = (id: CommandId, run: (...args: never[]) => unknown) =>
    context.subscriptions.push(vscode.commands.registerCommand(id, run));

  register(CommandId.Scan, () => scan(deps));
  register(CommandId.Sweep, (args?: SweepArgs) => sweep(deps, args));
  register(CommandId.Recover, (args?: RecoverArgs) => recover(deps, args));
  register(CommandId.ShowOrphans, async () => {
    await vscode.commands.executeCommand(`${ORPHANS_VIEW_ID}.focus`);
    return deps.rows();
  });
  register(CommandId.OpenLog, () => deps.log.show());
  register(CommandId.Menu, (args?: MenuArgs) => menu(deps, args));
  register(CommandId.SweepOne, (orphan?: Orphan) => orphan && sweep(deps, { paths: [orphan.path] }));
  // From this row's copy: the row's tooltip promises it.
  register(
    CommandId.RecoverTarget,
    (orphan?: Orphan) => orphan && recover(deps, { target: orphan.target, from: orphan.path }),
  );
  register(
    CommandId.Reveal,
    (orphan?: Orphan) => orphan && vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(orphan.path)),
  );
}

async function scan({ model, afterScan }: CommandContext): Promise<readonly Orphan[]> {
  return vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Window,
      title: vscode.l10n.t('Crash-Safe State: scanning for orphaned temp files'),
    },
    async () => {
      // The user asked to look at everything again: every folder is read, none taken from the listing cache.
      const orphans = await model.rescan({ fresh: true });
      await afterScan?.();
      return orphans;
    },
  );
}
