// Takes the README screenshot of Recover From… from the real workbench, started as `npm start` starts it (the .vsix
// installed into code-server): a JSON file with copies from three sources (Local History entries that code-server
// writes when the file is saved in the editor, the git index and HEAD, a temp that write-file-atomic left), then
// NUL-filled on disk as after a power loss; Recover From… from the Explorer's context menu lists every copy, newest
// first, with the live diff of the highlighted one.
// Usage: node scripts/screenshots/recoverFrom.mjs [OUT.png]   (default media/recover-from.png, 1280×800)
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS } from '../host/codeServer.mjs';
import { ensureHost } from '../host/ensureHost.mjs';
import { startUserWorkbench } from '../host/userWorkbench.mjs';

const root = resolve(import.meta.dirname, '..', '..');
const out = resolve(process.argv[2] ?? join(root, 'media', 'recover-from.png'));
/** Saves closer together than files.localHistory.mergeWindow (10 s) replace each other's entry. */
const MERGE_WINDOW_MS = 10_500;

const settings = (fields) => `${JSON.stringify(fields, null, 2)}\n`;
const COMMITTED = settings({ name: 'shop', port: 8080, theme: 'light' });
const TEMP = settings({ name: 'shop', port: 8080, theme: 'dark' });
const SAVES = [
  settings({ name: 'shop', port: 8080, theme: 'dark', locale: 'en' }),
  settings({ name: 'shop', port: 8081, theme: 'dark', locale: 'en' }),
  settings({ name: 'shop', port: 8081, theme: 'dark', locale: 'de', cache: { maxEntries: 500 } }),
];

// The workspace: a git repository with config/app.json committed, and a temp of it that write-file-atomic left.
const parent = mkdtempSync(join(tmpdir(), 'crash-safe-shot-recover-'));
const workspace = join(parent, 'shop');
mkdirSync(join(workspace, 'config'), { recursive: true });
mkdirSync(join(workspace, 'src'), { recursive: true });
writeFileSync(join(workspace, 'README.md'), '# shop\n\nA small web shop. Its settings are in `config/app.json`.\n');
writeFileSync(join(workspace, 'src', 'server.js'), "import config from '../config/app.json' with { type: 'json' };\n");
const target = join(workspace, 'config', 'app.json');
writeFileSync(target, COMMITTED);
const git = (...args) =>
  execFileSync('git', ['-c', 'user.name=Shop', '-c', 'user.email=shop@example.com', ...args], {
    cwd: workspace,
    stdio: 'pipe',
  });
git('init', '-q');
git('add', '-A');
git('commit', '-q', '-m', 'shop: first settings');

const paths = await ensureHost({ log: (line) => console.log(line) });
const { server, url } = await startUserWorkbench({ paths, folder: workspace, log: console.log });
const historyDir = join(server.dirs.userData, 'User', 'History');
const browser = await chromium.launch({ executablePath: paths.chromium, headless: true, args: CHROMIUM_ARGS });
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  // Each save's text is pasted: typed, the editor would indent and close brackets on its own.
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  const page = await context.newPage();
  await page.goto(url, { timeout: 180_000 });
  await page.locator('.explorer-folders-view').waitFor({ timeout: 120_000 });
  // Wait for the extension: its status-bar item.
  await page.locator('[id="crash-safe-state.crash-safe-state.crashSafeState.status"]').waitFor({ timeout: 120_000 });

  // The workbench opens the README's preview at start-up; only then would a click open the file for good.
  await page.locator('.tabs-container .tab', { hasText: 'README.md' }).waitFor({ timeout: 60_000 });
  await delay(1_000);
  // Open config/app.json from the Explorer and save it three times, as a user would: code-server writes a Local
  // History entry per save.
  await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'config' }).first().click();
  await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'app.json' }).first().dblclick();
  const lines = page.locator('.editor-instance .monaco-editor .view-lines').first();
  await lines.waitFor({ timeout: 30_000 });
  await page.locator('.tabs-container .tab.active', { hasText: 'app.json' }).waitFor({ timeout: 30_000 });
  for (const [i, content] of SAVES.entries()) {
    await lines.click();
    await page.keyboard.press('Control+A');
    await page.evaluate((text) => navigator.clipboard.writeText(text), content);
    await page.keyboard.press('Control+V');
    await page.locator('.tab.active.dirty').waitFor({ timeout: 15_000 });
    await page.keyboard.press('Control+S');
    await page.waitForFunction(() => !document.querySelector('.tab.active.dirty'), null, { timeout: 15_000 });
    if (i < SAVES.length - 1) await delay(MERGE_WINDOW_MS);
  }
  const entries = await waitForHistoryEntries(historyDir, 3);
  const saved = readFileSync(target, 'utf8');
  if (saved !== SAVES.at(-1)) throw new Error(`the last save is not on disk as typed: ${JSON.stringify(saved)}`);
  console.log(`Local History entries written by code-server: ${entries}`);
  await page.keyboard.press('Control+K');
  await page.keyboard.press('W'); // close all editors

  // A temp write-file-atomic left an hour ago, and then the power loss: the size reached the disk, the data did not.
  const temp = join(workspace, 'config', 'app.json.2837465012');
  writeFileSync(temp, TEMP);
  const hourAgo = new Date(Date.now() - 60 * 60 * 1000);
  utimesSync(temp, hourAgo, hourAgo);
  writeFileSync(target, Buffer.alloc(Buffer.byteLength(SAVES.at(-1))));

  // Recover From… from the Explorer's context menu on the broken file.
  const row = page.locator('.explorer-folders-view .monaco-list-row', { hasText: /^app\.json$/ }).first();
  await row.click({ button: 'right' });
  await page.locator('.context-view .action-label', { hasText: 'Recover From…' }).click();
  const picker = page.locator('.quick-input-widget');
  await picker.locator('.monaco-list-row').nth(4).waitFor({ timeout: 60_000 });
  // The live diff of the highlighted (newest) copy.
  await page.locator('.editor-instance .monaco-diff-editor').waitFor({ timeout: 30_000 });
  await page.mouse.move(1200, 780);
  await delay(1_500);
  const rows = await picker.locator('.monaco-list-row').allInnerTexts();
  console.log(`Recover From… lists:\n  ${rows.map((text) => text.replace(/\s+/g, ' ')).join('\n  ')}`);
  await page.screenshot({ path: out });
  console.log(`Saved ${out}`);
} catch (error) {
  const pages = browser.contexts().flatMap((context) => context.pages());
  if (pages[0]) await pages[0].screenshot({ path: `${out}.failed.png` }).catch(() => {});
  throw error;
} finally {
  await browser.close();
  await server.stop();
  rmSync(parent, { recursive: true, force: true });
}

/** Waits until the History folder names config/app.json with at least `count` entries; returns how many. */
async function waitForHistoryEntries(dir, count) {
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; await delay(250)) {
    for (const hash of existsSync(dir) ? readdirSync(dir) : []) {
      const file = join(dir, hash, 'entries.json');
      if (!existsSync(file)) continue;
      const parsed = JSON.parse(readFileSync(file, 'utf8'));
      if (parsed.resource.endsWith('/shop/config/app.json') && parsed.entries.length >= count) {
        return parsed.entries.length;
      }
    }
  }
  const found = existsSync(dir)
    ? readdirSync(dir).map((hash) => {
        const file = join(dir, hash, 'entries.json');
        return existsSync(file) ? readFileSync(file, 'utf8') : `${hash}: no entries.json`;
      })
    : ['no History folder'];
  throw new Error(`not ${count} Local History entries for ${target} in ${dir}: ${found.join('; ')}`);
}
