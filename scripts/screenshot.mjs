// Takes the README screenshot from the real workbench: the demo workspace in code-server, the status-bar item
// showing its orphans, the Orphaned Temp Files view open. Usage: node scripts/screenshot.mjs [OUT.png]
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { prepareDemoWorkspace } from './demoWorkspace.mjs';
import { CHROMIUM_ARGS, startCodeServer } from './host/codeServer.mjs';
import { ensureHost } from './host/ensureHost.mjs';

const root = resolve(import.meta.dirname, '..');
const out = resolve(process.argv[2] ?? join(root, 'media', 'screenshot.png'));
const paths = await ensureHost({ log: (line) => console.log(line) });
const server = await startCodeServer({ paths, disableWorkspaceTrust: true });
const browser = await chromium.launch({ executablePath: paths.chromium, headless: true, args: CHROMIUM_ARGS });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  await page.goto(server.workbenchUrl({ folder: prepareDemoWorkspace(), extensionDevelopmentPath: root }));
  const item = page.locator('[id="crash-safe-state.crash-safe-state.crashSafeState.status"]');
  await item.waitFor({ timeout: 60_000 });
  const runCommand = async (title) => {
    await page.keyboard.press('F1');
    await page.keyboard.type(title);
    await page.waitForTimeout(500);
    await page.keyboard.press('Enter');
    await page.waitForTimeout(1_000);
  };
  // A clean stage: no welcome page or chat, the orphans view open beside the notification.
  await runCommand('View: Close All Editors');
  await runCommand('View: Close Secondary Side Bar');
  await runCommand('Crash-Safe State: Show Orphans');
  await page.waitForTimeout(3_000);
  if (process.env.CS_SHOT_DEBUG) await page.screenshot({ path: `${out}.orphans.png` });
  await runCommand('Notifications: Show Notifications');
  await page.getByText('has no valid content', { exact: false }).first().waitFor({ timeout: 30_000 }).catch(() => undefined);
  if (process.env.CS_SHOT_TOOLTIP) {
    await item.hover();
    await page.waitForTimeout(1_500);
  }
  await page.screenshot({ path: out });
  console.log(`Saved ${out}`);
} finally {
  await browser.close();
  await server.stop();
}
