// Group commits in the crash model: scenarios of several targets, the verdict every crash state must pass (after
// recovery every target old or every target new, nothing left behind), and deliberately broken copies of the commit.
import { basename, dirname, join } from 'node:path';
import { commonFolder } from '../../../src/core/folderListing';
import type { FsLike } from '../../../src/core/fs';
import { commitGroup } from '../../../src/core/groups/groupCommit';
import {
  digestOf,
  digestOfFile,
  encodeJournal,
  entryPaths,
  fsyncFolders,
  type GroupFs,
  type GroupJournal,
  groupBackupName,
  groupJournalName,
  groupTempName,
  newGroupId,
  parseJournal,
} from '../../../src/core/groups/groupJournal';
import { recoverGroups } from '../../../src/core/groups/groupRecovery';
import { recogniseGroupFile } from '../../../src/core/names/tempPatterns';
import type { Durability } from '../../../src/core/write/atomicWrite';
import { type CheckOptions, type CheckReport, type CrashCheck, checkCrashStates, summarize } from './checker';
import { describeBytes } from './expectations';
import { documentText } from './fixtures';
import { type FsImage, listFiles } from './image';
import { fsError, ImageBuilder, RecordingFs } from './recordingFs';

export interface GroupTarget {
  path: string;
  /** null: the file does not exist before the commit. */
  old: string | null;
  next: string;
}

export interface GroupScenario {
  name: string;
  root: string;
  targets: GroupTarget[];
  /** The rename over this target fails with EACCES (as over a file another program holds on Windows). */
  failRenameTo?: string;
}

/** The recording file system with one rename that always fails. */
class FailingRenameFs extends RecordingFs {
  constructor(
    base: FsImage,
    private readonly failTo: string,
  ) {
    super(base);
  }
  override async rename(from: string, to: string): Promise<void> {
    if (to === this.failTo) throw fsError('EACCES', 'rename', to);
    return super.rename(from, to);
  }
}

/**
 * `count` targets under /ws, in one folder or each in its own sibling folder (/ws/f1, /ws/f2, …). The first is
 * two 4 KiB blocks long, so torn writes are possible; with `absentLast`, the last one does not exist yet.
 */
export function groupScenario(
  count: number,
  layout: 'one folder' | 'sibling folders',
  absentLast = false,
): GroupScenario {
  const root = '/ws';
  const targets = Array.from({ length: count }, (_, index): GroupTarget => {
    const folder = layout === 'one folder' ? root : join(root, `f${index + 1}`);
    const size = index === 0 ? 5000 : 0;
    return {
      path: join(folder, `file${index + 1}.json`),
      old: absentLast && index === count - 1 ? null : documentText(10 + index, size),
      next: documentText(20 + index, size),
    };
  });
  const absent = absentLast ? ', the last one new' : '';
  return { name: `${count} targets in ${layout}${absent}`, root, targets };
}

export function scenarioImage(scenario: GroupScenario): ImageBuilder {
  const builder = new ImageBuilder().dir(scenario.root);
  for (const target of scenario.targets) {
    builder.dir(dirname(target.path));
    if (target.old !== null) builder.file(target.path, target.old);
  }
  return builder;
}

/** How a restart finishes groups: the real recoverGroups, or a broken copy. Returns the problems it reported. */
export type GroupRecoverFn = (fs: GroupFs, root: string) => Promise<string[]>;

export const realGroupRecovery: GroupRecoverFn = async (fs, root) => {
  const report = await recoverGroups(root, { fs, lock: false });
  return [
    ...report.problems.map((p) => `${p.journal}: ${p.reason}`),
    ...report.errors.map((e) => `${e.path}: ${e.error}`),
  ];
};

/** The verdict in one crash state: recovery, then every target old or every target new, and no group file left. */
export async function judgeGroupState(
  scenario: GroupScenario,
  check: CrashCheck,
  recover: GroupRecoverFn = realGroupRecovery,
): Promise<string[]> {
  const { fs, marks } = check;
  const problems = (await recover(fs, scenario.root)).map((p) => `recovery reported ${p}`);
  const sides = scenario.targets.map((target) => {
    const bytes = fs.liveContent(target.path);
    const text = bytes?.toString('utf8') ?? null;
    if (text === target.next) return 'new';
    if (text === target.old) return 'old';
    problems.push(`${target.path} is ${bytes ? describeBytes(bytes) : 'missing'}: neither its old nor its new content`);
    return 'neither';
  });
  const name = (index: number) => basename(scenario.targets[index]!.path);
  if (sides.includes('old') && sides.includes('new')) {
    problems.push(`the group is mixed: ${sides.map((side, index) => `${name(index)} ${side}`).join(', ')}`);
  }
  if (marks.some((mark) => mark.label === 'ack group') && sides.some((side) => side !== 'new')) {
    problems.push(
      'the commit had returned, yet not every target holds its new content: an acknowledged group was lost',
    );
  }
  if (marks.some((mark) => mark.label === 'failed group') && sides.some((side) => side !== 'old')) {
    problems.push('the commit had failed, yet not every target holds its old content');
  }
  const left = [...listFiles(fs.live).keys()].filter((path) => recogniseGroupFile(basename(path)));
  if (left.length > 0) problems.push(`recovery left group files behind: ${left.join(', ')}`);
  return problems;
}

export type GroupCommitFn = (fs: RecordingFs, scenario: GroupScenario) => Promise<void>;

export const realGroupCommit =
  (durability: Durability = 'full'): GroupCommitFn =>
  async (fs, scenario) => {
    await commitGroup(
      scenario.targets.map((target) => ({ path: target.path, data: target.next })),
      { fs, durability, lock: false },
    );
  };

/** Records one commit of the scenario and checks every crash state of it. */
export async function checkGroupCommit(
  label: string,
  scenario: GroupScenario,
  commit: GroupCommitFn,
  options: CheckOptions & { recover?: GroupRecoverFn } = {},
): Promise<CheckReport> {
  const image = scenarioImage(scenario).image;
  const fs = scenario.failRenameTo ? new FailingRenameFs(image, scenario.failRenameTo) : new RecordingFs(image);
  fs.mark('begin group', scenario.name);
  const failed = await commit(fs, scenario).then(
    () => false,
    (error: unknown) => {
      if (!scenario.failRenameTo) throw error;
      return true;
    },
  );
  if (scenario.failRenameTo && !failed) throw new Error('the commit was expected to fail');
  fs.mark(failed ? 'failed group' : 'ack group', scenario.name);
  const report = await checkCrashStates(
    `${label}: ${scenario.name}`,
    fs,
    (check) => judgeGroupState(scenario, check, options.recover),
    options,
  );
  console.log(summarize(report));
  return report;
}

export type GroupBug =
  /** No bug: the copy must pass every state, so the failures of the others are the bug's doing. */
  | 'none'
  /** Temps, then the renames: no intent record, so a crash between two renames cannot be finished. */
  | 'no-journal'
  /** The journal is renamed into place without an fsync of its data: after a crash it can be empty. */
  | 'journal-not-fsynced'
  /** The journal is written only after the first rename: a crash before it leaves one target new, unrecorded. */
  | 'journal-after-first-rename'
  /**
   * The Finalize/Abort design: no backups; Abort (a rename failing part-way) and recovery "roll back" by deleting
   * the targets already renamed.
   */
  | 'rollback-by-deletion';

/**
 * A copy of the commit sequence (src/core/groups/groupCommit.ts: durable temps, journal, backups, fsync, renames, fsync,
 * remove the journal, then the backups) with `bug` switched on. No lock; the only error handled is a failed rename.
 */
export function groupCommitWithBug(bug: GroupBug): GroupCommitFn {
  return async (fs, scenario) => {
    const id = newGroupId();
    const journalDir = commonFolder(scenario.targets.map((t) => dirname(t.path)));
    const folders = [...new Set(scenario.targets.map((t) => dirname(t.path)))];
    const relative = (path: string) => path.slice(journalDir.length + 1);
    const files = [];
    for (const target of scenario.targets) {
      const previous = await digestOfFile(fs, target.path);
      const temp = join(dirname(target.path), groupTempName(basename(target.path), id));
      const handle = await fs.open(temp, 'wx', 0o600);
      const bytes = Buffer.from(target.next);
      await handle.write(bytes, 0, bytes.length, 0);
      await handle.sync();
      await handle.close();
      const backup =
        previous === 'absent' ? null : join(dirname(target.path), groupBackupName(basename(target.path), id));
      files.push({ target: target.path, temp, backup, previous, next: digestOf(bytes) });
    }
    const journal: GroupJournal = {
      format: 'crash-safe-group',
      version: 1,
      id,
      state: 'committing',
      entries: files.map((f) => ({
        target: relative(f.target),
        temp: relative(f.temp),
        backup: f.backup && relative(f.backup),
        previous: f.previous,
        next: f.next,
      })),
    };
    const journalPath = join(journalDir, groupJournalName(id));
    const writeJournal = async () => {
      const temp = join(journalDir, groupTempName(groupJournalName(id), id));
      const handle = await fs.open(temp, 'wx', 0o600);
      const bytes = Buffer.from(encodeJournal(journal));
      await handle.write(bytes, 0, bytes.length, 0);
      if (bug !== 'journal-not-fsynced') await handle.sync();
      await handle.close();
      await fs.rename(temp, journalPath);
    };
    if (bug !== 'no-journal' && bug !== 'journal-after-first-rename') await writeJournal();
    if (bug !== 'rollback-by-deletion') {
      for (const f of files) if (f.backup) await fs.link(f.target, f.backup);
    }
    await fsyncFolders(fs, [...folders, journalDir]);
    const renamed: typeof files = [];
    try {
      for (const [index, f] of files.entries()) {
        await fs.rename(f.temp, f.target);
        renamed.push(f);
        if (index === 0 && bug === 'journal-after-first-rename') {
          await writeJournal();
          await fsyncFolders(fs, [journalDir]);
        }
      }
    } catch (error) {
      // Abort: put back (or, with the bug, delete) what was renamed, then remove the journal and the rest.
      for (const f of renamed) {
        if (bug === 'rollback-by-deletion' || !f.backup) await fs.unlink(f.target);
        else await fs.rename(f.backup, f.target);
      }
      await fsyncFolders(fs, folders);
      if (bug !== 'no-journal') await fs.unlink(journalPath);
      await fsyncFolders(fs, [journalDir]);
      for (const f of files) {
        if (!renamed.includes(f)) await fs.unlink(f.temp);
        if (f.backup && bug !== 'rollback-by-deletion' && !renamed.includes(f)) await fs.unlink(f.backup);
      }
      throw error;
    }
    await fsyncFolders(fs, folders);
    if (bug !== 'no-journal') {
      await fs.unlink(journalPath);
      if (folders.some((folder) => folder !== journalDir)) await fsyncFolders(fs, [journalDir]);
    }
    if (bug !== 'rollback-by-deletion') for (const f of files) if (f.backup) await fs.unlink(f.backup);
  };
}

/**
 * The recovery of the Finalize/Abort design: forward when every temp is intact, else "back" by deleting each target
 * that already holds its new content (there is nothing else to go back to).
 */
export const rollbackByDeletion: GroupRecoverFn = async (fs: FsLike, root) => {
  const problems: string[] = [];
  for (const [path] of listFiles((fs as RecordingFs).live)) {
    if (!path.startsWith(`${root}/`) || recogniseGroupFile(basename(path))?.role !== 'journal') continue;
    const journal = parseJournal((await fs.readFile(path)).toString('utf8'), path);
    const entries = journal.entries.map((entry) => ({ entry, paths: entryPaths(dirname(path), entry) }));
    const sameAs = async (file: string, expected: { sha256: string }) => {
      const digest = await digestOfFile(fs, file);
      return digest !== 'absent' && digest.sha256 === expected.sha256;
    };
    const states = await Promise.all(
      entries.map(async ({ entry, paths }) => ({
        paths,
        isNew: await sameAs(paths.target, entry.next),
        tempReady: await sameAs(paths.temp, entry.next),
      })),
    );
    const forward = states.every((s) => s.isNew || s.tempReady);
    for (const s of states) {
      if (forward && !s.isNew) await fs.rename(s.paths.temp, s.paths.target);
      else if (!forward && s.isNew) await fs.unlink(s.paths.target);
      else if (s.tempReady) await fs.unlink(s.paths.temp);
    }
    await fs.unlink(path);
  }
  // Leftover temps of groups without a journal.
  for (const [path] of listFiles((fs as RecordingFs).live)) {
    if (recogniseGroupFile(basename(path))) await fs.unlink(path);
  }
  return problems;
};
