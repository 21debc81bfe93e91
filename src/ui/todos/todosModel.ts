import { randomBytes } from 'node:crypto';
import { isAbsolute, relative, resolve } from 'node:path';
import * as vscode from 'vscode';
import type { Durability } from '../../core/atomicWrite';
import { SingleFlight } from '../../core/singleFlight';
import { type TaskEdit, TaskEditQueue, type TaskSaveOutcome, withTaskEdits } from '../../state/taskEdits';
import { TASKS_FORMAT_VERSION, type Task, type TasksDocument } from '../../state/tasksSchema';
import {
  DEFAULT_TASKS_RELATIVE_PATH,
  type TasksProblem,
  type TasksRecoveryCandidate,
  type TasksRecoveryResult,
  TasksStore,
} from '../../state/tasksStore';
import { CONFIG_SECTION } from '../commandIds';
import { Disposable } from '../dispose';

/** The To-Dos view's settings, read for the workspace folder that holds the list. */
export interface TasksSettings {
  /** `crashSafeState.todos.path`: relative to the folder, and it must stay inside it. */
  relativePath: string;
  /** The setting id `relativePath` came from (the deprecated `tasks.path` when only that one is set). */
  pathSetting: string;
  /** `crashSafeState.todos.saveDelayMs`: an edit is saved at most this long after it is made. */
  saveDelayMs: number;
}

/** Settings renamed from `tasks.*` to `todos.*`; the old ids are still read when the new ones are not set. */
export const TODO_SETTING_RENAMES = { 'todos.path': 'tasks.path', 'todos.saveDelayMs': 'tasks.saveDelayMs' } as const;

export const DEFAULT_TASKS_SAVE_DELAY_MS = 500;
const MAX_TASKS_SAVE_DELAY_MS = 60_000;
/** Watcher events arrive in bursts (rename = delete + create); one reload serves them all. */
const RELOAD_DEBOUNCE_MS = 50;

/**
 * A renamed setting: in each scope, most specific first, the new id wins over the old one, so an old id set in a
 * folder still beats a new id set in the user settings. Returns the value and the id it came from.
 */
function readRenamed<T>(config: vscode.WorkspaceConfiguration, key: keyof typeof TODO_SETTING_RENAMES, fallback: T): { value: T; from: string } {
  const legacy = TODO_SETTING_RENAMES[key];
  const current = config.inspect<T>(key);
  const old = config.inspect<T>(legacy);
  for (const scope of ['workspaceFolderValue', 'workspaceValue', 'globalValue'] as const) {
    if (current?.[scope] !== undefined) return { value: current[scope] as T, from: key };
    if (old?.[scope] !== undefined) return { value: old[scope] as T, from: legacy };
  }
  return { value: fallback, from: key };
}

/** Reads the To-Dos settings for `folder` (resource scope, so a folder may override them). */
export function readTasksSettings(folder?: vscode.Uri): TasksSettings {
  const config = vscode.workspace.getConfiguration(CONFIG_SECTION, folder);
  const delay = readRenamed<unknown>(config, 'todos.saveDelayMs', DEFAULT_TASKS_SAVE_DELAY_MS).value;
  const path = readRenamed<unknown>(config, 'todos.path', DEFAULT_TASKS_RELATIVE_PATH);
  return {
    relativePath: (typeof path.value === 'string' && path.value.trim()) || DEFAULT_TASKS_RELATIVE_PATH,
    pathSetting: `${CONFIG_SECTION}.${path.from}`,
    saveDelayMs:
      typeof delay === 'number' && Number.isFinite(delay) ? Math.min(Math.max(0, delay), MAX_TASKS_SAVE_DELAY_MS) : DEFAULT_TASKS_SAVE_DELAY_MS,
  };
}

/** What the To-Dos view is showing. */
export type TasksState =
  | { kind: 'no-folder' }
  | { kind: 'loading'; path: string }
  | { kind: 'ok'; path: string; exists: boolean }
  | { kind: 'problem'; path: string; problem: TasksProblem }
  | { kind: 'error'; path: string | undefined; message: string };

/** Thrown by an edit the model refuses (unusable file, no folder); the message says why and what to do. */
export class TasksUnavailableError extends Error {
  override readonly name = 'TasksUnavailableError';
  constructor(
    message: string,
    readonly state: TasksState,
  ) {
    super(message);
  }
}

/** A removed to-do and the ids that followed it, so an undo can put it back at its place. */
export interface RemovedTask {
  task: Task;
  following: readonly string[];
}

/** A change of title, notes or done; `notes: null` or `''` removes the notes. */
export interface TaskChange {
  title?: string;
  notes?: string | null;
  done?: boolean;
}

interface Target {
  folder: vscode.WorkspaceFolder;
  path: string;
  durability: Durability;
  store: TasksStore;
  queue: TaskEditQueue;
  watcher: vscode.Disposable;
}

export interface TasksModelDeps {
  durability: () => Durability;
  log: vscode.LogOutputChannel;
}

function emptyDocument(): TasksDocument {
  return { version: TASKS_FORMAT_VERSION, tasks: [] };
}

/**
 * The task list of the first workspace folder: the document last read from disk plus the edits not yet saved.
 * Edits become intents in a TaskEditQueue, saved through the store (locked read-modify-write, coalesced) within
 * the save delay. A watcher on the file reloads it when anything else changes it. An unusable file is reported
 * and never written; edits are refused until it is fixed or recovered.
 */
export class TasksModel extends Disposable {
  private readonly changed = this._register(new vscode.EventEmitter<void>());
  /** Fires whenever the state, the tasks shown or the unsaved edits change. */
  readonly onDidChange = this.changed.event;
  // Until start() reads the file, a folder means "loading" (no flash of the no-folder welcome).
  private currentState: TasksState = initialState();
  private disk: TasksDocument = emptyDocument();
  private target: Target | undefined;
  private readonly reloads = new SingleFlight(() => this.readOnce());
  private reloadTimer: ReturnType<typeof setTimeout> | undefined;
  private counters = { saves: 0, reloads: 0 };
  private retargeting: Promise<void> = Promise.resolve();
  /** Bumped when saved edits are folded into `disk`; a read started before that is stale and is dropped. */
  private savesApplied = 0;
  private lastSaveError: string | undefined;

  constructor(private readonly deps: TasksModelDeps) {
    super();
    this._register(vscode.workspace.onDidChangeWorkspaceFolders(() => void this.retarget()));
    this._register({ dispose: () => this.closeTarget() });
    liveModels.add(this);
    this._register({ dispose: () => liveModels.delete(this) });
  }

  get state(): TasksState {
    return this.currentState;
  }

  /** The tasks as shown: the file's content with unsaved edits applied. */
  get tasks(): readonly Task[] {
    const edits = this.target?.queue.edits ?? [];
    return edits.length === 0 ? this.disk.tasks : withTaskEdits(this.disk, edits).tasks;
  }

  get path(): string | undefined {
    return this.target?.path;
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
  async applySettings(): Promise<void> {
    await this.retarget();
  }

  /** Reads the file again (serialised: overlapping requests share one read and queue at most one more). */
  reload(): Promise<void> {
    return this.reloads.run();
  }

  /** Adds a to-do at the end; it is saved within the save delay. */
  add(title: string, notes?: string): Task {
    const target = this.editableTarget();
    const cleanTitle = requireTitle(title);
    const now = new Date().toISOString();
    const taken = new Set(this.tasks.map((task) => task.id));
    let id: string;
    do id = randomBytes(4).toString('hex');
    while (taken.has(id));
    const task: Task = { id, title: cleanTitle, done: false, createdAt: now, updatedAt: now };
    if (notes !== undefined && notes.length > 0) task.notes = notes;
    this.push(target, { kind: 'add', task });
    return task;
  }

  /** Changes a task; returns it as it will be saved. */
  update(id: string, change: TaskChange): Task {
    const target = this.editableTarget();
    this.requireTask(id);
    const edit: TaskEdit = { kind: 'update', id, at: new Date().toISOString() };
    if (change.title !== undefined) edit.title = requireTitle(change.title);
    if (change.notes !== undefined) edit.notes = change.notes;
    if (change.done !== undefined) edit.done = change.done;
    this.push(target, edit);
    return this.requireTask(id);
  }

  /** Removes a to-do; returns what was removed. */
  remove(id: string): Task {
    const target = this.editableTarget();
    const task = this.requireTask(id);
    this.push(target, { kind: 'remove', id });
    return task;
  }

  /**
   * Puts removed to-dos back where they were: each just before the first of the to-dos that followed it
   * (`following`, in the old order) that is still in the list, or last. Restored from the end, so neighbours
   * removed together land in their old order. A to-do that is back already is left alone.
   */
  restore(removed: readonly RemovedTask[]): readonly Task[] {
    const target = this.editableTarget();
    for (const { task, following } of [...removed].reverse()) {
      const present = new Set(this.tasks.map((candidate) => candidate.id));
      if (present.has(task.id)) continue;
      this.push(target, { kind: 'add', task: structuredClone(task) });
      this.push(target, { kind: 'move', id: task.id, beforeId: following.find((id) => present.has(id)) ?? null });
    }
    return this.tasks;
  }

  /** Places a task just before `beforeId` (last when null); returns the new order. */
  move(id: string, beforeId: string | null): readonly Task[] {
    const target = this.editableTarget();
    this.requireTask(id);
    if (beforeId !== null) this.requireTask(beforeId);
    this.push(target, { kind: 'move', id, beforeId });
    return this.tasks;
  }

  /** Saves every unsaved edit now and waits until it is durable (or refused). */
  async flush(): Promise<void> {
    await this.target?.queue.flush();
  }

  /** Backup generations and temp files the unusable document can be restored from. */
  async recoveryCandidates(): Promise<TasksRecoveryCandidate[]> {
    if (!this.target) throw new TasksUnavailableError('Open a folder to keep a to-do list.', this.currentState);
    return this.target.store.recoveryCandidates();
  }

  /** Restores the document from a candidate (default: the newest usable one), then reloads and resumes saving. */
  async recover(candidateId?: string): Promise<TasksRecoveryResult> {
    if (!this.target) throw new TasksUnavailableError('Open a folder to keep a to-do list.', this.currentState);
    const result = await this.target.store.recover(candidateId);
    this.deps.log.info(
      `Recovered ${this.target.path} from ${result.restoredFrom.path}` + (result.preservedAs ? `; the damaged file is kept as ${result.preservedAs}` : ''),
    );
    await this.reload();
    return result;
  }

  /** Throws TasksUnavailableError when edits would be refused (unusable file, no folder). */
  assertEditable(): void {
    this.editableTarget();
  }

  private push(target: Target, edit: TaskEdit): void {
    target.queue.push(edit);
  }

  private requireTask(id: string): Task {
    const task = this.tasks.find((candidate) => candidate.id === id);
    if (!task) throw new TasksUnavailableError(`No to-do with id "${id}" in the list (it may have been removed elsewhere).`, this.currentState);
    return task;
  }

  private editableTarget(): Target {
    const state = this.currentState;
    if (state.kind === 'problem') {
      throw new TasksUnavailableError(`${state.problem.message}. Nothing is written to it until it is fixed or recovered.`, state);
    }
    if (state.kind === 'error') throw new TasksUnavailableError(state.message, state);
    if (!this.target) {
      const message = state.kind === 'loading' ? 'The to-do list is still loading; try again in a moment.' : 'Open a folder to keep a to-do list.';
      throw new TasksUnavailableError(message, state);
    }
    return this.target;
  }

  private setState(state: TasksState): void {
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
    const location = locateTasksFile();
    if (location.kind !== 'ok') {
      await this.closeTargetAfterFlush();
      this.disk = emptyDocument();
      this.setState(location.kind === 'no-folder' ? location : { kind: 'error', path: location.path, message: location.message });
      return;
    }
    const { folder, path, relativePosix, settings } = location;
    const durability = this.deps.durability();
    if (this.target?.path === path && this.target.durability === durability) {
      this.target.queue.setDelay(settings.saveDelayMs);
      return;
    }
    await this.closeTargetAfterFlush();
    const store = new TasksStore(path, {
      durability,
      onWarning: (message) => this.deps.log.warn(message),
    });
    const queue = new TaskEditQueue(store, {
      delayMs: settings.saveDelayMs,
      onChange: () => this.changed.fire(),
      onSaved: (outcome) => this.afterSave(path, outcome),
    });
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(folder, relativePosix));
    const onEvent = () => this.scheduleReload();
    const watching = vscode.Disposable.from(watcher, watcher.onDidChange(onEvent), watcher.onDidCreate(onEvent), watcher.onDidDelete(onEvent));
    this.target = { folder, path, durability, store, queue, watcher: watching };
    this.disk = emptyDocument();
    this.setState({ kind: 'loading', path });
    await this.reload();
  }

  private afterSave(path: string, outcome: TaskSaveOutcome): void {
    if (this.target?.path !== path) return;
    if (outcome.saved > 0) {
      this.counters.saves += 1;
      this.savesApplied += 1;
      // Shown as saved straight away; the reload below then brings in whatever others wrote meanwhile.
      this.disk = withTaskEdits(this.disk, outcome.savedEdits);
    }
    for (const { edit, error } of outcome.dropped) {
      this.deps.log.warn(`A to-do edit (${edit.kind}) could not be saved and was dropped: ${error.message}`);
      void vscode.window.showWarningMessage(`Crash-Safe State: a to-do edit could not be saved: ${error.message}`);
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
      const message = `Cannot read ${target.path}: ${error instanceof Error ? error.message : String(error)}`;
      this.deps.log.error(message);
      this.setState({ kind: 'error', path: target.path, message });
    }
  }

  private async closeTargetAfterFlush(): Promise<void> {
    const target = this.target;
    if (!target) return;
    await target.queue.flush().catch(() => undefined);
    if (target.queue.edits.length > 0) {
      this.deps.log.warn(`${target.queue.edits.length} unsaved to-do edit(s) for ${target.path} were dropped when the to-do list moved.`);
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

type TasksLocation =
  | { kind: 'ok'; folder: vscode.WorkspaceFolder; path: string; relativePosix: string; settings: TasksSettings }
  | { kind: 'no-folder' }
  | { kind: 'outside'; path: string; message: string };

/** The first file-scheme workspace folder and the configured to-do file in it (which must stay inside it). */
function locateTasksFile(): TasksLocation {
  const folder = vscode.workspace.workspaceFolders?.find((candidate) => candidate.uri.scheme === 'file');
  if (!folder) return { kind: 'no-folder' };
  const settings = readTasksSettings(folder.uri);
  const path = resolve(folder.uri.fsPath, settings.relativePath);
  const inside = relative(folder.uri.fsPath, path);
  if (isAbsolute(settings.relativePath) || inside.startsWith('..') || isAbsolute(inside) || inside === '') {
    return {
      kind: 'outside',
      path,
      message: `The setting ${settings.pathSetting} ("${settings.relativePath}") must name a file inside the workspace folder ${folder.uri.fsPath}.`,
    };
  }
  return { kind: 'ok', folder, path, relativePosix: inside.split(/[\\/]/).join('/'), settings };
}

function initialState(): TasksState {
  const location = locateTasksFile();
  return location.kind === 'ok' ? { kind: 'loading', path: location.path } : { kind: 'no-folder' };
}

function requireTitle(title: string): string {
  const trimmed = title.trim();
  if (trimmed.length === 0) throw new RangeError('A to-do needs a non-empty title.');
  return trimmed;
}

const liveModels = new Set<TasksModel>();

/** Saves every unsaved to-do edit in this extension host; `deactivate` awaits it so closing never drops an edit. */
export async function flushAllTaskModels(): Promise<void> {
  await Promise.all([...liveModels].map((model) => model.flush().catch(() => undefined)));
}
