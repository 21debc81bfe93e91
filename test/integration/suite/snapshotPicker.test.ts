// Restore Settings Snapshot…'s picker shows the highlighted snapshot's diff against settings.json while picking, as
// Recover To-Do List… does (both use src/ui/diffPicker.ts), and closes it when the picker is cancelled.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { TakeResult } from '../../../src/state/snapshots';

const snapshotDiffs = () =>
  vscode.window.tabGroups.all
    .flatMap((group) => group.tabs)
    .map((tab) => tab.input)
    .filter(
      (input): input is vscode.TabInputTextDiff =>
        input instanceof vscode.TabInputTextDiff && input.modified.scheme === 'crashsafe-snapshot',
    );

async function waitFor<T>(what: string, probe: () => T | undefined | false): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

suite('settings snapshots: the restore picker shows a live diff', () => {
  const editor = () => vscode.workspace.getConfiguration('editor');
  suiteTeardown(async () => {
    await editor().update('rulers', undefined, vscode.ConfigurationTarget.Workspace);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  test('highlighting a snapshot shows its diff beside the picker; the next one replaces it; Escape closes it', async function () {
    this.timeout(60_000);
    const taken: string[] = [];
    for (const rulers of [[81], [82]]) {
      await editor().update('rulers', rulers, vscode.ConfigurationTarget.Workspace);
      const result = await vscode.commands.executeCommand<TakeResult>('crashSafeState.takeSettingsSnapshot');
      taken.push(result.taken ? result.snapshot.id : result.newest.id);
    }
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    const picking = vscode.commands.executeCommand('crashSafeState.restoreSettingsSnapshot');
    const first = await waitFor('the diff of the highlighted (newest) snapshot', () => snapshotDiffs()[0]);
    assert.equal(first.modified.path, `/${taken[1]}/settings.json`, 'the newest snapshot is highlighted first');
    assert.match(first.original.path, /\/\.vscode\/settings\.json$/, 'left: settings.json as it is now');
    await vscode.commands.executeCommand('workbench.action.quickOpenSelectNext');
    await waitFor('the diff to follow the highlight', () =>
      snapshotDiffs().some((diff) => diff.modified.path !== first.modified.path),
    );
    assert.equal(snapshotDiffs().length, 1, 'one preview at a time');
    await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
    assert.equal(await picking, undefined, 'nothing was restored');
    assert.deepEqual(snapshotDiffs(), [], 'the preview closed with the picker');
  });
});
