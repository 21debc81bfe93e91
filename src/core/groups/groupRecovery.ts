// Finishing interrupted group commits: one journal at a time (forward or back, never half), `recover --groups`,
// which finds every journal under a root, and recoverGroupFiles, which takes the group files a scan already found
// (the extension's start-up); leftovers of groups whose journal is gone go once their writer is gone.

import { basename, dirname, join, resolve } from 'node:path';
import { messageOf } from '../errors';
import { isInside, listFolder, refusesUnsafeFolders, resolveRoots, safeFolders } from '../folderListing';
import { errnoOf, type FsLike, type RenameRetryOptions, renameWithRetry } from '../fs';
import { type LockSettings, lockPathFor, withFileLock } from '../lock/fileLock';
import { type RecognisedGroupFile, recogniseGroupFile } from '../names/tempPatterns';
import { removeDebrisFile } from './groupDebris';
import {
  type ContentDigest,
  digestOf,
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
  sameDigest,
} from './groupJournal';
import {
  confirmUnchanged,
  type ResolvedPath,
  readInside,
  type TrustedFolder,
  type TrustOptions,
  trustedFolder,
  UntrustedPathError,
  unlinkResolved,
} from './groupTrust';

/** The group lock's folder name in a journal folder (withFileLock's `<target>.lock`): no entry may name it. */
const GROUP_LOCK_NAME = basename(lockPathFor(groupLockTarget('/')));

/** How the recovery of one journal ended. `problem`: nothing was changed, and the journal was kept. */
export type JournalOutcome =
  | { state: 'rolled-forward' | 'rolled-back'; journal: string; targets: string[] }
  | { state: 'gone'; journal: string }
  | { state: 'problem'; journal: string; reason: string; targets?: string[] };

/** What one path of an entry was when judged: where it resolved to, and the digest of its content. */
interface Seen {
  relative: string;
  resolved: ResolvedPath;
  digest: ContentDigest | 'absent';
}

interface JudgedEntry {
  entry: GroupJournalEntry;
  target: Seen;
  temp: Seen;
  backup: Seen | null;
  isNew: boolean;
  isOld: boolean;
  tempReady: boolean;
  backupReady: boolean;
}

async function see(fs: FsLike, base: TrustedFolder, relative: string): Promise<Seen> {
  const { resolved, bytes } = await readInside(fs, base, relative);
  return { relative, resolved, digest: bytes === 'absent' ? 'absent' : digestOf(bytes) };
}

/** A temp or backup that cannot be read is as good as missing: it decides nothing. An untrusted one stops everything. */
async function seeMember(fs: FsLike, base: TrustedFolder, relative: string): Promise<Seen | undefined> {
  try {
    return await see(fs, base, relative);
  } catch (error) {
    if (error instanceof UntrustedPathError) throw error;
    return undefined;
  }
}

/** Names no entry may use: the group machinery's own files (a journal, temp or backup; the lock). */
function machineryIn(relative: string): string | undefined {
  return relative.split('/').find((part) => part === GROUP_LOCK_NAME || recogniseGroupFile(part) !== undefined);
}

async function judgeEntry(fs: FsLike, base: TrustedFolder, entry: GroupJournalEntry): Promise<JudgedEntry> {
  const machinery = machineryIn(entry.target);
  if (machinery)
    throw new UntrustedPathError(
      `the entry ${JSON.stringify(entry.target)} names ${machinery}, a file of the group machinery`,
    );
  const target = await see(fs, base, entry.target);
  const temp = await seeMember(fs, base, entry.temp);
  const backup = entry.backup === null ? null : await seeMember(fs, base, entry.backup);
  // Our temps are created O_EXCL and renamed, never linked: another name for one is not ours.
  if (temp && temp.resolved.links > 1)
    throw new UntrustedPathError(`${temp.resolved.path} has ${temp.resolved.links} hard links; a temp of ours has one`);
  const isNew = sameDigest(target.digest, entry.next);
  const isOld = sameDigest(target.digest, entry.previous);
  const missing: Seen = {
    relative: entry.temp,
    resolved: { path: '', folders: [], file: 'absent', links: 0 },
    digest: 'absent',
  };
  return {
    entry,
    target,
    temp: temp ?? missing,
    backup: backup ?? null,
    isNew,
    isOld,
    tempReady: isNew || (temp !== undefined && sameDigest(temp.digest, entry.next)),
    backupReady:
      isOld ||
      (entry.backup === null ? entry.previous === 'absent' : !!backup && sameDigest(backup.digest, entry.previous)),
  };
}

/** Re-checks what was seen, then renames: the source and the destination must both still be as judged. */
async function renameConfirmed(
  fs: FsLike,
  base: TrustedFolder,
  from: Seen,
  to: Seen,
  delays: RenameRetryOptions['renameRetryDelaysMs'],
): Promise<void> {
  const source = await confirmUnchanged(fs, base, from.relative, from.resolved);
  const destination = await confirmUnchanged(fs, base, to.relative, to.resolved);
  await renameWithRetry(fs, source.path, destination.path, delays);
}

/** Options of one journal's recovery: the rename retries, and whether folders other users control are refused. */
export type JournalRecoveryOptions = RenameRetryOptions & TrustOptions;

/**
 * Finishes an interrupted group: forward when every target holds its new content or has its temp intact, else back
 * from the backups; either way every target ends old or every target new, durably, and then the journal, temps and
 * backups are removed. `prefer: 'back'` (a commit failing part-way) rolls back whenever it can. A journal it cannot
 * read, or a target that holds neither version (changed since), is reported and nothing is touched. Each rename is
 * retried as the write path retries its own (renameWithRetry: a target another program holds for a moment).
 *
 * The journal is untrusted: every path it names is resolved from the journal folder's real path without following
 * a symlink or entering a folder another user controls (as root; see groupTrust.ts), and each file is confirmed to
 * be the one judged right before it is renamed or removed. A path that fails is reported and nothing is acted on.
 */
export async function recoverJournal(
  fs: FsLike,
  journalPath: string,
  prefer: 'forward' | 'back' = 'forward',
  options: JournalRecoveryOptions = {},
): Promise<JournalOutcome> {
  const journalDir = dirname(journalPath);
  const journalName = basename(journalPath);
  let base: TrustedFolder;
  let journal: GroupJournal;
  let journalSeen: ResolvedPath;
  try {
    base = await trustedFolder(fs, journalDir, options);
    const read = await readInside(fs, base, journalName, MAX_JOURNAL_BYTES);
    if (read.bytes === 'absent') return { state: 'gone', journal: journalPath };
    journalSeen = read.resolved;
    journal = parseJournal(read.bytes.toString('utf8'), journalPath);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return { state: 'gone', journal: journalPath };
    return { state: 'problem', journal: journalPath, reason: messageOf(error) };
  }
  const targets = journal.entries.map((entry) => entryPaths(journalDir, entry).target);
  const problem = (reason: string): JournalOutcome => ({ state: 'problem', journal: journalPath, reason, targets });
  let judged: JudgedEntry[];
  try {
    judged = [];
    for (const entry of journal.entries) judged.push(await judgeEntry(fs, base, entry));
  } catch (error) {
    if (error instanceof UntrustedPathError) return problem(`refused, nothing was changed: ${error.message}`);
    return problem(`cannot read a target: ${messageOf(error)}`);
  }
  const changed = judged.find((j) => !j.isNew && !j.isOld);
  if (changed) {
    return problem(
      `${changed.target.resolved.path} holds neither its old nor its new content (it changed after the commit was interrupted)`,
    );
  }
  const canForward = judged.every((j) => j.tempReady);
  const canBack = judged.every((j) => j.backupReady);
  const forward = canForward && (prefer === 'forward' || !canBack);
  if (!forward && !canBack) {
    const noTemp = judged.find((j) => !j.tempReady)!;
    const noBackup = judged.find((j) => !j.backupReady)!;
    return problem(
      `cannot roll forward (the temp of ${noTemp.target.resolved.path} is missing or torn) nor back (the backup of ${noBackup.target.resolved.path} is)`,
    );
  }
  const delays = options.renameRetryDelaysMs;
  const touched = new Set<string>();
  try {
    // Everything as judged, before the first change: a swap found here leaves the whole group as it was.
    for (const j of judged) {
      await confirmUnchanged(fs, base, j.target.relative, j.target.resolved);
      if (forward && !j.isNew) await confirmUnchanged(fs, base, j.temp.relative, j.temp.resolved);
      if (!forward && !j.isOld && j.backup) await confirmUnchanged(fs, base, j.backup.relative, j.backup.resolved);
    }
    for (const j of judged) {
      if (forward && !j.isNew) await renameConfirmed(fs, base, j.temp, j.target, delays);
      else if (!forward && !j.isOld) {
        if (j.backup === null) await unlinkResolved(fs, base, j.target.relative, j.target.resolved);
        else await renameConfirmed(fs, base, j.backup, j.target, delays);
      } else continue;
      touched.add(dirname(j.target.resolved.path));
    }
    await fsyncFolders(fs, touched);
    // The journal goes first: once it is gone, what is left is plain leftovers, and harmless.
    await unlinkResolved(fs, base, journalName, journalSeen);
    await fsyncFolders(fs, [base.path]);
  } catch (error) {
    return problem(`recovery stopped part-way (${messageOf(error)}); run it again`);
  }
  for (const j of judged) {
    // Only the very files judged; what was renamed into place is no longer there under these names.
    if (!(forward && !j.isNew)) await unlinkResolved(fs, base, j.temp.relative, j.temp.resolved).catch(() => undefined);
    if (j.backup && (forward || j.isOld))
      await unlinkResolved(fs, base, j.backup.relative, j.backup.resolved).catch(() => undefined);
  }
  return { state: forward ? 'rolled-forward' : 'rolled-back', journal: journalPath, targets };
}

export interface GroupRecoveryOptions extends RenameRetryOptions, TrustOptions {
  fs?: GroupFs;
  /** The lock each journal folder is recovered under; `false` only where no other process can run. */
  lock?: Partial<LockSettings> | false;
}

export interface GroupRecoveryReport {
  /** Groups finished: every target now old (rolled back) or every target new (rolled forward). */
  recovered: Extract<JournalOutcome, { state: 'rolled-forward' | 'rolled-back' }>[];
  /** Journals left exactly as they were, and why (cannot be parsed, untrusted, a target changed since, a lock busy). */
  problems: { journal: string; reason: string }[];
  /** Temps and backups of groups whose journal is gone (never applied, or already finished) and whose writer is dead, removed. */
  removed: string[];
  /** The bytes those removed files held. */
  removedBytes: number;
  kept: { path: string; reason: string }[];
  /** Folders not entered: another user's, or writable by others (as root), as scan and sweep skip them. */
  skipped: { path: string; reason: string }[];
  /** Folders that could not be read. */
  errors: { path: string; error: string }[];
}

interface FoundGroup {
  journals: string[];
  members: { path: string; named: RecognisedGroupFile }[];
}

/** Every group file under `root`, by group id: the walk scan makes (no symlink followed, unsafe folders skipped). */
async function findGroupFiles(
  fs: GroupFs,
  root: string,
  options: TrustOptions,
  report: GroupRecoveryReport,
): Promise<Map<string, FoundGroup>> {
  const groups = new Map<string, FoundGroup>();
  const uid = refusesUnsafeFolders(options.refuseUnsafeFolders);
  const stack = await resolveRoots(fs, [root], (error) => report.errors.push({ path: error.path, error: error.error }));
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let entries: Awaited<ReturnType<typeof listFolder>>;
    try {
      entries = await listFolder(fs, dir);
    } catch (error) {
      report.errors.push({ path: dir, error: messageOf(error) });
      continue;
    }
    let subfolders: { dir: string; relativeDir: string }[] = [];
    for (const entry of entries) {
      if (entry.isDirectory()) {
        if (!ALWAYS_SKIPPED.has(entry.name)) subfolders.push({ dir: join(dir, entry.name), relativeDir: '' });
        continue;
      }
      const named = entry.isFile() ? recogniseGroupFile(entry.name) : undefined;
      if (named) addGroupFile(groups, join(dir, entry.name), named);
    }
    if (uid !== undefined) {
      subfolders = await safeFolders(fs, subfolders, uid, (error) =>
        report.skipped.push({ path: error.path, reason: error.error }),
      );
    }
    for (const folder of subfolders.reverse()) stack.push(folder.dir);
  }
  return groups;
}

const ALWAYS_SKIPPED = new Set(['.git']);

/**
 * Finishes every interrupted group commit under `root`, each under its journal folder's lock. A journal found above
 * the root (its group has files under the root) is finished too: a group is only ever finished whole.
 */
export async function recoverGroups(root: string, options: GroupRecoveryOptions = {}): Promise<GroupRecoveryReport> {
  const fs = options.fs ?? nodeGroupFs;
  const report = emptyReport();
  const groups = await findGroupFiles(fs, root, options, report);
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
export async function recoverGroupFiles(
  paths: readonly string[],
  options: GroupFilesRecoveryOptions = {},
): Promise<GroupRecoveryReport> {
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
  return { recovered: [], problems: [], removed: [], removedBytes: 0, kept: [], skipped: [], errors: [] };
}

function addGroupFile(groups: Map<string, FoundGroup>, path: string, named: RecognisedGroupFile): void {
  const group = groups.get(named.groupId) ?? { journals: [], members: [] };
  if (named.role === 'journal') group.journals.push(path);
  else group.members.push({ path, named });
  groups.set(named.groupId, group);
}

/** The shared rest of recoverGroups and recoverGroupFiles: every found group finished or cleaned up, in id order. */
async function recoverFound(
  fs: GroupFs,
  groups: Map<string, FoundGroup>,
  options: GroupFilesRecoveryOptions,
  report: GroupRecoveryReport,
): Promise<void> {
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
    await removeDebris(fs, group.members, options, report);
  }
}

/** The leftovers of one group whose journal is gone, each judged and removed as groupDebris does it. */
async function removeDebris(
  fs: FsLike,
  members: FoundGroup['members'],
  options: TrustOptions,
  report: GroupRecoveryReport,
): Promise<void> {
  for (const { path, named } of members) {
    let base: TrustedFolder;
    try {
      base = await trustedFolder(fs, dirname(path), options);
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') report.kept.push({ path, reason: messageOf(error) });
      continue;
    }
    const outcome = await removeDebrisFile(fs, base, basename(path), named);
    if (outcome === undefined) continue;
    if ('keep' in outcome) report.kept.push({ path, reason: outcome.keep });
    else {
      report.removed.push(path);
      report.removedBytes += outcome.bytes;
    }
  }
}

async function withLock(
  journal: string,
  options: GroupRecoveryOptions,
  action: () => Promise<JournalOutcome>,
): Promise<JournalOutcome> {
  if (options.lock === false) return action();
  // The folder is checked before its lock is made in it: never a lock directory in a folder that is not entered.
  try {
    await trustedFolder(options.fs ?? nodeGroupFs, dirname(journal), options);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return { state: 'gone', journal };
    return { state: 'problem', journal, reason: `refused, nothing was changed: ${messageOf(error)}` };
  }
  try {
    return await withFileLock(groupLockTarget(dirname(journal)), action, options.lock);
  } catch (error) {
    const code = errnoOf(error);
    const reason = messageOf(error);
    return { state: 'problem', journal, reason: code ? `cannot take the group lock (${code}): ${reason}` : reason };
  }
}
