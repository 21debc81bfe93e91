// The real file system with libfuse's rename rule: a rename over a file that some handle holds open takes two
// steps, target → `.fuse_hiddenNNNN` in the same folder, then source → target (NFS does the same with `.nfsNNNN`).
// A crash can be injected after any number of steps, including between those two.
import type { FileHandle } from 'node:fs/promises';
import * as fsp from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { FileHandleLike, FsLike } from '../../src/core/fs';
import { nodeFs } from '../../src/core/fs';

/** Thrown by every call from the crash on: the machine is down, so nothing after it reaches the disk. */
export class SimulatedCrash extends Error {
  override readonly name = 'SimulatedCrash';
}

export interface FuseLikeOptions {
  /** Crash once this many disk-changing steps have completed (each half of a two-step rename counts as one). */
  crashAfterSteps?: number;
}

/** libfuse's format: `.fuse_hidden` + node id and a counter, 8 hex digits each. */
function hiddenName(ino: number, counter: number): string {
  const hex = (n: number) => (n >>> 0).toString(16).padStart(8, '0');
  return `.fuse_hidden${hex(ino)}${hex(counter)}`;
}

export class FuseLikeFs implements FsLike {
  /** Every disk-changing step, in order, e.g. `rename state.json -> .fuse_hidden…` (crash points lie between them). */
  readonly steps: string[] = [];
  /** Renames that went through a hidden name because the target was held open. */
  twoStepRenames = 0;
  crashed = false;
  private readonly openCount = new Map<number, number>();
  /** Hidden path of each inode renamed away while open; libfuse unlinks it when the last handle closes. */
  private readonly hidden = new Map<number, string>();
  private readonly hiddenCreated: string[] = [];

  constructor(private readonly options: FuseLikeOptions = {}) {}

  /** Counts one step, crashing instead when the budget is spent. */
  private step(label: string): void {
    if (this.crashed) throw new SimulatedCrash(`crashed before: ${label}`);
    if (this.options.crashAfterSteps !== undefined && this.steps.length >= this.options.crashAfterSteps) {
      this.crashed = true;
      throw new SimulatedCrash(`crash after ${this.steps.length} steps, before: ${label}`);
    }
    this.steps.push(label);
  }

  private alive(): void {
    if (this.crashed) throw new SimulatedCrash('crashed');
  }

  async open(path: string, flags: string | number, mode?: number): Promise<FileHandleLike> {
    this.step(`open ${path} (${String(flags)})`);
    const handle: FileHandle = await fsp.open(path, flags, mode);
    const { ino } = await handle.stat();
    this.openCount.set(ino, (this.openCount.get(ino) ?? 0) + 1);
    return {
      write: async (buffer, offset, length, position) => {
        this.step(`write ${path}`);
        return handle.write(buffer, offset, length, position);
      },
      sync: async () => {
        this.step(`fsync ${path}`);
        await handle.sync();
      },
      chmod: async (m) => {
        this.step(`chmod ${path}`);
        await handle.chmod(m);
      },
      chown: async (uid, gid) => {
        this.alive();
        await handle.chown(uid, gid);
      },
      close: async () => {
        try {
          this.step(`close ${path}`);
        } catch (crash) {
          // The descriptor is freed even so (a test must not leak it); a crashed libfuse removes nothing.
          await handle.close();
          throw crash;
        }
        await handle.close();
        await this.release(ino);
      },
    };
  }

  /** The last close of a hidden inode removes its hidden name, as libfuse's release does. */
  private async release(ino: number): Promise<void> {
    const left = (this.openCount.get(ino) ?? 1) - 1;
    if (left > 0) {
      this.openCount.set(ino, left);
      return;
    }
    this.openCount.delete(ino);
    const hiddenPath = this.hidden.get(ino);
    if (hiddenPath === undefined) return;
    this.hidden.delete(ino);
    this.step(`unlink ${hiddenPath}`);
    await fsp.unlink(hiddenPath);
  }

  async rename(from: string, to: string): Promise<void> {
    this.alive();
    const replaced = await fsp.lstat(to).catch(() => undefined);
    if (replaced && (this.openCount.get(replaced.ino) ?? 0) > 0) {
      const hiddenPath = join(dirname(to), hiddenName(replaced.ino, this.hiddenCreated.length));
      this.step(`rename ${to} -> ${hiddenPath}`);
      await fsp.rename(to, hiddenPath);
      this.hidden.set(replaced.ino, hiddenPath);
      this.hiddenCreated.push(basename(hiddenPath));
      this.twoStepRenames++;
    }
    this.step(`rename ${from} -> ${to}`);
    await fsp.rename(from, to);
  }

  /** The hidden names this seam has created so far (some may be gone again). */
  hiddenNames(): string[] {
    return [...this.hiddenCreated];
  }

  async unlink(path: string): Promise<void> {
    this.step(`unlink ${path}`);
    await fsp.unlink(path);
  }

  async mkdir(path: string): Promise<void> {
    this.step(`mkdir ${path}`);
    await fsp.mkdir(path);
  }

  async fsyncDir(path: string): Promise<void> {
    this.step(`fsync dir ${path}`);
    await nodeFs.fsyncDir(path);
  }

  async readFile(path: string): Promise<Buffer> {
    this.alive();
    return fsp.readFile(path);
  }
  async stat(path: string) {
    this.alive();
    return fsp.stat(path);
  }
  async lstat(path: string) {
    this.alive();
    return fsp.lstat(path);
  }
  async realpath(path: string): Promise<string> {
    this.alive();
    return fsp.realpath(path);
  }
  async readdir(path: string): Promise<string[]> {
    this.alive();
    return fsp.readdir(path);
  }
}
