import * as assert from 'node:assert/strict';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FileHandleLike, type FolderHandleLike, type FsLike, nodeFs } from '../../src/core/fs';
import { AtomicWriteError, writeFileAtomic } from '../../src/core/write/atomicWrite';
import { leftovers, modeOf, withUmask } from '../support/writtenFiles';

const OLD = '{"version":"old"}\n';
const NEW = '{"version":"new"}\n';
const isRoot = process.getuid?.() === 0;

interface Opened {
  mode: number | undefined;
  writes: number;
  calls: string[];
}

/**
 * The real disk (its fstat included), recording each temp's open mode and the calls on it in order, and the
 * folder fsync either way it goes (pipelined openFolder or fsyncDir).
 */
function recordingFs(opened: Opened[], order: string[] = []): FsLike {
  const fs: FsLike = {
    ...nodeFs,
    open: async (path, flags, mode) => {
      const handle = await nodeFs.open(path, flags, mode);
      const record: Opened = { mode, writes: 0, calls: [] };
      opened.push(record);
      const log = <T>(name: string, run: () => Promise<T>) => {
        record.calls.push(name);
        return run();
      };
      const recorded: FileHandleLike = {
        write: (...args) => {
          record.writes += 1;
          return log('write', () => handle.write(...args));
        },
        stat: () => log('stat', () => handle.stat!()),
        chmod: (m) => log(`chmod ${m.toString(8)}`, () => handle.chmod(m)),
        chown: (uid, gid) => log(`chown ${uid}:${gid}`, () => handle.chown(uid, gid)),
        sync: () => log('sync', () => handle.sync()),
        close: () => log('close', () => handle.close()),
      };
      return recorded;
    },
    rename: async (from, to) => {
      order.push('rename');
      await nodeFs.rename(from, to);
    },
    fsyncDir: async (path) => {
      order.push('fsyncDir');
      await nodeFs.fsyncDir(path);
    },
  };
  fs.openFolder = async (path) => {
    order.push('openFolder');
    const folder = await nodeFs.openFolder!(path);
    return {
      sync: async () => {
        order.push('folder sync');
        await folder.sync();
      },
      close: async () => {
        order.push('folder close');
        await folder.close();
      },
    };
  };
  return fs;
}

const openDescriptors = () => readdirSync('/proc/self/fd').length;

for (const [place, base] of [
  ['ext4 (or the test temp folder)', tmpdir()],
  ['tmpfs', '/dev/shm'],
] as const) {
  suite(`writeFileAtomic: mode and owner of the temp, ${place}`, () => {
    let dir: string;
    let target: string;

    setup(function () {
      if (!existsSync(base)) this.skip();
      dir = mkdtempSync(join(base, 'cs-modes-'));
      target = join(dir, 'state.json');
      writeFileSync(target, OLD);
    });
    teardown(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test('a repeated write creates its temp with the target mode and needs no fchmod (fstat shows it)', async function () {
      if ((0o644 & ~process.umask()) !== 0o644) this.skip();
      chmodSync(target, 0o644);
      const opened: Opened[] = [];
      const fs = recordingFs(opened);
      for (let i = 0; i < 3; i++) await writeFileAtomic(target, `${NEW}${i}`, { fs });
      assert.equal(opened[0]!.mode, 0o600, 'the first write knows no mode yet');
      assert.deepEqual(
        opened.slice(1).map((o) => o.mode),
        [0o644, 0o644],
      );
      for (const o of opened.slice(1)) assert.ok(!o.calls.some((c) => c.startsWith('chmod')), o.calls.join());
      assert.equal(modeOf(target), 0o644);
      assert.equal(readFileSync(target, 'utf8'), `${NEW}2`);
    });

    test('the target made narrower since the last write: the wider temp is discarded before any byte is written', async () => {
      const all: Opened[] = [];
      const fs = recordingFs(all);
      chmodSync(target, 0o644);
      await writeFileAtomic(target, NEW, { fs });
      for (const narrower of [0o640, 0o600, 0o400]) {
        chmodSync(target, narrower);
        const from = all.length;
        await writeFileAtomic(target, `${NEW}${narrower}`, { fs });
        const opened = all.slice(from);
        // Created with the remembered 0644, found wider than the target, closed and unlinked unwritten.
        assert.deepEqual([opened[0]!.mode, opened[0]!.writes], [0o644, 0], JSON.stringify(opened));
        for (const o of opened.filter((o) => o.writes > 0)) assert.equal(o.mode, 0o600, JSON.stringify(o));
        assert.equal(modeOf(target), narrower, narrower.toString(8));
        assert.deepEqual(leftovers(dir), []);
        chmodSync(target, 0o644);
        await writeFileAtomic(target, NEW, { fs });
      }
    });

    for (const mode of [0o644, 0o755, 0o400, 0o600, 0o640, 0o664]) {
      test(`a ${mode.toString(8)} target keeps its mode over repeated writes, under umask 022, 077 and 002`, async () => {
        for (const mask of [0o022, 0o077, 0o002]) {
          chmodSync(target, mode);
          await withUmask(mask, async () => {
            for (let i = 0; i < 3; i++) await writeFileAtomic(target, `${NEW}${i}`);
          });
          assert.equal(modeOf(target), mode, `${mode.toString(8)} under umask ${mask.toString(8)}`);
        }
      });
    }

    test('new files get 0666 less the umask as it is at each write (077, then 002)', async () => {
      await withUmask(0o077, () => writeFileAtomic(join(dir, 'a.json'), NEW));
      await withUmask(0o002, () => writeFileAtomic(join(dir, 'b.json'), NEW));
      await withUmask(0o002, () => writeFileAtomic(join(dir, 'b.json'), NEW));
      assert.equal(modeOf(join(dir, 'a.json')), 0o600);
      assert.equal(modeOf(join(dir, 'b.json')), 0o664);
    });

    test('as root: a target owned by root needs no fchown', async function () {
      if (!isRoot) this.skip();
      const opened: Opened[] = [];
      const fs = recordingFs(opened);
      await writeFileAtomic(target, NEW, { fs });
      await writeFileAtomic(target, OLD, { fs });
      for (const o of opened) assert.ok(!o.calls.some((c) => c.startsWith('chown')), o.calls.join());
      assert.deepEqual([statSync(target).uid, statSync(target).gid], [0, 0]);
    });

    test("as root: another user's target keeps owner and mode, and its temp never has group or other bits before the chown", async function () {
      if (!isRoot) this.skip();
      chmodSync(target, 0o640);
      const opened: Opened[] = [];
      const fs = recordingFs(opened);
      await writeFileAtomic(target, NEW, { fs }); // Remembers 0640 for this target, owned by root.
      assert.equal(opened.length, 1);
      await writeFileAtomic(target, NEW, { fs });
      assert.equal(opened[1]!.mode, 0o640, 'the remembered mode is used while the owner is root');
      chownSync(target, 65534, 65534);
      await writeFileAtomic(target, OLD, { fs });
      for (const o of opened.slice(2)) if (o.writes > 0) assert.equal(o.mode, 0o600, JSON.stringify(o));
      const calls = opened.at(-1)!.calls;
      assert.ok(calls.indexOf('chown 65534:65534') >= 0, calls.join());
      assert.ok(calls.indexOf('chown 65534:65534') < calls.indexOf('chmod 640'), calls.join());
      assert.deepEqual([statSync(target).uid, statSync(target).gid, modeOf(target)], [65534, 65534, 0o640]);
    });

    test('as root: set-group-ID and set-user-ID bits survive the chown of a foreign-owned target', async function () {
      if (!isRoot) this.skip();
      for (const mode of [0o2755, 0o4755, 0o6750]) {
        chownSync(target, 65534, 65534);
        chmodSync(target, mode);
        await writeFileAtomic(target, NEW);
        assert.equal(modeOf(target), mode, mode.toString(8));
        assert.deepEqual([statSync(target).uid, statSync(target).gid], [65534, 65534]);
      }
    });

    test('as root, in a set-group-ID folder: the folder group is kept without fchown, another group with one', async function () {
      if (!isRoot) this.skip();
      const shared = join(dir, 'shared');
      mkdirSync(shared);
      chownSync(shared, 0, 65534);
      chmodSync(shared, 0o2775);
      const inGroup = join(shared, 'in-group.json');
      writeFileSync(inGroup, OLD); // Gets the folder's group 65534.
      assert.equal(statSync(inGroup).gid, 65534);
      const opened: Opened[] = [];
      await writeFileAtomic(inGroup, NEW, { fs: recordingFs(opened) });
      assert.ok(!opened[0]!.calls.some((c) => c.startsWith('chown')), opened[0]!.calls.join());
      assert.deepEqual([statSync(inGroup).uid, statSync(inGroup).gid], [0, 65534]);

      const rootGroup = join(shared, 'root-group.json');
      writeFileSync(rootGroup, OLD);
      chownSync(rootGroup, 0, 0);
      await writeFileAtomic(rootGroup, NEW);
      await writeFileAtomic(rootGroup, OLD);
      assert.deepEqual([statSync(rootGroup).uid, statSync(rootGroup).gid], [0, 0]);
    });
  });
}

suite('writeFileAtomic: the folder opened for its fsync while the temp is written', () => {
  let dir: string;
  let target: string;

  setup(() => {
    dir = mkdtempSync(join(tmpdir(), 'cs-folder-'));
    target = join(dir, 'state.json');
    writeFileSync(target, OLD);
  });
  teardown(() => rmSync(dir, { recursive: true, force: true }));

  test('opened before the rename, fsynced and closed after it; fsyncDir is not called as well', async () => {
    const order: string[] = [];
    const opened: Opened[] = [];
    await writeFileAtomic(target, NEW, { fs: recordingFs(opened, order) });
    assert.ok(order.indexOf('openFolder') < order.indexOf('rename'), order.join());
    assert.deepEqual(order.slice(order.indexOf('rename')), ['rename', 'folder sync', 'folder close']);
    assert.deepEqual(opened[0]!.calls.slice(-2), ['sync', 'close'], 'the temp fsynced and closed before the rename');
    assert.equal(readFileSync(target, 'utf8'), NEW);
  });

  test('a folder that cannot be opened early (EMFILE) is fsynced after the rename through fsyncDir', async () => {
    const order: string[] = [];
    const fs = recordingFs([], order);
    fs.openFolder = async () => {
      throw Object.assign(new Error('too many open files'), { code: 'EMFILE' });
    };
    await writeFileAtomic(target, NEW, { fs });
    assert.deepEqual(order, ['rename', 'fsyncDir']);
  });

  test('an early folder whose fsync fails: fsync-dir error after the rename, the descriptor closed', async () => {
    const order: string[] = [];
    const fs = recordingFs([], order);
    let closed = 0;
    fs.openFolder = async (path): Promise<FolderHandleLike> => {
      const folder = await nodeFs.openFolder!(path);
      return {
        sync: async () => {
          throw Object.assign(new Error('I/O error'), { code: 'EIO' });
        },
        close: async () => {
          closed += 1;
          await folder.close();
        },
      };
    };
    const error = await writeFileAtomic(target, NEW, { fs }).catch((e: unknown) => e);
    assert.ok(error instanceof AtomicWriteError, String(error));
    assert.deepEqual([error.step, error.code], ['fsync-dir', 'EIO']);
    assert.equal(closed, 1);
    assert.equal(readFileSync(target, 'utf8'), NEW);
  });

  test('a write that fails before the rename closes the early folder too: no descriptor left behind', async () => {
    const before = openDescriptors();
    for (let i = 0; i < 20; i++) {
      const error = await writeFileAtomic(target, NEW, {
        expected: Buffer.from('not what is there'),
      }).catch((e: unknown) => e);
      assert.ok(error instanceof AtomicWriteError && error.step === 'confirm', String(error));
    }
    for (let i = 0; i < 20; i++) await writeFileAtomic(target, NEW);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(openDescriptors() <= before + 1, `${openDescriptors()} descriptors open, ${before} before`);
    assert.equal(readFileSync(target, 'utf8'), NEW);
    assert.deepEqual(leftovers(dir), []);
  });

  test('a fake spread from nodeFs that records fsyncDir still sees every folder fsync', async () => {
    const synced: string[] = [];
    await writeFileAtomic(target, NEW, {
      fs: {
        ...nodeFs,
        fsyncDir: async (path) => {
          synced.push(path);
          await nodeFs.fsyncDir(path);
        },
      },
    });
    assert.deepEqual(synced, [dir]);
  });

  test('fast durability opens no folder', async () => {
    const order: string[] = [];
    await writeFileAtomic(target, NEW, { fs: recordingFs([], order), durability: 'fast' });
    assert.deepEqual(order, ['rename']);
  });
});
