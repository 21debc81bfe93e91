// What group recovery reads from disk is untrusted input (docs/group-commits.md#trust). A path a journal names is
// resolved from the journal folder's real path one name at a time: never through a symlink, never out of that
// folder, and (as root) never into a folder another user controls, as scan and sweep refuse them. What was seen is
// confirmed again right before anything is renamed or removed; what fails is kept and reported.

import { basename, dirname, join } from 'node:path';
import { refusesUnsafeFolders, unsafeFolderReason } from '../folderListing';
import {
  errnoOf,
  FileChangedError,
  type FileIdentity,
  type FsLike,
  fileTypeOf,
  identityOf,
  isAbsent,
  MAX_DOCUMENT_BYTES,
  sameFile,
  sameNode,
} from '../fs';

/** `refuseUnsafeFolders`: refuse folders other users own or may write (default: when running as root). */
export interface TrustOptions {
  refuseUnsafeFolders?: boolean;
}

/** A path a journal or a leftover's name leads to that may not be followed; nothing was done to it. */
export class UntrustedPathError extends Error {
  override readonly name = 'UntrustedPathError';
  readonly code = 'EUNTRUSTED';
}

/** A folder every group path is resolved from: its real path, as lstat saw it. */
export interface TrustedFolder {
  path: string;
  identity: FileIdentity;
  /** The uid whose folders alone may be entered, or undefined when ownership is not checked. */
  uid: number | undefined;
}

/** What a path resolved to: every folder on the way (the base first) and the file, or `absent`. */
export interface ResolvedPath {
  path: string;
  folders: { path: string; identity: FileIdentity }[];
  file: FileIdentity | 'absent';
  links: number;
}

async function checkFolder(fs: FsLike, path: string, uid: number | undefined): Promise<FileIdentity> {
  const stats = await fs.lstat(path);
  if (stats.isSymbolicLink())
    throw new UntrustedPathError(`${path} is a symbolic link; a group's paths never lead through one`);
  if (!stats.isDirectory()) throw new UntrustedPathError(`${path} is not a folder`);
  if (uid !== undefined) {
    const reason = await unsafeFolderReason(fs, path, uid);
    if (reason) throw new UntrustedPathError(`${path} is not entered: ${reason}`);
  }
  return identityOf(stats);
}

/** The real path of `dir`, checked as a folder this process may act in. Throws UntrustedPathError or the errno. */
export async function trustedFolder(fs: FsLike, dir: string, options: TrustOptions = {}): Promise<TrustedFolder> {
  const uid = refusesUnsafeFolders(options.refuseUnsafeFolders);
  const path = await fs.realpath(dir);
  return { path, identity: await checkFolder(fs, path, uid), uid };
}

/**
 * Resolves a `/`-separated relative path below `base`, one name at a time with lstat. A symlinked name, a name that
 * leaves the folder, a folder another user controls (when checked) or a final name that is not a regular file is
 * refused with UntrustedPathError. A name missing on the way makes the path `absent`.
 */
export async function resolveInside(fs: FsLike, base: TrustedFolder, relative: string): Promise<ResolvedPath> {
  const parts = relative.split('/');
  if (
    parts.some((part) => part === '' || part === '.' || part === '..' || part.includes('\0') || part.includes('\\'))
  ) {
    throw new UntrustedPathError(`${JSON.stringify(relative)} does not stay inside ${base.path}`);
  }
  const baseNow = await checkFolder(fs, base.path, base.uid);
  if (!sameNode(baseNow, base.identity)) throw new FileChangedError(base.path, 'no longer the folder that was checked');
  const folders = [{ path: base.path, identity: baseNow }];
  let dir = base.path;
  const absent = (): ResolvedPath => ({ path: join(base.path, ...parts), folders, file: 'absent', links: 0 });
  for (const part of parts.slice(0, -1)) {
    const next = join(dir, part);
    let identity: FileIdentity;
    try {
      identity = await checkFolder(fs, next, base.uid);
    } catch (error) {
      if (isAbsent(error)) return absent();
      throw error;
    }
    folders.push({ path: next, identity });
    dir = next;
  }
  const path = join(dir, parts[parts.length - 1]!);
  let stats: Awaited<ReturnType<FsLike['lstat']>>;
  try {
    stats = await fs.lstat(path);
  } catch (error) {
    if (isAbsent(error)) return absent();
    throw error;
  }
  if (stats.isSymbolicLink())
    throw new UntrustedPathError(`${path} is a symbolic link; a group's paths never lead through one`);
  if (!stats.isFile()) throw new UntrustedPathError(`${path} is not a regular file (${fileTypeOf(stats)})`);
  return { path, folders, file: identityOf(stats), links: stats.nlink };
}

/** Throws FileChangedError unless `relative` still resolves to what `seen` recorded (every folder, and the file or its absence). */
export async function confirmUnchanged(
  fs: FsLike,
  base: TrustedFolder,
  relative: string,
  seen: ResolvedPath,
): Promise<ResolvedPath> {
  const now = await resolveInside(fs, base, relative);
  const sameFolders =
    now.folders.length === seen.folders.length &&
    now.folders.every((folder, index) => sameNode(folder.identity, seen.folders[index]!.identity));
  const sameEntry =
    now.file === 'absent' || seen.file === 'absent' ? now.file === seen.file : sameFile(now.file, seen.file);
  if (!sameFolders || !sameEntry) throw new FileChangedError(now.path, 'changed since it was judged; left in place');
  return now;
}

/**
 * Reads a resolved regular file (bounded, non-blocking: readFile of the seam) and confirms afterwards that the bytes
 * came from the file resolved, not from one swapped in meanwhile. `absent` when there is none.
 */
export async function readInside(
  fs: FsLike,
  base: TrustedFolder,
  relative: string,
  maxBytes = MAX_DOCUMENT_BYTES,
): Promise<{ resolved: ResolvedPath; bytes: Buffer | 'absent' }> {
  const resolved = await resolveInside(fs, base, relative);
  if (resolved.file === 'absent') return { resolved, bytes: 'absent' };
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(resolved.path, maxBytes);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') throw new FileChangedError(resolved.path, 'removed while it was read');
    throw error;
  }
  await confirmUnchanged(fs, base, relative, resolved);
  return { resolved, bytes };
}

/**
 * Removes a resolved file only while it and every folder on the way are still what was seen: the seam's pinned
 * unlinkChecked where there is one (a folder swapped after the check cannot redirect it), else a re-check, then unlink.
 */
export async function unlinkResolved(
  fs: FsLike,
  base: TrustedFolder,
  relative: string,
  seen: ResolvedPath,
): Promise<void> {
  if (seen.file === 'absent') return;
  const now = await confirmUnchanged(fs, base, relative, seen);
  const folder = now.folders[now.folders.length - 1]!;
  if (fs.unlinkChecked) await fs.unlinkChecked(dirname(now.path), basename(now.path), folder.identity, seen.file);
  else await fs.unlink(now.path);
}
