import type { FileHandleLike, FolderHandleLike, FsLike } from '../fs';

/**
 * Linux `f_type` magic numbers of the file systems on which an fstat of an open file and the close of a folder never
 * wait for a disk or a server: the inode of an open file is in memory, and closing a folder flushes nothing. On
 * these the write path makes those two calls synchronously (2–5 µs) instead of through the thread pool (25–80 µs of
 * main-thread time each). Everything else (NFS, FUSE, CIFS, overlayfs, unknown) keeps the asynchronous calls: a
 * synchronous call to a hung server would freeze the caller's thread.
 */
export const LOCAL_DISK_TYPES: ReadonlyMap<number, string> = new Map([
  [0xef53, 'ext2/3/4'],
  [0x58465342, 'xfs'],
  [0x9123683e, 'btrfs'],
  [0x01021994, 'tmpfs'],
  [0xf2f52010, 'f2fs'],
]);

/**
 * How long a verdict holds. A device number is reused after an unmount (tmpfs and btrfs take the lowest free
 * anonymous one, as NFS and FUSE do), so a verdict is tied to a folder and its target's device, and only for a while:
 * a folder remounted as a network file system within this time is the one case it does not see.
 */
export const LOCAL_DISK_VERDICT_MS = 30_000;
const FOLDERS_REMEMBERED = 1024;

/** Monotonic, so a clock set back never stretches a verdict; replaceable by tests. */
export const localDiskClock = { now: (): number => performance.now() };

interface Verdict {
  local: boolean;
  /** When statfs was asked; a question not answered yet is not local. */
  at: number;
  /** Settles once statfs has answered (never rejects). */
  answered: Promise<void>;
}

interface Verdicts {
  byFolder: Map<string, Verdict>;
  /**
   * One statfs at a time per seam: a slow one (a FUSE daemon asking its cloud for a quota, a hung server) holds one
   * thread-pool thread at most, never the four that every file call of the process shares.
   */
  asking: boolean;
}

/** Per folder and its target's device (a bind-mounted target's may differ from the folder's: each has its own). */
const keyOf = (folder: string, dev: number) => `${dev}:${folder}`;

const verdictsByFs = new WeakMap<FsLike, Verdicts>();

/**
 * True only when statfs showed `folder` on a LOCAL_DISK_TYPES file system less than LOCAL_DISK_VERDICT_MS ago, with
 * its target on device `dev` then as now. Never asks itself: unknown means the asynchronous calls.
 */
export function provenLocalDisk(fs: FsLike, folder: string, dev: number): boolean {
  if (process.platform !== 'linux' || !fs.statfs) return false;
  const verdict = verdictsByFs.get(fs)?.byFolder.get(keyOf(folder, dev));
  return verdict?.local === true && localDiskClock.now() - verdict.at < LOCAL_DISK_VERDICT_MS;
}

/**
 * Asks statfs about `folder` when no current verdict is known for it and no question is open; called after a write
 * has finished, so no write waits for it. A failing statfs is a verdict too: not local. The promise settles when the
 * verdict is known (tests wait for it; the write does not).
 */
export function learnLocalDisk(fs: FsLike, folder: string, dev: number): Promise<void> {
  const statfs = fs.statfs;
  if (process.platform !== 'linux' || !statfs) return Promise.resolve();
  let verdicts = verdictsByFs.get(fs);
  if (!verdicts) {
    verdicts = { byFolder: new Map(), asking: false };
    verdictsByFs.set(fs, verdicts);
  }
  const { byFolder } = verdicts;
  const key = keyOf(folder, dev);
  const known = byFolder.get(key);
  const at = localDiskClock.now();
  if (known && at - known.at < LOCAL_DISK_VERDICT_MS) return known.answered;
  if (verdicts.asking) return known?.answered ?? Promise.resolve();
  verdicts.asking = true;
  const verdict: Verdict = { local: false, at, answered: Promise.resolve() };
  // Timed from the question, not the answer: the verdict is no newer than the moment statfs was asked.
  const asking = verdicts;
  verdict.answered = (async () => {
    try {
      verdict.local = LOCAL_DISK_TYPES.has((await statfs.call(fs, folder)).type);
    } catch {
      // Unknown: not local.
    } finally {
      asking.asking = false;
    }
  })();
  byFolder.delete(key);
  byFolder.set(key, verdict);
  if (byFolder.size > FOLDERS_REMEMBERED) byFolder.delete(byFolder.keys().next().value!);
  return verdict.answered;
}

/**
 * fstat of an open file (the caller has checked the handle offers one), synchronous on a proven local disk: the inode
 * of an open file is in memory.
 */
export async function statOpenFile(
  handle: FileHandleLike,
  localDisk: boolean,
): Promise<{ mode: number; uid: number; gid: number }> {
  return localDisk && handle.statSync ? handle.statSync() : handle.stat!();
}

/** Closes a folder held open, synchronously on a proven local disk (closing a folder flushes nothing). */
export async function closeFolderHandle(folder: FolderHandleLike, localDisk: boolean): Promise<void> {
  // Awaited (or synchronous): the descriptor counts until its close returns (see nodeFs.fsyncDir).
  if (localDisk && folder.closeSync) folder.closeSync();
  else await folder.close();
}

/** fsync of a folder held open, then its close. */
export async function syncAndClose(folder: FolderHandleLike, localDisk: boolean): Promise<void> {
  try {
    await folder.sync();
  } finally {
    await closeFolderHandle(folder, localDisk);
  }
}

/** fsyncDir, with the folder's close made synchronously where `localDisk` is proven. */
export async function fsyncFolder(fs: FsLike, path: string, localDisk: boolean): Promise<void> {
  if (!localDisk || !fs.openFolder) return fs.fsyncDir(path);
  return syncAndClose(await fs.openFolder(path), true);
}
