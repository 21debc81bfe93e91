import * as assert from 'node:assert/strict';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescriptorsExhaustedError, Limiter, MAX_OPEN_FILES, mapBounded } from '../../src/core/boundedOpens';
import { type FsLike, nodeFs } from '../../src/core/fs';
import { scanOrphans, sweepOrphans } from '../../src/core/orphans/orphans';
import { OrphanTracker } from '../../src/core/orphans/orphanTracker';
import { plantTempPairs } from '../support/agedFiles';
import { errnoError } from '../support/faultyFs';

const TEMPS = 600;
const HOUR = 3_600_000;

/**
 * The real file system, counting the files held open at once (reads, listings, opens); above `limit` it fails with
 * EMFILE, as a process at its `ulimit -n` would. `peak` is the most ever held at once.
 */
class CountingFs {
  open = 0;
  peak = 0;
  readonly fs: FsLike;

  constructor(limit: number) {
    const hold = async <T>(syscall: string, path: string, operation: () => Promise<T>): Promise<T> => {
      if (this.open >= limit) throw errnoError('EMFILE', syscall, path);
      this.open += 1;
      this.peak = Math.max(this.peak, this.open);
      try {
        // A real read takes a while; without this every read would finish before the next one starts.
        await new Promise((resolveLater) => setTimeout(resolveLater, 1));
        return await operation();
      } finally {
        this.open -= 1;
      }
    };
    this.fs = {
      ...nodeFs,
      open: (path, flags, mode) => hold('open', path, () => nodeFs.open(path, flags, mode)),
      readFile: (path, maxBytes) => hold('open', path, () => nodeFs.readFile(path, maxBytes)),
      readdir: (path) => hold('scandir', path, () => nodeFs.readdir(path)),
      readdirEntries: (path) => hold('scandir', path, () => nodeFs.readdirEntries!(path)),
    };
  }
}

suite('bounded opens: no fan-out holds more than MAX_OPEN_FILES open, and EMFILE is never a result', () => {
  let root: string;

  /** `count` temps in one folder, each with its own valid target, all an hour old. */
  const plantTemps = (count: number, dir = root) => plantTempPairs(dir, count, HOUR);

  setup(() => {
    root = realpathSync(mkdtempSync(join(tmpdir(), 'cs-fds-')));
  });
  teardown(() => rmSync(root, { recursive: true, force: true }));

  test(`a walk of ${TEMPS} temps in one folder holds at most MAX_OPEN_FILES open and judges every one`, async () => {
    plantTemps(TEMPS);
    const counting = new CountingFs(MAX_OPEN_FILES);
    const { orphans, errors } = await scanOrphans([root], { fs: counting.fs });
    assert.deepEqual(errors, []);
    assert.equal(orphans.length, TEMPS);
    assert.ok(
      orphans.every((orphan) => orphan.validJson === true && orphan.targetState === 'ok' && orphan.note === undefined),
    );
    assert.ok(counting.peak <= MAX_OPEN_FILES, `peak ${counting.peak}`);
  });

  test('the tracker re-judging every temp of one folder after a burst of events keeps the same bound', async () => {
    plantTemps(TEMPS);
    const counting = new CountingFs(MAX_OPEN_FILES);
    const errors: string[] = [];
    const tracker = new OrphanTracker({
      fs: counting.fs,
      onError: ({ path, error }) => errors.push(`${path}: ${error}`),
    });
    await tracker.walk(await tracker.setRoots([{ path: root }]));
    for (let i = 0; i < TEMPS; i++) writeFileSync(join(root, `t${i}.json`), '{"target": "changed"}\n');
    await tracker.apply(
      Array.from({ length: TEMPS }, (_, i) => ({ kind: 'changed' as const, path: join(root, `t${i}.json`) })),
    );
    assert.deepEqual(errors, []);
    assert.equal(tracker.orphans().length, TEMPS);
    assert.ok(tracker.orphans().every((orphan) => orphan.targetState === 'ok' && orphan.validJson === true));
    assert.ok(counting.peak <= MAX_OPEN_FILES, `peak ${counting.peak}`);
  });

  test('EMFILE that passes (other code held descriptors for a moment) is waited out: every temp judged, nothing reported', async () => {
    plantTemps(200);
    let refusals = 150;
    const fs: FsLike = {
      ...nodeFs,
      readFile: async (path, maxBytes) => {
        if (refusals-- > 0) throw errnoError('EMFILE', 'open', path);
        return nodeFs.readFile(path, maxBytes);
      },
    };
    const { orphans, errors } = await scanOrphans([root], { fs });
    assert.deepEqual(errors, []);
    assert.equal(orphans.length, 200);
    assert.ok(orphans.every((orphan) => orphan.validJson === true && orphan.targetState === 'ok'));
  });

  test('EMFILE that lasts rejects the walk (DescriptorsExhaustedError); no temp or target is judged "unknown" for it', async () => {
    plantTemps(5);
    const fs: FsLike = { ...nodeFs, readFile: async (path) => Promise.reject(errnoError('EMFILE', 'open', path)) };
    const judged: string[] = [];
    const walk = scanOrphans([root], { fs, onError: ({ path, error }) => judged.push(`${path}: ${error}`) });
    await assert.rejects(walk, DescriptorsExhaustedError);
    assert.deepEqual(judged, []);
  });

  test('EMFILE on a folder listing is waited out, never "cannot read" the folder', async () => {
    plantTemps(3, join(root, 'sub'));
    let refusals = 3;
    const fs: FsLike = {
      ...nodeFs,
      readdirEntriesSync: (path) => {
        if (refusals-- > 0) throw errnoError('EMFILE', 'scandir', path);
        return nodeFs.readdirEntriesSync!(path);
      },
    };
    const { orphans, errors } = await scanOrphans([root], { fs });
    assert.deepEqual(errors, []);
    assert.equal(orphans.length, 3);
  });

  test('sweep out of descriptors removes nothing and reports every orphan unchecked (failed), never kept as judged', async () => {
    plantTemps(4);
    const { orphans } = await scanOrphans([root]);
    const fs: FsLike = { ...nodeFs, readFile: async (path) => Promise.reject(errnoError('EMFILE', 'open', path)) };
    const result = await sweepOrphans(orphans, { roots: [root], olderThanMs: 0, fs });
    assert.deepEqual(result.removed, []);
    assert.deepEqual(result.kept, []);
    assert.equal(result.failed.length, 4);
    assert.ok(result.failed.every(({ error }) => /out of file descriptors/.test(error)));
  });

  test('Limiter and mapBounded: never more than the limit at once, results in order, first failure thrown', async () => {
    let running = 0;
    let peak = 0;
    const todo = async (value: number) => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((resolveLater) => setTimeout(resolveLater, value % 3));
      running -= 1;
      return value * 2;
    };
    const items = Array.from({ length: 100 }, (_, i) => i);
    assert.deepEqual(
      await mapBounded(items, 7, todo),
      items.map((i) => i * 2),
    );
    assert.equal(peak, 7);
    peak = 0;
    const limiter = new Limiter(5);
    assert.deepEqual(
      await Promise.all(items.map((i) => limiter.run(() => todo(i)))),
      items.map((i) => i * 2),
    );
    assert.equal(peak, 5);
    let started = 0;
    await assert.rejects(
      mapBounded(items, 4, async (i) => {
        started += 1;
        if (i === 10) throw new Error('ten');
        await new Promise((resolveLater) => setTimeout(resolveLater, 1));
      }),
      /ten/,
    );
    assert.ok(started < 20, `started ${started} after the failure`);
  });
});
