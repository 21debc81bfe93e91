import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ageParts, formatAge } from '../../src/core/age';
import { type FsLike, MAX_DOCUMENT_BYTES, nodeFs } from '../../src/core/fs';
import { scanOrphans, sweepOrphans } from '../../src/core/orphans/orphans';
import { RecoveryError, recoverTarget } from '../../src/core/orphans/recovery';
import { writeAgedFile } from '../support/agedFiles';
import { errnoError } from '../support/faultyFs';

const OLD = 2 * 3_600_000;
const isRoot = process.getuid?.() === 0;

/** Hostile inputs for scan, sweep and recover: unknown means keep, regular files only, re-check before acting. */
suite('orphans under hostile file systems', () => {
  let root: string;
  const file = (relativePath: string, content: string | Buffer = '{}\n', ageMs = OLD) =>
    writeAgedFile(join(root, relativePath), content, ageMs);
  const sweepAll = async (fs: FsLike = nodeFs) =>
    sweepOrphans((await scanOrphans([root], { fs })).orphans, { olderThanMs: 0, roots: [root], fs });

  setup(() => {
    root = realpathSync(mkdtempSync(join(tmpdir(), 'cs-hostile-')));
  });
  teardown(() => {
    chmodSync(root, 0o700);
    rmSync(root, { recursive: true, force: true });
  });

  suite('unknown means keep', () => {
    test('a valid 10 MB temp of an empty target is judged valid and kept (it was over the old 8 MiB bound)', async () => {
      file('big.json', '');
      const temp = file('big.json.vsctmp', JSON.stringify({ blob: 'x'.repeat(10 * 1024 * 1024) }));
      const { orphans } = await scanOrphans([root]);
      assert.equal(orphans[0]?.validJson, true);
      const result = await sweepAll();
      assert.deepEqual(result.removed, []);
      assert.match(result.kept[0]!.reason, /the target is empty and this is a valid copy/);
      assert.ok(existsSync(temp));
    });

    test('a temp sweep cannot read, beside a corrupt target, is kept with the reason', async () => {
      file('a.json', '{"torn');
      const temp = file('a.json.vsctmp', '{"v":1}');
      const fs: FsLike = {
        ...nodeFs,
        readFile: async (path, maxBytes) => {
          if (path === temp) throw errnoError('EACCES', 'open', path);
          return nodeFs.readFile(path, maxBytes);
        },
      };
      const result = await sweepAll(fs);
      assert.deepEqual(result.removed, []);
      assert.match(result.kept[0]!.reason, /the target is corrupt and this temp could not be checked \(EACCES/);
      assert.ok(existsSync(temp));
    });

    test('a zero-filled target over the size limit is "unknown", not ok, so its valid temp is kept', async () => {
      const target = file('z.json', '');
      truncateSync(target, MAX_DOCUMENT_BYTES + 1); // sparse: no disk or memory is used
      const temp = file('z.json.vsctmp', '{"v":1}');
      const { orphans, errors } = await scanOrphans([root]);
      assert.equal(orphans[0]?.targetState, 'unknown');
      assert.match(errors[0]?.error ?? '', /z\.json: larger than the 256\.0 MiB limit/);
      const result = await sweepAll();
      assert.deepEqual(result.removed, []);
      assert.match(result.kept[0]!.reason, /its target could not be checked .*may be the only good copy/);
      assert.ok(existsSync(temp));
    });

    test('a zero-filled target under the limit is corrupt, so its valid temp is kept and recoverable', async () => {
      const target = file('z.json', Buffer.alloc(4096));
      file('z.json.vsctmp', '{"v":1}');
      const { orphans } = await scanOrphans([root]);
      assert.equal(orphans[0]?.targetState, 'corrupt');
      assert.deepEqual((await sweepAll()).removed, []);
      await recoverTarget(target);
      assert.equal(readFileSync(target, 'utf8'), '{"v":1}');
    });

    test('a temp of a missing non-JSON target cannot be judged and is kept; an empty one goes', async () => {
      const temp = file('notes.txt.vsctmp', 'the only copy of my notes');
      file('other.txt.vsctmp', '');
      const result = await sweepAll();
      assert.deepEqual(result.removed, [join(root, 'other.txt.vsctmp')]);
      assert.match(result.kept[0]!.reason, /the target is missing and this temp's content cannot be judged/);
      assert.ok(existsSync(temp));
    });
  });

  suite('special files and deep nesting', () => {
    test('5,000 "[" named like a temp is "not valid JSON (nested too deeply)" and never fatal to the walk', async () => {
      file('a.json', '{}');
      file('a.json.vsctmp', '['.repeat(5000));
      file('b.json', '['.repeat(5000));
      const good = file('b.json.vsctmp', '{"v":1}');
      const { orphans, errors } = await scanOrphans([root]);
      assert.deepEqual(errors, []);
      assert.equal(orphans.find((o) => o.path.endsWith('a.json.vsctmp'))?.validJson, false);
      const b = orphans.find((o) => o.path === good);
      assert.equal(b?.targetState, 'corrupt');
      assert.match(b?.note ?? '', /nested too deeply .* at line 1, column 513/);
      const result = await sweepAll();
      assert.deepEqual(result.removed, [join(root, 'a.json.vsctmp')]);
      await recoverTarget(join(root, 'b.json'));
      assert.equal(readFileSync(join(root, 'b.json'), 'utf8'), '{"v":1}');
    });

    test('a temp swapped for a FIFO between lstat and read does not hang the scan', async function () {
      this.timeout(10_000);
      file('a.json', '{}');
      const temp = join(root, 'a.json.vsctmp');
      execFileSync('mkfifo', [temp]);
      const regular = file('regular', '{}');
      // The walk's lstat saw a regular file; by the read it is a FIFO with no writer.
      const { readdirEntries: _async, readdirEntriesSync: _sync, ...listingByLstat } = nodeFs;
      const fs: FsLike = { ...listingByLstat, lstat: async (path) => nodeFs.lstat(path === temp ? regular : path) };
      const { orphans, errors } = await scanOrphans([root], { fs });
      assert.equal(orphans[0]?.validJson, null);
      assert.match(errors[0]?.error ?? '', /a\.json\.vsctmp: not a regular file \(a FIFO/);
    });

    test('recover on a FIFO target, or one linked to /dev/zero, stops at once and changes nothing', async function () {
      this.timeout(10_000);
      const fifo = join(root, 'f.json');
      execFileSync('mkfifo', [fifo]);
      file('f.json.vsctmp', '{"v":1}');
      await assert.rejects(
        recoverTarget(fifo),
        /Cannot judge .*f\.json, so it was left as it was: .*not a regular file \(a FIFO/,
      );
      const zero = join(root, 'z.json');
      symlinkSync('/dev/zero', zero);
      file('z.json.vsctmp', '{"v":1}');
      await assert.rejects(recoverTarget(zero), /z\.json: not a regular file \(a character device\)/);
      assert.ok(lstatSync(fifo).isFIFO());
      assert.ok(lstatSync(zero).isSymbolicLink());
    });

    test('a name that is not valid UTF-8 is reported by name instead of silently skipped', async () => {
      const bytes = (name: string) => Buffer.concat([Buffer.from([0xff]), Buffer.from(name)]);
      writeFileSync(Buffer.concat([Buffer.from(`${root}/`), bytes('.json')]), '{}');
      writeFileSync(Buffer.concat([Buffer.from(`${root}/`), bytes('.json.vsctmp')]), '{}');
      const { orphans, errors } = await scanOrphans([root]);
      assert.deepEqual(orphans, []);
      assert.match(errors[0]?.error ?? '', /not valid UTF-8/);
    });
  });

  suite('leftovers of a rename over an open file (FUSE, NFS)', () => {
    test('a missing target with a valid temp and a .fuse_hidden file is recovered from the temp', async () => {
      const target = join(root, 'state.json');
      file('state.json.vsctmp', '{"v":"new"}');
      const hidden = file('.fuse_hidden0000000a00000001', '{"v":"old"}');
      const result = await recoverTarget(target);
      assert.equal(result.backup, null);
      assert.equal(readFileSync(target, 'utf8'), '{"v":"new"}');
      assert.ok(existsSync(hidden), 'the old bytes stay where the file system left them');
    });

    test('with no valid temp, the error points at the .fuse_hidden or .nfs file that may hold the old bytes', async () => {
      file('.nfs000000000000000a00000001', '{"v":"old"}');
      await assert.rejects(
        recoverTarget(join(root, 'state.json')),
        /no temp files of it were found; \.nfs000000000000000a00000001 in the same folder may hold an older version/,
      );
      assert.deepEqual((await sweepAll()).removed, []);
    });
  });

  suite('re-check before replacing or unlinking', () => {
    test('recover stops, replaces nothing and says so when a write lands on the target while it copies', async () => {
      const target = file('s.json', '{"torn');
      file('s.json.vsctmp', '{"v":"temp"}');
      const landed = '{"v":"a concurrent write"}';
      // The concurrent write lands right after recover's backup is in place.
      const fs: FsLike = {
        ...nodeFs,
        rename: async (from, to) => {
          await nodeFs.rename(from, to);
          if (to.includes('.corrupt-')) writeFileSync(target, landed);
        },
      };
      await assert.rejects(recoverTarget(target, { fs }), (error: unknown) => {
        assert.ok(error instanceof RecoveryError);
        assert.equal(error.code, 'changed');
        assert.match(error.message, /s\.json changed while it was being recovered .*nothing was replaced/);
        return true;
      });
      assert.equal(readFileSync(target, 'utf8'), landed);
    });

    test('a folder swapped for a symlink after the sweep decided cannot redirect the unlink', async () => {
      const outside = realpathSync(mkdtempSync(join(tmpdir(), 'cs-victim-')));
      try {
        file('sub/k.json', '{}');
        file('sub/k.json.vsctmp', '{}');
        writeFileSync(join(outside, 'k.json'), '{}');
        writeFileSync(join(outside, 'k.json.vsctmp'), 'victim');
        const sub = join(root, 'sub');
        const orphans = (await scanOrphans([root])).orphans;
        let swapped = false;
        // After sweep's last look at the temp, the attacker swaps its folder for a link to a folder outside the root.
        const fs: FsLike = {
          ...nodeFs,
          lstat: async (path) => {
            const stats = await nodeFs.lstat(path);
            if (path === join(sub, 'k.json.vsctmp') && !swapped) {
              swapped = true;
              renameSync(sub, join(root, 'moved'));
              symlinkSync(outside, sub);
            }
            return stats;
          },
        };
        const result = await sweepOrphans(orphans, { olderThanMs: 0, roots: [root], fs });
        assert.ok(swapped);
        assert.deepEqual(result.removed, []);
        assert.match(result.kept[0]!.reason, /left in place/);
        assert.equal(readFileSync(join(outside, 'k.json.vsctmp'), 'utf8'), 'victim');
      } finally {
        rmSync(outside, { recursive: true, force: true });
      }
    });

    test('as root, folders another user owns or others may write are not entered, and say why', async function () {
      if (!isRoot) this.skip();
      file('theirs/a.json', '{}');
      file('theirs/a.json.vsctmp', '{}');
      file('open/a.json', '{}');
      file('open/a.json.vsctmp', '{}');
      file('mine/a.json', '{}');
      file('mine/a.json.vsctmp', '{}');
      chownSync(join(root, 'theirs'), 65534, 65534);
      chmodSync(join(root, 'open'), 0o777);
      const { orphans, errors } = await scanOrphans([root]);
      assert.deepEqual(
        orphans.map((o) => o.path),
        [join(root, 'mine/a.json.vsctmp')],
      );
      assert.deepEqual(errors.map((e) => [e.path, e.error, e.skipped]).sort(), [
        [join(root, 'open'), 'not entered: other users may write to it', true],
        [join(root, 'theirs'), 'not entered: it belongs to another user (uid 65534)', true],
      ]);
    });
  });

  suite('git-tracked files', () => {
    const git = (...args: string[]) =>
      spawnSync('git', ['-c', 'user.email=t@example.invalid', '-c', 'user.name=t', '-C', root, ...args], {
        encoding: 'utf8',
      });

    test('a tracked data.json.1700000000 is marked by scan and never swept; an untracked one is', async function () {
      if (git('--version').status !== 0) this.skip();
      assert.equal(git('init', '-q').status, 0);
      file('data.json', '{}');
      file('data.json.1700000001', '{"tracked":true}');
      assert.equal(git('add', 'data.json', 'data.json.1700000001').status, 0);
      assert.equal(git('commit', '-qm', 'fixtures').status, 0);
      const untracked = file('data.json.1700000002', '{}');
      const { orphans } = await scanOrphans([root]);
      const tracked = orphans.find((o) => o.path.endsWith('.1700000001'));
      assert.equal(tracked?.gitTracked, true);
      assert.equal(orphans.find((o) => o.path === untracked)?.gitTracked, undefined);
      const result = await sweepOrphans(orphans, { olderThanMs: 0, roots: [root] });
      assert.deepEqual(result.removed, [untracked]);
      assert.match(result.kept[0]!.reason, /tracked by git/);
    });
  });
});

suite('ageParts and formatAge: one set of thresholds for the CLI and the extension', () => {
  test('each unit up to the next threshold, rounded', () => {
    const cases: [number, string][] = [
      [0, '0 s'],
      [59_499, '59 s'],
      [60_000, '1 min'],
      [3_599_999, '60 min'],
      [3_600_000, '1 h'],
      [86_399_999, '24 h'],
      [86_400_000, '1 d'],
      [10 * 86_400_000, '10 d'],
    ];
    for (const [ms, expected] of cases) {
      assert.equal(formatAge(ms), expected, `${ms} ms`);
      const { count, unit } = ageParts(ms);
      assert.equal(`${count} ${unit}`, expected, `ageParts(${ms})`);
    }
  });
});
