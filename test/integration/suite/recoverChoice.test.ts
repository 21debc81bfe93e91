// Recover uses the copy the user chose: a row's copy (Recover This Target), a quick fix's, or one picked among several
// valid copies with a live diff. Afterwards the copy used is consumed and the message offers the backup; the status
// item stays on the error background while a file can be recovered.
import * as assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Orphan } from '../../../src/core/orphans/orphans';
import type { CrashSafeStateApi } from '../../../src/ui/api';
import type { RecoverOutcome, StatusMenu } from '../../../src/ui/orphans/orphanCommands';
import { runRecoveredAction } from '../../../src/ui/orphans/recoverCommand';
import { PlantedFiles } from './plantedFiles';

const EXTENSION_ID = 'crash-safe-state.crash-safe-state';

async function api(): Promise<CrashSafeStateApi> {
  const extension = vscode.extensions.getExtension<CrashSafeStateApi>(EXTENSION_ID);
  assert.ok(extension, 'extension not found');
  return extension.activate();
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = probe();
    if (found !== undefined && found !== false) return found;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await settle(100);
  }
}

/** The open diffs whose left side is `file`, as [left, right] paths. */
function diffsOf(file: string): vscode.TabInputTextDiff[] {
  return vscode.window.tabGroups.all
    .flatMap((group) => group.tabs)
    .map((tab) => tab.input)
    .filter(
      (input): input is vscode.TabInputTextDiff =>
        input instanceof vscode.TabInputTextDiff && input.original.fsPath === file,
    );
}

/** Every right side of a diff against `file` that was opened while this runs (a diff that closes at once counts). */
function recordDiffs(file: string): { rights: string[]; dispose(): void } {
  const rights: string[] = [];
  const listener = vscode.window.tabGroups.onDidChangeTabs((event) => {
    for (const tab of [...event.opened, ...event.changed]) {
      const input = tab.input;
      if (input instanceof vscode.TabInputTextDiff && input.original.fsPath === file) {
        const right = input.modified.fsPath;
        if (rights.at(-1) !== right) rights.push(right);
      }
    }
  });
  return { rights, dispose: () => listener.dispose() };
}

async function statusNow(): Promise<StatusMenu['status']> {
  return (await vscode.commands.executeCommand<StatusMenu>('crashSafeState.menu', { show: false })).status;
}

suite('Recover uses the chosen copy, consumes it, and stays findable', () => {
  let root: string;
  const planted = new PlantedFiles(() => root);
  const { plant } = planted;
  const disposables: vscode.Disposable[] = [];

  suiteSetup(() => {
    root = vscode.workspace.workspaceFolders![0]!.uri.fsPath;
  });
  teardown(async () => {
    for (const disposable of disposables.splice(0)) disposable.dispose();
    await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    planted.removeAll();
    rmSync(path.join(root, 'choice'), { recursive: true, force: true });
    await (await api()).scan();
  });

  /** A corrupt target with three valid copies (newest first) and a torn one. */
  function plantCopies(name: string) {
    const target = plant(`choice/${name}.json`, '{"items": ["a", "b', 1);
    const newest = plant(`choice/.${name}.json.tmp`, '{"items":["newest"]}\n', 5);
    const middle = plant(`choice/${name}.json.tmp-1763731200a1b2c3`, '{"items":["middle"]}\n', 30);
    const oldest = plant(`choice/${name}.json.3141592653`, '{"items":["oldest"]}\n', 60);
    const torn = plant(`choice/${name}.json.vsctmp`, '{"items":["to', 2);
    return { target, newest, middle, oldest, torn };
  }

  async function orphanAt(file: string): Promise<Orphan> {
    const orphan = (await (await api()).scan()).find((candidate) => candidate.path === file);
    assert.ok(orphan, `${file} is not an orphan`);
    return orphan;
  }

  test("Recover This Target on a row shows, asks about and recovers from that row's copy, not the newest", async () => {
    const { target, newest, middle, torn } = plantCopies('row');
    const row = await orphanAt(middle);
    const seen = recordDiffs(target);
    disposables.push(seen);
    // The host refuses the modal question, which counts as "no": only the diff shown before it is seen here.
    const asked = await vscode.commands.executeCommand('crashSafeState.recoverTarget', row);
    assert.equal(asked, undefined);
    await waitFor('the diff shown with the question', () => seen.rights.length > 0);
    assert.deepEqual(seen.rights, [middle], "the diff compared the row's copy");
    assert.equal(readFileSync(target, 'utf8'), '{"items": ["a", "b');

    // What Recover This Target does once the question is answered: that row's bytes, and nothing else.
    const result = await vscode.commands.executeCommand<RecoverOutcome>('crashSafeState.recover', {
      target,
      from: row.path,
      confirm: true,
    });
    assert.ok(result?.backup, 'recover returned no backup');
    planted.track(result.backup);
    assert.equal(result.from, middle);
    assert.equal(readFileSync(target, 'utf8'), '{"items":["middle"]}\n');
    assert.equal(readFileSync(newest, 'utf8'), '{"items":["newest"]}\n', 'the newest copy is untouched');

    // A row whose copy is torn cannot restore anything: it says so, shows no diff and changes nothing.
    writeFileSync(target, '{"items": ["a", "b');
    seen.rights.length = 0;
    const tornRow = await orphanAt(torn);
    assert.equal(await vscode.commands.executeCommand('crashSafeState.recoverTarget', tornRow), undefined);
    await settle(500);
    assert.deepEqual(seen.rights, [], 'no diff for a copy that cannot be used');
    assert.equal(readFileSync(target, 'utf8'), '{"items": ["a", "b');
  });

  test('Recover… with several valid copies offers them newest first with a live diff; Enter recovers the highlighted one', async function () {
    this.timeout(60_000);
    const { target, newest, middle, oldest, torn } = plantCopies('pick');
    const rightOf = () => diffsOf(target).map((diff) => diff.modified.fsPath);

    // Cancelled: the diff followed the highlight and closes with the picker; nothing changed.
    const cancelled = vscode.commands.executeCommand('crashSafeState.recover', { target });
    await waitFor('the diff of the newest copy, highlighted first', () => rightOf().includes(newest));
    await vscode.commands.executeCommand('workbench.action.quickOpenSelectNext');
    await waitFor('the diff to follow the highlight to the next newest', () => rightOf().includes(middle));
    await vscode.commands.executeCommand('workbench.action.quickOpenSelectNext');
    await waitFor('the diff to follow to the oldest', () => rightOf().includes(oldest));
    assert.ok(!rightOf().includes(torn), 'a torn copy is never offered');
    await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
    assert.equal(await cancelled, undefined);
    await waitFor('the picker’s diffs to close', () => rightOf().length === 0);
    assert.equal(readFileSync(target, 'utf8'), '{"items": ["a", "b');

    // Picked: the second newest, exactly its bytes; the diffs close after.
    const picked = vscode.commands.executeCommand<RecoverOutcome>('crashSafeState.recover', { target });
    await waitFor('the diff of the newest copy', () => rightOf().includes(newest));
    await vscode.commands.executeCommand('workbench.action.quickOpenSelectNext');
    await waitFor('the diff of the next copy', () => rightOf().includes(middle));
    await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
    const result = await picked;
    assert.ok(result?.backup, 'recover returned no backup');
    planted.track(result.backup);
    assert.equal(result.from, middle);
    assert.equal(readFileSync(target, 'utf8'), '{"items":["middle"]}\n');
    await waitFor('the diffs to close after recovering', () => rightOf().length === 0);
  });

  test('a quick fix that names a temp recovers from that temp, even when a newer copy appears', async () => {
    const target = plant('choice/fix.json', '{"v": ', 1);
    const named = plant('choice/fix.json.tmp-1763731200a1b2c3', '{"v":"named"}\n', 30);
    await (await api()).scan();
    const diagnostic = await waitFor('the corrupt-target entry', () =>
      vscode.languages.getDiagnostics(vscode.Uri.file(target)).find((d) => d.code === 'corrupt-target'),
    );
    await vscode.workspace.openTextDocument(vscode.Uri.file(target));
    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>(
      'vscode.executeCodeActionProvider',
      vscode.Uri.file(target),
      diagnostic.range,
    );
    const fix = actions.find((action) => action.command?.command === 'crashSafeState.recover');
    assert.ok(fix?.command?.arguments, 'no Recover quick fix');
    assert.match(fix.title, /^Recover from fix\.json\.tmp-1763731200a1b2c3 /);
    plant('choice/.fix.json.tmp', '{"v":"newer"}\n', 0);
    const result = await vscode.commands.executeCommand<RecoverOutcome>(fix.command.command, {
      ...fix.command.arguments[0],
      confirm: true,
    });
    assert.ok(result?.backup);
    planted.track(result.backup);
    assert.equal(result.from, named);
    assert.equal(readFileSync(target, 'utf8'), '{"v":"named"}\n');
  });

  test('after Recover the temp used is gone and the count drops; the message offers Open Backup and Compare with Backup', async () => {
    const exported = await api();
    const target = plant('choice/after.json', '{"done": tr', 1);
    const used = plant('choice/after.json.tmp-1763731200a1b2c3', '{"done":true}\n', 10);
    const before = (await exported.scan()).length;
    const result = await vscode.commands.executeCommand<RecoverOutcome>('crashSafeState.recover', {
      target,
      confirm: true,
    });
    assert.ok(result?.backup, 'recover returned no backup');
    planted.track(result.backup);
    assert.equal(readFileSync(target, 'utf8'), '{"done":true}\n');
    assert.equal(existsSync(used), false, 'the temp used is consumed');
    assert.deepEqual(result.consumed, { removed: true });
    await waitFor(`the count to drop to ${before - 1}`, () =>
      exported.diagnostics.statusBarText().endsWith(` ${before - 1}`),
    );
    assert.deepEqual(result.actions, ['Open Backup', 'Compare with Backup']);

    // What the message's buttons do.
    await runRecoveredAction('Compare with Backup', result);
    const diff = await waitFor('the backup diff', () =>
      vscode.window.tabGroups.all
        .flatMap((group) => group.tabs)
        .map((tab) => tab.input)
        .find((input) => input instanceof vscode.TabInputTextDiff && input.modified.fsPath === target),
    );
    assert.equal((diff as vscode.TabInputTextDiff).original.fsPath, result.backup);
    await runRecoveredAction('Open Backup', result);
    await waitFor(
      'the backup open in an editor',
      () => vscode.window.activeTextEditor?.document.uri.fsPath === result.backup,
    );
    assert.equal(vscode.window.activeTextEditor?.document.getText(), '{"done": tr');
  });

  test('the status item stays on the error background while a file can be recovered, and leaves it once none can', async () => {
    const exported = await api();
    await exported.scan();
    assert.equal((await statusNow()).background, 'statusBarItem.errorBackground', 'the seeded broken/config.json');
    // Recover the seeded file (and put it back after): only orphans that need no recovery are left.
    const seeded = path.join(root, 'broken', 'config.json');
    const seededTemp = path.join(root, 'broken', '.config.json.tmp');
    const [bytes, tempBytes, tempStats] = [readFileSync(seeded), readFileSync(seededTemp), statSync(seededTemp)];
    plant('choice/stale.json', '{}', 120);
    plant('choice/stale.json.tmp.0a0a0a0a01', '{}', 60);
    try {
      const result = await vscode.commands.executeCommand<RecoverOutcome>('crashSafeState.recover', {
        target: seeded,
        confirm: true,
      });
      assert.ok(result?.backup);
      planted.track(result.backup);
      await exported.scan();
      const status = await statusNow();
      assert.match(status.text, /^\$\(warning\) \d+$/);
      assert.equal(status.background, 'statusBarItem.warningBackground', 'orphans left, none recoverable');
    } finally {
      writeFileSync(seeded, bytes);
      writeFileSync(seededTemp, tempBytes);
      utimesSync(seededTemp, tempStats.atime, tempStats.mtime);
    }
    await exported.scan();
    assert.equal((await statusNow()).background, 'statusBarItem.errorBackground', 'recoverable again');
  });
});
