import * as assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  LockLostError,
  LockTimeoutError,
  LockUnjudgeableError,
  lockPathFor,
  withFileLock,
} from '../../src/core/lock/fileLock';
import { LOCK_OWNER_FILE, type LockOwner, ownerRecordFor } from '../../src/core/lock/lockOwner';
import { bundleChild } from '../support/bundleChild';
import { deadPid, plantLockFolder, spawnIdleProcess } from '../support/lockContenders';

const srcCore = join(__dirname, '..', '..', 'src', 'core');
const HOUR_MS = 3_600_000;
const quick = { staleMs: 2000, acquireTimeoutMs: 400 };
const hasProc = existsSync('/proc/self/stat');
const hasMkfifo = spawnSync('mkfifo', ['--version']).status === 0;

/** The start time field of /proc/<pid>/stat, as the owner record stores it. */
function startTicksOf(pid: number): number {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[19]);
}

function setMtime(path: string, atMs: number): void {
  const at = new Date(atMs);
  utimesSync(path, at, at);
}

/** The outcome of one attempt to take the lock: 'taken', or the error it failed with. */
async function attempt(target: string, settings: Partial<typeof quick> = quick): Promise<'taken' | Error> {
  return withFileLock(target, async () => 'taken' as const, settings).catch((error: Error) => error);
}

/** True when `text` holds a control character (one a terminal would act on). */
const hasControlCharacter = (text: string): boolean => [...text].some((char) => char.charCodeAt(0) < 0x20);

/** Every lock error must say what it found; "another process" only where one was identified. */
function assertNamesNoPhantom(error: Error): void {
  assert.doesNotMatch(error.message, /another process/, error.message);
}

suite('state: lock judgement (locks that cannot be judged by their age)', () => {
  let dir: string;
  let target: string;
  let lockPath: string;
  const children: ChildProcess[] = [];
  setup(() => {
    dir = mkdtempSync(join(tmpdir(), 'cs-lockjudge-'));
    target = join(dir, 'doc.json');
    lockPath = lockPathFor(target);
  });
  teardown(() => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  /** Plants a lock folder holding `owner` (a record, raw text, or nothing) with the given mtime. */
  function plantLock(owner: LockOwner | string | undefined, mtimeMs: number): void {
    plantLockFolder(lockPath, owner, mtimeMs);
  }

  /** The lock folder's identity and content, to show it was left exactly as it was. */
  function snapshotLock(): string {
    const stats = lstatSync(lockPath);
    const owner = join(lockPath, LOCK_OWNER_FILE);
    return JSON.stringify([stats.ino, stats.mtimeMs, existsSync(owner) ? readFileSync(owner, 'utf8') : null]);
  }

  test('an mtime an hour ahead with a dead owner record on this host: taken over at once', async () => {
    plantLock({ ...ownerRecordFor('dead'), pid: deadPid() }, Date.now() + HOUR_MS);
    const started = Date.now();
    assert.equal(await attempt(target, { staleMs: 10_000, acquireTimeoutMs: 5000 }), 'taken');
    const tookMs = Date.now() - started;
    assert.ok(tookMs < 1000, `took ${tookMs} ms`);
    console.log(`      future-dated lock of a dead holder taken over in ${tookMs} ms (stale 10 s)`);
    assert.equal(existsSync(lockPath), false);
  });

  test('an mtime an hour ahead with a live owner record (this process) is never taken', async () => {
    plantLock(ownerRecordFor('live'), Date.now() + HOUR_MS);
    const before = snapshotLock();
    const error = await attempt(target);
    assert.ok(error instanceof LockTimeoutError, String(error));
    assert.match(error.message, new RegExp(`pid ${process.pid} on host`));
    assert.equal(snapshotLock(), before, 'the lock is untouched');
  });

  test('an mtime an hour ahead with the record of a live child process is never taken', async function () {
    if (!hasProc) this.skip();
    const child = await spawnIdleProcess();
    children.push(child);
    const pid = child.pid!;
    plantLock({ ...ownerRecordFor('child'), pid, startTicks: startTicksOf(pid) }, Date.now() + HOUR_MS);
    const before = snapshotLock();
    const error = await attempt(target);
    assert.ok(error instanceof LockTimeoutError, String(error));
    assert.match(error.message, new RegExp(`pid ${pid} on host`));
    assert.equal(snapshotLock(), before);
  });

  test('the record of a live unrelated process with another start time (a reused pid) is taken over, even future-dated', async function () {
    if (!hasProc) this.skip();
    const child = await spawnIdleProcess();
    children.push(child);
    const pid = child.pid!;
    plantLock({ ...ownerRecordFor('reused'), pid, startTicks: startTicksOf(pid) - 100 }, Date.now() + HOUR_MS);
    assert.equal(await attempt(target), 'taken');
  });

  test('a lock folder without an owner record, an hour ahead: a precise error; the folder is kept', async () => {
    plantLock(undefined, Date.now() + HOUR_MS);
    const before = snapshotLock();
    const error = await attempt(target);
    assert.ok(error instanceof LockUnjudgeableError, String(error));
    assert.match(error.message, /a lock folder without an owner record/);
    assert.match(error.message, /60 min ahead of this machine's clock/);
    assert.ok(error.message.includes(`remove ${lockPath}`), error.message);
    assertNamesNoPhantom(error);
    assert.equal(snapshotLock(), before);
  });

  test('a record from another host, an hour ahead: neither age nor owner can be judged; a precise error', async () => {
    plantLock({ ...ownerRecordFor('remote'), hostname: 'build-7.example' }, Date.now() + HOUR_MS);
    const before = snapshotLock();
    const error = await attempt(target);
    assert.ok(error instanceof LockUnjudgeableError, String(error));
    assert.match(error.message, /pid \d+ on host build-7\.example, which cannot be checked from this host/);
    assert.match(error.message, /running on build-7\.example, remove/);
    assert.equal(snapshotLock(), before);
  });

  test('boundary: up to one stale period ahead is young (waited for), beyond it the age tells nothing', async () => {
    plantLock(undefined, Date.now() + quick.staleMs - 500);
    const young = await attempt(target);
    assert.ok(young instanceof LockTimeoutError, String(young));
    rmSync(lockPath, { recursive: true });
    plantLock(undefined, Date.now() + quick.staleMs + 1500);
    const ahead = await attempt(target);
    assert.ok(ahead instanceof LockUnjudgeableError, String(ahead));
  });

  test('a host name or link target read from disk is escaped in the message, never echoed raw', async () => {
    plantLock({ ...ownerRecordFor('remote'), hostname: 'evil\u001b[2J\nhost' }, Date.now() + HOUR_MS);
    const error = await attempt(target);
    assert.ok(error instanceof LockUnjudgeableError, String(error));
    assert.ok(error.message.includes('on host "evil\\u001b[2J\\nhost"'), error.message);
    assert.ok(!hasControlCharacter(error.message), error.message);
    rmSync(lockPath, { recursive: true });
    symlinkSync('gone\u001b[31m', lockPath);
    const linkError = await attempt(target);
    assert.ok(linkError instanceof LockUnjudgeableError, String(linkError));
    assert.ok(!hasControlCharacter(linkError.message), linkError.message);
  });

  test('a record whose pid no process can have (2^31) is no record: taken over once stale, not held forever', async () => {
    plantLock({ ...ownerRecordFor('forged'), pid: 2 ** 31 }, Date.now() - 60_000);
    assert.equal(await attempt(target), 'taken');
  });

  test('a young lock folder without a record: the timeout names the folder, not a process', async () => {
    plantLock(undefined, Date.now());
    const error = await attempt(target);
    assert.ok(error instanceof LockTimeoutError, String(error));
    assert.match(
      error.message,
      /no process holding it could be identified: it is a lock folder without an owner record/,
    );
    assertNamesNoPhantom(error);
  });

  test('a dangling symlink at the lock path: refused at once, naming where it points; the link stays', async () => {
    symlinkSync(join(dir, 'nowhere'), lockPath);
    const started = Date.now();
    const error = await attempt(target, { ...quick, acquireTimeoutMs: 5000 });
    assert.ok(error instanceof LockUnjudgeableError, String(error));
    assert.ok(Date.now() - started < 2500, 'no wait for something that is not a lock');
    assert.ok(error.message.includes(`a symbolic link to ${JSON.stringify(join(dir, 'nowhere'))}`), error.message);
    assert.match(error.message, /dangling/);
    assert.match(error.message, /remove the link .* itself/);
    assertNamesNoPhantom(error);
    assert.equal(readlinkSync(lockPath), join(dir, 'nowhere'));
  });

  test('a symlink to an old folder elsewhere holding a dead owner record: not followed, nothing there touched', async () => {
    const elsewhere = join(dir, 'elsewhere');
    mkdirSync(elsewhere);
    writeFileSync(join(elsewhere, LOCK_OWNER_FILE), JSON.stringify({ ...ownerRecordFor('dead'), pid: deadPid() }));
    setMtime(elsewhere, Date.now() - 60_000);
    symlinkSync(elsewhere, lockPath);
    const error = await attempt(target);
    assert.ok(error instanceof LockUnjudgeableError, String(error));
    assert.match(error.message, /a symbolic link to .*elsewhere", which leads to a folder/);
    assert.ok(lstatSync(lockPath).isSymbolicLink(), 'the link is kept');
    assert.ok(existsSync(join(elsewhere, LOCK_OWNER_FILE)), 'nothing behind the link was touched');
  });

  test('a regular file at the lock path: refused at once, naming it; the file stays', async () => {
    writeFileSync(lockPath, 'not a lock');
    const error = await attempt(target);
    assert.ok(error instanceof LockUnjudgeableError, String(error));
    assert.match(error.message, /it is a regular file \(10 bytes\)/);
    assertNamesNoPhantom(error);
    assert.equal(readFileSync(lockPath, 'utf8'), 'not a lock');
  });

  test('a FIFO at the lock path: refused, no hang', async function () {
    if (!hasMkfifo) this.skip();
    spawnSync('mkfifo', [lockPath]);
    const error = await attempt(target);
    assert.ok(error instanceof LockUnjudgeableError, String(error));
    assert.match(error.message, /a FIFO/);
  });

  test('an old lock folder that holds other files is not a lock: refused, and its files are kept', async () => {
    plantLock(undefined, Date.now() - 60_000);
    writeFileSync(join(lockPath, 'precious.txt'), 'user data');
    setMtime(lockPath, Date.now() - 60_000);
    const error = await attempt(target);
    assert.ok(error instanceof LockUnjudgeableError, String(error));
    assert.match(error.message, /a folder holding "precious\.txt", not a lock folder/);
    assert.equal(readFileSync(join(lockPath, 'precious.txt'), 'utf8'), 'user data');
  });

  test('owner.json that is a FIFO: judged without blocking, refused, kept', async function () {
    if (!hasMkfifo) this.skip();
    plantLock(undefined, Date.now() - 60_000);
    spawnSync('mkfifo', [join(lockPath, LOCK_OWNER_FILE)]);
    setMtime(lockPath, Date.now() - 60_000);
    const error = await attempt(target);
    assert.ok(error instanceof LockUnjudgeableError, String(error));
    assert.match(error.message, /whose owner\.json is a FIFO/);
    assert.ok(lstatSync(join(lockPath, LOCK_OWNER_FILE)).isFIFO());
  });

  test('owner.json that is a symlink to a dead record is not read through', async () => {
    const record = join(dir, 'record.json');
    writeFileSync(record, JSON.stringify({ ...ownerRecordFor('dead'), pid: deadPid() }));
    plantLock(undefined, Date.now());
    symlinkSync(record, join(lockPath, LOCK_OWNER_FILE));
    const error = await attempt(target);
    assert.ok(error instanceof LockUnjudgeableError, String(error));
    assert.match(error.message, /whose owner\.json is a symbolic link/);
    assert.ok(existsSync(record));
  });

  test('a huge owner.json (2 MiB) is refused by its size, not read', async () => {
    plantLock(`{"pid": 1, "pad": "${'x'.repeat(2 * 1024 * 1024)}"}`, Date.now());
    const error = await attempt(target);
    assert.ok(error instanceof LockUnjudgeableError, String(error));
    assert.match(error.message, /whose owner\.json is 2\.0 MiB long/);
  });

  test('a holder whose lock folder is swapped for a symlink to a copy of it has lost the lock', async () => {
    await withFileLock(target, async (lock) => {
      const copy = join(dir, 'copy.lock');
      cpSync(lock.lockPath, copy, { recursive: true });
      rmSync(lock.lockPath, { recursive: true });
      symlinkSync(copy, lock.lockPath);
      const error = await lock.assertHeld().catch((e: Error) => e);
      assert.ok(error instanceof LockLostError, String(error));
      assert.match(error.message, /it is now a symbolic link/);
      rmSync(lock.lockPath);
    });
  });

  test('a lock folder another user may not read: judged undecidable, named with its owner, never removed', async function () {
    if (process.getuid?.() !== 0) this.skip(); // Needs root to run the waiter as another user.
    this.timeout(30_000);
    chmodSync(dir, 0o777);
    plantLock(ownerRecordFor('root'), Date.now() - 60_000);
    chmodSync(lockPath, 0o700);
    setMtime(lockPath, Date.now() - 60_000);
    const entry = join(dir, 'waiter.ts');
    const script = join(dir, 'waiter.cjs');
    writeFileSync(
      entry,
      `import { withFileLock } from ${JSON.stringify(join(srcCore, 'lock', 'fileLock.ts'))};
       withFileLock(process.argv[2]!, async () => console.log('taken'), { staleMs: 2000, acquireTimeoutMs: 400 }).catch(
         (error: Error) => console.log(\`\${error.name}: \${error.message}\`),
       );`,
    );
    await bundleChild(entry, script);
    const run = spawnSync(process.execPath, [script, target], { uid: 65534, gid: 65534, encoding: 'utf8' });
    assert.match(
      run.stdout,
      /^LockUnjudgeableError: .*a lock folder this user may not read \(EACCES; it belongs to uid 0, mode 0700\)/,
    );
    assert.doesNotMatch(run.stdout, /another process/);
    assert.ok(existsSync(join(lockPath, LOCK_OWNER_FILE)), 'kept');
  });

  test('at exit, a holder whose owner.json became a FIFO does not hang', async function () {
    if (!hasMkfifo) this.skip();
    this.timeout(30_000);
    const script = join(dir, 'exiter.cjs');
    const entry = join(dir, 'exiter.ts');
    writeFileSync(
      entry,
      `import { spawnSync } from 'node:child_process';
       import { rmSync } from 'node:fs';
       import { join } from 'node:path';
       import { withFileLock } from ${JSON.stringify(join(srcCore, 'lock', 'fileLock.ts'))};
       withFileLock(process.argv[2]!, async (lock) => {
         const owner = join(lock.lockPath, 'owner.json');
         rmSync(owner);
         spawnSync('mkfifo', [owner]);
         process.exit(0);
       });`,
    );
    await bundleChild(entry, script);
    const child = spawn(process.execPath, [script, target], { stdio: 'ignore' });
    children.push(child);
    const exited = await Promise.race([
      new Promise<boolean>((resolve) => child.once('exit', () => resolve(true))),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 10_000)),
    ]);
    assert.ok(exited, 'the exit handler blocked on the FIFO');
    assert.ok(statSync(lockPath).isDirectory(), 'a lock folder that is not ours to remove stays');
  });
});
