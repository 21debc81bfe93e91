// Windows promises proven by emulation (see docs/platforms.md): WindowsLikeFs models NTFS through Node, and
// asPlatform('win32') makes the core take its Windows code paths. Nothing here runs on Windows itself.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { type FsLike, nodeFs } from '../../src/core/fs';
import { commitGroup, GroupCommitError } from '../../src/core/groups/groupCommit';
import { holderIsAlive, type LivenessProbes, type LockOwner } from '../../src/core/lock/lockOwner';
import { recogniseGroupFile } from '../../src/core/names/tempPatterns';
import { scanOrphans, sweepOrphans } from '../../src/core/orphans/orphans';
import { recoverTarget } from '../../src/core/orphans/recovery';
import { AtomicWriteError, writeFileAtomic } from '../../src/core/write/atomicWrite';
import { SettingsSnapshots } from '../../src/state/snapshots';
import { addTodoEdit } from '../../src/state/todoEdits';
import { TodosStore } from '../../src/state/todosStore';
import { writeAgedFile } from '../support/agedFiles';
import { errnoError } from '../support/faultyFs';
import { asPlatform, WindowsLikeFs } from '../support/windowsLikeFs';

const OLD = '{"version":1}\n';
const NEW = '{"version":2}\n';
const FAST_RETRY = { renameRetryDelaysMs: [1, 1, 1] };
const HOUR = 3_600_000;

const temps = (dir: string) => readdirSync(dir).filter((name) => name.includes('.cs-') && name.endsWith('.tmp'));

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => assert.fail('expected a rejection'),
    (error: unknown) => error,
  );
}

suite('Windows (emulated): NTFS through Node', () => {
  let dir: string;
  let fs: WindowsLikeFs;
  const file = (name: string, content: string, ageMs = 0) => writeAgedFile(join(dir, name), content, ageMs);

  setup(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'cs-win-')));
    fs = new WindowsLikeFs(dir);
  });
  teardown(() => rmSync(dir, { recursive: true, force: true }));

  suite('the seam behaves as NTFS does', () => {
    test('a rename over a file held without share-delete fails with EPERM, an unlink with EBUSY; share-delete allows both', async () => {
      const target = file('Data.JSON', OLD);
      const other = file('other.json', NEW);
      const hold = fs.holdOpen(target);
      await assert.rejects(fs.rename(other, join(dir, 'data.json')), { code: 'EPERM' });
      await assert.rejects(fs.unlink(join(dir, 'DATA.json')), { code: 'EBUSY' });
      assert.equal(hold.refusals, 2);
      hold.release();
      fs.holdOpen(target, { shareDelete: true });
      await fs.rename(other, join(dir, 'data.json'));
      assert.deepEqual(readdirSync(dir), ['Data.JSON'], 'one entry, still spelled as it was created');
      assert.equal(readFileSync(target, 'utf8'), NEW);
    });

    test('names that differ only in case are one entry; reserved names and trailing dots or spaces are refused', async () => {
      file('Data.JSON', OLD);
      assert.equal((await fs.readFile(join(dir, 'data.json'))).toString(), OLD);
      await assert.rejects(fs.open(join(dir, 'DATA.json'), 'wx'), { code: 'EEXIST' });
      for (const name of ['nul.json', 'CON', 'com1.txt', 'Lpt9.log', 'data.json.', 'data.json ']) {
        await assert.rejects(fs.open(join(dir, name), 'wx'), { code: 'EINVAL' }, name);
        await assert.rejects(fs.stat(join(dir, name)), { code: 'ENOENT' }, name);
      }
      assert.equal(await fs.realpath(join(dir, 'data.json')), join(dir, 'Data.JSON'));
    });

    test('a folder cannot be flushed (EPERM), as FlushFileBuffers refuses a folder handle', async () => {
      await assert.rejects(fs.fsyncDir(dir), { code: 'EPERM' });
    });
  });

  suite('the write path', () => {
    test('a target held open without share-delete: retried, then a clear error; the target is byte-identical, no temp left', async () => {
      for (const renameErrorCode of ['EPERM', 'EACCES', 'EBUSY'] as const) {
        const held = new WindowsLikeFs(dir, { renameErrorCode });
        const target = file('state.json', OLD);
        const hold = held.holdOpen(target);
        const error = await rejection(
          asPlatform('win32', () => writeFileAtomic(target, NEW, { fs: held, ...FAST_RETRY })),
        );
        assert.ok(error instanceof AtomicWriteError, String(error));
        assert.equal(error.step, 'rename');
        assert.equal(error.code, renameErrorCode);
        assert.equal(hold.refusals, 4, 'one try and three retries');
        assert.match(error.message, /tried 4 times over \d+ ms: another program may hold .*state\.json open/);
        assert.match(error.message, /state\.json is unchanged$/);
        assert.equal(readFileSync(target, 'utf8'), OLD);
        assert.deepEqual(temps(dir), []);
        hold.release();
      }
    });

    test('the default backoff outlasts a virus scanner that lets go after a few tries', async () => {
      const target = file('state.json', OLD);
      const hold = fs.holdOpen(target, { releaseAfterRefusals: 3 });
      await asPlatform('win32', () => writeFileAtomic(target, NEW, { fs }));
      assert.equal(hold.refusals, 3);
      assert.equal(readFileSync(target, 'utf8'), NEW);
      assert.deepEqual(temps(dir), []);
    });

    test('on win32 no folder is flushed, so a durable write succeeds where a folder fsync would fail with EPERM', async () => {
      const target = join(dir, 'new', 'state.json');
      await asPlatform('win32', () => writeFileAtomic(target, NEW, { fs, createParents: true }));
      assert.equal(readFileSync(target, 'utf8'), NEW);
      assert.deepEqual(
        fs.calls.filter((call) => call.startsWith('fsyncDir')),
        [],
      );
    });

    test('writing `data.json` replaces the `Data.JSON` on a case-insensitive volume: one entry, its spelling kept', async () => {
      file('Data.JSON', OLD);
      await asPlatform('win32', () => writeFileAtomic(join(dir, 'data.json'), NEW, { fs }));
      assert.deepEqual(readdirSync(dir), ['Data.JSON']);
      assert.equal(readFileSync(join(dir, 'Data.JSON'), 'utf8'), NEW);
    });
  });

  suite('group commits: each rename retried as the write path retries its own', () => {
    const NAMES = ['a.json', 'b.json', 'c.json'];
    const group = () => NAMES.map((name) => ({ path: join(dir, name), data: NEW }));

    test('the second target held for a moment (a virus scanner): all three files new, nothing left behind', async () => {
      for (const name of NAMES) file(name, OLD);
      const hold = fs.holdOpen(join(dir, 'b.json'), { releaseAfterRefusals: 2 });
      await asPlatform('win32', () => commitGroup(group(), { fs, ...FAST_RETRY }));
      assert.equal(hold.refusals, 2);
      for (const name of NAMES) assert.equal(readFileSync(join(dir, name), 'utf8'), NEW, name);
      assert.deepEqual(readdirSync(dir).sort(), NAMES);
    });

    test('held beyond the retries: every file as it was, the error names the file and EPERM, nothing left behind', async () => {
      for (const name of NAMES) file(name, OLD);
      const hold = fs.holdOpen(join(dir, 'b.json'));
      const error = await rejection(asPlatform('win32', () => commitGroup(group(), { fs, ...FAST_RETRY })));
      assert.ok(error instanceof GroupCommitError, String(error));
      assert.equal(error.outcome, 'rolled-back', error.message);
      assert.equal(error.code, 'EPERM');
      assert.match(error.message, /Cannot replace .*b\.json: rename failed with EPERM/);
      assert.match(error.message, /tried 4 times over \d+ ms: another program may hold .*b\.json open/);
      assert.equal(hold.refusals, 4, 'one try and three retries');
      for (const name of NAMES) assert.equal(readFileSync(join(dir, name), 'utf8'), OLD, name);
      assert.deepEqual(readdirSync(dir).sort(), NAMES);
    });

    test('a settings snapshot restore (a group commit) outlasts a virus scanner with the default backoff', async () => {
      const workspace = join(dir, 'ws');
      const settings = join(workspace, '.vscode', 'settings.json');
      mkdirSync(join(workspace, '.vscode'), { recursive: true });
      writeFileSync(settings, '{"editor.fontSize": 14}\n');
      let clock = Date.parse('2024-05-01T12:30:05.123Z');
      const tick = () => {
        clock += 1000;
        return new Date(clock);
      };
      const snapshots = new SettingsSnapshots(workspace, { fs, now: tick });
      await asPlatform('win32', async () => {
        const first = await snapshots.take();
        assert.ok(first.taken);
        writeFileSync(settings, '{"editor.fontSize": 20}\n');
        const hold = fs.holdOpen(settings, { releaseAfterRefusals: 3 });
        const restored = await snapshots.restore(first.snapshot.id);
        assert.equal(hold.refusals, 3);
        assert.ok(restored.before.taken, 'the settings before the restore were recorded');
        assert.equal((await snapshots.list()).snapshots.length, 2);
      });
      assert.equal(readFileSync(settings, 'utf8'), '{"editor.fontSize": 14}\n');
      const left = (readdirSync(workspace, { recursive: true, encoding: 'utf8' }) as string[]).filter((name) =>
        recogniseGroupFile(basename(name)),
      );
      assert.deepEqual(left, [], 'no journal, temp or backup left');
    });
  });

  suite('sweep', () => {
    for (const unlinkErrorCode of ['EBUSY', 'EPERM'] as const) {
      test(`a temp another process holds open (${unlinkErrorCode} at unlink) is kept as "in use by another process", not a failure`, async () => {
        const held = new WindowsLikeFs(dir, { unlinkErrorCode });
        file('a.json', OLD, 2 * HOUR);
        const temp = file('a.json.3141592653', NEW, 2 * HOUR);
        held.holdOpen(temp);
        const result = await asPlatform('win32', async () => {
          const { orphans } = await scanOrphans([dir], { fs: held });
          assert.deepEqual(
            orphans.map((orphan) => orphan.path),
            [temp],
          );
          return sweepOrphans(orphans, { olderThanMs: HOUR, roots: [dir], fs: held });
        });
        assert.deepEqual(result.failed, []);
        assert.deepEqual(result.removed, []);
        assert.equal(result.kept.length, 1);
        assert.match(result.kept[0]!.reason, /^in use by another process/);
        assert.match(result.kept[0]!.reason, new RegExp(unlinkErrorCode));
        assert.ok(existsSync(temp));
      });
    }

    test('on Linux, EPERM at unlink is a permission problem and stays a failure', async () => {
      const held = new WindowsLikeFs(dir, { unlinkErrorCode: 'EPERM' });
      file('a.json', OLD, 2 * HOUR);
      const temp = file('a.json.3141592653', NEW, 2 * HOUR);
      held.holdOpen(temp);
      const result = await asPlatform('linux', async () =>
        sweepOrphans((await scanOrphans([dir], { fs: held })).orphans, { olderThanMs: HOUR, roots: [dir], fs: held }),
      );
      assert.equal(result.failed.length, 1);
      assert.deepEqual(result.kept, []);
    });

    test('a temp whose name differs in case from its target is found, judged against that target and swept', async () => {
      file('Data.JSON', OLD, 2 * HOUR);
      const temp = file('data.json.3141592653', NEW, 2 * HOUR);
      const result = await asPlatform('win32', async () => {
        const { orphans, errors } = await scanOrphans([dir], { fs });
        assert.deepEqual(errors, []);
        assert.equal(orphans.length, 1);
        assert.equal(orphans[0]!.path, temp);
        assert.equal(orphans[0]!.targetState, 'ok', 'the target was read through its other spelling');
        return sweepOrphans(orphans, { olderThanMs: HOUR, roots: [dir], fs });
      });
      assert.deepEqual(result.removed, [temp]);
      assert.deepEqual(readdirSync(dir), ['Data.JSON']);
    });
  });

  test('recover with the target held open: a clear error, the target and the candidate untouched, the backup complete', async () => {
    const target = file('state.json', '{"broken":', 0);
    const candidate = file('state.json.cs-4242-0-1-0badf00d.tmp', NEW, 60_000);
    const hold = fs.holdOpen(target);
    const error = await rejection(asPlatform('win32', () => recoverTarget(target, { fs })));
    assert.ok(error instanceof AtomicWriteError, String(error));
    assert.equal(error.step, 'rename');
    assert.match(error.message, /another program may hold .*state\.json open/);
    assert.equal(readFileSync(target, 'utf8'), '{"broken":');
    assert.equal(readFileSync(candidate, 'utf8'), NEW);
    const backups = readdirSync(dir).filter((name) => name.includes('.corrupt-'));
    assert.equal(backups.length, 1);
    assert.equal(readFileSync(join(dir, backups[0]!), 'utf8'), '{"broken":');
    hold.release();
    const result = await asPlatform('win32', () => recoverTarget(target, { fs }));
    assert.equal(result.from, candidate);
    assert.equal(readFileSync(target, 'utf8'), NEW);
  });

  test('the task store with tasks.json held open: the edit fails with a clear error, nothing is lost, the next edit lands', async () => {
    const path = join(dir, '.vscode', 'crash-safe', 'tasks.json');
    const store = new TodosStore(path, { fs, lock: { acquireTimeoutMs: 5_000 } });
    await asPlatform('win32', () => store.apply([addTodoEdit('first')]));
    const before = readFileSync(path);
    const hold = fs.holdOpen(path);
    const error = await rejection(asPlatform('win32', () => store.apply([addTodoEdit('second')])));
    assert.ok(error instanceof AtomicWriteError, String(error));
    assert.match(error.message, /tasks\.json: rename failed with EPERM/);
    assert.match(error.message, /another program may hold/);
    assert.ok(readFileSync(path).equals(before), 'tasks.json is byte-identical');
    assert.deepEqual(temps(join(dir, '.vscode', 'crash-safe')), []);
    hold.release();
    await asPlatform('win32', () => store.apply([addTodoEdit('third')]));
    assert.deepEqual(
      (await store.list()).map((todo) => todo.title),
      ['first', 'third'],
    );
  });

  suite('line endings and encodings: settings snapshots keep the bytes', () => {
    const CRLF_WITH_COMMENTS =
      '{\r\n  // Bigger text for the demo\r\n  "editor.fontSize": 14,\r\n  /* block\r\n     comment */\r\n  "files.eol": "\\r\\n",\r\n}\r\n';
    const BOM = '\ufeff';

    for (const seam of ['node', 'windows-like'] as const) {
      const platform = seam === 'node' ? process.platform : 'win32';
      const restoreCase = async (snapshotText: string, textAtRestore: string): Promise<Buffer> => {
        const workspace = join(dir, 'ws');
        const settings = join(workspace, '.vscode', 'settings.json');
        mkdirSync(join(workspace, '.vscode'), { recursive: true });
        writeFileSync(settings, snapshotText);
        const seamFs: FsLike = seam === 'node' ? nodeFs : fs;
        let clock = Date.parse('2024-05-01T12:30:05.123Z');
        const tick = () => {
          clock += 1000;
          return new Date(clock);
        };
        const snapshots = new SettingsSnapshots(workspace, { fs: seamFs, now: tick });
        return asPlatform(platform, async () => {
          const first = await snapshots.take();
          assert.ok(first.taken);
          const stored = await snapshots.read(first.snapshot.id);
          assert.equal(stored.settingsText, snapshotText, 'the snapshot holds the text as it was, CR, LF and BOM');
          assert.deepEqual(stored.values, { 'editor.fontSize': 14, 'files.eol': '\r\n' });
          writeFileSync(settings, textAtRestore);
          await snapshots.restore(first.snapshot.id);
          return readFileSync(settings);
        });
      };

      test(`${seam}: a CRLF settings.json with comments is restored byte for byte`, async () => {
        const restored = await restoreCase(CRLF_WITH_COMMENTS, '{\n  "editor.fontSize": 20\n}\n');
        assert.ok(restored.equals(Buffer.from(CRLF_WITH_COMMENTS, 'utf8')), JSON.stringify(restored.toString()));
      });

      test(`${seam}: a BOM and CRLF are restored byte for byte, whether or not the file had a BOM meanwhile`, async () => {
        const withBom = BOM + CRLF_WITH_COMMENTS;
        for (const meanwhile of [`${BOM}{\r\n}\r\n`, '{\n}\n']) {
          rmSync(join(dir, 'ws'), { recursive: true, force: true });
          const restored = await restoreCase(withBom, meanwhile);
          assert.ok(restored.equals(Buffer.from(withBom, 'utf8')), JSON.stringify(restored.toString()));
          assert.deepEqual([...restored.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
        }
      });

      test(`${seam}: a file that gained a BOM keeps it when a snapshot without one is restored (by design)`, async () => {
        const restored = await restoreCase(CRLF_WITH_COMMENTS, `${BOM}{}\r\n`);
        assert.ok(restored.equals(Buffer.from(BOM + CRLF_WITH_COMMENTS, 'utf8')));
      });
    }
  });
});

suite('lock liveness without /proc (Windows, macOS)', () => {
  const owner = (pid: number): LockOwner => ({
    pid,
    hostname: 'here',
    token: 't',
    acquiredAt: new Date(0).toISOString(),
  });
  const noProc = (signal: LivenessProbes['signal']): LivenessProbes => ({
    signal,
    readProcStat: async (pid) => {
      throw errnoError('ENOENT', 'open', `/proc/${pid}/stat`);
    },
  });

  test('kill(pid, 0) alone decides: a running pid is alive, ESRCH is dead, EPERM (another user) is alive', async () => {
    assert.equal(
      await holderIsAlive(
        owner(4242),
        noProc(() => undefined),
      ),
      true,
    );
    const refuse = (code: string) => () => {
      throw errnoError(code, 'kill');
    };
    assert.equal(await holderIsAlive(owner(4242), noProc(refuse('ESRCH'))), false);
    assert.equal(await holderIsAlive(owner(4242), noProc(refuse('EPERM'))), true);
  });

  test('with the real kill(pid, 0): this process is alive, an exited child is dead', async () => {
    const real = noProc((pid) => {
      process.kill(pid, 0);
    });
    assert.equal(await holderIsAlive(owner(process.pid), real), true);
    const child = spawnSync(process.execPath, ['-e', '0']);
    assert.equal(child.status, 0);
    assert.equal(await holderIsAlive(owner(child.pid!), real), false);
  });

  test('a start time recorded on Linux is ignored where /proc is missing: the pid alone is checked', async () => {
    const recorded = { ...owner(process.pid), startTicks: 1 };
    assert.equal(
      await holderIsAlive(
        recorded,
        noProc(() => undefined),
      ),
      true,
    );
  });
});
