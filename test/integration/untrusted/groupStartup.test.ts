// Restricted Mode: the start-up recovery of group commits must change nothing. The journal stays, the orphan scan
// still lists it, and the recovery waits for the workspace to be trusted.
import * as assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CrashSafeStateApi } from '../../../src/ui/api';
import type { GroupStartupRun } from '../../../src/ui/groups/groupStartupRecovery';
import { integrationEnvironment } from '../suite/environment';
import {
  assertNoSingleFileRecoveryOffered,
  filesIn,
  generations,
  interruptedGroup,
  plainTooltip,
} from '../suite/groupDebris';

const EXTENSION_ID = 'crash-safe-state.crash-safe-state';
const FINISH_COMMAND = 'crashSafeState.finishInterruptedGroupCommits';

type Diagnostics = CrashSafeStateApi['diagnostics'];

async function api(): Promise<CrashSafeStateApi & { diagnostics: Diagnostics }> {
  const extension = vscode.extensions.getExtension<CrashSafeStateApi & { diagnostics: Diagnostics }>(EXTENSION_ID);
  assert.ok(extension, `${EXTENSION_ID} is not loaded`);
  return extension.activate();
}

suite('group commits: start-up recovery in Restricted Mode', () => {
  let folder: string;
  setup(() => {
    folder = path.join(integrationEnvironment().workspace, 'group-startup-untrusted');
  });
  teardown(() => rmSync(folder, { recursive: true, force: true }));

  test('an interrupted group is left exactly as it was, still listed by the scan, waiting for trust', async () => {
    const exported = await api();
    assert.equal(vscode.workspace.isTrusted, false);
    await interruptedGroup(folder, 1);
    const before = filesIn(folder);
    assert.deepEqual(generations(folder), [1, 0, 0]);

    const run = await vscode.commands.executeCommand<GroupStartupRun>(FINISH_COMMAND);
    assert.equal(run.state, 'restricted');
    assert.equal(run.report, undefined);
    assert.equal(run.message, undefined, 'no notification');
    assert.ok(
      run.journals.some((journal) => journal.startsWith(folder + path.sep)),
      JSON.stringify(run.journals),
    );
    assert.deepEqual(filesIn(folder), before, 'nothing was touched');
    assert.deepEqual(generations(folder), [1, 0, 0]);
    assert.equal(exported.diagnostics.groupStartupRecovery().waitingForTrust, true);
    const listed = (await exported.scan()).filter((orphan) => orphan.path.startsWith(folder + path.sep));
    assert.equal(
      listed.length,
      before.length - 3,
      'the journal, temps and backups stay visible to the orphan surfaces',
    );
  });

  test('a group that creates a file: no surface offers the single-file Recover for it; the menu offers trust to finish it; nothing changes', async () => {
    const exported = await api();
    await interruptedGroup(folder, 1, { newTargets: ['c.json'] });
    const created = path.join(folder, 'c.json');
    const before = filesIn(folder);
    const scanned = await exported.scan();
    const temp = scanned.find((orphan) => orphan.target === created);
    assert.ok(
      temp?.group !== undefined && temp.validJson === true && temp.targetState === 'missing',
      JSON.stringify(temp),
    );

    const menu = await assertNoSingleFileRecoveryOffered(created, integrationEnvironment().workspace, scanned);
    // As for Recover: the item asks for trust first and never runs the command that would change files.
    assert.ok(!menu.items.some((item) => item.command === FINISH_COMMAND), JSON.stringify(menu.items));
    const [first] = menu.items;
    assert.equal(first?.command, 'workbench.trust.manage');
    assert.equal(first?.label, '$(workspace-untrusted) Trust the workspace to finish the interrupted group commit…');
    assert.match(
      first?.description ?? '',
      /^1 interrupted group commit: .*c\.json.*; finishing replaces files, which needs trust$/,
    );
    assert.match(
      plainTooltip(menu.status.tooltip),
      /1 interrupted group commit: Finish Interrupted Group Commits completes it\./,
    );

    assert.deepEqual(filesIn(folder), before, 'nothing was touched');
    assert.equal(existsSync(created), false);
  });
});
