// Deliberately broken copies of the write path and of recovery. They exist only to prove the checker can fail:
// each bug is one the literature (and the peers' sources) shows real code making. src/ is never edited for this.
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { errnoOf, type FileHandleLike, type FsLike } from '../../../src/core/fs';
import { ourTempPath, parseOurTempName } from '../../../src/core/names/tempNames';
import { writeFileAtomic } from '../../../src/core/write/atomicWrite';
import { ensureDirectory } from '../../../src/core/write/ensureDirectory';

export type WritePathBug =
  /** No bug: the copy must pass every state, so failures of the others are the bug's doing. */
  | 'none'
  /** The temp is renamed over the target without fsync: the rename can reach disk before the data. */
  | 'no-file-fsync'
  /** No fsync of the directory: the rename can be lost after the caller was told the write is durable. */
  | 'no-dir-fsync'
  /** The temp is copied into the target (truncate + write) and then unlinked, instead of renamed. */
  | 'copy-then-unlink'
  /** The temp goes to os.tmpdir(): rename fails with EXDEV and the code falls back to a copy, as `mv` does. */
  | 'temp-in-tmpdir'
  /**
   * The old target is held open across the rename (as our write path once did, for a rollback): on FUSE and NFS
   * that rename takes two steps, and a crash between them leaves no target.
   */
  | 'hold-target-open';

async function writeAll(handle: FileHandleLike, bytes: Buffer): Promise<void> {
  for (let offset = 0; offset < bytes.length; ) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset, offset);
    offset += bytesWritten;
  }
}

/** Copies `from` over `to` in place (truncating it first), fsyncs, and removes `from`. */
async function copyThenUnlink(fs: FsLike, from: string, to: string): Promise<void> {
  const bytes = await fs.readFile(from);
  const out = await fs.open(to, 'w');
  await writeAll(out, bytes);
  await out.sync();
  await out.close();
  await fs.unlink(from);
}

/**
 * A copy of the durable write sequence (temp → write → fsync → close → rename → fsync dir) with `bug` switched on.
 * With bug 'none' it is the same sequence as writeFileAtomic, minus error handling the crash model does not need.
 */
export async function writeWithBug(
  target: string,
  data: string,
  options: { fs: FsLike; bug: WritePathBug; createParents?: boolean },
): Promise<void> {
  const { fs, bug } = options;
  if (options.createParents) await ensureDirectory(dirname(target), fs);
  const temp = bug === 'temp-in-tmpdir' ? join(tmpdir(), basename(ourTempPath(target))) : ourTempPath(target);
  const handle = await fs.open(temp, 'wx', 0o600);
  await writeAll(handle, Buffer.from(data, 'utf8'));
  if (bug !== 'no-file-fsync') await handle.sync();
  await handle.close();
  const held = bug === 'hold-target-open' ? await fs.open(target, 'r').catch(() => undefined) : undefined;
  if (bug === 'copy-then-unlink') {
    await copyThenUnlink(fs, temp, target);
  } else {
    try {
      await fs.rename(temp, target);
    } catch (error) {
      if (errnoOf(error) !== 'EXDEV') throw error;
      await copyThenUnlink(fs, temp, target);
    }
  }
  if (bug !== 'no-dir-fsync') await fs.fsyncDir(dirname(target));
  await held?.close();
}

/**
 * A copy of orphan recovery that skips validation: it promotes the newest of our temps of `target` by mtime,
 * whatever it holds. Returns the promoted path.
 */
export async function recoverWithoutValidation(fs: FsLike, target: string): Promise<string | undefined> {
  const dir = dirname(target);
  const temps: Array<{ path: string; mtimeMs: number }> = [];
  for (const name of await fs.readdir(dir)) {
    if (parseOurTempName(name)?.target !== basename(target)) continue;
    const path = join(dir, name);
    temps.push({ path, mtimeMs: (await fs.stat(path)).mtimeMs });
  }
  const newest = temps.sort((a, b) => b.mtimeMs - a.mtimeMs)[0];
  if (!newest) return undefined;
  await writeFileAtomic(target, await fs.readFile(newest.path), { fs });
  return newest.path;
}

/**
 * A copy of CoalescingWriter (src/core/json/coalescingWriter.ts) with one bug: when a write lands it also tells the
 * callers queued behind it that they are durable, before the write carrying their value has even started.
 */
export class EarlyAckWriter<T> {
  private pending: { value: T; waiters: Array<() => void> } | undefined;
  private writing = false;

  constructor(private readonly writeValue: (value: T) => Promise<void>) {}

  write(value: T): Promise<void> {
    return new Promise<void>((resolveWrite) => {
      if (this.pending) {
        this.pending.value = value;
        this.pending.waiters.push(resolveWrite);
      } else {
        this.pending = { value, waiters: [resolveWrite] };
      }
      this.pump();
    });
  }

  private pump(): void {
    const batch = this.pending;
    if (this.writing || !batch) return;
    this.pending = undefined;
    this.writing = true;
    void this.writeValue(batch.value).then(() => {
      this.writing = false;
      const early = this.pending?.waiters.splice(0) ?? [];
      for (const notify of [...batch.waiters, ...early]) notify();
      this.pump();
    });
  }
}
