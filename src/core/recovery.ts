import { basename, dirname, join, resolve } from 'node:path';
import { writeFileAtomic } from './atomicWrite';
import { errnoOf, type FsLike, nodeFs } from './fs';
import { type JsonSchema, schemaProblems } from './jsonStore';
import { checkJsonDocument } from './orphans';
import { compileCustomPatterns, mightBeTemp, type OrphanKind, recogniseTemp } from './tempPatterns';

/** A temp file whose whole content is a valid version of the target. */
export interface RecoveryCandidate {
  path: string;
  mtimeMs: number;
  size: number;
  kind: OrphanKind;
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
  /** Replace a target that is valid and newer than every candidate. */
  force?: boolean;
  /** Clock for the backup name. */
  now?: number;
}

export interface RecoveryResult {
  target: string;
  from: string;
  /** Where the previous target was kept; null when there was no target. */
  backup: string | null;
}

export type RecoveryErrorCode = 'no-candidate' | 'refused' | 'verify-failed';

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

/** Validates a whole document: non-empty, parses as JSON (JSONC tolerated), and matches the schema if one is given. */
export function validateDocument(bytes: Buffer, schema?: JsonSchema): string | undefined {
  const check = checkJsonDocument(bytes.toString('utf8'));
  if (!check.ok) return check.reason;
  const problems = schema ? schemaProblems(schema, check.value) : [];
  return problems.length > 0 ? `does not match the schema: ${problems.join('; ')}` : undefined;
}

/** The backup name for a replaced target: `<target>.corrupt-<UTC time>` (or `.replaced-` when it was valid). */
export function backupPathFor(target: string, label: 'corrupt' | 'replaced', now: number): string {
  const stamp = new Date(now).toISOString().replace(/[:.]/g, '-');
  return `${target}.${label}-${stamp}`;
}

async function realPathOf(fs: FsLike, target: string): Promise<string> {
  try {
    return (await fs.lstat(target)).isSymbolicLink() ? await fs.realpath(target) : target;
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return target;
    throw error;
  }
}

/** Looks through the target's folder (and the real file's, if it is a symlink) for its recognised temps. */
async function examineCandidates(
  target: string,
  options: CandidateOptions,
): Promise<{ valid: RecoveryCandidate[]; rejected: RejectedCandidate[]; realTarget: string }> {
  const fs = options.fs ?? nodeFs;
  const custom = compileCustomPatterns(options.extraPatterns);
  const realTarget = await realPathOf(fs, target);
  const places = new Map([[dirname(target), basename(target)]]);
  places.set(dirname(realTarget), basename(realTarget));

  const valid: RecoveryCandidate[] = [];
  const rejected: RejectedCandidate[] = [];
  for (const [dir, targetName] of places) {
    let names: string[];
    try {
      names = await fs.readdir(dir);
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
      let reason: string | undefined;
      try {
        reason = validateDocument(await fs.readFile(path), options.schema);
      } catch (error) {
        reason = `unreadable: ${error instanceof Error ? error.message : String(error)}`;
      }
      if (reason) rejected.push({ path, reason });
      else valid.push({ path, mtimeMs: stats.mtimeMs, size: stats.size, kind: recognised.kind });
    }
  }
  valid.sort((a, b) => b.mtimeMs - a.mtimeMs || (a.path < b.path ? -1 : 1));
  return { valid, rejected, realTarget };
}

/** Recognised temps of `target` whose whole content validates, newest (by mtime) first. */
export async function findRecoveryCandidates(target: string, options: CandidateOptions = {}): Promise<RecoveryCandidate[]> {
  return (await examineCandidates(resolve(target), options)).valid;
}

type CurrentTarget =
  | { state: 'missing' }
  | { state: 'valid' | 'broken'; bytes: Buffer; mtimeMs: number; mode: number; problem?: string };

async function readCurrent(fs: FsLike, target: string, schema: JsonSchema | undefined): Promise<CurrentTarget> {
  let bytes: Buffer;
  let stats: Awaited<ReturnType<FsLike['stat']>>;
  try {
    stats = await fs.stat(target);
    bytes = await fs.readFile(target);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return { state: 'missing' };
    throw new RecoveryError(target, 'no-candidate', `Cannot read ${target}: ${String(error)}`);
  }
  const problem = validateDocument(bytes, schema);
  return { state: problem ? 'broken' : 'valid', bytes, mtimeMs: stats.mtimeMs, mode: stats.mode & 0o777, problem };
}

async function freeBackupPath(fs: FsLike, base: string): Promise<string> {
  for (let n = 0; ; n++) {
    const candidate = n === 0 ? base : `${base}-${n}`;
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
 * Promotes the newest valid temp over a missing, empty or corrupt target. The old target is first copied durably to
 * `<target>.corrupt-<time>` (or `.replaced-<time>` if it was valid), then the candidate's bytes are written through the
 * atomic service and read back. The candidate itself is never touched, so a crash at any point leaves the old content
 * (in place or in the backup) and the candidate. Refuses, unless forced, when the target is valid and newer than every
 * candidate; throws RecoveryError when there is no valid candidate.
 */
export async function recoverTarget(targetPath: string, options: RecoverOptions = {}): Promise<RecoveryResult> {
  const fs = options.fs ?? nodeFs;
  const target = resolve(targetPath);
  const { valid, rejected, realTarget } = await examineCandidates(target, options);
  const best = valid[0];
  if (!best) {
    const detail =
      rejected.length === 0
        ? 'no temp files of it were found'
        : `${rejected.length} temp file(s) found, none valid: ${rejected.map((r) => `${basename(r.path)} ${r.reason}`).join('; ')}`;
    throw new RecoveryError(target, 'no-candidate', `No valid recovery candidate for ${target}: ${detail}`);
  }

  const current = await readCurrent(fs, target, options.schema);
  if (current.state === 'valid' && current.mtimeMs >= best.mtimeMs && !options.force) {
    throw new RecoveryError(
      target,
      'refused',
      `Refusing to recover ${target}: it is valid and newer than every candidate (newest: ${best.path}); use --force to replace it anyway`,
    );
  }

  // Read and check the chosen bytes once more: these exact bytes are what gets written.
  const bytes = await fs.readFile(best.path);
  const problem = validateDocument(bytes, options.schema);
  if (problem) {
    throw new RecoveryError(target, 'no-candidate', `${best.path} changed while recovering ${target}: ${problem}`);
  }

  let backup: string | null = null;
  if (current.state !== 'missing') {
    const label = current.state === 'valid' ? 'replaced' : 'corrupt';
    backup = await freeBackupPath(fs, backupPathFor(realTarget, label, options.now ?? Date.now()));
  }
  if (options.dryRun) return { target, from: best.path, backup };

  if (backup && current.state !== 'missing') {
    await writeFileAtomic(backup, current.bytes, { fs, mode: current.mode });
    if (!(await verifyCopy(fs, backup, current.bytes))) {
      throw new RecoveryError(target, 'verify-failed', `The backup ${backup} does not match ${target}; ${target} was left as it was`);
    }
  }
  await writeFileAtomic(target, bytes, { fs });
  if (!(await verifyCopy(fs, target, bytes)) || validateDocument(await fs.readFile(target), options.schema)) {
    throw new RecoveryError(
      target,
      'verify-failed',
      `${target} does not read back as ${best.path} after recovery; the candidate${backup ? ` and the backup ${backup}` : ''} were kept`,
    );
  }
  return { target, from: best.path, backup };
}
