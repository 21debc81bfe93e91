import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { type Durability, writeFileAtomic } from '../core/atomicWrite';
import { ensureDirectory } from '../core/ensureDirectory';
import { commitRefusalIn, DocumentChangedError, type LockSettings, withFileLock } from '../core/fileLock';
import { errnoOf, type FsLike, nodeFs } from '../core/fs';
import {
  classifyJsonText,
  describeReadProblem,
  JsonValueError,
  type ParsePosition,
  serializeJson,
  writeJson,
} from '../core/jsonStore';
import { fileRevision, LockedDocument } from '../core/lockedDocument';
import { findRecoveryCandidates } from '../core/recovery';
import {
  decodeTasksDocument,
  TASKS_FORMAT_VERSION,
  type Task,
  type TasksDocument,
  tasksDocumentProblems,
  tasksDocumentSchemaV1,
} from './tasksSchema';

/** Where the tasks document lives inside a workspace folder unless configured otherwise. */
export const DEFAULT_TASKS_RELATIVE_PATH = '.vscode/crash-safe/tasks.json';
/** Backup generations live in this folder beside the document: `backups/tasks.json.bak-<n>`. */
export const TASKS_BACKUP_FOLDER = 'backups';
export const DEFAULT_BACKUPS_TO_KEEP = 5;

/** The absolute path of the tasks document for a workspace folder. */
export function tasksPathFor(workspaceDir: string, relativePath: string = DEFAULT_TASKS_RELATIVE_PATH): string {
  return resolve(workspaceDir, relativePath);
}

/** Why the document on disk cannot be used. The store never writes over such a file. */
export interface TasksProblem {
  path: string;
  kind: 'empty' | 'corrupt' | 'invalid' | 'unsupported-version';
  /** One line naming the file and the cause (with line:column for 'corrupt'). */
  message: string;
  /** Where parsing failed, 1-based; only for 'corrupt'. */
  position?: ParsePosition;
  /** Schema problems, one per line; only for 'invalid' and 'unsupported-version'. */
  details: string[];
}

export type TasksReadResult =
  | {
      state: 'ok';
      path: string;
      document: TasksDocument;
      /** False when no file exists yet: the document is the empty list. */
      exists: boolean;
      /** The older format version the file was migrated from in memory; it is written as current on the next edit. */
      migratedFrom: number | undefined;
    }
  | { state: 'problem'; path: string; problem: TasksProblem };

/** The tasks document is unusable (corrupt, empty, schema-invalid, newer version). Nothing was written. */
export class TasksDocumentError extends Error {
  override readonly name = 'TasksDocumentError';
  constructor(readonly problem: TasksProblem) {
    super(`${problem.message}. Nothing was written; the file is left exactly as it is.`);
  }
}

/** No task has that id (or unique id prefix). */
export class TaskNotFoundError extends Error {
  override readonly name = 'TaskNotFoundError';
  constructor(
    readonly path: string,
    readonly ref: string,
    readonly matches: string[] = [],
  ) {
    super(
      matches.length > 1
        ? `"${ref}" matches several tasks in ${path} (${matches.join(', ')}); give more of the id`
        : `No task with id "${ref}" in ${path}`,
    );
  }
}

/** A file the document can be restored from. */
export interface TasksRecoveryCandidate {
  /** The file name, used to pick it: `tasks.json.bak-<n>` or one of our temp names. */
  id: string;
  kind: 'backup' | 'temp';
  /** For backups: the generation number (higher is newer). */
  generation?: number;
  path: string;
  /** ISO time of the file's last modification. */
  modifiedAt: string;
  /** Present when the file holds a usable document. */
  taskCount?: number;
  /** Why the file cannot be used; absent when it can. */
  problem?: string;
}

export interface TasksRecoveryResult {
  restoredFrom: TasksRecoveryCandidate;
  /** Where the unusable file was preserved before it was replaced (absent when there was no file). */
  preservedAs?: string;
  document: TasksDocument;
}

export interface TasksStoreOptions {
  /** `full` (default) fsyncs file and directory; `fast` only survives a process crash. */
  durability?: Durability;
  /** Backup generations to keep (default 5, minimum 1). */
  backupsToKeep?: number;
  lock?: Partial<LockSettings>;
  fs?: FsLike;
  now?: () => Date;
  newId?: () => string;
  /** Problems that do not fail an edit (a backup that could not be written or pruned). */
  onWarning?: (message: string) => void;
}

/** A patch for `edit`: `notes: null` removes the notes. */
export interface TaskPatch {
  title?: string;
  notes?: string | null;
  done?: boolean;
}

const MIN_PREFIX_LENGTH = 4;

function emptyDocument(): TasksDocument {
  return { version: TASKS_FORMAT_VERSION, tasks: [] };
}

/** Finds a task by exact id, or by a unique prefix of at least 4 characters. */
export function findTaskIndex(document: TasksDocument, ref: string, path = 'the task list'): number {
  const exact = document.tasks.findIndex((task) => task.id === ref);
  if (exact >= 0) return exact;
  const matches = ref.length >= MIN_PREFIX_LENGTH ? document.tasks.filter((task) => task.id.startsWith(ref)) : [];
  if (matches.length === 1) return document.tasks.indexOf(matches[0]!);
  throw new TaskNotFoundError(
    path,
    ref,
    matches.map((task) => task.id),
  );
}

function normaliseTitle(title: string): string {
  const trimmed = title.trim();
  if (trimmed.length === 0) throw new RangeError('A task needs a non-empty title');
  return trimmed;
}

const BACKUP_NAME = /^(?<target>.+)\.bak-(?<generation>\d{1,15})$/;

/** `fs` whose renames first run `check`, until one succeeds: the check then runs right before the commit. */
function checkingBeforeRename(fs: FsLike, check: () => Promise<void>): FsLike {
  let committed = false;
  const rename = async (from: string, to: string): Promise<void> => {
    if (!committed) await check();
    await fs.rename(from, to);
    committed = true;
  };
  return new Proxy(fs, {
    get(target, property) {
      if (property === 'rename') return rename;
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * The workspace task list: `{ version, tasks: [...] }` in one JSON file.
 *
 * - Reads validate and migrate; a corrupt, empty, invalid or newer-version file is reported, never replaced.
 * - Each edit is a read-modify-write under a cross-process lock (proper-lockfile), so windows and CLI runs
 *   never lose each other's updates; edits queued in this process while one is in flight share one write.
 *   Right before the rename, the file must still be the one loaded; otherwise the edits are applied again.
 * - Every write goes through the atomic writer, then a backup generation of what was written is kept.
 *
 * Use `tasksStoreFor` so every caller in a process shares one store (and one queue) per document.
 */
export class TasksStore {
  readonly path: string;
  readonly backupDir: string;
  private readonly fs: FsLike;
  private readonly document: LockedDocument<TasksDocument>;
  /** The file revision each loaded document was read from, checked again right before its save commits. */
  private readonly loadedRevisions = new WeakMap<TasksDocument, string>();

  constructor(
    path: string,
    private readonly options: TasksStoreOptions = {},
  ) {
    this.path = resolve(path);
    this.backupDir = join(dirname(this.path), TASKS_BACKUP_FOLDER);
    this.fs = options.fs ?? nodeFs;
    this.document = new LockedDocument<TasksDocument>({
      target: this.path,
      prepare: () => ensureDirectory(dirname(this.path), this.fs, this.durability === 'full'),
      load: () => this.loadForUpdate(),
      save: (next, previous, assertHeld) => this.save(next, this.commitCheck(this.revisionOf(previous), assertHeld)),
      lock: options.lock,
    });
  }

  private get durability(): Durability {
    return this.options.durability ?? 'full';
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  /** Reads, validates and (in memory) migrates the document. A missing file is an empty list. */
  async read(): Promise<TasksReadResult> {
    let bytes: Buffer;
    try {
      bytes = await this.fs.readFile(this.path);
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') {
        return { state: 'ok', path: this.path, document: emptyDocument(), exists: false, migratedFrom: undefined };
      }
      throw error;
    }
    const decoded = await this.decodeText(this.path, bytes.toString('utf8'));
    if ('problem' in decoded) return { state: 'problem', path: this.path, problem: decoded.problem };
    return { state: 'ok', path: this.path, document: decoded.document, exists: true, migratedFrom: decoded.migratedFrom };
  }

  /** The tasks in order. Throws TasksDocumentError for an unusable file. */
  async list(): Promise<Task[]> {
    const result = await this.read();
    if (result.state === 'problem') throw new TasksDocumentError(result.problem);
    return result.document.tasks;
  }

  /**
   * Applies `mutate` to the current document under the lock and saves it; resolves once durable.
   * `mutate` must be synchronous and may run more than once (after a lost lock, or when the file changed under
   * the lock); a throw rejects only this edit.
   */
  mutate<R>(mutate: (document: TasksDocument) => R): Promise<R> {
    return this.document.update(mutate);
  }

  /** Appends a task; resolves with it once it is durable. */
  async add(title: string, options: { notes?: string } = {}): Promise<Task> {
    const cleanTitle = normaliseTitle(title);
    return this.mutate((document) => {
      const stamp = this.now().toISOString();
      const task: Task = { id: this.freshId(document), title: cleanTitle, done: false, createdAt: stamp, updatedAt: stamp };
      if (options.notes !== undefined && options.notes.length > 0) task.notes = options.notes;
      document.tasks.push(task);
      return task;
    });
  }

  /** Changes title, notes or done; resolves with the updated task. */
  async edit(ref: string, patch: TaskPatch): Promise<Task> {
    const title = patch.title === undefined ? undefined : normaliseTitle(patch.title);
    return this.mutate((document) => {
      const task = document.tasks[findTaskIndex(document, ref, this.path)]!;
      const before = JSON.stringify(task);
      if (title !== undefined) task.title = title;
      if (patch.done !== undefined) task.done = patch.done;
      if (patch.notes === null || patch.notes === '') delete task.notes;
      else if (patch.notes !== undefined) task.notes = patch.notes;
      if (JSON.stringify(task) !== before) task.updatedAt = this.now().toISOString();
      return { ...task };
    });
  }

  /** Marks a task done (or not done). */
  setDone(ref: string, done = true): Promise<Task> {
    return this.edit(ref, { done });
  }

  /** Removes a task; resolves with what was removed. */
  remove(ref: string): Promise<Task> {
    return this.mutate((document) => {
      const [removed] = document.tasks.splice(findTaskIndex(document, ref, this.path), 1);
      return removed!;
    });
  }

  /** Moves a task to `toIndex` (clamped to the list); resolves with the new order. */
  move(ref: string, toIndex: number): Promise<Task[]> {
    return this.mutate((document) => {
      const [task] = document.tasks.splice(findTaskIndex(document, ref, this.path), 1);
      const index = Math.max(0, Math.min(Math.trunc(toIndex), document.tasks.length));
      document.tasks.splice(index, 0, task!);
      return document.tasks;
    });
  }

  /** Waits until every queued edit has settled. */
  flush(): Promise<void> {
    return this.document.flush();
  }

  /** Lock batches and writes this store has made (for tests and diagnostics). */
  get stats(): { batches: number; saves: number } {
    return this.document.stats;
  }

  /** Backup generations and leftover temp files, usable ones first, newest first. */
  async recoveryCandidates(): Promise<TasksRecoveryCandidate[]> {
    const candidates = [...(await this.backupCandidates()), ...(await this.tempCandidates())];
    return candidates.sort((a, b) => {
      const usable = Number(a.problem !== undefined) - Number(b.problem !== undefined);
      if (usable !== 0) return usable;
      // Backups made within one mtime tick are told apart by their generation number.
      return b.modifiedAt.localeCompare(a.modifiedAt) || (b.generation ?? 0) - (a.generation ?? 0);
    });
  }

  /**
   * Replaces an unusable document with a candidate (by id; default the first usable one). Under the lock:
   * the unusable file is first preserved as `backups/tasks.json.damaged-<time>`, then the candidate's document
   * is written through the atomic writer. Refuses when the current file is fine, unless `force`.
   */
  async recover(candidateId?: string, options: { force?: boolean } = {}): Promise<TasksRecoveryResult> {
    await ensureDirectory(dirname(this.path), this.fs, this.durability === 'full');
    return withFileLock(
      this.path,
      async (lock) => {
        const revision = await fileRevision(this.path, this.fs);
        const current = await this.read();
        if (current.state === 'ok' && current.exists && !options.force) {
          throw new Error(`${this.path} is readable (${current.document.tasks.length} tasks); nothing to recover`);
        }
        const candidates = await this.recoveryCandidates();
        const chosen =
          candidateId === undefined
            ? candidates.find((candidate) => candidate.problem === undefined)
            : candidates.find((candidate) => candidate.id === candidateId || candidate.path === resolve(candidateId));
        if (!chosen) {
          throw new Error(
            candidateId === undefined
              ? `No usable backup or temp file was found for ${this.path}`
              : `No recovery candidate "${candidateId}" for ${this.path}`,
          );
        }
        if (chosen.problem !== undefined) throw new Error(`Cannot recover from ${chosen.path}: ${chosen.problem}`);
        const decoded = await this.decodeText(chosen.path, (await this.fs.readFile(chosen.path)).toString('utf8'));
        if ('problem' in decoded) throw new TasksDocumentError(decoded.problem);

        let preservedAs: string | undefined;
        try {
          const damaged = await this.fs.readFile(this.path);
          preservedAs = join(this.backupDir, `${basename(this.path)}.damaged-${fileSafeTime(this.now())}`);
          await writeFileAtomic(preservedAs, damaged, { durability: this.durability, createParents: true, fs: this.fs });
        } catch (error) {
          if (errnoOf(error) !== 'ENOENT' || preservedAs !== undefined) throw error;
        }
        await this.save(
          decoded.document,
          this.commitCheck(revision, () => lock.assertHeld()),
        );
        return { restoredFrom: chosen, preservedAs, document: decoded.document };
      },
      this.options.lock,
    );
  }

  private async loadForUpdate(): Promise<TasksDocument> {
    // Taken before the read: a change during the read then shows at the commit check too.
    const revision = await fileRevision(this.path, this.fs);
    const result = await this.read();
    if (result.state === 'problem') throw new TasksDocumentError(result.problem);
    this.loadedRevisions.set(result.document, revision);
    return result.document;
  }

  private revisionOf(loaded: TasksDocument): string {
    const revision = this.loadedRevisions.get(loaded);
    if (revision === undefined) throw new Error(`No load recorded for the document of ${this.path}; nothing was written`);
    return revision;
  }

  /**
   * Runs right before the rename that commits a save: the file must still be the one loaded (a writer that ignored
   * the lock, or a takeover we did not see, changes it), and the lock still ours.
   */
  private commitCheck(loadedRevision: string, assertHeld: () => Promise<void>): () => Promise<void> {
    return async () => {
      if ((await fileRevision(this.path, this.fs)) !== loadedRevision) throw new DocumentChangedError(this.path);
      await assertHeld();
    };
  }

  /**
   * Writes the document atomically (validated first), then keeps a backup generation of it. `beforeCommit` runs
   * immediately before the rename; when it throws, nothing is written and its error is rethrown unwrapped.
   */
  private async save(document: TasksDocument, beforeCommit: () => Promise<void>): Promise<void> {
    const problems = tasksDocumentProblems(document);
    if (problems.length > 0) throw new JsonValueError(this.path, problems);
    try {
      await writeJson(this.path, document, {
        schema: tasksDocumentSchemaV1,
        durability: this.durability,
        createParents: true,
        fs: checkingBeforeRename(this.fs, beforeCommit),
      });
    } catch (error) {
      throw commitRefusalIn(error) ?? error;
    }
    try {
      await this.writeBackup(serializeJson(this.path, document));
    } catch (error) {
      // The edit itself is durable; a missing backup only narrows recovery, so it warns instead of failing.
      this.options.onWarning?.(
        `Could not write a backup of ${this.path}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  private async writeBackup(text: string): Promise<void> {
    const generations = await this.backupGenerations();
    const next = (generations.at(-1)?.generation ?? 0) + 1;
    await writeFileAtomic(this.backupPath(next), text, {
      durability: this.durability,
      createParents: true,
      fs: this.fs,
    });
    const keep = Math.max(1, Math.trunc(this.options.backupsToKeep ?? DEFAULT_BACKUPS_TO_KEEP));
    for (const old of generations.slice(0, Math.max(0, generations.length + 1 - keep))) {
      try {
        await this.fs.unlink(old.path);
      } catch (error) {
        if (errnoOf(error) !== 'ENOENT') this.options.onWarning?.(`Could not prune old backup ${old.path}: ${String(error)}`);
      }
    }
  }

  private backupPath(generation: number): string {
    return join(this.backupDir, `${basename(this.path)}.bak-${generation}`);
  }

  /** Existing backup generations of this document, oldest first. */
  private async backupGenerations(): Promise<Array<{ generation: number; path: string; name: string }>> {
    let names: string[];
    try {
      names = await this.fs.readdir(this.backupDir);
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return [];
      throw error;
    }
    const target = basename(this.path);
    return names
      .map((name) => ({ name, match: BACKUP_NAME.exec(name) }))
      .filter(({ match }) => match?.groups?.target === target)
      .map(({ name, match }) => ({ name, generation: Number(match!.groups!.generation), path: join(this.backupDir, name) }))
      .sort((a, b) => a.generation - b.generation);
  }

  private async backupCandidates(): Promise<TasksRecoveryCandidate[]> {
    const generations = await this.backupGenerations();
    return Promise.all(
      generations.map(async ({ name, path, generation }) => ({
        ...(await this.describeCandidate(name, path, 'backup')),
        generation,
      })),
    );
  }

  /**
   * Temp files of the document that hold a complete, schema-valid version: ours (a write killed before its
   * rename) and other tools' (write-file-atomic, atomically, …), as recognised by src/core/recovery.ts.
   */
  private async tempCandidates(): Promise<TasksRecoveryCandidate[]> {
    const temps = await findRecoveryCandidates(this.path, { schema: tasksDocumentSchemaV1, fs: this.fs });
    return Promise.all(temps.map((temp) => this.describeCandidate(basename(temp.path), temp.path, 'temp')));
  }

  private async describeCandidate(
    id: string,
    path: string,
    kind: TasksRecoveryCandidate['kind'],
  ): Promise<TasksRecoveryCandidate> {
    try {
      const [stats, bytes] = await Promise.all([this.fs.stat(path), this.fs.readFile(path)]);
      const candidate: TasksRecoveryCandidate = { id, kind, path, modifiedAt: stats.mtime.toISOString() };
      const decoded = await this.decodeText(path, bytes.toString('utf8'), stats.mtime);
      if ('problem' in decoded) candidate.problem = decoded.problem.message;
      else candidate.taskCount = decoded.document.tasks.length;
      return candidate;
    } catch (error) {
      return { id, kind, path, modifiedAt: new Date(0).toISOString(), problem: `cannot be read: ${String(error)}` };
    }
  }

  /** Parses, validates and migrates text read from `path`. */
  private async decodeText(
    path: string,
    text: string,
    mtime?: Date,
  ): Promise<{ document: TasksDocument; migratedFrom: number | undefined } | { problem: TasksProblem }> {
    const classified = classifyJsonText(path, text);
    if (classified.state === 'empty') {
      return {
        problem: {
          path,
          kind: 'empty',
          message: `${path} is empty (a task list is never empty on disk, so it was probably truncated)`,
          details: [],
        },
      };
    }
    if (classified.state === 'corrupt') {
      return {
        problem: { path, kind: 'corrupt', message: describeReadProblem(classified), position: classified.error, details: [] },
      };
    }
    if (classified.state !== 'valid') {
      return { problem: { path, kind: 'invalid', message: describeReadProblem(classified), details: [] } };
    }
    // Migrated tasks without timestamps get the file's mtime, so repeated reads of one file agree.
    const fallback = mtime ?? (await this.fs.stat(path).then((stats) => stats.mtime).catch(() => this.now()));
    const decoded = decodeTasksDocument(classified.value, { fallbackTime: fallback.toISOString() });
    if (decoded.ok) return { document: decoded.document, migratedFrom: decoded.migratedFrom };
    const what = decoded.kind === 'unsupported-version' ? 'has an unsupported format version' : 'does not match the tasks schema';
    return {
      problem: { path, kind: decoded.kind, message: `${path} ${what}: ${decoded.problems.join('; ')}`, details: decoded.problems },
    };
  }

  private freshId(document: TasksDocument): string {
    const taken = new Set(document.tasks.map((task) => task.id));
    for (;;) {
      const id = this.options.newId?.() ?? randomBytes(4).toString('hex');
      if (!taken.has(id)) return id;
    }
  }
}

/** An ISO time usable in a file name on every platform: `2024-05-01T12-30-05.123Z`. */
export function fileSafeTime(date: Date): string {
  return date.toISOString().replace(/:/g, '-');
}

const stores = new Map<string, TasksStore>();

/** The process-wide store for `path`: every caller shares one queue, so their edits coalesce. First options win. */
export function tasksStoreFor(path: string, options: TasksStoreOptions = {}): TasksStore {
  const key = resolve(path);
  let store = stores.get(key);
  if (!store) {
    store = new TasksStore(key, options);
    stores.set(key, store);
  }
  return store;
}

/** Waits for every shared tasks store in this process; call before exiting. */
export async function flushAllTasksStores(): Promise<void> {
  await Promise.all([...stores.values()].map((store) => store.flush()));
}
