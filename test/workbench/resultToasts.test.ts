// Item 6 of round 3, in the workbench `npm start` serves: the result of an action the user just took is a toast they
// see, never only a line in the notification centre. The workbench drops a toast silently when more than 3 start
// within 800 ms (its spam protection) or when the item closes before it is drawn, so each action is driven the way a
// user does it, quickly one after another: Sweep This Orphan on two rows, Clear Done right after ticking, Recover
// To-Do List… from the view's toolbar. CS_SHOTS_DIR and CS_SHOTS_PREFIX (before/after) put the screenshots where a
// review wants them.
import * as assert from 'node:assert/strict';
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

const TODOS_PANE = '.pane:has(.pane-header:has-text("Crash-Safe To-Dos"))';
const ORPHANS_PANE = '.pane:has(.pane-header:has-text("Orphaned Temp Files"))';
const T0 = '2026-12-01T10:00:00.000Z';

const shotsDir = process.env.CS_SHOTS_DIR ?? mkdtempSync(join(tmpdir(), 'cs-result-shots-'));
const shotsPrefix = process.env.CS_SHOTS_PREFIX ?? 'shot';

suite('results are seen: each action ends in a visible toast (workbench)', () => {
  let session: WorkbenchSession | undefined;
  let page: Page;
  let workspace: string;
  const shot = async (name: string) => {
    mkdirSync(shotsDir, { recursive: true });
    const file = join(shotsDir, `${shotsPrefix}-${name}.png`);
    await page.screenshot({ path: file });
    console.log(`      screenshot: ${file}`);
  };
  const todoRow = (title: string): Locator =>
    page.locator(`${TODOS_PANE} .monaco-list-row`, { hasText: title }).first();
  const selectTodo = (title: string) => selectViewRow(page, 'Crash-Safe To-Dos', title);
  const orphanRow = (name: string): Locator =>
    page.locator(`${ORPHANS_PANE} .monaco-list-row`, { hasText: name }).first();

  /**
   * Waits for a toast holding `text` to be visible. When none comes, the screenshot shows why, and the notification
   * centre is opened to tell "dropped into the centre" from "never shown at all".
   */
  async function expectToast(text: string | RegExp, name: string, timeout = 15_000): Promise<Locator> {
    const toast = page.locator(TOAST, { hasText: text }).first();
    try {
      await toast.waitFor({ state: 'visible', timeout });
    } catch (error) {
      await shot(`${name}-no-toast`);
      await page.keyboard.press('Escape');
      await runFromPalette(page, 'Notifications: Show Notifications');
      const centre = page.locator('.notifications-center .notification-list-item', { hasText: text });
      const inCentre = await centre
        .first()
        .waitFor({ timeout: 3_000 })
        .then(() => true)
        .catch(() => false);
      await shot(`${name}-centre`);
      await page.keyboard.press('Escape');
      throw new Error(`no visible toast "${text}"${inCentre ? ' (it went to the notification centre only)' : ''}`, {
        cause: error,
      });
    }
    // The toast fades in; a person sees it a moment later.
    await delay(500);
    assert.ok(await toast.isVisible(), `the toast "${text}" vanished again at once`);
    return toast;
  }

  suiteSetup(async function () {
    this.timeout(15 * 60_000);
    session = await openWorkbench({ tempPrefix: 'cs-results-', viewport: { width: 1280, height: 800 } });
    ({ page, workspace } = session);
    const todos = [
      'Water the plants',
      'Renew the passport',
      'Back up the laptop',
      'Call the plumber',
      'Feed the cat',
    ].map((title, index) => ({ id: `t${index}abc`, title, done: index === 1, createdAt: T0, updatedAt: T0 }));
    mkdirSync(join(workspace, '.vscode', 'crash-safe'), { recursive: true });
    writeFileSync(
      join(workspace, '.vscode', 'crash-safe', 'tasks.json'),
      `${JSON.stringify({ version: 1, tasks: todos }, null, 2)}\n`,
    );
    // The startup Recover offer comes first; the actions below start once it is up, as a user's would.
    await page.locator(TOAST, { hasText: 'has no valid content' }).first().waitFor({ timeout: 120_000 });
    for (const title of ['Orphaned Temp Files', 'Crash-Safe To-Dos']) {
      const header = page.locator('.pane-header', { hasText: title }).first();
      await header.waitFor({ timeout: 60_000 });
      if ((await header.getAttribute('aria-expanded')) !== 'true') await header.click();
    }
    await todoRow('Water the plants').waitFor({ timeout: 60_000 });
    await orphanRow('app.json.3421094865').waitFor({ timeout: 60_000 });
  });

  teardown(async function () {
    if (this.currentTest?.state === 'failed') await recordFailure(page, shot, this.currentTest.title, session?.server);
  });

  suiteTeardown(async function () {
    this.timeout(30_000);
    await closeWorkbench(session);
  });

  test('four undos by keyboard within a second: each result is a visible toast, none only in the centre', async function () {
    this.timeout(120_000);
    const removed = ['Feed the cat', 'Water the plants', 'Back up the laptop', 'Call the plumber'];
    for (const title of removed) {
      await removeRowByKey(page, 'Crash-Safe To-Dos', title, 'Delete');
    }
    // Every toast drawn from now on is noted as it becomes visible, however briefly.
    await page.evaluate(`(() => {
      const seen = (window.csSeenToasts = new Set());
      setInterval(() => {
        for (const toast of document.querySelectorAll('${TOAST}')) {
          if (toast.getBoundingClientRect().height > 0) seen.add(toast.textContent ?? '');
        }
      }, 25);
    })()`);
    // Past the workbench's 800 ms count of new toasts, so only the burst counts.
    await delay(2_000);
    await selectTodo('Renew the passport');
    for (let i = 0; i < removed.length; i++) {
      await page.keyboard.press('Control+z');
      await delay(50);
    }
    // A press the workbench lost (seen once in CI) is made again, logged, as a person would; a second loss fails.
    const back = () => Promise.all(removed.map((title) => todoRow(title).waitFor({ timeout: 15_000 })));
    await back().catch(async () => {
      const missing = [];
      for (const title of removed) if ((await todoRow(title).count()) === 0) missing.push(title);
      console.log(`      ${missing.join(', ')} not back 15 s after the burst; Ctrl+Z pressed once more for each`);
      for (const _ of missing) await page.keyboard.press('Control+z');
      await back();
    });
    const expected = removed.map((title) => `Put back the to-do "${title}".`);
    const allSeen = async () => {
      const seen: string[] = await page.evaluate('[...window.csSeenToasts]');
      return expected.filter((text) => !seen.some((toast) => toast.includes(text)));
    };
    let missing = await allSeen();
    for (let waited = 0; missing.length > 0 && waited < 10_000; waited += 250) {
      await delay(250);
      missing = await allSeen();
    }
    await shot('undo-burst');
    assert.deepEqual(missing, [], 'these results were never shown as a toast');
  });

  test('Sweep This Orphan through the trash question: the result is a visible toast', async function () {
    this.timeout(90_000);
    const row = orphanRow('app.json.3421094865');
    await row.hover();
    await row.locator('.action-label[aria-label="Sweep This Orphan"]').click();
    // code-server has no trash: the sweep asks before it deletes permanently.
    const confirm = page.locator('.monaco-dialog-box .monaco-button', { hasText: 'Delete Permanently' });
    await confirm.waitFor({ state: 'visible', timeout: 15_000 });
    await confirm.click();
    await row.waitFor({ state: 'detached', timeout: 15_000 });
    await expectToast(/Swept 1 orphaned temp file/, 'sweep-one');
    await shot('sweep-one-result');
  });

  test('tidying up fast: two rows swept, then Clear Done at once; each result is a visible toast', async function () {
    this.timeout(90_000);
    // The answer the trash question itself points to: no dialog between the clicks.
    const settings = join(workspace, '.vscode', 'settings.json');
    writeFileSync(
      settings,
      `${JSON.stringify({ 'workbench.startupEditor': 'readme', 'crashSafeState.sweep.whenTrashUnavailable': 'deletePermanently' }, null, 2)}\n`,
    );
    await todoRow('Call the plumber').locator('.custom-view-tree-node-item-checkbox').click();
    // Past the workbench's 800 ms count of new toasts, so only this burst counts.
    await delay(2_000);
    for (const name of ['settings.json.vsctmp', 'plan.md.tmp.5f0c2a9e']) {
      const row = orphanRow(name);
      // As a person would: the next row is clicked once the swept one has left and the rows below moved up (a click
      // while they move lands on whichever row is under the pointer by then; seen once at load 10). A click that
      // did nothing (the row redrawn between hover and click: seen once in CI) is made again, logged.
      for (let attempt = 1; ; attempt++) {
        await row.hover();
        await row.locator('.action-label[aria-label="Sweep This Orphan"]').click({ timeout: 5_000 });
        try {
          await row.waitFor({ state: 'detached', timeout: 10_000 });
          break;
        } catch (error) {
          if (attempt === 2) throw error;
          console.log(`      Sweep This Orphan on ${name} did nothing within 10 s; clicked again`);
        }
      }
    }
    await page.locator(`${TODOS_PANE} .action-label[aria-label="Clear Done To-Dos"]`).click({ timeout: 10_000 });
    const cleared = await expectToast('Cleared 2 done to-dos.', 'burst-clear-done');
    assert.ok(await cleared.getByRole('button', { name: 'Undo' }).isVisible());
    // Both sweeps say the same sentence; the workbench keeps the newer of two equal notifications.
    await expectToast(/Swept 1 orphaned temp file \(deleted permanently\)/, 'burst-sweep-one');
    await shot('burst-results');
  });

  test('Recover To-Do List… on a damaged list: the result is a visible toast', async function () {
    this.timeout(120_000);
    // Damaged by another writer (the Clear Done above left backups); the view offers Recover To-Do List….
    writeFileSync(join(workspace, '.vscode', 'crash-safe', 'tasks.json'), '{"version": 1, "tasks": [{"id": "t0');
    const recover = page.locator(`${TODOS_PANE} .pane-header .action-label[aria-label="Recover To-Do List…"]`);
    await recover.waitFor({ timeout: 30_000 });
    await shot('todo-problem');
    await recover.click();
    await page.locator('.quick-input-list .monaco-list-row').first().waitFor({ timeout: 20_000 });
    await delay(500);
    await page.keyboard.press('Enter');
    await expectToast(/Recovered \d+ to-dos? from/, 'todo-recovery', 30_000);
    await shot('todo-recovery-result');
  });
});
