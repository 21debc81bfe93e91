// The glob setting (`crashSafeState.crashSafeSave.files`) in the workbench `npm start` serves, under SIGKILL: a JSON
// file it matches, opened from the Explorer, becomes a crash-safe editor by itself; then, round after round, a burst
// of saves is made and the extension host is killed with SIGKILL at a different moment of the burst each time. After
// every kill the file on disk must be one whole version: never empty, never torn, always JSON equal to the original
// or to one of the versions saved. Temps the killed writes leave are orphans of a dead writer that scan reports.
//
// The kill window: each version is ~4 MB (a save takes seconds here), and the kill is timed from the first change a
// write makes in the file's folder (fs.watch, inotify, in a worker thread), plus a delay that differs per round, so it
// lands inside the write itself in the early rounds and around the rename, or between two saves, in the later ones.
// Checked against a save that truncates, then writes (fs.promises.writeFile in place of the atomic write): a kill at
// the first change leaves the file empty. Timed from this thread, busy driving the page, it never did (0 of 5).
import * as assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import type { Page } from 'playwright-core';
import { runCliCaptured } from '../support/cliRun';
import {
  clearStartupToasts,
  closeWorkbench,
  openFromExplorer,
  openWorkbench,
  recordFailure,
  screenshots,
  TOAST,
  untilCrashSafeTab,
  type WorkbenchSession,
} from '../support/workbenchSession';

const EDITOR = '.part.editor .monaco-editor .view-lines >> visible=true';
/** Delay from the burst's first change on disk to the SIGKILL, one per round. */
const KILL_DELAYS_MS = [0, 0, 40, 250, 1_000, 2_500];
/** ~4 MB of lines; `n` alone on line 3, so a version is made by replacing one line (no quotes typed: no auto-close). */
const PAD = Array.from({ length: 4_000 }, (_, i) => JSON.stringify(String(i).padEnd(1_000, 'x'))).join(',\n');
const version = (n: number): string => `{\n"n":\n${n}\n,\n"pad": [\n${PAD}\n]\n}\n`;
const ORIGINAL_N = 0;
/** Worker code: SIGKILLs `pid` `delayMs` after the first change in `folder`, then says so. */
const KILLER = `
const { watch } = require('node:fs');
const { parentPort, workerData } = require('node:worker_threads');
const { folder, pid, delayMs } = workerData;
const kill = () => { process.kill(pid, 'SIGKILL'); parentPort.postMessage('killed'); };
const watcher = watch(folder, () => {
  watcher.close();
  if (delayMs === 0) kill();
  else setTimeout(kill, delayMs);
});
`;

interface Proc {
  pid: number;
  ppid: number;
  args: string;
}

/** Every process below `root` (Linux /proc), with its command line. */
function descendants(root: number): Proc[] {
  const all: Proc[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      all.push({ pid: Number(name), ppid, args: readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ') });
    } catch {
      // Gone while listed.
    }
  }
  const found: Proc[] = [];
  const walk = (parent: number) => {
    for (const proc of all) {
      if (proc.ppid !== parent) continue;
      found.push(proc);
      walk(proc.pid);
    }
  };
  walk(root);
  return found;
}

function extensionHostPid(serverPid: number): number | undefined {
  return descendants(serverPid).find((proc) => proc.args.includes('--type=extensionHost'))?.pid;
}

/** What the file holds: its version number, or why it is none. */
function judge(text: string, saved: ReadonlySet<number>): { n?: number; problem?: string } {
  if (text.length === 0) return { problem: 'EMPTY' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { problem: `TORN (${text.length} bytes, not JSON)` };
  }
  const n = (parsed as { n?: unknown }).n;
  if (typeof n !== 'number' || text !== version(n)) return { problem: `TORN (${text.length} bytes, not a version)` };
  if (n !== ORIGINAL_N && !saved.has(n)) return { problem: `n=${n}, never saved` };
  return { n };
}

suite('crash-safe save by glob in the workbench: SIGKILL of the extension host during a burst of saves', () => {
  let session: WorkbenchSession | undefined;
  let page: Page;
  let folder: string;
  let file: string;
  let before: Set<string>;
  const shot = screenshots('cs-kill-shots-', () => page, 300);

  suiteSetup(async function () {
    this.timeout(15 * 60_000);
    session = await openWorkbench({ tempPrefix: 'cs-kill-', viewport: { width: 1280, height: 720 } });
    page = session.page;
    folder = join(session.workspace, 'state');
    file = join(folder, 'state.json');
    writeFileSync(file, version(ORIGINAL_N));
    // The workspace setting, as a user adds it (the file is JSONC; its comments stay).
    const settings = join(session.workspace, '.vscode', 'settings.json');
    const text = readFileSync(settings, 'utf8');
    writeFileSync(
      settings,
      text.replace(/\n\}\s*$/, ',\n  "crashSafeState.crashSafeSave.files": ["**/state/*.json"]\n}\n'),
    );
    assert.notEqual(readFileSync(settings, 'utf8'), text, 'the setting was not added');
    before = new Set(readdirSync(folder));
    await clearStartupToasts(page);
  });

  suiteTeardown(async function () {
    this.timeout(30_000);
    await closeWorkbench(session);
  });

  teardown(async function () {
    if (this.currentTest?.state === 'failed' && page)
      await recordFailure(page, shot, this.currentTest.title, session?.server);
  });

  test('opened from the Explorer, the file becomes a crash-safe editor by itself', async function () {
    this.timeout(120_000);
    await openFromExplorer(page, 'state', 'state.json');
    // The reopen can take seconds on a loaded machine; the tab then carries the crash-safe badge.
    await untilCrashSafeTab(page, 'state.json');
    await shot('crash-safe-editor');
  });

  test('no kill leaves the file empty or torn; temps left by killed writes are orphans scan reports', async function () {
    this.timeout(25 * 60_000);
    const saved = new Set<number>();
    const killedPids: number[] = [];
    const rows: string[] = [];
    const held: (number | string)[] = [];
    for (const [round, killDelayMs] of KILL_DELAYS_MS.entries()) {
      const host = await waitForExtensionHost(session!, killedPids);
      // One save proves the save path is back after the restart (and settles a conflict a killed save left).
      const settle = (round + 1) * 1_000;
      await saveVersion(page, settle, saved, file);

      // The killer is a worker thread with an idle event loop of its own: it reacts to the first change within a
      // millisecond or so, while this thread is busy driving the page.
      let killedAt = 0;
      const killer = new Worker(KILLER, { eval: true, workerData: { folder, pid: host, delayMs: killDelayMs } });
      const killed = new Promise<void>((resolve) =>
        killer.once('message', () => {
          killedAt = Date.now();
          resolve();
        }),
      );
      await new Promise((resolve) => killer.once('online', resolve));
      const burst: number[] = [];
      try {
        for (let i = 1; i <= 30 && !killedAt; i++) {
          const n = settle + i;
          await setN(page, n);
          saved.add(n);
          burst.push(n);
          await page.keyboard.press('Control+S');
          await delay(400);
        }
        if (!killedAt) {
          // No change on disk during the whole burst: kill now, the last saves still pending.
          process.kill(host, 'SIGKILL');
          killedAt = Date.now();
        } else await killed;
      } finally {
        await killer.terminate();
      }
      killedPids.push(host);
      await delay(1_000);
      const text = readFileSync(file, 'utf8');
      const verdict = judge(text, saved);
      held.push(verdict.n ?? verdict.problem!);
      const leftover = readdirSync(folder).filter((name) => name !== 'state.json' && !before.has(name));
      rows.push(
        `round ${round + 1}: kill ${killDelayMs} ms after the first change on disk (host ${host}); burst ${burst[0]}…${burst.at(-1)} (${burst.length} saves); ` +
          `file holds ${verdict.n !== undefined ? `n=${verdict.n}` : verdict.problem}; new names beside it: ${leftover.length ? leftover.join(', ') : 'none'}`,
      );
      console.log(`      ${rows.at(-1)}`);
      await shot(`after-kill-${round + 1}`);
    }

    // Every name a killed write left beside the file: a crash-safe temp of state.json, written by a host that was
    // killed (its pid in the name), and listed by scan as an orphan.
    const leftover = readdirSync(folder).filter((name) => name !== 'state.json' && !before.has(name));
    const scan = await runCliCaptured(['scan', folder, '--json'], folder);
    const reported = (JSON.parse(scan.stdout) as { path: string; target: string; kind: string }[]).filter(
      (orphan) => orphan.target === file && orphan.kind === 'crash-safe',
    );
    console.log(
      `      ${KILL_DELAYS_MS.length} kills; versions saved: ${saved.size}; the file held: ${held.join(', ')}`,
    );
    console.log(`      temps left by the killed writes: ${leftover.length} (${leftover.join(', ') || 'none'})`);
    const problems = held.filter((entry) => typeof entry === 'string');
    assert.deepEqual(problems, [], `the file was not one whole version after a kill:\n${rows.join('\n')}`);
    for (const name of leftover) {
      const pid = /\.cs-(\d+)-\d+-\d+-[0-9a-f]{8}\.tmp$/.exec(name)?.[1];
      assert.ok(pid && killedPids.includes(Number(pid)), `${name} is not a temp of a killed extension host`);
      assert.ok(
        reported.some((orphan) => orphan.path === join(folder, name)),
        `${name} is not reported by scan: ${scan.stdout}`,
      );
    }
  });
});

/**
 * The live extension host, not one of those killed. code-server restarts a killed host by itself twice; after the
 * third crash in five minutes it offers "Restart Remote Extension Host" instead: then we press it (or reload).
 */
async function waitForExtensionHost(session: WorkbenchSession, killed: readonly number[]): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const pid = extensionHostPid(session.server.pid);
      if (pid !== undefined && !killed.includes(pid)) return pid;
      await delay(250);
    }
    if (attempt === 2) throw new Error('the extension host did not come back');
    const restart = session.page.locator(`${TOAST} .monaco-button`, { hasText: 'Restart Remote Extension Host' });
    if (attempt === 0 && (await restart.count())) await restart.first().click();
    else await session.page.reload({ timeout: 180_000 });
  }
}

/** Replaces the version number (line 3) in the focused crash-safe editor. */
async function setN(page: Page, n: number): Promise<void> {
  const dialog = page.locator('.monaco-dialog-box');
  if (await dialog.isVisible()) throw new Error(`a dialog is in the way: ${await dialog.textContent()}`);
  await page
    .locator(EDITOR)
    .first()
    .click({ position: { x: 5, y: 5 } });
  await page.keyboard.press('Control+Home');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Home');
  await page.keyboard.press('Shift+End');
  await page.keyboard.type(String(n));
}

/** Makes version `n` and saves it with Ctrl+S until the disk holds it (the restarted host may still be starting). */
async function saveVersion(page: Page, n: number, saved: Set<number>, file: string): Promise<void> {
  await setN(page, n);
  saved.add(n);
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    await page.keyboard.press('Control+S');
    const until = Date.now() + 15_000;
    while (Date.now() < until) {
      if (readFileSync(file, 'utf8') === version(n)) return;
      await delay(100);
    }
    // A save VS Code believes conflicts with the disk offers Overwrite: the disk holds an older version of ours.
    const overwrite = page.locator(`${TOAST} .monaco-button`, { hasText: 'Overwrite' });
    if (await overwrite.count()) await overwrite.first().click();
  }
  throw new Error(`version ${n} never reached the disk`);
}
