// Takes the README screenshots from the real workbench, started exactly as `npm start` starts it (the .vsix
// installed into code-server, no test tooling): the demo workspace on its README, the status-bar item counting the
// orphans, the Orphaned Temp Files view open, and the startup Recover offer as the real notification toast.
// Usage: node scripts/screenshot.mjs [OUT.png] [--locale de] [--palette TEXT]   (CS_SHOT_TOOLTIP=1: also hover the
// status-bar item; --palette: type TEXT into the Command Palette; the German README shot is
// `--locale de --palette 'Verwaiste Temporärdateien bereinigen' media/screenshot-de.png`)
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { prepareDemoWorkspace } from './demoWorkspace.mjs';
import { CHROMIUM_ARGS } from './host/codeServer.mjs';
import { ensureHost } from './host/ensureHost.mjs';
import { startUserWorkbench } from './host/userWorkbench.mjs';

const root = resolve(import.meta.dirname, '..');
const { values, positionals } = parseArgs({
  options: { locale: { type: 'string' }, palette: { type: 'string' } },
  allowPositionals: true,
});
const out = resolve(positionals[0] ?? join(root, 'media', 'screenshot.png'));
const paths = await ensureHost({ log: (line) => console.log(line) });
const { server, url } = await startUserWorkbench({
  paths,
  folder: prepareDemoWorkspace(),
  displayLanguage: values.locale,
  log: console.log,
});
const browser = await chromium.launch({ executablePath: paths.chromium, headless: true, args: CHROMIUM_ARGS });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(url);
  const toast = page.locator('.notifications-toasts .notification-toast', {
    hasText: /has no valid content|hat keinen gültigen Inhalt/,
  });
  await toast.first().waitFor({ state: 'visible', timeout: 60_000 });
  // Open our view in the Explorer with a click on its header, as a user would; the toast stays.
  await page.locator('.pane-header', { hasText: /Orphaned Temp Files|Verwaiste Temporärdateien/ }).click();
  await page.mouse.move(760, 300); // off the view, so no row shows its hover state
  // The README's Markdown preview renders in nested webview frames.
  await page
    .frameLocator('iframe.webview')
    .frameLocator('#active-frame')
    .locator('h1')
    .first()
    .waitFor({ timeout: 30_000 });
  await page.waitForTimeout(1_500);
  if (process.env.CS_SHOT_TOOLTIP) {
    await page.locator('[id="crash-safe-state.crash-safe-state.crashSafeState.status"]').hover();
    await page.waitForTimeout(1_500);
  }
  if (values.palette) {
    await page.keyboard.press('F1');
    await page.locator('.quick-input-widget input').fill(`>${values.palette}`);
    await page.locator('.quick-input-list .monaco-list-row', { hasText: values.palette }).first().waitFor();
    await page.waitForTimeout(1_000);
  }
  if (!(await toast.first().isVisible())) throw new Error('the startup notification toast is gone');
  await page.screenshot({ path: out });
  console.log(`Saved ${out}`);
} finally {
  await browser.close();
  await server.stop();
}
