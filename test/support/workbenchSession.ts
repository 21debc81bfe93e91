// The set-up the workbench suites share: the host (installed when missing), a fresh demo workspace, code-server with
// the extension from its .vsix (as `npm start` serves it), and headless Chromium on its URL. One close undoes it all.
import { mkdtempSync, rmSync } from 'node:fs';
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
    await partial.page.goto(workbench.url, { timeout: 120_000 }); // a loaded machine can take longer than 30 s
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
