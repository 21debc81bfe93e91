import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FsLike, nodeFs } from '../../src/core/fs';
import { type Orphan, scanOrphans, walkOrphans } from '../../src/core/orphans/orphans';
import { writeAgedFile } from '../support/agedFiles';
import { errnoError } from '../support/faultyFs';

/** The real file system, with EACCES for the listed folders or files (this suite runs as root). */
function deniedFs(denied: { list?: string[]; read?: string[]; lstat?: string[] }, base: FsLike = nodeFs): FsLike {
  const deny = (paths: string[] | undefined, path: string, syscall: string) => {
    if (paths?.includes(path)) throw errnoError('EACCES', syscall, path);
  };
  return {
    ...base,
    readdir: async (path) => {
      deny(denied.list, path, 'scandir');
      return base.readdir(path);
    },
    readdirEntries: base.readdirEntries
      ? async (path) => {
          deny(denied.list, path, 'scandir');
          return base.readdirEntries!(path);
        }
      : undefined,
    readdirEntriesSync: base.readdirEntriesSync
      ? (path) => {
          deny(denied.list, path, 'scandir');
          return base.readdirEntriesSync!(path);
        }
      : undefined,
    readFile: async (path) => {
      deny(denied.read, path, 'open');
      return base.readFile(path);
    },
    lstat: async (path) => {
      deny(denied.lstat, path, 'lstat');
      return base.lstat(path);
    },
  };
}

const byPath = (orphans: Orphan[]) => [...orphans].sort((a, b) => (a.path < b.path ? -1 : 1));

suite('scanOrphans', () => {
  let root: string;
  const file = (relativePath: string, content = '{}\n', ageMs?: number) =>
    writeAgedFile(join(root, relativePath), content, ageMs);

  setup(() => {
    root = realpathSync(mkdtempSync(join(tmpdir(), 'cs-scan-')));
  });
  teardown(() => rmSync(root, { recursive: true, force: true }));

  test('finds each kind with absolute path, target, size, mtime, age', async () => {
    file('a.json', '{"v":1}\n');
    const wfa = file('a.json.3141592653', '{"v":2}\n', 3_600_000);
    const ours = file('deep/er/s.json.cs-1-0-1-0123abcd.tmp', '{"v":3}');
    file('deep/er/s.json', '{}');
    const vscode = file('settings.json.vsctmp', '{"x":1}');
    const now = Date.now();
    const { orphans, errors } = await scanOrphans([root], { now });
    assert.deepEqual(errors, []);
    assert.deepEqual(
      byPath(orphans).map((o) => [o.path, o.target, o.kind]),
      [
        [wfa, join(root, 'a.json'), 'write-file-atomic'],
        [ours, join(root, 'deep/er/s.json'), 'crash-safe'],
        [vscode, join(root, 'settings.json'), 'vscode'],
      ],
    );
    const wfaOrphan = orphans.find((o) => o.path === wfa)!;
    assert.equal(wfaOrphan.size, 8);
    assert.ok(Math.abs(wfaOrphan.ageMs - 3_600_000) < 5_000, `age ${wfaOrphan.ageMs}`);
    assert.equal(wfaOrphan.ageMs, now - wfaOrphan.mtimeMs);
  });

  test('the walk finds every built-in kind', async () => {
    file('a.json');
    const names = {
      'a.json.cs-1-0-1-0123abcd.tmp': 'crash-safe',
      'a.json.3141592653': 'write-file-atomic',
      'a.json.tmp-1712345678abcdef': 'atomically',
      '.a.json.tmp': 'steno',
      'a.json.vsctmp': 'vscode',
      'a.json.tmp.0f8fad5b-d9cb-469f-a165-70867728950e': 'tmp-suffix',
      '.a.json.3f2a9c0d1e.tmp': 'dot-hex-tmp',
    };
    for (const name of Object.keys(names)) file(name);
    const { orphans } = await scanOrphans([root]);
    assert.deepEqual(Object.fromEntries(orphans.map((o) => [o.path.slice(root.length + 1), o.kind])), names);
  });

  test('every target state: ok, missing, empty, corrupt (and JSONC counts as ok)', async () => {
    file('ok.json', '{"fine":true}');
    file('ok.json.vsctmp');
    file('missing.json.vsctmp');
    file('empty.json', '');
    file('empty.json.vsctmp');
    file('blank.json', ' \n\t');
    file('blank.json.vsctmp');
    file('corrupt.json', '{"torn": [1, 2');
    file('corrupt.json.vsctmp');
    file('settings.jsonc', '{\n  // a comment\n  "a": 1,\n}\n');
    file('settings.jsonc.vsctmp');
    file('notes.txt', 'not json at all');
    file('notes.txt.vsctmp');
    file('zero.txt', '');
    file('zero.txt.vsctmp');
    const { orphans } = await scanOrphans([root]);
    const states = Object.fromEntries(orphans.map((o) => [o.target.slice(root.length + 1), o.targetState]));
    assert.deepEqual(states, {
      'ok.json': 'ok',
      'missing.json': 'missing',
      'empty.json': 'empty',
      'blank.json': 'empty',
      'corrupt.json': 'corrupt',
      'settings.jsonc': 'ok',
      'notes.txt': 'ok',
      'zero.txt': 'empty',
    });
  });

  test('validJson: true, false, or null for non-JSON targets', async () => {
    file('a.json');
    file('a.json.vsctmp', '{"complete":true}');
    file('b.json');
    file('b.json.vsctmp', '{"trunc');
    file('c.json');
    file('c.json.vsctmp', '');
    file('d.txt', 'x');
    file('d.txt.vsctmp', '{"is json but":"not a JSON target"}');
    const { orphans } = await scanOrphans([root]);
    const valid = Object.fromEntries(orphans.map((o) => [o.target.slice(root.length + 1), o.validJson]));
    assert.deepEqual(valid, { 'a.json': true, 'b.json': false, 'c.json': false, 'd.txt': null });
  });

  test('never: rotated logs, numbered backups, draft.tmp, directories, symlinks', async () => {
    file('app.log', 'x');
    for (let n = 1; n <= 20; n++) file(`app.log.${n}`, 'old log');
    file('data.json');
    file('data.json.2');
    file('notes', 'x');
    file('notes.2024', 'x');
    file('draft.tmp', 'mine');
    mkdirSync(join(root, 'x.json.vsctmp')); // VS Code's deleted-extension folders end in .vsctmp too
    mkdirSync(join(root, 'data.json.3141592653'));
    symlinkSync(join(root, 'data.json'), join(root, 'linked.json.vsctmp'));
    const { orphans, errors } = await scanOrphans([root]);
    assert.deepEqual(orphans, []);
    assert.deepEqual(errors, []);
  });

  test('a temp whose target name is a folder is not an orphan', async () => {
    mkdirSync(join(root, 'build'));
    file('build.vsctmp');
    assert.deepEqual((await scanOrphans([root])).orphans, []);
  });

  test('symlinked folders are never followed: no escape from the root, no loops', async () => {
    const outside = realpathSync(mkdtempSync(join(tmpdir(), 'cs-outside-')));
    try {
      writeFileSync(join(outside, 'o.json.vsctmp'), '{}');
      symlinkSync(outside, join(root, 'escape'));
      mkdirSync(join(root, 'loop'));
      symlinkSync(root, join(root, 'loop', 'back'));
      file('loop/in.json.vsctmp');
      const { orphans } = await scanOrphans([root]);
      assert.deepEqual(
        orphans.map((o) => o.path),
        [join(root, 'loop/in.json.vsctmp')],
      );
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  test('a symlinked root is resolved, and reported paths are real', async () => {
    file('sub/a.json.vsctmp');
    const link = `${root}-link`;
    symlinkSync(join(root, 'sub'), link);
    try {
      const { orphans } = await scanOrphans([link]);
      assert.deepEqual(
        orphans.map((o) => o.path),
        [join(root, 'sub/a.json.vsctmp')],
      );
    } finally {
      rmSync(link);
    }
  });

  test('.git is always skipped; node_modules is walked unless skipNodeModules', async () => {
    file('.git/config.json.vsctmp');
    const npm = file('node_modules/pkg/package.json.3141592653');
    file('node_modules/pkg/package.json');
    assert.deepEqual(
      (await scanOrphans([root])).orphans.map((o) => o.path),
      [npm],
    );
    assert.deepEqual((await scanOrphans([root], { skipNodeModules: true })).orphans, []);
  });

  test('exclude globs: a bare name at any depth, a path glob from the root, files too', async () => {
    file('dist/a.json.vsctmp');
    file('src/dist/b.json.vsctmp');
    file('out/gen/c.json.vsctmp');
    file('keep/d.json.vsctmp');
    file('keep/e.json.vsctmp');
    const paths = async (exclude: string[]) =>
      (await scanOrphans([root], { exclude })).orphans.map((o) => o.path.slice(root.length + 1)).sort();
    assert.deepEqual(await paths(['dist']), ['keep/d.json.vsctmp', 'keep/e.json.vsctmp', 'out/gen/c.json.vsctmp']);
    assert.deepEqual(await paths(['out/**', 'dist']), ['keep/d.json.vsctmp', 'keep/e.json.vsctmp']);
    assert.deepEqual(await paths(['e.json.*']), [
      'dist/a.json.vsctmp',
      'keep/d.json.vsctmp',
      'out/gen/c.json.vsctmp',
      'src/dist/b.json.vsctmp',
    ]);
  });

  for (const [label, base] of [
    ['sync listing', nodeFs],
    ['async listing', { ...nodeFs, readdirEntriesSync: undefined }],
    ['readdir + lstat', { ...nodeFs, readdirEntriesSync: undefined, readdirEntries: undefined }],
  ] as const) {
    test(`an unreadable folder is reported and the walk goes on (EACCES injected, ${label})`, async () => {
      file('locked/secret.json.vsctmp');
      const other = file('open/fine.json.vsctmp');
      const fs = deniedFs({ list: [join(root, 'locked')] }, base);
      const seen: string[] = [];
      const { orphans, errors } = await scanOrphans([root], { fs, onError: (e) => seen.push(e.path) });
      assert.deepEqual(
        orphans.map((o) => o.path),
        [other],
      );
      assert.equal(errors.length, 1);
      assert.equal(errors[0]!.path, join(root, 'locked'));
      assert.match(errors[0]!.error, /EACCES/);
      assert.deepEqual(seen, [join(root, 'locked')]);
    });
  }

  test('an unreadable temp or target is reported; the orphan is still listed', async () => {
    file('a.json');
    const temp = file('a.json.vsctmp');
    file('b.json', '{"torn');
    file('b.json.vsctmp');
    const fs = deniedFs({ read: [temp, join(root, 'b.json')] });
    const { orphans, errors } = await scanOrphans([root], { fs });
    assert.equal(orphans.length, 2);
    assert.equal(orphans.find((o) => o.path === temp)!.validJson, null);
    assert.deepEqual(errors.map((e) => e.path).sort(), [join(root, 'b.json'), temp].sort());
  });

  test('works through an FsLike without readdirEntries (readdir + lstat)', async () => {
    file('a.json');
    file('a.json.3141592653');
    mkdirSync(join(root, 'dir.json.vsctmp'));
    symlinkSync(join(root, 'a.json'), join(root, 'l.json.vsctmp'));
    file('sub/b.json.vsctmp');
    const { readdirEntries: _omit, readdirEntriesSync: _omitSync, ...plain } = nodeFs;
    const { orphans } = await scanOrphans([root], { fs: plain });
    assert.deepEqual(orphans.map((o) => o.path.slice(root.length + 1)).sort(), [
      'a.json.3141592653',
      'sub/b.json.vsctmp',
    ]);
  });

  test('a missing root is reported as an error, other roots still scanned; nested roots are walked once', async () => {
    const a = file('one/a.json.vsctmp');
    const { orphans, errors } = await scanOrphans([join(root, 'nope'), root, join(root, 'one')]);
    assert.deepEqual(
      orphans.map((o) => o.path),
      [a],
    );
    assert.equal(errors.length, 1);
    assert.match(errors[0]!.error, /ENOENT/);
  });

  test('walkOrphans streams: the first orphan arrives before the walk ends; progress counts files', async () => {
    for (let d = 0; d < 80; d++) file(`d${String(d).padStart(2, '0')}/f.json.vsctmp`);
    let progressCalls = 0;
    let lastCount = 0;
    const walk = walkOrphans([root], {
      onProgress: (files) => {
        progressCalls += 1;
        lastCount = files;
      },
    });
    const first = await walk.next();
    assert.equal(first.done, false);
    assert.ok(lastCount < 80, `first orphan came after ${lastCount} files`);
    let count = 1;
    for await (const _ of walk) count += 1;
    assert.equal(count, 80);
    assert.equal(lastCount, 80);
    assert.ok(progressCalls >= 2);
  });

  test('an aborted signal stops the walk', async () => {
    file('a/x.json.vsctmp');
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(scanOrphans([root], { signal: controller.signal }), { name: 'AbortError' });
  });
});
