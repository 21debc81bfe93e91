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
import { applyTodoEdit, type TodoEdit } from './todoEdits';
import { TodoNotFoundError, TodosDocumentError, type TodosProblem } from './todoErrors';
import { DEFAULT_BACKUPS_TO_KEEP, TodosBackups } from './todosBackups';
import {
  decodeTodosText,
  emptyTodosDocument,
  type Todo,
  type TodosDocument,
  todosDocumentProblems,
} from './todosSchema';
import { editTodosText, migrateTodosText, RemovedTodoTexts } from './todosText';

/** Where the to-do document lives inside a workspace folder unless configured otherwise. */
export const DEFAULT_TODOS_RELATIVE_PATH = '.vscode/crash-safe/tasks.json';

/** The absolute path of the to-do document for a workspace folder. */
export function todosPathFor(workspaceDir: string, relativePath: string = DEFAULT_TODOS_RELATIVE_PATH): string {
  return resolve(workspaceDir, relativePath);
}

export type TodosReadResult =
  | {
      state: 'ok';
      path: string;
      document: TodosDocument;
      /** False when no file exists yet: the document is the empty list. */
      exists: boolean;
      /** The older format version the file was migrated from in memory; it is written as current on the next edit. */
      migratedFrom: number | undefined;
    }
  | { state: 'problem'; path: string; problem: TodosProblem };

export interface TodosStoreOptions {
  /** `full` (default) fsyncs file and directory; `fast` only survives a process crash. */
  durability?: Durability;
  /** Backup generations to keep (default 5, minimum 1). */
  backupsToKeep?: number;
  lock?: Partial<LockSettings>;
  fs?: FsLike;
  /** The clock for names of preserved files and for stamping migrated to-dos that have no times. */
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

/** A to-do ref may be a unique id prefix of at least this many characters. */
const MIN_PREFIX_LENGTH = 4;

/**
 * The workspace to-do list: `{ version, to-dos: [...] }` in one JSON file.
 *
 * - Reads validate and migrate; a corrupt, empty, invalid or newer-version file is reported, never replaced.
 * - `apply` is a read-modify-write under a cross-process lock, so windows and CLI runs never lose each other's
 *   updates; applies queued in this process while one is in flight share one write (LockedDocument). Right before
 *   the rename, the file must still be the one loaded; otherwise the edits are applied again.
 * - Every write goes through the atomic writer, then a backup generation of what was written is kept
 *   (todosBackups.ts), which recovery (todosRecovery.ts) restores from.
 */
export class TodosStore {
  readonly path: string;
  readonly backups: TodosBackups;
  readonly fs: FsLike;
  readonly durability: Durability;
  private readonly document: LockedDocument<TodosDocument>;
  /**
   * What each loaded document was read from: the revision is checked again right before its save commits, and
   * the save edits that text rather than writing the document anew.
   */
  private readonly loadedSources = new WeakMap<TodosDocument, LoadedSource>();
  /** The text of to-dos this store removed, so that one put back (Undo) gets its own bytes again. */
  private readonly removedTexts = new RemovedTodoTexts();

  constructor(
    path: string,
    private readonly options: TodosStoreOptions = {},
  ) {
    this.path = resolve(path);
    this.fs = options.fs ?? nodeFs;
    this.durability = options.durability ?? DEFAULT_DURABILITY;
    this.backups = new TodosBackups(this.path, {
      fs: this.fs,
      durability: this.durability,
      keep: options.backupsToKeep ?? DEFAULT_BACKUPS_TO_KEEP,
      onWarning: options.onWarning,
    });
    this.document = new LockedDocument<TodosDocument>({
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
  async read(): Promise<TodosReadResult> {
    return (await this.readDocument()).result;
  }

  private async readDocument(): Promise<{ result: TodosReadResult; bytes?: Buffer; text?: string }> {
    let bytes: Buffer;
    try {
      bytes = await this.fs.readFile(this.path);
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') {
        return {
          result: {
            state: 'ok',
            path: this.path,
            document: emptyTodosDocument(),
            exists: false,
            migratedFrom: undefined,
          },
        };
      }
      throw error;
    }
    // Migrated to-dos without timestamps get the file's mtime, so repeated reads of one file agree.
    const decoded = await decodeTodosText(this.path, bytes, () =>
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

  /** The to-dos in order. Throws TodosDocumentError for an unusable file. */
  async list(): Promise<Todo[]> {
    const result = await this.read();
    if (result.state === 'problem') throw new TodosDocumentError(result.problem);
    return result.document.tasks;
  }

  /** The to-do whose id is `ref`, or the only one whose id starts with it (4+ characters); else TodoNotFoundError. */
  async find(ref: string): Promise<Todo> {
    const todos = await this.list();
    const exact = todos.find((todo) => todo.id === ref);
    if (exact) return exact;
    const matches = ref.length >= MIN_PREFIX_LENGTH ? todos.filter((todo) => todo.id.startsWith(ref)) : [];
    if (matches.length === 1) return matches[0]!;
    throw new TodoNotFoundError(
      this.path,
      ref,
      matches.map((todo) => todo.id),
    );
  }

  /**
   * Applies `edits`, in order, to the current document under the lock and saves it; resolves once durable with
   * each edit's to-do as saved (see applyTodoEdit). All or nothing: an edit that cannot apply (TodoNotFoundError,
   * InvalidTodoError) rejects this call and writes none of them. Calls made together share one locked write,
   * yet each succeeds or fails alone. Throws TodosDocumentError for an unusable file.
   */
  apply(edits: readonly TodoEdit[]): Promise<Array<Todo | undefined>> {
    // May run more than once (after a lost lock, or when the file changed under the lock): edits are idempotent.
    return this.document.update((document) => edits.map((edit) => applyTodoEdit(document, edit, true, this.path)));
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
   * decode as a usable to-do list; with the same compare-before-rename and backups as an edit. A throw writes
   * nothing. For recovery, which puts a backup back byte for byte even over an unusable file.
   */
  async replace(choose: (current: TodosReadResult) => Promise<Uint8Array>): Promise<void> {
    await this.prepare();
    await withFileLock(
      this.path,
      async (lock) => {
        const revision = await fileRevision(this.path, this.fs);
        const current = await this.readDocument();
        const chosen = await choose(current.result);
        const decoded = await decodeTodosText(this.path, chosen, async () => this.now());
        if ('problem' in decoded) throw new TodosDocumentError(decoded.problem);
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

  private async loadForUpdate(): Promise<TodosDocument> {
    // Taken before the read: a change during the read then shows at the commit check too.
    const revision = await fileRevision(this.path, this.fs);
    const { result, bytes, text } = await this.readDocument();
    if (result.state === 'problem') throw new TodosDocumentError(result.problem);
    this.loadedSources.set(result.document, { revision, bytes, text, migratedFrom: result.migratedFrom });
    return result.document;
  }

  private sourceOf(loaded: TodosDocument): LoadedSource {
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
  private textOf(next: TodosDocument, previous: TodosDocument, source: LoadedSource): string {
    const problems = todosDocumentProblems(next);
    if (problems.length > 0) throw new JsonValueError(this.path, problems);
    let text: string;
    if (source.text === undefined) text = serializeJson(this.path, next);
    else {
      const current = source.migratedFrom === undefined ? source.text : migrateTodosText(source.text, previous);
      text = editTodosText(current, previous, next, this.removedTexts);
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
