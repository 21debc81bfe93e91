import * as assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { SweepResult } from '../../../src/core/orphans';
import type { RecoveryResult } from '../../../src/core/recovery';
import type { CrashSafeStateApi } from '../../../src/ui/api';
import { hostLog } from './environment';

const EXTENSION_ID = 'crash-safe-state.crash-safe-state';
const MINUTE_MS = 60_000;

async function api(): Promise<CrashSafeStateApi> {
  const extension = vscode.extensions.getExtension<CrashSafeStateApi>(EXTENSION_ID);
  assert.ok(extension, 'extension not found');
  return extension.activate();
}

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

suite('orphaned temp files in the workbench', () => {
  let root: string;
  const planted: string[] = [];
  const config = () => vscode.workspace.getConfiguration('crashSafeState');

  /** Writes a file `ageMinutes` old, removed again in teardown. */
  function plant(relativePath: string, content: string, ageMinutes = 0): string {
    const file = path.join(root, relativePath);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
    const time = new Date(Date.now() - ageMinutes * MINUTE_MS);
    utimesSync(file, time, time);
    planted.push(file);
    return file;
  }

  suiteSetup(async () => {
    root = vscode.workspace.workspaceFolders![0]!.uri.fsPath;
    await config().update('sweep.useTrash', false, vscode.ConfigurationTarget.Workspace);
  });
  suiteTeardown(async () => {
    await config().update('sweep.useTrash', undefined, vscode.ConfigurationTarget.Workspace);
  });
  teardown(async () => {
    for (const file of planted.splice(0)) rmSync(file, { force: true });
    for (const dir of ['scratch']) rmSync(path.join(root, dir), { recursive: true, force: true });
    await (await api()).scan();
  });

  test('activation returns the API within its time budget', async () => {
    const exported = await api();
    assert.equal(typeof exported.writeJson, 'function');
    assert.equal(typeof exported.readJson, 'function');
    assert.equal(typeof exported.scan, 'function');
    assert.equal(typeof exported.onDidChangeOrphans, 'function');
    hostLog(`      activation took ${exported.activationMs.toFixed(1)} ms (budget 50 ms: ${exported.activationMs < 50 ? 'met' : 'MISSED'})`);
  });

  test('the API writes and reads JSON crash-safely', async () => {
    const exported = await api();
    const file = path.join(root, 'scratch', 'api.json');
    mkdirSync(path.dirname(file), { recursive: true });
    await exported.writeJson(file, { saved: true });
    assert.equal(readFileSync(file, 'utf8'), '{\n  "saved": true\n}\n');
    const read = await exported.readJson(file);
    assert.equal(read.state, 'valid');
    writeFileSync(file, '{"saved": tr');
    assert.equal((await exported.readJson(file)).state, 'corrupt');
  });

  test('the startup check offered to recover the corrupt seeded target', async () => {
    const exported = await api();
    const broken = path.join(root, 'broken', 'config.json');
    await waitFor('the startup offer', () => exported.diagnostics.startupOffer().targets.includes(broken));
    assert.deepEqual(exported.diagnostics.startupOffer().actions, ['Recover', 'Show']);
  });

  test('the status bar counts the seeded workspace and follows files changing on disk', async () => {
    const exported = await api();
    const before = (await exported.scan()).length;
    assert.ok(before >= 1, 'the fixture plants at least one orphan');
    assert.equal(exported.diagnostics.statusBarText(), `$(warning) ${before}`);

    // No explicit scan from here on: the file watcher has to notice.
    const temp = plant('state/app.json.tmp.0123abcd', '{"v":2}');
    await waitFor(`the status bar to show ${before + 1}`, () => exported.diagnostics.statusBarText() === `$(warning) ${before + 1}`);
    rmSync(temp);
    await waitFor(`the status bar to show ${before} again`, () => exported.diagnostics.statusBarText() === `$(warning) ${before}`);
  });

  test('sweep removes only stale orphans and keeps young ones', async () => {
    plant('scratch/notes.json', '{"n":1}', 120);
    const stale = plant('scratch/notes.json.tmp.deadbeef01', '{"n":0}', 60);
    const young = plant('scratch/notes.json.tmp.cafebabe02', '{"n":2}', 0);
    const rotated = plant('scratch/app.log.1', 'yesterday', 600);
    plant('scratch/app.log', 'today', 600);
    await (await api()).scan();
    const result = await vscode.commands.executeCommand<SweepResult>('crashSafeState.sweep', { paths: [stale, young, rotated] });
    assert.ok(result, 'sweep returned nothing');
    assert.deepEqual(result.removed, [stale]);
    assert.ok(result.kept.some((kept) => kept.path === young), JSON.stringify(result.kept));
    assert.equal(existsSync(stale), false);
    assert.equal(existsSync(young), true);
    assert.equal(existsSync(rotated), true, 'a rotated log is never a temp');
  });

  test('recover promotes the newest valid candidate and leaves a backup', async () => {
    const target = plant('scratch/list.json', '{"items": ["a", "b', 1);
    plant('scratch/.list.json.tmp', '{"items":["a"]}\n', 30);
    plant('scratch/list.json.tmp.aaaabbbb11', '{"items":["a","b"]}\n', 20);
    plant('scratch/list.json.tmp.ccccdddd22', '{"items":["a","b","c"', 5);
    const result = await vscode.commands.executeCommand<RecoveryResult>('crashSafeState.recover', { target, confirm: true });
    assert.ok(result, 'recover returned nothing');
    assert.equal(result.from, path.join(root, 'scratch', 'list.json.tmp.aaaabbbb11'));
    assert.equal(readFileSync(target, 'utf8'), '{"items":["a","b"]}\n');
    assert.ok(result.backup && existsSync(result.backup), 'the backup is kept');
    assert.equal(readFileSync(result.backup, 'utf8'), '{"items": ["a", "b');
    planted.push(result.backup);
    const leftovers = readdirSync(path.join(root, 'scratch'));
    assert.ok(leftovers.includes('list.json.tmp.ccccdddd22'), 'other temps are left for sweep');
  });

  test('recover without confirm asks first; a dialog the host cannot show leaves everything as it was', async () => {
    const target = plant('scratch/ask.json', '{"cut": ', 1);
    plant('scratch/ask.json.tmp.aaaabbbb33', '{"cut": false}\n', 10);
    const result = await vscode.commands.executeCommand<RecoveryResult | undefined>('crashSafeState.recover', { target });
    assert.equal(result, undefined);
    assert.equal(readFileSync(target, 'utf8'), '{"cut": ');
    assert.deepEqual(readdirSync(path.join(root, 'scratch')).sort(), ['ask.json', 'ask.json.tmp.aaaabbbb33']);
  });

  test('a settings change takes effect: a user temp pattern is recognised after it is added', async () => {
    const exported = await api();
    plant('scratch/custom.json', '{}');
    const custom = plant('scratch/custom.json.bak~', '{}');
    assert.ok(!(await exported.scan()).some((orphan) => orphan.path === custom));
    await config().update('tempPatterns', ['{target}.bak~'], vscode.ConfigurationTarget.Workspace);
    try {
      await waitFor('the custom pattern to be recognised', async () =>
        (await exported.scan()).some((orphan) => orphan.path === custom && orphan.kind === 'custom'),
      );
      // Sweep must recognise it too, not only the scan.
      const swept = await vscode.commands.executeCommand<SweepResult>('crashSafeState.sweep', { paths: [custom], olderThanMinutes: 0 });
      assert.deepEqual(swept?.removed, [custom], JSON.stringify(swept));
    } finally {
      await config().update('tempPatterns', undefined, vscode.ConfigurationTarget.Workspace);
    }
  });
});
