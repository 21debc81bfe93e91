import { createHash } from 'node:crypto';
import { withOpenFiles } from '../boundedOpens';
import {
  type FsLike,
  fileTypeOf,
  formatBytes,
  identityOf,
  MAX_DOCUMENT_BYTES,
  NotReadableError,
  sameFile,
} from '../fs';
import type { ContentJudgement } from './judgeBroken';

/** Where a copy comes from; `--from SOURCE[:N]` in the CLI. */
export type CopySource = 'temp' | 'backup' | 'history' | 'git';

/** The sources in the order they are listed when times tie. */
export const COPY_SOURCES: readonly CopySource[] = ['history', 'git', 'temp', 'backup'];

export function isCopySource(value: string): value is CopySource {
  return (COPY_SOURCES as readonly string[]).includes(value);
}

/** A copy's judgement: its content's (judgeContent), or `unknown` when it could not be read whole. */
export type CopyJudgement = ContentJudgement | 'unknown';

/** One copy of the target, as found and judged; nothing was written. */
export interface Copy {
  source: CopySource;
  /** Its place in its source's list, newest first, from 0: the N of `--from SOURCE:N`. */
  index: number;
  /**
   * What it is within its source. temp: the tool (`write-file-atomic`, `vscode`, … see OrphanKind); backup:
   * `corrupt`, `replaced` (recover's backups), `todos-backup`, `todos-damaged`, `settings-snapshot`, `pre-save`;
   * history: `history`; git: `index`, `HEAD`, or `index-base`/`index-ours`/`index-theirs` during a merge conflict.
   */
  kind: string;
  /** Words for a list: "Local History", "git HEAD", "temp of write-file-atomic", "backup (.corrupt-…)". */
  label: string;
  /**
   * When it was made, ms since 1970: the entry's timestamp (history), the file's mtime (temps, backups), the
   * snapshot's time, the index file's mtime (git index), the HEAD commit's time (git HEAD). Undefined: not known.
   */
  time: number | undefined;
  /** Bytes. */
  size: number;
  judgement: CopyJudgement;
  /** Why it is broken or unknown. */
  problem?: string;
  /**
   * The file that holds it (temp, backup, history entry, snapshot file), or the repository's top folder for git.
   */
  path: string;
  /** Where it is, as printed: the file, `<snapshot file> (settings snapshot)`, `git HEAD:<path>`. */
  where: string;
  /** More about it: the history entry's source ("Workspace Edit"), the git object id, the snapshot's reason. */
  detail?: string;
  /** SHA-256 of the bytes that were judged, hex. */
  digest: string;
  /**
   * Reads the copy again, bounded; throws CopyChangedError unless the bytes are exactly the ones judged (same
   * digest). Not in JSON output (a function).
   */
  read(): Promise<Buffer>;
}

/** A copy's bytes are no longer the ones that were judged (the file changed or went); nothing was done. */
export class CopyChangedError extends Error {
  override readonly name = 'CopyChangedError';
  readonly code = 'ECHANGED';
  constructor(
    readonly where: string,
    reason: string,
  ) {
    super(`${where}: ${reason}`);
  }
}

/** A copy a finder found, before it is read and judged. */
export interface FoundCopy {
  kind: string;
  label: string;
  time: number | undefined;
  path: string;
  where: string;
  detail?: string;
  /** Known size before reading (from lstat), for a copy that cannot be read. */
  size?: number;
  /** Reads the whole copy, bounded (MAX_DOCUMENT_BYTES); regular files only, never through a symlink it was not given. */
  load(): Promise<Buffer>;
}

export interface FinderResult {
  copies: FoundCopy[];
  /** What the finder could not look at and why (an unreadable History folder, git refusing a repository). */
  notes: string[];
}

export interface FinderContext {
  fs: FsLike;
  /** The target, absolute. */
  target: string;
  /** The real file when the target is a symlink, else the target. */
  realTarget: string;
}

/** One source of copies. Core has temps, recover's backups, Local History and git; src/state adds its own backups. */
export interface CopyFinder {
  readonly source: CopySource;
  /** Never throws for what it finds on disk: problems become notes. */
  find(context: FinderContext): Promise<FinderResult>;
}

/**
 * Reads a copy that is a file of its own: it must be a regular file, not a symlink (lstat), at most `maxBytes`, and
 * the same file (device, inode, size, mtime) after the read as before it, so a swap for a symlink or a write during
 * the read is refused (CopyChangedError). `owner`: the uid the file must belong to, when checked.
 */
export async function loadFileCopy(
  fs: FsLike,
  path: string,
  options: { maxBytes?: number; owner?: number } = {},
): Promise<Buffer> {
  const maxBytes = options.maxBytes ?? MAX_DOCUMENT_BYTES;
  return withOpenFiles(async () => {
    const before = await fs.lstat(path);
    if (before.isSymbolicLink())
      throw new CopyChangedError(path, 'is a symbolic link; copies are never read through one');
    if (!before.isFile()) throw new NotReadableError(path, 'ENOTREG', `not a regular file (${fileTypeOf(before)})`);
    if (options.owner !== undefined && before.uid !== options.owner) {
      throw new CopyChangedError(path, `belongs to another user (uid ${before.uid}); not read`);
    }
    if (before.size > maxBytes) {
      throw new NotReadableError(path, 'EFBIG', `larger than the ${formatBytes(maxBytes)} limit`);
    }
    const bytes = await fs.readFile(path, maxBytes);
    const after = await fs.lstat(path);
    if (!after.isFile() || !sameFile(identityOf(before), identityOf(after)) || bytes.length !== after.size) {
      throw new CopyChangedError(path, 'changed while it was read');
    }
    return bytes;
  });
}

/** SHA-256 of bytes, hex: what a copy's `read()` checks its bytes against. */
export function digestOf(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
