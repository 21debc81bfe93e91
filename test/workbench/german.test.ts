// The installed extension in a German workbench (`--locale de`, as `npm start -- --locale de` serves it): the
// strings the extension shows come from l10n/bundle.l10n.de.json and its manifest from package.nls.de.json. The
// expected texts are read from those files, so a bundle VS Code does not load (a wrong `l10n` path, a file missing
// from the .vsix, a key that no longer matches the source) fails here, and so does a translation equal to English.
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import {
  closeWorkbench,
  openWorkbench,
  runFromPalette,
  screenshots,
  TOAST,
  type WorkbenchSession,
} from '../support/workbenchSession';

type CodeServer = import('../../scripts/host/codeServer.mjs', { with: { 'resolution-mode': 'import' }}).CodeServer;

const root = join(__dirname, '..', '..');
const STATUS_ITEM = '[id="crash-safe-state.crash-safe-state.crashSafeState.status"]';

type Bundle = Record<string, string | { message: string }>;
/** Reason words and parse-failure words as the core gives them in English (the CLI's), which German must not show. */
const ENGLISH_REASON = /\b(the target is|valid copy|not valid JSON|at line|column \d|could not be checked)\b/;
/** A parser identifier such as UnexpectedEndOfString or InvalidSymbol. */
const PARSER_CODE =
  /\b(?:Unexpected|Invalid|Expected|EndOf)[A-Za-z]*\b|\b[A-Z][a-z]+(?:Expected|Symbol|Token|Format)\b/;
const readJson = (file: string) => JSON.parse(readFileSync(join(root, file), 'utf8'));
const englishBundle: Bundle = readJson('l10n/bundle.l10n.json');
const germanBundle: Record<string, string> = readJson('l10n/bundle.l10n.de.json');
const germanManifest: Record<string, string> = readJson('package.nls.de.json');
const englishManifest: Record<string, string> = readJson('package.nls.json');

/** The German text of the message whose English is `english` (keys may carry a translator comment), formatted. */
function german(english: string, ...args: string[]): string {
  const key = Object.keys(englishBundle).find((candidate) => {
    const entry = englishBundle[candidate]!;
    return (typeof entry === 'string' ? entry : entry.message) === english;
  });
  assert.ok(key, `no message "${english}" in l10n/bundle.l10n.json`);
  const text = germanBundle[key];
  assert.ok(text, `no German for "${english}" in l10n/bundle.l10n.de.json`);
  assert.notEqual(text, english, `the German for "${english}" is the English`);
  return text.replace(/\{(\d+)\}/g, (_, index: string) => args[Number(index)] ?? '');
}

function germanTitle(key: string): string {
  const text = germanManifest[key];
  assert.ok(text, `no ${key} in package.nls.de.json`);
  assert.notEqual(text, englishManifest[key], `${key} is the same in German and English`);
  return text;
}

suite('the extension in a German workbench (--locale de)', () => {
  let session: WorkbenchSession | undefined;
  let server: CodeServer | undefined;
  let page: Page;
  const shot = screenshots('cs-german-shots-', () => page, 500);

  suiteSetup(async function () {
    this.timeout(15 * 60_000);
    session = await openWorkbench({
      tempPrefix: 'cs-german-',
      viewport: { width: 1280, height: 800 },
      displayLanguage: 'de',
    });
    ({ server, page } = session);
  });

  suiteTeardown(async function () {
    this.timeout(30_000);
    await closeWorkbench(session);
  });

  test('the server was started with --locale de', () => {
    assert.ok(server);
    const at = server.args.indexOf('--locale');
    assert.equal(server.args[at + 1], 'de', server.args.join(' '));
  });

  test('the startup Recover offer is a German toast with German buttons', async function () {
    this.timeout(90_000);
    const toast = page.locator(TOAST, {
      hasText: german('{0} has no valid content, but a valid temp file of it exists.', 'data/todo.json'),
    });
    await toast.first().waitFor({ state: 'visible', timeout: 60_000 });
    for (const button of [german('Recover'), german('Show')]) {
      assert.equal(
        await toast.first().getByRole('button', { name: button, exact: true }).count(),
        1,
        `button ${button}`,
      );
    }
  });

  test('the status-bar item speaks German', async function () {
    this.timeout(30_000);
    const label = await page.locator(STATUS_ITEM).getAttribute('aria-label', { timeout: 20_000 });
    assert.ok(label?.includes(german('{0} orphaned temp files', '6')), label ?? '(no label)');
  });

  test('the Explorer view and the Command Palette show the German manifest titles', async function () {
    this.timeout(60_000);
    await page
      .locator('.pane-header', { hasText: germanTitle('view.orphans.name') })
      .first()
      .waitFor({ timeout: 20_000 });
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ timeout: 10_000 });
    await input.fill(`>${germanTitle('command.sweep.title')}`);
    await page
      .locator('.quick-input-list .monaco-list-row', { hasText: germanTitle('command.sweep.title') })
      .first()
      .waitFor({ timeout: 10_000 });
    await shot('german-palette');
    await page.keyboard.press('Escape');
  });

  test('the sweep preview says in German why it keeps a file: no English reason, no parser code', async function () {
    this.timeout(90_000);
    await runFromPalette(page, germanTitle('command.sweep.title'));
    const kept = german('kept: {0}', '');
    const rows = page.locator('.quick-input-list .monaco-list-row', { hasText: kept });
    await rows.first().waitFor({ timeout: 30_000 });
    const texts = await rows.allInnerTexts();
    await shot('german-sweep-preview');
    await page.keyboard.press('Escape');
    for (const text of texts) {
      assert.doesNotMatch(text, ENGLISH_REASON, `English in the German preview: ${text}`);
      assert.doesNotMatch(text, PARSER_CODE, `a parser code in the German preview: ${text}`);
    }
    const validCopy = german('the target is {0} and this is a valid copy', german('corrupt'));
    assert.ok(
      texts.some((text) => text.includes(validCopy)),
      `a kept valid copy reads "${validCopy}":\n${texts.join('\n')}`,
    );
  });

  test('the tooltip of an orphan whose target is corrupt words the parse error in German', async function () {
    this.timeout(60_000);
    const header = page.locator('.pane-header', { hasText: germanTitle('view.orphans.name') }).first();
    if ((await header.getAttribute('aria-expanded')) !== 'true') await header.click();
    const row = page.locator('.pane-body .monaco-list-row', { hasText: '.todo.json.tmp' }).first();
    await row.waitFor({ timeout: 20_000 });
    const hover = page.locator('.monaco-hover, .workbench-hover').filter({ hasText: 'todo.json' });
    for (let attempt = 1; ; attempt++) {
      await row.hover();
      try {
        await hover.first().waitFor({ state: 'visible', timeout: 5_000 });
        break;
      } catch (error) {
        if (attempt === 3) throw error;
        await page.mouse.move(0, 0);
      }
    }
    const text = (await hover.first().textContent()) ?? '';
    await shot('german-orphan-tooltip');
    await page.mouse.move(0, 0);
    assert.doesNotMatch(text, ENGLISH_REASON, `English in the German tooltip: ${text}`);
    assert.doesNotMatch(text, PARSER_CODE, `a parser code in the German tooltip: ${text}`);
    assert.ok(text.includes(german('not valid JSON: {0}', '').trim()), `the tooltip names the parse error:\n${text}`);
    assert.match(text, new RegExp(german('{0}, line {1}, column {2}', '', '\\d+', '\\d+')));
  });

  test("the snapshot picker writes dates the German way (VS Code's language, not the OS locale)", async function () {
    this.timeout(60_000);
    await runFromPalette(page, germanTitle('command.takeSettingsSnapshot.title'));
    await runFromPalette(page, germanTitle('command.restoreSettingsSnapshot.title'));
    // 1.12.2026, 05:40:00 in German; en-US would be 12/1/2026, 5:40:00 AM.
    const row = page.locator('.quick-input-list .monaco-list-row', {
      hasText: /\b\d{1,2}\.\d{1,2}\.\d{4}, \d{2}:\d{2}:\d{2}/,
    });
    await row.first().waitFor({ timeout: 15_000 });
    await page.keyboard.press('Escape');
  });
});
