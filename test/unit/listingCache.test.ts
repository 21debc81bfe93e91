import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  chownSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ScanError } from '../../src/core/folderListing';
import { type FsLike, nodeFs } from '../../src/core/fs';
import {
  type CachedFolder,
  cacheFileOf,
  LISTING_CACHE_RULES,
  type ListingCacheStore,
  listingCacheFolder,
  parseListingCache,
  provenBy,
} from '../../src/core/orphans/listingCache';
import type { Orphan } from '../../src/core/orphans/orphanInspect';
import { OrphanTracker, type TrackerOptions } from '../../src/core/orphans/orphanTracker';
import { scanOrphans } from '../../src/core/orphans/orphanWalk';

/** What a walk found, comparable across walks (without the age, which depends on when it was looked at). */
const found = (orphans: readonly Orphan[]) =>
  orphans.map(({ ageMs: _age, ...orphan }) => JSON.stringify(orphan)).sort();

/** Far enough ahead that every folder made by the test counts as settled (its ctime 2 s older than "now"). */
const LATER_MS = 10_000;

suite('the listing cache of whole walks', () => {
  let base: string;
  let root: string;
  let cacheDir: string;
  let logged: string[];
  let reads: string[];
  const file = (relativePath: string, content = '{}\n') => {
    const path = join(root, relativePath);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, content);
    return path;
  };
  /** nodeFs, counting each folder read. */
  const countingFs: FsLike = {
    ...nodeFs,
    readdirEntriesSync: (path) => {
      reads.push(path);
      return nodeFs.readdirEntriesSync!(path);
    },
  };
  const store = (extra: Partial<ListingCacheStore> = {}): ListingCacheStore => ({
    ...listingCacheFolder(cacheDir, {
      statfs: async () => ({ type: 0xef53 }),
      platform: 'linux',
      now: () => Date.now() + LATER_MS,
      log: (message) => logged.push(message),
    }),
    ...extra,
  });

  async function walk(options: Partial<TrackerOptions> = {}, fresh = false) {
    reads = [];
    const errors: ScanError[] = [];
    const tracker = new OrphanTracker({
      fs: countingFs,
      listingCache: store(),
      onError: (error) => errors.push(error),
      ...options,
    });
    await tracker.walk(await tracker.setRoots([{ path: root }]), { fresh });
    return { orphans: tracker.orphans(), stats: tracker.stats, reads: [...reads], errors };
  }

  /** A project-shaped tree: source folders, nested node_modules, build output, orphans in a few folders, a .git. */
  function projectTree(): void {
    for (let p = 0; p < 6; p++) for (let f = 0; f < 4; f++) file(`node_modules/pkg${p}/lib/part${f % 2}/c${f}.js`, '');
    for (let d = 0; d < 12; d++) for (let f = 0; f < 5; f++) file(`src/m${d % 3}/d${d}/file${f}.ts`, '');
    file('src/m0/d0/data.json', '{"ok":true}\n');
    file('src/m0/d0/data.json.tmp.0123abcd0001', '{"torn":');
    file('state/s.json', '{}\n');
    file('state/s.json.vsctmp', '{');
    file('.git/objects/x.json.vsctmp', '{');
    file('a/b/c/d/e/deep.ts', '');
  }
  const folderCount = () => {
    let count = 0;
    const visit = (dir: string) => {
      count += 1;
      for (const entry of readdirSync(dir, { withFileTypes: true }))
        if (entry.isDirectory() && entry.name !== '.git') visit(join(dir, entry.name));
    };
    visit(root);
    return count;
  };

  setup(() => {
    base = realpathSync(mkdtempSync(join(tmpdir(), 'cs-listing-cache-')));
    root = join(base, 'ws');
    cacheDir = join(base, 'storage');
    mkdirSync(root);
    logged = [];
    projectTree();
  });
  teardown(() => rmSync(base, { recursive: true, force: true }));

  test('a warm walk of an unchanged, settled tree reads only the folders with temps and finds the same orphans', async () => {
    const cold = await walk();
    assert.equal(cold.reads.length, folderCount());
    assert.equal(cold.stats.foldersFromCache, 0);
    const warm = await walk();
    // Only the two folders holding names a rule may take for temps are read: their judging needs the entries.
    assert.deepEqual(warm.reads.sort(), [join(root, 'src/m0/d0'), join(root, 'state')]);
    assert.equal(warm.stats.foldersRead, 2);
    assert.equal(warm.stats.foldersFromCache, folderCount() - 2);
    assert.equal(warm.stats.listingCache, 'used');
    assert.deepEqual(found(warm.orphans), found(cold.orphans));
    assert.deepEqual(found(warm.orphans), found((await scanOrphans([root])).orphans));
    assert.equal(warm.orphans.length, 2);
    assert.deepEqual(logged, []);
  });

  test('settings that filter folders apply to cached listings as to fresh ones, with no new cache needed', async () => {
    await walk();
    const skipping = await walk({ skipNodeModules: true, exclude: ['src/m0/**'] });
    assert.equal(skipping.orphans.length, 1);
    assert.ok(!skipping.reads.some((path) => path.includes('node_modules')));
    const all = await walk();
    assert.equal(all.orphans.length, 2);
    assert.ok(all.stats.foldersFromCache > 0);
  });

  test('a temp created after the cache was written is found (its folder changed, so it is read)', async () => {
    await walk();
    file('src/m1/d4/late.json', '{"ok":true}\n');
    file('src/m1/d4/late.json.tmp.0123abcd0002', '{"torn":');
    file('a/b/c/d/e/x.vsctmp', '{');
    const warm = await walk();
    assert.ok(warm.reads.includes(join(root, 'src/m1/d4')));
    assert.ok(warm.reads.includes(join(root, 'a/b/c/d/e')));
    assert.deepEqual(found(warm.orphans), found((await scanOrphans([root])).orphans));
    assert.equal(warm.orphans.length, 4);
  });

  test('a folder renamed away and replaced by another (a new node) is read again', async () => {
    await walk();
    renameSync(join(root, 'src/m2/d5'), join(base, 'away'));
    mkdirSync(join(root, 'src/m2/d5'));
    mkdirSync(join(root, 'src/m2/d5/inner'));
    writeFileSync(join(root, 'src/m2/d5/inner/t.json'), '{}');
    writeFileSync(join(root, 'src/m2/d5/inner/t.json.vsctmp'), '{');
    const warm = await walk();
    assert.ok(warm.reads.includes(join(root, 'src/m2/d5')));
    assert.ok(warm.orphans.some((orphan) => orphan.path === join(root, 'src/m2/d5/inner/t.json.vsctmp')));
  });

  test('as root, ownership is checked afresh each walk: a folder given to another user under a cached parent is refused', async function () {
    if (process.getuid?.() !== 0) this.skip();
    file('src/m1/d7/t.json');
    file('src/m1/d7/t.json.vsctmp', '{');
    const cold = await walk();
    assert.equal(cold.orphans.length, 3);
    chownSync(join(root, 'src/m1/d7'), 65534, 65534);
    const warm = await walk();
    // src/m1 did not change (a chown below changes only the child): its listing came from the cache.
    assert.ok(!warm.reads.includes(join(root, 'src/m1')));
    assert.equal(warm.orphans.length, 2);
    assert.deepEqual(
      warm.errors.map((error) => [error.path, error.skipped]),
      [[join(root, 'src/m1/d7'), true]],
    );
  });

  test('a folder of a cached listing that became a symlink is never followed', async () => {
    mkdirSync(join(base, 'elsewhere'));
    writeFileSync(join(base, 'elsewhere', 'x.json'), '{}');
    writeFileSync(join(base, 'elsewhere', 'x.json.vsctmp'), '{');
    await walk();
    // A forged cache that still lists a name now a symlink (the parent's stamp kept): the walk must not go through it.
    const path = cacheFileOf(cacheDir, root);
    const cache = JSON.parse(readFileSync(path, 'utf8'));
    rmSync(join(root, 'a'), { recursive: true });
    symlinkSync(join(base, 'elsewhere'), join(root, 'a'));
    const rootNow = statSync(root, { bigint: true });
    cache.tree[0] = String(rootNow.ino);
    cache.tree[1] = String(rootNow.ctimeNs);
    cache.tree[2] = String(rootNow.mtimeNs);
    writeFileSync(path, JSON.stringify(cache));
    const warm = await walk();
    assert.ok(!warm.reads.includes(join(root, 'src')), 'the root listing came from the cache');
    assert.ok(
      !warm.orphans.some((orphan) => orphan.path.includes('elsewhere') || orphan.path.startsWith(join(root, 'a'))),
    );
    assert.ok(!warm.reads.includes(join(root, 'a')));
    assert.deepEqual(
      warm.errors.map((error) => [error.path, error.skipped]),
      [[join(root, 'a'), true]],
    );
  });

  test('a folder whose mtime was set back after a change (rsync -t, tar) is still read: its ctime moved', async () => {
    await walk();
    const dir = join(root, 'src/m2/d8');
    const before = statSync(dir, { bigint: true }).mtimeNs;
    writeFileSync(join(dir, 'back.json'), '{}');
    writeFileSync(join(dir, 'back.json.vsctmp'), '{');
    // Back to the very nanosecond it was listed at (GNU touch takes ns; utimes through Node only µs).
    const seconds = before / 1_000_000_000n;
    const nanoseconds = String(before % 1_000_000_000n).padStart(9, '0');
    execFileSync('touch', ['-m', '-d', `@${seconds}.${nanoseconds}`, dir]);
    assert.equal(statSync(dir, { bigint: true }).mtimeNs, before);
    const warm = await walk();
    assert.ok(warm.reads.includes(dir));
    assert.ok(warm.orphans.some((orphan) => orphan.path === join(dir, 'back.json.vsctmp')));
  });

  test('two workspace folders keep a cache each', async () => {
    const other = join(base, 'other');
    mkdirSync(join(other, 'x/y'), { recursive: true });
    const both = async () => {
      reads = [];
      const tracker = new OrphanTracker({ fs: countingFs, listingCache: store() });
      await tracker.walk(await tracker.setRoots([{ path: root }, { path: other }]));
      return tracker.stats;
    };
    await both();
    const warm = await both();
    assert.equal(warm.foldersFromCache, folderCount() - 2 + 3);
    assert.equal(readdirSync(cacheDir).length, 2);
  });

  test('a listing is proven only by the same node, ctime and mtime, to the nanosecond', () => {
    const entry: CachedFolder = ['42', '1000000000123', '1000000000456', 3, [], []];
    const stamp = { dev: '7', ino: '42', ctimeNs: '1000000000123', mtimeNs: '1000000000456', settled: true };
    assert.equal(provenBy(entry, stamp, '7'), true);
    assert.equal(provenBy(entry, { ...stamp, ino: '43' }, '7'), false);
    assert.equal(provenBy(entry, { ...stamp, ctimeNs: '1000000000124' }, '7'), false);
    assert.equal(provenBy(entry, { ...stamp, mtimeNs: '1000000000457' }, '7'), false);
    assert.equal(provenBy(entry, { ...stamp, dev: '8' }, '7'), false);
    assert.equal(provenBy(entry, stamp, '8'), false);
    assert.equal(provenBy(['', '', '', 0, [], []], stamp, '7'), false);
  });

  test('a folder whose ctime was not settled when it was listed is read again next time', async () => {
    const now = { now: () => Date.now() };
    // The tree was just made: every ctime is within 2 s of the clock, so nothing may be trusted.
    await walk({ listingCache: store(now) });
    const again = await walk({ listingCache: store(now) });
    assert.equal(again.stats.foldersFromCache, 0);
    assert.equal(again.reads.length, folderCount());
  });

  test('Rescan (fresh) reads every folder and writes the cache the next walk uses', async () => {
    await walk();
    const fresh = await walk({}, true);
    assert.equal(fresh.reads.length, folderCount());
    assert.equal(fresh.stats.listingCache, 'fresh');
    const warm = await walk();
    assert.equal(warm.stats.foldersRead, 2);
  });

  suite('a cache file that is not exactly what we write is ignored whole', () => {
    const hostile: [string, (cache: { tree: CachedFolder }) => unknown][] = [
      [
        'a name ..',
        (cache) => {
          cache.tree[4][0] = '..';
          return cache;
        },
      ],
      [
        'a name with /',
        (cache) => {
          cache.tree[4][0] = 'src/m0';
          return cache;
        },
      ],
      [
        'a name with NUL',
        (cache) => {
          cache.tree[4][0] = 'a\0';
          return cache;
        },
      ],
      [
        'a name .',
        (cache) => {
          cache.tree[4][0] = '.';
          return cache;
        },
      ],
      [
        'a name twice',
        (cache) => {
          cache.tree[4][1] = cache.tree[4][0]!;
          return cache;
        },
      ],
      [
        'a huge count of files',
        (cache) => {
          cache.tree[3] = 1e300;
          return cache;
        },
      ],
      [
        'a count that is a string',
        (cache) => {
          cache.tree[3] = '3' as unknown as number;
          return cache;
        },
      ],
      [
        'a stamp that is a number',
        (cache) => {
          cache.tree[0] = 42 as unknown as string;
          return cache;
        },
      ],
      [
        'an entry of the wrong shape',
        (cache) => {
          cache.tree[5][0] = [] as unknown as CachedFolder;
          return cache;
        },
      ],
      [
        'kids not matching names',
        (cache) => {
          cache.tree[5].pop();
          return cache;
        },
      ],
      ['a tree that is an object', (cache) => ({ ...cache, tree: { length: 6 } })],
      ['the patterns of another set', (cache) => ({ ...cache, extraPatterns: ['{target}.bak~'] })],
      ['another root', (cache) => ({ ...cache, root: join(base, 'elsewhere') })],
    ];
    for (const [what, change] of hostile) {
      test(what, async () => {
        const cold = await walk();
        const path = cacheFileOf(cacheDir, root);
        writeFileSync(path, JSON.stringify(change(JSON.parse(readFileSync(path, 'utf8')))));
        const warm = await walk();
        assert.equal(warm.stats.foldersFromCache, 0);
        assert.equal(warm.reads.length, folderCount());
        assert.deepEqual(found(warm.orphans), found(cold.orphans));
        assert.equal(logged.length, 1, logged.join('\n'));
      });
    }

    test('not JSON, or cut short', async () => {
      await walk();
      const path = cacheFileOf(cacheDir, root);
      writeFileSync(path, readFileSync(path).subarray(0, 100));
      const warm = await walk();
      assert.equal(warm.stats.foldersFromCache, 0);
      assert.match(logged[0] ?? '', /not JSON/);
    });

    test('a forged entry that names a folder outside the root leads nowhere', async () => {
      mkdirSync(join(base, 'outside'));
      writeFileSync(join(base, 'outside', 'o.json'), '{}');
      writeFileSync(join(base, 'outside', 'o.json.vsctmp'), '{');
      await walk();
      const path = cacheFileOf(cacheDir, root);
      const cache = JSON.parse(readFileSync(path, 'utf8'));
      const outside = statSync(join(base, 'outside'), { bigint: true });
      cache.tree[4].push('..', '../outside');
      cache.tree[5].push(0, [String(outside.ino), String(outside.ctimeNs), String(outside.mtimeNs), 2, [], []]);
      writeFileSync(path, JSON.stringify(cache));
      const warm = await walk();
      assert.ok(!warm.orphans.some((orphan) => orphan.path.includes('outside')));
      assert.ok(!warm.reads.some((read) => !read.startsWith(root)));
      assert.equal(warm.orphans.length, 2);
      assert.match(logged[0] ?? '', /not one folder name/);
    });

    test('a deeply nested forged tree is refused without overflowing the stack', async () => {
      await walk();
      const path = cacheFileOf(cacheDir, root);
      const text = readFileSync(path, 'utf8');
      const tree = text.indexOf('"tree":') + '"tree":'.length;
      // Built as text: JSON.stringify itself would overflow on it.
      const deep = `${'["","","",0,["x"],['.repeat(100_000)}0${']]'.repeat(100_000)}`;
      writeFileSync(path, `${text.slice(0, tree)}${deep}}`);
      const warm = await walk();
      assert.equal(warm.stats.foldersFromCache, 0);
      assert.match(logged[0] ?? '', /too deep/);
    });

    test('a symlink at the cache path is neither read nor written through', async () => {
      await walk();
      const path = cacheFileOf(cacheDir, root);
      const elsewhere = join(base, 'elsewhere.json');
      renameSync(path, elsewhere);
      const before = readFileSync(elsewhere, 'utf8');
      symlinkSync(elsewhere, path);
      const warm = await walk();
      assert.equal(warm.stats.foldersFromCache, 0);
      assert.equal(readFileSync(elsewhere, 'utf8'), before);
      assert.equal(logged.length, 2, logged.join('\n')); // not read, not written
    });

    test('a folder, or a file over the size limit, at the cache path: not read, and nothing written over it', async () => {
      await walk();
      const path = cacheFileOf(cacheDir, root);
      rmSync(path);
      mkdirSync(path);
      const folder = await walk();
      assert.equal(folder.stats.foldersFromCache, 0);
      assert.ok(statSync(path).isDirectory());
      rmSync(path, { recursive: true });
      writeFileSync(path, '');
      truncateSync(path, 200 * 1024 * 1024); // sparse: refused by its size before a byte is read
      const huge = await walk();
      assert.equal(huge.stats.foldersFromCache, 0);
      assert.match(logged.join('\n'), /limit/);
    });

    test('a FIFO at the cache path is refused, not waited on', async () => {
      await walk();
      const path = cacheFileOf(cacheDir, root);
      rmSync(path);
      execFileSync('mkfifo', [path]);
      const warm = await walk();
      assert.equal(warm.stats.foldersFromCache, 0);
    });
  });

  test('a cache of other temp patterns is not used (the candidate test depends on them)', async () => {
    await walk();
    const other = await walk({ extraPatterns: ['{target}.bak~'] });
    assert.equal(other.stats.foldersFromCache, 0);
    assert.match(logged[0] ?? '', /other temp patterns/);
  });

  test('on a file system not known to stamp ctime by this kernel (NFS, FUSE), no cache is read or written', async () => {
    const nfs = { statfs: async () => ({ type: 0x6969 }) };
    await walk({ listingCache: store(nfs) });
    const again = await walk({ listingCache: store(nfs) });
    assert.equal(again.stats.foldersFromCache, 0);
    assert.match(again.stats.listingCache, /0x6969 is not cached/);
    assert.throws(() => readFileSync(cacheFileOf(cacheDir, root)), { code: 'ENOENT' });
    const windows = await walk({ listingCache: store({ platform: 'win32' }) });
    assert.equal(windows.stats.foldersFromCache, 0);
  });

  test('a cache written "in the future" (the clock went back) is dropped whole', async () => {
    await walk({ listingCache: store({ now: () => Date.now() + 3_600_000 }) });
    const back = await walk();
    assert.equal(back.stats.foldersFromCache, 0);
    assert.match(logged[0] ?? '', /future/);
  });

  test('parseListingCache refuses a cache of another device', () => {
    const text = JSON.stringify({
      format: 'crash-safe-state listing cache',
      rules: LISTING_CACHE_RULES,
      root,
      extraPatterns: [],
      dev: '1',
      writtenAt: 0,
      tree: ['', '', '', 0, [], []],
    });
    const key = { root, extraPatterns: [] };
    assert.deepEqual(parseListingCache(Buffer.from(text), key, '1', 1), { tree: ['', '', '', 0, [], []] });
    assert.match(JSON.stringify(parseListingCache(Buffer.from(text), key, '2', 1)), /another device/);
    // Rules of another build: the bare version number of the first format, or another digest of the name globs.
    for (const rules of [1, `1:${'0'.repeat(16)}`]) {
      const other = text.replace(JSON.stringify(LISTING_CACHE_RULES), JSON.stringify(rules));
      assert.match(JSON.stringify(parseListingCache(Buffer.from(other), key, '1', 1)), /other rules/);
    }
  });
});
