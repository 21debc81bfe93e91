// The on-disk vocabulary of a group commit (see groupCommit.ts): file names, the journal format, content digests,
// and the recovery of one journal, which rolls its group entirely forward or entirely back.

import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { messageOf } from '../errors';
import { errnoOf, type FileHandleLike, type FsLike, fsyncsDirectories, isAbsent, nodeFs } from '../fs';
import { derivedName, uniqueId } from '../names/tempNames';
import { recogniseGroupFile } from '../names/tempPatterns';
import { fsyncFolder, statOpenFile } from '../write/localDisk';
import { processUmask } from '../write/umask';

/** The seam plus link(2). Optional so any FsLike fits: without it, backups are durable copies instead of links. */
export interface GroupFs extends FsLike {
  link?(existing: string, newPath: string): Promise<void>;
}

/**
 * The real file system with hard links. (FsLike has no link yet; this is the one call added for backups.) nodeFs'
 * openFolder and statfs stay, not enumerable as there: a fake spread from this one keeps its own fsyncDir.
 */
export const nodeGroupFs: GroupFs = Object.defineProperties(
  { ...nodeFs, link: (existing: string, newPath: string) => fsp.link(existing, newPath) },
  {
    openFolder: { value: nodeFs.openFolder, enumerable: false },
    statfs: { value: nodeFs.statfs, enumerable: false },
  },
);

/** Group ids this process is committing right now: their files are never recovered or removed under them. */
export const liveGroupIds = new Set<string>();

/** `<pid>-<thread>-<seq>-<8 hex>`, like our temp names: unique on this machine, the random part guards pid reuse. */
export const newGroupId = uniqueId;

/**
 * `<target>.csg-<id>.tmp|bak` beside the target; for a target whose name is too long for that, `<prefix>~<digest>
 * .csg~<id>.tmp|bak` (tempNames' derivedName). `target` may be a journal's `/`-separated relative path: only its
 * last name is changed.
 */
function groupMemberName(target: string, id: string, extension: 'tmp' | 'bak'): string {
  const slash = target.lastIndexOf('/');
  const name = derivedName(target.slice(slash + 1), `.csg-${id}.${extension}`, `.csg~${id}.${extension}`);
  return `${target.slice(0, slash + 1)}${name}`;
}

export const groupTempName = (target: string, id: string): string => groupMemberName(target, id, 'tmp');
export const groupBackupName = (target: string, id: string): string => groupMemberName(target, id, 'bak');
export const groupJournalName = (id: string): string => `.cs-group-${id}.journal`;

/** The lock every commit and recovery of a journal folder holds: withFileLock's `<folder>/.cs-group.lock`. */
export const groupLockTarget = (journalDir: string): string => join(journalDir, '.cs-group');

/** Journals are small; anything larger is not one of ours. */
export const MAX_JOURNAL_BYTES = 4 * 1024 * 1024;

export interface ContentDigest {
  size: number;
  sha256: string;
}

export function digestOf(bytes: Uint8Array): ContentDigest {
  return { size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
}

export function sameDigest(a: ContentDigest | 'absent', b: ContentDigest | 'absent'): boolean {
  if (a === 'absent' || b === 'absent') return a === b;
  return a.size === b.size && a.sha256 === b.sha256;
}

/** One target of a group; paths are relative to the journal's folder, `/`-separated. */
export interface GroupJournalEntry {
  target: string;
  temp: string;
  /** null when the target did not exist: rolling it back removes it. */
  backup: string | null;
  previous: ContentDigest | 'absent';
  next: ContentDigest;
}

export interface GroupJournal {
  format: 'crash-safe-group';
  version: 1;
  id: string;
  state: 'committing';
  entries: GroupJournalEntry[];
}

export function encodeJournal(journal: GroupJournal): string {
  return `${JSON.stringify(journal, null, 2)}\n`;
}

/** A journal that cannot be read as ours: it is reported, and nothing it names is touched. */
export class GroupJournalError extends Error {
  override readonly name = 'GroupJournalError';
}

function isDigest(value: unknown): value is ContentDigest {
  if (typeof value !== 'object' || value === null) return false;
  const { size, sha256 } = value as Record<string, unknown>;
  return (
    Number.isSafeInteger(size) && (size as number) >= 0 && typeof sha256 === 'string' && /^[0-9a-f]{64}$/.test(sha256)
  );
}

/** A relative path that stays inside the journal's folder. */
function isInsidePath(path: unknown): path is string {
  if (
    typeof path !== 'string' ||
    path.length === 0 ||
    path.startsWith('/') ||
    path.includes('\\') ||
    path.includes('\0')
  )
    return false;
  return path.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

/**
 * Parses and checks a journal strictly: every path inside the journal's folder, temp and backup names exactly those
 * the commit gives them, digests well formed. Throws GroupJournalError saying what is wrong.
 */
export function parseJournal(text: string, journalPath: string): GroupJournal {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new GroupJournalError(`${journalPath} is not valid JSON (${messageOf(error)})`);
  }
  const fail = (why: string): never => {
    throw new GroupJournalError(`${journalPath} is not a group journal this version can read: ${why}`);
  };
  if (typeof value !== 'object' || value === null) return fail('not a JSON object');
  const journal = value as Record<string, unknown>;
  if (journal.format !== 'crash-safe-group' || journal.version !== 1) return fail('unknown format or version');
  const named = recogniseGroupFile(basename(journalPath));
  if (named?.role !== 'journal' || journal.id !== named.groupId) return fail('its id does not match its name');
  if (journal.state !== 'committing') return fail(`unknown state ${JSON.stringify(journal.state)}`);
  if (!Array.isArray(journal.entries) || journal.entries.length === 0) return fail('no entries');
  const id = named.groupId;
  const seen = new Set<string>();
  for (const raw of journal.entries as unknown[]) {
    if (typeof raw !== 'object' || raw === null) return fail('an entry is not an object');
    const entry = raw as Record<string, unknown>;
    if (!isInsidePath(entry.target) || seen.has(entry.target))
      return fail(`bad or repeated target ${JSON.stringify(entry.target)}`);
    seen.add(entry.target);
    if (entry.temp !== groupTempName(entry.target, id)) return fail(`unexpected temp for ${entry.target}`);
    if (!isDigest(entry.next) || !(entry.previous === 'absent' || isDigest(entry.previous))) {
      return fail(`bad digests for ${entry.target}`);
    }
    const backup = entry.previous === 'absent' ? null : groupBackupName(entry.target, id);
    if (entry.backup !== backup) return fail(`unexpected backup for ${entry.target}`);
  }
  return value as GroupJournal;
}

/** Absolute paths of an entry, resolved against the journal's folder. */
export function entryPaths(
  journalDir: string,
  entry: GroupJournalEntry,
): { target: string; temp: string; backup: string | null } {
  const at = (relativePath: string) => join(journalDir, ...relativePath.split('/'));
  return { target: at(entry.target), temp: at(entry.temp), backup: entry.backup === null ? null : at(entry.backup) };
}

/**
 * The digest of a file's content, `absent` when there is none; other errors (unreadable, too large) are thrown.
 * Hashed inline: SHA-256 runs at over 1 GB/s, cheaper than a turn on a thread pool busy with the commit's fsyncs.
 */
export async function digestOfFile(fs: FsLike, path: string): Promise<ContentDigest | 'absent'> {
  try {
    return digestOf(await fs.readFile(path));
  } catch (error) {
    if (isAbsent(error)) return 'absent';
    throw error;
  }
}

async function writeAll(handle: FileHandleLike, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.length; ) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset, offset);
    if (bytesWritten <= 0) {
      throw Object.assign(new Error(`short write: ${offset} of ${bytes.length} bytes written`), { code: 'ENOSPC' });
    }
    offset += bytesWritten;
  }
}

/**
 * Creates `path` (O_EXCL: a planted file or symlink is never followed), writes all of `bytes`, gives it `mode` and
 * (as root) `owner`, fsyncs when `durable`, and returns it still open. On failure it is closed and removed again.
 */
export async function createFile(
  fs: FsLike,
  path: string,
  bytes: Uint8Array,
  options: {
    mode: number;
    durable: boolean;
    owner?: { uid: number; gid: number };
    localDisk?: boolean;
  },
): Promise<FileHandleLike> {
  const { mode, owner } = options;
  // Created with its final mode; chmod only where the umask would take bits away (0o600 first would cost a call).
  const handle = await fs.open(path, 'wx', mode);
  try {
    await writeAll(handle, bytes);
    // With an owner to give, fstat first: the kernel may have made it that owner already (the usual case). On a
    // local disk fstat is a synchronous call, cheaper than reading the umask (/proc/self/status) to predict the mode.
    const localDisk = options.localDisk === true && handle.statSync !== undefined;
    const made = (owner || localDisk) && handle.stat ? await statOpenFile(handle, localDisk) : undefined;
    const chown = owner !== undefined && (made === undefined || made.uid !== owner.uid || made.gid !== owner.gid);
    if (owner && chown) await handle.chown(owner.uid, owner.gid);
    // A chown by root clears set-user/group-ID bits: they are set again after it.
    const setIdLost = chown && (mode & 0o6000) !== 0;
    if (made ? (made.mode & 0o7777) !== mode || setIdLost : (mode & processUmask()) !== 0 || setIdLost)
      await handle.chmod(mode);
    if (options.durable) await handle.sync();
    return handle;
  } catch (error) {
    await handle.close().catch(() => undefined);
    await removeQuietly(fs, path);
    throw error;
  }
}

/** createFile, then closed. */
export async function writeNewFile(
  fs: FsLike,
  path: string,
  bytes: Uint8Array,
  options: Parameters<typeof createFile>[3],
): Promise<void> {
  await (await createFile(fs, path, bytes, options)).close();
}

export async function removeQuietly(fs: FsLike, path: string): Promise<boolean> {
  try {
    await fs.unlink(path);
    return true;
  } catch {
    return false; // Best effort: a leftover is found and removed by recover --groups.
  }
}

/**
 * fsyncs each folder once (no-op where folders cannot be fsynced); `localDisk` says of a folder whether it is proven
 * on a local disk file system, where its close is synchronous.
 */
export async function fsyncFolders(
  fs: FsLike,
  folders: Iterable<string>,
  localDisk: (folder: string) => boolean = () => false,
): Promise<void> {
  if (!fsyncsDirectories()) return;
  for (const folder of [...new Set(folders)].sort()) await fsyncFolder(fs, folder, localDisk(folder));
}

export type JournalSearch =
  | { state: 'found'; path: string }
  | { state: 'absent' }
  | { state: 'unknown'; reason: string };

/**
 * Looks for group `id`'s journal in `dir` and each folder above it: a journal always lives in a folder that
 * contains every target of its group. Absent only when every place answered "no such file".
 */
export async function findJournal(fs: FsLike, dir: string, id: string): Promise<JournalSearch> {
  for (let folder = dir; ; folder = dirname(folder)) {
    const path = join(folder, groupJournalName(id));
    try {
      await fs.lstat(path);
      return { state: 'found', path };
    } catch (error) {
      const code = errnoOf(error);
      if (code !== 'ENOENT' && code !== 'ENOTDIR')
        return { state: 'unknown', reason: `cannot check ${path}: ${String(error)}` };
    }
    if (dirname(folder) === folder) return { state: 'absent' };
  }
}

/** The journal files directly in `dir` (journals of groups this process is committing are left out). */
export async function journalsIn(fs: FsLike, dir: string): Promise<string[]> {
  return journalsAmong(dir, await fs.readdir(dir));
}

/** journalsIn for a listing of `dir` already made. */
export function journalsAmong(dir: string, names: readonly string[]): string[] {
  return names
    .filter((name) => {
      const named = recogniseGroupFile(name);
      return named?.role === 'journal' && !liveGroupIds.has(named.groupId);
    })
    .sort()
    .map((name) => join(dir, name));
}
