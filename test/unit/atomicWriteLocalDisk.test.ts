import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { type FileHandleLike, type FsLike, nodeFs } from '../../src/core/fs';
import { AtomicWriteError, writeFileAtomic } from '../../src/core/write/atomicWrite';
import {
  LOCAL_DISK_TYPES,
  LOCAL_DISK_VERDICT_MS,
  learnLocalDisk,
  localDiskClock,
  provenLocalDisk,
} from '../../src/core/write/localDisk';
import { leftovers, modeOf, withUmask } from '../support/writtenFiles';

const OLD = '{"version":"old"}\n';
const NEW = '{"version":"new"}\n';
const isRoot = process.getuid?.() === 0;
const EXT4 = 0xef53;
const NOT_LOCAL: [string, number][] = [
  ['NFS', 0x6969],
  ['FUSE', 0x65735546],
  ['CIFS', 0xff534d42],
  ['SMB2', 0xfe534d42],
  ['overlayfs', 0x794c7630],
  ['an unknown type', 0x12345678],
];

interface Options {
  /** What statfs answers: a type, an error to throw, or `'none'` for a seam without statfs. */
  statfs: number | Error | 'none';
  /** Whether the handles offer statSync / closeSync (a fake of an older seam has neither). */
  syncCalls?: boolean;
}

/** The real disk, recording every fstat and folder close in `calls`, sync or not, with statfs as told. */
function recordingFs(calls: string[], { statfs, syncCalls = true }: Options): FsLike {
  const fs: FsLike = {
    ...nodeFs,
    open: async (path, flags, mode) => {
      const handle = await nodeFs.open(path, flags, mode);
      const recorded: FileHandleLike = {
        write: (...args) => handle.write(...args),
        stat: () => {
          calls.push('stat');
          return handle.stat!();
        },
        chmod: (m) => {
          calls.push(`chmod ${m.toString(8)}`);
          return handle.chmod(m);
        },
        chown: (uid, gid) => {
          calls.push(`chown ${uid}:${gid}`);
          return handle.chown(uid, gid);
        },
        sync: () => handle.sync(),
        close: () => handle.close(),
      };
      if (syncCalls)
        recorded.statSync = () => {
          calls.push('statSync');
          return handle.statSync!();
        };
      return recorded;
    },
  };
  fs.openFolder = async (path) => {
    const folder = await nodeFs.openFolder!(path);
    return {
      sync: () => folder.sync(),
      close: () => {
        calls.push('folder close');
        return folder.close();
      },
      ...(syncCalls && {
        closeSync: () => {
          calls.push('folder closeSync');
          folder.closeSync!();
        },
      }),
    };
  };
  if (statfs !== 'none')
    fs.statfs = async () => {
      calls.push('statfs');
      if (statfs instanceof Error) throw statfs;
      return { type: statfs };
    };
  return fs;
}

/** Writes once and waits until the verdict on the target's folder is in (the write itself never waits for it). */
async function writeAndLearn(target: string, fs: FsLike, content = NEW): Promise<void> {
  await writeFileAtomic(target, content, { fs });
  await learnLocalDisk(fs, join(target, '..'), statSync(target).dev);
}

suite('writeFileAtomic: synchronous fstat and folder close only on a proven local disk', () => {
  let dir: string;
  let target: string;

  setup(() => {
    dir = mkdtempSync(join(tmpdir(), 'cs-local-'));
    target = join(dir, 'state.json');
    writeFileSync(target, OLD);
    chmodSync(target, 0o644);
  });
  teardown(() => rmSync(dir, { recursive: true, force: true }));

  test('ext4 by statfs: after the first write, the temp is fstat-ed and the folder closed synchronously', async () => {
    const calls: string[] = [];
    const fs = recordingFs(calls, { statfs: EXT4 });
    await withUmask(0o022, async () => {
      await writeAndLearn(target, fs);
      assert.ok(!calls.some((c) => c.endsWith('Sync')), `no verdict yet on the first write: ${calls}`);
      assert.deepEqual(
        calls.filter((c) => c === 'statfs'),
        ['statfs'],
      );
      calls.length = 0;
      await writeFileAtomic(target, `${NEW}2`, { fs });
    });
    assert.deepEqual(
      calls.filter((c) => c !== 'statfs'),
      ['statSync', 'folder closeSync'],
    );
    assert.equal(readFileSync(target, 'utf8'), `${NEW}2`);
    assert.equal(modeOf(target), 0o644);
  });

  for (const [name, type] of NOT_LOCAL) {
    test(`${name} by statfs: every fstat and folder close stays asynchronous`, async () => {
      const calls: string[] = [];
      const fs = recordingFs(calls, { statfs: type });
      await withUmask(0o022, async () => {
        for (let i = 0; i < 4; i++) await writeAndLearn(target, fs, `${NEW}${i}`);
      });
      assert.ok(!calls.some((c) => c.endsWith('Sync')), calls.join());
      assert.ok(calls.includes('stat') && calls.includes('folder close'), calls.join());
      assert.equal(calls.filter((c) => c === 'statfs').length, 1, 'asked once, the answer kept');
      assert.equal(readFileSync(target, 'utf8'), `${NEW}3`);
    });
  }

  test('a statfs that fails leaves the calls asynchronous, and the writes succeed', async () => {
    const calls: string[] = [];
    const fs = recordingFs(calls, { statfs: Object.assign(new Error('stale handle'), { code: 'ESTALE' }) });
    for (let i = 0; i < 3; i++) await writeAndLearn(target, fs, `${NEW}${i}`);
    assert.ok(!calls.some((c) => c.endsWith('Sync')), calls.join());
    assert.equal(readFileSync(target, 'utf8'), `${NEW}2`);
  });

  test('a statfs that never answers (a hung server): writes finish, stay asynchronous, and no second statfs is asked, for any folder, even after the verdict time', async () => {
    const calls: string[] = [];
    const fs = recordingFs(calls, { statfs: EXT4 });
    fs.statfs = (path) => {
      calls.push(`statfs ${path}`);
      return new Promise<never>(() => undefined);
    };
    const other = join(dir, 'other');
    mkdirSync(other);
    const realNow = localDiskClock.now;
    let shift = 0;
    localDiskClock.now = () => realNow() + shift;
    try {
      for (let i = 0; i < 3; i++) {
        await writeFileAtomic(target, `${NEW}${i}`, { fs });
        await writeFileAtomic(join(other, 'state.json'), `${NEW}${i}`, { fs });
        shift += LOCAL_DISK_VERDICT_MS;
      }
    } finally {
      localDiskClock.now = realNow;
    }
    assert.deepEqual(
      calls.filter((c) => c.startsWith('statfs')),
      [`statfs ${dir}`],
    );
    assert.ok(!calls.some((c) => c.endsWith('Sync')), calls.join());
    assert.equal(readFileSync(target, 'utf8'), `${NEW}2`);
  });

  test('a statfs that throws synchronously does not fail the write it follows', async () => {
    const fs = recordingFs([], { statfs: EXT4 });
    fs.statfs = () => {
      throw new Error('not a promise at all');
    };
    await writeFileAtomic(target, NEW, { fs });
    await writeFileAtomic(target, OLD, { fs });
    assert.equal(readFileSync(target, 'utf8'), OLD);
  });

  test('a seam without statfs, or handles without statSync/closeSync (older fakes): asynchronous, as before', async () => {
    for (const options of [{ statfs: 'none' as const }, { statfs: EXT4, syncCalls: false }]) {
      const calls: string[] = [];
      const fs = recordingFs(calls, options);
      for (let i = 0; i < 3; i++) await writeAndLearn(target, fs, `${NEW}${i}`);
      assert.ok(!calls.some((c) => c.endsWith('Sync')), calls.join());
      assert.ok(calls.includes('folder close'), calls.join());
      assert.equal(readFileSync(target, 'utf8'), `${NEW}2`);
    }
  });

  test('not Linux (statfs magic numbers are Linux ones): no statfs, no synchronous call', async () => {
    const platform = Object.getOwnPropertyDescriptor(process, 'platform')!;
    Object.defineProperty(process, 'platform', { value: 'darwin' });
    try {
      const calls: string[] = [];
      const fs = recordingFs(calls, { statfs: EXT4 });
      for (let i = 0; i < 3; i++) await writeAndLearn(target, fs, `${NEW}${i}`);
      assert.ok(!calls.some((c) => c === 'statfs' || c.endsWith('Sync')), calls.join());
    } finally {
      Object.defineProperty(process, 'platform', platform);
    }
  });

  test('a verdict expires: after LOCAL_DISK_VERDICT_MS the calls are asynchronous until statfs answers again', async () => {
    const calls: string[] = [];
    const fs = recordingFs(calls, { statfs: EXT4 });
    const realNow = localDiskClock.now;
    let shift = 0;
    localDiskClock.now = () => realNow() + shift;
    try {
      await writeAndLearn(target, fs);
      calls.length = 0;
      await writeFileAtomic(target, NEW, { fs });
      assert.ok(calls.includes('folder closeSync'), calls.join());
      shift = LOCAL_DISK_VERDICT_MS;
      calls.length = 0;
      await writeAndLearn(target, fs);
      assert.ok(!calls.some((c) => c.endsWith('Sync')), calls.join());
      assert.equal(calls.filter((c) => c === 'statfs').length, 1, calls.join());
      calls.length = 0;
      await writeFileAtomic(target, OLD, { fs });
      assert.ok(calls.includes('folder closeSync'), calls.join());
    } finally {
      localDiskClock.now = realNow;
    }
  });

  test('a synchronous fstat that fails is a chmod failure: temp removed, target unchanged', async () => {
    const fs = recordingFs([], { statfs: EXT4 });
    await writeAndLearn(target, fs, OLD);
    const open = fs.open;
    fs.open = async (path, flags, mode) => {
      const handle = await open(path, flags, mode);
      handle.statSync = () => {
        throw Object.assign(new Error('I/O error'), { code: 'EIO' });
      };
      return handle;
    };
    const error = await writeFileAtomic(target, NEW, { fs }).catch((e: unknown) => e);
    assert.ok(error instanceof AtomicWriteError, String(error));
    assert.deepEqual([error.step, error.code], ['chmod', 'EIO']);
    assert.equal(readFileSync(target, 'utf8'), OLD);
    assert.deepEqual(leftovers(dir), []);
  });

  test('a synchronous folder close that fails is an fsync-dir failure after the rename, as an asynchronous one was', async () => {
    const fs = recordingFs([], { statfs: EXT4 });
    await writeAndLearn(target, fs, OLD);
    const openFolder = fs.openFolder!;
    fs.openFolder = async (path) => {
      const folder = await openFolder(path);
      return {
        ...folder,
        closeSync: () => {
          folder.closeSync!();
          throw Object.assign(new Error('I/O error'), { code: 'EIO' });
        },
      };
    };
    const error = await writeFileAtomic(target, NEW, { fs }).catch((e: unknown) => e);
    assert.ok(error instanceof AtomicWriteError, String(error));
    assert.deepEqual([error.step, error.code], ['fsync-dir', 'EIO']);
    assert.equal(readFileSync(target, 'utf8'), NEW);
  });

  test('a symlinked target: the verdict is about the real file’s folder, and the link survives', async () => {
    const real = join(dir, 'real');
    mkdirSync(real);
    const realTarget = join(real, 'state.json');
    writeFileSync(realTarget, OLD);
    const link = join(dir, 'link.json');
    symlinkSync(realTarget, link);
    const calls: string[] = [];
    const fs = recordingFs(calls, { statfs: EXT4 });
    const statfs = fs.statfs!;
    const asked: string[] = [];
    fs.statfs = (path) => {
      asked.push(path);
      return statfs(path);
    };
    await writeFileAtomic(link, NEW, { fs });
    await learnLocalDisk(fs, real, statSync(realTarget).dev);
    calls.length = 0;
    await writeFileAtomic(link, `${NEW}2`, { fs });
    assert.deepEqual(asked, [real]);
    assert.ok(calls.includes('folder closeSync'), calls.join());
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(readFileSync(realTarget, 'utf8'), `${NEW}2`);
  });

  test('nodeFs: a statSync after close is refused with EBADF, never sent to a descriptor number that may be reused', async () => {
    const handle = await nodeFs.open(join(dir, 'closed.json'), 'wx', 0o600);
    await handle.close();
    assert.throws(() => handle.statSync!(), { code: 'EBADF' });
  });

  test('a verdict holds for its folder and its target device only', async () => {
    const fs = recordingFs([], { statfs: EXT4 });
    const { dev } = statSync(target);
    assert.equal(provenLocalDisk(fs, dir, dev), false, 'unknown before statfs answered');
    await learnLocalDisk(fs, dir, dev);
    assert.equal(provenLocalDisk(fs, dir, dev), true);
    assert.equal(provenLocalDisk(fs, dir, dev + 1), false, 'another device (a remount) is unknown');
    assert.equal(provenLocalDisk(fs, join(dir, 'sub'), dev), false, 'another folder is unknown');
    assert.equal(provenLocalDisk(recordingFs([], { statfs: EXT4 }), dir, dev), false, 'another seam is unknown');
  });

  test('the whitelist is ext2/3/4, xfs, btrfs, tmpfs and f2fs, nothing else', () => {
    assert.deepEqual([...LOCAL_DISK_TYPES.keys()].map((type) => type.toString(16)).sort(), [
      '1021994',
      '58465342',
      '9123683e',
      'ef53',
      'f2f52010',
    ]);
  });

  test('nodeFs itself: statfs answers for the real folder, and repeated writes make the synchronous calls', async function () {
    if (process.platform !== 'linux') this.skip();
    const { type } = await nodeFs.statfs!(dir);
    if (!LOCAL_DISK_TYPES.has(type)) this.skip();
    const counted = { fstatSync: 0, closeSync: 0 };
    // The module object itself (an import namespace is a copy of getters): src/core/fs.ts reads through it.
    const spied = createRequire(__filename)('node:fs') as typeof import('node:fs');
    const { fstatSync, closeSync } = spied;
    spied.fstatSync = ((...args: Parameters<typeof fstatSync>) => {
      counted.fstatSync += 1;
      return fstatSync(...args);
    }) as typeof fstatSync;
    spied.closeSync = (fd) => {
      counted.closeSync += 1;
      closeSync(fd);
    };
    try {
      await writeAndLearn(target, nodeFs);
      await withUmask(0o022, async () => {
        for (let i = 0; i < 3; i++) await writeFileAtomic(target, `${NEW}${i}`);
      });
    } finally {
      spied.fstatSync = fstatSync;
      spied.closeSync = closeSync;
    }
    assert.deepEqual(counted, { fstatSync: 3, closeSync: 3 });
    assert.equal(readFileSync(target, 'utf8'), `${NEW}2`);
    assert.equal(modeOf(target), 0o644);
  });
});

for (const [place, base] of [
  ['ext4 (or the test temp folder)', tmpdir()],
  ['tmpfs', '/dev/shm'],
] as const) {
  suite(`writeFileAtomic on the synchronous path: mode and owner still exact, ${place}`, () => {
    let dir: string;
    let target: string;

    setup(function () {
      if (!existsSync(base)) this.skip();
      dir = mkdtempSync(join(base, 'cs-local-modes-'));
      target = join(dir, 'state.json');
      writeFileSync(target, OLD);
    });
    teardown(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    /** Three writes after the verdict is in; the synchronous fstat must have run in them. */
    async function writeThriceSynchronously(path: string): Promise<string[]> {
      const calls: string[] = [];
      const fs = recordingFs(calls, { statfs: EXT4 });
      await writeAndLearn(path, fs);
      calls.length = 0;
      for (let i = 0; i < 3; i++) await writeFileAtomic(path, `${NEW}${i}`, { fs });
      return calls;
    }

    for (const mode of [0o644, 0o640, 0o600, 0o755, 0o664, 0o400]) {
      test(`a ${mode.toString(8)} target keeps its mode under umask 022, 077 and 002`, async () => {
        for (const mask of [0o022, 0o077, 0o002]) {
          chmodSync(target, mode);
          const calls = await withUmask(mask, () => writeThriceSynchronously(target));
          assert.equal(modeOf(target), mode, `${mode.toString(8)} under umask ${mask.toString(8)}`);
          assert.equal(readFileSync(target, 'utf8'), `${NEW}2`);
          // Root fstats every write (owner check); others wherever a remembered mode may already be right.
          if (isRoot || (mode & 0o600) === 0o600) assert.ok(calls.includes('statSync'), calls.join());
          assert.ok(!calls.includes('stat'), calls.join());
        }
        assert.deepEqual(leftovers(dir), []);
      });
    }

    test("as root: another user's target keeps owner and mode (set-ID bits too) over synchronous fstats", async function () {
      if (!isRoot) this.skip();
      for (const mode of [0o640, 0o2755, 0o4755, 0o6750]) {
        chownSync(target, 65534, 65534);
        chmodSync(target, mode);
        const calls = await writeThriceSynchronously(target);
        assert.ok(calls.includes('statSync') && calls.includes('chown 65534:65534'), calls.join());
        assert.deepEqual([statSync(target).uid, statSync(target).gid, modeOf(target)], [65534, 65534, mode]);
      }
    });

    test('as root, in a set-group-ID folder: the folder group kept without fchown, another group with one', async function () {
      if (!isRoot) this.skip();
      const shared = join(dir, 'shared');
      mkdirSync(shared);
      chownSync(shared, 0, 65534);
      chmodSync(shared, 0o2775);
      const inGroup = join(shared, 'in-group.json');
      writeFileSync(inGroup, OLD);
      let calls = await writeThriceSynchronously(inGroup);
      assert.ok(calls.includes('statSync') && !calls.some((c) => c.startsWith('chown')), calls.join());
      assert.deepEqual([statSync(inGroup).uid, statSync(inGroup).gid], [0, 65534]);

      const rootGroup = join(shared, 'root-group.json');
      writeFileSync(rootGroup, OLD);
      chownSync(rootGroup, 0, 0);
      calls = await writeThriceSynchronously(rootGroup);
      assert.ok(calls.includes('chown 0:0'), `the temp took the folder's group: ${calls.join()}`);
      assert.deepEqual([statSync(rootGroup).uid, statSync(rootGroup).gid], [0, 0]);
    });

    test('not root: the same writes as an unprivileged user (a child process as nobody)', function () {
      if (!isRoot) this.skip(); // Not root, the suites above already run unprivileged.
      this.timeout(120_000);
      const scriptDir = mkdtempSync(join(tmpdir(), 'cs-local-child-'));
      try {
        const entry = join(scriptDir, 'entry.ts');
        writeFileSync(entry, CHILD_SCRIPT);
        const bundle = join(scriptDir, 'child.cjs');
        buildSync({
          entryPoints: [entry],
          bundle: true,
          platform: 'node',
          format: 'cjs',
          outfile: bundle,
          logLevel: 'silent',
          nodePaths: [join(__dirname, '..', '..', 'node_modules')],
          alias: { '@core': join(__dirname, '..', '..', 'src', 'core') },
        });
        chmodSync(scriptDir, 0o755);
        chmodSync(bundle, 0o644);
        chownSync(dir, 65534, 65534);
        const result = spawnSync(process.execPath, [bundle, dir], { encoding: 'utf8', uid: 65534, gid: 65534 });
        assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
        const report = JSON.parse(result.stdout) as { mismatches: string[]; synchronous: number };
        assert.deepEqual(report.mismatches, []);
        assert.ok(report.synchronous > 0, 'the child took the synchronous path');
      } finally {
        rmSync(scriptDir, { recursive: true, force: true });
      }
    });
  });
}

/** Run as nobody in a folder of nobody's: modes under three umasks and a set-group-ID folder, synchronous path. */
const CHILD_SCRIPT = `
import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodeFs, type FsLike, type FileHandleLike } from '@core/fs';
import { writeFileAtomic } from '@core/write/atomicWrite';
import { learnLocalDisk } from '@core/write/localDisk';

const dir = process.argv[2]!;
const mismatches: string[] = [];
let synchronous = 0;
const fs: FsLike = {
  ...nodeFs,
  open: async (path, flags, mode) => {
    const handle = await nodeFs.open(path, flags, mode);
    const wrapped: FileHandleLike = {
      write: (...args) => handle.write(...args),
      stat: () => handle.stat!(),
      statSync: () => {
        synchronous += 1;
        return handle.statSync!();
      },
      chmod: (m) => handle.chmod(m),
      chown: (u, g) => handle.chown(u, g),
      sync: () => handle.sync(),
      close: () => handle.close(),
    };
    return wrapped;
  },
  statfs: async () => ({ type: 0xef53 }),
};
fs.openFolder = nodeFs.openFolder;

async function main() {
  const shared = join(dir, 'shared');
  mkdirSync(shared);
  chmodSync(shared, 0o2775);
  for (const folder of [dir, shared]) {
    for (const mode of [0o644, 0o640, 0o600, 0o664, 0o400]) {
      for (const mask of [0o022, 0o077, 0o002]) {
        const target = join(folder, 'm' + mode.toString(8) + '-' + mask.toString(8) + '.json');
        writeFileSync(target, 'old');
        chmodSync(target, mode);
        process.umask(mask);
        await writeFileAtomic(target, 'first', { fs });
        await learnLocalDisk(fs, folder, statSync(target).dev);
        for (let i = 0; i < 3; i++) await writeFileAtomic(target, 'next' + i, { fs });
        const now = statSync(target);
        const want = { mode, uid: 65534, gid: statSync(folder).gid };
        const got = { mode: now.mode & 0o7777, uid: now.uid, gid: now.gid };
        if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push(target + ' ' + JSON.stringify(got));
      }
    }
  }
  process.stdout.write(JSON.stringify({ mismatches, synchronous }));
}
main().catch((error) => {
  console.error(error);
  process.exit(1);
});
`;
