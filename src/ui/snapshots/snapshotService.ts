import { existsSync } from 'node:fs';
import * as vscode from 'vscode';
import { messageOf } from '../../core/errors';
import type { Durability } from '../../core/write/atomicWrite';
import {
  type RestoreResult,
  SettingsSnapshots,
  type SettingValues,
  settingsValuesFromText,
  type TakeResult,
} from '../../state/snapshots';
import { SNAPSHOT_SCHEME } from '../commandIds';
import { Disposable } from '../dispose';
import { readSnapshotSettings } from '../settings';
import { isOwnSnapshot, markWalkthrough, WalkthroughKey } from '../walkthroughProgress';

/** Configuration changes arrive in bursts (one per key a settings edit touches); one snapshot covers them. */
export const AUTO_SNAPSHOT_DELAY_MS = 1000;
/** The baseline snapshot waits a moment, so it never competes with the window's start-up. */
const STARTUP_SNAPSHOT_DELAY_MS = 1000;

/** Counters of the automatic snapshots, for diagnostics and tests. */
export interface AutoSnapshotStats {
  taken: number;
  skippedUnchanged: number;
  lastId: string | undefined;
  lastError: string | undefined;
}

export interface SnapshotDeps {
  durability: () => Durability;
  log: vscode.LogOutputChannel;
}

/**
 * Settings snapshots of the first workspace folder's `.vscode/settings.json`: by command, automatically after a
 * configuration change (debounced; skipped when nothing changed) and once at start-up as a baseline, and restore.
 * Nothing is created in a folder without a settings.json. The commands (Quick Pick, diff, confirmation) are in
 * snapshotCommands.ts.
 */
export class SettingsSnapshotService extends Disposable implements vscode.TextDocumentContentProvider {
  private autoTimer: ReturnType<typeof setTimeout> | undefined;
  private startupTimer: ReturnType<typeof setTimeout> | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly autoStats: AutoSnapshotStats = {
    taken: 0,
    skippedUnchanged: 0,
    lastId: undefined,
    lastError: undefined,
  };

  constructor(private readonly deps: SnapshotDeps) {
    super();
    this._register(vscode.workspace.registerTextDocumentContentProvider(SNAPSHOT_SCHEME, this));
    // Any setting, not only ours: what is snapshotted is the folder's whole settings.json.
    this._register(vscode.workspace.onDidChangeConfiguration(() => this.scheduleAuto(AUTO_SNAPSHOT_DELAY_MS)));
    this._register({
      dispose: () => {
        clearTimeout(this.autoTimer);
        clearTimeout(this.startupTimer);
      },
    });
  }

  get stats(): AutoSnapshotStats {
    return { ...this.autoStats };
  }

  /** Takes the baseline snapshot a little after start-up, so the state before the first change is kept too. */
  start(): void {
    this.markOwnSnapshots().catch((error: unknown) =>
      this.deps.log.warn(`Listing settings snapshots failed: ${messageOf(error)}`),
    );
    // Its own timer: a configuration change during start-up must not replace the state from before it.
    this.startupTimer = setTimeout(() => void this.autoSnapshot('startup'), STARTUP_SNAPSHOT_DELAY_MS);
  }

  /** The snapshots of the first file-scheme workspace folder, or undefined without one. */
  snapshots(): SettingsSnapshots | undefined {
    const folder = vscode.workspace.workspaceFolders?.find((candidate) => candidate.uri.scheme === 'file');
    if (!folder) return undefined;
    const settings = readSnapshotSettings(folder.uri);
    return new SettingsSnapshots(folder.uri.fsPath, { keep: settings.keep, durability: this.deps.durability() });
  }

  /** VS Code's effective workspace-scope values of the keys settings.json holds (parsed values where VS Code has none). */
  effectiveValues(store: SettingsSnapshots, text: string | null): SettingValues {
    const parsed = settingsValuesFromText(text).values;
    const folderUri = vscode.Uri.file(store.workspaceDir);
    const config = vscode.workspace.getConfiguration(undefined, folderUri);
    // In a multi-root workspace a folder's .vscode/settings.json is the folder scope, not the workspace scope.
    const multiRoot = vscode.workspace.workspaceFile !== undefined;
    const values: SettingValues = {};
    for (const key of Object.keys(parsed)) {
      const inspected = config.inspect(key);
      const effective = multiRoot ? inspected?.workspaceFolderValue : inspected?.workspaceValue;
      values[key] = effective === undefined ? parsed[key] : effective;
    }
    return values;
  }

  /** Takes a snapshot now (serialised with automatic ones); undefined without a workspace folder. */
  take(reason: string): Promise<TakeResult | undefined> {
    return this.serialised(async () => {
      const store = this.snapshots();
      if (!store) return undefined;
      const text = await store.currentSettingsText();
      const result = await store.take({ reason, values: this.effectiveValues(store, text) });
      if (isOwnSnapshot(reason)) markWalkthrough(WalkthroughKey.SnapshotTaken);
      return result;
    });
  }

  /** Ticks the walkthrough's snapshot step when a snapshot taken on purpose exists (say, by the CLI before). */
  private async markOwnSnapshots(): Promise<void> {
    const listing = await this.snapshots()?.list();
    if (listing?.snapshots.some((snapshot) => isOwnSnapshot(snapshot.reason)))
      markWalkthrough(WalkthroughKey.SnapshotTaken);
  }

  /**
   * Restores a snapshot (first snapshotting the current state), only while settings.json still holds `shown`, the
   * bytes the user previewed (null: no file); otherwise nothing is written and SettingsChangedError names the file.
   */
  restore(store: SettingsSnapshots, id: string, shown: Buffer | null): Promise<RestoreResult> {
    return this.serialised(() =>
      store.restore(id, {
        values: this.effectiveValues(store, shown?.toString('utf8') ?? null),
        expectedSettings: shown,
      }),
    );
  }

  /** Content of `crashsafe-snapshot:/<id>/settings.json`: that snapshot's raw settings.json text. */
  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const id = uri.path.split('/').filter(Boolean)[0] ?? '';
    if (id === 'missing') return '';
    const store = this.snapshots();
    if (!store) return '';
    const snapshot = await store.read(id);
    return snapshot.settingsText ?? '';
  }

  private serialised<T>(action: () => Promise<T>): Promise<T> {
    const run = this.queue.then(action, action);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private scheduleAuto(delayMs: number): void {
    clearTimeout(this.autoTimer);
    this.autoTimer = setTimeout(() => {
      this.autoTimer = undefined;
      void this.autoSnapshot('auto');
    }, delayMs);
  }

  private async autoSnapshot(reason: string): Promise<void> {
    const store = this.snapshots();
    if (!store || !readSnapshotSettings(vscode.Uri.file(store.workspaceDir)).auto) return;
    // Opening a folder must not create files in it: only a folder with workspace settings (or snapshots) gets them.
    if (!existsSync(store.settingsPath) && !existsSync(store.snapshotsDir)) return;
    if (!vscode.workspace.isTrusted) return;
    try {
      const result = await this.take(reason);
      if (!result) return;
      if (result.taken) {
        this.autoStats.taken += 1;
        this.autoStats.lastId = result.snapshot.id;
        this.deps.log.info(
          `Settings snapshot ${result.snapshot.id} (${reason}): ${result.snapshot.changedKeys.join(', ') || 'text only'}` +
            (result.pruned.length > 0 ? `; pruned ${result.pruned.length}` : ''),
        );
      } else {
        this.autoStats.skippedUnchanged += 1;
      }
      this.autoStats.lastError = undefined;
    } catch (error) {
      this.autoStats.lastError = messageOf(error);
      this.deps.log.error(`Automatic settings snapshot failed: ${this.autoStats.lastError}`);
    }
  }
}
