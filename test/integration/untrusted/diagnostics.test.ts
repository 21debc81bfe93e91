// Restricted Mode: the Problems entries are shown, but no quick fix changes a file.
import * as assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CrashSafeStateApi } from '../../../src/ui/api';
import { writeAgedFile } from '../../support/agedFiles';
import { integrationEnvironment } from '../suite/environment';

const EXTENSION_ID = 'crash-safe-state.crash-safe-state';
const SOURCE = 'Crash-Safe State';
/** Commands that delete or replace files. */
const FILE_CHANGING = /^crashSafeState\.(recover|recoverTarget|sweep|sweepOne)$/;

async function api(): Promise<CrashSafeStateApi> {
  const extension = vscode.extensions.getExtension<CrashSafeStateApi>(EXTENSION_ID);
  assert.ok(extension, 'extension not found');
  return extension.activate();
}

async function entryOn(file: string, code: string): Promise<vscode.Diagnostic> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const found = vscode.languages
      .getDiagnostics(vscode.Uri.file(file))
      .find((d) => d.source === SOURCE && d.code === code);
    if (found) return found;
    if (Date.now() > deadline) assert.fail(`no ${code} entry on ${file}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function codeActions(file: string, range: vscode.Range): Promise<vscode.CodeAction[]> {
  const uri = vscode.Uri.file(file);
  await vscode.workspace.openTextDocument(uri);
  return vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', uri, range);
}

suite('Problems entries in an untrusted workspace (Restricted Mode)', () => {
  let root: string;

  suiteSetup(() => {
    root = integrationEnvironment().workspace;
  });

  test('the corrupt seeded target has its Error entry; the only quick fix offered is to trust the workspace', async () => {
    assert.equal(vscode.workspace.isTrusted, false);
    await (await api()).scan();
    const target = path.join(root, 'broken', 'config.json');
    const before = readFileSync(target);
    const diagnostic = await entryOn(target, 'corrupt-target');
    assert.equal(diagnostic.severity, vscode.DiagnosticSeverity.Error);
    assert.match(
      diagnostic.message,
      /^broken\/config\.json is not valid JSON \(line \d+, column \d+\); a valid temp from .+ ago can restore it$/,
    );
    const actions = await codeActions(target, diagnostic.range);
    assert.deepEqual(
      actions.filter((action) => FILE_CHANGING.test(action.command?.command ?? '')),
      [],
    );
    // The command's results carry no `diagnostics`: ours are known by their titles.
    const trust = actions.filter((action) => action.command?.command === 'workbench.trust.manage');
    assert.deepEqual(
      trust.map((action) => action.title),
      ['Trust this workspace to recover broken/config.json…'],
      JSON.stringify(actions.map((action) => action.title)),
    );
    assert.deepEqual(readFileSync(target), before);
  });

  test('a stale temp of a fine target has its Information entry and no quick fix', async () => {
    const temp = path.join(root, 'state', 'app.json.tmp.0a1b2c3d4e');
    writeAgedFile(temp, '{"v":0}', 3_600_000);
    try {
      await (await api()).scan();
      const diagnostic = await entryOn(temp, 'stale-temp');
      assert.equal(diagnostic.severity, vscode.DiagnosticSeverity.Information);
      const actions = await codeActions(temp, diagnostic.range);
      assert.deepEqual(
        actions.filter((action) => FILE_CHANGING.test(action.command?.command ?? '')),
        [],
      );
      assert.deepEqual(
        actions.filter((action) => /^(Delete|Recover|Trust)/.test(action.title)),
        [],
      );
    } finally {
      rmSync(temp, { force: true });
      await (await api()).scan();
    }
  });
});
