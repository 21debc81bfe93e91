import * as assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
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
});
