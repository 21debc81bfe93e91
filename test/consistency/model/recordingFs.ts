// An in-memory FsLike that answers reads from the live (volatile) view and records every write-side call,
// so the crash-state enumerator can later replay any subset of them that a power cut could have left on disk.
import { constants, type Stats } from 'node:fs';
import { posix } from 'node:path';
import type { DirEntryLike, FileHandleLike, FsLike } from '../../../src/core/fs';
import {
  applyOperation,
  cloneImage,
  type DirInode,
  emptyImage,
  type Fate,
  type FsImage,
  type Inode,
  type InodeId,
  type TraceEntry,
  type TraceOperation,
} from './image';

/** Logical clock: 1 s per recorded call from a fixed past instant, so ages and mtime order are deterministic. */
export const MODEL_EPOCH_MS = Date.UTC(2024, 0, 1);
const TICK_MS = 1000;
const PERSISTED: readonly Fate[] = [];

/** An errno-carrying error shaped like Node's own. */
export function fsError(code: string, syscall: string, path: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`${code}: model file system, ${syscall} '${path}'`);
  error.code = code;
  error.syscall = syscall;
  error.path = path;
  return error;
}

/** A Stats built from a model inode (the seam's callers only read these fields). */
class ModelStats implements Stats {
  dev: number;
  ino: number;
  mode: number;
  nlink = 1;
  uid = 0;
  gid = 0;
  rdev = 0;
  size: number;
  blksize = 4096;
  blocks: number;
  atimeMs: number;
  mtimeMs: number;
  ctimeMs: number;
  birthtimeMs: number;
  atime: Date;
  mtime: Date;
  ctime: Date;
  birthtime: Date;

  constructor(
    id: InodeId,
    private readonly inode: Inode,
  ) {
    this.dev = inode.device === 'disk' ? 1 : 2;
    this.ino = id;
    this.mode = (inode.kind === 'dir' ? constants.S_IFDIR : constants.S_IFREG) | inode.mode;
    this.size = inode.kind === 'file' ? inode.data.length : 4096;
    this.blocks = Math.ceil(this.size / 512);
    this.atimeMs = this.mtimeMs = this.ctimeMs = this.birthtimeMs = inode.mtimeMs;
    this.atime = this.mtime = this.ctime = this.birthtime = new Date(inode.mtimeMs);
  }
  isFile(): boolean {
    return this.inode.kind === 'file';
  }
  isDirectory(): boolean {
    return this.inode.kind === 'dir';
  }
  isBlockDevice(): boolean {
    return false;
  }
  isCharacterDevice(): boolean {
    return false;
  }
  isSymbolicLink(): boolean {
    return false;
  }
  isFIFO(): boolean {
    return false;
  }
  isSocket(): boolean {
    return false;
  }
}

interface OpenFlags {
  create: boolean;
  exclusive: boolean;
  truncate: boolean;
  append: boolean;
  writable: boolean;
}

function parseFlags(flags: string | number): OpenFlags {
  if (typeof flags === 'number') {
    const access = flags & 3;
    return {
      create: (flags & constants.O_CREAT) !== 0,
      exclusive: (flags & constants.O_EXCL) !== 0,
      truncate: (flags & constants.O_TRUNC) !== 0,
      append: (flags & constants.O_APPEND) !== 0,
      writable: access === constants.O_WRONLY || access === constants.O_RDWR,
    };
  }
  const base = flags.replace(/[xs]/g, '');
  return {
    create: base.startsWith('w') || base.startsWith('a'),
    exclusive: flags.includes('x'),
    truncate: base.startsWith('w'),
    append: base.startsWith('a'),
    writable: base !== 'r',
  };
}

/** Describes the durable starting state of a scenario: directories, files and RAM-backed mounts. */
export class ImageBuilder {
  readonly image: FsImage = emptyImage();

  /** Creates `path` and its parents (durably). */
  dir(path: string): this {
    this.ensureDir(path, 'disk');
    return this;
  }

  /** Mounts a RAM file system (a separate device, emptied by a crash) at `path`. */
  tmpfs(path: string): this {
    const id = this.ensureDir(path, 'tmpfs');
    this.image.tmpfsRoots.add(id);
    return this;
  }

  /** Creates a durable file with the given content, its parents too. */
  file(path: string, content: string | Buffer, mtimeMs = MODEL_EPOCH_MS - 86_400_000): this {
    const parent = this.ensureDir(posix.dirname(path), 'disk');
    const dir = this.image.inodes.get(parent) as DirInode;
    const id = this.image.nextInode++;
    const data = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    this.image.inodes.set(id, { kind: 'file', data, mode: 0o644, mtimeMs, device: dir.device });
    dir.entries.set(posix.basename(path), id);
    return this;
  }

  private ensureDir(path: string, device: string): InodeId {
    let current = this.image.root;
    for (const name of posix.resolve(path).split('/').filter(Boolean)) {
      const dir = this.image.inodes.get(current) as DirInode;
      let next = dir.entries.get(name);
      if (next === undefined) {
        next = this.image.nextInode++;
        this.image.inodes.set(next, { kind: 'dir', entries: new Map(), mode: 0o755, mtimeMs: 0, device });
        dir.entries.set(name, next);
      }
      current = next;
    }
    return current;
  }
}

export interface RecordingOptions {
  /**
   * How a rename over a file that a handle holds open behaves. 'atomic' (default): one step, as on a local disk.
   * 'two-step': as libfuse (and NFS's silly rename) do it, the open file is first renamed to a hidden name in its
   * folder (`.fuse_hidden…`), then the source over the target: two directory operations, with a crash point
   * between them. The hidden name is unlinked when the file's last handle closes.
   */
  renameOverOpenFile?: 'atomic' | 'two-step';
}

/** libfuse's hidden name: `.fuse_hidden` + the node id and a counter, 8 hex digits each. */
function fuseHiddenName(inode: InodeId, counter: number): string {
  const hex = (n: number) => (n >>> 0).toString(16).padStart(8, '0');
  return `.fuse_hidden${hex(inode)}${hex(counter)}`;
}

interface Located {
  parent: InodeId;
  name: string;
  inode: InodeId | undefined;
  path: string;
}

/**
 * The recording file system. Everything in `base` is durable; every write-side call is appended to `trace`
 * and applied to the live view that reads see. `crashImages` (crashStates.ts) turns base + trace into crash states.
 */
export class RecordingFs implements FsLike {
  readonly base: FsImage;
  readonly live: FsImage;
  readonly trace: TraceEntry[] = [];
  private clock: number;
  private readonly openHandles = new Map<InodeId, number>();
  /** Open files renamed away to a hidden name, awaiting their last close. */
  private readonly hidden = new Map<InodeId, { dir: InodeId; name: string; path: string }>();
  private hiddenCount = 0;

  constructor(
    base: FsImage,
    private readonly options: RecordingOptions = {},
  ) {
    this.base = cloneImage(base);
    this.live = cloneImage(base);
    let latest = MODEL_EPOCH_MS;
    for (const inode of base.inodes.values()) latest = Math.max(latest, inode.mtimeMs);
    this.clock = latest;
  }

  /** Notes a scenario event (a write begun, a value acknowledged) at this point of the trace. */
  mark(label: string, detail = ''): void {
    this.record({ kind: 'mark', label, detail });
  }

  /** The live content of `path`, or undefined when it does not exist. */
  liveContent(path: string): Buffer | undefined {
    const inode = this.live.inodes.get(this.locate(path, 'read').inode ?? -1);
    return inode?.kind === 'file' ? inode.data : undefined;
  }

  private record(op: TraceOperation): void {
    this.clock += TICK_MS;
    this.trace.push({ op, at: this.clock });
    applyOperation(this.live, op, PERSISTED, this.clock);
  }

  private locate(path: string, syscall: string): Located {
    const absolute = posix.resolve(path);
    const names = absolute.split('/').filter(Boolean);
    if (names.length === 0) return { parent: this.live.root, name: '', inode: this.live.root, path: absolute };
    let current = this.live.root;
    for (const name of names.slice(0, -1)) {
      const dir = this.live.inodes.get(current);
      if (dir?.kind !== 'dir') throw fsError('ENOTDIR', syscall, path);
      const next = dir.entries.get(name);
      if (next === undefined) throw fsError('ENOENT', syscall, path);
      current = next;
    }
    const parent = this.live.inodes.get(current);
    if (parent?.kind !== 'dir') throw fsError('ENOTDIR', syscall, path);
    const name = names[names.length - 1]!;
    return { parent: current, name, inode: parent.entries.get(name), path: absolute };
  }

  private existing(path: string, syscall: string): { located: Located; inode: Inode; id: InodeId } {
    const located = this.locate(path, syscall);
    const inode = located.inode === undefined ? undefined : this.live.inodes.get(located.inode);
    if (!inode || located.inode === undefined) throw fsError('ENOENT', syscall, path);
    return { located, inode, id: located.inode };
  }

  private deviceOf(id: InodeId): string {
    return this.live.inodes.get(id)?.device ?? 'disk';
  }

  async open(path: string, flags: string | number, mode = 0o666): Promise<FileHandleLike> {
    const parsed = parseFlags(flags);
    const located = this.locate(path, 'open');
    const flagText = String(flags);
    let id = located.inode;
    if (id !== undefined) {
      if (parsed.create && parsed.exclusive) throw fsError('EEXIST', 'open', path);
      const inode = this.live.inodes.get(id)!;
      if (inode.kind === 'dir' && parsed.writable) throw fsError('EISDIR', 'open', path);
      this.record({ kind: 'open', inode: id, path: located.path, flags: flagText });
      if (parsed.truncate && inode.kind === 'file' && inode.data.length > 0) {
        this.record({ kind: 'truncate', inode: id, size: 0, path: located.path });
      }
    } else {
      if (!parsed.create) throw fsError('ENOENT', 'open', path);
      id = this.live.nextInode;
      const device = this.deviceOf(located.parent);
      this.record({
        kind: 'create',
        dir: located.parent,
        name: located.name,
        inode: id,
        path: located.path,
        mode,
        device,
      });
      this.record({ kind: 'open', inode: id, path: located.path, flags: flagText });
    }
    this.openHandles.set(id, (this.openHandles.get(id) ?? 0) + 1);
    return new ModelHandle(this, id, located.path, parsed);
  }

  /** Called by a handle's close: the last close of a hidden file removes its hidden name, as libfuse does. */
  released(inode: InodeId): void {
    const left = (this.openHandles.get(inode) ?? 1) - 1;
    if (left > 0) {
      this.openHandles.set(inode, left);
      return;
    }
    this.openHandles.delete(inode);
    const hidden = this.hidden.get(inode);
    if (!hidden) return;
    this.hidden.delete(inode);
    this.record({ kind: 'unlink', dir: hidden.dir, name: hidden.name, inode, path: hidden.path });
  }

  /** Called by handles: records a write at `position` (or the handle's position). */
  recordWrite(inode: InodeId, path: string, offset: number, bytes: Buffer): void {
    this.record({ kind: 'write', inode, offset, bytes, path });
  }

  recordHandleCall(op: TraceOperation): void {
    this.record(op);
  }

  /** The live bytes of an inode, reachable or not (an open handle keeps an unlinked file's data). */
  contentOf(inode: InodeId): Buffer {
    const file = this.live.inodes.get(inode);
    return file?.kind === 'file' ? Buffer.from(file.data) : Buffer.alloc(0);
  }

  sizeOf(inode: InodeId): number {
    const file = this.live.inodes.get(inode);
    return file?.kind === 'file' ? file.data.length : 0;
  }

  async readFile(path: string): Promise<Buffer> {
    const { inode } = this.existing(path, 'open');
    if (inode.kind === 'dir') throw fsError('EISDIR', 'read', path);
    return Buffer.from(inode.data);
  }

  async rename(from: string, to: string): Promise<void> {
    const source = this.existing(from, 'rename');
    const target = this.locate(to, 'rename');
    if (this.deviceOf(source.located.parent) !== this.deviceOf(target.parent)) throw fsError('EXDEV', 'rename', from);
    if (target.inode === source.id) return;
    if (target.inode !== undefined) {
      const replaced = this.live.inodes.get(target.inode)!;
      if (replaced.kind === 'dir' && source.inode.kind === 'file') throw fsError('EISDIR', 'rename', to);
      if (replaced.kind === 'file' && source.inode.kind === 'dir') throw fsError('ENOTDIR', 'rename', to);
      if (replaced.kind === 'dir' && replaced.entries.size > 0) throw fsError('ENOTEMPTY', 'rename', to);
      if (
        this.options.renameOverOpenFile === 'two-step' &&
        replaced.kind === 'file' &&
        this.openHandles.has(target.inode)
      ) {
        const name = fuseHiddenName(target.inode, this.hiddenCount++);
        const path = posix.join(posix.dirname(target.path), name);
        this.record({
          kind: 'rename',
          fromDir: target.parent,
          fromName: target.name,
          toDir: target.parent,
          toName: name,
          inode: target.inode,
          from: target.path,
          path,
        });
        this.hidden.set(target.inode, { dir: target.parent, name, path });
      }
    }
    this.record({
      kind: 'rename',
      fromDir: source.located.parent,
      fromName: source.located.name,
      toDir: target.parent,
      toName: target.name,
      inode: source.id,
      from: source.located.path,
      path: target.path,
    });
  }

  async link(existing: string, newPath: string): Promise<void> {
    const source = this.existing(existing, 'link');
    if (source.inode.kind === 'dir') throw fsError('EPERM', 'link', existing);
    const target = this.locate(newPath, 'link');
    if (target.inode !== undefined) throw fsError('EEXIST', 'link', newPath);
    if (this.deviceOf(source.located.parent) !== this.deviceOf(target.parent)) throw fsError('EXDEV', 'link', existing);
    this.record({
      kind: 'link',
      dir: target.parent,
      name: target.name,
      inode: source.id,
      path: target.path,
      from: source.located.path,
    });
  }

  async unlink(path: string): Promise<void> {
    const { located, inode, id } = this.existing(path, 'unlink');
    if (inode.kind === 'dir') throw fsError('EISDIR', 'unlink', path);
    this.record({ kind: 'unlink', dir: located.parent, name: located.name, inode: id, path: located.path });
  }

  /** mkdir(2): one folder, whose parent must exist. */
  async mkdir(path: string): Promise<void> {
    const absolute = posix.resolve(path);
    let current = this.live.root;
    const names = absolute.split('/').filter(Boolean);
    for (const [index, name] of names.entries()) {
      const dir = this.live.inodes.get(current);
      if (dir?.kind !== 'dir') throw fsError('ENOTDIR', 'mkdir', path);
      const next = dir.entries.get(name);
      if (index === names.length - 1) {
        if (next !== undefined) throw fsError('EEXIST', 'mkdir', path);
        const inode = this.live.nextInode;
        this.record({ kind: 'mkdir', dir: current, name, inode, path: absolute, mode: 0o755, device: dir.device });
        return;
      }
      if (next === undefined) throw fsError('ENOENT', 'mkdir', path);
      current = next;
    }
    throw fsError('EEXIST', 'mkdir', path);
  }

  async stat(path: string): Promise<Stats> {
    const { inode, id } = this.existing(path, 'stat');
    return new ModelStats(id, inode);
  }

  async lstat(path: string): Promise<Stats> {
    const { inode, id } = this.existing(path, 'lstat');
    return new ModelStats(id, inode);
  }

  async realpath(path: string): Promise<string> {
    return this.existing(path, 'realpath').located.path;
  }

  async readdir(path: string): Promise<string[]> {
    const { inode } = this.existing(path, 'scandir');
    if (inode.kind !== 'dir') throw fsError('ENOTDIR', 'scandir', path);
    return [...inode.entries.keys()].sort();
  }

  async readdirEntries(path: string): Promise<DirEntryLike[]> {
    const { inode } = this.existing(path, 'scandir');
    if (inode.kind !== 'dir') throw fsError('ENOTDIR', 'scandir', path);
    return [...inode.entries.keys()].sort().map((name) => {
      const kind = this.live.inodes.get(inode.entries.get(name)!)?.kind;
      return {
        name,
        isFile: () => kind === 'file',
        isDirectory: () => kind === 'dir',
        isSymbolicLink: () => false,
      };
    });
  }

  async fsyncDir(path: string): Promise<void> {
    const { located, inode, id } = this.existing(path, 'fsync');
    if (inode.kind !== 'dir') throw fsError('ENOTDIR', 'fsync', path);
    this.record({ kind: 'fsyncDir', dir: id, path: located.path });
  }
}

class ModelHandle implements FileHandleLike {
  private position = 0;
  private closed = false;

  constructor(
    private readonly fs: RecordingFs,
    private readonly inode: InodeId,
    private readonly path: string,
    private readonly flags: OpenFlags,
  ) {}

  private check(syscall: string): void {
    if (this.closed) throw fsError('EBADF', syscall, this.path);
  }

  async write(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number | null,
  ): Promise<{ bytesWritten: number }> {
    this.check('write');
    if (!this.flags.writable) throw fsError('EBADF', 'write', this.path);
    const at = this.flags.append ? this.fs.sizeOf(this.inode) : (position ?? this.position);
    // Copy: the caller may reuse its buffer, and the trace must keep what was written at the time.
    const bytes = Buffer.from(buffer.subarray(offset, offset + length));
    if (bytes.length > 0) this.fs.recordWrite(this.inode, this.path, at, bytes);
    if (position === null || this.flags.append) this.position = at + bytes.length;
    return { bytesWritten: bytes.length };
  }

  async sync(): Promise<void> {
    this.check('fsync');
    this.fs.recordHandleCall({ kind: 'fsync', inode: this.inode, path: this.path });
  }

  async chmod(mode: number): Promise<void> {
    this.check('fchmod');
    this.fs.recordHandleCall({ kind: 'chmod', inode: this.inode, mode, path: this.path });
  }

  async chown(_uid: number, _gid: number): Promise<void> {
    this.check('fchown');
  }

  async close(): Promise<void> {
    this.check('close');
    this.closed = true;
    this.fs.recordHandleCall({ kind: 'close', inode: this.inode, path: this.path });
    this.fs.released(this.inode);
  }
}
