import * as assert from 'node:assert/strict';
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { buildSync } from 'esbuild';
import type { ScanError } from '../../src/core/folderListing';
import { listingCacheFolder } from '../../src/core/orphans/listingCache';
import type { Orphan } from '../../src/core/orphans/orphanInspect';
import { OrphanTracker, type TrackerOptions } from '../../src/core/orphans/orphanTracker';
import { walkFolders } from '../../src/core/orphans/orphanWalk';
import { walkFoldersInWorkers } from '../../src/core/orphans/walkWorkers';

const support = join(__dirname, '..', 'support');
const isRoot = process.getuid?.() === 0;

/** What a walk found, comparable across walks: each orphan's fields that do not depend on when it was looked at. */
const found = (orphans: readonly Orphan[]) =>
  orphans.map(({ ageMs: _age, ...orphan }) => JSON.stringify(orphan)).sort();
const reported = (errors: readonly ScanError[]) => errors.map((error) => JSON.stringify(error)).sort();

/** A worker entry bundled as the extension's build bundles dist/walkWorker.js (a thread starts in ms, not via tsx). */
function bundled(entry: string, outdir: string): string {
  const outfile = join(outdir, `${basename(entry).replace(/\.\w+$/, '')}.js`);
  // As esbuild.mjs: jsonc-parser's UMD build hides its requires from the bundler.
  buildSync({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    mainFields: ['module', 'main'],
    logLevel: 'warning',
  });
  return outfile;
}

suite('the whole walk in worker threads', () => {
  let bundles: string;
  let WORKER: string;
  let FAILING_WORKER: string;
  let COUNTING_WORKER: string;
  suiteSetup(() => {
    bundles = mkdtempSync(join(tmpdir(), 'cs-walk-worker-bundles-'));
    WORKER = bundled(join(__dirname, '..', '..', 'src', 'core', 'orphans', 'walkWorker.ts'), bundles);
    FAILING_WORKER = bundled(join(support, 'failingWalkWorker.cjs'), bundles);
    COUNTING_WORKER = bundled(join(support, 'countingWalkWorker.cjs'), bundles);
  });
  suiteTeardown(() => rmSync(bundles, { recursive: true, force: true }));
  let base: string;
  let root: string;
  let expectedOrphans: number;
  const file = (relativePath: string, content = '{}\n') => {
    const path = join(root, relativePath);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, content);
    return path;
  };

  /**
   * A project-shaped tree with orphans everywhere a walk goes (nested node_modules, build output, deep source
   * folders, a folder of 120 temps) and in places it must not go (.git, an excluded folder, behind a symlink, and as
   * root a folder another user owns and one everyone may write).
   */
  function projectTree(): void {
    let orphans = 0;
    const orphan = (dir: string, n: number) => {
      file(`${dir}/data${n}.json`, '{"ok":true}\n');
      file(`${dir}/data${n}.json.tmp.0123abcd${String(n).padStart(4, '0')}`, '{"torn":');
      orphans += 1;
    };
    for (let p = 0; p < 20; p++) {
      for (let f = 0; f < 12; f++) file(`node_modules/pkg${p}/lib/part${f % 3}/chunk${f}.js`, '');
      file(`node_modules/pkg${p}/node_modules/dep/package.json`);
      if (p % 7 === 0) {
        file(`node_modules/pkg${p}/node_modules/dep/package.json.3141592653`, '{"v":2}');
        orphans += 1;
      }
    }
    for (let d = 0; d < 30; d++) {
      for (let f = 0; f < 10; f++) file(`src/m${d % 6}/d${d}/file${f}.ts`, '');
      if (d % 5 === 0) orphan(`src/m${d % 6}/d${d}`, d);
    }
    for (let f = 0; f < 50; f++) file(`out/chunk-${f}.0000a0b7.js`, '');
    file('out/main.js.vsctmp', '{');
    orphans += 1;
    for (let n = 0; n < 120; n++) orphan('state/many', n);
    orphan('a/b/c/d/e/f/g/h', 1);
    // Never walked:
    orphan('.git/objects', 1);
    orphans -= 1;
    orphan('excluded', 1);
    orphans -= 1;
    mkdirSync(join(base, 'elsewhere'));
    writeFileSync(join(base, 'elsewhere', 'x.json'), '{}');
    writeFileSync(join(base, 'elsewhere', 'x.json.vsctmp'), '{');
    symlinkSync(join(base, 'elsewhere'), join(root, 'link'));
    // Names that are not valid UTF-8 cross the thread as bytes: a folder not entered, a temp-like file reported.
    const latin1 = (name: string) => Buffer.concat([Buffer.from(`${root}/`), Buffer.from(name, 'latin1')]);
    mkdirSync(latin1('caf\xe9'));
    writeFileSync(Buffer.concat([latin1('caf\xe9'), Buffer.from('/x.json.vsctmp')]), '{');
    mkdirSync(join(root, 'names'));
    writeFileSync(join(root, 'names', 'caf.json'), '{}');
    writeFileSync(latin1('names/caf\xe9.json.vsctmp'), '{');
    if (isRoot) {
      orphan('theirs', 1);
      chownSync(join(root, 'theirs'), 65534, 65534);
      orphan('open', 1);
      chmodSync(join(root, 'open'), 0o777);
      orphans -= 2;
    }
    expectedOrphans = orphans;
  }

  setup(() => {
    base = realpathSync(mkdtempSync(join(tmpdir(), 'cs-walk-workers-')));
    root = join(base, 'ws');
    mkdirSync(root);
    projectTree();
  });
  teardown(() => rmSync(base, { recursive: true, force: true }));

  async function walked(walk: AsyncGenerator<Orphan>): Promise<Orphan[]> {
    const orphans: Orphan[] = [];
    for await (const orphan of walk) orphans.push(orphan);
    return orphans;
  }

  test('finds every orphan the walk in one thread finds, and refuses and reports the same folders', async () => {
    const options = (errors: ScanError[]) => ({
      workspaceExclude: ['excluded'],
      onError: (error: ScanError) => errors.push(error),
    });
    const start = [{ dir: root, relativeDir: '' }];
    const hereErrors: ScanError[] = [];
    const here = await walked(walkFolders(start, options(hereErrors)));
    for (const count of [1, 2, 3]) {
      const errors: ScanError[] = [];
      const inWorkers = await walked(walkFoldersInWorkers(start, options(errors), { count, script: WORKER }));
      assert.equal(inWorkers.length, expectedOrphans, `${count} worker(s)`);
      assert.deepEqual(found(inWorkers), found(here), `${count} worker(s)`);
      assert.deepEqual(reported(errors), reported(hereErrors), `${count} worker(s)`);
    }
    assert.equal(here.length, expectedOrphans);
    assert.equal(hereErrors.filter((error) => error.path.includes('caf\\xe9')).length, 2, JSON.stringify(hereErrors));
    if (isRoot) {
      assert.deepEqual(
        hereErrors
          .filter((error) => error.skipped)
          .map((error) => error.path.slice(root.length + 1))
          .sort(),
        ['caf\\xe9', 'open', 'theirs'],
      );
    }
  });

  test('the tracker hands a whole walk to worker threads (not again for a small folder), and finds what it found in one thread', async () => {
    const log = join(base, 'reads.log');
    writeFileSync(log, '');
    process.env.CS_WALK_WORKER_LOG = log;
    const track = async (options: TrackerOptions) => {
      const tracker = new OrphanTracker(options);
      await tracker.setRoots([{ path: root, workspaceExclude: ['excluded'] }]);
      return tracker.walk();
    };
    const reads = () => readFileSync(log, 'utf8').trim().split('\n').filter(Boolean);
    try {
      const here = await track({});
      const tracker = new OrphanTracker({ walkWorkers: { count: 2, script: COUNTING_WORKER } });
      await tracker.setRoots([{ path: root, workspaceExclude: ['excluded'] }]);
      // The first walk of a folder does not know its size: threads.
      const inWorkers = await tracker.walk();
      const readInWorkers = reads();
      // It saw a few hundred files: the next walk is here, where starting threads would cost more than they save.
      const again = await tracker.walk();
      assert.deepEqual(reads(), readInWorkers, 'no worker started for a small folder walked before');
      assert.deepEqual(found(again), found(here));
      assert.deepEqual(found(inWorkers), found(here));
      assert.equal(inWorkers.length, expectedOrphans);
      const threads = new Set(readInWorkers.map((line) => line.split(' ')[0]));
      assert.equal(threads.size, 2, 'two worker threads listed folders');
      assert.ok(readInWorkers.length > 100, `the workers read ${readInWorkers.length} folders, most of the tree`);
    } finally {
      delete process.env.CS_WALK_WORKER_LOG;
    }
  });

  test('workers use the listing cache: each gets its part of the tree, and the next walk reads only changed folders', async () => {
    const log = join(base, 'reads.log');
    writeFileSync(log, '');
    process.env.CS_WALK_WORKER_LOG = log;
    const reads = () => readFileSync(log, 'utf8').trim().split('\n').filter(Boolean);
    const store = listingCacheFolder(join(base, 'storage'), {
      statfs: async () => ({ type: 0xef53 }),
      platform: 'linux',
      now: () => Date.now() + 10_000, // the tree was just made: seen from 10 s later it is settled
      log: (message) => logged.push(message),
    });
    const logged: string[] = [];
    const track = async (script: string) => {
      const tracker = new OrphanTracker({ walkWorkers: { count: 2, script }, listingCache: store });
      await tracker.setRoots([{ path: root, workspaceExclude: ['excluded'] }]);
      return { orphans: await tracker.walk(), stats: tracker.stats };
    };
    try {
      const here = await walked(walkFolders([{ dir: root, relativeDir: '' }], { workspaceExclude: ['excluded'] }));
      const cold = await track(COUNTING_WORKER);
      const coldReads = reads();
      assert.ok(coldReads.length > 100, `the workers read ${coldReads.length} folders`);
      assert.equal(new Set(coldReads.map((line) => line.split(' ')[0])).size, 2, 'a cold walk is dealt to both');
      assert.deepEqual(found(cold.orphans), found(here));
      writeFileSync(join(root, 'src/m1/d1/late.json'), '{}');
      writeFileSync(join(root, 'src/m1/d1/late.json.vsctmp'), '{');
      // A warm walk: one worker parses the cache and walks it; it reads only the folders holding temp-like names
      // (always read) and the one that changed.
      const warm = await track(COUNTING_WORKER);
      const warmReads = reads().slice(coldReads.length);
      assert.ok(warmReads.length > 0 && warmReads.length < 20, warmReads.join('\n'));
      assert.ok(warmReads.some((line) => line.endsWith('src/m1/d1')));
      assert.equal(new Set(warmReads.map((line) => line.split(' ')[0])).size, 1, 'one worker');
      assert.ok(warm.stats.foldersFromCache > 100, JSON.stringify(warm.stats));
      assert.equal(warm.stats.foldersRead + warm.stats.foldersFromCache, cold.stats.foldersRead);
      assert.equal(warm.orphans.length, expectedOrphans + 1);
      // A worker that fails: the walk goes on here, with the cache parsed here.
      const failed = await track(FAILING_WORKER);
      assert.deepEqual(found(failed.orphans), found(warm.orphans));
      assert.ok(failed.stats.foldersFromCache > 100, JSON.stringify(failed.stats));
      // What the worker sent back as text is the cache the next walk reads.
      const after = await track(COUNTING_WORKER);
      assert.equal(after.stats.foldersRead + after.stats.foldersFromCache, cold.stats.foldersRead);
      assert.ok(after.stats.foldersFromCache > 100, JSON.stringify(after.stats));
      // A cache file the worker finds broken is told to the log, and the walk reads everything.
      const file = readdirSync(join(base, 'storage'))[0]!;
      writeFileSync(join(base, 'storage', file), '{"format":');
      const broken = await track(COUNTING_WORKER);
      assert.equal(broken.stats.foldersRead, cold.stats.foldersRead);
      assert.match(logged.join('\n'), /not JSON/);
    } finally {
      delete process.env.CS_WALK_WORKER_LOG;
    }
  });

  test('a worker that dies midway, or cannot start, is replaced by a walk here: nothing missed, nothing twice, no drift', async () => {
    const start = [{ dir: root, relativeDir: '' }];
    const options = { workspaceExclude: ['excluded'] };
    const hereErrors: ScanError[] = [];
    const here = found(await walked(walkFolders(start, { ...options, onError: (error) => hereErrors.push(error) })));
    for (const script of [FAILING_WORKER, join(base, 'no-such-worker.js')]) {
      const errors: ScanError[] = [];
      const failures: string[] = [];
      const orphans = await walked(
        walkFoldersInWorkers(
          start,
          { ...options, onError: (error) => errors.push(error) },
          { count: 2, script, onFailure: (message) => failures.push(message) },
        ),
      );
      assert.deepEqual(found(orphans), here, script);
      assert.ok(failures.length > 0 && failures.every((message) => message.includes("a walk's worker failed")), script);
      // Told apart from what a walk could not read: a failed worker is no drift, so no reason for another walk.
      assert.deepEqual(reported(errors), reported(hereErrors), script);
    }
  });
});
