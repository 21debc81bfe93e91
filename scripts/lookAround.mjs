// Walks the workbench as `npm start` serves it, as a user would, and saves a screenshot of each stop: the start-up
// toast, the Orphaned Temp Files view, the status item's menu, the sweep preview, the Problems panel, the To-Dos view
// and the walkthrough. For looking at, not a test: nothing is asserted.
// Usage: node scripts/lookAround.mjs OUT_DIR [--locale de]
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { prepareDemoWorkspace } from './demoWorkspace.mjs';
import { CHROMIUM_ARGS } from './host/codeServer.mjs';
import { ensureHost } from './host/ensureHost.mjs';
import { startUserWorkbench } from './host/userWorkbench.mjs';

const { values, positionals } = parseArgs({ options: { locale: { type: 'string' } }, allowPositionals: true });
const out = resolve(positionals[0] ?? 'look');
mkdirSync(out, { recursive: true });
const paths = await ensureHost({ log: (line) => console.log(line) });
const { server, url } = await startUserWorkbench({
  paths,
  folder: prepareDemoWorkspace(),
  displayLanguage: values.locale,
  log: console.log,
});
const browser = await chromium.launch({ executablePath: paths.chromium, headless: true, args: CHROMIUM_ARGS });
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
const shot = async (name) => {
  await page.waitForTimeout(1_500);
  await page.screenshot({ path: join(out, `${name}.png`) });
  console.log(`saved ${name}.png`);
};
const palette = async (command) => {
  await page.keyboard.press('Escape');
  await page.keyboard.press('F1');
  await page.locator('.quick-input-widget input').fill(`>${command}`);
  await page.waitForTimeout(800);
  await page.keyboard.press('Enter');
};
try {
  await page.goto(url, { timeout: 180_000 });
  await page.locator('.notifications-toasts .notification-toast').first().waitFor({ timeout: 120_000 });
  await shot('1-startup');
  await page.locator('.pane-header', { hasText: /Orphaned Temp Files|Verwaiste/ }).click();
  await shot('2-orphans-view');
  await page.locator('[id="crash-safe-state.crash-safe-state.crashSafeState.status"]').click();
  await shot('3-status-menu');
  await page.keyboard.press('Escape');
  await palette(values.locale === 'de' ? 'Crash-Safe State: Verwaiste' : 'Crash-Safe State: Sweep');
  await shot('4-palette-sweep');
  await page.keyboard.press('Enter');
  await shot('5-sweep-preview');
  await page.keyboard.press('Escape');
  await palette(values.locale === 'de' ? 'Probleme' : 'Problems: Focus on Problems View');
  await shot('6-problems');
  await page.locator('.pane-header', { hasText: /To-Dos/ }).click();
  await shot('7-todos');
  await palette(values.locale === 'de' ? 'Willkommen' : 'Welcome: Open Walkthrough');
  await page.waitForTimeout(1_000);
  await page.keyboard.type('Crash-Safe');
  await page.keyboard.press('Enter');
  await shot('8-walkthrough');
} finally {
  await browser.close();
  await server.stop();
}
