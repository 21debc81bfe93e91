import { join } from 'node:path';
import { errnoOf, type FsLike, formatBytes, MAX_DOCUMENT_BYTES } from '../core/fs';
import { classifyJsonText, describeReadProblem, type JsonSchema, prepareJson } from '../core/json/jsonStore';
import { fileSafeTime } from '../core/names/fileTime';
import { type Durability, writeFileAtomic } from '../core/write/atomicWrite';
import { changedSettingKeys, type SettingValues } from './settingsValues';

/** Version 1 holds settings.json as text; version 2 adds its exact bytes, for a file that is not valid UTF-8. */
export const SNAPSHOT_FORMAT_VERSION = 2;
const TEXT_ONLY_VERSION = 1;

/** What one snapshot file holds. */
export interface SettingsSnapshotDocument {
  /** 1 when `settingsText` is the file byte for byte; 2 when `settingsBytes` is (an older build refuses it). */
  version: 1 | 2;
  /** ISO time the snapshot was taken. */
  takenAt: string;
  /** Why it was taken: `command`, `cli`, `auto`, `before-restore`, … */
  reason: string;
  /** The raw text of settings.json as written (comments and all); null when the file did not exist. */
  settingsText: string | null;
  /** Base64 of the file's bytes, only when they are not valid UTF-8: `settingsText` then shows them decoded (U+FFFD). */
  settingsBytes?: string;
  /** The effective workspace-scope values (from VS Code, or parsed from settingsText). */
  values: SettingValues;
  /** JSONC problems in settingsText as `line:column message`; the text is kept regardless. */
  parseErrors?: string[];
}

export const settingsSnapshotSchema: JsonSchema = {
  type: 'object',
  required: ['version', 'takenAt', 'reason', 'settingsText', 'values'],
  properties: {
    version: { enum: [TEXT_ONLY_VERSION, SNAPSHOT_FORMAT_VERSION] },
    takenAt: { type: 'string', minLength: 1 },
    reason: { type: 'string' },
    settingsText: { type: ['string', 'null'] },
    settingsBytes: { type: 'string', pattern: '^[A-Za-z0-9+/]*={0,2}$' },
    values: { type: 'object' },
    parseErrors: { type: 'array', items: { type: 'string' } },
  },
};

/** Whether these bytes are exactly the UTF-8 of their decoded text (a BOM included); false for a Latin-1 é. */
export function isExactUtf8(bytes: Buffer): boolean {
  return Buffer.from(bytes.toString('utf8'), 'utf8').equals(bytes);
}

/** The fields that record settings.json (null: no file): text, and the bytes too where the text cannot hold them. */
export function settingsFields(
  bytes: Buffer | null,
): Pick<SettingsSnapshotDocument, 'version' | 'settingsText' | 'settingsBytes'> {
  if (bytes === null) return { version: TEXT_ONLY_VERSION, settingsText: null };
  const settingsText = bytes.toString('utf8');
  if (isExactUtf8(bytes)) return { version: TEXT_ONLY_VERSION, settingsText };
  return { version: SNAPSHOT_FORMAT_VERSION, settingsText, settingsBytes: bytes.toString('base64') };
}

/** The exact bytes of settings.json a snapshot recorded; null when there was no file. */
export function snapshotBytes(
  document: Pick<SettingsSnapshotDocument, 'settingsText' | 'settingsBytes'>,
): Buffer | null {
  if (document.settingsBytes !== undefined) return Buffer.from(document.settingsBytes, 'base64');
  return document.settingsText === null ? null : Buffer.from(document.settingsText, 'utf8');
}

/** Whether two snapshots (or a snapshot and the file's bytes) hold the same settings.json, byte for byte. */
export function sameSettingsBytes(a: Buffer | null, b: Buffer | null): boolean {
  return a === null || b === null ? a === b : a.equals(b);
}

/**
 * What a valid-looking document must also hold for its bytes to be trusted: a version 2 document has bytes that are
 * canonical base64 and decode to its text (so the preview shows what a restore writes); a version 1 document has none.
 */
function bytesProblem(document: SettingsSnapshotDocument): string | undefined {
  const { version, settingsText, settingsBytes } = document;
  if (version === TEXT_ONLY_VERSION) return settingsBytes === undefined ? undefined : 'version 1 has no settingsBytes';
  if (settingsBytes === undefined || settingsText === null) return 'version 2 needs settingsBytes and settingsText';
  const bytes = Buffer.from(settingsBytes, 'base64');
  if (bytes.toString('base64') !== settingsBytes) return 'settingsBytes is not canonical base64';
  if (bytes.toString('utf8') !== settingsText) return 'settingsBytes does not decode to settingsText';
  return undefined;
}

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
    /** The largest snapshot file: read with this bound, and none larger is written (so every one can be read back). */
    private readonly maxBytes = MAX_DOCUMENT_BYTES,
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

  /**
   * The file's text for `document`, schema-checked. One this folder could not read back (over `maxBytes`) is
   * refused before anything is written: a snapshot that cannot be restored would only look like a backup.
   */
  serialise(id: string, document: SettingsSnapshotDocument): string {
    const path = this.pathOf(id);
    const text = prepareJson(path, document, settingsSnapshotSchema);
    const size = Buffer.byteLength(text, 'utf8');
    if (size > this.maxBytes) {
      throw new SnapshotError(
        `Cannot snapshot the settings: the snapshot would take ${formatBytes(size)}, over the ${formatBytes(this.maxBytes)} a snapshot can be read back with; nothing was written`,
        path,
      );
    }
    return text;
  }

  async write(id: string, document: SettingsSnapshotDocument, durability: Durability): Promise<LoadedSnapshot> {
    const path = this.pathOf(id);
    await writeFileAtomic(path, this.serialise(id, document), { durability, fs: this.fs });
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
      text = (await this.fs.readFile(path, this.maxBytes)).toString('utf8');
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return { id, path, problem: `No snapshot "${id}" in ${this.dir}` };
      return { id, path, problem: `Cannot read ${path}: ${String(error)}` };
    }
    const classified = classifyJsonText<SettingsSnapshotDocument>(path, text, settingsSnapshotSchema);
    if (classified.state !== 'valid') return { id, path, problem: describeReadProblem(classified) };
    const problem = bytesProblem(classified.value);
    if (problem !== undefined)
      return { id, path, problem: `${path} is not a snapshot this build can restore exactly: ${problem}` };
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
      textChanged:
        previous === undefined ||
        !sameSettingsBytes(snapshotBytes(previous.document), snapshotBytes(snapshot.document)),
      settingsExisted: snapshot.document.settingsText !== null,
    };
    if (previous) summary.previousId = previous.id;
    return summary;
  });
}
