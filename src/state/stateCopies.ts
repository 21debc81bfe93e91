// The copies src/state keeps, as sources for the copies model (src/core/copies): the numbered backups
// `backups/<name>.bak-<n>` and the preserved `backups/<name>.damaged-<time>` beside a document (the To-Do list's),
// settings snapshots of `.vscode/settings.json`, and the pre-save copies of `crashSafeSave.files` (preSaveCopies.ts).
// Core cannot import state, so callers pass these as `extraFinders`.
import { basename, dirname, join } from 'node:path';
import {
  CopyChangedError,
  type CopyFinder,
  type FinderResult,
  type FoundCopy,
  loadFileCopy,
} from '../core/copies/copyModel';
import { messageOf } from '../core/errors';
import { exactNames } from '../core/folderListing';
import { errnoOf } from '../core/fs';
import { isShortStemOf } from '../core/names/tempNames';
import { DEFAULT_DURABILITY } from '../core/write/durability';
import { preSaveCopyFinder } from './preSaveCopies';
import { SnapshotFolder, snapshotBytes } from './snapshotFolder';
import { DEFAULT_SNAPSHOTS_RELATIVE_DIR } from './snapshots';
import { TodosBackups } from './todosBackups';

const DAMAGED_NAME = /^(?<stem>.+)\.damaged-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}Z$/s;

/** `backups/<name>.bak-<n>` (newest generation first) and `backups/<name>.damaged-<time>` beside the target. */
export const todosBackupFinder: CopyFinder = {
  source: 'backup',
  async find({ fs, target }): Promise<FinderResult> {
    const copies: FoundCopy[] = [];
    const notes: string[] = [];
    const backups = new TodosBackups(target, { fs, durability: DEFAULT_DURABILITY, keep: 1 });
    let generations: Awaited<ReturnType<TodosBackups['generations']>> = [];
    try {
      generations = await backups.generations();
    } catch (error) {
      if (errnoOf(error) !== 'ENOTDIR') notes.push(`backups: cannot list ${backups.dir}: ${messageOf(error)}`);
    }
    const fileCopy = async (path: string, kind: string, label: string): Promise<void> => {
      try {
        const stats = await fs.lstat(path);
        if (!stats.isFile()) return; // a symlink or a folder is nobody's backup
        copies.push({
          kind,
          label,
          time: stats.mtimeMs,
          path,
          where: path,
          size: stats.size,
          load: () => loadFileCopy(fs, path),
        });
      } catch {
        // Gone since the listing.
      }
    };
    for (const { path, generation } of [...generations].reverse()) {
      await fileCopy(path, 'todos-backup', `backup ${generation}`);
    }
    let names: string[] = [];
    try {
      ({ names } = await exactNames(fs, backups.dir));
    } catch {
      names = []; // no backups folder: nothing kept
    }
    const targetName = basename(target);
    for (const name of names.sort().reverse()) {
      const stem = DAMAGED_NAME.exec(name)?.groups?.stem;
      if (stem === targetName || (stem !== undefined && isShortStemOf(stem, targetName))) {
        await fileCopy(join(backups.dir, name), 'todos-damaged', 'kept damaged file (.damaged-…)');
      }
    }
    return { copies, notes };
  },
};

/** Settings snapshots of `<folder>/.vscode/settings.json`, in `<folder>/.vscode/crash-safe/settings-snapshots`. */
export function settingsSnapshotFinder(snapshotsDir?: string): CopyFinder {
  return {
    source: 'backup',
    async find({ fs, target }): Promise<FinderResult> {
      if (basename(target) !== 'settings.json' || basename(dirname(target)) !== '.vscode') {
        return { copies: [], notes: [] };
      }
      const dir = snapshotsDir ?? join(dirname(dirname(target)), DEFAULT_SNAPSHOTS_RELATIVE_DIR);
      const folder = new SnapshotFolder(dir, fs);
      const copies: FoundCopy[] = [];
      const notes: string[] = [];
      let ids: string[];
      try {
        ids = await folder.ids();
      } catch (error) {
        return { copies, notes: [`settings snapshots: cannot list ${dir}: ${messageOf(error)}`] };
      }
      const load = async (id: string): Promise<Buffer> => {
        const path = folder.pathOf(id);
        // Not through a symlink, as every other copy.
        if (!(await fs.lstat(path)).isFile()) throw new CopyChangedError(path, 'is not a regular file');
        const bytes = snapshotBytes((await folder.loadOne(id)).document);
        if (bytes === null) throw new CopyChangedError(path, 'records that settings.json did not exist');
        return bytes;
      };
      for (const id of ids.reverse()) {
        const path = folder.pathOf(id);
        try {
          const loaded = await folder.loadOne(id);
          if (loaded.document.settingsText === null) continue; // a snapshot of no file is no copy
          const time = Date.parse(loaded.document.takenAt);
          copies.push({
            kind: 'settings-snapshot',
            label: 'settings snapshot',
            time: Number.isNaN(time) ? undefined : time,
            path,
            where: `${path} (settings snapshot)`,
            detail: loaded.document.reason,
            load: () => load(id),
          });
        } catch (error) {
          notes.push(`settings snapshot ${path}: ${messageOf(error)}`);
        }
      }
      return { copies, notes };
    },
  };
}

/** src/state's sources, for `findCopies(target, { extraFinders: stateCopyFinders() })`. */
export function stateCopyFinders(options: { snapshotsDir?: string } = {}): CopyFinder[] {
  return [todosBackupFinder, settingsSnapshotFinder(options.snapshotsDir), preSaveCopyFinder];
}
