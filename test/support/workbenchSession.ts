// The set-up the workbench suites share: the host (installed when missing), a fresh demo workspace, code-server with
// the extension from its .vsix (as `npm start` serves it), and headless Chromium on its URL. One close undoes it all.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { type Browser, chromium, type Page } from 'playwright-core';

type CodeServer = import('../../scripts/host/codeServer.mjs', { with: { 'resolution-mode': 'import' }}).CodeServer;
type HostPaths = import('../../scripts/host/ensureHost.mjs', { with: { 'resolution-mode': 'import' }}).HostPaths;
type OnOutput = (chunk: string | Buffer) => void;

export interface WorkbenchSession {
  paths: HostPaths;
  server: CodeServer;
  browser: Browser;
  page: Page;
  /** The demo workspace folder (inside a temp folder of its own). */
  workspace: string;
  url: string;
  timings: { packageMs: number; serverMs: number };
  /** Date.now() when packaging and starting the server began. */
  startedAt: number;
}

export interface WorkbenchOptions {
  /** Prefix of the temp folder that holds the demo workspace. */
  tempPrefix: string;
  viewport: { width: number; height: number };
  displayLanguage?: string;
  onOutput?: OnOutput;
  /** Runs on the fresh workspace before the server starts (e.g. `git init`). */
  prepare?: (workspace: string) => void;
}

/** Starts the workbench and opens it in a page. Whatever was started before a failure is stopped again. */
export async function openWorkbench(options: WorkbenchOptions): Promise<WorkbenchSession> {
  const { ensureHost } = await import('../../scripts/host/ensureHost.mjs');
  const { CHROMIUM_ARGS } = await import('../../scripts/host/codeServer.mjs');
  const { prepareDemoWorkspace } = await import('../../scripts/demoWorkspace.mjs');
  const { startUserWorkbench } = await import('../../scripts/host/userWorkbench.mjs');
  const paths = await ensureHost({ log: (line) => console.log(`      ${line}`) });
  const workspace = prepareDemoWorkspace(join(mkdtempSync(join(tmpdir(), options.tempPrefix)), 'demo'));
  const partial: Partial<WorkbenchSession> = { paths, workspace };
  try {
    options.prepare?.(workspace);
    partial.startedAt = Date.now();
    const workbench = await startUserWorkbench({
      paths,
      folder: workspace,
      displayLanguage: options.displayLanguage,
      onOutput: options.onOutput,
    });
    partial.server = workbench.server;
    partial.url = workbench.url;
    partial.timings = workbench.timings;
    partial.browser = await chromium.launch({ executablePath: paths.chromium, headless: true, args: CHROMIUM_ARGS });
    partial.page = await partial.browser.newPage({ viewport: options.viewport });
    // A loaded machine (other suites, helpers) can take well over the default 30 s to serve the workbench.
    await partial.page.goto(workbench.url, { timeout: 180_000 });
    return partial as WorkbenchSession;
  } catch (error) {
    await closeWorkbench(partial);
    throw error;
  }
}

/** Closes the browser, stops the server and removes the workspace's temp folder; each step only if it was reached. */
export async function closeWorkbench(session: Partial<WorkbenchSession> | undefined): Promise<void> {
  await session?.browser?.close().catch(() => {});
  await session?.server?.stop();
  if (session?.workspace) rmSync(join(session.workspace, '..'), { recursive: true, force: true });
}

/** A temp folder for screenshots and a function that saves the page there as `<name>.png` and logs the path. */
export function screenshots(prefix: string, page: () => Page, settleMs = 0): (name: string) => Promise<void> {
  const folder = mkdtempSync(join(tmpdir(), prefix));
  return async (name) => {
    if (settleMs > 0) await delay(settleMs);
    const file = join(folder, `${name}.png`);
    await page().screenshot({ path: file });
    console.log(`      screenshot: ${file}`);
  };
}

/** A notification toast in the bottom-right corner. */
export const TOAST = '.notifications-toasts .notification-toast';

/**
 * Waits (up to 60 s) for the first toast, the startup offer that shows the extension is up, then clears every
 * notification, so each toast later is the test's to judge.
 */
export async function clearStartupToasts(page: Page): Promise<void> {
  await page
    .locator(TOAST)
    .first()
    .waitFor({ state: 'visible', timeout: 60_000 })
    .catch(() => undefined);
  await runFromPalette(page, 'Notifications: Clear All Notifications');
}

/**
 * Runs a command by its title from the Command Palette, as a user would: F1, type, Enter on the matching row. On a
 * loaded machine a palette opened right after another closed can fade out before it takes input; then F1 again.
 */
export async function runFromPalette(page: Page, title: string): Promise<void> {
  const input = page.locator('.quick-input-widget input');
  for (let attempt = 1; ; attempt++) {
    // A picker left open would take F1 as typing; one that is closing would swallow it.
    for (let i = 0; i < 3 && (await input.isVisible()); i++) await page.keyboard.press('Escape');
    await delay(300);
    await page.keyboard.press('F1');
    try {
      await input.waitFor({ timeout: 10_000 });
      await page.waitForFunction("document.activeElement?.matches('.quick-input-widget input') === true", null, {
        timeout: 10_000,
      });
      await input.fill(`>${title}`, { timeout: 5_000 });
      break;
    } catch (error) {
      if (attempt === 3) throw error;
    }
  }
  const match = page.locator('.quick-input-list .monaco-list-row', { hasText: title.split('/').pop()! }).first();
  await match.waitFor({ timeout: 30_000 });
  await page.keyboard.press('Enter');
}

/**
 * Clicks a row of a view and waits until the keyboard is in that view, as a person sees the focus ring before
 * pressing a key; then a moment more, since the extension hears of the new selection a little later.
 */
export async function selectViewRow(page: Page, viewTitle: string, rowText: string): Promise<void> {
  const pane = `.pane:has(.pane-header:has-text(${JSON.stringify(viewTitle)}))`;
  await page.locator(`${pane} .monaco-list-row`, { hasText: rowText }).first().locator('.label-name').click();
  // The keyboard is in that view's list (not its header) and on that row.
  await page.waitForFunction(
    `(() => {
      const list = document.activeElement?.closest('.monaco-list');
      const header = list?.closest('.pane')?.querySelector('.pane-header');
      const row = list?.querySelector('.monaco-list-row.focused');
      return header?.textContent?.includes(${JSON.stringify(viewTitle)}) === true &&
        row?.textContent?.includes(${JSON.stringify(rowText)}) === true;
    })()`,
    null,
    { timeout: 10_000 },
  );
  await delay(500);
}

/** How many of the extension's last log lines a failed test prints. */
const LOG_LINES_AT_FAILURE = 60;

/**
 * What a failed test leaves behind: the element that held the keyboard, logged, a screenshot, and the last lines of
 * the extension's own log (the Crash-Safe State output channel), since CI keeps only the printed output.
 */
export async function recordFailure(
  page: Page,
  shot: (name: string) => Promise<void>,
  title: string,
  server?: CodeServer,
): Promise<void> {
  const focused = await page.evaluate("document.activeElement?.outerHTML.slice(0, 200) ?? 'nothing'");
  console.log(`      focus at the failure: ${focused}`);
  await shot(`failed-${title.slice(0, 30).replace(/\W+/g, '-')}`);
  if (!server) return;
  const logs = extensionLogs(server.dirs.userData);
  if (logs.length === 0) console.log('      (no log of the extension was found)');
  for (const file of logs) {
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    console.log(
      `      the extension's log, last ${Math.min(lines.length, LOG_LINES_AT_FAILURE)} of ${lines.length} lines:`,
    );
    for (const line of lines.slice(-LOG_LINES_AT_FAILURE)) console.log(`        ${line}`);
  }
}

/** The Crash-Safe State output channel's log files of a code-server profile (one per window session). */
function extensionLogs(userData: string): string[] {
  const root = join(userData, 'logs');
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .sort()
    .map((session) => join(root, session, 'exthost1', 'crash-safe-state.crash-safe-state', 'Crash-Safe State.log'))
    .filter((file) => existsSync(file));
}

/**
 * Selects a row of a view, presses `key` and waits until the row is gone. If it is still there after 10 s, the press
 * is logged as lost and made once more, as a person would: at load ~10, one press in several runs did nothing (the
 * extension's view selection lagging the list's; see the closing note of the workbench round). A second loss fails.
 */
export async function removeRowByKey(page: Page, viewTitle: string, rowText: string, key: string): Promise<void> {
  const pane = `.pane:has(.pane-header:has-text(${JSON.stringify(viewTitle)}))`;
  const row = page.locator(`${pane} .monaco-list-row`, { hasText: rowText }).first();
  for (let attempt = 1; ; attempt++) {
    await selectViewRow(page, viewTitle, rowText);
    await page.keyboard.press(key);
    try {
      await row.waitFor({ state: 'detached', timeout: 10_000 });
      return;
    } catch (error) {
      if (attempt === 2) throw error;
      console.log(`      ${key} on "${rowText}" did nothing within 10 s; pressed again`);
    }
  }
}

/**
 * Opens a workspace file from the Explorer. Not by Quick Open: its file search can be slow here, it may rank a temp
 * file (`state.json.cs-….tmp`) first, and text typed into a closing palette lands in the focused editor.
 */
export async function openFromExplorer(page: Page, folder: string, name: string): Promise<void> {
  const explorer = page.locator('.explorer-folders-view');
  const folderRow = explorer.getByRole('treeitem', { name: folder, exact: true });
  await folderRow.waitFor({ timeout: 60_000 });
  if ((await folderRow.getAttribute('aria-expanded')) !== 'true') await folderRow.click();
  await explorer.getByRole('treeitem', { name, exact: true }).click({ timeout: 30_000 });
  await page.locator('.tabs-container .tab.active', { hasText: name }).first().waitFor({ timeout: 30_000 });
}

/**
 * Waits until every tab of `name` carries the crash-safe badge: the crash-safe editor is shown and the plain one it
 * replaced is closed. A reopen still under way would take the focus from whatever the test opens next.
 */
export async function untilCrashSafeTab(page: Page, name: string): Promise<void> {
  await page.waitForFunction(
    `(() => {
      const tabs = [...document.querySelectorAll('.tabs-container .tab[data-resource-name="${name}"]')];
      const badged = (tab) => [...tab.querySelectorAll('.monaco-icon-label')]
        .some((label) => getComputedStyle(label, '::after').content === '"CS"');
      return tabs.length > 0 && tabs.every(badged);
    })()`,
    null,
    { timeout: 90_000 },
  );
}
