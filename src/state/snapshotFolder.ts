import { join } from 'node:path';
import type { Durability } from '../core/atomicWrite';
import { fileSafeTime } from '../core/fileTime';
import { errnoOf, type FsLike } from '../core/fs';
import { classifyJsonText, describeReadProblem, type JsonSchema, writeJson } from '../core/jsonStore';
import { changedSettingKeys, type SettingValues } from './settingsValues';

export const SNAPSHOT_FORMAT_VERSION = 1;

/** What one snapshot file holds. */
export interface SettingsSnapshotDocument {
  version: typeof SNAPSHOT_FORMAT_VERSION;
  /** ISO time the snapshot was taken. */
  takenAt: string;
  /** Why it was taken: `command`, `cli`, `auto`, `before-restore`, … */
  reason: string;
  /** The raw text of settings.json as written (comments and all); null when the file did not exist. */
  settingsText: string | null;
  /** The effective workspace-scope values (from VS Code, or parsed from settingsText). */
  values: SettingValues;
  /** JSONC problems in settingsText as `line:column message`; the text is kept regardless. */
  parseErrors?: string[];
}

export const settingsSnapshotSchema: JsonSchema = {
  type: 'object',
  required: ['version', 'takenAt', 'reason', 'settingsText', 'values'],
  properties: {
    version: { const: SNAPSHOT_FORMAT_VERSION },
    takenAt: { type: 'string', minLength: 1 },
    reason: { type: 'string' },
    settingsText: { type: ['string', 'null'] },
    values: { type: 'object' },
    parseErrors: { type: 'array', items: { type: 'string' } },
  },
};

/** One snapshot as listed: newest first, with the keys that changed against the snapshot before it. */
export interface SnapshotSummary {
  /** The file name without `.json`: a file-name-safe ISO time such as `2024-05-01T12-30-05.123Z`. */
  id: string;
  path: string;
  takenAt: string;
  reason: string;
  /** Setting ids whose values differ from the previous (older) valid snapshot; every key for the oldest. */
  changedKeys: string[];
  /** True when the raw text differs from the previous snapshot's (a comment-only edit changes no key). */
  textChanged: boolean;
  previousId?: string;
  settingsExisted: boolean;
}

/** A snapshot file that cannot be read; listed so it is visible, never restored. */
export interface DamagedSnapshot {
  id: string;
  path: string;
  problem: string;
}

/** A snapshot id or file cannot be used. */
export class SnapshotError extends Error {
  override readonly name = 'SnapshotError';
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
  }
}

const SNAPSHOT_ID = /^(?<date>\d{4}-\d{2}-\d{2})T(?<h>\d{2})-(?<m>\d{2})-(?<s>\d{2})\.(?<ms>\d{3})Z$/;

/** A file-name-safe ISO time: colons become hyphens, which sorts the same as the ISO string. */
export function snapshotIdFor(date: Date): string {
  return fileSafeTime(date, { millisSeparator: '.' });
}

/** The time a snapshot id names, or undefined if it is not one. */
export function snapshotIdTime(id: string): Date | undefined {
  const match = SNAPSHOT_ID.exec(id);
  if (!match?.groups) return undefined;
  const { date, h, m, s, ms } = match.groups;
  const time = new Date(`${date}T${h}:${m}:${s}.${ms}Z`);
  return Number.isNaN(time.getTime()) ? undefined : time;
}

export interface LoadedSnapshot {
  id: string;
  path: string;
  document: SettingsSnapshotDocument;
}

/**
 * The snapshot files of one folder, `<id>.json` each: listing, reading, writing and pruning them. Callers hold the
 * folder's lock (SettingsSnapshots does).
 */
export class SnapshotFolder {
  constructor(
    readonly dir: string,
    private readonly fs: FsLike,
  ) {}

  pathOf(id: string): string {
    return join(this.dir, `${id}.json`);
  }

  /** Snapshot ids present in the folder, oldest first. */
  async ids(): Promise<string[]> {
    let names: string[];
    try {
      names = await this.fs.readdir(this.dir);
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return [];
      throw error;
    }
    return names
      .filter((name) => name.endsWith('.json'))
      .map((name) => name.slice(0, -'.json'.length))
      .filter((id) => snapshotIdTime(id) !== undefined)
      .sort();
  }

  async loadAll(): Promise<{ valid: LoadedSnapshot[]; damaged: DamagedSnapshot[] }> {
    const valid: LoadedSnapshot[] = [];
    const damaged: DamagedSnapshot[] = [];
    for (const id of await this.ids()) {
      const loaded = await this.parse(id);
      if ('problem' in loaded) damaged.push(loaded);
      else valid.push(loaded);
    }
    return { valid, damaged };
  }

  async loadOne(id: string): Promise<LoadedSnapshot> {
    if (snapshotIdTime(id) === undefined) {
      throw new SnapshotError(`"${id}" is not a snapshot id (expected a time like 2024-05-01T12-30-05.123Z)`, this.dir);
    }
    const loaded = await this.parse(id);
    if ('problem' in loaded) throw new SnapshotError(loaded.problem, loaded.path);
    return loaded;
  }

  async write(id: string, document: SettingsSnapshotDocument, durability: Durability): Promise<LoadedSnapshot> {
    const path = this.pathOf(id);
    await writeJson(path, document, { schema: settingsSnapshotSchema, durability, fs: this.fs });
    return { id, path, document };
  }

  /**
   * Deletes the oldest snapshot files beyond `keep` (damaged ones count too: they are ours and dated), never a
   * protected one, even if that leaves more than `keep`.
   */
  async prune(keep: number, protectedIds: ReadonlySet<string>): Promise<string[]> {
    const ids = await this.ids();
    const excess = ids.filter((id) => !protectedIds.has(id)).slice(0, Math.max(0, ids.length - keep));
    for (const id of excess) {
      try {
        await this.fs.unlink(this.pathOf(id));
      } catch (error) {
        if (errnoOf(error) !== 'ENOENT') throw error;
      }
    }
    return excess;
  }

  private async parse(id: string): Promise<LoadedSnapshot | DamagedSnapshot> {
    const path = this.pathOf(id);
    let text: string;
    try {
      text = (await this.fs.readFile(path)).toString('utf8');
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return { id, path, problem: `No snapshot "${id}" in ${this.dir}` };
      return { id, path, problem: `Cannot read ${path}: ${String(error)}` };
    }
    const classified = classifyJsonText<SettingsSnapshotDocument>(path, text, settingsSnapshotSchema);
    if (classified.state !== 'valid') return { id, path, problem: describeReadProblem(classified) };
    return { id, path, document: classified.value };
  }
}

/** Summaries in the order given (oldest first), each compared with the one before it. */
export function summarise(snapshots: LoadedSnapshot[]): SnapshotSummary[] {
  return snapshots.map((snapshot, index) => {
    const previous = snapshots[index - 1];
    const summary: SnapshotSummary = {
      id: snapshot.id,
      path: snapshot.path,
      takenAt: snapshot.document.takenAt,
      reason: snapshot.document.reason,
      changedKeys: changedSettingKeys(previous?.document.values ?? {}, snapshot.document.values),
      textChanged: previous === undefined || previous.document.settingsText !== snapshot.document.settingsText,
      settingsExisted: snapshot.document.settingsText !== null,
    };
    if (previous) summary.previousId = previous.id;
    return summary;
  });
}
