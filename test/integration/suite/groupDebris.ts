// Leaves an interrupted group commit in a folder, as a crash would: the real commitGroup runs on a file system that
// "crashes" (every later change fails) after a chosen number of renames. Used by both passes' groupStartup tests.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { commitGroup, type GroupFs } from '../../../src/core/groupCommit';
import { nodeGroupFs } from '../../../src/core/groupJournal';

export const GROUP_TARGETS = ['a.json', 'b.json', 'c.json'] as const;

export const versionOf = (name: string, generation: number): string => `${JSON.stringify({ name, generation })}\n`;

/** The generation each target holds now. */
export function generations(folder: string): number[] {
  return GROUP_TARGETS.map((name) => (JSON.parse(readFileSync(path.join(folder, name), 'utf8')) as { generation: number }).generation);
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
  };
}

/**
 * Writes generation 0 of a.json, b.json and c.json in `folder`, then commits generation 1 as a group that "crashes"
 * after the journal and `targetsRenamed` targets were renamed. The journal, the remaining temps and the backups stay.
 */
export async function interruptedGroup(folder: string, targetsRenamed: number): Promise<void> {
  mkdirSync(folder, { recursive: true });
  for (const name of GROUP_TARGETS) writeFileSync(path.join(folder, name), versionOf(name, 0));
  const files = GROUP_TARGETS.map((name) => ({ path: path.join(folder, name), data: versionOf(name, 1) }));
  // The first rename puts the journal in place; each further one replaces a target.
  const failed = await commitGroup(files, { fs: crashingAfterRenames(1 + targetsRenamed) }).then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!failed) throw new Error('the commit was meant to be interrupted');
  if (!filesIn(folder).some((name) => name.endsWith('.journal'))) throw new Error(`no journal left: ${filesIn(folder).join(', ')}`);
}
