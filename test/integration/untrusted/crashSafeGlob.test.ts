// crashSafeSave.files in Restricted Mode: a matching file opens in its normal editor (we write nothing into a folder
// the user has not trusted), and the glob's reopen layer says so once.
import * as assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CrashSafeStateApi } from '../../../src/ui/api';
import { integrationEnvironment } from '../suite/environment';

suite('crash-safe save by glob in Restricted Mode', () => {
  const folder = path.join(integrationEnvironment().workspace, 'glob');
  const config = () => vscode.workspace.getConfiguration('crashSafeState');

  suiteSetup(async () => {
    mkdirSync(folder, { recursive: true });
    await config().update('crashSafeSave.files', ['glob/**/*.json'], vscode.ConfigurationTarget.Workspace);
  });
  suiteTeardown(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await config().update('crashSafeSave.files', undefined, vscode.ConfigurationTarget.Workspace);
    rmSync(folder, { recursive: true, force: true });
  });

  test('a matching file stays in its normal editor', async () => {
    assert.equal(vscode.workspace.isTrusted, false, 'this pass runs in Restricted Mode');
    const api = (await vscode.extensions
      .getExtension('crash-safe-state.crash-safe-state')!
      .activate()) as CrashSafeStateApi;
    const target = path.join(folder, 'package.json');
    writeFileSync(target, '{"name": "restricted"}\n');
    const before = api.diagnostics.crashSafeSave().reopen;
    await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(target));
    const deadline = Date.now() + 10_000;
    while (api.diagnostics.crashSafeSave().reopen.leftPlain === before.leftPlain && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 25));
    await new Promise((resolve) => setTimeout(resolve, 500));
    const after = api.diagnostics.crashSafeSave().reopen;
    assert.ok(after.leftPlain > before.leftPlain, 'the reopen layer saw the file and left it plain');
    assert.equal(after.reopened, before.reopened, 'nothing was reopened');
    assert.equal(vscode.window.activeTextEditor?.document.uri.scheme, 'file');
  });
});
