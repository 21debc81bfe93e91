// Finishing interrupted group commits: one journal at a time (forward or back, never half), `recover --groups`,
// which finds every journal under a root, and recoverGroupFiles, which takes the group files a scan already found
// (the extension's start-up); leftovers of groups whose journal is gone go once their writer is gone.

import { basename, dirname, join, resolve } from 'node:path';
import { threadId } from 'node:worker_threads';
import { messageOf } from './errors';
import { type LockSettings, withFileLock } from './fileLock';
import { errnoOf, type FsLike, type RenameRetryOptions, renameWithRetry } from './fs';
import {
  type ContentDigest,
  digestOfFile,
  entryPaths,
  findJournal,
  fsyncFolders,
  type GroupFs,
  type GroupJournal,
  type GroupJournalEntry,
  groupLockTarget,
  liveGroupIds,
  MAX_JOURNAL_BYTES,
  nodeGroupFs,
  parseJournal,
  removeQuietly,
  sameDigest,
} from './groupJournal';
import { isProcessAlive } from './orphanSweep';
import { isInside, listFolder } from './orphanWalk';
import { type RecognisedGroupFile, recogniseGroupFile } from './tempPatterns';

/** How the recovery of one journal ended. `problem`: nothing was changed, and the journal was kept. */
export type JournalOutcome =
  | { state: 'rolled-forward' | 'rolled-back'; journal: string; targets: string[] }
  | { state: 'gone'; journal: string }
  | { state: 'problem'; journal: string; reason: string; targets?: string[] };

interface JudgedEntry {
  paths: ReturnType<typeof entryPaths>;
  entry: GroupJournalEntry;
  isNew: boolean;
  isOld: boolean;
  tempReady: boolean;
  backupReady: boolean;
}

async function judgeEntry(fs: FsLike, journalDir: string, entry: GroupJournalEntry): Promise<JudgedEntry> {
  const paths = entryPaths(journalDir, entry);
  const current = await digestOfFile(fs, paths.target);
  const isNew = sameDigest(current, entry.next);
  const isOld = sameDigest(current, entry.previous);
  // A temp or backup that cannot be read is as good as missing: it decides nothing.
  const matches = async (path: string | null, expected: ContentDigest | 'absent') =>
    path === null ? expected === 'absent' : sameDigest(await digestOfFile(fs, path).catch(() => 'absent' as const), expected);
  return {
    paths,
    entry,
    isNew,
    isOld,
    tempReady: isNew || (await matches(paths.temp, entry.next)),
    backupReady: isOld || (await matches(paths.backup, entry.previous)),
  };
}

/**
 * Finishes an interrupted group: forward when every target holds its new content or has its temp intact, else back
 * from the backups; either way every target ends old or every target new, durably, and then the journal, temps and
 * backups are removed. `prefer: 'back'` (a commit failing part-way) rolls back whenever it can. A journal it cannot
 * read, or a target that holds neither version (changed since), is reported and nothing is touched. Each rename is
 * retried as the write path retries its own (renameWithRetry: a target another program holds for a moment).
 */
export async function recoverJournal(
  fs: FsLike,
  journalPath: string,
  prefer: 'forward' | 'back' = 'forward',
  retry: RenameRetryOptions = {},
): Promise<JournalOutcome> {
  const journalDir = dirname(journalPath);
  let journal: GroupJournal;
  try {
    journal = parseJournal((await fs.readFile(journalPath, MAX_JOURNAL_BYTES)).toString('utf8'), journalPath);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return { state: 'gone', journal: journalPath };
    return { state: 'problem', journal: journalPath, reason: messageOf(error) };
  }
  const targets = journal.entries.map((entry) => entryPaths(journalDir, entry).target);
  const problem = (reason: string): JournalOutcome => ({ state: 'problem', journal: journalPath, reason, targets });
  let judged: JudgedEntry[];
  try {
    judged = [];
    for (const entry of journal.entries) judged.push(await judgeEntry(fs, journalDir, entry));
  } catch (error) {
    return problem(`cannot read a target: ${messageOf(error)}`);
  }
  const changed = judged.find((j) => !j.isNew && !j.isOld);
  if (changed) {
    return problem(`${changed.paths.target} holds neither its old nor its new content (it changed after the commit was interrupted)`);
  }
  const canForward = judged.every((j) => j.tempReady);
  const canBack = judged.every((j) => j.backupReady);
  const forward = canForward && (prefer === 'forward' || !canBack);
  if (!forward && !canBack) {
    const noTemp = judged.find((j) => !j.tempReady)!;
    const noBackup = judged.find((j) => !j.backupReady)!;
    return problem(`cannot roll forward (the temp of ${noTemp.paths.target} is missing or torn) nor back (the backup of ${noBackup.paths.target} is)`);
  }
  const touched = new Set<string>();
  try {
    for (const j of judged) {
      if (forward && !j.isNew) await renameWithRetry(fs, j.paths.temp, j.paths.target, retry.renameRetryDelaysMs);
      else if (!forward && !j.isOld) {
        if (j.paths.backup === null) await fs.unlink(j.paths.target);
        else await renameWithRetry(fs, j.paths.backup, j.paths.target, retry.renameRetryDelaysMs);
      } else continue;
      touched.add(dirname(j.paths.target));
    }
    await fsyncFolders(fs, touched);
    // The journal goes first: once it is gone, what is left is plain leftovers, and harmless.
    await fs.unlink(journalPath);
    await fsyncFolders(fs, [journalDir]);
  } catch (error) {
    return problem(`recovery stopped part-way (${messageOf(error)}); run it again`);
  }
  for (const { paths } of judged) {
    await removeQuietly(fs, paths.temp);
    if (paths.backup !== null) await removeQuietly(fs, paths.backup);
  }
  return { state: forward ? 'rolled-forward' : 'rolled-back', journal: journalPath, targets };
}

export interface GroupRecoveryOptions extends RenameRetryOptions {
  fs?: GroupFs;
  /** The lock each journal folder is recovered under; `false` only where no other process can run. */
  lock?: Partial<LockSettings> | false;
}

export interface GroupRecoveryReport {
  /** Groups finished: every target now old (rolled back) or every target new (rolled forward). */
  recovered: Extract<JournalOutcome, { state: 'rolled-forward' | 'rolled-back' }>[];
  /** Journals left exactly as they were, and why (cannot be parsed, a target changed since, a lock busy). */
  problems: { journal: string; reason: string }[];
  /** Temps and backups of groups whose journal is gone (never applied, or already finished), removed. */
  removed: string[];
  kept: { path: string; reason: string }[];
  /** Folders that could not be read. */
  errors: { path: string; error: string }[];
}

interface FoundGroup {
  journals: string[];
  members: { path: string; named: RecognisedGroupFile }[];
}

const SKIPPED_FOLDERS = new Set(['.git']);

/** Every group file under `root`, by group id (symlinks are not followed). */
async function findGroupFiles(fs: GroupFs, root: string, errors: GroupRecoveryReport['errors']): Promise<Map<string, FoundGroup>> {
  const groups = new Map<string, FoundGroup>();
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let entries: Awaited<ReturnType<typeof listFolder>>;
    try {
      entries = await listFolder(fs, dir);
    } catch (error) {
      errors.push({ path: dir, error: messageOf(error) });
      continue;
    }
    for (const entry of entries) {
      if (entry.isDirectory()) {
        if (!SKIPPED_FOLDERS.has(entry.name)) stack.push(join(dir, entry.name));
        continue;
      }
      const named = entry.isFile() ? recogniseGroupFile(entry.name) : undefined;
      if (named) addGroupFile(groups, join(dir, entry.name), named);
    }
  }
  return groups;
}

/** Why a leftover's writer may still be using it; undefined once it is gone. */
function liveWriter(named: RecognisedGroupFile): string | undefined {
  if (liveGroupIds.has(named.groupId)) return 'this process is committing that group right now';
  // Our own pid and thread: liveGroupIds is exact, so the writer was an earlier process with our pid.
  if (named.pid === process.pid && named.threadId === threadId) return undefined;
  return isProcessAlive(named.pid) ? `its writer (pid ${named.pid}) is still running` : undefined;
}

/**
 * Finishes every interrupted group commit under `root`, each under its journal folder's lock. A journal found above
 * the root (its group has files under the root) is finished too: a group is only ever finished whole.
 */
export async function recoverGroups(root: string, options: GroupRecoveryOptions = {}): Promise<GroupRecoveryReport> {
  const fs = options.fs ?? nodeGroupFs;
  const report = emptyReport();
  const groups = await findGroupFiles(fs, resolve(root), report.errors);
  await recoverFound(fs, groups, options, report);
  return report;
}

export interface GroupFilesRecoveryOptions extends GroupRecoveryOptions {
  /** Only groups whose journal lies inside one of these folders are finished; the others are kept and reported. */
  within?: readonly string[];
}

/**
 * Finishes the groups of the given group files (journals, temps and backups, as a scan listed them) exactly as
 * recoverGroups does after its walk, without walking: each journal under its folder's lock, leftovers of groups
 * whose journal is gone removed once their writer is gone. A temp or backup whose journal is not listed has it
 * searched for in its folder and each folder above. Paths that are not group files are reported in `kept`.
 */
export async function recoverGroupFiles(paths: readonly string[], options: GroupFilesRecoveryOptions = {}): Promise<GroupRecoveryReport> {
  const fs = options.fs ?? nodeGroupFs;
  const report = emptyReport();
  const groups = new Map<string, FoundGroup>();
  for (const path of new Set(paths.map((p) => resolve(p)))) {
    const named = recogniseGroupFile(basename(path));
    if (!named) {
      report.kept.push({ path, reason: 'not a file of a group commit' });
      continue;
    }
    addGroupFile(groups, path, named);
  }
  await recoverFound(fs, groups, options, report);
  return report;
}

function emptyReport(): GroupRecoveryReport {
  return { recovered: [], problems: [], removed: [], kept: [], errors: [] };
}

function addGroupFile(groups: Map<string, FoundGroup>, path: string, named: RecognisedGroupFile): void {
  const group = groups.get(named.groupId) ?? { journals: [], members: [] };
  if (named.role === 'journal') group.journals.push(path);
  else group.members.push({ path, named });
  groups.set(named.groupId, group);
}

/** The shared rest of recoverGroups and recoverGroupFiles: every found group finished or cleaned up, in id order. */
async function recoverFound(fs: GroupFs, groups: Map<string, FoundGroup>, options: GroupFilesRecoveryOptions, report: GroupRecoveryReport): Promise<void> {
  for (const [id, group] of [...groups].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (liveGroupIds.has(id)) {
      for (const path of [...group.journals, ...group.members.map((m) => m.path)]) {
        report.kept.push({ path, reason: 'this process is committing that group right now' });
      }
      continue;
    }
    let journal = group.journals[0];
    if (journal === undefined) {
      const search = await findJournal(fs, dirname(group.members[0]!.path), id);
      if (search.state === 'unknown') {
        for (const { path } of group.members) report.kept.push({ path, reason: search.reason });
        continue;
      }
      if (search.state === 'found') journal = search.path;
    }
    if (journal !== undefined) {
      const found = journal;
      if (options.within && !options.within.some((folder) => isInside(found, resolve(folder)))) {
        for (const path of [...group.journals, ...group.members.map((m) => m.path)]) {
          report.kept.push({ path, reason: `its group's journal ${found} is outside the folders being recovered` });
        }
        continue;
      }
      const outcome = await withLock(found, options, () => recoverJournal(fs, found, 'forward', options));
      if (outcome.state === 'rolled-forward' || outcome.state === 'rolled-back') report.recovered.push(outcome);
      else if (outcome.state === 'problem') report.problems.push({ journal: found, reason: outcome.reason });
      if (outcome.state !== 'gone') continue;
    }
    // No journal: the group was never applied (a crash while preparing) or has finished; what is left is debris.
    for (const { path, named } of group.members) {
      const live = liveWriter(named);
      if (live) report.kept.push({ path, reason: live });
      else if (await removeQuietly(fs, path)) report.removed.push(path);
    }
  }
}

async function withLock(journal: string, options: GroupRecoveryOptions, action: () => Promise<JournalOutcome>): Promise<JournalOutcome> {
  if (options.lock === false) return action();
  try {
    return await withFileLock(groupLockTarget(dirname(journal)), action, options.lock);
  } catch (error) {
    const code = errnoOf(error);
    const reason = messageOf(error);
    return { state: 'problem', journal, reason: code ? `cannot take the group lock (${code}): ${reason}` : reason };
  }
}
