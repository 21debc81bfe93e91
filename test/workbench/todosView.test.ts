// Round 3 of the workbench review, as a user sees it in the workbench `npm start` serves: the To-Dos view's rows
// (no icon gap after the checkbox), Ctrl+Z and the notifications' Undo as one stack, the snapshot restore picker's
// live diff, the walkthrough ticking steps done elsewhere, and group start-up recovery naming what it removed.
// CS_SHOTS_DIR and CS_SHOTS_PREFIX (before/after) put the screenshots where a review wants them.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Locator, Page } from 'playwright-core';
import {
  closeWorkbench,
  openWorkbench,
  recordFailure,
  removeRowByKey,
  runFromPalette,
  selectViewRow,
  TOAST,
  type WorkbenchSession,
} from '../support/workbenchSession';

type Box = { x: number; y: number; width: number; height: number };

const TODOS_PANE = '.pane:has(.pane-header:has-text("Crash-Safe To-Dos"))';
const T0 = '2026-12-01T10:00:00.000Z';

const shotsDir = process.env.CS_SHOTS_DIR ?? mkdtempSync(join(tmpdir(), 'cs-todos-shots-'));
const shotsPrefix = process.env.CS_SHOTS_PREFIX ?? 'shot';

suite('round 3 in the workbench: To-Dos, snapshot picker, walkthrough, group leftovers', () => {
  let session: WorkbenchSession | undefined;
  let page: Page;
  let workspace: string;
  const shot = async (name: string) => {
    await delay(700);
    mkdirSync(shotsDir, { recursive: true });
    const file = join(shotsDir, `${shotsPrefix}-${name}.png`);
    await page.screenshot({ path: file });
    console.log(`      screenshot: ${file}`);
  };
  const row = (title: string): Locator => page.locator(`${TODOS_PANE} .monaco-list-row`, { hasText: title }).first();
  const selectRow = (title: string) => selectViewRow(page, 'Crash-Safe To-Dos', title);

  suiteSetup(async function () {
    this.timeout(15 * 60_000);
    session = await openWorkbench({ tempPrefix: 'cs-todos-', viewport: { width: 1280, height: 800 } });
    ({ page, workspace } = session);
    const todos = ['Water the plants', 'Renew the passport', 'Back up the laptop', 'Call the plumber'].map(
      (title, index) => ({ id: `t${index}abc`, title, done: index === 1, createdAt: T0, updatedAt: T0 }),
    );
    mkdirSync(join(workspace, '.vscode', 'crash-safe'), { recursive: true });
    // Written as another window or the CLI would: no command of this window runs.
    writeFileSync(
      join(workspace, '.vscode', 'crash-safe', 'tasks.json'),
      `${JSON.stringify({ version: 1, tasks: todos }, null, 2)}\n`,
    );
    // The view may start collapsed below the others: open it as a user would, by its header.
    const header = page.locator('.pane-header', { hasText: 'Crash-Safe To-Dos' }).first();
    await header.waitFor({ timeout: 90_000 });
    if ((await header.getAttribute('aria-expanded')) !== 'true') await header.click();
    try {
      await row('Water the plants').waitFor({ timeout: 60_000 });
      // The start-up check's toast comes last: the workbench has settled once it shows.
      await page
        .locator(TOAST, { hasText: 'has no valid content, but a valid temp file of it exists.' })
        .first()
        .waitFor({ timeout: 90_000 });
    } catch (error) {
      await shot('setup-failed');
      throw error;
    }
  });

  teardown(async function () {
    if (this.currentTest?.state === 'failed') await recordFailure(page, shot, this.currentTest.title, session?.server);
  });

  suiteTeardown(async function () {
    this.timeout(30_000);
    await closeWorkbench(session);
  });

  test('a to-do row: the title follows the checkbox, with no icon gap between them (done or not)', async () => {
    for (const title of ['Water the plants', 'Renew the passport']) {
      // The view draws its rows again when the list is re-read: measure a drawn row, not one being replaced.
      let checkbox: Box | null = null;
      let label: Box | null = null;
      for (let attempt = 0; attempt < 40 && !(checkbox && label); attempt++) {
        if (attempt > 0) await delay(250);
        checkbox = await row(title).locator('.custom-view-tree-node-item-checkbox').boundingBox({ timeout: 5_000 });
        label = await row(title).locator('.label-name').boundingBox({ timeout: 5_000 });
      }
      assert.ok(checkbox && label, `${title}: no checkbox or label`);
      const gap = label.x - (checkbox.x + checkbox.width);
      console.log(`      ${title}: ${gap.toFixed(1)} px from the checkbox to the title`);
      assert.ok(gap < 10, `${title}: ${gap.toFixed(1)} px between the checkbox and the title`);
    }
    await shot('todos-view');
  });

  // Was skipped: a Delete right after deleting the row above was lost (no selection reached the command). The view
  // now selects the row that takes a deleted one's place and a key's Delete waits for the tree to catch up
  // (todosKeys.test.ts in-host); removeRowByKey still logs a lost press.
  test('Ctrl+Z takes back two deletes in a row; a notification’s Undo takes back its own delete after a later one', async function () {
    this.timeout(90_000);
    const deleteRow = (title: string) => removeRowByKey(page, 'Crash-Safe To-Dos', title, 'Delete');
    await deleteRow('Water the plants');
    await deleteRow('Call the plumber');
    await page.keyboard.press('Control+z');
    await row('Call the plumber').waitFor({ timeout: 10_000 });
    await page.keyboard.press('Control+z');
    await row('Water the plants').waitFor({ timeout: 10_000 });
    await shot('todos-ctrl-z-twice');

    await deleteRow('Back up the laptop');
    await deleteRow('Call the plumber');
    const first = page.locator(TOAST, { hasText: 'Deleted the to-do "Back up the laptop".' }).last();
    await first.getByRole('button', { name: 'Undo' }).click();
    await row('Back up the laptop').waitFor({ timeout: 10_000 });
    assert.equal(await row('Call the plumber').count(), 0, 'the later delete stays');
    await page.locator(TOAST, { hasText: 'Put back the to-do "Back up the laptop".' }).first().waitFor();
    await shot('todos-toast-undo');
    await selectRow('Back up the laptop');
    await page.keyboard.press('Control+z');
    await row('Call the plumber').waitFor({ timeout: 10_000 });
  });

  test('the walkthrough ticks the steps done elsewhere: the to-dos (added by another writer) and the Orphans view', async function () {
    this.timeout(90_000);
    // The Orphans view starts collapsed: open it, as a user would, before the walkthrough is ever shown.
    const orphans = page.locator('.pane-header', { hasText: 'Orphaned Temp Files' }).first();
    if ((await orphans.getAttribute('aria-expanded')) !== 'true') await orphans.click();
    await delay(1000);
    await runFromPalette(page, 'Welcome: Open Walkthrough...');
    // The second picker lists the walkthroughs: type to narrow it, then Enter, as with any picker.
    await page
      .locator('.quick-input-widget input[placeholder="Select a walkthrough to open"]')
      .waitFor({ timeout: 15_000 });
    await page.locator('.quick-input-widget input').fill('Crash-Safe State');
    const pick = page.locator('.quick-input-list .monaco-list-row', { hasText: 'Get Started with Crash-Safe State' });
    await pick.first().waitFor({ timeout: 15_000 });
    await page.keyboard.press('Enter');
    const step = (id: string) => page.locator(`[data-step-id$="#${id}"]`).first();
    await step('todos').waitFor({ timeout: 20_000 });
    await delay(1000);
    await shot('walkthrough');
    for (const id of ['orphans', 'todos']) {
      const ticked = await step(id).locator('.codicon-getting-started-step-checked').count();
      assert.equal(ticked, 1, `step ${id} is not ticked`);
    }
    await page.keyboard.press('Control+w');
  });

  test('Restore Settings Snapshot…: the highlighted snapshot’s diff shows beside the picker', async function () {
    this.timeout(90_000);
    await runFromPalette(page, 'Crash-Safe State: Take Settings Snapshot');
    await runFromPalette(page, 'Crash-Safe State: Restore Settings Snapshot…');
    await page.locator('.quick-input-list .monaco-list-row').first().waitFor({ timeout: 15_000 });
    const diff = page.locator('.monaco-diff-editor');
    await diff.first().waitFor({ timeout: 15_000 });
    await shot('snapshot-picker-diff');
    // Escape closes a hover first, if one is open, then the picker.
    const picker = page.locator('.quick-input-widget');
    for (let i = 0; i < 3 && (await picker.isVisible()); i++) await page.keyboard.press('Escape');
    await diff.first().waitFor({ state: 'detached', timeout: 15_000 });
  });

  test('the sweep preview takes back a tick on a row it keeps and says why', async function () {
    this.timeout(90_000);
    await runFromPalette(page, 'Crash-Safe State: Sweep Orphaned Temp Files');
    // The demo's data/todo.json is corrupt and its temp is the only valid copy: the preview lists it as kept.
    const kept = page.locator('.quick-input-list .monaco-list-row', { hasText: '.todo.json.tmp' }).first();
    await kept.waitFor({ timeout: 30_000 });
    const tick = kept.getByRole('checkbox');
    assert.equal(await tick.isChecked(), false, 'a kept row starts unticked');
    await tick.click();
    const input = page.locator('.quick-input-widget input');
    await page.waitForFunction(
      "document.querySelector('.quick-input-widget input')?.getAttribute('placeholder')?.includes('cannot be swept') === true",
      null,
      { timeout: 10_000 },
    );
    await shot('sweep-preview-kept-tick');
    assert.equal(await tick.isChecked(), false, 'the tick on a kept row is taken back');
    assert.match((await input.getAttribute('placeholder')) ?? '', /^\.todo\.json\.tmp cannot be swept: /);
    await page.keyboard.press('Escape');
  });

  test('group start-up recovery names the leftovers it removed', async function () {
    this.timeout(90_000);
    const deadPid = spawnSync(process.execPath, ['-e', '']).pid!;
    const names = [`app.json.csg-${deadPid}-0-1-0123abcd.tmp`, `app.json.csg-${deadPid}-0-2-4567cdef.bak`];
    for (const name of names) writeFileSync(join(workspace, 'settings', name), '{"left":"behind"}\n');
    await runFromPalette(page, 'Crash-Safe State: Finish Interrupted Group Commits');
    const toast = page.locator(TOAST, { hasText: 'leftover files' }).first();
    await toast.waitFor({ timeout: 30_000 });
    const text = (await toast.textContent()) ?? '';
    await shot('group-leftovers');
    for (const name of names) assert.ok(text.includes(name), `the notification does not name ${name}: ${text}`);
  });
});
