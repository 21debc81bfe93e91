import { dirname, resolve } from 'node:path';
import { errnoOf, type FsLike, fsyncsDirectories, nodeFs } from '../fs';

/** The folders between `directory` and its nearest existing ancestor, outermost first; throws ENOTDIR on a file. */
export async function missingFolders(directory: string, fs: FsLike = nodeFs): Promise<string[]> {
  const missing: string[] = [];
  for (let dir = resolve(directory); ; dir = dirname(dir)) {
    try {
      const stats = await fs.stat(dir);
      if (!stats.isDirectory()) {
        throw Object.assign(new Error(`${dir} is not a directory`), { code: 'ENOTDIR', path: dir, syscall: 'mkdir' });
      }
      return missing.reverse();
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT' || dirname(dir) === dir) throw error;
      missing.push(dir);
    }
  }
}

/**
 * Creates `directory` and any missing parents, one level at a time: Node's recursive mkdir reports ENOENT where the
 * real cause is EROFS or EACCES. With `durable`, fsyncs the parent of each new folder so it survives a power cut.
 */
export async function ensureDirectory(directory: string, fs: FsLike = nodeFs, durable = true): Promise<void> {
  const missing = await missingFolders(directory, fs);
  for (const dir of missing) {
    try {
      await fs.mkdir(dir);
    } catch (error) {
      if (errnoOf(error) !== 'EEXIST') throw error; // another writer made it first
    }
  }
  if (durable && fsyncsDirectories()) {
    for (const dir of missing) await fs.fsyncDir(dirname(dir));
  }
}
