// crashSafeSave.files' second layer in the real host: a matching file saved as VS Code saves it gets a durable copy
// before VS Code writes it, the copy is gone once the save is on disk, and a save seen torn keeps it for recovery.
import * as assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { findCopies, recoverFromCopy } from '../../../src/core/copies/findCopies';
import { preSaveCopyPath } from '../../../src/state/preSaveCopies';
import { stateCopyFinders } from '../../../src/state/stateCopies';
import type { CrashSafeStateApi } from '../../../src/ui/api';
import { integrationEnvironment } from './environment';

const EXTENSION_ID = 'crash-safe-state.crash-safe-state';

async function waitFor(what: string, probe: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!probe()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

suite('crash-safe save by glob: pre-save copies', () => {
  const workspace = integrationEnvironment().workspace;
  const folder = path.join(workspace, 'presave');
  const config = () => vscode.workspace.getConfiguration('crashSafeState');
  let api: CrashSafeStateApi;

  suiteSetup(async () => {
    // Our onWillSave listener is registered at activation, so before the test's own listeners below.
    api = (await vscode.extensions.getExtension(EXTENSION_ID)!.activate()) as CrashSafeStateApi;
    mkdirSync(folder, { recursive: true });
    await config().update('crashSafeSave.files', ['presave/**/*.json'], vscode.ConfigurationTarget.Workspace);
    // Opening the first JSON document activates the JSON extension in this same host, which can hold the host past
    // VS Code's 1.75 s will-save budget (the save then fails whoever listens): activate it first.
    await vscode.extensions.getExtension('vscode.json-language-features')?.activate();
    // The settings change starts a rescan; a save while it walks could overrun VS Code's 1.75 s will-save budget.
    await api.scan();
  });
  suiteTeardown(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await config().update('crashSafeSave.files', undefined, vscode.ConfigurationTarget.Workspace);
    rmSync(folder, { recursive: true, force: true });
    rmSync(path.join(workspace, '.vscode', 'crash-safe', 'saves'), { recursive: true, force: true });
  });

  /** Opens `name` in presave/ holding `before`, types `after` over it, and returns the document. */
  async function edited(name: string, before: string, after: string): Promise<vscode.TextDocument> {
    const file = path.join(folder, name);
    writeFileSync(file, before);
    const document = await vscode.workspace.openTextDocument(file);
    const editor = await vscode.window.showTextDocument(document);
    const all = new vscode.Range(document.positionAt(0), document.positionAt(document.getText().length));
    assert.ok(await editor.edit((edit) => edit.replace(all, after)));
    return document;
  }

  test('saving a matching file leaves a pre-save copy while the save is in flight and none after', async () => {
    const document = await edited('config.json', '{"a":1}\n', '{"a":2}\n');
    const copy = preSaveCopyPath(workspace, document.uri.fsPath)!;
    let seenWhileSaving: string | null | undefined;
    const probe = vscode.workspace.onWillSaveTextDocument((event) => {
      if (event.document === document) seenWhileSaving = existsSync(copy) ? readFileSync(copy, 'utf8') : null;
    });
    const started = Date.now();
    let saved: boolean;
    try {
      saved = await document.save();
    } finally {
      probe.dispose();
    }
    assert.notEqual(seenWhileSaving, undefined, 'the will-save event reached the test');
    assert.equal(seenWhileSaving, '{"a":2}\n', 'the content being saved was on disk before VS Code wrote the file');
    assert.ok(saved, `saved (after ${Date.now() - started} ms; ${JSON.stringify(api.diagnostics.preSaveCopies?.())})`);
    assert.equal(readFileSync(document.uri.fsPath, 'utf8'), '{"a":2}\n');
    await waitFor('the copy to be pruned once the save is on disk', () => !existsSync(copy));

    const other = await edited('notes.txt', 'x\n', 'y\n'); // not matched by the glob
    const before = api.diagnostics.preSaveCopies();
    assert.ok(await other.save());
    assert.equal(existsSync(preSaveCopyPath(workspace, other.uri.fsPath)!), false);
    assert.equal(api.diagnostics.preSaveCopies().written, before.written, 'no copy of a file the globs miss');
  });

  test('a save seen torn on disk keeps its copy, and the file is recovered from it', async () => {
    const document = await edited('torn.json', '{"b":1}\n', '{"b":2}\n');
    const file = document.uri.fsPath;
    const copy = preSaveCopyPath(workspace, file)!;
    const kept = api.diagnostics.preSaveCopies?.().kept ?? 0;
    // Runs right after our onDidSave listener began: the file is emptied as a crash mid-write leaves it.
    const tear = vscode.workspace.onDidSaveTextDocument((saved) => {
      if (saved === document) writeFileSync(file, '');
    });
    try {
      assert.ok(await document.save(), 'saved');
      await waitFor('the layer to judge the save', () => (api.diagnostics.preSaveCopies?.().kept ?? 0) > kept);
    } finally {
      tear.dispose();
    }
    assert.equal(readFileSync(file, 'utf8'), '');
    assert.equal(readFileSync(copy, 'utf8'), '{"b":2}\n', 'the copy is kept while the disk does not hold the save');

    const found = await findCopies(file, { git: false, extraFinders: stateCopyFinders() });
    const preSave = found.copies.find((candidate) => candidate.kind === 'pre-save');
    assert.ok(preSave, `no pre-save copy among ${found.copies.map((c) => c.kind).join(', ')}`);
    assert.equal(preSave.judgement, 'json');
    await recoverFromCopy(file, preSave);
    assert.equal(readFileSync(file, 'utf8'), '{"b":2}\n');
  });
});
