// The workspace folder replaced under the running extension, as a second `npm start` once did to its demo copy:
// the orphan model must notice by itself and walk again; no Rescan, no scan() call.
import * as assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Orphan } from '../../../src/core/orphans/orphans';
import type { CrashSafeStateApi } from '../../../src/ui/api';
import { PlantedFiles } from './plantedFiles';

async function api(): Promise<CrashSafeStateApi> {
  const extension = vscode.extensions.getExtension<CrashSafeStateApi>('crash-safe-state.crash-safe-state');
  assert.ok(extension, 'extension not found');
  return extension.activate();
}

async function waitFor(what: string, condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

suite('the workspace folder replaced under the extension', () => {
  let root: string;
  let copy: string;
  const planted = new PlantedFiles(() => root);
  const subscriptions: vscode.Disposable[] = [];

  suiteSetup(() => {
    root = vscode.workspace.workspaceFolders![0]!.uri.fsPath;
    // This suite deletes the folder: only ever the seeded copy runTest.ts made (it holds the fixture's files).
    assert.ok(
      /^cs-it-/.test(path.basename(path.dirname(root))) && existsSync(path.join(root, 'broken', 'config.json')),
      root,
    );
    copy = mkdtempSync(path.join(tmpdir(), 'cs-replaced-'));
  });
  suiteTeardown(async () => {
    if (!copy) return;
    // Whatever happened, the folder ends as it began, for the suites after this one.
    mkdirSync(root, { recursive: true });
    for (const name of existsSync(path.join(copy, 'saved')) ? readdirSync(path.join(copy, 'saved')) : []) {
      cpSync(path.join(copy, 'saved', name), path.join(root, name), {
        recursive: true,
        force: false,
        errorOnExist: false,
      });
    }
    rmSync(copy, { recursive: true, force: true });
    planted.removeAll();
    rmSync(path.join(root, 'replaced'), { recursive: true, force: true });
    for (const subscription of subscriptions.splice(0)) subscription.dispose();
    await (await api()).scan();
  });

  /** The orphans as last published (no scan is asked for). */
  async function published(): Promise<() => readonly Orphan[]> {
    const exported = await api();
    let latest = await exported.scan();
    subscriptions.push(exported.onDidChangeOrphans((orphans) => (latest = orphans)));
    return () => latest;
  }

  const plantSix = () =>
    ['a', 'b', 'c', 'd', 'e', 'f'].map((name, i) =>
      planted.plant(`replaced/${i % 2 ? 'deep/' : ''}${name}.json.vsctmp`, '{"v":1}', 60),
    );

  /** Moves every entry of the workspace folder aside (the folder itself stays). */
  function emptyRoot(): void {
    rmSync(path.join(copy, 'saved'), { recursive: true, force: true });
    cpSync(root, path.join(copy, 'saved'), { recursive: true, preserveTimestamps: true });
    for (const name of readdirSync(root)) rmSync(path.join(root, name), { recursive: true, force: true });
  }

  function restoreRoot(): void {
    cpSync(path.join(copy, 'saved'), root, { recursive: true, preserveTimestamps: true });
  }

  test('its contents deleted and copied back: the model drops the orphans, then finds all of them again', async function () {
    this.timeout(60_000);
    const seen = await published();
    const temps = plantSix();
    await waitFor('the six orphans', () => temps.every((temp) => seen().some((o) => o.path === temp)), 10_000);
    const before = seen().length;
    emptyRoot();
    await waitFor('the orphans to go with the contents', () => seen().length === 0, 15_000);
    restoreRoot();
    await waitFor(
      `all ${before} orphans again, found without a scan (seen ${seen().length})`,
      () => seen().length === before && temps.every((temp) => seen().some((o) => o.path === temp)),
      15_000,
    );
  });

  test('the folder itself deleted and created again with its contents: the model walks it again by itself', async function () {
    this.timeout(60_000);
    const seen = await published();
    const temps = plantSix();
    await waitFor('the six orphans', () => temps.every((temp) => seen().some((o) => o.path === temp)), 10_000);
    const before = seen().length;
    rmSync(path.join(copy, 'saved'), { recursive: true, force: true });
    cpSync(root, path.join(copy, 'saved'), { recursive: true, preserveTimestamps: true });
    // What `npm start` did: the folder removed, then a fresh copy at the same path (a new inode).
    rmSync(root, { recursive: true, force: true });
    cpSync(path.join(copy, 'saved'), root, { recursive: true, preserveTimestamps: true });
    await waitFor(
      `all ${before} orphans of the new folder, found without a scan (seen ${seen().length})`,
      () => seen().length === before && temps.every((temp) => seen().some((o) => o.path === temp)),
      20_000,
    );
  });

  test('the folder deleted, noticed, and a while later a fresh copy made: the model walks the new folder by itself', async function () {
    this.timeout(60_000);
    const seen = await published();
    const temps = plantSix();
    await waitFor('the six orphans', () => temps.every((temp) => seen().some((o) => o.path === temp)), 10_000);
    const before = seen().length;
    rmSync(path.join(copy, 'saved'), { recursive: true, force: true });
    cpSync(root, path.join(copy, 'saved'), { recursive: true, preserveTimestamps: true });
    rmSync(root, { recursive: true, force: true });
    await waitFor('the orphans to go with the folder', () => seen().length === 0, 15_000);
    await new Promise((r) => setTimeout(r, 3_000));
    // A fresh copy, then its temps backdated, as prepareDemoWorkspace does.
    cpSync(path.join(copy, 'saved'), root, { recursive: true });
    const hourAgo = new Date(Date.now() - 3_600_000);
    for (const temp of temps) utimesSync(temp, hourAgo, hourAgo);
    await waitFor(
      `all ${before} orphans of the new folder, found without a scan (seen ${seen().length})`,
      () => seen().length === before && temps.every((temp) => seen().some((o) => o.path === temp)),
      20_000,
    );
  });
});
