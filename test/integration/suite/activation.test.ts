import * as assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CrashSafeStateApi } from '../../../src/ui/api';
import {
  readCrashSafeSaveFiles,
  readCrashSafeSaveSettings,
  readSettings,
  readSnapshotSettings,
  readTodoSettings,
} from '../../../src/ui/settings';
import { integrationEnvironment } from './environment';

const EXTENSION_ID = 'crash-safe-state.crash-safe-state';

suite('activation in a real extension host', () => {
  test('our extension is loaded in the host and activates', async () => {
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(extension, `${EXTENSION_ID} is not among the host's extensions`);
    await extension.activate();
    assert.equal(extension.isActive, true);
  });

  test('the workspace is the seeded temporary copy of the fixture', () => {
    const folders = vscode.workspace.workspaceFolders ?? [];
    assert.equal(folders.length, 1, `expected one workspace folder, got ${folders.length}`);
    const [folder] = folders;
    assert.equal(folder.uri.scheme, 'file');
    assert.equal(folder.uri.fsPath, integrationEnvironment().workspace);
    assert.ok(existsSync(path.join(folder.uri.fsPath, 'state', 'app.json')), 'the fixture was not copied');
  });

  test('settings defaults come from package.json alone: VS Code applies them, and settings.ts reads them', () => {
    const extension = vscode.extensions.getExtension(EXTENSION_ID)!;
    const properties: Record<string, { default: unknown }> = extension.packageJSON.contributes.configuration.properties;
    const config = vscode.workspace.getConfiguration();
    for (const [id, property] of Object.entries(properties))
      assert.deepEqual(config.inspect(id)?.defaultValue, property.default, id);
    const defaultOf = (key: string) => properties[`crashSafeState.${key}`]!.default;
    // Only settings nobody set in this run: other suites may change some.
    const unset = (key: string) => {
      const inspected = config.inspect(`crashSafeState.${key}`);
      return [inspected?.globalValue, inspected?.workspaceValue, inspected?.workspaceFolderValue].every(
        (value) => value === undefined,
      );
    };
    const folder = vscode.workspace.workspaceFolders![0]!.uri;
    const read: Record<string, unknown> = {
      durability: readSettings().durability,
      orphanAgeMinutes: readSettings().orphanAgeMinutes,
      exclude: readSettings().exclude,
      scanNodeModules: readSettings().scanNodeModules,
      'statusBar.showWhenClean': readSettings().showWhenClean,
      'explorer.decorations': readSettings().explorerDecorations,
      'sweep.useTrash': readSettings().useTrash,
      'sweep.whenTrashUnavailable': readSettings().whenTrashUnavailable,
      scanIntervalMinutes: readSettings().scanIntervalMinutes,
      startupCheck: readSettings().startupCheck,
      'snapshots.keep': readSnapshotSettings(folder).keep,
      'snapshots.auto': readSnapshotSettings(folder).auto,
      'crashSafeSave.autoSaveDelayMs': readCrashSafeSaveSettings(folder).autoSaveDelayMs,
      'crashSafeSave.invalidJson': readCrashSafeSaveSettings(folder).invalidJson,
      'crashSafeSave.files': readCrashSafeSaveFiles(folder),
      'todos.path': readTodoSettings(folder).relativePath,
      'todos.saveDelayMs': readTodoSettings(folder).saveDelayMs,
    };
    const checked = Object.keys(read).filter(unset);
    assert.ok(checked.length > 10, `only ${checked.join(', ')} are unset`);
    for (const key of checked) assert.deepEqual(read[key], defaultOf(key), key);
  });

  test('the API writeJson coalesces a burst per target: every call settles, the last value lands, an invalid one alone rejects', async () => {
    const api = (await vscode.extensions.getExtension(EXTENSION_ID)!.activate()) as CrashSafeStateApi;
    const dir = mkdtempSync(path.join(tmpdir(), 'cs-api-'));
    try {
      const file = path.join(dir, 'burst.json');
      const burst = Array.from({ length: 50 }, (_, n) => api.writeJson(file, { n }));
      const invalid = api.writeJson(file, { m: 1 }, { schema: { type: 'object', required: ['n'] } });
      await assert.rejects(invalid, /Refusing to write .*burst\.json/);
      await Promise.all(burst);
      assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { n: 49 });
      assert.deepEqual((await api.readJson(file)).state, 'valid');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
