// Before a group commit touches anything: each file's new bytes (serialised, schema-checked) and its real target,
// every refusal that can be made up front (repeats, missing folders, several file systems), and the journal folder.

import type { Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { messageOf } from '../errors';
import { commonFolder, isInside } from '../folderListing';
import { errnoOf, type FileIdentity, formatBytes, identityOf, sameNode } from '../fs';
import {
  classifyJsonText,
  describeReadProblem,
  type JsonSchema,
  schemaProblems,
  serializeJson,
} from '../json/jsonStore';
import { processUmask } from '../write/umask';
import { type ContentDigest, digestOf, type GroupFs, MAX_JOURNAL_BYTES } from './groupJournal';

/** One file of a group: its new content as bytes (`data`) or as a JSON value (`value`), optionally schema-checked. */
export interface GroupFile {
  path: string;
  data?: string | Uint8Array;
  value?: unknown;
  schema?: JsonSchema;
  /**
   * The content the new one was made from (null: the file must not exist). A target holding anything else when the
   * group is planned is refused (ECHANGED), so a save that landed after the caller read the file is never overwritten.
   */
  expected?: Uint8Array | null;
}

export type GroupStep =
  | 'validate'
  | 'resolve'
  | 'recover'
  | 'prepare'
  | 'journal'
  | 'backup'
  | 'confirm'
  | 'apply'
  | 'sync'
  | 'aborted';

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
    /** Per-file problems: schema and JSON when step is `validate`; each changed file and what it is now for ECHANGED. */
    readonly problems: readonly { path: string; problems: string[] }[] = [],
  ) {
    super(message);
  }
}

const OUTCOME_WORDS: Record<GroupCommitOutcome, string> = {
  unchanged: 'no file was changed',
  'rolled-back': 'the files already replaced were restored, so every file is as it was',
  unconfirmed:
    'every file holds its new content, but it is not confirmed durable; the journal is kept until recover --groups confirms it',
  interrupted: 'the roll back failed too; the journal is kept: run crash-safe recover --groups to finish it',
};

export function failure(step: GroupStep, outcome: GroupCommitOutcome, what: string, cause: unknown): GroupCommitError {
  if (cause instanceof GroupCommitError) return cause;
  const code = errnoOf(cause) ?? (step === 'aborted' ? 'ABORT_ERR' : 'EIO');
  const detail = messageOf(cause);
  return new GroupCommitError(
    step,
    code,
    outcome,
    `Group commit failed: ${what}: ${detail}; ${OUTCOME_WORDS[outcome]}`,
    cause,
  );
}

export interface PlannedFile {
  /** The absolute path as given (where the user sees the file); ResolvedFile.target is the real file. */
  target: string;
  given: string;
  bytes: Buffer;
  expected?: ContentDigest | 'absent';
  /** The digest of `bytes`, computed once, when the main thread would otherwise wait for I/O. */
  next: () => ContentDigest;
}

/** Serialises values, checks schemas; every problem of every file is reported at once, before anything is written. */
export function encodeFiles(files: readonly GroupFile[]): PlannedFile[] {
  if (files.length === 0)
    throw new GroupCommitError('validate', 'EINVAL', 'unchanged', 'Group commit failed: no files listed');
  const problems: { path: string; problems: string[] }[] = [];
  const planned = files.map((file): Omit<PlannedFile, 'next' | 'given'> => {
    const target = resolve(file.path);
    const folderName = namesAFolder(file.path);
    if (folderName) {
      problems.push({ path: file.path, problems: [folderName] });
      return { target, bytes: Buffer.alloc(0) };
    }
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
    const expected =
      file.expected === undefined ? undefined : file.expected === null ? ('absent' as const) : digestOf(file.expected);
    return { target, bytes, ...(expected ? { expected } : {}) };
  });
  if (problems.length > 0) {
    const listed = problems.map((p) => `${p.path}: ${p.problems.join('; ')}`).join('; ');
    throw new GroupCommitError(
      'validate',
      'EINVAL',
      'unchanged',
      `Group commit refused, nothing was written: ${listed}`,
      undefined,
      problems,
    );
  }
  return planned.map((file) => {
    let digest: ContentDigest | undefined;
    return { ...file, given: file.target, next: () => (digest ??= digestOf(file.bytes)) };
  });
}

/**
 * Why `path` names a folder rather than a file: a trailing separator, or `.` or `..` as its last part. resolve() would
 * drop these, and the group would create a regular file where a folder was meant.
 */
export function namesAFolder(path: string): string | undefined {
  if (path === '') return 'the path is empty';
  const last = path.split(process.platform === 'win32' ? /[\\/]/ : '/').at(-1);
  if (last === '') return `${path} ends in a path separator, so it names a folder, not a file`;
  if (last === '.' || last === '..') return `${path} ends in "${last}", so it names a folder, not a file`;
  return undefined;
}

export interface ResolvedFile extends PlannedFile {
  /** The real file: its real folder, and a symlinked target followed (written through, so the link survives). */
  target: string;
  mode: number;
  owner?: { uid: number; gid: number };
  /** The target as first seen; undefined when it does not exist. Its backup must still be this file. */
  identity: FileIdentity | undefined;
}

export interface GroupPlan {
  files: ResolvedFile[];
  /** The real path of the journal folder: the one the files are seen in, which must hold every real target. */
  journalDir: string;
  folders: string[];
  /** Each folder as planned (device, inode): one swapped for another folder or a symlink since is refused. */
  folderNodes: Map<string, Pick<FileIdentity, 'dev' | 'ino'>>;
}

const refuse = (code: string, message: string) =>
  new GroupCommitError('resolve', code, 'unchanged', `Group commit refused: ${message}; nothing was written`);

const changed = (target: string, now: string) =>
  new GroupCommitError(
    'resolve',
    'ECHANGED',
    'unchanged',
    `Group commit refused: ${target} (it ${now}) changed since the group was planned, so it is not written over; nothing was written`,
    undefined,
    [{ path: target, problems: [now] }],
  );

type RealFolder = (folder: string) => Promise<string>;

/** Each folder's real path, asked once. Missing or not a folder: refused, naming it. */
function realFolders(fs: GroupFs): RealFolder {
  const known = new Map<string, Promise<string>>();
  return (folder) => {
    let real = known.get(folder);
    if (!real) {
      real = fs.realpath(folder).catch((error: unknown) => {
        const code = errnoOf(error);
        if (code === 'ENOENT') throw refuse('ENOENT', `the folder ${folder} does not exist`);
        if (code === 'ENOTDIR') throw refuse('ENOTDIR', `${folder} is not a folder`);
        throw failure('resolve', 'unchanged', `cannot inspect ${folder}`, error);
      });
      known.set(folder, real);
    }
    return real;
  };
}

/** `asRoot`: this process runs as root, so a target keeps its owner (asked once per plan: getuid is a system call). */
async function resolveFile(
  fs: GroupFs,
  file: PlannedFile,
  realFolder: RealFolder,
  asRoot: boolean,
): Promise<ResolvedFile> {
  const inspect = <T>(path: string, action: Promise<T>): Promise<T> =>
    action.catch((error: unknown) => {
      throw failure('resolve', 'unchanged', `cannot inspect ${path}`, error);
    });
  // The folder's real path is asked beside the file's lstat: one round trip (unused for a symlink).
  const folder = realFolder(dirname(file.given));
  folder.catch(() => undefined); // awaited below unless the file is a symlink
  let stats: Stats | undefined;
  try {
    stats = await fs.lstat(file.given);
  } catch (error) {
    // ENOTDIR: a file where a folder should be, named by the folder checks below.
    const code = errnoOf(error);
    if (code !== 'ENOENT' && code !== 'ENOTDIR')
      throw failure('resolve', 'unchanged', `cannot inspect ${file.given}`, error);
  }
  let target: string;
  if (stats?.isSymbolicLink()) {
    target = await fs.realpath(file.given).catch((error: unknown) => {
      // Replacing the link itself would cut it; writing where it points would create a file nobody asked for.
      if (errnoOf(error) === 'ENOENT')
        throw refuse('ENOENT', `${file.given} is a symbolic link to a file that does not exist`);
      throw failure('resolve', 'unchanged', `cannot inspect ${file.given}`, error);
    });
    stats = await inspect(target, fs.stat(target));
  } else {
    target = join(await folder, basename(file.given));
  }
  if (stats && !stats.isFile())
    throw refuse(stats.isDirectory() ? 'EISDIR' : 'EINVAL', `${file.given} is not a regular file`);
  if (file.expected === 'absent' && stats)
    throw changed(file.given, 'exists, but the new content was made for no file there');
  const mode = stats ? stats.mode & 0o7777 : 0o666 & ~processUmask();
  const owner = stats && asRoot ? { uid: stats.uid, gid: stats.gid } : undefined;
  return { ...file, target, mode, identity: stats && identityOf(stats), ...(owner ? { owner } : {}) };
}

/** Two entries for one file (a repeat, a symlink, a hard link, a case-insensitive name): refused, naming both. */
function refuseRepeats(files: readonly ResolvedFile[]): void {
  const seen = new Map<string, ResolvedFile>();
  const nodes: ResolvedFile[] = [];
  for (const file of files) {
    const first =
      seen.get(file.target) ??
      nodes.find((other) => file.identity && other.identity && sameNode(other.identity, file.identity));
    if (first !== undefined) throw refuse('EINVAL', `${file.given} and ${first.given} are the same file, listed twice`);
    seen.set(file.target, file);
    if (file.identity) nodes.push(file);
  }
}

/**
 * Resolves targets, refuses repeats, missing folders and targets on different file systems, and picks the journal
 * folder: where the files are seen (the deepest folder holding every target as given, or `journalDirOption`). Every
 * real target must lie inside it, or recovery could not reach it from there: a target that really lives elsewhere (a
 * symlinked settings.json in a dotfiles folder) is refused, instead of putting the lock and journal in a folder far
 * above (`/`).
 */
export async function planGroup(
  fs: GroupFs,
  planned: PlannedFile[],
  journalDirOption: string | undefined,
): Promise<GroupPlan> {
  const realFolder = realFolders(fs);
  const asRoot = process.getuid?.() === 0;
  const files = await Promise.all(planned.map((file) => resolveFile(fs, file, realFolder, asRoot)));
  refuseRepeats(files);
  const folders = [...new Set(files.map((file) => dirname(file.target)))].sort();
  const devices: { folder: string; dev: number }[] = [];
  const folderNodes = new Map<string, Pick<FileIdentity, 'dev' | 'ino'>>();
  for (const folder of folders) {
    try {
      // lstat: these are real paths, so a symlink here was put in since they were resolved.
      const stats = await fs.lstat(folder);
      if (!stats.isDirectory()) throw refuse('ENOTDIR', `${folder} is not a folder`);
      devices.push({ folder, dev: stats.dev });
      folderNodes.set(folder, { dev: stats.dev, ino: stats.ino });
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
  const givenFolders = planned.map((file) => dirname(file.given));
  const seenAt = journalDirOption === undefined ? commonFolder(givenFolders) : resolve(journalDirOption);
  const outsideGiven = givenFolders.find((folder) => !isInside(folder, seenAt));
  if (outsideGiven)
    throw refuse('EINVAL', `the journal folder ${seenAt} must contain every file, and ${outsideGiven} is outside it`);
  const journalDir = await realFolder(seenAt);
  const outside = files.find((file) => !isInside(dirname(file.target), journalDir));
  if (outside) {
    throw refuse(
      'EOUTSIDE',
      `${outside.given} is really ${outside.target} (through a symbolic link), outside ${seenAt}, where the group's lock and journal go (the folder the files are seen in); a group cannot be journalled there, so write that file on its own`,
    );
  }
  return { files, journalDir, folders, folderNodes };
}

/** The refusal of a group whose journal would be larger than recovery reads (MAX_JOURNAL_BYTES): checked before any write. */
export function journalTooLarge(bytes: number, files: number): GroupCommitError | undefined {
  if (bytes <= MAX_JOURNAL_BYTES) return undefined;
  return refuse(
    'EFBIG',
    `its journal would be ${bytes} bytes (${formatBytes(bytes)}, ${files} files), over the ${MAX_JOURNAL_BYTES}-byte (${formatBytes(MAX_JOURNAL_BYTES)}) limit recovery reads; commit the files in smaller groups, or with shorter paths`,
  );
}
