// The on-disk picture the model reasons about: inodes, directory entries, and the operations that change them.
// One `applyOperation` serves both the live (volatile) view and the replay of a crash state, so the two cannot drift.
import { createHash } from 'node:crypto';

/** Page-cache writeback granularity: un-fsynced data persists, or not, in whole 4 KiB blocks. */
export const BLOCK_SIZE = 4096;

export type InodeId = number;

export interface FileInode {
  kind: 'file';
  data: Buffer;
  mode: number;
  mtimeMs: number;
  device: string;
}

export interface DirInode {
  kind: 'dir';
  entries: Map<string, InodeId>;
  mode: number;
  mtimeMs: number;
  device: string;
}

export type Inode = FileInode | DirInode;

/** A whole file-system tree. Buffers are never mutated in place, so clones may share them. */
export interface FsImage {
  inodes: Map<InodeId, Inode>;
  root: InodeId;
  /** Directories mounted from a RAM file system (tmpfs): everything under them is gone after a crash. */
  tmpfsRoots: Set<InodeId>;
  nextInode: InodeId;
}

/** A directory operation: it becomes durable with an fsync of its directory, and may be lost before that. */
export type DirectoryOperation =
  | { kind: 'create'; dir: InodeId; name: string; inode: InodeId; path: string; mode: number; device: string }
  | { kind: 'mkdir'; dir: InodeId; name: string; inode: InodeId; path: string; mode: number; device: string }
  | { kind: 'link'; dir: InodeId; name: string; inode: InodeId; path: string; from: string }
  | { kind: 'unlink'; dir: InodeId; name: string; inode: InodeId; path: string }
  | {
      kind: 'rename';
      fromDir: InodeId;
      fromName: string;
      toDir: InodeId;
      toName: string;
      inode: InodeId;
      from: string;
      path: string;
    };

/** A data operation on one inode: it becomes durable with an fsync of that file, and may be lost or torn before that. */
export type DataOperation =
  | { kind: 'write'; inode: InodeId; offset: number; bytes: Buffer; path: string }
  | { kind: 'truncate'; inode: InodeId; size: number; path: string };

/** Calls with no persistence effect of their own, kept so a trace reads like the program that made it. */
export type OtherOperation =
  | { kind: 'fsync'; inode: InodeId; path: string }
  | { kind: 'fsyncDir'; dir: InodeId; path: string }
  | { kind: 'open'; inode: InodeId; path: string; flags: string }
  | { kind: 'close'; inode: InodeId; path: string }
  | { kind: 'chmod'; inode: InodeId; mode: number; path: string }
  | { kind: 'mark'; label: string; detail: string };

export type TraceOperation = DirectoryOperation | DataOperation | OtherOperation;

/** One recorded call and the logical time it happened (the mtime it gives what it touches). */
export interface TraceEntry {
  op: TraceOperation;
  at: number;
}

/** How one unit of un-fsynced work ends up on disk after the crash. */
export type Fate = 'persisted' | 'lost' | 'zeroed';

const DIRECTORY_KINDS = new Set(['create', 'mkdir', 'link', 'unlink', 'rename']);

export function isDirectoryOperation(op: TraceOperation): op is DirectoryOperation {
  return DIRECTORY_KINDS.has(op.kind);
}

export function isDataOperation(op: TraceOperation): op is DataOperation {
  return op.kind === 'write' || op.kind === 'truncate';
}

/** The directories whose fsync makes `op` durable. A rename is one journal transaction, so either end's fsync commits it. */
export function directoriesOf(op: DirectoryOperation): InodeId[] {
  return op.kind === 'rename' ? [op.fromDir, op.toDir] : [op.dir];
}

/** The [start, end) pieces of a write, cut at 4 KiB block boundaries. */
export function blocksOf(offset: number, length: number): Array<[number, number]> {
  const pieces: Array<[number, number]> = [];
  let start = offset;
  const end = offset + length;
  while (start < end) {
    const blockEnd = Math.min(end, (Math.floor(start / BLOCK_SIZE) + 1) * BLOCK_SIZE);
    pieces.push([start, blockEnd]);
    start = blockEnd;
  }
  return pieces;
}

/** A copy whose inode objects and entry maps are fresh; buffers are shared (never mutated). */
export function cloneImage(image: FsImage): FsImage {
  const inodes = new Map<InodeId, Inode>();
  for (const [id, inode] of image.inodes) {
    inodes.set(id, inode.kind === 'dir' ? { ...inode, entries: new Map(inode.entries) } : { ...inode });
  }
  return { inodes, root: image.root, tmpfsRoots: new Set(image.tmpfsRoots), nextInode: image.nextInode };
}

/** An image holding only an empty root directory. */
export function emptyImage(): FsImage {
  const root: DirInode = { kind: 'dir', entries: new Map(), mode: 0o755, mtimeMs: 0, device: 'disk' };
  return { inodes: new Map([[1, root]]), root: 1, tmpfsRoots: new Set(), nextInode: 2 };
}

function dirOf(image: FsImage, id: InodeId): DirInode | undefined {
  const inode = image.inodes.get(id);
  return inode?.kind === 'dir' ? inode : undefined;
}

function fileOf(image: FsImage, id: InodeId): FileInode | undefined {
  const inode = image.inodes.get(id);
  return inode?.kind === 'file' ? inode : undefined;
}

/** Writes `bytes` at `offset`, growing the file and filling any gap with zeros (a hole). */
function spliceData(data: Buffer, offset: number, bytes: Buffer): Buffer {
  const size = Math.max(data.length, offset + bytes.length);
  const next = Buffer.alloc(size);
  data.copy(next, 0, 0, data.length);
  bytes.copy(next, offset);
  return next;
}

/** An operation with no fate given (the live view) is persisted. */
function persisted(fates: readonly Fate[]): boolean {
  return (fates[0] ?? 'persisted') === 'persisted';
}

/**
 * Applies one operation to `image`. `fates` gives, per 4 KiB piece of a write (or the single unit of any other
 * operation), whether it persisted; the live view passes all-persisted. Directory operations act on inodes, not
 * on whatever a name points to, so replaying a subset of them is always well defined.
 */
export function applyOperation(image: FsImage, op: TraceOperation, fates: readonly Fate[], mtimeMs: number): void {
  switch (op.kind) {
    case 'create':
    case 'mkdir': {
      // The inode exists whatever happens to its name: a later rename that persists can still reach it.
      if (!image.inodes.has(op.inode)) {
        image.inodes.set(
          op.inode,
          op.kind === 'create'
            ? { kind: 'file', data: Buffer.alloc(0), mode: op.mode, mtimeMs, device: op.device }
            : { kind: 'dir', entries: new Map(), mode: op.mode, mtimeMs, device: op.device },
        );
        image.nextInode = Math.max(image.nextInode, op.inode + 1);
      }
      if (!persisted(fates)) return;
      dirOf(image, op.dir)?.entries.set(op.name, op.inode);
      return;
    }
    case 'link': {
      if (!persisted(fates)) return;
      dirOf(image, op.dir)?.entries.set(op.name, op.inode);
      return;
    }
    case 'unlink': {
      if (!persisted(fates)) return;
      const dir = dirOf(image, op.dir);
      if (dir?.entries.get(op.name) === op.inode) dir.entries.delete(op.name);
      return;
    }
    case 'rename': {
      if (!persisted(fates)) return;
      const from = dirOf(image, op.fromDir);
      if (from?.entries.get(op.fromName) === op.inode) from.entries.delete(op.fromName);
      dirOf(image, op.toDir)?.entries.set(op.toName, op.inode);
      return;
    }
    case 'write': {
      const file = fileOf(image, op.inode);
      if (!file) return;
      const pieces = blocksOf(op.offset, op.bytes.length);
      let data = file.data;
      let touched = false;
      pieces.forEach(([start, end], index) => {
        const fate = fates[index] ?? 'persisted';
        if (fate === 'lost') return;
        const slice = op.bytes.subarray(start - op.offset, end - op.offset);
        // Zeroed: the size reached disk but the data block did not (delayed allocation, writeback mode).
        data = spliceData(data, start, fate === 'zeroed' ? Buffer.alloc(slice.length) : slice);
        touched = true;
      });
      if (touched) image.inodes.set(op.inode, { ...file, data, mtimeMs });
      return;
    }
    case 'truncate': {
      if (!persisted(fates)) return;
      const file = fileOf(image, op.inode);
      if (!file) return;
      const data =
        op.size <= file.data.length ? file.data.subarray(0, op.size) : spliceData(file.data, op.size, Buffer.alloc(0));
      image.inodes.set(op.inode, { ...file, data, mtimeMs });
      return;
    }
    case 'chmod': {
      // Permission bits are not part of what the checker judges, so they are applied as if always durable.
      const inode = image.inodes.get(op.inode);
      if (inode) image.inodes.set(op.inode, { ...inode, mode: op.mode } as Inode);
      return;
    }
    default:
      return;
  }
}

/** After a power cut, RAM file systems come back empty. */
export function wipeTmpfs(image: FsImage): void {
  for (const id of image.tmpfsRoots) dirOf(image, id)?.entries.clear();
}

/** A digest of everything reachable from the root: names, kinds, contents and mtimes. Equal digests behave alike. */
export function fingerprint(image: FsImage): string {
  const hash = createHash('sha1');
  const walk = (id: InodeId, path: string, depth: number): void => {
    const inode = image.inodes.get(id);
    if (!inode || depth > 64) return;
    if (inode.kind === 'file') {
      hash.update(`F${path}\0${inode.mtimeMs}\0${inode.data.length}\0`);
      hash.update(inode.data);
      return;
    }
    hash.update(`D${path}\0`);
    for (const name of [...inode.entries.keys()].sort()) walk(inode.entries.get(name)!, `${path}/${name}`, depth + 1);
  };
  walk(image.root, '', 0);
  return hash.digest('hex');
}

/** Every regular file reachable from the root, by absolute path. */
export function listFiles(image: FsImage): Map<string, FileInode> {
  const files = new Map<string, FileInode>();
  const walk = (id: InodeId, path: string, depth: number): void => {
    const inode = image.inodes.get(id);
    if (!inode || depth > 64) return;
    if (inode.kind === 'file') {
      files.set(path || '/', inode);
      return;
    }
    for (const [name, child] of inode.entries) walk(child, `${path}/${name}`, depth + 1);
  };
  walk(image.root, '', 0);
  return files;
}

/** One line naming an operation, for violation reports. */
export function describeOperation(op: TraceOperation): string {
  switch (op.kind) {
    case 'create':
      return `create ${op.path}`;
    case 'mkdir':
      return `mkdir ${op.path}`;
    case 'link':
      return `link ${op.from} -> ${op.path}`;
    case 'unlink':
      return `unlink ${op.path}`;
    case 'rename':
      return `rename ${op.from} -> ${op.path}`;
    case 'write':
      return `write ${op.path} [${op.offset}, ${op.offset + op.bytes.length})`;
    case 'truncate':
      return `truncate ${op.path} to ${op.size}`;
    case 'fsync':
      return `fsync ${op.path}`;
    case 'fsyncDir':
      return `fsync dir ${op.path}`;
    case 'open':
      return `open ${op.path} (${op.flags})`;
    case 'close':
      return `close ${op.path}`;
    case 'chmod':
      return `chmod ${op.path} ${op.mode.toString(8)}`;
    case 'mark':
      return `-- ${op.label} ${op.detail}`;
  }
}
