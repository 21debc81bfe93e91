import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chownSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_OPEN_FILES } from '../../src/core/boundedOpens';
import { type FileHandleLike, NotReadableError, readRegularFile } from '../../src/core/fs';
import { commitGroup } from '../../src/core/groups/groupCommit';
import {
  digestOf,
  encodeJournal,
  type GroupFs,
  groupBackupName,
  groupJournalName,
  groupTempName,
  nodeGroupFs,
} from '../../src/core/groups/groupJournal';
import { learnLocalDisk } from '../../src/core/write/localDisk';
import { deadPid } from '../support/lockContenders';

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

  test('a folder is listed once per commit, under the lock, for journals, interrupted groups and debris alike', async () => {
    const calls: string[] = [];
    await commit(recordingGroupFs(calls, NFS), 1);
    assert.equal(count(calls, 'readdir'), 1, calls.join(', '));
    for (const name of NAMES) assert.equal(readFileSync(join(dir, name), 'utf8'), '{"v":1}\n');
  });

  test('on a proven local disk: the temps’ and targets’ fstat and close and the folders’ close are synchronous', async () => {
    const calls: string[] = [];
    const fs = recordingGroupFs(calls, EXT4);
    await learnLocalDisk(fs, dir, statSync(dir).dev);
    await commit(fs, 1);
    assert.equal(count(calls, 'statSync'), 4, `the temps' and the journal's: ${calls.join(', ')}`);
    assert.equal(count(calls, 'stat'), 0);
    assert.equal(count(calls, 'readFile local'), NAMES.length * 2, 'each target read before, and again (racy mtime)');
    assert.equal(count(calls, 'readFile'), 0);
    assert.equal(count(calls, 'folder closeSync'), 1, 'the folder, held open for every fsync of the commit');
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

  /** The real disk, logging each unlink and each close of a file the commit opened, by name. */
  function closingGroupFs(events: string[], failRename?: string): GroupFs {
    const name = (path: string) => path.slice(dir.length + 1);
    return {
      ...nodeGroupFs,
      unlink: (path) => {
        events.push(`unlink ${name(path)}`);
        return nodeGroupFs.unlink(path);
      },
      rename: (from, to) => {
        if (failRename && name(to) === failRename)
          return Promise.reject(Object.assign(new Error('refused'), { code: 'EIO' }));
        return nodeGroupFs.rename(from, to);
      },
      open: async (path, flags, mode) => {
        const handle = await nodeGroupFs.open(path, flags, mode);
        events.push(`open ${name(path)}`);
        return {
          ...handle,
          write: (...args) => handle.write(...args),
          statSync: () => handle.statSync!(),
          stat: () => handle.stat!(),
          chmod: (m) => handle.chmod(m),
          chown: (uid, gid) => handle.chown(uid, gid),
          sync: () => handle.sync(),
          close: async () => {
            events.push(`close ${name(path)}`);
            await handle.close();
          },
        };
      },
    };
  }

  test('the journal is held open until it is removed, then closed; every file the commit opened is closed', async () => {
    const events: string[] = [];
    await commit(closingGroupFs(events), 1);
    const journalTemp = events.find((event) => event.startsWith('open .cs-group-'))!.slice('open '.length);
    const journal = journalTemp.replace(/\.csg-[^.]+\.tmp$/, '');
    assert.ok(events.indexOf(`unlink ${journal}`) < events.indexOf(`close ${journalTemp}`), events.join('\n'));
    const opened = events.filter((event) => event.startsWith('open ')).map((event) => event.slice(5));
    const closed = events.filter((event) => event.startsWith('close ')).map((event) => event.slice(6));
    assert.deepEqual([...closed].sort(), [...opened].sort());
    assert.deepEqual(readdirSync(dir).sort(), NAMES);
  });

  test('a commit that fails after the journal was written closes it too, and leaves every file as it was', async () => {
    const events: string[] = [];
    await assert.rejects(commit(closingGroupFs(events, 'b.json'), 1), /apply/);
    const opened = events.filter((event) => event.startsWith('open ')).map((event) => event.slice(5));
    const closed = events.filter((event) => event.startsWith('close ')).map((event) => event.slice(6));
    assert.deepEqual([...closed].sort(), [...opened].sort(), events.join('\n'));
    for (const name of NAMES) assert.equal(readFileSync(join(dir, name), 'utf8'), '{"v":0}\n');
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

suite('group commit: a group of many files', () => {
  let dir: string;
  setup(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'cs-group-many-')));
  });
  teardown(() => rmSync(dir, { recursive: true, force: true }));

  test('holds at most MAX_OPEN_FILES open at once (reads, temps, journal): EMFILE is never a result', async () => {
    const files = 3 * MAX_OPEN_FILES;
    for (let i = 0; i < files; i++) writeFileSync(join(dir, `f${i}.json`), '{}');
    let open = 0;
    let peak = 0;
    const hold = () => {
      open += 1;
      peak = Math.max(peak, open);
    };
    const fs: GroupFs = {
      ...nodeGroupFs,
      readFile: async (path, maxBytes, options) => {
        hold();
        try {
          return await nodeGroupFs.readFile(path, maxBytes, options);
        } finally {
          open -= 1;
        }
      },
      open: async (path, flags, mode) => {
        const handle = await nodeGroupFs.open(path, flags, mode);
        hold();
        // A real write takes a while: without this each would finish before the next one starts.
        await new Promise((later) => setTimeout(later, 1));
        return {
          ...handle,
          write: (...args) => handle.write(...args),
          chmod: (m) => handle.chmod(m),
          chown: (uid, gid) => handle.chown(uid, gid),
          sync: () => handle.sync(),
          close: async () => {
            open -= 1;
            await handle.close();
          },
        };
      },
    };
    const group = Array.from({ length: files }, (_, i) => ({ path: join(dir, `f${i}.json`), data: `{"i":${i}}` }));
    await commitGroup(group, { fs, lock: false });
    assert.ok(peak <= MAX_OPEN_FILES, `peak ${peak}`);
    assert.equal(readFileSync(join(dir, `f${files - 1}.json`), 'utf8'), `{"i":${files - 1}}`);
  });

  test('under `ulimit -n 256` a group of 600 files commits (the lock and the folders need descriptors too)', () => {
    const script = join(dir, 'many.ts');
    const core = join(__dirname, '..', '..', 'src', 'core', 'groups', 'groupCommit.ts');
    writeFileSync(
      script,
      `import { writeFileSync } from 'node:fs';
import { commitGroup } from ${JSON.stringify(core)};
const dir = ${JSON.stringify(dir)};
const paths = Array.from({ length: 600 }, (_, i) => dir + '/g' + i + '.json');
for (const path of paths) writeFileSync(path, '{}');
commitGroup(paths.map((path, i) => ({ path, data: '{"n":' + i + '}' }))).then(
  () => console.log('committed'),
  (error) => console.log('failed: ' + error.message),
);
`,
    );
    const child = spawnSync('bash', ['-c', `ulimit -n 256 && exec "${process.execPath}" --import tsx "${script}"`], {
      encoding: 'utf8',
      cwd: join(__dirname, '..', '..'),
    });
    assert.equal(child.stdout.trim(), 'committed', child.stderr);
    assert.equal(readFileSync(join(dir, 'g599.json'), 'utf8'), '{"n":599}');
  });
});

suite('group commit: an interrupted group journalled in a folder above', () => {
  let dir: string;
  setup(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'cs-group-above-')));
  });
  teardown(() => rmSync(dir, { recursive: true, force: true }));

  test('is found from its temp beside the target, finished under its own lock first, then the commit runs', async () => {
    mkdirSync(join(dir, 'sub'));
    const id = `${deadPid()}-0-1-0badc0de`;
    const [oldA, newA, oldX, newX] = ['{"a":0}\n', '{"a":1}\n', '{"x":0}\n', '{"x":1}\n'];
    // Killed after its first rename: a.json is new, sub/x.json still old with its temp and backup beside it.
    writeFileSync(join(dir, 'a.json'), newA);
    writeFileSync(join(dir, groupBackupName('a.json', id)), oldA);
    writeFileSync(join(dir, 'sub', 'x.json'), oldX);
    linkSync(join(dir, 'sub', 'x.json'), join(dir, 'sub', groupBackupName('x.json', id)));
    writeFileSync(join(dir, 'sub', groupTempName('x.json', id)), newX);
    const entry = (target: string, previous: string, next: string) => ({
      target,
      temp: groupTempName(target, id),
      backup: groupBackupName(target, id),
      previous: digestOf(Buffer.from(previous)),
      next: digestOf(Buffer.from(next)),
    });
    const journal = {
      format: 'crash-safe-group' as const,
      version: 1 as const,
      id,
      state: 'committing' as const,
      entries: [entry('a.json', oldA, newA), entry('sub/x.json', oldX, newX)],
    };
    writeFileSync(join(dir, groupJournalName(id)), encodeJournal(journal));

    const result = await commitGroup([{ path: join(dir, 'sub', 'x.json'), data: '{"x":2}\n' }]);
    assert.deepEqual(
      result.recovered.map((outcome) => outcome.state),
      ['rolled-forward'],
    );
    assert.equal(readFileSync(join(dir, 'a.json'), 'utf8'), newA);
    assert.equal(readFileSync(join(dir, 'sub', 'x.json'), 'utf8'), '{"x":2}\n');
    assert.deepEqual(readdirSync(join(dir, 'sub')), ['x.json']);
    assert.deepEqual(readdirSync(dir).sort(), ['a.json', 'sub']);
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
