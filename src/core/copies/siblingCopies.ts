// Copies that sit beside the target: the temps a crashed writer left (recognised exactly as recover recognises them)
// and the backups recover keeps (`<target>.corrupt-<time>`, `.replaced-<time>`).
import { basename, dirname, join } from 'node:path';
import { messageOf } from '../errors';
import { exactNames } from '../folderListing';
import { errnoOf } from '../fs';
import { isShortStemOf } from '../names/tempNames';
import { recogniseTempsOf } from '../orphans/recovery';
import { type CopyFinder, type FinderResult, type FoundCopy, loadFileCopy } from './copyModel';

/** The temps of the target, whatever their content (judged later, like every copy). */
export function tempFinder(extraPatterns: string[] | undefined): CopyFinder {
  return {
    source: 'temp',
    async find({ fs, target }): Promise<FinderResult> {
      try {
        const { temps, rejected } = await recogniseTempsOf(target, { fs, extraPatterns });
        const copies = temps.map(
          ({ path, kind, stats }): FoundCopy => ({
            kind,
            label: `temp of ${kind}`,
            time: stats.mtimeMs,
            path,
            where: path,
            size: stats.size,
            load: () => loadFileCopy(fs, path),
          }),
        );
        return { copies, notes: rejected.map(({ path, reason }) => `temp ${path} not read: ${reason}`) };
      } catch (error) {
        return { copies: [], notes: [`temps: ${messageOf(error)}`] };
      }
    },
  };
}

/** recover's backup names, `<name>.corrupt-2025-01-02T03-04-05-678Z` with an optional `-<n>`. */
const RECOVER_BACKUP =
  /^(?<stem>.+)\.(?<label>corrupt|replaced)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z(?:-\d{1,6})?$/s;

/** recover's backups of the target beside it (and beside the real file, where they are written). */
export const recoverBackupFinder: CopyFinder = {
  source: 'backup',
  async find({ fs, target, realTarget }): Promise<FinderResult> {
    const copies: FoundCopy[] = [];
    const notes: string[] = [];
    const places = new Map([[dirname(target), basename(target)]]);
    places.set(dirname(realTarget), basename(realTarget));
    for (const [dir, targetName] of places) {
      let names: string[];
      try {
        ({ names } = await exactNames(fs, dir));
      } catch (error) {
        if (errnoOf(error) !== 'ENOENT') notes.push(`backups: cannot list ${dir}: ${messageOf(error)}`);
        continue;
      }
      for (const name of names) {
        const match = RECOVER_BACKUP.exec(name)?.groups;
        if (!match || (match.stem !== targetName && !isShortStemOf(match.stem!, targetName))) continue;
        const path = join(dir, name);
        let stats: Awaited<ReturnType<typeof fs.lstat>>;
        try {
          stats = await fs.lstat(path);
        } catch {
          continue;
        }
        if (!stats.isFile()) continue; // a symlink or a folder is nobody's backup
        copies.push({
          kind: match.label!,
          label: `backup (.${match.label}-…)`,
          time: stats.mtimeMs,
          path,
          where: path,
          size: stats.size,
          load: () => loadFileCopy(fs, path),
        });
      }
    }
    return { copies, notes };
  },
};
