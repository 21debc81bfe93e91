import * as assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import {
  LockedDocument,
  LockLostError,
  LockTimeoutError,
  lockPathFor,
  resolveLockSettings,
  takeOverStaleLock,
  withFileLock,
} from '../../src/core/lockedUpdate';

const srcCore = join(__dirname, '..', '..', 'src', 'core');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Bundles a child script (TypeScript importing src) so it starts as fast as plain node. */
async function bundleChild(dir: string, name: string, source: string): Promise<string> {
  const entry = join(dir, `${name}.ts`);
  const outfile = join(dir, `${name}.cjs`);
  writeFileSync(entry, source);
  await esbuild.build({ entryPoints: [entry], outfile, bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'error', mainFields: ['module', 'main'] });
  return outfile;
}

/** Resolves with the first stdout line that contains `marker`. */
function waitForLine(child: ChildProcess, marker: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const line = buffered.split('\n').find((l) => l.includes(marker));
      if (line) resolve(line);
    });
    child.once('exit', (code, signal) => reject(new Error(`child exited (${code ?? signal}) before "${marker}"`)));
  });
}

suite('state: cross-process lock (proper-lockfile + takeover)', () => {
  let dir: string;
  let target: string;
  setup(() => {
    dir = mkdtempSync(join(tmpdir(), 'cs-lock-'));
    target = join(dir, 'doc.json');
  });
  teardown(() => rmSync(dir, { recursive: true, force: true }));

  test('settings are clamped as proper-lockfile clamps them', () => {
    const resolved = resolveLockSettings({ staleMs: 500, updateMs: 50 });
    assert.equal(resolved.staleMs, 2000);
    assert.equal(resolved.updateMs, 1000);
    const defaults = resolveLockSettings();
    assert.ok(defaults.acquireTimeoutMs > defaults.staleMs, 'a waiter outlasts a stale lock');
  });

  test('overlapping holders in one process run one at a time; the lock is gone afterwards', async () => {
    let inside = 0;
    let maxInside = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        withFileLock(target, async () => {
          inside += 1;
          maxInside = Math.max(maxInside, inside);
          assert.ok(existsSync(lockPathFor(target)));
          await sleep(10);
          order.push(i);
          inside -= 1;
        }),
      ),
    );
    assert.equal(maxInside, 1);
    assert.equal(order.length, 8);
    assert.equal(existsSync(lockPathFor(target)), false);
  });

  test('the lock is released when the action throws', async () => {
    await assert.rejects(
      withFileLock(target, async () => {
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(existsSync(lockPathFor(target)), false);
  });

  test('a waiter gives up with LockTimeoutError while a live holder keeps the lock', async () => {
    let releaseHolder!: () => void;
    const holding = new Promise<void>((r) => {
      releaseHolder = r;
    });
    let entered!: () => void;
    const inside = new Promise<void>((r) => {
      entered = r;
    });
    const holder = withFileLock(target, async () => {
      entered();
      await holding;
    });
    await inside;
    const started = Date.now();
    const error = await withFileLock(target, async () => 'never', { acquireTimeoutMs: 300 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    releaseHolder();
    await holder;
    assert.ok(error instanceof LockTimeoutError, String(error));
    assert.equal(error.lockPath, lockPathFor(target));
    assert.ok(Date.now() - started >= 300);
    assert.match(error.message, /doc\.json\.lock/);
  });

  test('takeover: a stale lock directory is removed', async () => {
    const lockPath = lockPathFor(target);
    mkdirSync(lockPath);
    const old = new Date(Date.now() - 60_000);
    utimesSync(lockPath, old, old);
    await takeOverStaleLock(lockPath, 2000);
    assert.equal(existsSync(lockPath), false);
  });

  test('takeover: a lock re-created by a contender after the stale check is handed back, same directory', async () => {
    const lockPath = lockPathFor(target);
    mkdirSync(lockPath);
    const inode = statSync(lockPath).ino;
    await assert.rejects(takeOverStaleLock(lockPath, 2000), (e: NodeJS.ErrnoException) => e.code === 'ELOCKED');
    assert.equal(statSync(lockPath).ino, inode, 'the fresh lock is back in place, untouched');
  });

  test('takeover: a lock already gone is fine', async () => {
    await takeOverStaleLock(lockPathFor(target), 2000);
  });

  test('many contenders on one stale lock: exactly one holds it at a time', async () => {
    const lockPath = lockPathFor(target);
    mkdirSync(lockPath);
    const old = new Date(Date.now() - 60_000);
    utimesSync(lockPath, old, old);
    let inside = 0;
    let maxInside = 0;
    await Promise.all(
      Array.from({ length: 6 }, () =>
        withFileLock(
          target,
          async (lock) => {
            inside += 1;
            maxInside = Math.max(maxInside, inside);
            await sleep(15);
            await lock.assertHeld();
            inside -= 1;
          },
          { staleMs: 2000 },
        ),
      ),
    );
    assert.equal(maxInside, 1);
  });

  test('assertHeld notices that the lock directory was replaced; release leaves the new holder’s lock alone', async () => {
    await withFileLock(target, async (lock) => {
      await lock.assertHeld();
      rmdirSync(lock.lockPath);
      await assert.rejects(lock.assertHeld(), LockLostError);
      mkdirSync(lock.lockPath);
      await assert.rejects(lock.assertHeld(), /took the lock over/);
    });
    assert.ok(existsSync(lockPathFor(target)), 'the other holder still has its lock');
  });

  test('a stale lock left by a SIGKILLed holder is recovered within the stale timeout', async function () {
    this.timeout(20_000);
    const staleMs = 2000;
    const updateMs = 1000;
    const child = spawn(
      process.execPath,
      [
        await bundleChild(
          dir,
          'holder',
          `import { withFileLock } from ${JSON.stringify(join(srcCore, 'lockedUpdate.ts'))};
           withFileLock(process.argv[2]!, async () => {
             process.stdout.write('locked\\n');
             await new Promise(() => setInterval(() => undefined, 1000));
           }, { staleMs: ${staleMs}, updateMs: ${updateMs} });`,
        ),
        target,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await waitForLine(child, 'locked');
    await sleep(1500); // Let the holder refresh the lock at least once, as a live holder does.
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    const killedAt = Date.now();
    assert.ok(existsSync(lockPathFor(target)), 'SIGKILL leaves the lock directory behind');
    const lastRefresh = statSync(lockPathFor(target)).mtimeMs;

    const acquiredAt = await withFileLock(target, async () => Date.now(), { staleMs, updateMs });
    const waited = acquiredAt - killedAt;
    // Not before the dead holder's lock went stale: its last refresh + staleMs (less a second where mtimes are whole seconds)…
    const precisionSlack = lastRefresh % 1000 === 0 ? 1000 : 50;
    assert.ok(
      acquiredAt >= lastRefresh + staleMs - precisionSlack,
      `acquired ${acquiredAt - lastRefresh} ms after the last refresh`,
    );
    // …and within the stale timeout of the kill (the holder refreshed at most updateMs before it), plus polling slack.
    assert.ok(waited <= staleMs + 1000, `acquired only after ${waited} ms (stale timeout ${staleMs} ms)`);
    console.log(`      stale lock of a SIGKILLed holder recovered ${waited} ms after the kill (stale ${staleMs} ms)`);
  });
});

suite('state: LockedDocument (batched read-modify-write)', () => {
  let dir: string;
  let target: string;
  setup(() => {
    dir = mkdtempSync(join(tmpdir(), 'cs-lockdoc-'));
    target = join(dir, 'counter.json');
  });
  teardown(() => rmSync(dir, { recursive: true, force: true }));

  function counterDocument(saves: number[]) {
    return new LockedDocument<{ n: number; log: string[] }>({
      target,
      load: async () => {
        try {
          return JSON.parse(await readFile(target, 'utf8'));
        } catch {
          return { n: 0, log: [] };
        }
      },
      save: async (next) => {
        saves.push(next.n);
        await writeFile(target, JSON.stringify(next));
      },
    });
  }

  test('updates queued together share one lock batch and one save; each resolves with its own result', async () => {
    const saves: number[] = [];
    const document = counterDocument(saves);
    const results = await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        document.update((draft) => {
          draft.n += 1;
          draft.log.push(`edit ${i}`);
          return draft.n;
        }),
      ),
    );
    assert.deepEqual(
      results,
      Array.from({ length: 25 }, (_, i) => i + 1),
    );
    assert.deepEqual(saves, [25]);
    assert.deepEqual(document.stats, { batches: 1, saves: 1 });
  });

  test('a throwing mutation rejects alone and leaves no trace; the rest are saved', async () => {
    const saves: number[] = [];
    const document = counterDocument(saves);
    const outcomes = await Promise.allSettled([
      document.update((d) => {
        d.n += 1;
      }),
      document.update((d) => {
        d.n += 100; // must not survive
        throw new Error('bad edit');
      }),
      document.update((d) => {
        d.n += 1;
      }),
    ]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.equal(JSON.parse(await readFile(target, 'utf8')).n, 2);
  });

  test('an update that changes nothing does not save', async () => {
    const saves: number[] = [];
    const document = counterDocument(saves);
    assert.equal(await document.update((d) => d.n), 0);
    assert.deepEqual(saves, []);
  });

  test('a load failure rejects its batch; later updates still run', async () => {
    let failLoad = true;
    const document = new LockedDocument<number>({
      target,
      load: async () => {
        if (failLoad) throw new Error('unreadable');
        return 1;
      },
      save: async () => undefined,
    });
    await assert.rejects(document.update((n) => n + 1), /unreadable/);
    failLoad = false;
    assert.equal(
      await document.update((n) => n + 1),
      2,
    );
  });

  test('a save failure rejects every mutation it carried', async () => {
    const document = new LockedDocument<{ n: number }>({
      target,
      load: async () => ({ n: 0 }),
      save: async () => {
        throw Object.assign(new Error('ENOSPC: disk full'), { code: 'ENOSPC' });
      },
    });
    const outcomes = await Promise.allSettled([document.update((d) => {
        d.n += 1;
      }), document.update((d) => {
        d.n += 1;
      })]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['rejected', 'rejected'],
    );
    assert.equal(document.stats.saves, 0);
  });

  test('when the lock is lost before saving, the batch is re-run under a fresh lock and saved once', async () => {
    const saves: number[] = [];
    const document = counterDocument(saves);
    let calls = 0;
    const result = await document.update((draft) => {
      calls += 1;
      if (calls === 1) {
        // Simulate a takeover: another holder replaced our lock directory, and releases it a little later.
        rmdirSync(lockPathFor(target));
        mkdirSync(lockPathFor(target));
        setTimeout(() => rmdirSync(lockPathFor(target)), 100);
      }
      draft.n += 1;
      return draft.n;
    });
    assert.equal(calls, 2);
    assert.equal(result, 1);
    assert.deepEqual(saves, [1]);
    assert.equal(document.stats.batches, 2);
  });

  test('flush waits for queued updates', async () => {
    const saves: number[] = [];
    const document = counterDocument(saves);
    void document.update((d) => {
        d.n += 1;
      });
    void document.update((d) => {
        d.n += 1;
      });
    await document.flush();
    assert.equal(JSON.parse(await readFile(target, 'utf8')).n, 2);
  });
});
