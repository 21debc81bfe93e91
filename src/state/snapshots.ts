// Settings snapshots in one import: what a snapshot file holds and where it lives (snapshotFolder), how settings.json
// reads and compares (settingsValues), and taking and restoring them under the folder's lock (here).
import { readlink } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { messageOf } from '../core/errors';
import { commonFolder } from '../core/folderListing';
import { errnoOf, FileChangedError, identityOf, sameFile } from '../core/fs';
import {
  commitGroup,
  GroupCommitError,
  type GroupFile,
  type GroupFs,
  recoverGroupFiles,
} from '../core/groups/groupCommit';
import { journalsIn, nodeGroupFs, removeQuietly } from '../core/groups/groupJournal';
import { type LockSettings, withFileLock } from '../core/lock/fileLock';
import { AtomicWriteError, type Durability, writeFileAtomic } from '../core/write/atomicWrite';
import { DEFAULT_DURABILITY, fsyncsFoldersFor, isDurable } from '../core/write/durability';
import { ensureDirectory } from '../core/write/ensureDirectory';
import { changedSettingKeys, type SettingValues, settingsValuesFromText } from './settingsValues';
import {
  type DamagedSnapshot,
  isExactUtf8,
  type LoadedSnapshot,
  type SettingsSnapshotDocument,
  SnapshotError,
  SnapshotFolder,
  type SnapshotSummary,
  sameSettingsBytes,
  settingsFields,
  snapshotBytes,
  snapshotIdFor,
  snapshotIdTime,
  summarise,
} from './snapshotFolder';

export type { SettingValues } from './settingsValues';
export { changedSettingKeys, settingsValuesFromText } from './settingsValues';
export type { DamagedSnapshot, LoadedSnapshot, SettingsSnapshotDocument, SnapshotSummary } from './snapshotFolder';
export {
  SNAPSHOT_FORMAT_VERSION,
  SnapshotError,
  sameSettingsBytes,
  settingsSnapshotSchema,
  snapshotBytes,
  snapshotIdFor,
  snapshotIdTime,
} from './snapshotFolder';

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
  /** The file-system seam (fault injection); a `link` makes a restore's backups hard links instead of copies. */
  fs?: GroupFs;
  now?: () => Date;
  /** The largest snapshot file written or read (default MAX_DOCUMENT_BYTES, 256 MiB); smaller in tests. */
  maxSnapshotBytes?: number;
}

/** The current state to record; VS Code passes its effective workspace-scope values, the CLI parses the file. */
export interface CurrentSettings {
  values?: SettingValues;
  reason?: string;
}

export interface RestoreOptions extends CurrentSettings {
  /**
   * The settings.json the caller showed the user (the extension's diff): its bytes, or null for no file. When the
   * file differs by the time the restore runs, nothing is written (SettingsChangedError).
   */
  expectedSettings?: Buffer | null;
}

/** settings.json is not what a restore planned on (an editor saved it meanwhile): nothing was written. */
export class SettingsChangedError extends SnapshotError {
  readonly code = 'ECHANGED';
  constructor(path: string, since: string, cause?: unknown) {
    super(
      `${path} changed ${since}: the restore wrote nothing, and the file keeps its new content. Restore again to snapshot it first.`,
      path,
    );
    if (cause !== undefined) Object.assign(this, { cause });
  }
}

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * The bytes a restore writes: the snapshot's, exactly. One exception: a file that has a byte-order mark keeps it when
 * a UTF-8 snapshot without one is restored (the mark is the user's or their editor's choice, docs/platforms.md).
 */
function restoredBytesFor(snapshot: Buffer | null, current: Buffer | null): Buffer | null {
  if (snapshot === null || current === null) return snapshot;
  const keepBom =
    current.subarray(0, 3).equals(UTF8_BOM) && !snapshot.subarray(0, 3).equals(UTF8_BOM) && isExactUtf8(snapshot);
  return keepBom ? Buffer.concat([UTF8_BOM, snapshot]) : snapshot;
}

/** A take worked out under the lock: either nothing to take, or the snapshot to write. */
type PlannedTake =
  | { take: false; result: Extract<TakeResult, { taken: false }> }
  | { take: true; id: string; document: SettingsSnapshotDocument; valid: LoadedSnapshot[] };

/**
 * Settings snapshots for one workspace folder: `<ISO time>.json` files holding settings.json's raw text and
 * the effective values. Takes skip when nothing changed; a restore writes the snapshot of the current state and
 * settings.json as one group commit (docs/group-commits.md), so a crash leaves both or neither. Takes and restores
 * run under a cross-process lock.
 */
export class SettingsSnapshots {
  readonly settingsPath: string;
  readonly snapshotsDir: string;
  private readonly fs: GroupFs;
  private readonly folder: SnapshotFolder;

  constructor(
    readonly workspaceDir: string,
    private readonly options: SettingsSnapshotsOptions = {},
  ) {
    this.settingsPath = resolve(workspaceDir, options.settingsPath ?? DEFAULT_SETTINGS_RELATIVE_PATH);
    this.snapshotsDir = resolve(workspaceDir, options.snapshotsDir ?? DEFAULT_SNAPSHOTS_RELATIVE_DIR);
    this.fs = options.fs ?? nodeGroupFs;
    this.folder = new SnapshotFolder(this.snapshotsDir, this.fs, options.maxSnapshotBytes);
  }

  private get durability(): Durability {
    return this.options.durability ?? DEFAULT_DURABILITY;
  }

  private get keep(): number {
    return Math.max(1, Math.trunc(this.options.keep ?? DEFAULT_SNAPSHOT_KEEP));
  }

  /** The raw text of settings.json now (null when missing); bytes that are not UTF-8 show as U+FFFD. */
  async currentSettingsText(): Promise<string | null> {
    return (await this.currentSettingsBytes())?.toString('utf8') ?? null;
  }

  /** The bytes of settings.json now (null when missing): what a snapshot records and a restore compares. */
  async currentSettingsBytes(): Promise<Buffer | null> {
    try {
      return await this.fs.readFile(this.settingsPath);
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return null;
      // A failed read on the open file carries no path; this is the file it was reading.
      if (error instanceof Error && errnoOf(error) !== undefined && !('path' in error))
        Object.assign(error, { path: this.settingsPath });
      throw error;
    }
  }

  /** Takes a snapshot of the current state unless it equals the newest snapshot; prunes beyond `keep`. */
  async take(current: CurrentSettings = {}): Promise<TakeResult> {
    return this.locked(async () => {
      const planned = await this.planTake(current, await this.currentSettingsBytes());
      if (!planned.take) return planned.result;
      await this.folder.write(planned.id, planned.document, this.durability);
      return this.finishTake(planned);
    });
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
  async compare(
    id: string,
    current: CurrentSettings = {},
  ): Promise<{ changedKeys: string[]; currentText: string | null; snapshot: SettingsSnapshotDocument }> {
    const snapshot = await this.read(id);
    const currentText = await this.currentSettingsText();
    const values = current.values ?? settingsValuesFromText(currentText).values;
    return { changedKeys: changedSettingKeys(values, snapshot.values), currentText, snapshot };
  }

  /**
   * Restores settings.json to snapshot `id`, byte for byte, recording the current state first (reason
   * `before-restore`): the new snapshot and settings.json are one group commit, so after a crash or a failure either
   * both are written or neither. Older snapshots are pruned only once it has committed. When the newest snapshot
   * already holds the current state, no snapshot is taken and settings.json alone is replaced. A snapshot of a folder
   * without settings.json removes the file, after the snapshot is written (see docs/group-commits.md).
   *
   * settings.json is read once, under the lock, and every write is conditional on it still holding those bytes: a
   * save in between (editors take no lock) makes the restore refuse with SettingsChangedError, writing nothing.
   */
  async restore(id: string, current: RestoreOptions = {}): Promise<RestoreResult> {
    return this.locked(async () => {
      const target = await this.folder.loadOne(id);
      const restored = summarise((await this.folder.loadAll()).valid).find((entry) => entry.id === id)!;
      const currentBytes = await this.currentSettingsBytes();
      if (currentBytes === null) await this.refuseDanglingLink();
      if (current.expectedSettings !== undefined && !sameSettingsBytes(current.expectedSettings, currentBytes)) {
        throw new SettingsChangedError(this.settingsPath, 'since the restore was previewed');
      }
      const beforeValues = current.values ?? settingsValuesFromText(currentBytes?.toString('utf8') ?? null).values;
      const planned = await this.planTake(
        { values: current.values, reason: current.reason ?? 'before-restore' },
        currentBytes,
      );
      const restoredBytes = restoredBytesFor(snapshotBytes(target.document), currentBytes);
      const changedKeys = changedSettingKeys(beforeValues, target.document.values);
      try {
        if (!planned.take) {
          await this.replaceSettings(restoredBytes, currentBytes);
          return { restored, before: planned.result, changedKeys };
        }
        if (restoredBytes === null) await this.snapshotThenRemoveSettings(planned, currentBytes);
        else await this.commitRestore(planned, restoredBytes, currentBytes);
      } catch (error) {
        throw this.asChanged(error);
      }
      // The restored snapshot is protected from pruning too: it is now the current state.
      return { restored, before: await this.finishTake(planned, id), changedKeys };
    });
  }

  /** A commit refused because settings.json was not the file read, worded for the user; other errors as they are. */
  private asChanged(error: unknown): unknown {
    const refused =
      error instanceof GroupCommitError &&
      error.code === 'ECHANGED' &&
      (error.outcome === 'unchanged' || error.outcome === 'rolled-back');
    const refusedAlone = error instanceof AtomicWriteError && error.code === 'ECHANGED';
    if (!refused && !refusedAlone && !(error instanceof FileChangedError)) return error;
    return new SettingsChangedError(
      this.settingsPath,
      'after the restore read it (saved by an editor meanwhile?)',
      error,
    );
  }

  private async locked<T>(action: () => Promise<T>): Promise<T> {
    await ensureDirectory(this.snapshotsDir, this.fs, isDurable(this.durability));
    // The lock sits beside the folder (`settings-snapshots.lock`), guarding every file in it.
    return withFileLock(
      this.snapshotsDir,
      async () => {
        await this.finishInterruptedRestores();
        return action();
      },
      this.options.lock,
    );
  }

  /** Where a restore's group journal goes: the deepest folder holding settings.json and the snapshots (`.vscode`). */
  private get journalDir(): string {
    return commonFolder([dirname(this.settingsPath), this.snapshotsDir]);
  }

  /**
   * A restore interrupted by a crash is finished (forward or back, under the group lock) before anything is read,
   * so the state recorded and compared is the one that restore left, not a half-way one. One it cannot finish is
   * left as it was; a commit to the same files then refuses to guess.
   */
  private async finishInterruptedRestores(): Promise<void> {
    let journals: string[];
    try {
      journals = await journalsIn(this.fs, this.journalDir);
    } catch {
      return; // No folder yet (or unreadable): the commit's own checks speak for it.
    }
    if (journals.length > 0) await recoverGroupFiles(journals, { fs: this.fs, ...this.lockOption });
  }

  private get lockOption(): { lock?: Partial<LockSettings> } {
    return this.options.lock ? { lock: this.options.lock } : {};
  }

  /** What a take would write now: nothing when the newest snapshot already holds this state. Writes nothing. */
  private async planTake(current: CurrentSettings, settingsBytes: Buffer | null): Promise<PlannedTake> {
    const fields = settingsFields(settingsBytes);
    const parsed = settingsValuesFromText(fields.settingsText);
    const values = current.values ?? parsed.values;
    const { valid } = await this.folder.loadAll();
    const newest = valid.at(-1);
    // Bytes, not text: two files that decode alike (a Latin-1 é and a lone 0xE8 both read as U+FFFD) differ.
    if (
      newest &&
      sameSettingsBytes(snapshotBytes(newest.document), settingsBytes) &&
      isDeepStrictEqual(newest.document.values, values)
    ) {
      return { take: false, result: { taken: false, reason: 'unchanged', newest: summarise(valid).at(-1)! } };
    }
    // Ids are times and must sort after the newest even if the clock stepped back or two takes share a millisecond.
    let time = this.options.now?.() ?? new Date();
    const newestTime = newest && snapshotIdTime(newest.id);
    if (newestTime && time.getTime() <= newestTime.getTime()) time = new Date(newestTime.getTime() + 1);
    const document: SettingsSnapshotDocument = {
      version: fields.version,
      takenAt: time.toISOString(),
      reason: current.reason ?? 'command',
      settingsText: fields.settingsText,
      ...(fields.settingsBytes === undefined ? {} : { settingsBytes: fields.settingsBytes }),
      values,
    };
    if (parsed.parseErrors.length > 0) document.parseErrors = parsed.parseErrors;
    return { take: true, id: snapshotIdFor(time), document, valid };
  }

  /** After the snapshot is durable: prunes beyond `keep`, never the snapshot just taken nor `protectedId`. */
  private async finishTake(planned: Extract<PlannedTake, { take: true }>, protectedId?: string): Promise<TakeResult> {
    const { id, document, valid } = planned;
    const all = [...valid, { id, path: this.folder.pathOf(id), document }];
    // Neither the snapshot just taken nor the one a restore is restoring may go: that would lose the state it keeps.
    const pruned = await this.folder.prune(this.keep, new Set(protectedId === undefined ? [id] : [id, protectedId]));
    return { taken: true, snapshot: summarise(all).at(-1)!, pruned };
  }

  /** settings.json as the group commit writes it: only over the bytes the restore read (`expected`; null: no file). */
  private settingsFile(bytes: Buffer, expected: Buffer | null): GroupFile {
    return { path: this.settingsPath, data: bytes, expected };
  }

  /** The snapshot of the state before and the restored settings.json, all or nothing. */
  private async commitRestore(
    planned: Extract<PlannedTake, { take: true }>,
    restoredBytes: Buffer,
    expected: Buffer | null,
  ): Promise<void> {
    const durable = isDurable(this.durability);
    await ensureDirectory(dirname(this.settingsPath), this.fs, durable);
    const snapshotPath = this.folder.pathOf(planned.id);
    // Serialised here, so a snapshot too large to be read back is refused before anything is written.
    const snapshotText = this.folder.serialise(planned.id, planned.document);
    try {
      await commitGroup([{ path: snapshotPath, data: snapshotText }, this.settingsFile(restoredBytes, expected)], {
        durability: this.durability,
        fs: this.fs,
        ...this.lockOption,
      });
    } catch (error) {
      // Files on two file systems, or a symlinked settings.json whose real file lies outside .vscode (dotfiles), cannot
      // be one group: the snapshot goes first, so a crash between the two writes leaves the current state recorded and
      // settings.json not yet replaced.
      if (
        !(
          error instanceof GroupCommitError &&
          error.step === 'resolve' &&
          (error.code === 'EXDEV' || error.code === 'EOUTSIDE')
        )
      )
        throw error;
      const { path } = await this.folder.write(planned.id, planned.document, this.durability);
      try {
        await this.replaceSettings(restoredBytes, expected);
      } catch (replaceError) {
        // Refused (settings.json changed) or failed: the restore did not happen, so neither did its snapshot. One that
        // may have replaced settings.json keeps it: the snapshot then holds the only copy of the state before.
        if (!mayHaveReplaced(replaceError)) await removeQuietly(this.fs, path);
        throw replaceError;
      }
    }
  }

  /**
   * Restoring "no settings.json": a group commit cannot remove a file, so the snapshot is written first and removed
   * again when the removal fails. A crash between the two leaves the current state recorded and settings.json as
   * it was, never the reverse.
   */
  private async snapshotThenRemoveSettings(
    planned: Extract<PlannedTake, { take: true }>,
    expected: Buffer | null,
  ): Promise<void> {
    const { path } = await this.folder.write(planned.id, planned.document, this.durability);
    try {
      await this.removeSettingsFile(expected);
    } catch (error) {
      await removeQuietly(this.fs, path);
      throw error;
    }
  }

  /** settings.json alone replaced by `bytes` (or removed for null), only while it still holds `expected`. */
  private async replaceSettings(bytes: Buffer | null, expected: Buffer | null): Promise<void> {
    if (bytes === null) return this.removeSettingsFile(expected);
    await ensureDirectory(dirname(this.settingsPath), this.fs, isDurable(this.durability));
    try {
      await commitGroup([this.settingsFile(bytes, expected)], {
        durability: this.durability,
        fs: this.fs,
        ...this.lockOption,
      });
    } catch (error) {
      if (!(error instanceof GroupCommitError && error.step === 'resolve' && error.code === 'EOUTSIDE')) throw error;
      await this.replaceLinkedSettings(bytes, expected);
    }
  }

  /**
   * settings.json is a symbolic link to a file outside .vscode (dotfiles). No lock or journal may go where that file
   * lives, so it is replaced as one file: a temp beside the real file, renamed over it only while it still holds
   * `expected`. What cannot be done there (a folder not writable, say) is refused naming the link and the real file.
   */
  private async replaceLinkedSettings(bytes: Buffer, expected: Buffer | null): Promise<void> {
    try {
      await writeFileAtomic(this.settingsPath, bytes, { durability: this.durability, fs: this.fs, expected });
    } catch (error) {
      if (!(error instanceof AtomicWriteError) || error.code === 'ECHANGED' || mayHaveReplaced(error)) throw error;
      const real = await this.fs.realpath(this.settingsPath).catch(() => 'a file that cannot be resolved');
      throw Object.assign(
        new SnapshotError(
          `${this.settingsPath} is a symbolic link to ${real}, outside ${dirname(this.settingsPath)}; the restore replaces that file on its own, and could not: ${messageOf(error)}. Nothing was restored.`,
          this.settingsPath,
        ),
        { cause: error },
      );
    }
  }

  /** A settings.json that is a symbolic link to nothing: neither replaced by a file nor followed to create one. */
  private async refuseDanglingLink(): Promise<void> {
    const path = this.settingsPath;
    const isLink = await this.fs.lstat(path).then(
      (stats) => stats.isSymbolicLink(),
      () => false,
    );
    if (!isLink) return;
    // Only for the message: where the link points, as written in it.
    const target = await readlink(path).catch(() => undefined);
    throw new SnapshotError(
      `${path} is a symbolic link to ${target === undefined ? 'a file' : resolve(dirname(path), target)} that does not exist; the restore neither replaces the link nor creates that file. Nothing was written. Create the file or remove the link, then restore again.`,
      path,
    );
  }

  /**
   * Removes settings.json only while it still holds `expected`: read and compared, then unlinked only if it is still
   * that file (device, inode, size, mtime), checked at the unlink itself where the seam can.
   */
  private async removeSettingsFile(expected: Buffer | null): Promise<void> {
    const path = this.settingsPath;
    try {
      const seen = await this.fs.lstat(path);
      // Through a symlink (dotfiles) the link goes, the file it names stays: its content is compared all the same.
      if (!sameSettingsBytes(await this.fs.readFile(path), expected))
        throw new FileChangedError(path, 'not the file the restore read');
      if (this.fs.unlinkChecked && seen.isFile()) {
        const folder = identityOf(await this.fs.stat(dirname(path)));
        await this.fs.unlinkChecked(dirname(path), basename(path), folder, identityOf(seen));
      } else {
        if (!sameFile(identityOf(await this.fs.lstat(path)), identityOf(seen)))
          throw new FileChangedError(path, 'changed while it was read');
        await this.fs.unlink(path);
      }
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return; // Gone already: what the restore wanted, and nothing of it is lost.
      throw error;
    }
    if (fsyncsFoldersFor(this.durability)) {
      await this.fs.fsyncDir(resolve(path, '..'));
    }
  }
}

/** A failure after which settings.json may hold the restored content (not confirmed durable, or a failed roll back). */
function mayHaveReplaced(error: unknown): boolean {
  if (error instanceof AtomicWriteError) return error.step === 'fsync-dir';
  return error instanceof GroupCommitError && (error.outcome === 'unconfirmed' || error.outcome === 'interrupted');
}
