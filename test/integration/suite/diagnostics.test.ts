// Native surfaces for orphans: Problems entries with quick fixes that run the existing Recover and Sweep commands,
// and Explorer decorations.
import * as assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { RecoveryResult } from '../../../src/core/orphans/recovery';
import type { CrashSafeStateApi } from '../../../src/ui/api';
import { OrphanDecorations } from '../../../src/ui/decorations/orphanDecorations';
import type { SweepOutcome } from '../../../src/ui/orphans/orphanCommands';
import { readSettings } from '../../../src/ui/settings';
import { PlantedFiles } from './plantedFiles';

const EXTENSION_ID = 'crash-safe-state.crash-safe-state';
const SOURCE = 'Crash-Safe State';

async function api(): Promise<CrashSafeStateApi> {
  const extension = vscode.extensions.getExtension<CrashSafeStateApi>(EXTENSION_ID);
  assert.ok(extension, 'extension not found');
  return extension.activate();
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Our entry with `code` on `file`, once it is there. */
function entryOn(file: string, code: string): Promise<vscode.Diagnostic> {
  return waitFor(`a ${code} entry on ${file}`, () =>
    vscode.languages.getDiagnostics(vscode.Uri.file(file)).find((d) => d.source === SOURCE && d.code === code),
  );
}

function entriesGone(file: string): Promise<true> {
  return waitFor(`the entries on ${file} to go`, () =>
    vscode.languages.getDiagnostics(vscode.Uri.file(file)).some((d) => d.source === SOURCE) ? undefined : true,
  );
}

/**
 * The quick fixes VS Code offers at `diagnostic` (the document is loaded, as the lightbulb would). The command's
 * results carry no `diagnostics`, so ours are told apart by the command they run.
 */
async function quickFixes(file: string, diagnostic: vscode.Diagnostic): Promise<vscode.CodeAction[]> {
  const uri = vscode.Uri.file(file);
  await vscode.workspace.openTextDocument(uri);
  // The workbench learns of entries over RPC, after getDiagnostics here sees them; until then it asks with none.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>(
      'vscode.executeCodeActionProvider',
      uri,
      diagnostic.range,
    );
    const ours = actions.filter((action) => action.command?.command.startsWith('crashSafeState.'));
    if (ours.length > 0 || Date.now() > deadline) return ours;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

suite('Problems entries and Explorer decorations', () => {
  let root: string;
  const planted = new PlantedFiles(() => root);

  const { plant } = planted;

  suiteSetup(() => {
    root = vscode.workspace.workspaceFolders![0]!.uri.fsPath;
  });
  teardown(async () => {
    planted.removeAll();
    rmSync(path.join(root, 'diag'), { recursive: true, force: true });
    await (await api()).scan();
  });

  test('a corrupt target with a valid temp gets an Error where it breaks, without being open; its quick fix recovers with a backup', async () => {
    const target = plant('diag/todo.json', '{\n  "items": [\n    { "title": "buy milk", "done": fal\n', 1);
    const temp = plant('diag/.todo.json.tmp', '{"items":[{"title":"buy milk","done":false}]}\n', 2);
    await (await api()).scan();
    const diagnostic = await entryOn(target, 'corrupt-target');
    assert.ok(!vscode.workspace.textDocuments.some((doc) => doc.uri.fsPath === target), 'the target is not open');
    assert.equal(diagnostic.severity, vscode.DiagnosticSeverity.Error);
    const match =
      /^diag\/todo\.json is not valid JSON \(line (\d+), column (\d+)\); a valid temp from 2 min ago can restore it$/.exec(
        diagnostic.message,
      );
    assert.ok(match, diagnostic.message);
    assert.deepEqual(
      [diagnostic.range.start.line + 1, diagnostic.range.start.character + 1],
      [Number(match[1]), Number(match[2])],
    );
    assert.equal(diagnostic.relatedInformation?.[0]?.location.uri.fsPath, temp);

    const fixes = await quickFixes(target, diagnostic);
    assert.deepEqual(
      fixes.map((fix) => fix.title),
      ['Recover from .todo.json.tmp (2 min old)'],
    );
    const [fix] = fixes;
    assert.equal(fix?.kind?.value, vscode.CodeActionKind.QuickFix.value);
    assert.equal(fix?.command?.command, 'crashSafeState.recover');
    assert.deepEqual(fix?.command?.arguments, [{ target, from: temp }]);
    // What the user's click runs, minus the diff and the modal this host cannot answer.
    const result = await vscode.commands.executeCommand<RecoveryResult>(fix!.command!.command, {
      ...fix!.command!.arguments![0],
      confirm: true,
    });
    assert.ok(result?.backup && existsSync(result.backup), 'recover kept a backup');
    planted.track(result.backup);
    assert.equal(result.from, temp);
    assert.equal(readFileSync(target, 'utf8'), '{"items":[{"title":"buy milk","done":false}]}\n');
    await entriesGone(target);
  });

  test('an empty target is an Error, a missing one a Warning', async () => {
    const empty = plant('diag/blank.json', '', 5);
    plant('diag/blank.json.vsctmp', '{"a":1}', 3);
    const missing = path.join(root, 'diag', 'gone.json');
    plant('diag/gone.json.vsctmp', '{"b":2}', 3);
    await (await api()).scan();
    const emptyEntry = await entryOn(empty, 'empty-target');
    assert.equal(emptyEntry.severity, vscode.DiagnosticSeverity.Error);
    assert.equal(emptyEntry.message, 'diag/blank.json is empty; a valid temp from 3 min ago can restore it');
    const missingEntry = await entryOn(missing, 'missing-target');
    assert.equal(missingEntry.severity, vscode.DiagnosticSeverity.Warning);
    assert.equal(missingEntry.message, 'diag/gone.json is missing; a valid temp from 3 min ago can restore it');
  });

  test('a stale temp of a fine target gets an Information entry whose quick fix sweeps just that file', async () => {
    plant('diag/fine.json', '{"ok":true}', 120);
    const stale = plant('diag/fine.json.tmp.0a1b2c3d4e', '{"ok":false}', 60);
    const young = plant('diag/fine.json.tmp.5f6a7b8c9d', '{"ok":false}', 0);
    await (await api()).scan();
    const diagnostic = await entryOn(stale, 'stale-temp');
    assert.equal(diagnostic.severity, vscode.DiagnosticSeverity.Information);
    assert.match(
      diagnostic.message,
      /^Orphaned temp file of fine\.json \(\*\.tmp\.<id>, 1 h old\); fine\.json is fine, so it can be deleted$/,
    );
    assert.equal(vscode.languages.getDiagnostics(vscode.Uri.file(young)).length, 0, 'a young temp may still be in use');

    const fixes = await quickFixes(stale, diagnostic);
    assert.deepEqual(
      fixes.map((fix) => fix.title),
      ['Delete this temp'],
    );
    const command = fixes[0]!.command!;
    assert.equal(command.command, 'crashSafeState.sweep');
    assert.deepEqual(command.arguments, [{ paths: [stale] }]);
    // code-server has no trash and cannot ask; the setting's answer is given here.
    const outcome = await vscode.commands.executeCommand<SweepOutcome>(command.command, {
      ...command.arguments![0],
      whenTrashUnavailable: 'deletePermanently',
    });
    assert.deepEqual(outcome?.removed, [stale]);
    assert.equal(existsSync(young), true);
    await entriesGone(stale);
  });

  test('Explorer decorations: a muted badge on an orphan, a warning badge that propagates on a broken target; the setting turns them off', async () => {
    const orphans = await (await api()).scan();
    const seededTemp = path.join(root, 'broken', '.config.json.tmp');
    const seededTarget = path.join(root, 'broken', 'config.json');
    // Wired as the extension does: the settings module reads `explorer.decorations`.
    const provider = new OrphanDecorations(() => readSettings().explorerDecorations);
    try {
      provider.update(orphans);
      const onTemp = provider.provideFileDecoration(vscode.Uri.file(seededTemp));
      assert.equal(onTemp?.badge, '~');
      assert.equal(onTemp?.color?.id, 'gitDecoration.ignoredResourceForeground');
      assert.ok(!onTemp?.propagate, 'an orphan does not mark its folder');
      const onTarget = provider.provideFileDecoration(vscode.Uri.file(seededTarget));
      assert.deepEqual(
        [onTarget?.badge, onTarget?.color?.id, onTarget?.propagate],
        ['!', 'list.warningForeground', true],
      );
      assert.equal(onTarget?.tooltip, 'config.json is corrupt; a valid temp can restore it');
      assert.equal(provider.provideFileDecoration(vscode.Uri.file(path.join(root, 'state', 'app.json'))), undefined);

      const config = vscode.workspace.getConfiguration('crashSafeState');
      await config.update('explorer.decorations', false, vscode.ConfigurationTarget.Workspace);
      try {
        assert.equal(provider.provideFileDecoration(vscode.Uri.file(seededTarget)), undefined);
      } finally {
        await config.update('explorer.decorations', undefined, vscode.ConfigurationTarget.Workspace);
      }
      assert.equal(provider.provideFileDecoration(vscode.Uri.file(seededTarget))?.badge, '!');
    } finally {
      provider.dispose();
    }
  });
});
