import { type FileHandleLike, type FsLike, nodeFs } from '../../src/core/fs';

/** Steps at which a FaultyFs can fail. Handle steps apply to every open handle. */
export type FaultStep = 'open' | 'write' | 'sync' | 'chmod' | 'close' | 'rename' | 'fsyncDir' | 'mkdir' | 'unlink';

export interface Fault {
  step: FaultStep;
  code: string;
  /** Fail only this many times, then succeed (default: always). */
  times?: number;
}

/** An errno-style error like the ones node:fs throws. */
export function errnoError(code: string, syscall: string, path?: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`${code}: injected failure, ${syscall}${path ? ` '${path}'` : ''}`);
  error.code = code;
  error.syscall = syscall;
  if (path) error.path = path;
  return error;
}

/**
 * The real file system with injected failures and short writes, for exercising every error path.
 * `maxBytesPerWrite` makes every write short, as a nearly full disk or a signal can.
 */
export class FaultyFs implements FsLike {
  readonly calls: string[] = [];
  private readonly remaining = new Map<Fault, number>();

  constructor(
    private readonly faults: Fault[] = [],
    private readonly options: { maxBytesPerWrite?: number; failWriteAfterBytes?: number } = {},
  ) {
    for (const fault of faults) this.remaining.set(fault, fault.times ?? Number.POSITIVE_INFINITY);
  }

  private maybeFail(step: FaultStep, path?: string): void {
    this.calls.push(step);
    for (const fault of this.faults) {
      if (fault.step !== step) continue;
      const left = this.remaining.get(fault)!;
      if (left <= 0) continue;
      this.remaining.set(fault, left - 1);
      throw errnoError(fault.code, step, path);
    }
  }

  async open(path: string, flags: string | number, mode?: number): Promise<FileHandleLike> {
    this.maybeFail('open', path);
    const handle = await nodeFs.open(path, flags, mode);
    let written = 0;
    return {
      write: async (buffer, offset, length, position) => {
        this.maybeFail('write', path);
        let allowed = Math.min(length, this.options.maxBytesPerWrite ?? length);
        const limit = this.options.failWriteAfterBytes;
        if (limit !== undefined) {
          if (written >= limit) throw errnoError('ENOSPC', 'write', path);
          allowed = Math.min(allowed, limit - written);
        }
        const result = await handle.write(buffer, offset, allowed, position);
        written += result.bytesWritten;
        return result;
      },
      sync: async () => {
        this.maybeFail('sync', path);
        await handle.sync();
      },
      chmod: async (mode) => {
        this.maybeFail('chmod', path);
        await handle.chmod(mode);
      },
      chown: (uid, gid) => handle.chown(uid, gid),
      close: async () => {
        // A failed close still releases the descriptor, as close(2) does.
        await handle.close();
        this.maybeFail('close', path);
      },
    };
  }

  readFile = (path: string) => nodeFs.readFile(path);
  stat = (path: string) => nodeFs.stat(path);
  lstat = (path: string) => nodeFs.lstat(path);
  realpath = (path: string) => nodeFs.realpath(path);
  readdir = (path: string) => nodeFs.readdir(path);

  async rename(from: string, to: string): Promise<void> {
    this.maybeFail('rename', to);
    await nodeFs.rename(from, to);
  }
  async unlink(path: string): Promise<void> {
    this.maybeFail('unlink', path);
    await nodeFs.unlink(path);
  }
  async mkdir(path: string): Promise<void> {
    this.maybeFail('mkdir', path);
    return nodeFs.mkdir(path);
  }
  async fsyncDir(path: string): Promise<void> {
    this.maybeFail('fsyncDir', path);
    await nodeFs.fsyncDir(path);
  }
}
