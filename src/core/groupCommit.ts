// Group commits: several files replaced all-or-nothing, across crashes and power loss (docs/group-commits.md).
// Prepare durable temps, record the intent in a journal, keep the old targets as backups, rename, fsync; a crash
// at any point is finished by recoverJournal, forward or back, so the group is never left half old, half new.
import { basename, dirname, join, sep } from 'node:path';
import type { Durability } from './atomicWrite';
import { type LockSettings, withFileLock } from './fileLock';
import { errnoOf, type FileIdentity, identityOf, type RenameRetryOptions, renameWithRetry, sameFile } from './fs';
import {
  type ContentDigest,
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
  journalsIn,
  liveGroupIds,
  newGroupId,
  nodeGroupFs,
  removeQuietly,
  writeNewFile,
} from './groupJournal';
import {
  encodeFiles,
  failure,
  GroupCommitError,
  type GroupFile,
  type GroupPlan,
  type GroupStep,
  planGroup,
  type ResolvedFile,
} from './groupPlan';
import { type JournalOutcome, recoverJournal } from './groupRecovery';
import { recogniseGroupFile } from './tempPatterns';

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
  /** Where the journal goes; it must contain every target. Default: the deepest folder that does. */
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
}

/** Journals of interrupted groups that left a temp or backup beside one of the plan's targets. */
async function interruptedJournals(fs: GroupFs, plan: GroupPlan): Promise<string[]> {
  const found = new Set<string>();
  const targetNames = new Set(plan.files.map((file) => file.target));
  for (const folder of plan.folders) {
    const names = await fs.readdir(folder);
    for (const name of names) {
      const named = recogniseGroupFile(name, names);
      if (!named?.target || liveGroupIds.has(named.groupId) || !targetNames.has(join(folder, named.target))) continue;
      const search = await findJournal(fs, folder, named.groupId);
      if (search.state === 'found') found.add(search.path);
    }
  }
  return [...found];
}

function touches(outcome: JournalOutcome, plan: GroupPlan): boolean {
  if (outcome.state !== 'problem') return false;
  // A journal that cannot be read may describe these very files.
  if (!outcome.targets) return true;
  return outcome.targets.some((target) => plan.files.some((file) => file.target === target));
}

function withGroupLock<T>(journalDir: string, options: GroupCommitOptions, action: () => Promise<T>): Promise<T> {
  return options.lock === false ? action() : withFileLock(groupLockTarget(journalDir), action, options.lock);
}

async function recoverFirst(fs: GroupFs, plan: GroupPlan, journals: string[], retry: RenameRetryOptions): Promise<JournalOutcome[]> {
  const outcomes: JournalOutcome[] = [];
  for (const journal of journals) {
    const outcome = await recoverJournal(fs, journal, 'forward', retry);
    if (touches(outcome, plan)) {
      const reason = outcome.state === 'problem' ? outcome.reason : '';
      throw new GroupCommitError('recover', 'EGROUP', 'unchanged', `Group commit refused: an interrupted group commit (${journal}) may touch these files and could not be finished: ${reason}; no file was changed`);
    }
    outcomes.push(outcome);
  }
  return outcomes;
}

/**
 * Replaces every listed file with its new content, or none of them, even across a crash or a power cut (with
 * `full` durability): see docs/group-commits.md for the protocol and its limits.
 */
export async function commitGroup(files: readonly GroupFile[], options: GroupCommitOptions = {}): Promise<GroupCommitResult> {
  const fs = options.fs ?? nodeGroupFs;
  const durable = (options.durability ?? 'full') === 'full';
  if (options.signal?.aborted) throw failure('aborted', 'unchanged', 'aborted before it started', options.signal.reason);
  const encoded = encodeFiles(files);
  const planning = planGroup(fs, encoded, options.journalDir);
  for (const file of encoded) file.next(); // hashed while the planning's lstats are in flight
  const plan = await planning;
  const id = newGroupId();
  const created: string[] = [];
  let applying = false;
  liveGroupIds.add(id);
  // What needs no lock is done while it is taken: the temps (new names nobody refers to until the journal does) and
  // the digests of the current targets (confirmed under the lock by each target's identity).
  const preparing = prepareFiles(fs, plan, id, durable, created);
  preparing.catch(() => undefined); // awaited below; this only stops an early unhandled-rejection report
  try {
    const recovered: JournalOutcome[] = [];
    // Interrupted groups journalled elsewhere are finished under their own lock first: locks are never nested.
    const elsewhere = (await interruptedJournals(fs, plan)).filter((journal) => dirname(journal) !== plan.journalDir);
    for (const journal of elsewhere) {
      recovered.push(...(await withGroupLock(dirname(journal), options, () => recoverFirst(fs, plan, [journal], options))));
    }
    return await withGroupLock(plan.journalDir, options, async () => {
      // Under the lock, every journal in the folder belongs to a commit that did not finish.
      const journals = await journalsIn(fs, plan.journalDir);
      recovered.push(...(await recoverFirst(fs, plan, journals, options)));
      const prepared = await preparing;
      const confirmed = await Promise.all(prepared.map((file) => confirmPrevious(fs, file, id)));
      // A target changed while the lock was taken: the journal is written again from what is there now.
      if (confirmed.some((file, index) => file !== prepared[index])) await writeJournalTemp(fs, plan, id, confirmed, durable, created);
      applying = true;
      const journal = await applyGroup(fs, plan, id, confirmed, created, durable, options);
      return { targets: plan.files.map((file) => file.target), journal, recovered: recovered.filter((o) => o.state !== 'gone') };
    });
  } catch (error) {
    // A failure inside applyGroup has been undone there (and may have kept temps a later recovery needs).
    if (!applying) {
      await preparing.catch(() => undefined);
      await Promise.all(created.map((path) => removeQuietly(fs, path)));
    }
    throw error;
  } finally {
    liveGroupIds.delete(id);
  }
}

interface PreparedFile extends ResolvedFile {
  temp: string;
  backup: string | null;
  previous: ContentDigest | 'absent';
  nextDigest: ContentDigest;
}

/**
 * Writes every temp, reads every current target, and writes the journal's temp from what was read: nothing of it
 * counts until the journal is renamed into place under the lock. All settle before the first failure is thrown.
 */
async function prepareFiles(fs: GroupFs, plan: GroupPlan, id: string, durable: boolean, created: string[]): Promise<PreparedFile[]> {
  // Reads first: the journal waits for them, while the temps' fsyncs take long enough anyway.
  const previous = plan.files.map((file) => readPrevious(fs, file, id));
  const temps = plan.files.map((file) => writeTemp(fs, file, groupTempPath(file.target, id), durable, created));
  const journal = Promise.all(previous).then((files) => writeJournalTemp(fs, plan, id, files, durable, created));
  await settleAll([...temps, ...previous, journal]);
  return Promise.all(previous);
}

const journalTempPath = (plan: GroupPlan, id: string): string => join(plan.journalDir, groupTempName(groupJournalName(id), id));

/** (Re)writes the journal's temp, durably; renaming it to the journal's name is what starts the commit. */
async function writeJournalTemp(fs: GroupFs, plan: GroupPlan, id: string, files: readonly PreparedFile[], durable: boolean, created: string[]): Promise<void> {
  const temp = journalTempPath(plan, id);
  const bytes = Buffer.from(encodeJournal(toJournal(id, plan.journalDir, files)), 'utf8');
  try {
    if (created.includes(temp)) await fs.unlink(temp);
    else created.push(temp);
    await writeNewFile(fs, temp, bytes, { mode: 0o600, durable });
  } catch (error) {
    throw failure('journal', 'unchanged', `cannot write the journal ${join(plan.journalDir, groupJournalName(id))}`, error);
  }
}

const groupTempPath = (target: string, id: string): string => join(dirname(target), groupTempName(basename(target), id));

async function writeTemp(fs: GroupFs, file: ResolvedFile, temp: string, durable: boolean, created: string[]): Promise<void> {
  try {
    await writeNewFile(fs, temp, file.bytes, { mode: file.mode, durable, ...(file.owner ? { owner: file.owner } : {}) });
  } catch (error) {
    throw failure('prepare', 'unchanged', `cannot write the new content of ${file.target} to ${temp}`, error);
  }
  created.push(temp);
}

/** The digest of the current target. */
async function readPrevious(fs: GroupFs, file: ResolvedFile, id: string): Promise<PreparedFile> {
  let previous: ContentDigest | 'absent' = 'absent';
  if (file.identity) {
    try {
      previous = digestOf(await fs.readFile(file.target));
    } catch (error) {
      // Gone since it was resolved: what it was is unknown, so nothing may replace it now.
      throw failure('prepare', 'unchanged', `cannot read ${file.target}`, errnoOf(error) === 'ENOENT' ? changedError(file.target) : error);
    }
  }
  const backup = previous === 'absent' ? null : join(dirname(file.target), groupBackupName(basename(file.target), id));
  return { ...file, temp: groupTempPath(file.target, id), backup, previous, nextDigest: file.next() };
}

/**
 * Under the lock: the target must still be the file (device, inode, size, mtime) whose digest was taken, or still
 * absent. One that changed meanwhile (an interrupted group just finished, say) is read again, now under the lock.
 */
async function confirmPrevious(fs: GroupFs, file: PreparedFile, id: string): Promise<PreparedFile> {
  let now: FileIdentity | undefined;
  try {
    now = identityOf(await fs.stat(file.target));
  } catch (error) {
    if (errnoOf(error) !== 'ENOENT') throw failure('prepare', 'unchanged', `cannot inspect ${file.target}`, error);
  }
  const unchanged = now === undefined || file.identity === undefined ? now === file.identity : sameFile(now, file.identity);
  return unchanged ? file : readPrevious(fs, { ...file, identity: now }, id);
}

const LINK_UNSUPPORTED = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK']);

/**
 * Keeps the old target as its backup: a hard link, or a durable copy where links are not available. A backup that
 * is not the recorded version (a writer that ignores the lock struck) is caught by the digest check of any roll back.
 */
async function keepBackup(fs: GroupFs, file: PreparedFile, durable: boolean): Promise<void> {
  const backup = file.backup!;
  if (fs.link) {
    try {
      await fs.link(file.target, backup);
      return;
    } catch (error) {
      if (!LINK_UNSUPPORTED.has(errnoOf(error) ?? '')) throw error;
    }
  }
  const bytes = await fs.readFile(file.target);
  if (file.previous === 'absent' || digestOf(bytes).sha256 !== file.previous.sha256) throw changedError(file.target);
  await writeNewFile(fs, backup, bytes, { mode: file.mode, durable });
}

function changedError(target: string): Error {
  return Object.assign(new Error(`${target} changed while the group was being committed (a writer that does not take the lock)`), {
    code: 'ECHANGED',
  });
}

function toJournal(id: string, journalDir: string, files: readonly PreparedFile[]): GroupJournal {
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

/** Runs every action; rethrows the first failure once all have settled (so everything created is known). */
async function settleAll(actions: Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(actions)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** The commit proper, under the lock, once the temps are durable and the old digests confirmed. Returns the journal's path. */
async function applyGroup(
  fs: GroupFs,
  plan: GroupPlan,
  id: string,
  files: readonly PreparedFile[],
  created: string[],
  durable: boolean,
  options: Pick<GroupCommitOptions, 'signal' | 'renameRetryDelaysMs'>,
): Promise<string> {
  const { signal, renameRetryDelaysMs: delays } = options;
  const journalPath = join(plan.journalDir, groupJournalName(id));
  const backups: string[] = [];
  let step: GroupStep = 'journal';
  let journalWritten = false;
  try {
    if (signal?.aborted) throw failure('aborted', 'unchanged', 'aborted before the journal was written', signal.reason);
    // The backups alongside the journal: they only need to be durable before the first rename, and without a
    // journal they are plain leftovers.
    const keepBackups = files.map(async (file) => {
      if (file.backup === null) return;
      try {
        await keepBackup(fs, file, durable);
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
    // Temps, journal and backups durable before the first rename: from here on a crash can always be finished.
    if (durable) await fsyncFolders(fs, [...plan.folders, plan.journalDir]);
    if (signal?.aborted) throw failure('aborted', 'unchanged', 'aborted before the first rename', signal.reason);

    step = 'apply';
    // Any subset of the renames is recoverable, so their order does not matter.
    await settleAll(files.map((file) => renameWithRetry(fs, file.temp, file.target, delays)));
    step = 'sync';
    if (durable) await fsyncFolders(fs, plan.folders);
  } catch (error) {
    throw await undo(fs, step, journalWritten ? journalPath : undefined, [...created, ...backups], error, options);
  }
  // Committed: every target holds its new content durably, so no roll back can be needed any more and the backups
  // and the journal go together. Removing the journal is the done mark; should that removal be lost, recovery finds
  // every target new and only tidies up. Its fsync matters only where a later durable write to a target would not
  // fsync the journal's folder anyway: a target in another folder.
  const removed = Promise.all(backups.map((backup) => removeQuietly(fs, backup)));
  if ((await removeQuietly(fs, journalPath)) && durable && plan.folders.some((folder) => folder !== plan.journalDir)) {
    await fsyncFolders(fs, [plan.journalDir]).catch(() => undefined);
  }
  await removed;
  return journalPath;
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
