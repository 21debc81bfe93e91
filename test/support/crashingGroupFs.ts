import { type GroupFs, nodeGroupFs } from '../../src/core/groups/groupJournal';
import { SimulatedCrash } from './fuseLikeFs';

/** The real disk until `crashAfter` disk-changing calls have been made; every such call after that throws. */
export class CrashingGroupFs {
  steps = 0;
  constructor(private readonly crashAfter: number) {}
  private step(what: string): void {
    if (this.steps >= this.crashAfter) throw new SimulatedCrash(`crashed before ${what}`);
    this.steps += 1;
  }
  get fs(): GroupFs {
    const step = (what: string) => this.step(what);
    return {
      ...nodeGroupFs,
      open: async (path, flags, mode) => {
        step(`open ${path}`);
        const handle = await nodeGroupFs.open(path, flags, mode);
        return {
          write: async (buffer, offset, length, position) => {
            step(`write ${path}`);
            return handle.write(buffer, offset, length, position);
          },
          sync: async () => {
            step(`fsync ${path}`);
            return handle.sync();
          },
          chmod: (mode) => handle.chmod(mode),
          chown: (uid, gid) => handle.chown(uid, gid),
          close: () => handle.close(),
        };
      },
      rename: async (from, to) => {
        step(`rename ${to}`);
        return nodeGroupFs.rename(from, to);
      },
      link: async (existing, newPath) => {
        step(`link ${newPath}`);
        return nodeGroupFs.link!(existing, newPath);
      },
      unlink: async (path) => {
        step(`unlink ${path}`);
        return nodeGroupFs.unlink(path);
      },
      unlinkChecked: async (dir, name, folder, file) => {
        step(`unlink ${dir}/${name}`);
        return nodeGroupFs.unlinkChecked!(dir, name, folder, file);
      },
      fsyncDir: async (path) => {
        step(`fsync ${path}`);
        return nodeGroupFs.fsyncDir(path);
      },
    };
  }
}
