// Start-up recovery of group commits in a trusted workspace: the same path the first scan takes runs again through
// crashSafeState.finishInterruptedGroupCommits, on a group interrupted (by a simulated crash) in a workspace folder.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CrashSafeStateApi } from '../../../src/ui/api';
import type { GroupStartupRun } from '../../../src/ui/groups/groupStartupRecovery';
import type { StatusMenu } from '../../../src/ui/orphans/orphanCommands';
import { integrationEnvironment } from './environment';
import {
  assertNoSingleFileRecoveryOffered,
  filesIn,
  GROUP_TARGETS,
  generations,
  interruptedGroup,
  plainTooltip,
} from './groupDebris';

const EXTENSION_ID = 'crash-safe-state.crash-safe-state';
const FINISH_COMMAND = 'crashSafeState.finishInterruptedGroupCommits';

/** The number the status bar item shows (0 when it shows none). */
const shownCount = (text: string) => Number(/\d+/.exec(text)?.[0] ?? 0);

type Diagnostics = CrashSafeStateApi['diagnostics'];

async function api(): Promise<CrashSafeStateApi & { diagnostics: Diagnostics }> {
  const extension = vscode.extensions.getExtension<CrashSafeStateApi & { diagnostics: Diagnostics }>(EXTENSION_ID);
  assert.ok(extension, `${EXTENSION_ID} is not loaded`);
  return extension.isActive ? extension.exports : extension.activate();
}

suite('group commits: start-up recovery in a trusted workspace', () => {
  let folder: string;
  setup(() => {
    folder = path.join(integrationEnvironment().workspace, `group-startup-${randomBytes(3).toString('hex')}`);
  });
  teardown(() => rmSync(folder, { recursive: true, force: true }));

  const finish = () => vscode.commands.executeCommand<GroupStartupRun>(FINISH_COMMAND);
  const journalsOf = (run: GroupStartupRun) => run.journals.filter((journal) => journal.startsWith(folder + path.sep));

  test('the first scan ran the start-up recovery, and nothing waits for trust', async () => {
    const exported = await api();
    const deadline = Date.now() + 20_000;
    while (exported.diagnostics.groupStartupRecovery().runs === 0) {
      if (Date.now() > deadline) assert.fail('the start-up recovery never ran');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(vscode.workspace.isTrusted, true);
    assert.equal(exported.diagnostics.groupStartupRecovery().waitingForTrust, false);
  });

  test('a group interrupted after its first rename is rolled forward; the journal leaves the scan and the status bar', async () => {
    const exported = await api();
    await interruptedGroup(folder, 1);
    assert.deepEqual(generations(folder), [1, 0, 0], 'the crash should leave the group mixed');
    const scanned = await exported.scan();
    const ours = scanned.filter((orphan) => orphan.path.startsWith(folder + path.sep));
    assert.ok(
      ours.some((orphan) => orphan.group !== undefined && orphan.path === orphan.group),
      `the scan lists the journal: ${JSON.stringify(ours)}`,
    );
    const shownBefore = shownCount(exported.diagnostics.statusBarText());
    assert.equal(shownBefore, scanned.length, exported.diagnostics.statusBarText());

    const run = await finish();
    assert.equal(run.state, 'finished');
    assert.equal(journalsOf(run).length, 1);
    const finished = run.report!.recovered.filter((outcome) => outcome.journal.startsWith(folder + path.sep));
    assert.deepEqual(
      finished.map((outcome) => [outcome.state, outcome.targets.map((target) => path.basename(target)).sort()]),
      [['rolled-forward', [...GROUP_TARGETS]]],
    );
    assert.match(
      run.message ?? '',
      /^Crash-Safe State finished an interrupted group commit: .*a\.json, .*b\.json, .*c\.json rolled forward\.$/,
    );
    assert.deepEqual(generations(folder), [1, 1, 1]);
    assert.deepEqual(filesIn(folder), [...GROUP_TARGETS], 'journal, temps and backups are gone');
    // The model was rescanned: none of the group's files is listed, and the status bar counts that.
    const orphans = (await exported.scan()).filter((orphan) => orphan.path.startsWith(folder + path.sep));
    assert.deepEqual(orphans, []);
    assert.equal(
      shownCount(exported.diagnostics.statusBarText()),
      shownBefore - ours.length,
      exported.diagnostics.statusBarText(),
    );
    assert.deepEqual(
      exported.diagnostics.groupStartupRecovery().last?.report?.recovered.length,
      run.report!.recovered.length,
    );
  });

  test('a group whose temp is gone is rolled back from its backups', async () => {
    await api();
    await interruptedGroup(folder, 1);
    const temp = filesIn(folder).find((name) => name.startsWith('b.json.csg-') && name.endsWith('.tmp'));
    assert.ok(temp, filesIn(folder).join(', '));
    unlinkSync(path.join(folder, temp));
    const run = await finish();
    const outcome = run.report!.recovered.find((found) => found.journal.startsWith(folder + path.sep));
    assert.equal(outcome?.state, 'rolled-back');
    assert.match(run.message ?? '', /rolled back\.$/);
    assert.deepEqual(generations(folder), [0, 0, 0]);
    assert.deepEqual(filesIn(folder), [...GROUP_TARGETS]);
  });

  test('a group that creates a file: no surface offers the single-file Recover for it; the status menu offers Finish Interrupted Group Commits', async () => {
    const exported = await api();
    await interruptedGroup(folder, 1, { newTargets: ['c.json'] });
    const created = path.join(folder, 'c.json');
    assert.equal(existsSync(created), false, 'the group has not created c.json yet');
    const scanned = await exported.scan();
    const temp = scanned.find((orphan) => orphan.target === created);
    assert.ok(
      temp?.group !== undefined && temp.validJson === true && temp.targetState === 'missing',
      JSON.stringify(temp),
    );

    const menu = await assertNoSingleFileRecoveryOffered(created, integrationEnvironment().workspace, scanned);
    const [first] = menu.items;
    assert.equal(first?.command, FINISH_COMMAND, JSON.stringify(menu.items));
    assert.equal(first?.label, '$(run-all) Finish Interrupted Group Commits');
    assert.match(first?.description ?? '', /^1 interrupted group commit: .*c\.json/);
    assert.match(
      plainTooltip(menu.status.tooltip),
      /1 interrupted group commit: Finish Interrupted Group Commits completes it\./,
    );
    // Words are joined by plain spaces, so a long (translated) sentence wraps in the hover instead of breaking mid-word.
    assert.match(menu.status.tooltip, /1 interrupted group commit: Finish Interrupted Group Commits completes it\./);

    // The item's command finishes the group: c.json is created, and the menu offers Finish no more.
    const run = await vscode.commands.executeCommand<GroupStartupRun>(first!.command);
    assert.equal(run.state, 'finished');
    assert.deepEqual(generations(folder), [1, 1, 1]);
    assert.deepEqual(filesIn(folder), [...GROUP_TARGETS]);
    const after = await vscode.commands.executeCommand<StatusMenu>('crashSafeState.menu', { show: false });
    assert.ok(!after.items.some((item) => item.command === FINISH_COMMAND), JSON.stringify(after.items));
    assert.doesNotMatch(plainTooltip(after.status.tooltip), /interrupted group commit/);
  });

  test('leftovers of dead writers are removed, and the notification names each file, with the count and size', async () => {
    await api();
    mkdirSync(folder, { recursive: true });
    writeFileSync(path.join(folder, 'a.json'), '{"kept":true}\n');
    // A writer that has exited: a child that ran and ended.
    const deadPid = spawnSync(process.execPath, ['-e', ''], { env: { ELECTRON_RUN_AS_NODE: '1' } }).pid!;
    const debris = [`a.json.csg-${deadPid}-0-1-0123abcd.tmp`, `b.json.csg-${deadPid}-0-2-4567cdef.bak`];
    for (const name of debris) writeFileSync(path.join(folder, name), '{"left":"behind"}\n');
    const run = await finish();
    assert.equal(run.state, 'finished');
    const removed = run.report!.removed.filter((file) => file.startsWith(folder + path.sep));
    assert.deepEqual(removed.map((file) => path.basename(file)).sort(), [...debris].sort());
    assert.deepEqual(filesIn(folder), ['a.json'], 'only the leftovers went');
    const message = run.message ?? '';
    assert.match(message, /deleted \d+ leftover files? \(.+\) of group commits? whose writers? had exited/, message);
    for (const name of debris) assert.ok(message.includes(name), `the notification does not name ${name}: ${message}`);
  });

  test('a target changed since the interruption: the group is left as it was and the notification says why', async () => {
    await api();
    await interruptedGroup(folder, 0);
    writeFileSync(path.join(folder, 'b.json'), '{"edited":"by hand"}\n');
    const before = filesIn(folder);
    const run = await finish();
    assert.equal(run.state, 'finished');
    const problem = run.report!.problems.find((found) => found.journal.startsWith(folder + path.sep));
    assert.match(problem?.reason ?? '', /b\.json holds neither its old nor its new content/);
    assert.match(
      run.message ?? '',
      /^Crash-Safe State left an interrupted group commit \(.*\.journal\) as it was: .*b\.json holds neither/,
    );
    assert.deepEqual(filesIn(folder), before, 'nothing was touched');
  });
});
