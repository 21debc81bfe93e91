import { basename, dirname, join } from 'node:path';
import { errnoOf, type FsLike } from '../core/fs';
import { derivedName, isShortStemOf } from '../core/names/tempNames';
import { type Durability, writeFileAtomic } from '../core/write/atomicWrite';

/** Backup generations live in this folder beside the document: `backups/tasks.json.bak-<n>`. */
export const TODOS_BACKUP_FOLDER = 'backups';
export const DEFAULT_BACKUPS_TO_KEEP = 5;

const BACKUP_NAME = /^(?<target>.+)\.bak-(?<generation>\d{1,15})$/s;

export interface BackupGeneration {
  /** Higher is newer. */
  generation: number;
  path: string;
  name: string;
}

export interface TodosBackupsOptions {
  fs: FsLike;
  durability: Durability;
  /** Generations to keep (minimum 1). */
  keep: number;
  /** A generation that could not be pruned. */
  onWarning?: (message: string) => void;
}

/**
 * The numbered copies of what the store wrote, `backups/<name>.bak-<n>`, newest kept: what an unusable document is
 * restored from. Numbers, not times, so two saves within one clock tick still sort.
 */
export class TodosBackups {
  readonly dir: string;

  constructor(
    private readonly target: string,
    private readonly options: TodosBackupsOptions,
  ) {
    this.dir = join(dirname(target), TODOS_BACKUP_FOLDER);
  }

  /**
   * Writes `bytes` as the next generation unless the newest one holds exactly them already. A newest generation
   * that cannot be read (gone, a FIFO, too large) proves nothing, so the bytes are written.
   */
  async keep(bytes: Uint8Array): Promise<void> {
    const newest = (await this.generations()).at(-1);
    if (newest !== undefined) {
      const held = await this.options.fs.readFile(newest.path, bytes.byteLength).catch(() => undefined);
      if (held?.equals(bytes)) return;
    }
    await this.write(bytes);
  }

  /** Writes `text` (kept byte for byte) as the next generation (atomically), then prunes the oldest beyond `keep`. */
  async write(text: string | Uint8Array): Promise<void> {
    const { fs, durability } = this.options;
    const generations = await this.generations();
    const next = (generations.at(-1)?.generation ?? 0) + 1;
    await writeFileAtomic(join(this.dir, derivedName(basename(this.target), `.bak-${next}`)), text, {
      durability,
      createParents: true,
      fs,
    });
    const keep = Math.max(1, Math.trunc(this.options.keep));
    for (const old of generations.slice(0, Math.max(0, generations.length + 1 - keep))) {
      try {
        await fs.unlink(old.path);
      } catch (error) {
        if (errnoOf(error) !== 'ENOENT')
          this.options.onWarning?.(`Could not prune old backup ${old.path}: ${String(error)}`);
      }
    }
  }

  /** Existing generations of this document, oldest first. */
  async generations(): Promise<BackupGeneration[]> {
    let names: string[];
    try {
      names = await this.options.fs.readdir(this.dir);
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return [];
      throw error;
    }
    const target = basename(this.target);
    return (
      names
        .map((name) => ({ name, match: BACKUP_NAME.exec(name) }))
        // `<name>.bak-<n>`, or `<prefix>~<digest>.bak-<n>` for a name too long for that.
        .filter(
          ({ match }) =>
            match?.groups?.target === target || (match?.groups && isShortStemOf(match.groups.target!, target)),
        )
        .map(({ name, match }) => ({ name, generation: Number(match!.groups!.generation), path: join(this.dir, name) }))
        .sort((a, b) => a.generation - b.generation)
    );
  }
}
