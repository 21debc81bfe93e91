import * as vscode from 'vscode';
import { messageOf } from '../../core/errors';
import { SingleFlight } from '../../core/singleFlight';
import type { Durability } from '../../core/write/atomicWrite';
import { TodoEditQueue, type TodoSaveOutcome } from '../../state/todoEditQueue';
import { applyTodoEdit, type TodoEdit, withTodoEdits } from '../../state/todoEdits';
import type { TodosProblem } from '../../state/todoErrors';
import { emptyTodosDocument, type Todo, type TodosDocument } from '../../state/todosSchema';
import { TodosStore } from '../../state/todosStore';
import { Disposable } from '../dispose';
import { locateTodosFile } from './todosSettings';

/** What the To-Dos view is showing. */
export type TodosState =
  | { kind: 'no-folder' }
  | { kind: 'loading'; path: string }
  | { kind: 'ok'; path: string; exists: boolean }
  | { kind: 'problem'; path: string; problem: TodosProblem }
  | { kind: 'error'; path: string | undefined; message: string };

/** The refusal without a workspace folder (edits, recovery, Open To-Do File). */
export function openFolderForTodosMessage(): string {
  return vscode.l10n.t('Open a folder to keep a to-do list.');
}

/** The refusal of an edit that names a to-do the list (as shown) does not hold. */
export function unknownTodoMessage(id: string): string {
  return vscode.l10n.t({
    message: 'No to-do with id "{0}" in the list (it may have been removed elsewhere).',
    args: [id],
    comment: ["{0} is the to-do's id (not its title)."],
  });
}

/** Thrown by an edit the model refuses (unusable file, no folder); the message says why and what to do. */
export class TodosUnavailableError extends Error {
  override readonly name = 'TodosUnavailableError';
  constructor(
    message: string,
    readonly state: TodosState,
  ) {
    super(message);
  }
}

interface Target {
  folder: vscode.WorkspaceFolder;
  path: string;
  durability: Durability;
  store: TodosStore;
  queue: TodoEditQueue;
  watcher: vscode.Disposable;
}

export interface TodosModelDeps {
  durability: () => Durability;
  log: vscode.LogOutputChannel;
}

/** Watcher events arrive in bursts (rename = delete + create); one reload serves them all. */
const RELOAD_DEBOUNCE_MS = 50;

/**
 * The to-do list of the first workspace folder: the document last read from disk plus the edits not yet saved.
 * Edits (TodoEdit, the same vocabulary as the CLI's) wait in a TodoEditQueue for the save delay, then go to
 * `TodosStore.apply` (a locked read-modify-write). A watcher on the file reloads it when anything else changes it.
 * An unusable file is reported and never written; edits are refused until it is fixed or recovered.
 */
export class TodosModel extends Disposable {
  private readonly changed = this._register(new vscode.EventEmitter<void>());
  /** Fires whenever the state, the to-dos shown or the unsaved edits change. */
  readonly onDidChange = this.changed.event;
  // Until start() reads the file, a folder means "loading" (no flash of the no-folder welcome).
  private currentState: TodosState = initialState();
  private disk: TodosDocument = emptyTodosDocument();
  private target: Target | undefined;
  private readonly reloads = new SingleFlight(() => this.readOnce());
  private reloadTimer: ReturnType<typeof setTimeout> | undefined;
  private counters = { saves: 0, reloads: 0 };
  private retargeting: Promise<void> = Promise.resolve();
  /** Bumped when saved edits are folded into `disk`; a read started before that is stale and is dropped. */
  private savesApplied = 0;
  private lastSaveError: string | undefined;

  constructor(private readonly deps: TodosModelDeps) {
    super();
    this._register(vscode.workspace.onDidChangeWorkspaceFolders(() => void this.retarget()));
    this._register({ dispose: () => this.closeTarget() });
    liveModels.add(this);
    this._register({ dispose: () => liveModels.delete(this) });
  }

  get state(): TodosState {
    return this.currentState;
  }

  /** The to-dos as shown: the file's content with unsaved edits applied. */
  get todos(): readonly Todo[] {
    const edits = this.target?.queue.edits ?? [];
    return edits.length === 0 ? this.disk.tasks : withTodoEdits(this.disk, edits).tasks;
  }

  get path(): string | undefined {
    return this.target?.path;
  }

  /** The store of the list shown (undefined without a folder), for recovery. */
  get store(): TodosStore | undefined {
    return this.target?.store;
  }

  get unsavedEdits(): number {
    return this.target?.queue.edits.length ?? 0;
  }

  /** Counters and the last save failure, for diagnostics. */
  get stats(): { saves: number; reloads: number; blocked: boolean; lastSaveError: string | undefined } {
    return { ...this.counters, blocked: this.target?.queue.isBlocked ?? false, lastSaveError: this.lastSaveError };
  }

  /** Picks the folder and file from the current settings and loads it; call after activation returns. */
  start(): Promise<void> {
    return this.retarget();
  }

  /** Re-reads the settings: a new path switches documents, a new delay applies to the next save. */
  async settingsChanged(): Promise<void> {
    await this.retarget();
  }

  /** Reads the file again (serialised: overlapping requests share one read and queue at most one more). */
  reload(): Promise<void> {
    return this.reloads.run();
  }

  /**
   * Queues `edits`; they are saved within the save delay. Returns the to-dos as now shown. Refused as a whole
   * (TodosUnavailableError, nothing queued) when the file is unusable or an edit names a to-do (or anchor) that is
   * not in the list as shown, counting the earlier edits of the same call.
   */
  apply(edits: readonly TodoEdit[]): readonly Todo[] {
    const target = this.editableTarget();
    const preview: TodosDocument = { ...this.disk, tasks: [...this.todos] };
    for (const edit of edits) {
      if (edit.kind !== 'add') this.requireTodo(preview.tasks, edit.id);
      if (edit.kind === 'move' && edit.beforeId !== null) this.requireTodo(preview.tasks, edit.beforeId);
      applyTodoEdit(preview, edit, false);
    }
    target.queue.push(...edits);
    return this.todos;
  }

  /** Saves every unsaved edit now and waits until it is durable (or refused). */
  async flush(): Promise<void> {
    await this.target?.queue.flush();
  }

  /** Throws TodosUnavailableError when edits would be refused (unusable file, no folder). */
  assertEditable(): void {
    this.editableTarget();
  }

  private requireTodo(todos: readonly Todo[], id: string): void {
    if (!todos.some((candidate) => candidate.id === id)) {
      throw new TodosUnavailableError(unknownTodoMessage(id), this.currentState);
    }
  }

  private editableTarget(): Target {
    const state = this.currentState;
    if (state.kind === 'problem') {
      const message = vscode.l10n.t({
        message: '{0}. Nothing is written to it until it is fixed or recovered.',
        args: [state.problem.message],
        comment: ['{0} names the to-do file and what is wrong with it, in English; "it" is that file.'],
      });
      throw new TodosUnavailableError(message, state);
    }
    if (state.kind === 'error') throw new TodosUnavailableError(state.message, state);
    if (!this.target) {
      const message =
        state.kind === 'loading'
          ? vscode.l10n.t('The to-do list is still loading; try again in a moment.')
          : openFolderForTodosMessage();
      throw new TodosUnavailableError(message, state);
    }
    return this.target;
  }

  private setState(state: TodosState): void {
    this.currentState = state;
    this.changed.fire();
  }

  /** Chooses the first file-scheme folder and the configured path; switches documents when either changed. */
  private retarget(): Promise<void> {
    this.retargeting = this.retargeting
      .then(() => this.retargetOnce())
      .catch((error: unknown) => this.deps.log.error(`Could not open the to-do list: ${String(error)}`));
    return this.retargeting;
  }

  private async retargetOnce(): Promise<void> {
    const location = locateTodosFile();
    if (location.kind !== 'ok') {
      await this.closeTargetAfterFlush();
      this.disk = emptyTodosDocument();
      this.setState(
        location.kind === 'no-folder' ? location : { kind: 'error', path: location.path, message: location.message },
      );
      return;
    }
    const { folder, path, relativePosix, settings } = location;
    const durability = this.deps.durability();
    if (this.target?.path === path && this.target.durability === durability) {
      this.target.queue.setDelay(settings.saveDelayMs);
      return;
    }
    await this.closeTargetAfterFlush();
    const store = new TodosStore(path, {
      durability,
      onWarning: (message) => this.deps.log.warn(message),
    });
    const queue = new TodoEditQueue(store, {
      delayMs: settings.saveDelayMs,
      onChange: () => this.changed.fire(),
      onSaved: (outcome) => this.afterSave(path, outcome),
    });
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(folder, relativePosix));
    const onEvent = () => this.scheduleReload();
    const watching = vscode.Disposable.from(
      watcher,
      watcher.onDidChange(onEvent),
      watcher.onDidCreate(onEvent),
      watcher.onDidDelete(onEvent),
    );
    this.target = { folder, path, durability, store, queue, watcher: watching };
    this.disk = emptyTodosDocument();
    this.setState({ kind: 'loading', path });
    await this.reload();
  }

  private afterSave(path: string, outcome: TodoSaveOutcome): void {
    if (this.target?.path !== path) return;
    if (outcome.saved > 0) {
      this.counters.saves += 1;
      this.savesApplied += 1;
      // Shown as saved straight away; the reload below then brings in whatever others wrote meanwhile.
      this.disk = withTodoEdits(this.disk, outcome.savedEdits);
    }
    for (const { edit, error } of outcome.dropped) {
      this.deps.log.warn(`A to-do edit (${edit.kind}) could not be saved and was dropped: ${error.message}`);
      void vscode.window.showWarningMessage(
        vscode.l10n.t({
          message: 'Crash-Safe State: a to-do edit could not be saved: {0}',
          args: [error.message],
          comment: ['{0} is the reason, in English.'],
        }),
      );
    }
    if (outcome.blocked) {
      this.lastSaveError = outcome.blocked.message;
      this.deps.log.error(`To-do edits are waiting: ${outcome.blocked.message}`);
    } else if (outcome.failed) {
      this.lastSaveError = outcome.failed.message;
      this.deps.log.error(`Saving to-do edits failed; retrying: ${outcome.failed.message}`);
    } else {
      this.lastSaveError = undefined;
    }
    // Our own write also reaches the watcher, but reading now shows the saved state without waiting for it.
    void this.reload();
  }

  private scheduleReload(): void {
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(() => {
      this.reloadTimer = undefined;
      void this.reload();
    }, RELOAD_DEBOUNCE_MS);
  }

  private async readOnce(): Promise<void> {
    const target = this.target;
    if (!target) return;
    this.counters.reloads += 1;
    const savesBefore = this.savesApplied;
    try {
      const result = await target.store.read();
      // Stale: a save finished during the read (afterSave has already queued a fresh read).
      if (this.target !== target || this.savesApplied !== savesBefore) return;
      if (result.state === 'ok') {
        this.disk = result.document;
        this.setState({ kind: 'ok', path: target.path, exists: result.exists });
        target.queue.resume();
      } else {
        this.setState({ kind: 'problem', path: target.path, problem: result.problem });
      }
    } catch (error) {
      if (this.target !== target) return;
      const reason = messageOf(error);
      this.deps.log.error(`Cannot read ${target.path}: ${reason}`);
      const message = vscode.l10n.t({
        message: 'Cannot read {0}: {1}',
        args: [target.path, reason],
        comment: ['{0} is a file path, {1} the reason, in English.'],
      });
      this.setState({ kind: 'error', path: target.path, message });
    }
  }

  private async closeTargetAfterFlush(): Promise<void> {
    const target = this.target;
    if (!target) return;
    await target.queue.flush().catch(() => undefined);
    if (target.queue.edits.length > 0) {
      this.deps.log.warn(
        `${target.queue.edits.length} unsaved to-do edit(s) for ${target.path} were dropped when the to-do list moved.`,
      );
    }
    if (this.target === target) this.closeTarget();
  }

  private closeTarget(): void {
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    this.reloadTimer = undefined;
    this.target?.watcher.dispose();
    this.target?.queue.dispose();
    this.target = undefined;
  }
}

function initialState(): TodosState {
  const location = locateTodosFile();
  return location.kind === 'ok' ? { kind: 'loading', path: location.path } : { kind: 'no-folder' };
}

const liveModels = new Set<TodosModel>();

/** Saves every unsaved to-do edit in this extension host; `deactivate` awaits it so closing never drops an edit. */
export async function flushAllTodoModels(): Promise<void> {
  await Promise.all([...liveModels].map((model) => model.flush().catch(() => undefined)));
}
