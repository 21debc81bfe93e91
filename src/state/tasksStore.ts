import { dirname, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { messageOf } from '../core/errors';
import { errnoOf, type FsLike, nodeFs } from '../core/fs';
import { parseJson } from '../core/json/json';
import { JsonValueError, serializeJson } from '../core/json/jsonStore';
import { commitRefusalIn, DocumentChangedError, type LockSettings, withFileLock } from '../core/lock/fileLock';
import { fileRevision, LockedDocument } from '../core/lock/lockedDocument';
import { type Durability, writeFileAtomic } from '../core/write/atomicWrite';
import { DEFAULT_DURABILITY, isDurable } from '../core/write/durability';
import { ensureDirectory } from '../core/write/ensureDirectory';
import { applyTaskEdit, type TaskEdit } from './taskEdits';
import { TaskNotFoundError, TasksDocumentError, type TasksProblem } from './taskErrors';
import { DEFAULT_BACKUPS_TO_KEEP, TasksBackups } from './tasksBackups';
import {
  decodeTasksText,
  emptyTasksDocument,
  type Task,
  type TasksDocument,
  tasksDocumentProblems,
} from './tasksSchema';
import { editTasksText, migrateTasksText, RemovedTaskTexts } from './tasksText';

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

/** What a loaded document was read from: the bytes, their text, and the version it was migrated from. */
interface LoadedSource {
  revision: string;
  bytes: Buffer | undefined;
  text: string | undefined;
  migratedFrom: number | undefined;
}

/** A task ref may be a unique id prefix of at least this many characters. */
const MIN_PREFIX_LENGTH = 4;

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
  /**
   * What each loaded document was read from: the revision is checked again right before its save commits, and
   * the save edits that text rather than writing the document anew.
   */
  private readonly loadedSources = new WeakMap<TasksDocument, LoadedSource>();
  /** The text of to-dos this store removed, so that one put back (Undo) gets its own bytes again. */
  private readonly removedTexts = new RemovedTaskTexts();

  constructor(
    path: string,
    private readonly options: TasksStoreOptions = {},
  ) {
    this.path = resolve(path);
    this.fs = options.fs ?? nodeFs;
    this.durability = options.durability ?? DEFAULT_DURABILITY;
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
      save: (next, previous, assertHeld) => {
        const source = this.sourceOf(previous);
        return this.save(
          this.textOf(next, previous, source),
          source.bytes,
          this.commitCheck(source.revision, assertHeld),
        );
      },
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

  private async readDocument(): Promise<{ result: TasksReadResult; bytes?: Buffer; text?: string }> {
    let bytes: Buffer;
    try {
      bytes = await this.fs.readFile(this.path);
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') {
        return {
          result: {
            state: 'ok',
            path: this.path,
            document: emptyTasksDocument(),
            exists: false,
            migratedFrom: undefined,
          },
        };
      }
      throw error;
    }
    // Migrated tasks without timestamps get the file's mtime, so repeated reads of one file agree.
    const decoded = await decodeTasksText(this.path, bytes, () =>
      this.fs.stat(this.path).then(
        (stats) => stats.mtime,
        () => this.now(),
      ),
    );
    if ('problem' in decoded) return { result: { state: 'problem', path: this.path, problem: decoded.problem } };
    const ok = {
      state: 'ok',
      path: this.path,
      document: decoded.document,
      exists: true,
      migratedFrom: decoded.migratedFrom,
    } as const;
    return { result: ok, bytes, text: decoded.text };
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
   * Under the lock, hands `choose` what the file holds now and writes the bytes it returns, exactly, once they
   * decode as a usable task list; with the same compare-before-rename and backups as an edit. A throw writes
   * nothing. For recovery, which puts a backup back byte for byte even over an unusable file.
   */
  async replace(choose: (current: TasksReadResult) => Promise<Uint8Array>): Promise<void> {
    await this.prepare();
    await withFileLock(
      this.path,
      async (lock) => {
        const revision = await fileRevision(this.path, this.fs);
        const current = await this.readDocument();
        const chosen = await choose(current.result);
        const decoded = await decodeTasksText(this.path, chosen, async () => this.now());
        if ('problem' in decoded) throw new TasksDocumentError(decoded.problem);
        await this.save(
          decoded.text,
          current.bytes,
          this.commitCheck(revision, () => lock.assertHeld()),
          true,
        );
      },
      this.options.lock,
    );
  }

  private prepare(): Promise<void> {
    return ensureDirectory(dirname(this.path), this.fs, isDurable(this.durability));
  }

  private async loadForUpdate(): Promise<TasksDocument> {
    // Taken before the read: a change during the read then shows at the commit check too.
    const revision = await fileRevision(this.path, this.fs);
    const { result, bytes, text } = await this.readDocument();
    if (result.state === 'problem') throw new TasksDocumentError(result.problem);
    this.loadedSources.set(result.document, { revision, bytes, text, migratedFrom: result.migratedFrom });
    return result.document;
  }

  private sourceOf(loaded: TasksDocument): LoadedSource {
    const source = this.loadedSources.get(loaded);
    if (source === undefined) throw new Error(`No load recorded for the document of ${this.path}; nothing was written`);
    return source;
  }

  /**
   * The text to save: the loaded text with only what changed edited in (migrated first when it was older), or, for
   * a new file, the document serialised. The one schema check of a save is here (the load's is the read's); the
   * text must then parse back as exactly `next`, so no edit ever writes a document other than the one the edits
   * made. Throws JsonValueError for an invalid document.
   */
  private textOf(next: TasksDocument, previous: TasksDocument, source: LoadedSource): string {
    const problems = tasksDocumentProblems(next);
    if (problems.length > 0) throw new JsonValueError(this.path, problems);
    let text: string;
    if (source.text === undefined) text = serializeJson(this.path, next);
    else {
      const current = source.migratedFrom === undefined ? source.text : migrateTasksText(source.text, previous);
      text = editTasksText(current, previous, next, this.removedTexts);
    }
    // `next` passed the schema just above, so a text that parses to exactly `next` needs no second check.
    const parsed = parseJson(text, 'json', { duplicateKeys: 'refuse' });
    if (!parsed.ok || !isDeepStrictEqual(parsed.value, next)) {
      throw new Error(`The edit of ${this.path} would not read back as the edited task list; nothing was written`);
    }
    return text;
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
   * Writes `text` atomically, then keeps a backup generation of it. Before that, the bytes it replaces are kept
   * as a generation too unless the newest one already holds them (they were ours): so the original of a file
   * someone else wrote, or one about to be migrated, is always in a backup. `beforeCommit` is the write's
   * `beforeRename`; when it throws, nothing is written and its LockLostError/DocumentChangedError is rethrown unwrapped.
   */
  private async save(
    text: string,
    replaced: Buffer | undefined,
    beforeCommit: () => Promise<void>,
    restoring = false,
  ): Promise<void> {
    const bytes = Buffer.from(text, 'utf8');
    if (replaced !== undefined) await this.keepBackup(replaced, 'the file it replaces');
    try {
      await writeFileAtomic(this.path, bytes, {
        durability: this.durability,
        createParents: true,
        fs: this.fs,
        beforeRename: beforeCommit,
      });
    } catch (error) {
      throw commitRefusalIn(error) ?? error;
    }
    // An edit wrote something no generation holds yet (no comparing read); a restore may have put one back.
    await this.keepBackup(bytes, 'the file written', !restoring);
  }

  private async keepBackup(bytes: Buffer, what: string, fresh = false): Promise<void> {
    try {
      await (fresh ? this.backups.write(bytes) : this.backups.keep(bytes));
    } catch (error) {
      // The edit itself is durable; a missing backup only narrows recovery, so it warns instead of failing.
      this.options.onWarning?.(`Could not write a backup of ${what}, ${this.path}: ${messageOf(error)}`);
    }
  }
}
