// Git's gutter diff in a crash-safe (`crashsafe:`) editor, in the workbench `npm start` serves: git gives quick-diff
// originals only for `file:` URIs, so the extension gives them for `crashsafe:` ones through the git extension's API.
// A tracked file changed in a crash-safe editor shows the modified/added bars; an untracked one shows none and no
// error. Screenshots (editor and Source Control view) go to a temp folder.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Page } from 'playwright-core';
import {
  clearStartupToasts,
  closeWorkbench,
  openFromExplorer,
  openWorkbench,
  recordFailure,
  runFromPalette,
  screenshots,
  TOAST,
  untilCrashSafeTab,
  type WorkbenchSession,
} from '../support/workbenchSession';

const GUTTER = '.part.editor .monaco-editor .dirty-diff-modified, .part.editor .monaco-editor .dirty-diff-added';
const ROW = 'Crash-Safe Save (git changes in the gutter)';
const EDITOR_LINES = '.part.editor .monaco-editor .view-lines >> visible=true';

async function repositoryRows(page: Page): Promise<string[]> {
  return page.locator('.pane:has(.pane-header:has-text("Repositories")) .monaco-list-row').allInnerTexts();
}

function git(cwd: string, ...args: string[]): void {
  execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.invalid', ...args], { cwd });
}

/** Opens `folder/name` from the Explorer and reopens it crash-safe, as a user would. */
async function openCrashSafe(page: Page, folder: string, name: string): Promise<void> {
  await openFromExplorer(page, folder, name);
  await runFromPalette(page, 'Reopen With Crash-Safe Save');
  await untilCrashSafeTab(page, name);
  await page.locator(EDITOR_LINES).first().waitFor({ timeout: 20_000 });
}

/** Inserts a new first line that keeps the JSON valid (so auto-save writes it), and one change on the next. */
async function changeFirstLines(page: Page): Promise<void> {
  await page.locator(EDITOR_LINES).first().click();
  await page.keyboard.press('Control+Home');
  await page.keyboard.type('{ "changed": true,');
  await page.keyboard.press('Enter');
  await page.keyboard.press('Delete');
}

suite('git’s gutter diff in a crash-safe editor', () => {
  let session: WorkbenchSession | undefined;
  let page: Page;
  const shot = screenshots('cs-gutter-shots-', () => page, 500);

  suiteSetup(async function () {
    this.timeout(15 * 60_000);
    session = await openWorkbench({
      tempPrefix: 'cs-gutter-',
      viewport: { width: 1280, height: 720 },
      prepare: (workspace) => {
        git(workspace, 'init', '-q');
        git(workspace, 'add', 'state/state.json', '.vscode/settings.json');
        git(workspace, 'commit', '-q', '-m', 'tracked');
        writeFileSync(join(workspace, 'state', 'fresh.json'), '{ "fresh": 1 }\n');
      },
    });
    page = session.page;
    await clearStartupToasts(page);
  });

  suiteTeardown(async function () {
    this.timeout(30_000);
    await closeWorkbench(session);
  });

  teardown(async function () {
    if (this.currentTest?.state === 'failed' && page)
      await recordFailure(page, shot, this.currentTest.title, session?.server);
  });

  test('a tracked file changed in a crash-safe editor shows git’s modified and added bars', async function () {
    this.timeout(180_000);
    await openCrashSafe(page, 'state', 'state.json');
    await changeFirstLines(page);
    const bars = page.locator(GUTTER);
    await bars
      .first()
      .waitFor({ state: 'attached', timeout: 30_000 })
      .catch(() => undefined);
    await shot('gutter-tracked');
    assert.ok((await bars.count()) > 0, 'no gutter diff in the crash-safe editor of a tracked file');
    await runFromPalette(page, 'Source Control: Focus on Changes View');
    await shot('scm-view');
    await runFromPalette(page, 'Source Control: Focus on Repositories View');
    await shot('scm-repositories');
    const repositories = await repositoryRows(page);
    console.log(`      Source Control Repositories: ${JSON.stringify(repositories)}`);
    assert.ok(repositories.includes(ROW), `the SourceControl that gives the originals: ${repositories}`);
  });

  test('an untracked file in a crash-safe editor shows no gutter diff and no error', async function () {
    this.timeout(180_000);
    await runFromPalette(page, 'View: Show Explorer');
    await openCrashSafe(page, 'state', 'fresh.json');
    await changeFirstLines(page);
    await delay(5_000);
    await shot('gutter-untracked');
    assert.equal(await page.locator(GUTTER).count(), 0, 'an untracked file has a gutter diff');
    const errors = await page.locator(`${TOAST}:has(.codicon-error)`).allInnerTexts();
    assert.deepEqual(errors, [], 'an error was shown');
  });

  test('with no crash-safe editor open, the Source Control view no longer lists it', async function () {
    this.timeout(120_000);
    // Both edits were valid JSON, so VS Code's auto-save has written them: no editor asks before it closes.
    await runFromPalette(page, 'View: Close All Editors');
    await runFromPalette(page, 'Source Control: Focus on Repositories View');
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && (await repositoryRows(page)).includes(ROW)) await delay(250);
    await shot('scm-repositories-closed');
    assert.ok(!(await repositoryRows(page)).includes(ROW), `still listed: ${await repositoryRows(page)}`);
  });
});
