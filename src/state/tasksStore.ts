import { dirname, resolve } from 'node:path';
import type { Durability } from '../core/atomicWrite';
import { ensureDirectory } from '../core/ensureDirectory';
import { messageOf } from '../core/errors';
import { commitRefusalIn, DocumentChangedError, type LockSettings, withFileLock } from '../core/fileLock';
import { errnoOf, type FsLike, nodeFs } from '../core/fs';
import { hasBom } from '../core/json';
import { JsonValueError, serializeJson, writeJson } from '../core/jsonStore';
import { fileRevision, LockedDocument } from '../core/lockedDocument';
import { applyTaskEdit, type TaskEdit } from './taskEdits';
import { TaskNotFoundError, TasksDocumentError, type TasksProblem } from './taskErrors';
import { DEFAULT_BACKUPS_TO_KEEP, TasksBackups } from './tasksBackups';
import {
  decodeTasksText,
  emptyTasksDocument,
  type Task,
  type TasksDocument,
  tasksDocumentProblems,
  tasksDocumentSchemaV1,
} from './tasksSchema';

/** Where the tasks document lives inside a workspace folder unless configured otherwise. */
export const DEFAULT_TASKS_RELATIVE_PATH = '.vscode/crash-safe/tasks.json';

/** The absolute path of the tasks document for a workspace folder. */
export function tasksPathFor(workspaceDir: string, relativePath: string = DEFAULT_TASKS_RELATIVE_PATH): string {
  return resolve(workspaceDir, relativePath);
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

export interface TasksStoreOptions {
  /** `full` (default) fsyncs file and directory; `fast` only survives a process crash. */
  durability?: Durability;
  /** Backup generations to keep (default 5, minimum 1). */
  backupsToKeep?: number;
  lock?: Partial<LockSettings>;
  fs?: FsLike;
  /** The clock for names of preserved files and for stamping migrated tasks that have no times. */
  now?: () => Date;
  /** Problems that do not fail an edit (a backup that could not be written or pruned). */
  onWarning?: (message: string) => void;
}

/** A task ref may be a unique id prefix of at least this many characters. */
const MIN_PREFIX_LENGTH = 4;

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
 * - `apply` is a read-modify-write under a cross-process lock, so windows and CLI runs never lose each other's
 *   updates; applies queued in this process while one is in flight share one write (LockedDocument). Right before
 *   the rename, the file must still be the one loaded; otherwise the edits are applied again.
 * - Every write goes through the atomic writer, then a backup generation of what was written is kept
 *   (tasksBackups.ts), which recovery (tasksRecovery.ts) restores from.
 */
export class TasksStore {
  readonly path: string;
  readonly backups: TasksBackups;
  readonly fs: FsLike;
  readonly durability: Durability;
  private readonly document: LockedDocument<TasksDocument>;
  /** The file revision each loaded document was read from, checked again right before its save commits. */
  private readonly loadedRevisions = new WeakMap<TasksDocument, string>();
  /** Loaded documents whose file began with a byte-order mark, which the save keeps. */
  private readonly loadedWithBom = new WeakSet<TasksDocument>();

  constructor(
    path: string,
    private readonly options: TasksStoreOptions = {},
  ) {
    this.path = resolve(path);
    this.fs = options.fs ?? nodeFs;
    this.durability = options.durability ?? 'full';
    this.backups = new TasksBackups(this.path, {
      fs: this.fs,
      durability: this.durability,
      keep: options.backupsToKeep ?? DEFAULT_BACKUPS_TO_KEEP,
      onWarning: options.onWarning,
    });
    this.document = new LockedDocument<TasksDocument>({
      target: this.path,
      prepare: () => this.prepare(),
      load: () => this.loadForUpdate(),
      save: (next, previous, assertHeld) =>
        this.save(next, this.commitCheck(this.revisionOf(previous), assertHeld), this.loadedWithBom.has(previous)),
      lock: options.lock,
    });
  }

  now(): Date {
    return this.options.now?.() ?? new Date();
  }

  /** Reads, validates and (in memory) migrates the document. A missing file is an empty list. */
  async read(): Promise<TasksReadResult> {
    return (await this.readDocument()).result;
  }

  private async readDocument(): Promise<{ result: TasksReadResult; bom: boolean }> {
    let bytes: Buffer;
    try {
      bytes = await this.fs.readFile(this.path);
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') {
        const empty = { state: 'ok', path: this.path, document: emptyTasksDocument(), exists: false, migratedFrom: undefined } as const;
        return { result: empty, bom: false };
      }
      throw error;
    }
    const text = bytes.toString('utf8');
    // Migrated tasks without timestamps get the file's mtime, so repeated reads of one file agree.
    const decoded = await decodeTasksText(this.path, text, () =>
      this.fs.stat(this.path).then(
        (stats) => stats.mtime,
        () => this.now(),
      ),
    );
    if ('problem' in decoded) return { result: { state: 'problem', path: this.path, problem: decoded.problem }, bom: false };
    const ok = { state: 'ok', path: this.path, document: decoded.document, exists: true, migratedFrom: decoded.migratedFrom } as const;
    return { result: ok, bom: hasBom(text) };
  }

  /** The tasks in order. Throws TasksDocumentError for an unusable file. */
  async list(): Promise<Task[]> {
    const result = await this.read();
    if (result.state === 'problem') throw new TasksDocumentError(result.problem);
    return result.document.tasks;
  }

  /** The task whose id is `ref`, or the only one whose id starts with it (4+ characters); else TaskNotFoundError. */
  async find(ref: string): Promise<Task> {
    const tasks = await this.list();
    const exact = tasks.find((task) => task.id === ref);
    if (exact) return exact;
    const matches = ref.length >= MIN_PREFIX_LENGTH ? tasks.filter((task) => task.id.startsWith(ref)) : [];
    if (matches.length === 1) return matches[0]!;
    throw new TaskNotFoundError(
      this.path,
      ref,
      matches.map((task) => task.id),
    );
  }

  /**
   * Applies `edits`, in order, to the current document under the lock and saves it; resolves once durable with
   * each edit's task as saved (see applyTaskEdit). All or nothing: an edit that cannot apply (TaskNotFoundError,
   * InvalidTaskError) rejects this call and writes none of them. Calls made together share one locked write,
   * yet each succeeds or fails alone. Throws TasksDocumentError for an unusable file.
   */
  apply(edits: readonly TaskEdit[]): Promise<Array<Task | undefined>> {
    // May run more than once (after a lost lock, or when the file changed under the lock): edits are idempotent.
    return this.document.update((document) => edits.map((edit) => applyTaskEdit(document, edit, true, this.path)));
  }

  /** Waits until every queued apply has settled. */
  flush(): Promise<void> {
    return this.document.flush();
  }

  /** Lock batches and writes this store has made (for tests and diagnostics). */
  get stats(): { batches: number; saves: number } {
    return this.document.stats;
  }

  /**
   * Under the lock, hands `choose` what the file holds now and writes the document it returns, with the same
   * compare-before-rename and backup as an edit. A throw writes nothing. For recovery, which writes a whole
   * document even over an unusable file.
   */
  async replace(choose: (current: TasksReadResult) => Promise<TasksDocument>): Promise<void> {
    await this.prepare();
    await withFileLock(
      this.path,
      async (lock) => {
        const revision = await fileRevision(this.path, this.fs);
        const document = await choose(await this.read());
        await this.save(
          document,
          this.commitCheck(revision, () => lock.assertHeld()),
        );
      },
      this.options.lock,
    );
  }

  private prepare(): Promise<void> {
    return ensureDirectory(dirname(this.path), this.fs, this.durability === 'full');
  }

  private async loadForUpdate(): Promise<TasksDocument> {
    // Taken before the read: a change during the read then shows at the commit check too.
    const revision = await fileRevision(this.path, this.fs);
    const { result, bom } = await this.readDocument();
    if (result.state === 'problem') throw new TasksDocumentError(result.problem);
    this.loadedRevisions.set(result.document, revision);
    if (bom) this.loadedWithBom.add(result.document);
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
  private async save(document: TasksDocument, beforeCommit: () => Promise<void>, bom = false): Promise<void> {
    const problems = tasksDocumentProblems(document);
    if (problems.length > 0) throw new JsonValueError(this.path, problems);
    try {
      await writeJson(this.path, document, {
        schema: tasksDocumentSchemaV1,
        durability: this.durability,
        createParents: true,
        fs: checkingBeforeRename(this.fs, beforeCommit),
        bom,
      });
    } catch (error) {
      throw commitRefusalIn(error) ?? error;
    }
    try {
      await this.backups.write(serializeJson(this.path, document));
    } catch (error) {
      // The edit itself is durable; a missing backup only narrows recovery, so it warns instead of failing.
      this.options.onWarning?.(`Could not write a backup of ${this.path}: ${messageOf(error)}`);
    }
  }
}
