import { basename, dirname, join, resolve } from 'node:path';
import { withOpenFiles } from '../boundedOpens';
import { messageOf } from '../errors';
import { exactNames, UNDECODABLE_NAME_NOTE, type UndecodableName } from '../folderListing';
import {
  errnoOf,
  FileChangedError,
  type FileIdentity,
  type FsLike,
  identityOf,
  nodeFs,
  sameFile,
  sameNode,
} from '../fs';
import type { JsonSchema } from '../json/jsonStore';
import { judgeJsonBytes, judgeJsonFile } from '../json/judgeFile';
import { fileSafeTime } from '../names/fileTime';
import { derivedName } from '../names/tempNames';
import {
  compileCustomPatterns,
  mightBeTemp,
  type OrphanKind,
  type RecognisedTemp,
  recogniseHiddenLeftover,
  recogniseTemp,
} from '../names/tempPatterns';
import { reasonText } from '../reasons';
import { AtomicWriteError, type Durability, writeFileAtomic } from '../write/atomicWrite';
import { DEFAULT_DURABILITY } from '../write/durability';
import { liveWriterReason } from './orphanSweep';

/** A temp file whose whole content is a valid version of the target. */
export interface RecoveryCandidate {
  path: string;
  mtimeMs: number;
  size: number;
  kind: OrphanKind;
  identity: FileIdentity;
}

export interface CandidateOptions {
  /** When the target is one of ours, candidates must also match its schema. */
  schema?: JsonSchema;
  extraPatterns?: string[];
  fs?: FsLike;
}

export interface RecoverOptions extends CandidateOptions {
  /** Work out what would happen; write nothing. */
  dryRun?: boolean;
  /** Replace a target that is valid (by default a valid target is never replaced, whatever the mtimes). */
  force?: boolean;
  /** Clock for the backup name. */
  now?: number;
  /**
   * Recover from this temp (a path as `findRecoveryCandidates` returns it) instead of the newest valid one. It must be
   * a valid recognised temp of the target; anything else is refused and nothing changes.
   */
  from?: string;
  /** `from` as the user was shown it: a candidate that is no longer this file (device, inode, size, mtime) is refused. */
  fromIdentity?: FileIdentity;
  /**
   * After a verified recovery, remove the temp that was used: its content is the target's now. Only while it is still
   * the file that was judged (device, inode, size, mtime, and the same bytes), and never one a live writer may hold;
   * whatever cannot be proven stays.
   */
  consumeCandidate?: boolean;
}

export interface RecoveryResult {
  target: string;
  from: string;
  /** Where the previous target was kept; null when there was no target. */
  backup: string | null;
  /** Only with `consumeCandidate`: whether the temp used was removed, and if not, why it stayed. */
  consumed?: { removed: true } | { removed: false; reason: string };
}

/**
 * `not-needed`: the target is valid (exit 0 in the CLI); `no-candidate`: it needs recovery and no temp is valid (or
 * the temp asked for with `from` is none of the valid ones); `unreadable`: the target cannot be judged; `changed`: the
 * target or the chosen temp changed while recovering, nothing was replaced.
 */
export type RecoveryErrorCode = 'not-needed' | 'no-candidate' | 'unreadable' | 'changed' | 'verify-failed';

/** Recovery did not happen (or could not be verified); the message names the target and the cause. */
export class RecoveryError extends Error {
  override readonly name = 'RecoveryError';
  constructor(
    readonly target: string,
    readonly code: RecoveryErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A temp of the target that was looked at but cannot be used, and why. */
export interface RejectedCandidate {
  path: string;
  reason: string;
}

/**
 * The backup name for a replaced target: `<target>.corrupt-<UTC time>` (or `.replaced-` when it was valid), with
 * `-<n>` when an earlier one took the name. A target too long for that gets `<prefix>~<digest>.corrupt-…` instead.
 */
export function backupPathFor(target: string, label: 'corrupt' | 'replaced', now: number, n = 0): string {
  const suffix = `.${label}-${fileSafeTime(now)}${n === 0 ? '' : `-${n}`}`;
  return join(dirname(target), derivedName(basename(target), suffix));
}

async function realPathOf(fs: FsLike, target: string): Promise<string> {
  try {
    return (await fs.lstat(target)).isSymbolicLink() ? await fs.realpath(target) : target;
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return target;
    throw error;
  }
}

/** A file recognised as a temp of the target, not yet judged. */
export interface RecognisedTempFile {
  path: string;
  kind: OrphanKind;
  stats: Awaited<ReturnType<FsLike['lstat']>>;
  /** How its name was recognised, and its folder as listed (what consuming it later re-checks). */
  recognised: RecognisedTemp;
  folder: FileIdentity | undefined;
}

/**
 * The recognised temps of the target in its folder (and the real file's, if it is a symlink), regular files only,
 * unjudged; names that cannot be reached exactly or stat'ed come back as `rejected`. Shared by recover and the copies
 * model (src/core/copies), so both see the same temps.
 */
export async function recogniseTempsOf(
  target: string,
  options: CandidateOptions,
): Promise<{
  temps: RecognisedTempFile[];
  rejected: RejectedCandidate[];
  hiddenLeftovers: string[];
  realTarget: string;
}> {
  const fs = options.fs ?? nodeFs;
  const custom = compileCustomPatterns(options.extraPatterns);
  const realTarget = await realPathOf(fs, target);
  const places = new Map([[dirname(target), basename(target)]]);
  places.set(dirname(realTarget), basename(realTarget));

  const temps: RecognisedTempFile[] = [];
  const rejected: RejectedCandidate[] = [];
  const hiddenLeftovers: string[] = [];
  for (const [dir, targetName] of places) {
    let names: string[];
    let undecodable: UndecodableName[];
    let folder: FileIdentity | undefined;
    try {
      const folderStats = await fs.lstat(dir);
      // The folder as listed: a temp is consumed only while its folder is still this one (unknown: never).
      folder = folderStats.isDirectory() ? identityOf(folderStats) : undefined;
      ({ names, undecodable } = await exactNames(fs, dir));
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') continue;
      throw new RecoveryError(target, 'no-candidate', `Cannot list ${dir} to recover ${target}: ${String(error)}`);
    }
    // The target counts as present even when it is missing: recovery copies and never deletes a temp.
    const siblings = new Set(names);
    siblings.add(targetName);
    for (const name of names) {
      if (name === targetName || (custom.length === 0 && !mightBeTemp(name))) continue;
      if (recogniseTemp(name, siblings, custom, { mtimeMs: Number.POSITIVE_INFINITY })?.target !== targetName) continue;
      const path = join(dir, name);
      let stats: Awaited<ReturnType<FsLike['lstat']>>;
      try {
        stats = await fs.lstat(path);
      } catch (error) {
        rejected.push({ path, reason: String(error) });
        continue;
      }
      if (!stats.isFile()) continue; // symlinks and folders are never candidates
      const recognised = recogniseTemp(name, siblings, custom, { mtimeMs: stats.mtimeMs });
      if (recognised?.target !== targetName) continue;
      temps.push({ path, kind: recognised.kind, stats, recognised, folder });
    }
    for (const name of names) {
      if (recogniseHiddenLeftover(name)) hiddenLeftovers.push(join(dir, name));
    }
    // Never opened by their decoded text, which may name another file; shown so nobody thinks they were weighed.
    for (const { decoded, shown } of undecodable) {
      if (recogniseTemp(decoded, siblings, custom, { mtimeMs: Number.POSITIVE_INFINITY })?.target === targetName) {
        rejected.push({ path: join(dir, shown), reason: UNDECODABLE_NAME_NOTE });
      }
    }
  }
  return { temps, rejected, hiddenLeftovers, realTarget };
}

/** A valid candidate with what consuming it later re-checks: how its name was recognised and its folder's identity. */
interface ExaminedCandidate extends RecoveryCandidate {
  recognised: RecognisedTemp;
  folder: FileIdentity | undefined;
}

/** Looks through the target's folder (and the real file's, if it is a symlink) for its recognised temps. */
async function examineCandidates(
  target: string,
  options: CandidateOptions,
): Promise<{
  valid: ExaminedCandidate[];
  rejected: RejectedCandidate[];
  hiddenLeftovers: string[];
  realTarget: string;
}> {
  const fs = options.fs ?? nodeFs;
  const { temps, rejected, hiddenLeftovers, realTarget } = await recogniseTempsOf(target, options);
  const valid: ExaminedCandidate[] = [];
  for (const { path, kind, stats, recognised, folder } of temps) {
    const judged = await judgeJsonFile(fs, path, { schema: options.schema });
    if (judged.state === 'valid') {
      valid.push({
        path,
        mtimeMs: stats.mtimeMs,
        size: stats.size,
        kind,
        identity: judged.identity,
        recognised,
        folder,
      });
    } else {
      rejected.push({
        path,
        reason: judged.state === 'corrupt' || judged.state === 'unknown' ? judged.reason : `it is ${judged.state}`,
      });
    }
  }
  valid.sort((a, b) => b.mtimeMs - a.mtimeMs || (a.path < b.path ? -1 : 1));
  return { valid, rejected, hiddenLeftovers, realTarget };
}

/** Recognised temps of `target` whose whole content validates, newest (by mtime) first. */
export async function findRecoveryCandidates(
  target: string,
  options: CandidateOptions = {},
): Promise<RecoveryCandidate[]> {
  return (await examineCandidates(resolve(target), options)).valid.map(({ path, mtimeMs, size, kind, identity }) => ({
    path,
    mtimeMs,
    size,
    kind,
    identity,
  }));
}

/** The candidate `from` names, or why it cannot be used; nothing is chosen for the caller. */
function chosenCandidate(
  target: string,
  from: string,
  valid: readonly ExaminedCandidate[],
  rejected: readonly RejectedCandidate[],
  expected: FileIdentity | undefined,
): ExaminedCandidate {
  const path = resolve(from);
  const found = valid.find((candidate) => candidate.path === path);
  if (!found) {
    const why = rejected.find((candidate) => candidate.path === path)?.reason ?? 'it is not a temp file of it';
    throw new RecoveryError(target, 'no-candidate', `${path} cannot be used to recover ${target}: ${why}`);
  }
  if (expected && !sameFile(found.identity, expected)) {
    throw new RecoveryError(
      target,
      'changed',
      `${path} changed since it was shown (another write landed); nothing was replaced`,
    );
  }
  return found;
}

/**
 * Removes the temp a recovery used, only while it is provably the file that was judged: same folder, same file
 * (device, inode, size, mtime), the same bytes as the target now holds, and no live writer. Never throws.
 */
async function consumeCandidate(
  fs: FsLike,
  candidate: ExaminedCandidate,
  bytes: Buffer,
): Promise<NonNullable<RecoveryResult['consumed']>> {
  const keep = (reason: string) => ({ removed: false as const, reason });
  const live = liveWriterReason(candidate.path, candidate.recognised, Date.now() - candidate.mtimeMs);
  if (live) return keep(reasonText(live));
  if (!candidate.folder) return keep('its folder could not be identified');
  try {
    const [stats, now] = await withOpenFiles(async () => {
      const before = await fs.lstat(candidate.path);
      return [before, await fs.readFile(candidate.path)] as const;
    });
    if (!stats.isFile() || !sameFile(identityOf(stats), candidate.identity))
      return keep('it changed since it was read');
    if (!now.equals(bytes)) return keep('its content changed since it was read');
    const dir = dirname(candidate.path);
    if (fs.unlinkChecked) {
      await fs.unlinkChecked(dir, basename(candidate.path), candidate.folder, candidate.identity);
    } else {
      // No pinned unlink on this seam: re-check both as late as possible, then remove by path.
      const [folderNow, fileNow] = await Promise.all([fs.lstat(dir), fs.lstat(candidate.path)]);
      if (!folderNow.isDirectory() || !sameNode(identityOf(folderNow), candidate.folder)) {
        throw new FileChangedError(dir, 'no longer the folder that was checked');
      }
      if (!fileNow.isFile() || !sameFile(identityOf(fileNow), candidate.identity)) {
        throw new FileChangedError(candidate.path, 'changed since it was checked');
      }
      await fs.unlink(candidate.path);
    }
    return { removed: true };
  } catch (error) {
    return keep(messageOf(error));
  }
}

export type CurrentTarget =
  | { state: 'missing' }
  | { state: 'valid' | 'broken'; bytes: Buffer; identity: FileIdentity; mode: number; problem?: string };

/** The target as recovery decides on it: the same judgement as scan and sweep; unknown stops recovery. */
async function readCurrent(fs: FsLike, target: string, schema: JsonSchema | undefined): Promise<CurrentTarget> {
  let bytes: Buffer;
  let stats: Awaited<ReturnType<FsLike['stat']>>;
  try {
    [stats, bytes] = await withOpenFiles(async () => {
      const before = await fs.stat(target);
      return [before, await fs.readFile(target)] as const;
    });
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return { state: 'missing' };
    throw new RecoveryError(
      target,
      'unreadable',
      `Cannot judge ${target}, so it was left as it was: ${messageOf(error)}`,
    );
  }
  const judged = judgeJsonBytes(bytes, identityOf(stats), { schema });
  const problem = judged.state === 'corrupt' ? judged.reason : judged.state === 'empty' ? 'is empty' : undefined;
  return { state: problem ? 'broken' : 'valid', bytes, identity: identityOf(stats), mode: stats.mode & 0o777, problem };
}

/** The target's identity now, or undefined when it is missing. */
async function identityNow(fs: FsLike, target: string): Promise<FileIdentity | undefined> {
  try {
    return identityOf(await fs.stat(target));
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined;
    throw error;
  }
}

async function freeBackupPath(fs: FsLike, target: string, label: 'corrupt' | 'replaced', now: number): Promise<string> {
  for (let n = 0; ; n++) {
    const candidate = backupPathFor(target, label, now, n);
    try {
      await fs.lstat(candidate);
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return candidate;
      throw error;
    }
  }
}

async function verifyCopy(fs: FsLike, path: string, expected: Buffer): Promise<boolean> {
  try {
    return (await fs.readFile(path)).equals(expected);
  } catch {
    return false;
  }
}

/**
 * Promotes the newest valid temp over a missing, empty or corrupt target; a valid target is never replaced unless
 * forced. The old target is first copied durably to `<target>.corrupt-<time>` (or `.replaced-<time>` if it was valid),
 * then, only if the target is still the file that was backed up (device, inode, size, mtime), the candidate's bytes
 * are written through the atomic service and read back. The candidate is touched only after that read-back, and only
 * when asked (`consumeCandidate`), so a crash at any point leaves the old content (in place or in the backup) and the
 * new content (in the target or in the candidate).
 */
export async function recoverTarget(targetPath: string, options: RecoverOptions = {}): Promise<RecoveryResult> {
  const fs = options.fs ?? nodeFs;
  const target = resolve(targetPath);
  const current = await readCurrent(fs, target, options.schema);
  const { valid, rejected, hiddenLeftovers, realTarget } = await examineCandidates(target, options);
  if (current.state === 'valid' && !options.force) {
    throw new RecoveryError(target, 'not-needed', `${target} is valid, so there is nothing to recover`);
  }
  const best =
    options.from === undefined
      ? valid[0]
      : chosenCandidate(target, options.from, valid, rejected, options.fromIdentity);
  if (!best) {
    const found =
      rejected.length === 0
        ? 'no temp files of it were found'
        : `${rejected.length} temp file(s) found, none valid: ${rejected.map((r) => `${basename(r.path)} ${r.reason}`).join('; ')}`;
    const hidden =
      hiddenLeftovers.length > 0
        ? `; ${hiddenLeftovers.map((path) => basename(path)).join(', ')} in the same folder may hold an older version of some file there (left by a rename over an open file on FUSE or NFS)`
        : '';
    throw new RecoveryError(target, 'no-candidate', `No valid recovery candidate for ${target}: ${found}${hidden}`);
  }

  // Read and check the chosen bytes once more: these exact bytes, of this exact file, are what gets written.
  const chosen = await judgeJsonFile(fs, best.path, { schema: options.schema });
  if (chosen.state !== 'valid' || !sameFile(chosen.identity, best.identity)) {
    throw new RecoveryError(target, 'changed', `${best.path} changed while recovering ${target}; nothing was replaced`);
  }

  const result = await replaceKeepingBackup(
    fs,
    target,
    realTarget,
    current,
    chosen.bytes,
    best.path,
    options,
    async () => {
      const readBack = await judgeJsonFile(fs, target, { schema: options.schema });
      return readBack.state === 'valid' && readBack.bytes.equals(chosen.bytes);
    },
  );
  if (!options.consumeCandidate || options.dryRun) return result;
  return { ...result, consumed: await consumeCandidate(fs, best, chosen.bytes) };
}

/** What a replacement keeps and how it writes: recover's options, and the copies model's (src/core/copies). */
export interface ReplaceOptions {
  dryRun?: boolean;
  now?: number;
  /** Durability of the backup and of the replacement; default `full`, as a repair must survive a power loss. */
  durability?: Durability;
}

/**
 * Replaces the target as read (`current`) with `bytes`, keeping the old one: it is first copied durably to
 * `<target>.corrupt-<time>` (or `.replaced-<time>` if it was valid) beside the real file and read back; then, only if
 * the target is still the file that was backed up (device, inode, size, mtime; or still missing), `bytes` are written
 * through the atomic service, which checks the content once more right before its rename, and `readsBack` must
 * confirm them. Nothing that `bytes` came from is touched.
 */
export async function replaceKeepingBackup(
  fs: FsLike,
  target: string,
  realTarget: string,
  current: CurrentTarget,
  bytes: Buffer,
  from: string,
  options: ReplaceOptions,
  readsBack: () => Promise<boolean> = () => verifyCopy(fs, target, bytes),
): Promise<RecoveryResult> {
  const durability = options.durability ?? DEFAULT_DURABILITY;
  let backup: string | null = null;
  if (current.state !== 'missing') {
    const label = current.state === 'valid' ? 'replaced' : 'corrupt';
    backup = await freeBackupPath(fs, realTarget, label, options.now ?? Date.now());
  }
  if (options.dryRun) return { target, from, backup };

  if (backup && current.state !== 'missing') {
    await writeFileAtomic(backup, current.bytes, { fs, mode: current.mode, durability });
    if (!(await verifyCopy(fs, backup, current.bytes))) {
      throw new RecoveryError(
        target,
        'verify-failed',
        `The backup ${backup} does not match ${target}; ${target} was left as it was`,
      );
    }
  }
  // A write that landed since the decision is newer than anything here: it must not be replaced unseen.
  const now = await identityNow(fs, target);
  const unchanged =
    current.state === 'missing' ? now === undefined : now !== undefined && sameFile(now, current.identity);
  const changed = () =>
    new RecoveryError(
      target,
      'changed',
      `${target} changed while it was being recovered (another write landed); nothing was replaced${backup ? ` (the backup ${backup} holds the version it had before)` : ''}`,
    );
  if (!unchanged) throw changed();
  try {
    await writeFileAtomic(target, bytes, {
      fs,
      durability,
      expected: current.state === 'missing' ? null : current.bytes,
    });
  } catch (error) {
    if (error instanceof AtomicWriteError && error.step === 'confirm') throw changed();
    throw error;
  }
  if (!(await readsBack())) {
    throw new RecoveryError(
      target,
      'verify-failed',
      `${target} does not read back as ${from} after recovery; the candidate${backup ? ` and the backup ${backup}` : ''} were kept`,
    );
  }
  return { target, from, backup };
}
