// Pre-save copies (`crashSafeState.crashSafeSave.files`): before VS Code writes a matching file (truncate, then
// write: a crash in between leaves it empty), the content being saved is copied durably to
// `<workspace folder>/.vscode/crash-safe/saves/<id>.pre-save`, one copy per file. Once the save is seen complete on
// disk the copy is removed; otherwise it stays, a `backup` source of the copies model (kind `pre-save`), so
// `crash-safe recover FILE --list` and Recover From… offer it. The place is found from the file alone (the CLI
// knows no extension storage), and it is beside the settings snapshots, our other per-folder backups.
import { createHash } from 'node:crypto';
import { basename, dirname, isAbsolute, join, relative, sep } from 'node:path';
import { type CopyFinder, digestOf, type FinderResult, type FoundCopy, loadFileCopy } from '../core/copies/copyModel';
import { judgeContent } from '../core/copies/judgeBroken';
import { messageOf } from '../core/errors';
import { toSlashes } from '../core/folderListing';
import {
  errnoOf,
  type FileIdentity,
  type FsLike,
  formatBytes,
  fsyncsDirectories,
  identityOf,
  MAX_DOCUMENT_BYTES,
  nodeFs,
  sameFile,
} from '../core/fs';
import { writeFileAtomic } from '../core/write/atomicWrite';
import { DEFAULT_DURABILITY, type Durability, isDurable } from '../core/write/durability';

/** The folders, below the workspace folder, that hold the copies. */
export const PRE_SAVE_FOLDERS: readonly string[] = ['.vscode', 'crash-safe', 'saves'];
export const PRE_SAVE_RELATIVE_DIR = PRE_SAVE_FOLDERS.join('/');
const PRE_SAVE_SUFFIX = '.pre-save';

/** The path relative to `folder`, `/`-separated, when `target` is inside it (and not our own folder's). */
function relativeInside(folder: string, target: string): string | undefined {
  const inside = relative(folder, target);
  if (inside === '' || isAbsolute(inside) || inside === '..' || inside.startsWith(`..${sep}`)) return undefined;
  const slashed = toSlashes(inside);
  if (slashed.startsWith(`${PRE_SAVE_FOLDERS[0]}/${PRE_SAVE_FOLDERS[1]}/`)) return undefined; // never a copy of ours
  return slashed;
}

/**
 * Where the pre-save copy of `target` lives when `folder` is its workspace folder: named by a hash of the relative
 * path, so any name (long, odd bytes) fits and a moved folder keeps its copies. Undefined outside the folder.
 */
export function preSaveCopyPath(folder: string, target: string): string | undefined {
  const inside = relativeInside(folder, target);
  if (inside === undefined) return undefined;
  const id = createHash('sha256').update(inside).digest('hex').slice(0, 32);
  return join(folder, ...PRE_SAVE_FOLDERS, `${id}${PRE_SAVE_SUFFIX}`);
}

/** A copy written before a save: what the prune must find again. */
export interface PreSaveCopy {
  path: string;
  /** The copy as written (device, inode, size, mtime); a copy no longer this one is not removed. */
  identity: FileIdentity;
  /** Its folder, for the checked unlink. */
  folderIdentity: FileIdentity;
}

export type PreSaveResult = { written: PreSaveCopy } | { skipped: string };
export type PruneResult = { pruned: true } | { pruned: false; kept: string };

/** A folder we write or read copies in: a real folder (not a symlink), and ours where owners exist. */
function checkFolder(path: string, stats: Awaited<ReturnType<FsLike['lstat']>>): void {
  if (stats.isSymbolicLink()) throw new Error(`${path} is a symbolic link; copies are never kept through one`);
  if (!stats.isDirectory()) throw new Error(`${path} is not a folder`);
  const uid = process.getuid?.();
  if (uid !== undefined && stats.uid !== uid) throw new Error(`${path} belongs to another user (uid ${stats.uid})`);
}

export class PreSaveCopies {
  private readonly fs: FsLike;
  private readonly durability: () => Durability;

  constructor(options: { fs?: FsLike; durability?: () => Durability } = {}) {
    this.fs = options.fs ?? nodeFs;
    this.durability = options.durability ?? (() => DEFAULT_DURABILITY);
  }

  /** Makes `.vscode/crash-safe/saves` in `folder` level by level, each a real folder of ours; returns its identity. */
  private async savesFolder(folder: string): Promise<FileIdentity> {
    let dir = folder;
    let stats = await this.fs.lstat(dir);
    for (const name of PRE_SAVE_FOLDERS) {
      const parent = dir;
      dir = join(dir, name);
      try {
        stats = await this.fs.lstat(dir);
      } catch (error) {
        if (errnoOf(error) !== 'ENOENT') throw error;
        try {
          await this.fs.mkdir(dir);
        } catch (mkdirError) {
          if (errnoOf(mkdirError) !== 'EEXIST') throw mkdirError;
        }
        if (isDurable(this.durability()) && fsyncsDirectories()) await this.fs.fsyncDir(parent);
        stats = await this.fs.lstat(dir);
      }
      checkFolder(dir, stats);
    }
    return identityOf(stats);
  }

  /**
   * Copies `bytes` (the content being saved to `target`) durably, replacing the file's earlier copy, except that a
   * copy that is not broken is never replaced by broken content (an emptied file saved again). Never throws for
   * what it finds: a refusal is `skipped` with the reason; only a failed write throws.
   */
  async write(folder: string, target: string, bytes: Uint8Array): Promise<PreSaveResult> {
    if (bytes.length > MAX_DOCUMENT_BYTES) {
      return { skipped: `larger than the ${formatBytes(MAX_DOCUMENT_BYTES)} limit; no copy made` };
    }
    const path = preSaveCopyPath(folder, target);
    if (path === undefined) return { skipped: 'not inside its workspace folder' };
    let folderIdentity: FileIdentity;
    try {
      folderIdentity = await this.savesFolder(folder);
    } catch (error) {
      return { skipped: messageOf(error) };
    }
    let earlier: Buffer | null = null;
    try {
      const stats = await this.fs.lstat(path);
      if (!stats.isFile()) return { skipped: `${path} is not a regular file; left alone` };
      earlier = await loadFileCopy(this.fs, path);
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') return { skipped: `cannot read the earlier copy ${path}: ${messageOf(error)}` };
    }
    if (earlier !== null) {
      const next = judgeContent(Buffer.from(bytes), target);
      if (next.judgement === 'broken' && judgeContent(earlier, target).judgement !== 'broken') {
        return { skipped: `the content being saved ${next.problem}; the earlier copy ${path} is kept` };
      }
    }
    // `expected`: the copy is still what was just read (or still absent) right before the rename.
    await writeFileAtomic(path, bytes, { fs: this.fs, durability: this.durability(), expected: earlier });
    return { written: { path, identity: identityOf(await this.fs.lstat(path)), folderIdentity } };
  }

  /**
   * Removes `copy` once `target` on disk holds exactly the content the save wrote (one of `savedDigests`, SHA-256 hex:
   * the caller keeps no bytes while a save is in flight); otherwise, or when the file cannot be read or the copy is
   * no longer the one written, keeps it and says why.
   */
  async pruneIfSaved(copy: PreSaveCopy, target: string, savedDigests: readonly string[]): Promise<PruneResult> {
    let onDisk: Buffer;
    try {
      onDisk = await this.fs.readFile(target, MAX_DOCUMENT_BYTES);
    } catch (error) {
      return { pruned: false, kept: `cannot read ${target}: ${messageOf(error)}` };
    }
    if (!savedDigests.includes(digestOf(onDisk))) {
      return { pruned: false, kept: `${target} on disk (${onDisk.length} bytes) is not the content saved` };
    }
    try {
      if (this.fs.unlinkChecked) {
        await this.fs.unlinkChecked(dirname(copy.path), basename(copy.path), copy.folderIdentity, copy.identity);
      } else {
        const now = await this.fs.lstat(copy.path);
        if (!now.isFile() || !sameFile(identityOf(now), copy.identity)) {
          return { pruned: false, kept: `${copy.path} changed since it was written` };
        }
        await this.fs.unlink(copy.path);
      }
    } catch (error) {
      return { pruned: false, kept: `${copy.path} not removed: ${messageOf(error)}` };
    }
    return { pruned: true };
  }
}

/** The real folders `.vscode/crash-safe/saves` under `folder`, or false (missing, a symlink, another user's). */
async function isSavesFolder(fs: FsLike, folder: string): Promise<boolean> {
  let dir = folder;
  for (const name of PRE_SAVE_FOLDERS) {
    dir = join(dir, name);
    try {
      checkFolder(dir, await fs.lstat(dir));
    } catch {
      return false;
    }
  }
  return true;
}

/**
 * The pre-save copy of the target (and of its real file), found in `.vscode/crash-safe/saves` of each folder above
 * it: the workspace folder is not known to the CLI. At most one lstat per level on a miss.
 */
export const preSaveCopyFinder: CopyFinder = {
  source: 'backup',
  async find({ fs, target, realTarget }): Promise<FinderResult> {
    const copies: FoundCopy[] = [];
    const notes: string[] = [];
    const seen = new Set<string>();
    for (const file of new Set([target, realTarget])) {
      for (let folder = dirname(file); ; folder = dirname(folder)) {
        const path = preSaveCopyPath(folder, file);
        if (path !== undefined && !seen.has(path) && (await isSavesFolder(fs, folder))) {
          seen.add(path);
          try {
            const stats = await fs.lstat(path);
            if (stats.isFile()) {
              copies.push({
                kind: 'pre-save',
                label: 'pre-save copy',
                time: stats.mtimeMs,
                path,
                where: path,
                detail: `the content of ${relativeInside(folder, file)} as a save began`,
                size: stats.size,
                load: () => loadFileCopy(fs, path),
              });
            } else {
              notes.push(`pre-save copy ${path} is not a regular file; not read`);
            }
          } catch (error) {
            if (errnoOf(error) !== 'ENOENT') notes.push(`pre-save copy ${path}: ${messageOf(error)}`);
          }
        }
        if (dirname(folder) === folder) break;
      }
    }
    return { copies, notes };
  },
};
