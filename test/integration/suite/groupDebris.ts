// Leaves an interrupted group commit in a folder, as a crash would: the real commitGroup runs on a file system that
// "crashes" (every later change fails) after a chosen number of renames. Used by both passes' groupStartup tests, with
// the checks they share.
import * as assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { commitGroup, type GroupFs } from '../../../src/core/groups/groupCommit';
import { nodeGroupFs } from '../../../src/core/groups/groupJournal';
import type { Orphan } from '../../../src/core/orphans/orphans';
import { OrphanDecorations } from '../../../src/ui/decorations/orphanDecorations';
import type { StatusMenu } from '../../../src/ui/orphans/orphanCommands';
import type { OrphanRow } from '../../../src/ui/orphans/orphansView';
import { brokenTargetsWithValidTemp } from '../../../src/ui/orphans/startupCheck';

export const GROUP_TARGETS = ['a.json', 'b.json', 'c.json'] as const;

export const versionOf = (name: string, generation: number): string => `${JSON.stringify({ name, generation })}\n`;

/** The generation each target holds now. */
export function generations(folder: string): number[] {
  return GROUP_TARGETS.map(
    (name) => (JSON.parse(readFileSync(path.join(folder, name), 'utf8')) as { generation: number }).generation,
  );
}

/** Every file under `folder`, relative and sorted. */
export function filesIn(folder: string): string[] {
  return (readdirSync(folder, { recursive: true, encoding: 'utf8' }) as string[]).sort();
}

/** The disk until `renames` renames have been made; after that every change fails, as if the process had died. */
function crashingAfterRenames(renames: number): GroupFs {
  let made = 0;
  const crashed = () => made >= renames;
  const crash = (what: string) => Object.assign(new Error(`simulated crash before ${what}`), { code: 'ECRASH' });
  return {
    ...nodeGroupFs,
    open: async (file, flags, mode) => {
      if (crashed() && flags !== 'r') throw crash(`open ${file}`);
      return nodeGroupFs.open(file, flags, mode);
    },
    rename: async (from, to) => {
      if (crashed()) throw crash(`rename ${to}`);
      made += 1;
      return nodeGroupFs.rename(from, to);
    },
    link: async (existing, newPath) => {
      if (crashed()) throw crash(`link ${newPath}`);
      return nodeGroupFs.link!(existing, newPath);
    },
    unlink: async (file) => {
      if (crashed()) throw crash(`unlink ${file}`);
      return nodeGroupFs.unlink(file);
    },
    // Group recovery and roll back unlink through the pinned folder; a crash stops that too.
    unlinkChecked: async (dir, name, folder, file) => {
      if (crashed()) throw crash(`unlink ${path.join(dir, name)}`);
      return nodeGroupFs.unlinkChecked!(dir, name, folder, file);
    },
  };
}

export interface InterruptedGroupOptions {
  /** Targets with no generation 0: the group creates them, so until it is finished they are missing. */
  newTargets?: readonly (typeof GROUP_TARGETS)[number][];
}

/**
 * Writes generation 0 of a.json, b.json and c.json in `folder` (except `newTargets`), then commits generation 1 as a
 * group that "crashes" after the journal and `targetsRenamed` targets were renamed. The journal, the remaining temps
 * and the backups stay.
 */
export async function interruptedGroup(
  folder: string,
  targetsRenamed: number,
  options: InterruptedGroupOptions = {},
): Promise<void> {
  mkdirSync(folder, { recursive: true });
  for (const name of GROUP_TARGETS) {
    if (!options.newTargets?.includes(name)) writeFileSync(path.join(folder, name), versionOf(name, 0));
  }
  const files = GROUP_TARGETS.map((name) => ({ path: path.join(folder, name), data: versionOf(name, 1) }));
  // The first rename puts the journal in place; each further one replaces a target.
  const failed = await commitGroup(files, { fs: crashingAfterRenames(1 + targetsRenamed) }).then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!failed) throw new Error('the commit was meant to be interrupted');
  if (!filesIn(folder).some((name) => name.endsWith('.journal')))
    throw new Error(`no journal left: ${filesIn(folder).join(', ')}`);
}

/** A status-bar tooltip as plain text: its texts are Markdown-escaped (src/ui/markdownText.ts; runs of spaces as `&nbsp;`). */
export const plainTooltip = (tooltip: string): string => tooltip.replace(/&nbsp;/g, ' ').replace(/\\(.)/g, '$1');

/**
 * A file of an interrupted group (its target missing, its group temp valid) is no case for the single-file Recover:
 * only group recovery finishes it. Checks every surface that offers Recover: the start-up check, the status bar
 * (text, tooltip, screen-reader label), its menu, the Explorer decorations and the Orphans view. Returns the menu.
 */
export async function assertNoSingleFileRecoveryOffered(
  target: string,
  workspace: string,
  orphans: readonly Orphan[],
): Promise<StatusMenu> {
  const shown = path.relative(workspace, target);
  assert.ok(!brokenTargetsWithValidTemp(orphans).includes(target), 'the start-up check would offer Recover for it');

  const menu = await vscode.commands.executeCommand<StatusMenu>('crashSafeState.menu', { show: false });
  const tooltip = plainTooltip(menu.status.tooltip);
  assert.ok(!tooltip.includes(`${shown} is `), `the tooltip says it needs recovery: ${tooltip}`);
  // The screen-reader label counts the broken files the single-file Recover can restore, and no group's file.
  const label = menu.status.accessibilityLabel;
  const restorable = new Set(
    orphans
      .filter((orphan) => orphan.validJson === true && ['missing', 'empty', 'corrupt'].includes(orphan.targetState))
      .filter((orphan) => !/\.csg-[\w-]+\.(tmp|bak)$|^\.cs-group-/.test(path.basename(orphan.path)))
      .map((orphan) => orphan.target),
  );
  assert.ok(!label.includes(`${shown} needs recovery`), label);
  const counted = /(\d+) files need recovery/.exec(label)?.[1];
  const named = /needs recovery/.test(label) ? 1 : 0;
  assert.equal(counted === undefined ? named : Number(counted), restorable.size, label);
  for (const item of menu.items.filter(
    (entry) => entry.command === 'crashSafeState.recover' || /recover/i.test(entry.label),
  )) {
    assert.notDeepEqual(item.args, { target }, `the menu offers Recover for it: ${item.label}`);
    assert.ok(
      !`${item.label} ${item.description}`.includes(path.basename(target)),
      `the menu offers Recover for it: ${item.label} — ${item.description}`,
    );
  }

  const decorations = new OrphanDecorations(() => true);
  try {
    decorations.update(orphans);
    assert.equal(
      decorations.provideFileDecoration(vscode.Uri.file(target))?.badge,
      undefined,
      'the Explorer says a valid temp can restore it',
    );
  } finally {
    decorations.dispose();
  }

  const rows = await vscode.commands.executeCommand<OrphanRow[]>('crashSafeState.showOrphans');
  for (const row of rows.filter((candidate) => path.dirname(candidate.path) === path.dirname(target))) {
    assert.ok(
      !row.tooltip.includes('Recover This Target'),
      `the Orphans view offers Recover This Target: ${row.tooltip}`,
    );
    // package.json shows Sweep This Orphan and Recover This Target only on `orphan` rows.
    assert.equal(row.contextValue, 'orphan.group', `${row.label}: its row menu would offer Recover This Target`);
  }
  return menu;
}
