// The real disk seen as an NTFS volume is through Node on Windows (libuv's src/win/fs.c), for proving the Windows
// promises on Linux. Modelled: names compared without case; reserved device names and names ending in a dot or
// space refused; another process's open handle without FILE_SHARE_DELETE blocking rename and unlink of that file;
// folders that cannot be flushed. MacLikeFs does the same for APFS/HFS+ name lookups (case and Unicode
// normalisation ignored), without the Windows rules. Pair with asPlatform('win32' | 'darwin') so the core takes
// the code paths it takes there.
import { constants, type Stats } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, sep } from 'node:path';
import {
  FileChangedError,
  type FileHandleLike,
  type FileIdentity,
  type FsLike,
  identityOf,
  nodeFs,
  sameFile,
  sameNode,
} from '../../src/core/fs';
import { type NameMatching, nameKey } from '../../src/core/names/tempPatterns';
import { errnoError } from './faultyFs';

/** Windows device names: `NUL`, `nul.json` and `Nul.tar.gz` all open the device, never a file. */
const RESERVED_STEMS = new Set([
  'CON',
  'PRN',
  'AUX',
  'NUL',
  ...Array.from({ length: 10 }, (_, n) => `COM${n}`),
  ...Array.from({ length: 10 }, (_, n) => `LPT${n}`),
  'COM¹',
  'COM²',
  'COM³',
  'LPT¹',
  'LPT²',
  'LPT³',
]);

/** Characters Win32 refuses in a name besides the separators (control characters are checked apart). */
const WINDOWS_FORBIDDEN = /[<>:"|?*]/;
const hasControlCharacter = (name: string) => [...name].some((char) => char.charCodeAt(0) < 32);

/** Why Windows refuses `name` as a file or folder name, or undefined. */
export function windowsNameProblem(name: string): string | undefined {
  if (name.includes('/') || name.includes('\\')) return 'it holds a path separator';
  if (WINDOWS_FORBIDDEN.test(name) || hasControlCharacter(name))
    return 'it holds a character Windows forbids (< > : " | ? * or a control character)';
  if (/[. ]$/.test(name)) return 'it ends in a dot or a space (Win32 strips them, so it would name another file)';
  const stem = name.split('.')[0]!.trimEnd().toUpperCase();
  if (RESERVED_STEMS.has(stem)) return `${stem} is a reserved device name`;
  return undefined;
}

/** Why `name` is not usable on every platform we support (Windows rules, 255 UTF-16 units, 255 UTF-8 bytes), or undefined. */
export function portableNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'it is empty';
  if (name.length > 255) return `it is ${name.length} UTF-16 units long (NTFS and HFS+ allow 255)`;
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > 255) return `it is ${bytes} UTF-8 bytes long (ext4 and APFS allow 255)`;
  return windowsNameProblem(name);
}

/** How another process opened a file: Windows share modes (libuv itself always shares read, write and delete). */
export interface HoldOptions {
  /** FILE_SHARE_DELETE: rename and delete of the file stay possible. Default false, as most programs open files. */
  shareDelete?: boolean;
  /** FILE_SHARE_READ. Default true. */
  shareRead?: boolean;
  /** Released by itself after this many refused operations (a virus scanner's brief look); default never. */
  releaseAfterRefusals?: number;
}

export interface Hold {
  release(): void;
  /** Operations this hold refused so far. */
  readonly refusals: number;
}

export interface WindowsLikeOptions {
  /** What a rename onto or of a held file fails with: MoveFileEx's ERROR_ACCESS_DENIED is EPERM (default). */
  renameErrorCode?: 'EPERM' | 'EACCES' | 'EBUSY';
  /** What an unlink of a held file fails with: ERROR_SHARING_VIOLATION is EBUSY (default); delete-pending is EPERM. */
  unlinkErrorCode?: 'EBUSY' | 'EPERM';
}

const NTFS_NAMES: NameMatching = { caseInsensitive: true, normalisationInsensitive: false };
const APFS_NAMES: NameMatching = { caseInsensitive: true, normalisationInsensitive: true };

interface HoldState extends HoldOptions {
  refusals: number;
}

export class WindowsLikeFs implements FsLike {
  /** Every operation, as `op path`, for asserting what the core tried. */
  readonly calls: string[] = [];
  private readonly holds = new Map<string, HoldState>();

  /** Only paths below `root` get volume semantics; the rest of the disk is passed through as it is. */
  constructor(
    readonly root: string,
    protected readonly options: WindowsLikeOptions = {},
    protected readonly names: NameMatching = NTFS_NAMES,
    /** Apply Windows name rules and share modes (MacLikeFs turns them off). */
    protected readonly windowsRules = true,
  ) {}

  /** Marks `path` as held open by another process until `release()`. */
  holdOpen(path: string, options: HoldOptions = {}): Hold {
    const key = this.key(path);
    const state: HoldState = { shareDelete: false, shareRead: true, ...options, refusals: 0 };
    this.holds.set(key, state);
    return {
      release: () => {
        if (this.holds.get(key) === state) this.holds.delete(key);
      },
      get refusals() {
        return state.refusals;
      },
    };
  }

  private key(path: string): string {
    return nameKey(path, this.names);
  }

  private below(path: string): string | undefined {
    if (!isAbsolute(path)) return undefined;
    const rel = relative(this.root, path);
    return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? undefined : rel;
  }

  /**
   * The path as stored: each name below the root replaced by the existing entry it matches on this volume.
   * `creating`: the last name may be new, and must then be valid (EINVAL otherwise, as Windows refuses to create it).
   */
  protected async onDisk(path: string, creating = false): Promise<string> {
    const rel = this.below(path);
    if (rel === undefined) return path;
    const parts = rel.split(sep);
    let current = this.root;
    for (const [index, part] of parts.entries()) {
      const last = index === parts.length - 1;
      const problem = this.windowsRules ? windowsNameProblem(part) : undefined;
      if (problem) throw errnoError(creating && last ? 'EINVAL' : 'ENOENT', `lookup (${problem})`, path);
      // NTFS takes 255 UTF-16 units, APFS 255 UTF-8 bytes (the disk below may take more or less).
      if (creating && last && (this.windowsRules ? part.length : Buffer.byteLength(part, 'utf8')) > 255) {
        throw errnoError('ENAMETOOLONG', 'open', path);
      }
      let entries: string[];
      try {
        entries = await fsp.readdir(current);
      } catch {
        return join(current, ...parts.slice(index)); // Not a folder (or gone): the real call reports it.
      }
      const wanted = nameKey(part, this.names);
      const match = entries.includes(part) ? part : entries.find((entry) => nameKey(entry, this.names) === wanted);
      current = join(current, match ?? part);
    }
    return current;
  }

  /** Throws as Windows does when another process's handle forbids `access` to the file at `diskPath`. */
  private refuse(diskPath: string, access: 'delete' | 'read', code: string, syscall: string): void {
    if (!this.windowsRules) return;
    const hold = this.holds.get(this.key(diskPath));
    if (!hold) return;
    const allowed = access === 'delete' ? hold.shareDelete : hold.shareRead;
    if (allowed) return;
    hold.refusals += 1;
    if (hold.releaseAfterRefusals !== undefined && hold.refusals >= hold.releaseAfterRefusals) {
      this.holds.delete(this.key(diskPath));
    }
    throw errnoError(code, syscall, diskPath);
  }

  async open(path: string, flags: string | number, mode?: number): Promise<FileHandleLike> {
    this.calls.push(`open ${path}`);
    const creating = typeof flags === 'string' ? /[wax]/.test(flags) : (flags & constants.O_CREAT) !== 0;
    const disk = await this.onDisk(path, creating);
    if (!creating) this.refuse(disk, 'read', 'EBUSY', 'open');
    // Our own handles share everything (libuv's fs__open), so they never block another rename or unlink.
    return nodeFs.open(disk, flags, mode);
  }

  async readFile(path: string, maxBytes?: number): Promise<Buffer> {
    this.calls.push(`readFile ${path}`);
    const disk = await this.onDisk(path);
    this.refuse(disk, 'read', 'EBUSY', 'open');
    return nodeFs.readFile(disk, maxBytes);
  }

  async rename(from: string, to: string): Promise<void> {
    this.calls.push(`rename ${from} -> ${to}`);
    const source = await this.onDisk(from);
    let destination = await this.onDisk(to, true);
    const code = this.options.renameErrorCode ?? 'EPERM';
    this.refuse(source, 'delete', code, 'rename');
    // A case-only rename keeps the entry and changes its spelling.
    if (destination === source) destination = join(dirname(source), basename(to));
    else this.refuse(destination, 'delete', code, 'rename');
    await fsp.rename(source, destination);
  }

  async unlink(path: string): Promise<void> {
    this.calls.push(`unlink ${path}`);
    const disk = await this.onDisk(path);
    this.refuse(disk, 'delete', this.options.unlinkErrorCode ?? 'EBUSY', 'unlink');
    await fsp.unlink(disk);
  }

  async unlinkChecked(dir: string, name: string, folder: FileIdentity, file: FileIdentity): Promise<void> {
    // Windows has no /proc/self/fd to pin the folder: check both identities, then unlink by path, as nodeFs does there.
    const folderDisk = await this.onDisk(dir);
    if (!sameNode(identityOf(await fsp.lstat(folderDisk)), folder)) {
      throw new FileChangedError(dir, 'no longer the folder that was checked');
    }
    const path = join(dir, name);
    const current = await fsp.lstat(await this.onDisk(path));
    if (!current.isFile() || !sameFile(identityOf(current), file))
      throw new FileChangedError(path, 'changed since it was checked');
    await this.unlink(path);
  }

  async mkdir(path: string): Promise<void> {
    this.calls.push(`mkdir ${path}`);
    await fsp.mkdir(await this.onDisk(path, true));
  }

  async stat(path: string): Promise<Stats> {
    return fsp.stat(await this.onDisk(path));
  }

  async lstat(path: string): Promise<Stats> {
    return fsp.lstat(await this.onDisk(path));
  }

  /** The stored spelling, as GetFinalPathNameByHandle gives it. */
  async realpath(path: string): Promise<string> {
    return fsp.realpath(await this.onDisk(path));
  }

  async readdir(path: string): Promise<string[]> {
    return fsp.readdir(await this.onDisk(path));
  }

  /** FlushFileBuffers needs write access, which a folder handle cannot have: Node reports EPERM. */
  async fsyncDir(path: string): Promise<void> {
    this.calls.push(`fsyncDir ${path}`);
    if (this.windowsRules) throw errnoError('EPERM', 'fsync', path);
    await nodeFs.fsyncDir(await this.onDisk(path));
  }
}

/** APFS / HFS+ lookups: case and Unicode normalisation ignored. Open files can be renamed over and unlinked. */
export class MacLikeFs extends WindowsLikeFs {
  constructor(root: string) {
    super(root, {}, APFS_NAMES, false);
  }
}

/** Runs `action` with `process.platform` reading `platform`, for the code paths the core chooses at call time. */
export async function asPlatform<T>(platform: NodeJS.Platform, action: () => Promise<T>): Promise<T> {
  const original = Object.getOwnPropertyDescriptor(process, 'platform')!;
  Object.defineProperty(process, 'platform', { ...original, value: platform });
  try {
    return await action();
  } finally {
    Object.defineProperty(process, 'platform', original);
  }
}
