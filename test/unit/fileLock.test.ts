import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import {
  DocumentChangedError,
  LockLostError,
  LockTimeoutError,
  lockPathFor,
  resolveLockSettings,
  takeOverStaleLock,
  withFileLock,
} from '../../src/core/lock/fileLock';
import { LockedDocument } from '../../src/core/lock/lockedDocument';
import { LOCK_OWNER_FILE, type LockOwner, ownerRecordFor } from '../../src/core/lock/lockOwner';
import { setAge } from '../support/agedFiles';
import { deadPid, mostInsideAtOnce, plantLockFolder, waitForLine } from '../support/lockContenders';

const srcCore = join(__dirname, '..', '..', 'src', 'core');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Bundles a child script (TypeScript importing src) so it starts as fast as plain node. */
async function bundleChild(dir: string, name: string, source: string): Promise<string> {
  const entry = join(dir, `${name}.ts`);
  const outfile = join(dir, `${name}.cjs`);
  writeFileSync(entry, source);
  await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'error',
    mainFields: ['module', 'main'],
  });
  return outfile;
}

/**
 * Runs `run` while `module[name]` (a function of a Node module the code under test calls through its namespace) also
 * notes the path each call passes first; returns those paths.
 */
async function pathsPassedTo(module: object, name: string, run: () => Promise<unknown>): Promise<string[]> {
  const functions = module as Record<string, (...args: unknown[]) => unknown>;
  const original = functions[name]!;
  const paths: string[] = [];
  functions[name] = (path: unknown, ...rest: unknown[]) => {
    paths.push(String(path));
    return original(path, ...rest);
  };
  try {
    await run();
  } finally {
    functions[name] = original;
  }
  return paths;
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

  test('a lock that changes hands during the wait: the timeout names contention, not one process to end', async () => {
    // Under load (8 CLI writers) one waiter lost every turn for 30 s, and the message told the user to end the
    // last holder, which had held the lock for a moment. Here live holders (this process) hand it on by record.
    const lockPath = lockPathFor(target);
    mkdirSync(lockPath);
    const recordHolder = (token: string) => {
      const next = join(dir, 'next-owner.json');
      writeFileSync(next, JSON.stringify(ownerRecordFor(token)));
      renameSync(next, join(lockPath, LOCK_OWNER_FILE));
    };
    recordHolder('first-holder');
    const waiting = withFileLock(target, async () => 'never', { acquireTimeoutMs: 1500 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    await sleep(500);
    recordHolder('second-holder');
    const error = await waiting;
    rmSync(lockPath, { recursive: true });
    assert.ok(error instanceof LockTimeoutError, String(error));
    assert.doesNotMatch(error.message, /held it for the whole/);
    assert.match(error.message, /held in turn by at least 2 writers/);
    assert.match(error.message, new RegExp(`last pid ${process.pid} `));
    assert.equal(error.holder, undefined, 'no single holder is named as the one to end');
  });

  test('a lock that keeps changing hands past the timeout: the waiter keeps waiting while writers make progress, and gets it', async () => {
    // At load ~12, one of 8 CLI writers lost every turn for 30 s and failed although the lock never stuck.
    const lockPath = lockPathFor(target);
    mkdirSync(lockPath);
    const recordHolder = (token: string) => {
      const next = join(dir, 'next-owner.json');
      writeFileSync(next, JSON.stringify(ownerRecordFor(token)));
      renameSync(next, join(lockPath, LOCK_OWNER_FILE));
    };
    recordHolder('holder-0');
    const started = Date.now();
    const waiting = withFileLock(target, async () => 'got it', { acquireTimeoutMs: 800 });
    for (let turn = 1; turn <= 8; turn++) {
      await sleep(250);
      recordHolder(`holder-${turn}`);
    }
    rmSync(lockPath, { recursive: true }); // the last writer is done
    assert.equal(await waiting, 'got it');
    assert.ok(Date.now() - started >= 2000, 'it waited past acquireTimeoutMs while the lock changed hands');
  });

  test('a lock that keeps changing hands forever: the wait still ends, at 4 × the timeout', async () => {
    const lockPath = lockPathFor(target);
    mkdirSync(lockPath);
    let turn = 0;
    const recordHolder = () => {
      const next = join(dir, 'next-owner.json');
      writeFileSync(next, JSON.stringify(ownerRecordFor(`holder-${turn++}`)));
      renameSync(next, join(lockPath, LOCK_OWNER_FILE));
    };
    recordHolder();
    const rotating = setInterval(recordHolder, 100);
    const started = Date.now();
    const error = await withFileLock(target, async () => 'never', { acquireTimeoutMs: 400 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    clearInterval(rotating);
    rmSync(lockPath, { recursive: true });
    const waited = Date.now() - started;
    assert.ok(error instanceof LockTimeoutError, String(error));
    assert.match(error.message, /held in turn by at least \d+ writers/);
    assert.ok(waited >= 1600 && waited < 4000, `waited ${waited} ms`);
  });

  test('a lock held by one live process for the whole wait: the timeout names it', async () => {
    const lockPath = lockPathFor(target);
    mkdirSync(lockPath);
    writeFileSync(join(lockPath, LOCK_OWNER_FILE), JSON.stringify(ownerRecordFor('only-holder')));
    const error = await withFileLock(target, async () => 'never', { acquireTimeoutMs: 300 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    rmSync(lockPath, { recursive: true });
    assert.ok(error instanceof LockTimeoutError, String(error));
    assert.match(error.message, new RegExp(`pid ${process.pid} on host .* held it for the whole`));
    assert.match(error.holder ?? '', new RegExp(`pid ${process.pid} `));
  });

  test('takeover: a stale lock directory is removed', async () => {
    const lockPath = lockPathFor(target);
    mkdirSync(lockPath);
    setAge(lockPath, 60_000);
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
    setAge(lockPath, 60_000);
    const maxInside = await mostInsideAtOnce(target, 6, { staleMs: 2000 });
    assert.equal(maxInside, 1);
  });

  test('assertHeld notices that the lock directory was replaced; release leaves the new holder’s lock alone', async () => {
    await withFileLock(target, async (lock) => {
      await lock.assertHeld();
      rmSync(lock.lockPath, { recursive: true });
      await assert.rejects(lock.assertHeld(), LockLostError);
      mkdirSync(lock.lockPath);
      await assert.rejects(lock.assertHeld(), /taken over; it is now a lock folder without an owner record/);
    });
    assert.ok(existsSync(lockPathFor(target)), 'the other holder still has its lock');
  });

  test('release: a record rewritten in place (same size, another token) stays; a copy of ours elsewhere is judged by its token', async () => {
    const cases: [string, (lockPath: string) => void, boolean][] = [
      [
        'rewritten in place, same size, another token',
        (lockPath) => {
          const record = join(lockPath, LOCK_OWNER_FILE);
          const text = readFileSync(record, 'utf8');
          const token = (JSON.parse(text) as LockOwner).token;
          const forged = text.replace(
            token,
            token.replace(/./g, (c) => (c === 'a' ? 'b' : 'a')),
          );
          assert.equal(forged.length, text.length);
          writeFileSync(record, forged);
        },
        true,
      ],
      [
        'replaced by a copy (a sync tool re-creating it)',
        (lockPath) => {
          const record = join(lockPath, LOCK_OWNER_FILE);
          writeFileSync(`${record}.new`, readFileSync(record));
          renameSync(`${record}.new`, record);
        },
        false,
      ],
      [
        'the folder swapped for another holding a copy',
        (lockPath) => {
          const copy = readFileSync(join(lockPath, LOCK_OWNER_FILE));
          renameSync(lockPath, `${lockPath}.gone`);
          mkdirSync(lockPath);
          writeFileSync(join(lockPath, LOCK_OWNER_FILE), copy);
        },
        false,
      ],
    ];
    for (const [what, change, kept] of cases) {
      await withFileLock(target, async (lock) => change(lock.lockPath));
      assert.equal(existsSync(lockPathFor(target)), kept, `${what}: ${kept ? 'kept' : 'removed'}`);
      rmSync(lockPathFor(target), { recursive: true, force: true });
      rmSync(`${lockPathFor(target)}.gone`, { recursive: true, force: true });
    }
  });

  test('the mtime precision of a folder is probed once (a utimes, a journalled change), not on every lock', async () => {
    const other = join(dir, 'other');
    mkdirSync(other);
    const probed = await pathsPassedTo(require('node:fs'), 'utimes', async () => {
      for (let i = 0; i < 3; i++) await withFileLock(target, async () => undefined);
      for (let i = 0; i < 2; i++) await withFileLock(join(other, 'doc.json'), async () => undefined);
    });
    assert.deepEqual(probed, [lockPathFor(target), lockPathFor(join(dir, 'other', 'doc.json'))]);
  });

  test("proper-lockfile's stat of a new lock is answered from the look taken once the owner record was in it", async () => {
    // The first lock of a folder probes its mtime precision (utimes, then a stat that must be asked); later ones not.
    const asked = await pathsPassedTo(require('node:fs'), 'lstat', async () => {
      for (let i = 0; i < 3; i++) await withFileLock(target, async () => undefined);
    });
    assert.deepEqual(asked, [lockPathFor(target)]);
  });

  test('assertHeld on a lock as made: no listing of the folder, no read of the record; a rewritten record is read', async () => {
    await withFileLock(target, async (lock) => {
      const listed = await pathsPassedTo(require('node:fs/promises'), 'opendir', () => lock.assertHeld());
      assert.deepEqual(listed, [], 'the folder and record as made are confirmed by their identities');
      // Same size, another token: a record changed in place is judged by what it says.
      const record = join(lock.lockPath, LOCK_OWNER_FILE);
      const owner = JSON.parse(readFileSync(record, 'utf8')) as LockOwner;
      writeFileSync(record, JSON.stringify({ ...owner, token: owner.token.replace(/./g, '0') }));
      const relisted = await pathsPassedTo(require('node:fs/promises'), 'opendir', () =>
        assert.rejects(lock.assertHeld(), LockLostError),
      );
      assert.ok(relisted.length > 0);
    });
  });

  test('a holder keeps its lock through several refreshes, on the first lock of a folder and on later ones', async function () {
    this.timeout(20_000);
    for (let round = 0; round < 2; round++) {
      await withFileLock(
        target,
        async (lock) => {
          await sleep(2600); // Two refreshes, each comparing the lock's mtime with the one it took at acquisition.
          await lock.assertHeld();
        },
        { staleMs: 2000, updateMs: 1000 },
      );
      assert.equal(existsSync(lockPathFor(target)), false);
    }
  });

  test('a SIGKILLed holder on this host is taken over at once, without waiting for staleness', async function () {
    this.timeout(30_000);
    const staleMs = 10_000;
    const child = spawn(
      process.execPath,
      [
        await bundleChild(
          dir,
          'holder',
          `import { withFileLock } from ${JSON.stringify(join(srcCore, 'lock', 'fileLock.ts'))};
           withFileLock(process.argv[2]!, async () => {
             process.stdout.write('locked\\n');
             await new Promise(() => setInterval(() => undefined, 1000));
           }, { staleMs: ${staleMs}, updateMs: 1000 });`,
        ),
        target,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await waitForLine(child, 'locked');
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    const killedAt = Date.now();
    assert.ok(existsSync(lockPathFor(target)), 'SIGKILL leaves the lock directory behind');
    assert.equal(readOwner(lockPathFor(target)).pid, child.pid, 'the lock names its holder');
    assert.ok(statSync(lockPathFor(target)).mtimeMs > killedAt - staleMs / 2, 'the lock is far from stale');

    // A waiter that gives up long before the lock could go stale still gets it.
    const acquiredAt = await withFileLock(target, async () => Date.now(), { staleMs, acquireTimeoutMs: staleMs / 2 });
    const waited = acquiredAt - killedAt;
    assert.ok(waited < staleMs / 2, `acquired only after ${waited} ms (stale ${staleMs} ms)`);
    console.log(`      lock of a SIGKILLed holder taken over ${waited} ms after the kill (stale ${staleMs} ms)`);
  });

  /** Plants a lock directory holding `owner`, last refreshed `ageMs` ago. */
  function plantLock(owner: LockOwner | string | undefined, ageMs = 0): string {
    rmSync(lockPathFor(target), { recursive: true, force: true });
    return plantLockFolder(lockPathFor(target), owner, Date.now() - ageMs);
  }

  function readOwner(lockPath: string): LockOwner {
    return JSON.parse(readFileSync(join(lockPath, LOCK_OWNER_FILE), 'utf8'));
  }

  const quick = { staleMs: 2000, acquireTimeoutMs: 400 };

  test('the lock directory holds an owner record (pid, host, start time) while held, and nothing after', async () => {
    await withFileLock(target, async () => {
      const owner = readOwner(lockPathFor(target));
      assert.equal(owner.pid, process.pid);
      assert.equal(owner.hostname, ownerRecordFor('x').hostname);
      if (existsSync('/proc/self/stat')) assert.equal(typeof owner.startTicks, 'number');
    });
    assert.equal(existsSync(lockPathFor(target)), false);
  });

  test('a live holder on this host is never taken over, however stale its lock looks', async () => {
    const lockPath = plantLock(ownerRecordFor('live'), 60_000);
    const error = await withFileLock(target, async () => 'taken', quick).catch((e: unknown) => e);
    assert.ok(error instanceof LockTimeoutError, String(error));
    assert.equal(error.lockPath, lockPath);
    assert.match(error.message, new RegExp(`pid ${process.pid} on host`));
    assert.equal(readOwner(lockPath).token, 'live', 'the lock is untouched');
  });

  test('a young lock directory without an owner record (just made, record not yet written) counts as held', async () => {
    plantLock(undefined);
    await assert.rejects(
      withFileLock(target, async () => 'taken', quick),
      LockTimeoutError,
    );
    plantLock('{"pid": 12'); // A record cut short is no record.
    await assert.rejects(
      withFileLock(target, async () => 'taken', quick),
      LockTimeoutError,
    );
    plantLock('{"pid": 12', 60_000);
    assert.equal(await withFileLock(target, async () => 'taken', quick), 'taken', 'once stale it is taken over');
  });

  test('a record from another host falls back to time staleness; on this host the same dead pid is taken over at once', async () => {
    const pid = deadPid();
    const elsewhere: LockOwner = { ...ownerRecordFor('remote'), pid, hostname: 'elsewhere.example' };
    plantLock(elsewhere);
    const error = await withFileLock(target, async () => 'taken', quick).catch((e: unknown) => e);
    assert.ok(error instanceof LockTimeoutError, String(error));
    assert.match(error.message, /elsewhere\.example/);
    plantLock(elsewhere, 60_000);
    assert.equal(await withFileLock(target, async () => 'taken', quick), 'taken', 'a stale remote lock is taken over');

    plantLock({ ...ownerRecordFor('local'), pid });
    assert.equal(await withFileLock(target, async () => 'taken', quick), 'taken', 'a fresh lock of a dead local pid');
  });

  test('a reused pid (alive, but started at another time than recorded) counts as dead', async function () {
    if (!existsSync('/proc/self/stat')) this.skip();
    const self = ownerRecordFor('reused');
    assert.equal(typeof self.startTicks, 'number');
    plantLock({ ...self, startTicks: self.startTicks! + 4242 });
    assert.equal(await withFileLock(target, async () => 'taken', quick), 'taken');
    plantLock(self);
    await assert.rejects(
      withFileLock(target, async () => 'taken', quick),
      LockTimeoutError,
      'the real start time: alive',
    );
  });

  test('takeover of a dead holder’s lock has one winner among many contenders', async () => {
    plantLock({ ...ownerRecordFor('dead'), pid: deadPid() });
    const maxInside = await mostInsideAtOnce(target, 6, { staleMs: 2000, acquireTimeoutMs: 10_000 });
    assert.equal(maxInside, 1);
  });

  test('one taker at a time: while another live taker is inside, a takeover waits and leaves the lock as it is', async () => {
    const lockPath = plantLock({ ...ownerRecordFor('dead'), pid: deadPid() });
    const section = plantLockFolder(`${lockPath}.takeover`, ownerRecordFor('another taker'), Date.now());
    await assert.rejects(takeOverStaleLock(lockPath, 2000), (error: NodeJS.ErrnoException) => error.code === 'ELOCKED');
    assert.equal(readOwner(lockPath).token, 'dead', 'the abandoned lock is still there, untouched');
    assert.equal(readOwner(section).token, 'another taker');
  });

  test('a taker that died inside the takeover leaves nothing that blocks the next one', async () => {
    const lockPath = plantLock({ ...ownerRecordFor('dead'), pid: deadPid() });
    plantLockFolder(`${lockPath}.takeover`, { ...ownerRecordFor('dead taker'), pid: deadPid() }, Date.now());
    await assert.rejects(takeOverStaleLock(lockPath, 2000), (error: NodeJS.ErrnoException) => error.code === 'ELOCKED');
    assert.equal((await takeOverStaleLock(lockPath, 2000)).state, 'abandoned');
    assert.equal(existsSync(lockPath), false);
    assert.equal(existsSync(`${lockPath}.takeover`), false);
  });

  test('takeover of a dead holder’s lock, 25 rounds of 6 contenders: no live holder ever loses the lock', async function () {
    // Without one taker at a time, a late taker renamed away the lock an earlier one had just re-created (about 1
    // round in 40 lost it); each round's contenders check they still hold the lock before leaving.
    this.timeout(120_000);
    for (let round = 0; round < 25; round++) {
      plantLock({ ...ownerRecordFor('dead'), pid: deadPid() });
      assert.equal(
        await mostInsideAtOnce(target, 6, { staleMs: 2000, acquireTimeoutMs: 10_000 }),
        1,
        `round ${round + 1}`,
      );
    }
  });

  test('a lock proper-lockfile reports compromised fails assertHeld and is not left behind', async function () {
    this.timeout(10_000);
    await withFileLock(
      target,
      async (lock) => {
        setAge(lock.lockPath, 30_000); // Not the mtime it last set: the next refresh reports a compromise.
        await sleep(1600);
        await assert.rejects(lock.assertHeld(), LockLostError);
      },
      { staleMs: 2000, updateMs: 1000 },
    );
    assert.equal(existsSync(lockPathFor(target)), false, 'our own record does not block the next attempt');
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
    await assert.rejects(
      document.update((n) => n + 1),
      /unreadable/,
    );
    failLoad = false;
    assert.equal(await document.update((n) => n + 1), 2);
  });

  test('a save failure rejects every mutation it carried', async () => {
    const document = new LockedDocument<{ n: number }>({
      target,
      load: async () => ({ n: 0 }),
      save: async () => {
        throw Object.assign(new Error('ENOSPC: disk full'), { code: 'ENOSPC' });
      },
    });
    const outcomes = await Promise.allSettled([
      document.update((d) => {
        d.n += 1;
      }),
      document.update((d) => {
        d.n += 1;
      }),
    ]);
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
        rmSync(lockPathFor(target), { recursive: true });
        mkdirSync(lockPathFor(target));
        setTimeout(() => rmSync(lockPathFor(target), { recursive: true }), 100);
      }
      draft.n += 1;
      return draft.n;
    });
    assert.equal(calls, 2);
    assert.equal(result, 1);
    assert.deepEqual(saves, [1]);
    assert.equal(document.stats.batches, 2);
  });

  test('a save refused because the document changed on disk re-runs the batch on a fresh load', async () => {
    const saves: number[] = [];
    let refuse = true;
    const document = new LockedDocument<{ n: number }>({
      target,
      load: async () => ({ n: saves.length * 10 }),
      save: async (next, _previous, beforeCommit) => {
        await beforeCommit();
        if (refuse) {
          refuse = false;
          throw new DocumentChangedError(target);
        }
        saves.push(next.n);
      },
    });
    assert.equal(await document.update((d) => ++d.n), 1);
    assert.deepEqual(document.stats, { batches: 2, saves: 1 });
  });

  test('a document that keeps changing on disk fails the edit with an error naming the file; nothing is saved', async () => {
    const document = new LockedDocument<{ n: number }>({
      target,
      load: async () => ({ n: 0 }),
      save: async () => {
        throw new DocumentChangedError(target);
      },
    });
    await assert.rejects(
      document.update((d) => ++d.n),
      (e: unknown) => e instanceof DocumentChangedError && e.message.includes(target),
    );
    assert.deepEqual(document.stats, { batches: 3, saves: 0 });
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
