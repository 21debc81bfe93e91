import * as vscode from 'vscode';
import { messageOf } from '../core/errors';
import { compileCustomPatterns } from '../core/names/tempPatterns';
import { type Durability, isDurability } from '../core/write/durability';
import { CONFIG_SECTION, CRASH_SAFE_SCHEME } from './commandIds';
import { realFileUri } from './crashSafeSave/crashSafeUri';

// Every `crashSafeState.*` setting is read here. The defaults live only in package.json (`contributes.configuration`):
// VS Code applies them, so `get(key)` returns them when nothing is set, and a value of the wrong type falls back to
// `inspect(key).defaultValue`, the same manifest default.
//
// One flow: a feature reads a setting when it uses it, through a getter. Window-wide settings come from the one
// snapshot extension.ts keeps (`() => settings`, re-read by its listener below); settings a folder or document may
// override come from the readers here (`readTodoSettings(folder)`…). A change is announced (`settingsChanged()`),
// never pushed as values, so no feature holds a copy that can go stale.

/** What a sweep does with orphans the trash refuses (`sweep.whenTrashUnavailable`). */
export type WhenTrashUnavailable = 'ask' | 'deletePermanently' | 'keep';

/** The window-wide settings, read together; package.json `contributes.configuration` documents each. */
export interface ExtensionSettings {
  durability: Durability;
  orphanAgeMinutes: number;
  /** The `tempPatterns` the recogniser accepts; the refused ones are in `refusedTempPatterns`. */
  tempPatterns: string[];
  /** Patterns refused as malformed or over-broad (they would match rotated logs, backups…), with the reason. */
  refusedTempPatterns: { pattern: string; reason: string }[];
  exclude: string[];
  scanNodeModules: boolean;
  showWhenClean: boolean;
  /** `explorer.decorations`: badges on orphans and on the broken targets they can restore. */
  explorerDecorations: boolean;
  useTrash: boolean;
  whenTrashUnavailable: WhenTrashUnavailable;
  scanIntervalMinutes: number;
  startupCheck: boolean;
}

/** `crashSafeState.snapshots.*`, for one workspace folder. */
export interface SnapshotSettings {
  keep: number;
  auto: boolean;
}

/** What a save of content that does not parse does: ask, refuse, or save without asking. */
export type InvalidJsonPolicy = 'ask' | 'refuse' | 'save';

/** `crashSafeState.crashSafeSave.*`, for one document. */
export interface CrashSafeSaveSettings {
  /** Auto-save after this many ms without edits; 0 turns it off. */
  autoSaveDelayMs: number;
  invalidJson: InvalidJsonPolicy;
}

/** `crashSafeState.todos.*` (or the deprecated `tasks.*`), for the workspace folder that holds the list. */
export interface TodoSettings {
  /** `todos.path`: relative to the folder, and it must stay inside it. */
  relativePath: string;
  /** The full setting id `relativePath` came from (the deprecated `tasks.path` when only that one is set). */
  pathSetting: string;
  /** `todos.saveDelayMs`: an edit is saved at most this long after it is made. */
  saveDelayMs: number;
}

/** Settings renamed from `tasks.*` to `todos.*`; the old ids are still read when the new ones are not set. */
export const TODO_SETTING_RENAMES = { 'todos.path': 'tasks.path', 'todos.saveDelayMs': 'tasks.saveDelayMs' } as const;

/** package.json's `maximum` for `todos.saveDelayMs`: VS Code only warns about larger values, so they are clamped. */
const MAX_TODO_SAVE_DELAY_MS = 60_000;

type Guard<T> = (value: unknown) => value is T;
const isNumber: Guard<number> = (value): value is number => typeof value === 'number' && Number.isFinite(value);
const isBoolean: Guard<boolean> = (value): value is boolean => typeof value === 'boolean';
const isString: Guard<string> = (value): value is string => typeof value === 'string';
const oneOf =
  <T extends string>(...allowed: T[]): Guard<T> =>
  (value): value is T =>
    allowed.includes(value as T);

/** The manifest default of `key` (VS Code registers package.json's defaults). */
function manifestDefault<T>(config: vscode.WorkspaceConfiguration, key: string): T {
  return config.inspect<T>(key)?.defaultValue as T;
}

/** The value of `key`, or its manifest default when the value set is not of the setting's type. */
function read<T>(config: vscode.WorkspaceConfiguration, key: string, valid: Guard<T>): T {
  const value = config.get<unknown>(key);
  return valid(value) ? value : manifestDefault<T>(config, key);
}

/** The strings of an array setting; anything else in it is ignored. */
function readStrings(config: vscode.WorkspaceConfiguration, key: string): string[] {
  const value = config.get<unknown>(key);
  return Array.isArray(value) ? value.filter(isString) : manifestDefault<string[]>(config, key);
}

/** Splits the user's patterns into the usable ones and the refused ones, each judged on its own. */
function checkTempPatterns(
  patterns: readonly string[],
): Pick<ExtensionSettings, 'tempPatterns' | 'refusedTempPatterns'> {
  const tempPatterns: string[] = [];
  const refusedTempPatterns: { pattern: string; reason: string }[] = [];
  for (const pattern of patterns) {
    try {
      compileCustomPatterns([pattern]);
      tempPatterns.push(pattern);
    } catch (error) {
      refusedTempPatterns.push({ pattern, reason: messageOf(error) });
    }
  }
  return { tempPatterns, refusedTempPatterns };
}

export function readSettings(): ExtensionSettings {
  const config = vscode.workspace.getConfiguration(CONFIG_SECTION);
  return {
    durability: read(config, 'durability', isDurability),
    orphanAgeMinutes: Math.max(0, read(config, 'orphanAgeMinutes', isNumber)),
    ...checkTempPatterns(readStrings(config, 'tempPatterns')),
    exclude: readStrings(config, 'exclude'),
    scanNodeModules: read(config, 'scanNodeModules', isBoolean),
    showWhenClean: read(config, 'statusBar.showWhenClean', isBoolean),
    explorerDecorations: read(config, 'explorer.decorations', isBoolean),
    useTrash: read(config, 'sweep.useTrash', isBoolean),
    whenTrashUnavailable: read(
      config,
      'sweep.whenTrashUnavailable',
      oneOf<WhenTrashUnavailable>('ask', 'deletePermanently', 'keep'),
    ),
    scanIntervalMinutes: Math.max(0, read(config, 'scanIntervalMinutes', isNumber)),
    startupCheck: read(config, 'startupCheck', isBoolean),
  };
}

/** The snapshot settings of `folder` (resource scope, so a folder may override them). */
export function readSnapshotSettings(folder?: vscode.Uri): SnapshotSettings {
  const config = vscode.workspace.getConfiguration(CONFIG_SECTION, folder);
  return {
    keep: Math.max(1, Math.trunc(read(config, 'snapshots.keep', isNumber))),
    auto: read(config, 'snapshots.auto', isBoolean),
  };
}

/** The crash-safe save settings of a document; a `crashsafe:` URI is looked up as its file, so folder settings apply. */
export function readCrashSafeSaveSettings(resource?: vscode.Uri): CrashSafeSaveSettings {
  const scope = resource?.scheme === CRASH_SAFE_SCHEME ? (realFileUri(resource) ?? resource) : resource;
  const config = vscode.workspace.getConfiguration(CONFIG_SECTION, scope);
  return {
    autoSaveDelayMs: Math.max(0, read(config, 'crashSafeSave.autoSaveDelayMs', isNumber)),
    invalidJson: read(config, 'crashSafeSave.invalidJson', oneOf<InvalidJsonPolicy>('ask', 'refuse', 'save')),
  };
}

/**
 * `crashSafeSave.files` for a document: the globs (matched like `files.exclude`, against the path relative to its
 * workspace folder) whose saves get a pre-save copy. Non-strings and blank entries are ignored.
 */
export function readCrashSafeSaveFiles(resource?: vscode.Uri): string[] {
  const scope = resource?.scheme === CRASH_SAFE_SCHEME ? vscode.Uri.file(resource.fsPath) : resource;
  const config = vscode.workspace.getConfiguration(CONFIG_SECTION, scope);
  return readStrings(config, 'crashSafeSave.files').filter((glob) => glob.trim() !== '');
}

/**
 * A renamed setting: in each scope, most specific first, the new id wins over the old one, so an old id set in a
 * folder still beats a new id set in the user settings. Returns the value and the id it came from.
 */
function readRenamed(
  config: vscode.WorkspaceConfiguration,
  key: keyof typeof TODO_SETTING_RENAMES,
): { value: unknown; from: string } {
  const legacy = TODO_SETTING_RENAMES[key];
  const current = config.inspect(key);
  const old = config.inspect(legacy);
  for (const scope of ['workspaceFolderValue', 'workspaceValue', 'globalValue'] as const) {
    if (current?.[scope] !== undefined) return { value: current[scope], from: key };
    if (old?.[scope] !== undefined) return { value: old[scope], from: legacy };
  }
  return { value: current?.defaultValue, from: key };
}

/** The To-Dos settings of `folder` (resource scope, so a folder may override them). */
export function readTodoSettings(folder?: vscode.Uri): TodoSettings {
  const config = vscode.workspace.getConfiguration(CONFIG_SECTION, folder);
  const path = readRenamed(config, 'todos.path');
  const delay = readRenamed(config, 'todos.saveDelayMs').value;
  return {
    relativePath: (isString(path.value) && path.value.trim()) || manifestDefault<string>(config, 'todos.path'),
    pathSetting: `${CONFIG_SECTION}.${path.from}`,
    saveDelayMs: isNumber(delay)
      ? Math.min(Math.max(0, delay), MAX_TODO_SAVE_DELAY_MS)
      : manifestDefault<number>(config, 'todos.saveDelayMs'),
  };
}

/**
 * Fires `listener` only for changes under our section, as Error Lens does. extension.ts holds the one listener of our
 * settings; the orphan model and the snapshot service also listen, to VS Code's own (files.exclude, settings.json).
 */
export function onDidChangeSettings(listener: () => void): vscode.Disposable {
  return vscode.workspace.onDidChangeConfiguration((event) => {
    if (event.affectsConfiguration(CONFIG_SECTION)) listener();
  });
}
