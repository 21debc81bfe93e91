// Group commits: several files replaced all-or-nothing, across crashes and power loss (docs/group-commits.md).
// Prepare durable temps, record the intent in a journal, keep the old targets as backups, rename, fsync; a crash
// at any point is finished by recoverJournal, forward or back, so the group is never left half old, half new.

import type { Stats } from 'node:fs';
import { basename, dirname, join, sep } from 'node:path';
import { MAX_OPEN_FILES, withOpenFiles } from '../boundedOpens';
import {
  errnoOf,
  type FileHandleLike,
  type FileIdentity,
  type FolderHandleLike,
  fileTypeOf,
  fsyncsDirectories,
  identityOf,
  type ReadOptions,
  type RenameRetryOptions,
  renameWithRetry,
  sameFile,
  sameNode,
} from '../fs';
import { type LockSettings, withFileLock } from '../lock/fileLock';
import { recogniseGroupFile } from '../names/tempPatterns';
import { type Durability, isDurable } from '../write/durability';
import { closeFolderHandle, learnLocalDisk, provenLocalDisk } from '../write/localDisk';
import { type DebrisReport, removeDeadGroupDebris } from './groupDebris';
import {
  type ContentDigest,
  createFile,
  digestOf,
  encodeJournal,
  findJournal,
  fsyncFolders,
  type GroupFs,
  type GroupJournal,
  groupBackupName,
  groupJournalName,
  groupLockTarget,
  groupTempName,
  journalsAmong,
  liveGroupIds,
  newGroupId,
  nodeGroupFs,
  removeQuietly,
  sameDigest,
  writeNewFile,
} from './groupJournal';
import {
  encodeFiles,
  failure,
  GroupCommitError,
  type GroupFile,
  type GroupPlan,
  type GroupStep,
  journalTooLarge,
  planGroup,
  type ResolvedFile,
} from './groupPlan';
import { type JournalOutcome, recoverJournal } from './groupRecovery';

export type { GroupFs } from './groupJournal';
export type { GroupCommitOutcome, GroupFile, GroupStep } from './groupPlan';
export { GroupCommitError } from './groupPlan';
export {
  type GroupFilesRecoveryOptions,
  type GroupRecoveryReport,
  type JournalOutcome,
  recoverGroupFiles,
  recoverGroups,
} from './groupRecovery';

/** `renameRetryDelaysMs`: each rename (apply, roll back, recovery) is retried as writeFileAtomic retries its own. */
export interface GroupCommitOptions extends RenameRetryOptions {
  /** `full` (default) survives power loss; `fast` skips every fsync and survives a process crash only. */
  durability?: Durability;
  /**
   * Where the lock and journal go: a folder the targets are seen in, holding every target as given and as its real
   * file. Default: the deepest folder holding every target as given. A real target outside it is refused (EOUTSIDE).
   */
  journalDir?: string;
  fs?: GroupFs;
  /** The cross-process lock on the journal folder; `false` only where no other process can run (in-memory tests). */
  lock?: Partial<LockSettings> | false;
  /** Aborting before the first rename removes the temps and the journal and touches no target. */
  signal?: AbortSignal;
}

export interface GroupCommitResult {
  targets: string[];
  /** Where the journal was while the commit ran (it is removed). */
  journal: string;
  /** Interrupted groups touching these files (or in the same journal folder) finished before this commit. */
  recovered: JournalOutcome[];
  /** Dead writers' leftovers (temps, backups no journal names) removed from the journal and target folders under the lock. */
  debris: DebrisReport;
}

/**
 * Lists the journal folder and each target folder once, under the journal folder's lock: the journals there (each of
 * a commit that did not finish), the journals of interrupted groups that left a temp or backup beside one of the
 * plan's targets, and each folder's names (its debris is judged from them, name by name).
 */
async function listFolders(
  fs: GroupFs,
  plan: GroupPlan,
): Promise<{ journals: string[]; interrupted: string[]; listings: Map<string, string[]> }> {
  const found = new Set<string>();
  const listings = new Map<string, string[]>();
  const targetNames = new Set(plan.files.map((file) => file.target));
  for (const folder of new Set([plan.journalDir, ...plan.folders])) {
    const names = await fs.readdir(folder);
    listings.set(folder, names);
    for (const name of names) {
      const named = recogniseGroupFile(name, names);
      if (!named?.target || liveGroupIds.has(named.groupId) || !targetNames.has(join(folder, named.target))) continue;
      const search = await findJournal(fs, folder, named.groupId);
      if (search.state === 'found') found.add(search.path);
    }
  }
  return {
    journals: journalsAmong(plan.journalDir, listings.get(plan.journalDir)!),
    interrupted: [...found],
    listings,
  };
}

/** What one turn under the journal folder's lock ends with: the commit, or interrupted groups to finish first. */
type LockedOutcome = { result: GroupCommitResult; tidying: Promise<unknown> } | { elsewhere: string[] };

/** Rounds of finishing interrupted groups journalled elsewhere before a commit gives up (they keep appearing). */
const RECOVERY_ROUNDS = 3;

function touches(outcome: JournalOutcome, plan: GroupPlan): boolean {
  if (outcome.state !== 'problem') return false;
  // A journal that cannot be read may describe these very files.
  if (!outcome.targets) return true;
  return outcome.targets.some((target) => plan.files.some((file) => file.target === target));
}

/** `localDisk`: the journal folder is proven on a local disk file system (the lock's calls there: fileLock.ts). */
function withGroupLock<T>(
  journalDir: string,
  options: GroupCommitOptions,
  localDisk: boolean,
  action: () => Promise<T>,
): Promise<T> {
  return options.lock === false
    ? action()
    : withFileLock(groupLockTarget(journalDir), action, options.lock, { localDisk });
}

async function recoverFirst(
  fs: GroupFs,
  plan: GroupPlan,
  journals: string[],
  retry: RenameRetryOptions,
): Promise<JournalOutcome[]> {
  const outcomes: JournalOutcome[] = [];
  for (const journal of journals) {
    const outcome = await recoverJournal(fs, journal, 'forward', retry);
    if (touches(outcome, plan)) {
      const reason = outcome.state === 'problem' ? outcome.reason : '';
      throw new GroupCommitError(
        'recover',
        'EGROUP',
        'unchanged',
        `Group commit refused: an interrupted group commit (${journal}) may touch these files and could not be finished: ${reason}; no file was changed`,
      );
    }
    outcomes.push(outcome);
  }
  return outcomes;
}

/**
 * Replaces every listed file with its new content, or none of them, even across a crash or a power cut (with
 * `full` durability): see docs/group-commits.md for the protocol and its limits.
 */
export async function commitGroup(
  files: readonly GroupFile[],
  options: GroupCommitOptions = {},
): Promise<GroupCommitResult> {
  const fs = options.fs ?? nodeGroupFs;
  const durable = isDurable(options.durability);
  if (options.signal?.aborted)
    throw failure('aborted', 'unchanged', 'aborted before it started', options.signal.reason);
  const encoded = encodeFiles(files);
  const planning = planGroup(fs, encoded, options.journalDir);
  const plan = await planning;
  const localDisk = localDiskOf(fs, plan);
  const id = newGroupId();
  // Sized exactly before anything is written: the digests have fixed widths and the sizes are the planned ones (a
  // target that changes later is refused); only a group finished first can grow it, and writeJournalTemp checks again.
  const tooLarge = journalTooLarge(journalBytes(plan, id, plan.files.map(plannedDigests)).length, plan.files.length);
  if (tooLarge) throw tooLarge;
  const created: string[] = [];
  let applying = false;
  liveGroupIds.add(id);
  // What needs no lock is done while it is taken: the temps (new names nobody refers to until the journal does) and
  // the digests of the current targets (confirmed under the lock by each target's identity).
  const journal = new HeldJournal(plan.files.length);
  const preparing = prepareFiles(fs, plan, id, durable, created, localDisk, journal);
  preparing.catch(() => undefined); // awaited below; this only stops an early unhandled-rejection report
  try {
    const recovered: JournalOutcome[] = [];
    const finishedElsewhere = new Set<string>();
    const journalLocal = localDisk(plan.journalDir);
    for (let round = 0; ; round++) {
      const outcome = await withGroupLock<LockedOutcome>(plan.journalDir, options, journalLocal, async () => {
        // The targets as they are under the lock, looked at while the folders are listed (again below for any target
        // an interrupted group finishes).
        const seen = new Map(plan.files.map((file) => [file.target, lstatNow(fs, file.target)]));
        for (const stats of seen.values()) stats.catch(() => undefined); // awaited below
        const listed = await listFolders(fs, plan);
        // Interrupted groups journalled elsewhere are finished under their own lock, this one left first: locks are
        // never nested.
        const elsewhere = listed.interrupted.filter(
          (journal) => dirname(journal) !== plan.journalDir && !finishedElsewhere.has(journal),
        );
        if (elsewhere.length > 0) return { elsewhere };
        recovered.push(...(await recoverFirst(fs, plan, listed.journals, options)));
        const debris = await removeDeadGroupDebris(fs, [plan.journalDir, ...plan.folders], {}, listed.listings);
        const prepared = await preparing;
        const finished = new Set(
          recovered.flatMap((outcome) =>
            outcome.state === 'rolled-forward' || outcome.state === 'rolled-back' ? outcome.targets : [],
          ),
        );
        const confirmed = await settleAll(
          prepared.map((file) => {
            const now = finished.has(file.target) ? lstatNow(fs, file.target) : seen.get(file.target)!;
            return confirmPrevious(fs, file, id, now, finished, localDisk);
          }),
        );
        // A target an interrupted group just finished: the journal is written again from what is there now.
        if (confirmed.some((file, index) => file !== prepared[index]))
          await writeJournalTemp(fs, plan, id, confirmed, durable, created, localDisk, journal);
        applying = true;
        const applied = await applyGroup(fs, plan, id, confirmed, created, journal, durable, localDisk, options);
        learnLocalDisks(fs, plan, localDisk);
        const result: GroupCommitResult = {
          targets: plan.files.map((file) => file.target),
          journal: applied.journal,
          recovered: recovered.filter((o) => o.state !== 'gone'),
          debris,
        };
        return { result, tidying: applied.tidying };
      });
      if ('result' in outcome) {
        await outcome.tidying;
        return outcome.result;
      }
      if (round + 1 === RECOVERY_ROUNDS) {
        throw new GroupCommitError(
          'recover',
          'EGROUP',
          'unchanged',
          `Group commit refused: interrupted group commits beside these files kept appearing (${outcome.elsewhere.join(', ')}); no file was changed`,
        );
      }
      for (const journal of outcome.elsewhere) {
        finishedElsewhere.add(journal);
        recovered.push(
          ...(await withGroupLock(dirname(journal), options, false, () => recoverFirst(fs, plan, [journal], options))),
        );
      }
    }
  } catch (error) {
    // A failure inside applyGroup has been undone there (and may have kept temps a later recovery needs).
    if (!applying) {
      await preparing.catch(() => undefined);
      await Promise.all(created.map((path) => removeQuietly(fs, path)));
    }
    throw error;
  } finally {
    await journal.close().catch(() => undefined); // closed already after a commit (applyGroup)
    liveGroupIds.delete(id);
  }
}

/**
 * Whether a folder of the plan is proven on a local disk file system (write/localDisk.ts) as the commit starts; with
 * `dev`, whether a file of that device in it is: a target bind-mounted from elsewhere has its own device.
 */
type LocalDisk = (folder: string, dev?: number) => boolean;

function localDiskOf(fs: GroupFs, plan: GroupPlan): LocalDisk {
  const local = new Set(
    plan.folders.filter((folder) => provenLocalDisk(fs, folder, plan.folderNodes.get(folder)!.dev)),
  );
  return (folder, dev) => local.has(folder) && (dev === undefined || dev === plan.folderNodes.get(folder)?.dev);
}

/** Asked after a commit, as a single write asks after its write: the next commits may use the verdicts. */
function learnLocalDisks(fs: GroupFs, plan: GroupPlan, localDisk: LocalDisk): void {
  for (const folder of plan.folders)
    if (!localDisk(folder)) void learnLocalDisk(fs, folder, plan.folderNodes.get(folder)!.dev);
}

interface PreparedFile extends ResolvedFile {
  temp: string;
  backup: string | null;
  previous: ContentDigest | 'absent';
  nextDigest: ContentDigest;
  /**
   * Its mtime was too close to the read to tell a later same-size write by it: the content is compared again, with
   * these bytes as read (a compare costs a fraction of hashing them again).
   */
  racyBytes: Buffer | undefined;
}

/** Within this much of a read, an mtime cannot tell a later write of the same size (coarse clocks, FAT's 2 s). */
const RACY_MTIME_MS = 2_000;

type JournalDigests = Pick<PreparedFile, 'target' | 'temp' | 'backup' | 'previous' | 'nextDigest'>;

const SIZING_SHA256 = '0'.repeat(64);

/** A planned file's journal entry with placeholder hashes of the same width: the journal's exact size, before any read. */
function plannedDigests(file: ResolvedFile): JournalDigests {
  const backup = file.identity ? backupPath(file.target, 'sized-below') : null;
  return {
    target: file.target,
    temp: '',
    backup,
    previous: file.identity ? { size: file.identity.size, sha256: SIZING_SHA256 } : 'absent',
    nextDigest: { size: file.bytes.length, sha256: SIZING_SHA256 },
  };
}

function journalBytes(plan: GroupPlan, id: string, files: readonly JournalDigests[]): Buffer {
  const named = files.map((file) => ({
    ...file,
    temp: groupTempPath(file.target, id),
    backup: file.backup === null ? null : backupPath(file.target, id),
  }));
  return Buffer.from(encodeJournal(toJournal(id, plan.journalDir, named)), 'utf8');
}

/**
 * Writes every temp, reads every current target, and writes the journal's temp from what was read: nothing of it
 * counts until the journal is renamed into place under the lock. All settle before the first failure is thrown.
 */
async function prepareFiles(
  fs: GroupFs,
  plan: GroupPlan,
  id: string,
  durable: boolean,
  created: string[],
  localDisk: LocalDisk,
  journal: HeldJournal,
): Promise<PreparedFile[]> {
  // The temps first: their writes and fsyncs take longest; the journal waits for the reads.
  // Each holds one file open while it runs: a group of thousands stays within MAX_OPEN_FILES (never EMFILE).
  const temps = plan.files.map((file) =>
    withOpenFiles(() =>
      writeTemp(fs, file, groupTempPath(file.target, id), durable, created, localDisk(dirname(file.target))),
    ),
  );
  const previous = plan.files.map((file) => readPrevious(fs, file, id, localDisk));
  const journalWritten = Promise.all(previous).then((files) =>
    writeJournalTemp(fs, plan, id, files, durable, created, localDisk, journal),
  );
  await settleAll<unknown>([...temps, ...previous, journalWritten]);
  return Promise.all(previous);
}

const journalTempPath = (plan: GroupPlan, id: string): string =>
  join(plan.journalDir, groupTempName(groupJournalName(id), id));

/**
 * The journal's temp, held open from its write until the journal is removed: the removal then only takes the name
 * away, and freeing the file's blocks (~0.15 ms on ext4, on the way to leaving the lock) waits for the close, after
 * the lock is left. Closed at once instead on Windows, which keeps a removed file's name until it is closed, and in a
 * group whose own reads and temps could fill MAX_OPEN_FILES, where it would be one descriptor over the bound.
 */
class HeldJournal {
  private handle: FileHandleLike | undefined;

  constructor(private readonly files: number) {}

  /** Where it is not kept, closes it now (an error then is the write's). */
  hold(handle: FileHandleLike): Promise<void> {
    if (process.platform === 'win32' || 2 * this.files + 1 > MAX_OPEN_FILES) return handle.close();
    this.handle = handle;
    return Promise.resolve();
  }

  close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    return handle ? handle.close() : Promise.resolve();
  }
}

/** (Re)writes the journal's temp, durably; renaming it to the journal's name is what starts the commit. */
async function writeJournalTemp(
  fs: GroupFs,
  plan: GroupPlan,
  id: string,
  files: readonly PreparedFile[],
  durable: boolean,
  created: string[],
  localDisk: LocalDisk,
  journal: HeldJournal,
): Promise<void> {
  const temp = journalTempPath(plan, id);
  const bytes = journalBytes(plan, id, files);
  const tooLarge = journalTooLarge(bytes.length, files.length);
  if (tooLarge) throw tooLarge;
  try {
    if (created.includes(temp)) {
      await journal.close();
      await fs.unlink(temp);
    } else created.push(temp);
    const options = { mode: 0o600, durable, localDisk: localDisk(plan.journalDir) };
    await journal.hold(await withOpenFiles(() => createFile(fs, temp, bytes, options)));
  } catch (error) {
    throw failure(
      'journal',
      'unchanged',
      `cannot write the journal ${join(plan.journalDir, groupJournalName(id))}`,
      error,
    );
  }
}

const groupTempPath = (target: string, id: string): string =>
  join(dirname(target), groupTempName(basename(target), id));
const backupPath = (target: string, id: string): string => join(dirname(target), groupBackupName(basename(target), id));

async function writeTemp(
  fs: GroupFs,
  file: ResolvedFile,
  temp: string,
  durable: boolean,
  created: string[],
  localDisk: boolean,
): Promise<void> {
  try {
    await writeNewFile(fs, temp, file.bytes, {
      mode: file.mode,
      durable,
      localDisk,
      ...(file.owner ? { owner: file.owner } : {}),
    });
  } catch (error) {
    throw failure('prepare', 'unchanged', `cannot write the new content of ${file.target} to ${temp}`, error);
  }
  created.push(temp);
}

/** The digest of the current target, which must still be the planned version and what the caller expected. */
async function readPrevious(fs: GroupFs, file: ResolvedFile, id: string, localDisk: LocalDisk): Promise<PreparedFile> {
  let previous: ContentDigest | 'absent' = 'absent';
  let racyBytes: Buffer | undefined;
  if (file.identity) {
    const readAt = Date.now();
    let bytes: Buffer;
    try {
      bytes = await readTarget(fs, file, localDisk);
    } catch (error) {
      // Gone since it was resolved: what it was is unknown, so nothing may replace it now.
      if (errnoOf(error) === 'ENOENT') throw changedSincePlan(file, 'is missing');
      throw failure('prepare', 'unchanged', `cannot read ${file.target}`, error);
    }
    if (bytes.length !== file.identity.size)
      throw changedSincePlan(file, `holds ${bytes.length} bytes, not ${file.identity.size}`);
    previous = digestOf(bytes);
    if (file.identity.mtimeMs > readAt - RACY_MTIME_MS) racyBytes = bytes;
  }
  if (file.expected !== undefined && !sameDigest(previous, file.expected)) {
    throw changedSincePlan(
      file,
      previous === 'absent' ? 'is missing' : 'holds other content than the one the new content was made from',
    );
  }
  const backup = previous === 'absent' ? null : backupPath(file.target, id);
  // The new content is hashed here, once the read is in and the temps' writes are on their way: hashed before them,
  // it held their start back (~0.5 ms for three 256 KiB files).
  return { ...file, temp: groupTempPath(file.target, id), backup, previous, nextDigest: file.next(), racyBytes };
}

/** The refusal for a target that is no longer what the group was planned on: it names the file and what it is now. */
function changedSincePlan(file: Pick<ResolvedFile, 'given' | 'target'>, now: string): GroupCommitError {
  const name = file.given === file.target ? file.target : `${file.given} (${file.target})`;
  return changedSincePlanAll([{ path: name, problems: [now] }]);
}

/** `problems` lists each changed file (as `path`) and what it is now. */
function changedSincePlanAll(changed: readonly { path: string; problems: string[] }[]): GroupCommitError {
  const names = changed.map(({ path, problems }) => `${path} (it ${problems.join(', ')})`).join(', ');
  const them = changed.length === 1 ? 'it is' : 'they are';
  const message = `Group commit refused: ${names} changed since the group was planned, so ${them} not written over; nothing was written`;
  return new GroupCommitError('confirm', 'ECHANGED', 'unchanged', message, undefined, changed);
}

/** What is at `path` now (lstat: a symlink put in a target's place is seen as one); undefined when nothing is. */
async function lstatNow(fs: GroupFs, path: string): Promise<Stats | undefined> {
  try {
    return await fs.lstat(path);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined;
    throw failure('confirm', 'unchanged', `cannot inspect ${path}`, error);
  }
}

/** Undefined while `stats` is still the planned file (device, inode, size, mtime) or still nothing; else what it is now. */
function differenceFrom(planned: FileIdentity | undefined, stats: Stats | undefined): string | undefined {
  if (!stats) return planned ? 'is missing' : undefined;
  if (!stats.isFile()) return `is now ${fileTypeOf(stats)}`;
  if (!planned) return 'exists now';
  return sameFile(identityOf(stats), planned)
    ? undefined
    : 'was replaced or rewritten (device, inode, size or mtime differ)';
}

/**
 * Under the lock: each target must still be the file (device, inode, size, mtime) whose digest was taken, or still
 * absent. One an interrupted group just finished (`finished`) is read again, now under the lock; any other change is
 * a writer's, and the group is refused rather than written over it.
 */
async function confirmPrevious(
  fs: GroupFs,
  file: PreparedFile,
  id: string,
  seen: Promise<Stats | undefined>,
  finished: ReadonlySet<string>,
  localDisk: LocalDisk,
): Promise<PreparedFile> {
  const stats = await seen;
  const difference = differenceFrom(file.identity, stats);
  if (difference === undefined) return file;
  if (!finished.has(file.target) || (stats && !stats.isFile())) throw changedSincePlan(file, difference);
  return readPrevious(fs, { ...file, identity: stats && identityOf(stats) }, id, localDisk);
}

/** A target folder must still be the planned folder: one swapped for a symlink would send a rename elsewhere. */
async function confirmFolder(fs: GroupFs, plan: GroupPlan, folder: string): Promise<void> {
  const stats = await lstatNow(fs, folder);
  const planned = plan.folderNodes.get(folder)!;
  if (stats?.isDirectory() && sameNode(identityOf(stats), planned)) return;
  throw new GroupCommitError(
    'confirm',
    'ECHANGED',
    'unchanged',
    `Group commit refused: the folder ${folder} changed since the group was planned (it ${stats ? `is now ${fileTypeOf(stats)}, or another folder` : 'is missing'}); nothing was written`,
  );
}

/**
 * Right before the renames, after the backups: each target is still the planned file, its backup (a link) that same
 * file, and where the mtime cannot tell (racy), its content the digested one. A single write re-checks the same way.
 */
async function confirmUnchanged(
  fs: GroupFs,
  file: PreparedFile,
  linked: ReadonlySet<string>,
  localDisk: LocalDisk,
): Promise<void> {
  // The target, its backup and (racy) its content are looked at together: the verdicts are taken in this order, as
  // if asked one after another; none relied on the order of the asking.
  const backupLinked = file.backup !== null && linked.has(file.backup);
  const [target, backup, content] = await Promise.allSettled([
    lstatNow(fs, file.target),
    backupLinked ? lstatNow(fs, file.backup!) : undefined,
    file.racyBytes ? readTarget(fs, file, localDisk) : undefined,
  ]);
  if (target.status === 'rejected') throw target.reason;
  const difference = differenceFrom(file.identity, target.value);
  if (difference !== undefined) throw changedSincePlan(file, difference);
  if (backupLinked) {
    if (backup.status === 'rejected') throw backup.reason;
    if (!backup.value || !file.identity || !sameFile(identityOf(backup.value), file.identity))
      throw changedSincePlan(file, 'was replaced while its backup was linked');
  }
  if (!file.racyBytes) return;
  if (content.status === 'rejected')
    throw failure('confirm', 'unchanged', `cannot read ${file.target}`, content.reason);
  if (!content.value!.equals(file.racyBytes))
    throw changedSincePlan(file, 'holds other content (rewritten within the same mtime)');
}

const LINK_UNSUPPORTED = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK']);

/**
 * Keeps the old target as its backup: a hard link, or a durable copy where links are not available. A backup that
 * is not the recorded version (a writer that ignores the lock struck) is caught by the digest check of any roll back.
 */
async function keepBackup(fs: GroupFs, file: PreparedFile, durable: boolean, linked: Set<string>): Promise<void> {
  const backup = file.backup!;
  if (fs.link) {
    try {
      await fs.link(file.target, backup);
      linked.add(backup);
      return;
    } catch (error) {
      if (!LINK_UNSUPPORTED.has(errnoOf(error) ?? '')) throw error;
    }
  }
  const bytes = await readOpen(fs, file.target);
  if (file.previous === 'absent' || !sameDigest(digestOf(bytes), file.previous))
    throw changedSincePlan(file, 'changed while its backup was copied');
  await withOpenFiles(() => writeNewFile(fs, backup, bytes, { mode: file.mode, durable }));
}

/** A whole-file read among the group's others: within MAX_OPEN_FILES (boundedOpens.ts). */
const readOpen = (fs: GroupFs, path: string, options?: ReadOptions): Promise<Buffer> =>
  withOpenFiles(() => fs.readFile(path, undefined, options));

/** A target's current content, with the local-disk calls where its own device is proven (not one bind-mounted in). */
const readTarget = (fs: GroupFs, file: ResolvedFile, localDisk: LocalDisk): Promise<Buffer> =>
  readOpen(fs, file.target, {
    localDisk: file.identity !== undefined && localDisk(dirname(file.target), file.identity.dev),
  });

function toJournal(id: string, journalDir: string, files: readonly JournalDigests[]): GroupJournal {
  const relativeTo = (path: string) => path.slice(journalDir.length).split(sep).filter(Boolean).join('/');
  return {
    format: 'crash-safe-group',
    version: 1,
    id,
    state: 'committing',
    entries: files.map((file) => ({
      target: relativeTo(file.target),
      temp: relativeTo(file.temp),
      backup: file.backup === null ? null : relativeTo(file.backup),
      previous: file.previous,
      next: file.nextDigest,
    })),
  };
}

/**
 * Runs every action; once all have settled (so everything created is known), rethrows the first failure, or, when
 * several targets changed, one refusal naming them all.
 */
async function settleAll<T>(actions: Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(actions);
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (failures.length === 0) return results.map((r) => (r as PromiseFulfilledResult<T>).value);
  const changed = failures.filter((f): f is GroupCommitError => f instanceof GroupCommitError && f.code === 'ECHANGED');
  throw changed.length > 1 ? changedSincePlanAll(changed.flatMap((error) => error.problems)) : failures[0];
}

/**
 * The commit proper, under the lock, once the temps are durable and the old digests confirmed. Returns the journal's
 * path, and the tidying (the backups' removal, the held journal's close), which may finish after the lock is left:
 * with the journal gone the backups name no group, and as this process's own live group's files nobody else removes
 * them (groupDebris' liveWriter).
 */
async function applyGroup(
  fs: GroupFs,
  plan: GroupPlan,
  id: string,
  files: readonly PreparedFile[],
  created: string[],
  heldJournal: HeldJournal,
  durable: boolean,
  localDisk: LocalDisk,
  options: Pick<GroupCommitOptions, 'signal' | 'renameRetryDelaysMs'>,
): Promise<{ journal: string; tidying: Promise<unknown> }> {
  const { signal, renameRetryDelaysMs: delays } = options;
  const journalPath = join(plan.journalDir, groupJournalName(id));
  const backups: string[] = [];
  const linked = new Set<string>();
  let step: GroupStep = 'journal';
  let journalWritten = false;
  const folders = heldFolders(fs, durable ? [...plan.folders, plan.journalDir] : [], localDisk);
  try {
    if (signal?.aborted) throw failure('aborted', 'unchanged', 'aborted before the journal was written', signal.reason);
    // The backups alongside the journal: they only need to be durable before the first rename, and without a
    // journal they are plain leftovers.
    const keepBackups = files.map(async (file) => {
      if (file.backup === null) return;
      try {
        await keepBackup(fs, file, durable, linked);
      } catch (error) {
        throw failure('backup', 'unchanged', `cannot keep the old ${file.target} as ${file.backup}`, error);
      }
      backups.push(file.backup);
    });
    const journal = renameWithRetry(fs, journalTempPath(plan, id), journalPath, delays).then(
      () => {
        journalWritten = true;
      },
      (error: unknown) => {
        throw failure('journal', 'unchanged', `cannot put the journal ${journalPath} in place`, error);
      },
    );
    await settleAll([journal, ...keepBackups]);
    step = 'confirm';
    // Temps, journal and backups durable before the first rename: from here on a crash can always be finished.
    // Meanwhile, compare before rename, as a single write does: a target changed since the plan is never written over.
    const durableNow = durable
      ? folders.sync([...plan.folders, plan.journalDir]).catch((error: unknown) => {
          throw failure('journal', 'unchanged', 'cannot make the journal and the backups durable', error);
        })
      : undefined;
    await settleAll([
      durableNow ?? Promise.resolve(),
      ...plan.folders.map((folder) => confirmFolder(fs, plan, folder)),
      ...files.map((file) => confirmUnchanged(fs, file, linked, localDisk)),
    ]);
    if (signal?.aborted) throw failure('aborted', 'unchanged', 'aborted before the first rename', signal.reason);

    step = 'apply';
    // Any subset of the renames is recoverable, so their order does not matter.
    await settleAll(files.map((file) => renameWithRetry(fs, file.temp, file.target, delays)));
    step = 'sync';
    if (durable) await folders.sync(plan.folders);
  } catch (error) {
    await folders.close();
    throw await undo(fs, step, journalWritten ? journalPath : undefined, [...created, ...backups], error, options);
  }
  // Committed: every target holds its new content durably, so no roll back can be needed any more and the backups
  // may go. Removing the journal is the done mark; should that removal be lost, recovery finds every target new and
  // only tidies up. Its fsync matters only where a later durable write to a target would not fsync the journal's
  // folder anyway: a target in another folder. It goes first and alone: the lock is left once it is done, and the
  // backups' removals in the same folder would slow it; they, and the journal's close (which frees its blocks), run
  // while the lock is left.
  const journalRemoved = removeQuietly(fs, journalPath);
  const tidying = journalRemoved.then(() =>
    Promise.all([...backups.map((backup) => removeQuietly(fs, backup)), heldJournal.close().catch(() => undefined)]),
  );
  if ((await journalRemoved) && durable && plan.folders.some((folder) => folder !== plan.journalDir)) {
    await folders.sync([plan.journalDir]).catch(() => undefined);
  }
  await folders.close();
  return { journal: journalPath, tidying };
}

/** Folders held open at once for their fsyncs; a group spread wider fsyncs each folder through fsyncDir. */
const FOLDERS_HELD_OPEN = 8;

/**
 * The commit's folders, opened now (while the backups are linked) and held for every fsync of the commit: after the
 * journal, after the renames, after the journal's removal. Each fsync then costs one call instead of three.
 */
function heldFolders(fs: GroupFs, paths: readonly string[], localDisk: LocalDisk) {
  const unique = [...new Set(paths)].sort();
  const open =
    fsyncsDirectories() && fs.openFolder && unique.length <= FOLDERS_HELD_OPEN
      ? new Map(
          unique.map((path) => {
            const opening = fs.openFolder!(path).catch(() => undefined); // then fsyncDir says what fails
            return [path, opening] as const;
          }),
        )
      : new Map<string, Promise<FolderHandleLike | undefined>>();
  const opened = new Map<string, FolderHandleLike>();
  for (const [path, opening] of open) void opening.then((folder) => folder && opened.set(path, folder));
  return {
    async sync(folders: readonly string[]): Promise<void> {
      if (!fsyncsDirectories()) return;
      for (const path of [...new Set(folders)].sort()) {
        // A folder already open is fsynced at once, before the caller's next calls are queued ahead of its fsync.
        const folder = opened.get(path) ?? (await open.get(path));
        await (folder ? folder.sync() : fsyncFolders(fs, [path], localDisk));
      }
    },
    async close(): Promise<void> {
      for (const [path, opening] of open) {
        const folder = await opening;
        if (folder) await closeFolderHandle(folder, localDisk(path)).catch(() => undefined);
      }
      open.clear();
      opened.clear();
    },
  };
}

/** Takes a failed commit back to "every file old", or says why it could not. Returns the error to throw. */
async function undo(
  fs: GroupFs,
  step: GroupStep,
  journal: string | undefined,
  leftovers: string[],
  error: unknown,
  retry: RenameRetryOptions,
): Promise<GroupCommitError> {
  const what = step === 'aborted' ? 'aborted' : `${step} failed`;
  if (step === 'sync') return failure('sync', 'unconfirmed', 'fsync of the folders after the renames failed', error);
  if (step !== 'apply') {
    // Nothing renamed yet. The journal goes first, so a crash here leaves only plain leftovers.
    if (journal) await removeQuietly(fs, journal);
    await Promise.all(leftovers.map((path) => removeQuietly(fs, path)));
    return failure(step, 'unchanged', what, error);
  }
  const outcome = journal ? await recoverJournal(fs, journal, 'back', retry) : undefined;
  return failure('apply', outcome?.state === 'rolled-back' ? 'rolled-back' : 'interrupted', what, error);
}
