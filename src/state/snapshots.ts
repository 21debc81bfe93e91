import { join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { type ParseError, parse as parseJsonc, printParseErrorCode } from 'jsonc-parser';
import { type Durability, writeFileAtomic } from '../core/atomicWrite';
import { ensureDirectory } from '../core/ensureDirectory';
import { type LockSettings, withFileLock } from '../core/fileLock';
import { errnoOf, type FsLike, nodeFs } from '../core/fs';
import { hasBom, parseJson, withBomOf } from '../core/json';
import { classifyJsonText, describeReadProblem, type JsonSchema, writeJson } from '../core/jsonStore';

export const DEFAULT_SNAPSHOT_KEEP = 20;
export const DEFAULT_SETTINGS_RELATIVE_PATH = '.vscode/settings.json';
export const DEFAULT_SNAPSHOTS_RELATIVE_DIR = '.vscode/crash-safe/settings-snapshots';
export const SNAPSHOT_FORMAT_VERSION = 1;

/** Setting id → value, as in settings.json (`"[lang]"` override keys included). */
export type SettingValues = Record<string, unknown>;

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
  return date.toISOString().replace(/:/g, '-');
}

/** The time a snapshot id names, or undefined if it is not one. */
export function snapshotIdTime(id: string): Date | undefined {
  const match = SNAPSHOT_ID.exec(id);
  if (!match?.groups) return undefined;
  const { date, h, m, s, ms } = match.groups;
  const time = new Date(`${date}T${h}:${m}:${s}.${ms}Z`);
  return Number.isNaN(time.getTime()) ? undefined : time;
}

/** Parses settings.json as VS Code does (JSONC: comments and trailing commas allowed, a leading BOM ignored). */
export function settingsValuesFromText(text: string | null): { values: SettingValues; parseErrors: string[] } {
  // Positions are counted without the BOM, as editors show them.
  const body = text !== null && hasBom(text) ? text.slice(1) : text;
  if (body === null || body.trim().length === 0) return { values: {}, parseErrors: [] };
  const checked = parseJson(body, 'jsonc');
  if (!checked.ok) {
    // jsonc-parser recovers: it reports every problem and still yields the values it could read.
    const errors: ParseError[] = [];
    let parsed: unknown;
    let overflowed = false;
    try {
      parsed = parseJsonc(body, errors, { allowTrailingComma: true, disallowComments: false });
    } catch (error) {
      // It recurses: a document deep enough overflows the stack.
      if (!(error instanceof RangeError)) throw error;
      overflowed = true;
    }
    if (overflowed || errors.length === 0) {
      // Too deep (parseJson's limit); values that deep could not be read back from the snapshot file either.
      const { line, column, message } = checked.position;
      return { values: {}, parseErrors: [`${line}:${column} ${message}`] };
    }
    const parseErrors = errors.map((error) => {
      const before = body.slice(0, error.offset);
      const line = before.split('\n').length;
      const column = error.offset - before.lastIndexOf('\n');
      return `${line}:${column} ${printParseErrorCode(error.error)}`;
    });
    return settingsObject(parsed, parseErrors);
  }
  return settingsObject(checked.value, []);
}

function settingsObject(parsed: unknown, parseErrors: string[]): { values: SettingValues; parseErrors: string[] } {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { values: {}, parseErrors: parseErrors.length > 0 ? parseErrors : ['1:1 settings.json is not a JSON object'] };
  }
  return { values: parsed as SettingValues, parseErrors };
}

/** Setting ids whose values differ between two snapshots, sorted. */
export function changedSettingKeys(before: SettingValues, after: SettingValues): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((key) => !isDeepStrictEqual(before[key], after[key])).sort();
}

interface LoadedSnapshot {
  id: string;
  path: string;
  document: SettingsSnapshotDocument;
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

  constructor(
    readonly workspaceDir: string,
    private readonly options: SettingsSnapshotsOptions = {},
  ) {
    this.settingsPath = resolve(workspaceDir, options.settingsPath ?? DEFAULT_SETTINGS_RELATIVE_PATH);
    this.snapshotsDir = resolve(workspaceDir, options.snapshotsDir ?? DEFAULT_SNAPSHOTS_RELATIVE_DIR);
    this.fs = options.fs ?? nodeFs;
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
    const { valid, damaged } = await this.loadAll();
    return { snapshots: summarise(valid).reverse(), damaged };
  }

  /** The full content of one snapshot (for a diff preview). */
  async read(id: string): Promise<SettingsSnapshotDocument> {
    return (await this.loadOne(id)).document;
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
      const target = await this.loadOne(id);
      const restored = summarise((await this.loadAll()).valid).find((entry) => entry.id === id)!;
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
    const { valid } = await this.loadAll();
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
    const path = join(this.snapshotsDir, `${id}.json`);
    await writeJson(path, document, { schema: settingsSnapshotSchema, durability: this.durability, fs: this.fs });
    const all = [...valid, { id, path, document }];
    // Neither the snapshot just taken nor the one a restore is restoring may go: that would lose the state it keeps.
    const pruned = await this.prune(new Set(protectedId === undefined ? [id] : [id, protectedId]));
    const summaries = summarise(all);
    return { taken: true, snapshot: summaries.at(-1)!, pruned };
  }

  /**
   * Deletes the oldest snapshot files beyond `keep` (damaged ones count too: they are ours and dated), never a
   * protected one, even if that leaves more than `keep`.
   */
  private async prune(protectedIds: ReadonlySet<string>): Promise<string[]> {
    const ids = await this.snapshotIds();
    const excess = ids.filter((id) => !protectedIds.has(id)).slice(0, Math.max(0, ids.length - this.keep));
    for (const id of excess) {
      try {
        await this.fs.unlink(join(this.snapshotsDir, `${id}.json`));
      } catch (error) {
        if (errnoOf(error) !== 'ENOENT') throw error;
      }
    }
    return excess;
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

  /** Snapshot ids present in the folder, oldest first. */
  private async snapshotIds(): Promise<string[]> {
    let names: string[];
    try {
      names = await this.fs.readdir(this.snapshotsDir);
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

  private async loadAll(): Promise<{ valid: LoadedSnapshot[]; damaged: DamagedSnapshot[] }> {
    const valid: LoadedSnapshot[] = [];
    const damaged: DamagedSnapshot[] = [];
    for (const id of await this.snapshotIds()) {
      const path = join(this.snapshotsDir, `${id}.json`);
      const loaded = await this.parseSnapshot(id, path);
      if ('problem' in loaded) damaged.push(loaded);
      else valid.push(loaded);
    }
    return { valid, damaged };
  }

  private async loadOne(id: string): Promise<LoadedSnapshot> {
    if (snapshotIdTime(id) === undefined) {
      throw new SnapshotError(`"${id}" is not a snapshot id (expected a time like 2024-05-01T12-30-05.123Z)`, this.snapshotsDir);
    }
    const path = join(this.snapshotsDir, `${id}.json`);
    const loaded = await this.parseSnapshot(id, path);
    if ('problem' in loaded) throw new SnapshotError(loaded.problem, path);
    return loaded;
  }

  private async parseSnapshot(id: string, path: string): Promise<LoadedSnapshot | DamagedSnapshot> {
    let text: string;
    try {
      text = (await this.fs.readFile(path)).toString('utf8');
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return { id, path, problem: `No snapshot "${id}" in ${this.snapshotsDir}` };
      return { id, path, problem: `Cannot read ${path}: ${String(error)}` };
    }
    const classified = classifyJsonText<SettingsSnapshotDocument>(path, text, settingsSnapshotSchema);
    if (classified.state !== 'valid') return { id, path, problem: describeReadProblem(classified) };
    return { id, path, document: classified.value };
  }
}

/** Summaries in the order given (oldest first), each compared with the one before it. */
function summarise(snapshots: LoadedSnapshot[]): SnapshotSummary[] {
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
