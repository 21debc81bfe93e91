// Settings snapshots in one import: what a snapshot file holds and where it lives (snapshotFolder), how settings.json
// reads and compares (settingsValues), and taking and restoring them under the folder's lock (here).
import { resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { type Durability, writeFileAtomic } from '../core/atomicWrite';
import { ensureDirectory } from '../core/ensureDirectory';
import { type LockSettings, withFileLock } from '../core/fileLock';
import { errnoOf, type FsLike, nodeFs } from '../core/fs';
import { withBomOf } from '../core/json';
import { changedSettingKeys, type SettingValues, settingsValuesFromText } from './settingsValues';
import {
  type DamagedSnapshot,
  type SettingsSnapshotDocument,
  SNAPSHOT_FORMAT_VERSION,
  SnapshotFolder,
  type SnapshotSummary,
  snapshotIdFor,
  snapshotIdTime,
  summarise,
} from './snapshotFolder';

export type { SettingValues } from './settingsValues';
export { changedSettingKeys, settingsValuesFromText } from './settingsValues';
export type { DamagedSnapshot, LoadedSnapshot, SettingsSnapshotDocument, SnapshotSummary } from './snapshotFolder';
export { SNAPSHOT_FORMAT_VERSION, SnapshotError, settingsSnapshotSchema, snapshotIdFor, snapshotIdTime } from './snapshotFolder';

export const DEFAULT_SNAPSHOT_KEEP = 20;
export const DEFAULT_SETTINGS_RELATIVE_PATH = '.vscode/settings.json';
export const DEFAULT_SNAPSHOTS_RELATIVE_DIR = '.vscode/crash-safe/settings-snapshots';

export interface SnapshotListing {
  snapshots: SnapshotSummary[];
  damaged: DamagedSnapshot[];
}

export type TakeResult =
  | { taken: true; snapshot: SnapshotSummary; pruned: string[] }
  | { taken: false; reason: 'unchanged'; newest: SnapshotSummary };

export interface RestoreResult {
  restored: SnapshotSummary;
  /** The snapshot of the state just before the restore (or the newest one, when that already matched). */
  before: TakeResult;
  /** Keys whose values changed by the restore. */
  changedKeys: string[];
}

export interface SettingsSnapshotsOptions {
  /** Path of settings.json; default `<workspace>/.vscode/settings.json`. */
  settingsPath?: string;
  /** Folder for snapshots; default `<workspace>/.vscode/crash-safe/settings-snapshots`. */
  snapshotsDir?: string;
  /** Snapshots to keep (default 20, minimum 1); older ones are deleted after each take. */
  keep?: number;
  durability?: Durability;
  lock?: Partial<LockSettings>;
  fs?: FsLike;
  now?: () => Date;
}

/** The current state to record; VS Code passes its effective workspace-scope values, the CLI parses the file. */
export interface CurrentSettings {
  values?: SettingValues;
  reason?: string;
}

/**
 * Settings snapshots for one workspace folder: `<ISO time>.json` files holding settings.json's raw text and
 * the effective values. Takes skip when nothing changed; restore first snapshots the current state, then
 * writes settings.json through the atomic writer. Takes and restores run under a cross-process lock.
 */
export class SettingsSnapshots {
  readonly settingsPath: string;
  readonly snapshotsDir: string;
  private readonly fs: FsLike;
  private readonly folder: SnapshotFolder;

  constructor(
    readonly workspaceDir: string,
    private readonly options: SettingsSnapshotsOptions = {},
  ) {
    this.settingsPath = resolve(workspaceDir, options.settingsPath ?? DEFAULT_SETTINGS_RELATIVE_PATH);
    this.snapshotsDir = resolve(workspaceDir, options.snapshotsDir ?? DEFAULT_SNAPSHOTS_RELATIVE_DIR);
    this.fs = options.fs ?? nodeFs;
    this.folder = new SnapshotFolder(this.snapshotsDir, this.fs);
  }

  private get durability(): Durability {
    return this.options.durability ?? 'full';
  }

  private get keep(): number {
    return Math.max(1, Math.trunc(this.options.keep ?? DEFAULT_SNAPSHOT_KEEP));
  }

  /** The raw text of settings.json now (null when missing). */
  async currentSettingsText(): Promise<string | null> {
    try {
      return (await this.fs.readFile(this.settingsPath)).toString('utf8');
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return null;
      // A failed read on the open file carries no path; this is the file it was reading.
      if (error instanceof Error && errnoOf(error) !== undefined && !('path' in error)) Object.assign(error, { path: this.settingsPath });
      throw error;
    }
  }

  /** Takes a snapshot of the current state unless it equals the newest snapshot; prunes beyond `keep`. */
  async take(current: CurrentSettings = {}): Promise<TakeResult> {
    return this.locked(() => this.takeLocked(current));
  }

  /** Valid snapshots newest first with their changed keys, and any damaged snapshot files. */
  async list(): Promise<SnapshotListing> {
    const { valid, damaged } = await this.folder.loadAll();
    return { snapshots: summarise(valid).reverse(), damaged };
  }

  /** The full content of one snapshot (for a diff preview). */
  async read(id: string): Promise<SettingsSnapshotDocument> {
    return (await this.folder.loadOne(id)).document;
  }

  /** Keys that restoring `id` would change, compared with `current` values (or the parsed file). */
  async compare(id: string, current: CurrentSettings = {}): Promise<{ changedKeys: string[]; currentText: string | null; snapshot: SettingsSnapshotDocument }> {
    const snapshot = await this.read(id);
    const currentText = await this.currentSettingsText();
    const values = current.values ?? settingsValuesFromText(currentText).values;
    return { changedKeys: changedSettingKeys(values, snapshot.values), currentText, snapshot };
  }

  /**
   * Restores settings.json to snapshot `id`: first snapshots the current state (reason `before-restore`),
   * then writes the snapshot's raw text atomically (or removes settings.json if it did not exist then).
   */
  async restore(id: string, current: CurrentSettings = {}): Promise<RestoreResult> {
    return this.locked(async () => {
      const target = await this.folder.loadOne(id);
      const restored = summarise((await this.folder.loadAll()).valid).find((entry) => entry.id === id)!;
      // The restored snapshot is protected from this take's pruning: it is about to be the current state.
      const before = await this.takeLocked({ values: current.values, reason: current.reason ?? 'before-restore' }, id);
      const currentText = await this.currentSettingsText();
      const beforeValues = current.values ?? settingsValuesFromText(currentText).values;
      const text = target.document.settingsText;
      if (text === null) {
        await this.removeSettingsFile();
      } else {
        // The file's byte-order mark is the user's (or their editor's) choice: keep it whatever the snapshot had.
        const restoredText = withBomOf(currentText ?? '', text);
        await writeFileAtomic(this.settingsPath, restoredText, { durability: this.durability, createParents: true, fs: this.fs });
      }
      return { restored, before, changedKeys: changedSettingKeys(beforeValues, target.document.values) };
    });
  }

  private async locked<T>(action: () => Promise<T>): Promise<T> {
    await ensureDirectory(this.snapshotsDir, this.fs, this.durability === 'full');
    // The lock sits beside the folder (`settings-snapshots.lock`), guarding every file in it.
    return withFileLock(this.snapshotsDir, () => action(), this.options.lock);
  }

  private async takeLocked(current: CurrentSettings, protectedId?: string): Promise<TakeResult> {
    const settingsText = await this.currentSettingsText();
    const parsed = settingsValuesFromText(settingsText);
    const values = current.values ?? parsed.values;
    const { valid } = await this.folder.loadAll();
    const newest = valid.at(-1);
    if (newest && newest.document.settingsText === settingsText && isDeepStrictEqual(newest.document.values, values)) {
      return { taken: false, reason: 'unchanged', newest: summarise(valid).at(-1)! };
    }
    // Ids are times and must sort after the newest even if the clock stepped back or two takes share a millisecond.
    let time = this.options.now?.() ?? new Date();
    const newestTime = newest && snapshotIdTime(newest.id);
    if (newestTime && time.getTime() <= newestTime.getTime()) time = new Date(newestTime.getTime() + 1);
    const id = snapshotIdFor(time);
    const document: SettingsSnapshotDocument = {
      version: SNAPSHOT_FORMAT_VERSION,
      takenAt: time.toISOString(),
      reason: current.reason ?? 'command',
      settingsText,
      values,
    };
    if (parsed.parseErrors.length > 0) document.parseErrors = parsed.parseErrors;
    const all = [...valid, await this.folder.write(id, document, this.durability)];
    // Neither the snapshot just taken nor the one a restore is restoring may go: that would lose the state it keeps.
    const pruned = await this.folder.prune(this.keep, new Set(protectedId === undefined ? [id] : [id, protectedId]));
    const summaries = summarise(all);
    return { taken: true, snapshot: summaries.at(-1)!, pruned };
  }

  private async removeSettingsFile(): Promise<void> {
    try {
      await this.fs.unlink(this.settingsPath);
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return;
      throw error;
    }
    if (this.durability === 'full' && process.platform !== 'win32') {
      await this.fs.fsyncDir(resolve(this.settingsPath, '..'));
    }
  }
}
