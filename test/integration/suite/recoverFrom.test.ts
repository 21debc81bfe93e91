// Recover From…: every copy of a file from every source. Real Local History entries written by the workbench when a
// file is saved, real git objects, and the start-up check (run again by Scan) over the files Local History knows.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CrashSafeStateApi } from '../../../src/ui/api';
import type { RecoverFromOutcome } from '../../../src/ui/copies/recoverFromCommand';
import { handleStartupAction, offerRecovery } from '../../../src/ui/orphans/startupCheck';
import { hostLog } from './environment';

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

/** The open diff tabs whose left side is `file` (a file: URI or the read-only view of its bytes). */
function diffTabsOf(file: string): vscode.Tab[] {
  return vscode.window.tabGroups.all
    .flatMap((group) => group.tabs)
    .filter((tab) => tab.input instanceof vscode.TabInputTextDiff && tab.input.original.fsPath === file);
}

/** The text of the copy the open diff of `file` shows, and the diff's title. */
async function shownCopy(file: string): Promise<{ title: string; text: string; scheme: string } | undefined> {
  const tab = diffTabsOf(file).find((candidate) => candidate.isActive) ?? diffTabsOf(file)[0];
  if (!tab) return undefined;
  const input = tab.input as vscode.TabInputTextDiff;
  const document = await vscode.workspace.openTextDocument(input.modified);
  return { title: tab.label, text: document.getText(), scheme: input.modified.scheme };
}

async function waitForShown(file: string, text: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const shown = await shownCopy(file);
    if (shown?.text === text) return shown;
    if (Date.now() > deadline) assert.fail(`the diff never showed ${JSON.stringify(text)}: ${JSON.stringify(shown)}`);
    await settle(100);
  }
}

/** The Local History folder (`<hash>/entries.json`) that names `file`, with its entries. */
function historyOf(historyDir: string, file: string): { resource: string; entries: { id: string }[] } | undefined {
  if (!existsSync(historyDir)) return undefined;
  for (const hash of readdirSync(historyDir)) {
    const entriesFile = path.join(historyDir, hash, 'entries.json');
    if (!existsSync(entriesFile)) continue;
    const parsed = JSON.parse(readFileSync(entriesFile, 'utf8')) as { resource: string; entries: { id: string }[] };
    if (decodeURIComponent(parsed.resource).endsWith(file)) return parsed;
  }
  return undefined;
}

suite('Recover From… lists every copy (Local History, git) and restores the one chosen', () => {
  let root: string;
  const made: string[] = [];

  suiteSetup(() => {
    root = vscode.workspace.workspaceFolders![0]!.uri.fsPath;
  });
  teardown(async () => {
    await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    for (const file of made.splice(0)) rmSync(file, { recursive: true, force: true });
  });

  test('a file saved in the workbench, then overwritten with NUL bytes: flagged, listed newest first, restored', async function () {
    this.timeout(120_000);
    const exported = await api();
    const copies = exported.diagnostics.copies();
    assert.ok(copies.historyDir, 'no Local History folder');
    // The History folder is the server's: its resources are vscode-remote://<browser authority>/<local path>.
    assert.equal(copies.remoteAuthorities, 'any');
    // Saves within files.localHistory.mergeWindow (10 s; the extension host cannot change it) replace each
    // other's entry, so the saves are that far apart.
    {
      const folder = path.join(root, 'saved');
      mkdirSync(folder, { recursive: true });
      made.push(folder);
      const target = path.join(folder, 'notes.json');
      writeFileSync(target, '{"v":0}\n');
      const document = await vscode.workspace.openTextDocument(vscode.Uri.file(target));
      const editor = await vscode.window.showTextDocument(document);
      const saves = ['{"v":1}\n', '{"v":2,"text":"second"}\n', '{"v":3,"text":"third save"}\n'];
      for (const content of saves) {
        await editor.edit((edit) => edit.replace(new vscode.Range(0, 0, document.lineCount, 0), content));
        // The workbench now and then refuses a save with "Unable to resolve nonexistent file" for a file that exists.
        let saved = await document.save();
        for (let retry = 0; !saved && retry < 3; retry++) {
          hostLog(`save of ${target} refused; retrying (exists: ${existsSync(target)})`);
          await settle(500);
          saved = await document.save();
        }
        assert.ok(saved, 'the save failed');
        if (content !== saves.at(-1)) await settle(10_500);
      }
      const history = await waitFor(
        'three Local History entries',
        () => {
          const found = historyOf(copies.historyDir!, target);
          return found && found.entries.length >= 3 ? found : undefined;
        },
        15_000,
      );
      hostLog(`Local History resource written by code-server: ${history.resource}`);
      assert.match(history.resource, /^vscode-remote:\/\/[^/]+\//);

      // Power loss: the size reached the disk, the data did not.
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      const nul = Buffer.alloc(Buffer.byteLength(saves[2]!));
      writeFileSync(target, nul);

      // The start-up check over the files Local History knows (Scan runs it again): a Problems entry names the copy.
      await vscode.commands.executeCommand('crashSafeState.scan');
      const flagged = exported.diagnostics.copies().brokenFiles.find((file) => file.target === target);
      assert.ok(flagged, `not flagged: ${JSON.stringify(exported.diagnostics.copies())}`);
      assert.equal(flagged.reason, 'nul');
      assert.equal(flagged.best.source, 'history');
      const entry = await waitFor('the Problems entry', () =>
        vscode.languages.getDiagnostics(vscode.Uri.file(target)).find((d) => d.code === 'nul-target'),
      );
      assert.match(entry.message, /^saved\/notes\.json holds only NUL bytes; a good copy \(Local History · /);
      assert.ok((exported.diagnostics.copies().lastHistoryCheck?.known ?? 0) >= 1);

      // Recover From…: the newest save first, then the one before, each in a live diff of a read-only copy.
      const cancelled = vscode.commands.executeCommand('crashSafeState.recoverFrom', { target });
      const newest = await waitForShown(target, saves[2]!);
      assert.equal(newest.scheme, 'crashsafe-copy', 'the copy is shown read-only, never written to the workspace');
      assert.match(newest.title, /Local History · /);
      await vscode.commands.executeCommand('workbench.action.quickOpenSelectNext');
      await waitForShown(target, saves[1]!);
      await vscode.commands.executeCommand('workbench.action.quickOpenSelectNext');
      await waitForShown(target, saves[0]!);
      await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
      assert.equal(await cancelled, undefined);
      assert.deepEqual(readFileSync(target), nul, 'cancelled: nothing changed');

      // The start-up notification offers it though no temp exists; its Recover opens Recover From… on the file.
      const offer = offerRecovery([], (file) => path.relative(root, file), [], [flagged]);
      assert.deepEqual(offer, { targets: [target], actions: ['Recover', 'Show'] });
      const clicked = handleStartupAction('Recover', offer.targets, (file) => path.relative(root, file), [], [target]);

      // Chosen: the newest save, exactly its bytes; the NUL file is kept as the backup.
      await waitForShown(target, saves[2]!);
      await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
      assert.equal(await clicked, 'recover');
      const backups = readdirSync(folder).filter((name) => name.startsWith('notes.json.corrupt-'));
      assert.equal(backups.length, 1, `backups: ${readdirSync(folder)}`);
      const result = { backup: path.join(folder, backups[0]!) };
      assert.equal(readFileSync(target, 'utf8'), saves[2]);
      assert.deepEqual(readFileSync(result.backup), nul);
      await waitFor('the Problems entry to go', () =>
        vscode.languages.getDiagnostics(vscode.Uri.file(target)).every((d) => d.code !== 'nul-target'),
      );
    }
  });

  test('a committed file that was emptied: git HEAD and the index are listed, and --from git restores HEAD', async function () {
    this.timeout(60_000);
    const repo = path.join(root, 'gitcase');
    made.push(repo);
    mkdirSync(repo, { recursive: true });
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: repo, stdio: 'pipe' });
    git('init', '-q');
    const target = path.join(repo, 'data.json');
    writeFileSync(target, '{"committed":true}\n');
    git('add', 'data.json');
    git('commit', '-q', '-m', 'data');
    writeFileSync(target, '');

    const listed = vscode.commands.executeCommand('crashSafeState.recoverFrom', { target });
    const shown = await waitForShown(target, '{"committed":true}\n');
    const titles = new Set([shown.title]);
    await vscode.commands.executeCommand('workbench.action.quickOpenSelectNext');
    for (const deadline = Date.now() + 10_000; titles.size < 2 && Date.now() < deadline; await settle(100)) {
      const next = await shownCopy(target);
      if (next) titles.add(next.title);
    }
    const words = [...titles].join(' | ');
    assert.match(words, /git HEAD/);
    assert.match(words, /git index/);
    await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
    assert.equal(await listed, undefined);
    assert.equal(readFileSync(target, 'utf8'), '');

    const result = await vscode.commands.executeCommand<RecoverFromOutcome>('crashSafeState.recoverFrom', {
      target,
      from: 'git',
      confirm: true,
    });
    assert.ok(result?.backup);
    assert.equal(result.copy.source, 'git');
    assert.equal(readFileSync(target, 'utf8'), '{"committed":true}\n');
    assert.equal(readFileSync(result.backup, 'utf8'), '');
  });
});
