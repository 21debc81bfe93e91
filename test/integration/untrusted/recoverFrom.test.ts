// Restricted Mode: Recover From… lists the copies and shows their diff, but replaces nothing.
import * as assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CrashSafeStateApi } from '../../../src/ui/api';
import { integrationEnvironment } from '../suite/environment';

const EXTENSION_ID = 'crash-safe-state.crash-safe-state';
const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every file under `root` with its bytes (base64): equal maps mean nothing changed. */
function filesUnder(root: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    files[path.relative(root, file)] = readFileSync(file).toString('base64');
  }
  return files;
}

/** The text of the copy the open diff of `file` shows. */
async function shownCopy(file: string): Promise<string | undefined> {
  const input = vscode.window.tabGroups.all
    .flatMap((group) => group.tabs)
    .map((tab) => tab.input)
    .find((candidate) => candidate instanceof vscode.TabInputTextDiff && candidate.original.fsPath === file);
  if (!(input instanceof vscode.TabInputTextDiff)) return undefined;
  return (await vscode.workspace.openTextDocument(input.modified)).getText();
}

suite('Recover From… in Restricted Mode', () => {
  teardown(async () => {
    await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  test('lists and compares the copies, but choosing one replaces nothing', async function () {
    this.timeout(60_000);
    await vscode.extensions.getExtension<CrashSafeStateApi>(EXTENSION_ID)!.activate();
    assert.equal(vscode.workspace.isTrusted, false);
    const root = integrationEnvironment().workspace;
    const target = path.join(root, 'broken', 'config.json');
    const temp = readFileSync(path.join(root, 'broken', '.config.json.tmp'), 'utf8');
    const before = filesUnder(root);

    const picked = vscode.commands.executeCommand('crashSafeState.recoverFrom', { target });
    for (const deadline = Date.now() + 10_000; (await shownCopy(target)) !== temp; await settle(100)) {
      if (Date.now() > deadline) assert.fail(`the diff never showed the temp's content: ${await shownCopy(target)}`);
    }
    await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
    assert.equal(await picked, undefined);
    const direct = await vscode.commands.executeCommand('crashSafeState.recoverFrom', {
      target,
      from: 'temp',
      confirm: true,
    });
    assert.equal(direct, undefined);
    assert.deepEqual(filesUnder(root), before, 'nothing in the workspace changed');
  });
});
