import type { Stats } from 'node:fs';
import { constants, readdirSync } from 'node:fs';
import * as fsp from 'node:fs/promises';

/** The handle half of the seam: just what the write path needs from an open file. */
export interface FileHandleLike {
  write(buffer: Uint8Array, offset: number, length: number, position: number | null): Promise<{ bytesWritten: number }>;
  sync(): Promise<void>;
  chmod(mode: number): Promise<void>;
  chown(uid: number, gid: number): Promise<void>;
  /** Reads the whole file from the start (used to roll back from a held-open old version). */
  readFile(): Promise<Buffer>;
  close(): Promise<void>;
}

/** One directory entry as `readdir(..., { withFileTypes: true })` reports it (a Dirent fits). */
export interface DirEntryLike {
  name: string;
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}

/**
 * The file-system seam every core module goes through, a subset of node:fs/promises.
 * Tests wrap it to inject errno failures and short writes; the crash checker records through it.
 */
export interface FsLike {
  open(path: string, flags: string | number, mode?: number): Promise<FileHandleLike>;
  readFile(path: string): Promise<Buffer>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  mkdir(path: string, options: { recursive: true }): Promise<string | undefined>;
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
  /** Flushes a directory's entries (creates, renames, unlinks) to disk. */
  fsyncDir(path: string): Promise<void>;
}

export const nodeFs: FsLike = {
  open: (path, flags, mode) => fsp.open(path, flags, mode),
  readFile: (path) => fsp.readFile(path),
  rename: (from, to) => fsp.rename(from, to),
  unlink: (path) => fsp.unlink(path),
  mkdir: (path, options) => fsp.mkdir(path, options),
  stat: (path) => fsp.stat(path),
  lstat: (path) => fsp.lstat(path),
  realpath: (path) => fsp.realpath(path),
  readdir: (path) => fsp.readdir(path),
  readdirEntries: (path) => fsp.readdir(path, { withFileTypes: true }),
  readdirEntriesSync: (path) => readdirSync(path, { withFileTypes: true }),
  async fsyncDir(path) {
    const handle = await fsp.open(path, constants.O_RDONLY | (constants.O_DIRECTORY ?? 0));
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
};

/** Node errors carry `code`; this narrows an unknown catch value to one. */
export function errnoOf(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}
