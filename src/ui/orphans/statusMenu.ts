import { basename } from 'node:path';
import * as vscode from 'vscode';
import { formatAge } from '../../core/orphans';
import { CommandId } from '../commandIds';
import type { CommandContext } from './commandContext';
import { folderLabel, listNames, needsRecovery, plural, targetsNeedingRecovery, uiText } from './format';
import type { StatusSnapshot } from './statusBar';

/** `{ show: false }` describes the status item and its menu without showing anything. */
export interface MenuArgs {
  show?: boolean;
}

export interface MenuEntry {
  label: string;
  description: string;
  command: string;
  args?: unknown;
}

/** The status-bar item as shown and the actions its menu offers, first one highlighted. */
export interface StatusMenu {
  status: StatusSnapshot;
  items: MenuEntry[];
}

/** The sweep plan if it is ready soon; a menu must not wait long for a description. */
const MENU_PLAN_BUDGET_MS = 1_500;

async function menuItems(deps: CommandContext): Promise<MenuEntry[]> {
  const { model, relative } = deps;
  const orphans = model.orphans;
  const trusted = vscode.workspace.isTrusted;
  const olderThan = formatAge(deps.settings().orphanAgeMinutes * 60_000);
  const plan = await Promise.race([
    model.planSweep(orphans).catch(() => undefined),
    new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), MENU_PLAN_BUDGET_MS)),
  ]);
  const items: MenuEntry[] = [];

  // A file with no valid content comes first: recovering it matters more than tidying up.
  const broken = targetsNeedingRecovery(orphans);
  for (const target of broken.slice(0, 3)) {
    const copies = orphans.filter((orphan) => orphan.target === target && needsRecovery(orphan)).sort((a, b) => b.mtimeMs - a.mtimeMs);
    const newest = copies[0]!;
    const more = copies.length > 1 ? ` (+${copies.length - 1} older)` : '';
    const state = `${newest.targetState}; valid copy ${basename(newest.path)}, ${formatAge(newest.ageMs)} old${more}`;
    items.push(
      trusted
        ? { label: `$(history) Recover ${relative(target)}…`, description: state, command: CommandId.Recover, args: { target } }
        : {
            label: `$(workspace-untrusted) Trust the workspace to recover ${relative(target)}…`,
            description: `${state}; recovering replaces files, which needs trust`,
            command: 'workbench.trust.manage',
          },
    );
  }

  let sweepDescription: string;
  if (plan) {
    const names = plan.removed.map((path) => basename(path));
    const kept = plan.kept.length ? ` · ${plan.kept.length} kept` : '';
    sweepDescription = names.length
      ? `${names.length} can go: ${listNames(names)}${kept}`
      : `nothing can go now${plan.kept.length ? `; ${plan.kept.length} kept: ${uiText(plan.kept[0]!.reason)}${plan.kept.length > 1 ? ', …' : ''}` : ''}`;
  } else {
    const stale = model.stale(orphans);
    sweepDescription = `${stale.length} older than ${olderThan}: ${listNames(stale.map((orphan) => basename(orphan.path)))}`;
  }
  items.push({
    label: '$(trash) Sweep orphaned temp files…',
    description: trusted ? sweepDescription : `needs a trusted workspace · ${sweepDescription}`,
    command: CommandId.Sweep,
  });

  const otherTargets = [...new Set(orphans.filter((orphan) => orphan.validJson === true).map((orphan) => orphan.target))].filter(
    (target) => !broken.slice(0, 3).includes(target),
  );
  if (otherTargets.length > 0) {
    items.push({
      label: `$(history) Recover ${broken.length ? 'another file' : 'a file'} from a temp…`,
      description: `${plural(otherTargets.length, 'file')} with a valid temp: ${listNames(otherTargets.map((target) => basename(target)))}`,
      command: CommandId.Recover,
    });
  }
  const folders = new Set(orphans.map((orphan) => folderLabel(relative(orphan.path))));
  items.push({
    label: '$(list-tree) Show all orphans',
    description: orphans.length ? `${orphans.length} in ${plural(folders.size, 'folder')}: ${listNames([...folders])}` : 'none found',
    command: CommandId.ShowOrphans,
  });
  const lastScan = model.lastScanAt;
  items.push({
    label: '$(refresh) Rescan',
    description: lastScan === undefined ? 'the first scan is still running' : `last scan ${formatAge(Date.now() - lastScan)} ago`,
    command: CommandId.Scan,
  });
  items.push({ label: '$(output) Open log', description: 'every deletion, recovery and scan error', command: CommandId.OpenLog });
  return items;
}

export async function menu(deps: CommandContext, args: MenuArgs = {}): Promise<StatusMenu> {
  const items = await menuItems(deps);
  const result = { status: deps.status(), items };
  if (args.show === false) return result;
  const firstIsRecover = items[0]?.command !== CommandId.Sweep;
  const picks: (vscode.QuickPickItem & { entry?: MenuEntry })[] = items.map((entry) => ({ label: entry.label, description: entry.description, entry }));
  // Recover items get their own group, so the highlighted first row reads as the thing to do.
  if (firstIsRecover) {
    const sweepAt = items.findIndex((entry) => entry.command === CommandId.Sweep);
    picks.splice(sweepAt, 0, { label: '', kind: vscode.QuickPickItemKind.Separator });
  }
  const choice = await vscode.window.showQuickPick(picks, { title: 'Crash-Safe State', matchOnDescription: true });
  if (choice?.entry) {
    await vscode.commands.executeCommand(choice.entry.command, ...(choice.entry.args === undefined ? [] : [choice.entry.args]));
  }
  return result;
}
