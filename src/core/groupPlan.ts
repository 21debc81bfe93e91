// Before a group commit touches anything: each file's new bytes (serialised, schema-checked) and its real target,
// every refusal that can be made up front (repeats, missing folders, several file systems), and the journal folder.

import { dirname, resolve } from 'node:path';
import { messageOf } from './errors';
import { commonFolder, isInside } from './folderListing';
import { errnoOf, type FileIdentity, identityOf, statThroughLink } from './fs';
import { type ContentDigest, digestOf, type GroupFs } from './groupJournal';
import { classifyJsonText, describeReadProblem, type JsonSchema, schemaProblems, serializeJson } from './jsonStore';

/** One file of a group: its new content as bytes (`data`) or as a JSON value (`value`), optionally schema-checked. */
export interface GroupFile {
  path: string;
  data?: string | Uint8Array;
  value?: unknown;
  schema?: JsonSchema;
  /**
   * The content the new one was made from (null: the file must not exist). A target holding anything else is refused
   * (ECHANGED), so a save that landed after the caller read the file is never overwritten.
   */
  expected?: Uint8Array | null;
}

export type GroupStep = 'validate' | 'resolve' | 'recover' | 'prepare' | 'journal' | 'backup' | 'apply' | 'sync' | 'aborted';

/**
 * What a failed commit left: `unchanged` (no target touched), `rolled-back` (renamed targets restored),
 * `unconfirmed` (every target new, durability not confirmed; the journal is kept), `interrupted` (the roll back failed;
 * the journal is kept and recover --groups finishes it).
 */
export type GroupCommitOutcome = 'unchanged' | 'rolled-back' | 'unconfirmed' | 'interrupted';

export class GroupCommitError extends Error {
  override readonly name = 'GroupCommitError';
  constructor(
    readonly step: GroupStep,
    readonly code: string,
    readonly outcome: GroupCommitOutcome,
    message: string,
    override readonly cause?: unknown,
    /** Per-file problems (schema, JSON) when step is `validate`. */
    readonly problems: readonly { path: string; problems: string[] }[] = [],
  ) {
    super(message);
  }
}

const OUTCOME_WORDS: Record<GroupCommitOutcome, string> = {
  unchanged: 'no file was changed',
  'rolled-back': 'the files already replaced were restored, so every file is as it was',
  unconfirmed: 'every file holds its new content, but it is not confirmed durable; the journal is kept until recover --groups confirms it',
  interrupted: 'the roll back failed too; the journal is kept: run crash-safe recover --groups to finish it',
};

export function failure(step: GroupStep, outcome: GroupCommitOutcome, what: string, cause: unknown): GroupCommitError {
  if (cause instanceof GroupCommitError) return cause;
  const code = errnoOf(cause) ?? (step === 'aborted' ? 'ABORT_ERR' : 'EIO');
  const detail = messageOf(cause);
  return new GroupCommitError(step, code, outcome, `Group commit failed: ${what}: ${detail}; ${OUTCOME_WORDS[outcome]}`, cause);
}

export interface PlannedFile {
  target: string;
  bytes: Buffer;
  /** The digest of `bytes`, computed once, when the main thread would otherwise wait for I/O. */
  next: () => ContentDigest;
  /** GroupFile.expected as a digest; undefined when the caller gave none. */
  expected?: ContentDigest | 'absent';
}

/** Serialises values, checks schemas; every problem of every file is reported at once, before anything is written. */
export function encodeFiles(files: readonly GroupFile[]): PlannedFile[] {
  if (files.length === 0) throw new GroupCommitError('validate', 'EINVAL', 'unchanged', 'Group commit failed: no files listed');
  const problems: { path: string; problems: string[] }[] = [];
  const planned = files.map((file): Omit<PlannedFile, 'next'> => {
    const target = resolve(file.path);
    const hasData = file.data !== undefined;
    if (hasData === ('value' in file && file.value !== undefined)) {
      problems.push({ path: target, problems: ['give exactly one of data and value'] });
      return { target, bytes: Buffer.alloc(0) };
    }
    let text: string | undefined;
    try {
      text = hasData ? undefined : serializeJson(target, file.value);
    } catch (error) {
      problems.push({ path: target, problems: [messageOf(error)] });
      return { target, bytes: Buffer.alloc(0) };
    }
    const bytes = text === undefined ? Buffer.from(file.data as string | Uint8Array) : Buffer.from(text, 'utf8');
    if (file.schema) {
      // Checked in JSON form, as it will be read back.
      const read = classifyJsonText(target, bytes.toString('utf8'));
      const found = read.state === 'valid' ? schemaProblems(file.schema, read.value) : [describeReadProblem(read)];
      if (found.length > 0) problems.push({ path: target, problems: found });
    }
    return { target, bytes };
  });
  if (problems.length > 0) {
    const listed = problems.map((p) => `${p.path}: ${p.problems.join('; ')}`).join('; ');
    throw new GroupCommitError('validate', 'EINVAL', 'unchanged', `Group commit refused, nothing was written: ${listed}`, undefined, problems);
  }
  return planned.map((file, index) => {
    let digest: ContentDigest | undefined;
    const expected = files[index]!.expected;
    return {
      ...file,
      next: () => (digest ??= digestOf(file.bytes)),
      ...(expected === undefined ? {} : { expected: expected === null ? ('absent' as const) : digestOf(expected) }),
    };
  });
}

export interface ResolvedFile extends PlannedFile {
  /** The real file (a symlinked target is written through, so the link survives). */
  target: string;
  mode: number;
  owner?: { uid: number; gid: number };
  /** The target as first seen; undefined when it does not exist. Its backup must still be this file. */
  identity: FileIdentity | undefined;
}

export interface GroupPlan {
  files: ResolvedFile[];
  journalDir: string;
  folders: string[];
}

const refuse = (code: string, message: string) => new GroupCommitError('resolve', code, 'unchanged', `Group commit refused: ${message}; nothing was written`);

async function resolveFile(fs: GroupFs, file: PlannedFile): Promise<ResolvedFile> {
  const { realPath: target, stats } = await statThroughLink(fs, file.target).catch((error: unknown) => {
    throw failure('resolve', 'unchanged', `cannot inspect ${file.target}`, error);
  });
  if (stats && !stats.isFile()) throw refuse(stats.isDirectory() ? 'EISDIR' : 'EINVAL', `${file.target} is not a regular file`);
  const mode = stats ? stats.mode & 0o7777 : 0o666 & ~process.umask();
  const owner = stats && process.getuid?.() === 0 ? { uid: stats.uid, gid: stats.gid } : undefined;
  return { ...file, target, mode, identity: stats && identityOf(stats), ...(owner ? { owner } : {}) };
}

/** Resolves targets, refuses repeats, missing folders and targets on different file systems, picks the journal folder. */
export async function planGroup(fs: GroupFs, planned: PlannedFile[], journalDirOption: string | undefined): Promise<GroupPlan> {
  const files = await Promise.all(planned.map((file) => resolveFile(fs, file)));
  const seen = new Map<string, string>();
  for (const [index, file] of files.entries()) {
    const first = seen.get(file.target);
    if (first !== undefined) throw refuse('EINVAL', `${planned[index]!.target} and ${first} are the same file, listed twice`);
    seen.set(file.target, planned[index]!.target);
  }
  const folders = [...new Set(files.map((file) => dirname(file.target)))].sort();
  const devices: { folder: string; dev: number }[] = [];
  for (const folder of folders) {
    try {
      const stats = await fs.stat(folder);
      if (!stats.isDirectory()) throw refuse('ENOTDIR', `${folder} is not a folder`);
      devices.push({ folder, dev: stats.dev });
    } catch (error) {
      if (error instanceof GroupCommitError) throw error;
      if (errnoOf(error) === 'ENOENT') throw refuse('ENOENT', `the folder ${folder} does not exist`);
      throw failure('resolve', 'unchanged', `cannot inspect ${folder}`, error);
    }
  }
  const other = devices.find((d) => d.dev !== devices[0]!.dev);
  if (other) {
    const first = devices[0]!;
    throw refuse(
      'EXDEV',
      `${first.folder} (device ${first.dev}) and ${other.folder} (device ${other.dev}) are on different file systems; every file of a group must be on one`,
    );
  }
  const journalDir = journalDirOption === undefined ? commonFolder(folders) : resolve(journalDirOption);
  const outside = folders.find((folder) => !isInside(folder, journalDir));
  if (outside) throw refuse('EINVAL', `the journal folder ${journalDir} must contain every file, and ${outside} is outside it`);
  return { files, journalDir, folders };
}

