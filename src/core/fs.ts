import type { BigIntStats, Dirent, Stats } from 'node:fs';
import * as fsc from 'node:fs';
import { constants, existsSync, lstatSync, readdirSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { messageOf } from './errors';

/** The handle half of the seam: just what the write path needs from an open file. */
export interface FileHandleLike {
  write(buffer: Uint8Array, offset: number, length: number, position: number | null): Promise<{ bytesWritten: number }>;
  sync(): Promise<void>;
  chmod(mode: number): Promise<void>;
  chown(uid: number, gid: number): Promise<void>;
  close(): Promise<void>;
  /**
   * fstat: the mode and owner the kernel gave the file (umask, default ACL, setgid folder, squashed NFS owner all
   * applied). Optional: without it the write path sets mode and owner without looking first.
   */
  stat?(): Promise<{ mode: number; uid: number; gid: number }>;
  /**
   * The same fstat, synchronously: no thread-pool round trip. Blocks the caller while the file system answers, so
   * the write path calls it only on a file system proven a local disk one (write/localDisk.ts). Optional.
   */
  statSync?(): { mode: number; uid: number; gid: number };
}

/** A folder held open for its fsync. */
export interface FolderHandleLike {
  sync(): Promise<void>;
  close(): Promise<void>;
  /** close(2) synchronously; like statSync, only used on a proven local disk file system. Optional. */
  closeSync?(): void;
}

/** One directory entry as `readdir(..., { withFileTypes: true })` reports it (a Dirent fits). */
export interface DirEntryLike {
  name: string;
  /**
   * Set only when the name's bytes are not valid UTF-8: `name` is then Node's lossy decoding (U+FFFD for each bad
   * byte), which reaches no file or, worse, another file whose name is that text. Such an entry is reported, never
   * acted on by its decoded name.
   */
  nameBytes?: Buffer;
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}

/**
 * The file-system seam for documents, temps and folders, a subset of node:fs/promises. Tests wrap it to inject errno
 * failures and short writes; the crash checker records through it. Not through it: the lock (core/lock calls node:fs
 * itself) and the synchronous lstat that folderListing and orphanEvents use when they are given nodeFs.
 */
export interface FsLike {
  open(path: string, flags: string | number, mode?: number): Promise<FileHandleLike>;
  /**
   * Reads a whole regular file of at most `maxBytes` (default MAX_DOCUMENT_BYTES). Anything else (a FIFO, a device,
   * a folder) is refused with NotReadableError instead of blocking or filling memory. `localDisk` (a fake may
   * ignore it): the caller has proven the file on a local disk file system (readRegularFile).
   */
  readFile(path: string, maxBytes?: number, options?: ReadOptions): Promise<Buffer>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Creates one folder (its parent must exist), as mkdir(2) does; see ensureDirectory for whole paths. */
  mkdir(path: string): Promise<void>;
  stat(path: string): Promise<Stats>;
  lstat(path: string): Promise<Stats>;
  realpath(path: string): Promise<string>;
  readdir(path: string): Promise<string[]>;
  /**
   * Directory entries with their types, symlinks not followed. Optional so existing fakes still fit;
   * callers fall back to `readdir` + `lstat` when it is absent.
   */
  readdirEntries?(path: string): Promise<DirEntryLike[]>;
  /**
   * The same, synchronously. The orphan walk prefers it: one folder read costs microseconds, while the async form
   * costs 2–3× the CPU in thread-pool hand-offs; the walk yields to the event loop between batches of folders.
   */
  readdirEntriesSync?(path: string): DirEntryLike[];
  /**
   * lstat with exact (bigint) inode and nanosecond times, synchronously: what proves a cached folder listing
   * (listingCache.ts). Optional: without it a walk keeps no listing cache.
   */
  lstatBigintSync?(path: string): BigIntStats;
  /** Flushes a directory's entries (creates, renames, unlinks) to disk. */
  fsyncDir(path: string): Promise<void>;
  /**
   * Opens a folder for a later fsync: the write opens it while the temp is written, and fsyncs it after the rename
   * (fsyncing a descriptor opened before the rename flushes the rename too). Optional: without it the write calls
   * fsyncDir after the rename. Not enumerable on nodeFs, so a fake spread from nodeFs keeps its own fsyncDir.
   */
  openFolder?(path: string): Promise<FolderHandleLike>;
  /**
   * statfs(2) of a folder: its file system's type (Linux `f_type` magic number). Optional, and not enumerable on
   * nodeFs, like openFolder: without it every call of the write path goes through the thread pool.
   */
  statfs?(path: string): Promise<{ type: number }>;
  /**
   * Unlinks `name` in `dir` only while `dir` is still the folder `folder` names and `name` still the file `file`
   * names, without resolving `dir` again between the check and the unlink (a folder swapped for a symlink in between
   * must not redirect the unlink). Throws FileChangedError otherwise. Optional: sweep falls back to lstat, then unlink.
   * `localDisk` (a fake may ignore it): `dir` is proven on a local disk file system, so the folder's fstat and close
   * are synchronous (write/localDisk.ts).
   */
  unlinkChecked?(
    dir: string,
    name: string,
    folder: FileIdentity,
    file: FileIdentity,
    options?: ReadOptions,
  ): Promise<void>;
}

export interface ReadOptions {
  localDisk?: boolean;
}

/** What a destructive step saw at decision time; it must still hold at the act. */
export interface FileIdentity {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
}

export function identityOf(stats: Stats): FileIdentity {
  return { dev: stats.dev, ino: stats.ino, size: stats.size, mtimeMs: stats.mtimeMs };
}

/** Same file and same content version (size and mtime). */
export function sameFile(a: FileIdentity, b: FileIdentity): boolean {
  return sameNode(a, b) && a.size === b.size && a.mtimeMs === b.mtimeMs;
}

/** Same file or folder, whatever happened to its content (a folder's mtime moves with every entry). */
export function sameNode(a: Pick<FileIdentity, 'dev' | 'ino'>, b: Pick<FileIdentity, 'dev' | 'ino'>): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/** A folder as last seen (through a symlink: the folder it leads to), or missing. */
export type FolderIdentity = { dev: number; ino: number; birthtimeMs: number } | 'missing';

/** What is at `path` now; undefined when that is unknown (EACCES, EIO), which proves neither way. */
export async function folderIdentity(path: string, fs: FsLike = nodeFs): Promise<FolderIdentity | undefined> {
  try {
    const stats = await fs.stat(path);
    return { dev: stats.dev, ino: stats.ino, birthtimeMs: stats.birthtimeMs };
  } catch (error) {
    return isAbsent(error) ? 'missing' : undefined;
  }
}

/** The same folder: its node and its birth time, since a folder made again at once may get the deleted one's inode number. */
export function sameFolder(a: FolderIdentity, b: FolderIdentity): boolean {
  if (a === 'missing' || b === 'missing') return a === b;
  return sameNode(a, b) && a.birthtimeMs === b.birthtimeMs;
}

/** A file or folder was no longer the one a decision was made about; nothing was changed. */
export class FileChangedError extends Error {
  override readonly name = 'FileChangedError';
  readonly code = 'ECHANGED';
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`${path}: ${reason}`);
  }
}

/** Whether /proc/self/fd lets a path go through a folder handle (Linux), as unlinkat would. */
export const PINNED_FOLDERS = existsSync('/proc/self/fd');

/** The largest file any read path loads: documents, temps judged by scan, sweep and recover, backups. */
export const MAX_DOCUMENT_BYTES = 256 * 1024 * 1024;

/** A file refused by readFile: not a regular file (`ENOTREG`) or over the size limit (`EFBIG`). */
export class NotReadableError extends Error {
  override readonly name = 'NotReadableError';
  constructor(
    readonly path: string,
    readonly code: 'ENOTREG' | 'EFBIG',
    reason: string,
  ) {
    super(`${path}: ${reason}`);
  }
}

/** What kind of file these stats describe, in words, for "not a regular file" messages. */
export function fileTypeOf(stats: Stats): string {
  if (stats.isFile()) return 'a regular file';
  if (stats.isDirectory()) return 'a folder';
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

/** Byte counts as people read them: 512 bytes, 12.3 MiB. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * Opens non-blocking (a FIFO without a writer would block a plain open), checks with fstat that it holds a regular
 * file, and reads at most `maxBytes`, even if the file grows meanwhile. `localDisk`: the file is on a file system
 * proven a local disk one (write/localDisk.ts), where its fstat and the close of a read-only descriptor are
 * synchronous calls (neither waits for a disk) instead of thread-pool round trips.
 */
export async function readRegularFile(
  path: string,
  maxBytes = MAX_DOCUMENT_BYTES,
  openFlags = 0,
  localDisk = false,
): Promise<Buffer> {
  const fd = await call<number>((done) => fsc.open(path, constants.O_RDONLY | constants.O_NONBLOCK | openFlags, done));
  try {
    const stats = localDisk ? fsc.fstatSync(fd) : await call<Stats>((done) => fsc.fstat(fd, done));
    if (!stats.isFile()) throw new NotReadableError(path, 'ENOTREG', `not a regular file (${fileTypeOf(stats)})`);
    const tooLarge = () =>
      new NotReadableError(path, 'EFBIG', `larger than the ${formatBytes(maxBytes)} limit for JSON documents`);
    if (stats.size > maxBytes) throw tooLarge();
    // Sized from fstat plus one byte, so reaching the end is seen in the same read; grown if the file grows.
    let buffer = Buffer.allocUnsafe(Math.min(stats.size, maxBytes) + 1);
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        if (length > maxBytes) throw tooLarge();
        const grown = Buffer.allocUnsafe(Math.min(length * 2, maxBytes + 1));
        buffer.copy(grown, 0, 0, length);
        buffer = grown;
      }
      const wanted = buffer.length - length;
      const into = buffer;
      const bytesRead = await call<number>((done) => fsc.read(fd, into, length, wanted, length, done));
      if (bytesRead === 0) break;
      length += bytesRead;
      // A short read that ends at fstat's size is the end of a regular file: no further read to see it.
      if (bytesRead < wanted && length === stats.size) break;
    }
    if (length > maxBytes) throw tooLarge();
    return buffer.subarray(0, length);
  } finally {
    if (localDisk) fsc.closeSync(fd);
    else await call<void>((done) => fsc.close(fd, (error) => done(error, undefined)));
  }
}

const REPLACEMENT_CHARACTER = '\ufffd';

/**
 * A listing whose names all are exactly what is on disk, or else re-read as bytes: each name that is not valid UTF-8
 * gets `nameBytes`. Only folders with a U+FFFD in some decoded name pay for the second read.
 */
function exactListing(listed: Dirent[], readBytes: () => Dirent<Buffer>[]): DirEntryLike[] {
  if (!listed.some((entry) => entry.name.includes(REPLACEMENT_CHARACTER))) return listed;
  return readBytes().map((entry): DirEntryLike => {
    const name = entry.name.toString('utf8');
    const exact = !name.includes(REPLACEMENT_CHARACTER) || Buffer.from(name, 'utf8').equals(entry.name);
    return {
      name,
      ...(exact ? {} : { nameBytes: entry.name }),
      isFile: () => entry.isFile(),
      isDirectory: () => entry.isDirectory(),
      isSymbolicLink: () => entry.isSymbolicLink(),
    };
  });
}

/** A name's bytes for messages: valid UTF-8 as text, every other byte (and control characters) as `\xNN`. */
export function describeNameBytes(bytes: Uint8Array): string {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let text = '';
  for (let at = 0; at < bytes.length; ) {
    let length = 1;
    let char: string | undefined;
    for (; length <= 4 && at + length <= bytes.length; length++) {
      try {
        char = decoder.decode(bytes.subarray(at, at + length));
        break;
      } catch {
        // Not (yet) a whole character.
      }
    }
    const code = char?.codePointAt(0);
    if (char === undefined || code === undefined || code < 0x20 || code === 0x7f) {
      text += `\\x${bytes[at]!.toString(16).padStart(2, '0')}`;
      at += 1;
    } else {
      text += char;
      at += length;
    }
  }
  return text;
}

type Callback<T> = (error: NodeJS.ErrnoException | null, value: T) => void;

/** A callback-style fs call as a promise: one thread-pool round trip, without FileHandle's promise plumbing. */
function call<T>(start: (done: Callback<T>) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => start((error, value) => (error ? reject(error) : resolve(value))));
}

/** Descriptors of FdHandles dropped without close (a bug): closed when collected, as FileHandle does. */
const unclosed = new FinalizationRegistry<number>((fd) => fsc.close(fd, () => undefined));

/**
 * An open file for the write path, on the callback API: each call costs about 15% less main-thread time than a
 * FileHandle's (docs/benchmarks.md, writes). As a FileHandle does, close waits for the calls still running, so
 * a failure in one of several parallel calls never closes the descriptor under the others (it could be reused).
 */
class FdHandle implements FileHandleLike {
  private running = 0;
  private idle: (() => void) | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly fd: number) {
    unclosed.register(this, fd, this);
  }

  private run<T>(start: (done: Callback<T>) => void): Promise<T> {
    if (this.closing) return Promise.reject(Object.assign(new Error('file already closed'), { code: 'EBADF' }));
    this.running += 1;
    return call<T>((done) =>
      start((error, value) => {
        this.running -= 1;
        if (this.running === 0) this.idle?.();
        done(error, value);
      }),
    );
  }

  write(buffer: Uint8Array, offset: number, length: number, position: number | null) {
    return this.run<{ bytesWritten: number }>((done) =>
      fsc.write(this.fd, buffer, offset, length, position, (error, bytesWritten) => done(error, { bytesWritten })),
    );
  }
  sync() {
    return this.run<void>((done) => fsc.fsync(this.fd, (error) => done(error, undefined)));
  }
  chmod(mode: number) {
    return this.run<void>((done) => fsc.fchmod(this.fd, mode, (error) => done(error, undefined)));
  }
  chown(uid: number, gid: number) {
    return this.run<void>((done) => fsc.fchown(this.fd, uid, gid, (error) => done(error, undefined)));
  }
  stat() {
    return this.run<{ mode: number; uid: number; gid: number }>((done) => fsc.fstat(this.fd, done));
  }
  statSync() {
    if (this.closing) throw Object.assign(new Error('file already closed'), { code: 'EBADF' });
    return fsc.fstatSync(this.fd);
  }
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.running > 0) await new Promise<void>((resolve) => (this.idle = resolve));
      unclosed.unregister(this);
      await call<void>((done) => fsc.close(this.fd, (error) => done(error, undefined)));
    })();
    return this.closing;
  }
}

/**
 * Throws FileChangedError unless `dir` is still the folder `folder` names and `name` in it still the file `file`
 * names; the same check as unlinkChecked's, without the unlink (a holder confirming its lock is still its own).
 */
export function confirmEntryUnchanged(
  dir: string,
  name: string,
  folder: FileIdentity,
  file: FileIdentity,
  options: ReadOptions = {},
): Promise<void> {
  return onCheckedEntry(dir, name, folder, file, options.localDisk === true);
}

/**
 * Opens `dir` (no symlink followed), checks it is `folder` and that `name` in it is the regular file `file`, then runs
 * `act` on the entry's path through the open folder. On a proven local disk the folder's fstat and close are
 * synchronous (write/localDisk.ts).
 */
async function onCheckedEntry(
  dir: string,
  name: string,
  folder: FileIdentity,
  file: FileIdentity,
  localDisk: boolean,
  act?: (entry: string) => Promise<void>,
): Promise<void> {
  const fd = await call<number>((done) =>
    fsc.open(dir, constants.O_RDONLY | (constants.O_DIRECTORY ?? 0) | constants.O_NOFOLLOW, done),
  );
  try {
    // /proc/self/fd/N is the folder we hold open: a swap of `dir` after the check cannot redirect `act`.
    const pinned = PINNED_FOLDERS ? `/proc/self/fd/${fd}` : dir;
    // Both looked at together (one round trip less); the folder's verdict comes first, as if asked first.
    const [folderNow, fileNow] = await Promise.allSettled([
      localDisk ? fsc.fstatSync(fd) : call<Stats>((done) => fsc.fstat(fd, done)),
      fsp.lstat(`${pinned}/${name}`),
    ]);
    if (folderNow.status === 'rejected') throw folderNow.reason;
    if (!sameNode(folderNow.value, folder)) throw new FileChangedError(dir, 'no longer the folder that was checked');
    if (fileNow.status === 'rejected') throw fileNow.reason;
    const current = fileNow.value;
    if (!current.isFile() || !sameFile(identityOf(current), file)) {
      throw new FileChangedError(`${dir}/${name}`, 'changed since it was checked');
    }
    await act?.(`${pinned}/${name}`);
  } finally {
    if (localDisk) fsc.closeSync(fd);
    else await call<void>((done) => fsc.close(fd, (error) => done(error, undefined)));
  }
}

export const nodeFs: FsLike = {
  open: (path, flags, mode) => call<number>((done) => fsc.open(path, flags, mode, done)).then((fd) => new FdHandle(fd)),
  readFile: (path, maxBytes, options) => readRegularFile(path, maxBytes, 0, options?.localDisk),
  rename: (from, to) => fsp.rename(from, to),
  unlink: (path) => fsp.unlink(path),
  mkdir: async (path) => {
    await fsp.mkdir(path);
  },
  stat: (path) => fsp.stat(path),
  lstat: (path) => fsp.lstat(path),
  realpath: (path) => fsp.realpath(path),
  readdir: (path) => fsp.readdir(path),
  readdirEntries: async (path) => {
    const listed = await fsp.readdir(path, { withFileTypes: true });
    if (!listed.some((entry) => entry.name.includes(REPLACEMENT_CHARACTER))) return listed;
    const bytes = await fsp.readdir(path, { withFileTypes: true, encoding: 'buffer' });
    return exactListing(listed, () => bytes);
  },
  readdirEntriesSync: (path) =>
    exactListing(readdirSync(path, { withFileTypes: true }), () =>
      readdirSync(path, { withFileTypes: true, encoding: 'buffer' }),
    ),
  lstatBigintSync: (path) => lstatSync(path, { bigint: true }),
  unlinkChecked: (dir, name, folder, file, options = {}) =>
    onCheckedEntry(dir, name, folder, file, options.localDisk === true, (entry) => fsp.unlink(entry)),
  async fsyncDir(path) {
    const folder = await openFolder(path);
    try {
      await folder.sync();
    } finally {
      // Awaited, though closing a folder flushes nothing: the open-file bound (boundedOpens) counts this descriptor
      // until its call returns, so a burst of writes can never hold more than the bound.
      await folder.close();
    }
  },
};

async function openFolder(path: string): Promise<FolderHandleLike> {
  const fd = await call<number>((done) => fsc.open(path, constants.O_RDONLY | (constants.O_DIRECTORY ?? 0), done));
  return {
    sync: () => call<void>((done) => fsc.fsync(fd, (error) => done(error, undefined))),
    close: () => call<void>((done) => fsc.close(fd, (error) => done(error, undefined))),
    closeSync: () => fsc.closeSync(fd),
  };
}
// Not enumerable: `{ ...nodeFs, fsyncDir: recording }` must not reach the folder fsync around its own fsyncDir,
// nor a fake's wrapped handles be bypassed by synchronous calls on nodeFs' own.
Object.defineProperty(nodeFs, 'openFolder', { value: openFolder, enumerable: false });
Object.defineProperty(nodeFs, 'statfs', { value: (path: string) => fsp.statfs(path), enumerable: false });

/**
 * A write target as writers see it: a symlink is followed to the real file (so the link survives the write), and
 * `stats` is undefined when nothing is there yet. Other errors are thrown for the caller to name.
 */
export async function statThroughLink(
  fs: FsLike,
  target: string,
): Promise<{ realPath: string; stats: Stats | undefined }> {
  try {
    const link = await fs.lstat(target);
    if (!link.isSymbolicLink()) return { realPath: target, stats: link };
    const realPath = await fs.realpath(target);
    return { realPath, stats: await fs.stat(realPath) };
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return { realPath: target, stats: undefined };
    throw error;
  }
}

/** True when the error proves the path is not there (it, or a folder on its way, is gone). */
export function isAbsent(error: unknown): boolean {
  const code = errnoOf(error);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** Node errors carry `code`; this narrows an unknown catch value to one. */
export function errnoOf(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/** Windows cannot flush a folder (FlushFileBuffers on a folder handle fails). Read per call so tests can emulate win32. */
export const fsyncsDirectories = (): boolean => process.platform !== 'win32';

/** Backoff before each retry of a refused rename: seven tries over about 630 ms in all. */
export const DEFAULT_RENAME_RETRY_DELAYS_MS: readonly number[] = [10, 20, 40, 80, 160, 320];

/**
 * What a rename is retried on. On Windows a handle another program opened without FILE_SHARE_DELETE (a virus
 * scanner, an indexer, a sync tool) refuses the rename for a moment with one of these. Retried on every platform:
 * elsewhere they mean a permission problem, and the retries only delay the same error.
 */
export const RETRYABLE_RENAME_ERRORS: ReadonlySet<string> = new Set(['EPERM', 'EBUSY', 'EACCES']);

/** The hook every caller of renameWithRetry offers (writeFileAtomic, group commits, group recovery). */
export interface RenameRetryOptions {
  /** Backoff before each retry of a rename that failed with EPERM, EBUSY or EACCES (antivirus, indexers). */
  renameRetryDelaysMs?: readonly number[];
}

/** A rename still refused with EPERM, EBUSY or EACCES after every retry; `code` and `cause` are the last refusal's. */
export class RenameRefusedError extends Error {
  override readonly name = 'RenameRefusedError';
  constructor(
    readonly from: string,
    readonly to: string,
    readonly code: string,
    readonly tries: number,
    readonly elapsedMs: number,
    override readonly cause: unknown,
  ) {
    super(
      `Cannot replace ${to}: rename failed with ${code} (${messageOf(cause)}); ${refusalHint(to, tries, elapsedMs)}`,
    );
  }

  /** The likely cause, in words, for a caller that names the failure its own way (AtomicWriteError). */
  get hint(): string {
    return refusalHint(this.to, this.tries, this.elapsedMs);
  }
}

// On Windows this is the usual cause: a handle opened without FILE_SHARE_DELETE blocks replacing the file.
const refusalHint = (to: string, tries: number, elapsedMs: number): string =>
  `tried ${tries} times over ${elapsedMs} ms: another program may hold ${to} open ` +
  '(a virus scanner, indexer, sync tool or editor), or permissions forbid replacing it';

const sleep = (ms: number) => new Promise((resolveSleep) => setTimeout(resolveSleep, ms));

/**
 * `fs.rename(from, to)`, retried after each of `delays` while it fails with EPERM, EBUSY or EACCES; then
 * RenameRefusedError. Any other error is thrown at once, as it is. The one rename loop of the write path, group
 * commits (apply and roll back) and group recovery (forward and back).
 */
export async function renameWithRetry(
  fs: FsLike,
  from: string,
  to: string,
  delays: readonly number[] = DEFAULT_RENAME_RETRY_DELAYS_MS,
  /** Runs before every try; a throw stops the loop before that rename, the error as it is. */
  beforeEachTry?: () => Promise<void>,
): Promise<void> {
  const started = Date.now();
  for (let tries = 0; ; tries++) {
    await beforeEachTry?.();
    try {
      await fs.rename(from, to);
      return;
    } catch (error) {
      const code = errnoOf(error);
      if (!code || !RETRYABLE_RENAME_ERRORS.has(code)) throw error;
      if (tries >= delays.length) throw new RenameRefusedError(from, to, code, tries + 1, Date.now() - started, error);
      await sleep(delays[tries]!);
    }
  }
}
