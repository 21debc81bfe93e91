import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FileHandleLike, NotReadableError, readRegularFile } from '../../src/core/fs';
import { commitGroup } from '../../src/core/groups/groupCommit';
import { type GroupFs, nodeGroupFs } from '../../src/core/groups/groupJournal';
import { learnLocalDisk } from '../../src/core/write/localDisk';

const EXT4 = 0xef53;
const NFS = 0x6969;
const isRoot = process.getuid?.() === 0;
const NAMES = ['a.json', 'b.json', 'c.json'];

/** The real disk with hard links, recording the calls this suite counts; statfs answers `fsType`. */
function recordingGroupFs(calls: string[], fsType: number): GroupFs {
  return {
    ...nodeGroupFs,
    readdir: (path) => {
      calls.push('readdir');
      return nodeGroupFs.readdir(path);
    },
    readFile: (path, maxBytes, options) => {
      calls.push(options?.localDisk ? 'readFile local' : 'readFile');
      return nodeGroupFs.readFile(path, maxBytes, options);
    },
    open: async (path, flags, mode) => {
      const handle = await nodeGroupFs.open(path, flags, mode);
      const recorded: FileHandleLike = {
        write: (...args) => handle.write(...args),
        stat: () => {
          calls.push('stat');
          return handle.stat!();
        },
        statSync: () => {
          calls.push('statSync');
          return handle.statSync!();
        },
        chmod: (m) => handle.chmod(m),
        chown: (uid, gid) => {
          calls.push('chown');
          return handle.chown(uid, gid);
        },
        sync: () => handle.sync(),
        close: () => handle.close(),
      };
      return recorded;
    },
    openFolder: async (path) => {
      const folder = await nodeGroupFs.openFolder!(path);
      return {
        sync: () => folder.sync(),
        close: () => {
          calls.push('folder close');
          return folder.close();
        },
        closeSync: () => {
          calls.push('folder closeSync');
          folder.closeSync!();
        },
      };
    },
    statfs: async () => ({ type: fsType }),
  };
}

const count = (calls: readonly string[], call: string) => calls.filter((c) => c === call).length;

suite('group commit: the calls one commit makes', () => {
  let dir: string;
  setup(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'cs-group-calls-')));
    for (const name of NAMES) writeFileSync(join(dir, name), '{"v":0}\n');
  });
  teardown(() => rmSync(dir, { recursive: true, force: true }));

  const commit = (fs: GroupFs, version: number) =>
    commitGroup(
      NAMES.map((name) => ({ path: join(dir, name), data: `{"v":${version}}\n` })),
      { fs, lock: false },
    );

  test('a folder is listed twice per commit (before the lock, and under it for journals), not once more per use', async () => {
    const calls: string[] = [];
    await commit(recordingGroupFs(calls, NFS), 1);
    assert.equal(count(calls, 'readdir'), 2, calls.join(', '));
    for (const name of NAMES) assert.equal(readFileSync(join(dir, name), 'utf8'), '{"v":1}\n');
  });

  test('on a proven local disk: the temps’ and targets’ fstat and close and the folders’ close are synchronous', async () => {
    const calls: string[] = [];
    const fs = recordingGroupFs(calls, EXT4);
    await learnLocalDisk(fs, dir, statSync(dir).dev);
    await commit(fs, 1);
    assert.equal(count(calls, 'statSync'), 3, calls.join(', '));
    assert.equal(count(calls, 'stat'), 0);
    assert.equal(count(calls, 'readFile local'), NAMES.length * 2, 'each target read before, and again (racy mtime)');
    assert.equal(count(calls, 'readFile'), 0);
    assert.ok(count(calls, 'folder closeSync') >= 2, calls.join(', '));
    assert.equal(count(calls, 'folder close'), 0);
    if (isRoot) assert.equal(count(calls, 'chown'), 0, 'the kernel made the temps root’s already: no chown');
    for (const name of NAMES) assert.equal(readFileSync(join(dir, name), 'utf8'), '{"v":1}\n');
  });

  test('anywhere else (NFS here) every one of those calls goes through the thread pool', async () => {
    const calls: string[] = [];
    const fs = recordingGroupFs(calls, NFS);
    await learnLocalDisk(fs, dir, statSync(dir).dev);
    await commit(fs, 1);
    assert.equal(count(calls, 'statSync') + count(calls, 'folder closeSync') + count(calls, 'readFile local'), 0);
    for (const name of NAMES) assert.equal(readFileSync(join(dir, name), 'utf8'), '{"v":1}\n');
  });

  test('as root: a target another user owns keeps its owner and mode (the temp is chowned, then given the mode)', async function () {
    if (!isRoot) this.skip();
    const target = join(dir, 'a.json');
    chownSync(target, 4321, 4321);
    const calls: string[] = [];
    const fs = recordingGroupFs(calls, EXT4);
    await learnLocalDisk(fs, dir, statSync(dir).dev);
    await commit(fs, 2);
    const after = statSync(target);
    assert.deepEqual([after.uid, after.gid, after.mode & 0o7777], [4321, 4321, 0o644]);
    assert.equal(count(calls, 'chown'), 1, 'only the temp of the other user’s file');
  });
});

suite('readRegularFile on a proven local disk (synchronous fstat and close)', () => {
  let dir: string;
  setup(() => {
    dir = mkdtempSync(join(tmpdir(), 'cs-read-local-'));
  });
  teardown(() => rmSync(dir, { recursive: true, force: true }));

  test('reads every size exactly, as the asynchronous path does', async () => {
    for (const size of [0, 1, 4095, 4096, 65_537, 300_000]) {
      const path = join(dir, `f${size}`);
      const bytes = Buffer.alloc(size, 'x');
      writeFileSync(path, bytes);
      assert.ok((await readRegularFile(path, undefined, 0, true)).equals(bytes), `${size} bytes`);
      assert.ok((await readRegularFile(path)).equals(bytes), `${size} bytes, asynchronously`);
    }
  });

  test('a FIFO, a folder and /dev/zero are refused at once, never read', async () => {
    const fifo = join(dir, 'pipe');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    for (const path of [fifo, dir, '/dev/zero']) {
      await assert.rejects(readRegularFile(path, undefined, 0, true), (error: unknown) => {
        assert.ok(error instanceof NotReadableError, String(error));
        assert.equal(error.code, 'ENOTREG');
        return true;
      });
    }
  });

  test('a file larger than the limit is refused (EFBIG)', async () => {
    const path = join(dir, 'big');
    writeFileSync(path, Buffer.alloc(2048));
    await assert.rejects(readRegularFile(path, 1024, 0, true), /larger than/);
  });
});
