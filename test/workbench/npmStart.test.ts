// The workbench `npm start` serves, as a user sees it: code-server with the extension installed from its .vsix and
// no test tooling (no smoke-test driver, which hides every notification toast). Headless Chromium checks that the
// startup Recover offer really pops up as a toast, that Recover works through the real copy picker, what the
// folder opens on, and that the server does not outlive a SIGKILLed `npm start`. Screenshots go to a temp folder.
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Page } from 'playwright-core';
import { closeWorkbench, openWorkbench, screenshots, TOAST, type WorkbenchSession } from '../support/workbenchSession';

type CodeServer = import('../../scripts/host/codeServer.mjs', { with: { 'resolution-mode': 'import' }}).CodeServer;

const root = join(__dirname, '..', '..');
const STARTUP_TEXT = 'data/todo.json has no valid content, but a valid temp file of it exists.';

suite('workbench as npm start serves it (vsix installed, no test tooling)', () => {
  let session: WorkbenchSession | undefined;
  let server: CodeServer | undefined;
  let page: Page;
  let workspace: string;
  const shot = screenshots('cs-workbench-shots-', () => page, 700); // 700 ms: let a toast finish fading in

  suiteSetup(async function () {
    // A missing host is installed here (a fresh machine); if that fails the tier fails, it is never skipped.
    this.timeout(15 * 60_000);
    const serverOutput: string[] = [];
    session = await openWorkbench({
      tempPrefix: 'cs-workbench-',
      viewport: { width: 1280, height: 720 },
      onOutput: (chunk) => serverOutput.push(...String(chunk).split('\n').filter(Boolean)),
    });
    ({ server, page, workspace } = session);
    const started = session.startedAt;
    console.log(
      `      .vsix packaged in ${session.timings.packageMs} ms, installed and server healthy in ${session.timings.serverMs} ms`,
    );
    try {
      await page.locator(TOAST, { hasText: STARTUP_TEXT }).first().waitFor({ state: 'visible', timeout: 60_000 });
    } catch (error) {
      await shot('no-startup-toast');
      console.log(`      code-server's last output:\n${serverOutput.slice(-40).join('\n')}`);
      throw error;
    }
    console.log(`      startup toast visible ${Date.now() - started} ms after packaging began`);
  });

  suiteTeardown(async function () {
    this.timeout(30_000);
    await closeWorkbench(session);
  });

  test('the server runs without the smoke-test driver and with the extension installed, not in development', () => {
    assert.ok(server);
    assert.ok(!server.args.includes('enable-smoke-test-driver'), server.args.join(' '));
    assert.ok(!server.args.includes('--vscode-option'), server.args.join(' '));
    assert.ok(!page.url().includes('payload'), page.url());
    const installed = JSON.parse(readFileSync(join(server.dirs.extensions, 'extensions.json'), 'utf8'));
    assert.deepEqual(
      installed.map((entry: { identifier: { id: string }; metadata?: { source?: string } }) => [
        entry.identifier.id,
        entry.metadata?.source,
      ]),
      [['crash-safe-state.crash-safe-state', 'vsix']],
    );
  });

  test('the startup Recover offer pops up as a real notification toast', async () => {
    const toast = page.locator(TOAST, { hasText: STARTUP_TEXT });
    assert.equal(await toast.count(), 1);
    assert.ok(await toast.isVisible());
    assert.match((await toast.textContent()) ?? '', /Source: Crash-Safe State/);
    assert.ok(await toast.getByRole('button', { name: 'Recover' }).isVisible());
    assert.ok(await toast.getByRole('button', { name: 'Show' }).isVisible());
    await shot('startup-toast');
  });

  test('the folder opens on its README, with no welcome page and no Chat side bar', async () => {
    // The startup toast can come before the editor area has restored its first tab (seen at load 10).
    await page
      .locator('.tabs-container .tab', { hasText: 'README.md' })
      .first()
      .waitFor({ state: 'visible', timeout: 30_000 })
      .catch(() => undefined);
    const tabs = await page.locator('.tabs-container .tab').allInnerTexts();
    assert.ok(
      tabs.some((tab) => tab.includes('README.md')),
      `tabs: ${tabs.join(' | ')}`,
    );
    assert.ok(!tabs.some((tab) => /welcome/i.test(tab)), `tabs: ${tabs.join(' | ')}`);
    assert.equal(await page.locator('.part.auxiliarybar').isVisible(), false, 'the secondary side bar (Chat) is open');
  });

  test('Recover on the toast offers both valid copies, newest first, with a live diff; Enter recovers, and the toast offers the backup', async function () {
    this.timeout(60_000);
    const target = join(workspace, 'data', 'todo.json');
    await page.locator(TOAST, { hasText: STARTUP_TEXT }).getByRole('button', { name: 'Recover' }).click();
    // data/todo.json has two valid temps: a picker, not a question about one of them.
    const picker = page.locator('.quick-input-widget');
    await picker.waitFor({ state: 'visible', timeout: 20_000 });
    assert.match((await picker.textContent()) ?? '', /Recover data\/todo\.json from which copy\?/);
    const rows = picker.locator('.monaco-list-row');
    await rows.nth(1).waitFor({ state: 'visible', timeout: 10_000 });
    const texts = await rows.allInnerTexts();
    assert.equal(texts.length, 2, texts.join(' | '));
    assert.match(texts[0]!, /\.todo\.json\.tmp[\s\S]*steno \/ lowdb · 1 h old · \d+ bytes/);
    assert.match(texts[1]!, /todo\.json\.tmp-1763731200a1b2c3[\s\S]*atomically · 1 h old · \d+ bytes/);
    // The highlighted copy's diff is open behind the picker.
    const diffTab = page.locator('.tabs-container .tab', { hasText: 'todo.json ↔ .todo.json.tmp' });
    await diffTab.waitFor({ state: 'visible', timeout: 10_000 });
    await shot('recover-picker');
    await page.keyboard.press('Enter');
    const done = page.locator(TOAST, { hasText: 'Recovered data/todo.json from .todo.json.tmp' });
    await done.waitFor({ state: 'visible', timeout: 20_000 });
    assert.match((await done.textContent()) ?? '', /Backup: /);
    for (const name of ['Open Backup', 'Compare with Backup']) {
      assert.ok(await done.getByRole('button', { name }).isVisible(), name);
    }
    await shot('recovered-toast');
    assert.doesNotThrow(() => JSON.parse(readFileSync(target, 'utf8')), 'data/todo.json is valid JSON after Recover');
    assert.equal(existsSync(join(workspace, 'data', '.todo.json.tmp')), false, 'the copy used is consumed');
  });

  test('a server started by a process that is then SIGKILLed stops by itself and removes its profile', async function () {
    this.timeout(60_000);
    const codeServerUrl = new URL(`file://${join(root, 'scripts/host/codeServer.mjs')}`).href;
    const driver = `const { startCodeServer } = await import(${JSON.stringify(codeServerUrl)});
const server = await startCodeServer();
console.log(JSON.stringify({ pid: server.pid, profile: server.dirs.profileDir }));
setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', driver], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    const started: { pid: number; profile: string } = await new Promise((resolveStarted, reject) => {
      child.stdout.on('data', (chunk) => {
        out += chunk;
        if (out.includes('\n')) resolveStarted(JSON.parse(out));
      });
      child.on('exit', (code) => reject(new Error(`the driver exited (${code}) before the server was ready`)));
    });
    const groupAlive = () => {
      try {
        process.kill(-started.pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    assert.ok(groupAlive());
    child.kill('SIGKILL');
    const killedAt = Date.now();
    while (Date.now() - killedAt < 20_000 && (groupAlive() || existsSync(started.profile))) await delay(200);
    console.log(`      server group gone and profile removed ${Date.now() - killedAt} ms after the SIGKILL`);
    if (groupAlive()) process.kill(-started.pid, 'SIGKILL');
    assert.equal(groupAlive(), false, 'the server outlived its parent');
    assert.equal(existsSync(started.profile), false, 'the profile was left behind');
  });
});
