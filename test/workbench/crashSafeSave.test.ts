// A crash-safe (`crashsafe:`) editor in the workbench `npm start` serves, with VS Code's own auto-save on (the web
// default, afterDelay): invalid JSON is neither written nor reported as a failed save; the editor stays dirty and the
// status bar says why. Cancel in "Save it anyway?" is a choice, not an error. The tab, breadcrumb and window title
// show the file's workspace-relative path, not where the workspace lies on disk. Screenshots go to a temp folder.
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
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

const root = join(__dirname, '..', '..');
const FAILED_TO_SAVE = /Failed to save|Unable to write/;
const titles: Record<string, string> = JSON.parse(readFileSync(join(root, 'package.nls.json'), 'utf8'));
const ORIGINAL = '{ "version": 3 }\n';

suite('a crash-safe editor in the workbench, with VS Code’s auto-save on', () => {
  let session: WorkbenchSession | undefined;
  let page: Page;
  let file: string;
  const shot = screenshots('cs-save-shots-', () => page, 500);

  suiteSetup(async function () {
    this.timeout(15 * 60_000);
    session = await openWorkbench({ tempPrefix: 'cs-save-', viewport: { width: 1280, height: 720 } });
    page = session.page;
    file = join(session.workspace, 'state', 'state.json');
    assert.equal(readFileSync(file, 'utf8'), ORIGINAL);
    // The startup offer is the sign the extension is up; clear it so every toast later is ours to judge.
    await clearStartupToasts(page);
    await openFromExplorer(page, 'state', 'state.json');
    await runFromPalette(page, titles['command.reopenWithCrashSafeSave.title']!);
    // Until the reopen is done (the plain tab closed too): every test starts from the crash-safe editor alone.
    await untilCrashSafeTab(page, 'state.json');
    await page.locator('.part.editor .monaco-editor .view-lines >> visible=true').first().waitFor({ timeout: 20_000 });
  });

  suiteTeardown(async function () {
    this.timeout(30_000);
    await closeWorkbench(session);
  });

  teardown(async function () {
    if (this.currentTest?.state === 'failed' && page)
      await recordFailure(page, shot, this.currentTest.title, session?.server);
  });

  test('VS Code’s auto-save is on (afterDelay, the web default): a plain file saves itself after an edit', async function () {
    this.timeout(90_000);
    const plain = join(session!.workspace, 'notes', 'plan.md');
    const before = readFileSync(plain, 'utf8');
    await openFromExplorer(page, 'notes', 'plan.md');
    // The tab is drawn before its editor replaces the one shown: typing before then lands in state.json.
    await untilEditorShows(page, before.trim());
    assert.equal(await editorText(page), before.trim(), 'plan.md is not the editor shown');
    await page.locator('.part.editor .monaco-editor .view-lines >> visible=true').first().click();
    await page.keyboard.press('Control+End');
    await page.keyboard.type('!');
    const deadline = Date.now() + 15_000;
    // VS Code writes in place (truncate, then write): wait for the whole new text, not just a change.
    while (Date.now() < deadline && readFileSync(plain, 'utf8') !== `${before}!`) await delay(250);
    assert.equal(readFileSync(plain, 'utf8'), `${before}!`, 'VS Code did not auto-save the plain file');
    await page.locator('.tabs-container .tab', { hasText: 'state.json' }).first().click();
    await untilEditorShows(page, ORIGINAL.trim());
  });

  test('invalid JSON typed into the crash-safe editor: no "Failed to save", the editor stays dirty, the status bar says why', async function () {
    this.timeout(60_000);
    assert.equal(await editorText(page), ORIGINAL.trim(), 'the crash-safe editor does not start from the file’s text');
    assert.equal(await dirtyTab(page, 'state.json'), false);
    await page.locator('.part.editor .monaco-editor .view-lines >> visible=true').first().click();
    await page.keyboard.press('Control+End');
    await page.keyboard.type('x');
    // VS Code auto-saves 1 s after the edit, the extension's own auto-save after 1 s too: wait well past both.
    const status = page.locator('.part.statusbar', { hasText: 'state.json not auto-saved' });
    await status.waitFor({ timeout: 10_000 });
    await delay(3_000);
    await shot('invalid-json-autosave');
    assert.deepEqual(await failureToasts(page), [], 'a save failure was shown');
    assert.equal(await dirtyTab(page, 'state.json'), true, 'the editor is no longer dirty');
    assert.ok(await status.isVisible(), 'the status bar does not say why it was not saved');
    assert.equal(readFileSync(file, 'utf8'), ORIGINAL, 'the invalid content reached the disk');
  });

  test('Save (Ctrl+S) asks "Save it anyway?"; Cancel keeps the editor dirty and shows no error', async function () {
    this.timeout(60_000);
    // Judge only what this save does (the test before judged the auto-save's toasts).
    await clearToasts(page);
    await page.locator('.part.editor .monaco-editor .view-lines >> visible=true').first().click();
    await page.keyboard.press('Control+S');
    const dialog = page.locator('.monaco-dialog-box');
    await dialog.waitFor({ state: 'visible', timeout: 15_000 });
    assert.match((await dialog.textContent()) ?? '', /Save it anyway\?/);
    await shot('save-anyway-question');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden', timeout: 10_000 });
    await delay(2_000);
    await shot('save-anyway-cancelled');
    assert.deepEqual(await failureToasts(page), [], 'Cancel was reported as a failed save');
    assert.equal(await dirtyTab(page, 'state.json'), true);
    assert.equal(readFileSync(file, 'utf8'), ORIGINAL);
  });

  test('once the JSON is valid again, VS Code’s auto-save writes it', async function () {
    this.timeout(60_000);
    await page.locator('.part.editor .monaco-editor .view-lines >> visible=true').first().click();
    await page.keyboard.press('Control+End');
    await page.keyboard.press('Backspace');
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && (await dirtyTab(page, 'state.json'))) await delay(250);
    await shot('valid-again-saved');
    assert.equal(await editorText(page), ORIGINAL.trim());
    assert.equal(await dirtyTab(page, 'state.json'), false, 'the valid content was not saved');
    assert.equal(readFileSync(file, 'utf8'), ORIGINAL);
    assert.deepEqual(await failureToasts(page), []);
  });

  test('the tab, breadcrumb and window title show the workspace-relative path, not the absolute one', async function () {
    this.timeout(30_000);
    await page.locator('.tabs-container .tab', { hasText: 'state.json' }).first().click();
    const crumbs = page.locator('.breadcrumbs-control .monaco-breadcrumb-item');
    await crumbs.first().waitFor({ timeout: 10_000 });
    const labels = (await crumbs.allInnerTexts()).map((text) => text.trim()).filter(Boolean);
    await shot('breadcrumb');
    const workspaceParts = session!.workspace.split('/').filter(Boolean);
    assert.deepEqual(labels.slice(0, 2), ['state', 'state.json'], `breadcrumb: ${labels.join(' › ')}`);
    for (const part of workspaceParts) assert.ok(!labels.includes(part), `breadcrumb shows "${part}"`);
    const title = await page.title();
    assert.ok(!title.includes(session!.workspace), `window title: ${title}`);
    assert.match(title, /state\.json/);
    const tab = page.locator('.tabs-container .tab', { hasText: 'state.json' }).first();
    const tabText = `${await tab.textContent()} ${await tab.getAttribute('aria-label')} ${await tab.getAttribute('title')}`;
    assert.ok(!tabText.includes(session!.workspace), `the tab shows the absolute path: ${tabText}`);
  });
});

/** Waits (up to 15 s) until the visible editor shows `text`; the caller's assertions judge what it shows after. */
async function untilEditorShows(page: Page, text: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && (await editorText(page)) !== text) await delay(100);
}

/** The texts of the visible toasts that report a failed save. */
async function failureToasts(page: Page): Promise<string[]> {
  const texts = await page.locator(TOAST).allInnerTexts();
  return texts.filter((text) => FAILED_TO_SAVE.test(text));
}

/** Closes every visible toast with its own close button (no palette: text typed into it can land in the editor). */
async function clearToasts(page: Page): Promise<void> {
  const close = page.locator(`${TOAST} .codicon-notifications-clear`);
  for (let left = await close.count(); left > 0; left = await close.count()) {
    await close
      .first()
      .click({ timeout: 5_000 })
      .catch(() => undefined);
    if ((await close.count()) >= left) break;
  }
}

/** The visible editor's text as drawn (Monaco draws spaces as no-break spaces), lines trimmed at the end. */
async function editorText(page: Page): Promise<string> {
  const lines = page.locator('.part.editor .monaco-editor .view-lines >> visible=true').first().locator('.view-line');
  const drawn = await lines.evaluateAll((nodes) =>
    nodes
      .map((node) => ({
        top: Number.parseFloat((node as unknown as { style: { top: string } }).style.top) || 0,
        text: node.textContent ?? '',
      }))
      .sort((a, b) => a.top - b.top)
      .map((line) => line.text),
  );
  return drawn
    .join('\n')
    .replace(/\u00a0/g, ' ')
    .trim();
}

async function dirtyTab(page: Page, name: string): Promise<boolean> {
  const tab = page.locator('.tabs-container .tab', { hasText: name }).first();
  return /\bdirty\b/.test((await tab.getAttribute('class')) ?? '');
}
