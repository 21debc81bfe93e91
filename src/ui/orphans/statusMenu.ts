import { basename } from 'node:path';
import * as vscode from 'vscode';
import type { Orphan, SweepResult } from '../../core/orphans/orphans';
import { CommandId } from '../commandIds';
import { reasonLabel } from '../reasonWords';
import type { CommandContext } from './commandContext';
import {
  folderLabel,
  interruptedGroups,
  isGroupFile,
  listNames,
  needsRecovery,
  stateLabel,
  targetsNeedingRecovery,
  uiAge,
} from './format';
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

/** The state of a broken target and its newest valid copy: "corrupt; valid copy data.json.tmp-1, 5 min old (+1 older)". */
function copyState(state: string, copy: string, age: string, older: number): string {
  return older > 0
    ? vscode.l10n.t({
        message: '{0}; valid copy {1}, {2} old (+{3} older)',
        args: [state, copy, age, older],
        comment: [
          '{0} is the state of a file (missing, empty, corrupt), {1} the newest valid temp file of it, {2} that temp\'s age (e.g. "5 min").',
          '{3} is the number of older valid temp files.',
        ],
      })
    : vscode.l10n.t({
        message: '{0}; valid copy {1}, {2} old',
        args: [state, copy, age],
        comment: [
          '{0} is the state of a file (missing, empty, corrupt), {1} the newest valid temp file of it, {2} that temp\'s age (e.g. "5 min").',
        ],
      });
}

/** What the sweep would do, from its dry run. */
function planDescription(plan: SweepResult): string {
  const removed = plan.removed.map((path) => basename(path));
  const kept = plan.kept.length;
  if (removed.length > 0) {
    const canGo = vscode.l10n.t({
      message: '{0} can go: {1}',
      args: [removed.length, listNames(removed)],
      comment: ['{0} is a number of temp files a sweep would remove now, {1} their names.'],
    });
    return kept > 0
      ? `${canGo} · ${vscode.l10n.t({ message: '{0} kept', args: [kept], comment: ['{0} is a number of temp files a sweep would keep.'] })}`
      : canGo;
  }
  if (kept === 0) return vscode.l10n.t('nothing can go now');
  const reason = reasonLabel(plan.kept[0]!.why);
  return kept > 1
    ? vscode.l10n.t({
        message: 'nothing can go now; {0} kept: {1}, …',
        args: [kept, reason],
        comment: ['{0} is a number of temp files a sweep keeps, {1} the reason for the first.'],
      })
    : vscode.l10n.t({
        message: 'nothing can go now; {0} kept: {1}',
        args: [kept, reason],
        comment: ['{0} is a number of temp files a sweep keeps, {1} the reason for the first.'],
      });
}

/**
 * "Finish Interrupted Group Commits" for the groups whose journal exists, naming their files; in Restricted Mode it asks
 * for trust first, as Recover does.
 */
function finishGroupsItem(
  groups: readonly string[],
  orphans: readonly Orphan[],
  relative: (path: string) => string,
  trusted: boolean,
): MenuEntry {
  const targets = [
    ...new Set(
      orphans
        .filter((orphan) => orphan.group !== undefined && orphan.path !== orphan.group)
        .map((orphan) => relative(orphan.target)),
    ),
  ];
  // A journal whose temps and backups are all gone names no file: then the journals stand for their groups.
  const files = listNames(targets.length > 0 ? targets : groups.map(relative));
  const what =
    groups.length === 1
      ? vscode.l10n.t({
          message: '1 interrupted group commit: {0}',
          args: [files],
          comment: ['{0} is a list of the files the group commit replaces or creates.'],
        })
      : vscode.l10n.t({
          message: '{0} interrupted group commits: {1}',
          args: [groups.length, files],
          comment: ['{0} is a number (2 or more), {1} a list of the files the group commits replace or create.'],
        });
  if (trusted) {
    return {
      label: vscode.l10n.t({
        message: '$(run-all) Finish Interrupted Group Commits',
        comment: ['Keep "$(run-all)", it is an icon. The rest is the title of a command: use its translated title.'],
      }),
      description: what,
      command: CommandId.FinishInterruptedGroupCommits,
    };
  }
  return {
    label:
      groups.length === 1
        ? vscode.l10n.t('$(workspace-untrusted) Trust the workspace to finish the interrupted group commit…')
        : vscode.l10n.t('$(workspace-untrusted) Trust the workspace to finish the interrupted group commits…'),
    description: vscode.l10n.t({
      message: '{0}; finishing replaces files, which needs trust',
      args: [what],
      comment: [
        '{0} says how many interrupted group commits there are and names their files, e.g. "1 interrupted group commit: a.json and b.json".',
      ],
    }),
    command: 'workbench.trust.manage',
  };
}

async function menuItems(deps: CommandContext): Promise<MenuEntry[]> {
  const { model, relative } = deps;
  const orphans = model.orphans;
  const trusted = vscode.workspace.isTrusted;
  const olderThan = uiAge(deps.settings().orphanAgeMinutes * 60_000);
  const plan = await Promise.race([
    model.planSweep(orphans).catch(() => undefined),
    new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), MENU_PLAN_BUDGET_MS)),
  ]);
  const items: MenuEntry[] = [];

  // An interrupted group commit first: its files disagree with each other until it is finished.
  const groups = interruptedGroups(orphans);
  if (groups.length > 0) items.push(finishGroupsItem(groups, orphans, relative, trusted));

  // A file with no valid content comes next: recovering it matters more than tidying up.
  const broken = targetsNeedingRecovery(orphans);
  for (const target of broken.slice(0, 3)) {
    const copies = orphans
      .filter((orphan) => orphan.target === target && needsRecovery(orphan))
      .sort((a, b) => b.mtimeMs - a.mtimeMs);
    const newest = copies[0]!;
    const state = copyState(
      stateLabel(newest.targetState),
      basename(newest.path),
      uiAge(newest.ageMs),
      copies.length - 1,
    );
    items.push(
      trusted
        ? {
            label: vscode.l10n.t('$(history) Recover {0}…', relative(target)),
            description: state,
            command: CommandId.Recover,
            args: { target },
          }
        : {
            label: vscode.l10n.t('$(workspace-untrusted) Trust the workspace to recover {0}…', relative(target)),
            description: vscode.l10n.t({
              message: '{0}; recovering replaces files, which needs trust',
              args: [state],
              comment: [
                '{0} describes the file and its valid copy, e.g. "corrupt; valid copy data.json.tmp-1, 5 min old".',
              ],
            }),
            command: 'workbench.trust.manage',
          },
    );
  }

  let sweepDescription: string;
  if (plan) {
    sweepDescription = planDescription(plan);
  } else {
    const stale = model.stale(orphans);
    sweepDescription = vscode.l10n.t({
      message: '{0} older than {1}: {2}',
      args: [stale.length, olderThan, listNames(stale.map((orphan) => basename(orphan.path)))],
      comment: ['{0} is a number of temp files, {1} an age (e.g. "10 min"), {2} their names.'],
    });
  }
  items.push({
    label: vscode.l10n.t('$(trash) Sweep orphaned temp files…'),
    description: trusted ? sweepDescription : `${vscode.l10n.t('needs a trusted workspace')} · ${sweepDescription}`,
    command: CommandId.Sweep,
  });

  // A group's temp is no candidate of the single-file Recover.
  const otherTargets = [
    ...new Set(
      orphans.filter((orphan) => orphan.validJson === true && !isGroupFile(orphan)).map((orphan) => orphan.target),
    ),
  ].filter((target) => !broken.slice(0, 3).includes(target));
  if (otherTargets.length > 0) {
    const names = listNames(otherTargets.map((target) => basename(target)));
    items.push({
      label: broken.length
        ? vscode.l10n.t('$(history) Recover another file from a temp…')
        : vscode.l10n.t('$(history) Recover a file from a temp…'),
      description:
        otherTargets.length === 1
          ? vscode.l10n.t('1 file with a valid temp: {0}', names)
          : vscode.l10n.t('{0} files with a valid temp: {1}', otherTargets.length, names),
      command: CommandId.Recover,
    });
  }
  const folders = new Set(orphans.map((orphan) => folderLabel(relative(orphan.path))));
  items.push({
    label: vscode.l10n.t('$(list-tree) Show all orphans'),
    description: orphans.length ? inFolders(orphans.length, [...folders]) : vscode.l10n.t('none found'),
    command: CommandId.ShowOrphans,
  });
  const lastScan = model.lastScanAt;
  items.push({
    label: vscode.l10n.t('$(refresh) Rescan'),
    description:
      lastScan === undefined
        ? vscode.l10n.t('the first scan is still running')
        : vscode.l10n.t({
            message: 'last scan {0} ago',
            args: [uiAge(Date.now() - lastScan)],
            comment: ['{0} is an age, e.g. "5 min".'],
          }),
    command: CommandId.Scan,
  });
  items.push({
    label: vscode.l10n.t('$(output) Open log'),
    description: vscode.l10n.t('every deletion, recovery and scan error'),
    command: CommandId.OpenLog,
  });
  return items;
}

/** "4 in 2 folders: data/, ./" */
function inFolders(count: number, folders: readonly string[]): string {
  return folders.length === 1
    ? vscode.l10n.t({
        message: '{0} in 1 folder: {1}',
        args: [count, listNames(folders)],
        comment: ['{0} is a number of temp files, {1} the folder they are in.'],
      })
    : vscode.l10n.t({
        message: '{0} in {1} folders: {2}',
        args: [count, folders.length, listNames(folders)],
        comment: ['{0} is a number of temp files, {1} the number of folders they are in, {2} those folders.'],
      });
}

export async function menu(deps: CommandContext, args: MenuArgs = {}): Promise<StatusMenu> {
  const items = await menuItems(deps);
  const result = { status: deps.status(), items };
  if (args.show === false) return result;
  const firstIsRecover = items[0]?.command !== CommandId.Sweep;
  const picks: (vscode.QuickPickItem & { entry?: MenuEntry })[] = items.map((entry) => ({
    label: entry.label,
    description: entry.description,
    entry,
  }));
  // Finish and Recover items get their own group, so the highlighted first row reads as the thing to do.
  if (firstIsRecover) {
    const sweepAt = items.findIndex((entry) => entry.command === CommandId.Sweep);
    picks.splice(sweepAt, 0, { label: '', kind: vscode.QuickPickItemKind.Separator });
  }
  const choice = await vscode.window.showQuickPick(picks, { title: 'Crash-Safe State', matchOnDescription: true });
  if (choice?.entry) {
    await vscode.commands.executeCommand(
      choice.entry.command,
      ...(choice.entry.args === undefined ? [] : [choice.entry.args]),
    );
  }
  return result;
}
