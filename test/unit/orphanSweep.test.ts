import * as assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { nodeFs } from '../../src/core/fs';
import { liveTempPaths } from '../../src/core/names/tempNames';
import { type Orphan, scanOrphans, sweepOrphans } from '../../src/core/orphans/orphans';
import { writeAgedFile } from '../support/agedFiles';
import { errnoError } from '../support/faultyFs';
import { deadPid, spawnIdleProcess } from '../support/lockContenders';

const HOUR = 3_600_000;
const OLD = 2 * HOUR;

suite('sweepOrphans', () => {
  let root: string;
  const file = (relativePath: string, content = '{}\n', ageMs = OLD) =>
    writeAgedFile(join(root, relativePath), content, ageMs);
  const scan = async () => (await scanOrphans([root])).orphans;
  const names = () => readdirSync(root).sort();

  setup(() => {
    root = realpathSync(mkdtempSync(join(tmpdir(), 'cs-sweep-')));
  });
  teardown(() => rmSync(root, { recursive: true, force: true }));

  test('removes recognised orphans older than the threshold and keeps the young ones', async () => {
    file('a.json');
    const old = file('a.json.3141592653');
    const young = file('a.json.vsctmp', '{}', 60_000);
    const result = await sweepOrphans(await scan(), { olderThanMs: 10 * 60_000, roots: [root] });
    assert.deepEqual(result.removed, [old]);
    assert.deepEqual(result.failed, []);
    assert.equal(result.kept.length, 1);
    assert.equal(result.kept[0]!.path, young);
    assert.match(result.kept[0]!.reason, /younger than 10 min/);
    assert.deepEqual(names(), ['a.json', 'a.json.vsctmp']);
  });

  test('never touches rotated logs, numbered backups, draft.tmp or directories', async () => {
    file('app.log', 'x');
    for (let n = 1; n <= 20; n++) file(`app.log.${n}`, 'log');
    file('data.json');
    file('data.json.2');
    file('notes', 'x');
    file('notes.2024', 'x');
    file('draft.tmp', 'mine');
    mkdirSync(join(root, 'cache.json.vsctmp'));
    const before = names();
    const orphans = await scan();
    assert.deepEqual(orphans, []);
    const result = await sweepOrphans(orphans, { olderThanMs: 0, roots: [root] });
    assert.deepEqual(result, { removed: [], kept: [], failed: [] });
    assert.deepEqual(names(), before);
  });

  test('dry run lists what would go and touches nothing', async () => {
    file('a.json');
    const temp = file('a.json.vsctmp');
    const result = await sweepOrphans(await scan(), { olderThanMs: 0, roots: [root], dryRun: true });
    assert.deepEqual(result.removed, [temp]);
    assert.ok(existsSync(temp));
  });

  test('a temp this process is writing right now is kept, even at --older-than 0', async () => {
    file('s.json');
    const temp = file(`s.json.cs-${process.pid}-${threadId}-1-0123abcd.tmp`);
    const orphans = await scan();
    liveTempPaths.add(temp);
    try {
      const result = await sweepOrphans(orphans, { olderThanMs: 0, roots: [root] });
      assert.deepEqual(result.removed, []);
      assert.match(result.kept[0]!.reason, /this process is writing it/);
    } finally {
      liveTempPaths.delete(temp);
    }
    // Not in the registry: a leftover from a dead process that had our pid, so it goes.
    const again = await sweepOrphans(orphans, { olderThanMs: 0, roots: [root] });
    assert.deepEqual(again.removed, [temp]);
  });

  suite('temps of ours from other processes', () => {
    let child: ChildProcess;
    setup(async () => {
      child = await spawnIdleProcess();
    });
    teardown(() => {
      child.kill('SIGKILL');
    });

    test('a young temp whose writer is alive is kept; an old one, or a dead writer’s, goes', async () => {
      const livePid = child.pid!;
      const dead = deadPid();
      file('s.json');
      const liveYoung = file(`s.json.cs-${livePid}-0-1-0123abcd.tmp`, '{}', 1000);
      const liveOld = file(`s.json.cs-${livePid}-0-2-0123abcd.tmp`, '{}', 11 * 60_000);
      const deadYoung = file(`s.json.cs-${dead}-0-1-0123abcd.tmp`, '{}', 1000);
      const result = await sweepOrphans(await scan(), { olderThanMs: 0, roots: [root] });
      assert.deepEqual(result.removed.sort(), [deadYoung, liveOld].sort());
      assert.deepEqual(
        result.kept.map((k) => k.path),
        [liveYoung],
      );
      assert.match(result.kept[0]!.reason, new RegExp(`writer \\(pid ${livePid}\\) is still running`));
    });
  });

  test('nothing outside the roots is removed', async () => {
    file('in/a.json');
    file('in/a.json.vsctmp');
    const outside = file('out/b.json.vsctmp');
    const orphans = await scan();
    const result = await sweepOrphans(orphans, { olderThanMs: 0, roots: [join(root, 'in')] });
    assert.deepEqual(result.removed, [join(root, 'in/a.json.vsctmp')]);
    assert.deepEqual(
      result.kept.map(({ path, reason }) => ({ path, reason })),
      [{ path: outside, reason: 'outside the roots' }],
    );
    assert.ok(existsSync(outside));
  });

  test('nothing reached through a symlink is removed, and a symlink is never removed', async () => {
    const real = join(root, 'real');
    file('real/a.json');
    const temp = file('real/a.json.vsctmp');
    symlinkSync(real, join(root, 'via'));
    const [orphan] = await scan();
    // A hand-made list, as a stale UI might pass: the same file seen through the symlinked folder.
    const throughLink: Orphan = { ...orphan!, path: join(root, 'via/a.json.vsctmp'), target: join(root, 'via/a.json') };
    const result = await sweepOrphans([throughLink], { olderThanMs: 0, roots: [root] });
    assert.deepEqual(
      result.kept.map(({ path, reason }) => ({ path, reason })),
      [{ path: throughLink.path, reason: 'reached through a symlink' }],
    );
    assert.ok(existsSync(temp));

    // The file swapped for a symlink after the scan.
    rmSync(temp);
    symlinkSync(join(real, 'a.json'), temp);
    const swapped = await sweepOrphans([orphan!], { olderThanMs: 0, roots: [root] });
    assert.deepEqual(
      swapped.kept.map(({ path, reason }) => ({ path, reason })),
      [{ path: temp, reason: 'not a regular file' }],
    );
  });

  test('a directory is never removed, even if a stale list names one', async () => {
    file('a.json');
    const temp = file('a.json.vsctmp');
    const [orphan] = await scan();
    rmSync(temp);
    mkdirSync(temp);
    const result = await sweepOrphans([orphan!], { olderThanMs: 0, roots: [root] });
    assert.deepEqual(
      result.kept.map(({ path, reason }) => ({ path, reason })),
      [{ path: temp, reason: 'not a regular file' }],
    );
  });

  test('a file changed since the scan is kept (someone is writing it)', async () => {
    file('a.json');
    const temp = file('a.json.vsctmp');
    const orphans = await scan();
    writeFileSync(temp, '{"more":"data"}');
    const result = await sweepOrphans(orphans, { olderThanMs: 0, roots: [root] });
    assert.match(result.kept[0]!.reason, /changed since the scan/);
  });

  test('a stale or hand-made entry that is no longer recognised is kept', async () => {
    file('data.json');
    const backup = file('data.json.2');
    const fake: Orphan = {
      path: backup,
      target: join(root, 'data.json'),
      kind: 'write-file-atomic',
      size: 3,
      mtimeMs: (await nodeFs.lstat(backup)).mtimeMs,
      ageMs: OLD,
      validJson: true,
      targetState: 'ok',
    };
    const result = await sweepOrphans([fake], { olderThanMs: 0, roots: [root] });
    assert.deepEqual(
      result.kept.map(({ path, reason }) => ({ path, reason })),
      [{ path: backup, reason: 'not recognised as a temp file' }],
    );
    assert.ok(existsSync(backup));
  });

  test('a weak-pattern temp whose target was deleted since the scan is no longer recognised', async () => {
    file('a.json');
    file('a.json.3141592653');
    const orphans = await scan();
    rmSync(join(root, 'a.json'));
    const result = await sweepOrphans(orphans, { olderThanMs: 0, roots: [root] });
    assert.equal(result.kept[0]!.reason, 'not recognised as a temp file');
  });

  test('the only valid copy of a missing, empty or corrupt target is kept unless includeRecoverable', async () => {
    file('gone.json.vsctmp', '{"only":"copy"}');
    file('empty.json', '');
    file('empty.json.vsctmp', '{"v":1}');
    file('torn.json', '{"v":');
    file('torn.json.vsctmp', '{"v":2}');
    file('torn.json.tmp-1234567890abcdef', '{"v":'); // an invalid temp of a broken target is useless
    const orphans = await scan();
    const kept = await sweepOrphans(orphans, { olderThanMs: 0, roots: [root] });
    assert.deepEqual(kept.removed, [join(root, 'torn.json.tmp-1234567890abcdef')]);
    assert.equal(kept.kept.length, 3);
    for (const k of kept.kept)
      assert.match(k.reason, /^the target is (missing|empty|corrupt) and this is a valid copy$/);
    const all = await sweepOrphans(await scan(), { olderThanMs: 0, roots: [root], includeRecoverable: true });
    assert.equal(all.removed.length, 3);
  });

  test('a per-file error (EACCES) is reported and the sweep goes on', async () => {
    file('a.json');
    const denied = file('a.json.vsctmp');
    const fine = file('a.json.3141592653');
    const fs = {
      ...nodeFs,
      unlinkChecked: undefined, // so the injected unlink is the one used
      unlink: async (path: string) => {
        if (path === denied) throw errnoError('EACCES', 'unlink', path);
        await nodeFs.unlink(path);
      },
    };
    const result = await sweepOrphans(await scan(), { olderThanMs: 0, roots: [root], fs });
    assert.deepEqual(result.removed, [fine]);
    assert.equal(result.failed.length, 1);
    assert.equal(result.failed[0]!.path, denied);
    assert.match(result.failed[0]!.error, /EACCES/);
    assert.ok(existsSync(denied));
  });

  test('a custom remove (move to trash) is used; progress and abort work', async () => {
    file('a.json');
    file('a.json.vsctmp');
    file('a.json.3141592653');
    const trashed: string[] = [];
    const progress: string[] = [];
    const orphans = await scan();
    const result = await sweepOrphans(orphans, {
      olderThanMs: 0,
      roots: [root],
      remove: async (path) => {
        trashed.push(basename(path));
      },
      onProgress: (done, total) => progress.push(`${done}/${total}`),
    });
    assert.deepEqual(trashed.sort(), ['a.json.3141592653', 'a.json.vsctmp']);
    assert.equal(result.removed.length, 2);
    assert.deepEqual(progress, ['1/2', '2/2']);
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(sweepOrphans(orphans, { olderThanMs: 0, roots: [root], signal: controller.signal }), {
      name: 'AbortError',
    });
  });

  test('custom patterns are re-recognised with the same extraPatterns', async () => {
    file('notes.md', 'x');
    const bak = file('notes.md.bak~', 'x');
    const { orphans } = await scanOrphans([root], { extraPatterns: ['{target}.bak~'] });
    assert.equal(orphans[0]?.kind, 'custom');
    const without = await sweepOrphans(orphans, { olderThanMs: 0, roots: [root] });
    assert.equal(without.kept[0]!.reason, 'not recognised as a temp file');
    const withPatterns = await sweepOrphans(orphans, {
      olderThanMs: 0,
      roots: [root],
      extraPatterns: ['{target}.bak~'],
    });
    assert.deepEqual(withPatterns.removed, [bak]);
  });
});
