// Restricted Mode: the extension declares `untrustedWorkspaces: limited`. It must still scan and show orphaned
// temp files, and every command that deletes or replaces files must refuse and leave the workspace untouched.
import * as assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { SettingsSnapshots } from '../../../src/state/snapshots';
import type { CrashSafeStateApi } from '../../../src/ui/api';
import type { StatusMenu } from '../../../src/ui/orphans/orphanCommands';
import type { OrphanRow } from '../../../src/ui/orphans/orphansView';
import { integrationEnvironment } from '../suite/environment';

const EXTENSION_ID = 'crash-safe-state.crash-safe-state';

async function api(): Promise<CrashSafeStateApi> {
  const extension = vscode.extensions.getExtension<CrashSafeStateApi>(EXTENSION_ID);
  assert.ok(extension, 'extension not found');
  return extension.activate();
}

/** Every file under `root` with its bytes (base64), sorted by relative path: equal maps mean nothing changed. */
function filesUnder(root: string): Record<string, string> {
  const files: Record<string, string> = {};
  const names = readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name))
    .sort();
  for (const file of names) files[path.relative(root, file)] = readFileSync(file).toString('base64');
  return files;
}

suite('in an untrusted workspace (Restricted Mode)', () => {
  let root: string;
  let orphan: string;
  let target: string;

  suiteSetup(() => {
    root = integrationEnvironment().workspace;
    orphan = path.join(root, 'broken', '.config.json.tmp');
    target = path.join(root, 'broken', 'config.json');
  });

  test('the workspace is not trusted', () => {
    assert.equal(vscode.workspace.isTrusted, false);
    assert.equal(vscode.workspace.workspaceFolders?.[0]?.uri.fsPath, root);
  });

  test('the extension activates, finds the seeded orphan and shows it', async () => {
    const exported = await api();
    const orphans = await exported.scan();
    assert.ok(
      orphans.some((found) => found.path === orphan),
      `scan() did not find ${orphan}: ${JSON.stringify(orphans.map((found) => found.path))}`,
    );
    assert.equal(exported.diagnostics.statusBarText(), `$(warning) ${orphans.length}`);
    // Showing is allowed: focusing the Orphaned Temp Files view must not throw.
    await vscode.commands.executeCommand('crashSafeState.showOrphans');
  });

  test('the startup check points at the corrupt target but offers only Show, since recovering needs trust', async () => {
    const exported = await api();
    const deadline = Date.now() + 10_000;
    while (!exported.diagnostics.startupOffer().targets.includes(target)) {
      if (Date.now() > deadline) assert.fail(`no startup offer for ${target}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(exported.diagnostics.startupOffer().actions, ['Show']);
  });

  test('sweep refuses and leaves every file as it was', async () => {
    const exported = await api();
    // The seeded orphan is a valid copy of a corrupt target, which even a trusted sweep keeps; this one it would remove.
    const removable = path.join(root, 'state', 'app.json.tmp.0123abcd');
    writeFileSync(removable, '{"v":2}');
    try {
      await exported.scan();
      const before = filesUnder(root);
      assert.ok(path.relative(root, orphan) in before, 'the fixture plants the orphan');
      // olderThanMinutes 0: the freshly written temp counts as stale. code-server has no trash, so a trusted sweep
      // would delete it permanently only with deletePermanently.
      const result = await vscode.commands.executeCommand('crashSafeState.sweep', {
        paths: [orphan, removable],
        olderThanMinutes: 0,
        whenTrashUnavailable: 'deletePermanently',
      });
      assert.equal(result, undefined);
      assert.deepEqual(filesUnder(root), before);
    } finally {
      rmSync(removable, { force: true });
    }
  });

  test('the status menu and the Orphans view flag the corrupt target; the menu offers trust first, not Recover', async () => {
    const exported = await api();
    await exported.scan();
    const menu = await vscode.commands.executeCommand<StatusMenu>('crashSafeState.menu', { show: false });
    const [first] = menu.items;
    assert.equal(first?.command, 'workbench.trust.manage');
    assert.match(first?.label ?? '', /Trust the workspace to recover broken\/config\.json/);
    assert.ok(!menu.items.some((item) => item.command === 'crashSafeState.recover'), 'Recover needs trust');
    for (const item of menu.items) assert.ok(item.description.trim().length > 0, `no description: ${item.label}`);
    assert.match(
      menu.status.accessibilityLabel,
      /^Crash-Safe State: \d+ orphaned temp files?\. broken\/config\.json needs recovery/,
    );
    const rows = await vscode.commands.executeCommand<OrphanRow[]>('crashSafeState.showOrphans');
    const row = rows.find((candidate) => candidate.path === orphan);
    assert.deepEqual(row?.icon, { id: 'warning', color: 'list.warningForeground' });
    assert.match(row?.description ?? '', /^config\.json corrupt, valid copy · broken\//);
  });

  test('recover refuses and leaves the corrupt target and its temp as they were', async () => {
    await api();
    const before = filesUnder(root);
    // In a trusted workspace this would promote broken/.config.json.tmp over the corrupt config.json.
    const result = await vscode.commands.executeCommand('crashSafeState.recover', { target, confirm: true });
    assert.equal(result, undefined);
    assert.deepEqual(filesUnder(root), before);
  });

  test('restoring a settings snapshot refuses and leaves settings.json and the snapshots as they were', async () => {
    await api();
    const settingsFile = path.join(root, '.vscode', 'settings.json');
    mkdirSync(path.dirname(settingsFile), { recursive: true });
    writeFileSync(settingsFile, '{\n  "editor.tabSize": 3\n}\n');
    // Planted with the plain-Node store: the extension takes no snapshots in an untrusted workspace.
    const taken = await new SettingsSnapshots(root).take({ reason: 'test' });
    assert.ok(taken.taken, 'the snapshot was planted');
    writeFileSync(settingsFile, '{\n  "editor.tabSize": 5\n}\n');
    const before = filesUnder(root);
    const result = await vscode.commands.executeCommand('crashSafeState.restoreSettingsSnapshot', {
      id: taken.snapshot.id,
      confirm: true,
    });
    assert.equal(result, undefined);
    assert.deepEqual(filesUnder(root), before);
  });
});
