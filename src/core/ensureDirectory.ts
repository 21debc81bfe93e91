import { dirname, resolve } from 'node:path';
import { errnoOf, type FsLike, nodeFs } from './fs';

/**
 * Creates `directory` and any missing parents; with `durable`, fsyncs the parent of each new directory
 * so the new entries survive a power cut (as the atomic writer does for a target's parents).
 */
export async function ensureDirectory(directory: string, fs: FsLike = nodeFs, durable = true): Promise<void> {
  const target = resolve(directory);
  const missing: string[] = [];
  for (let dir = target; ; dir = dirname(dir)) {
    try {
      const stats = await fs.stat(dir);
      if (!stats.isDirectory()) {
        throw Object.assign(new Error(`${dir} is not a directory`), { code: 'ENOTDIR', path: dir });
      }
      break;
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT' || dirname(dir) === dir) throw error;
      missing.push(dir);
    }
  }
  if (missing.length === 0) return;
  await fs.mkdir(target, { recursive: true });
  if (durable && process.platform !== 'win32') {
    for (const dir of missing.reverse()) await fs.fsyncDir(dirname(dir));
  }
}
