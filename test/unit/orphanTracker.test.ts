import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import picomatch from 'picomatch';
import { ourTempPath } from '../../src/core/names/tempNames';
import {
  compileCustomPatterns,
  couldBeTemp,
  recogniseGroupFile,
  recogniseTemp,
  tempNameGlobs,
} from '../../src/core/names/tempPatterns';
import { scanOrphans } from '../../src/core/orphans/orphans';
import { type FileEvent, OrphanTracker, type TrackerStats } from '../../src/core/orphans/orphanTracker';

const created = (path: string): FileEvent => ({ kind: 'created', path });
const changed = (path: string): FileEvent => ({ kind: 'changed', path });
const deleted = (path: string): FileEvent => ({ kind: 'deleted', path });

suite('OrphanTracker: cost per change', () => {
  let base: string;
  let root: string;
  const file = (relativePath: string, content = '{}\n', at = root) => {
    const path = join(at, relativePath);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, content);
    return path;
  };
  const paths = (tracker: OrphanTracker) => tracker.orphans().map((orphan) => orphan.path.slice(base.length + 1));
  /** The counters that say how much work was done, minus the event counts. */
  const work = ({ fullWalks, subtreeWalks, folderListings }: TrackerStats) => ({
    fullWalks,
    subtreeWalks,
    folderListings,
  });
  async function started(
    options: ConstructorParameters<typeof OrphanTracker>[0] = {},
    roots = [root],
  ): Promise<OrphanTracker> {
    const tracker = new OrphanTracker(options);
    await tracker.walk(await tracker.setRoots(roots.map((path) => ({ path }))));
    return tracker;
  }

  setup(() => {
    base = realpathSync(mkdtempSync(join(tmpdir(), 'cs-track-')));
    root = join(base, 'ws');
    mkdirSync(root);
  });
  teardown(() => rmSync(base, { recursive: true, force: true }));

  test('a full walk finds what scanOrphans finds', async () => {
    file('a.json');
    file('a.json.3141592653', '{"v":2}');
    file('deep/s.json.cs-1-0-1-0123abcd.tmp');
    file('x.vsctmp');
    const tracker = await started();
    const scanned = (await scanOrphans([root])).orphans.map((orphan) => orphan.path).sort();
    assert.deepEqual(
      tracker.orphans().map((orphan) => orphan.path),
      scanned,
    );
    assert.equal(tracker.stats.fullWalks, 1);
  });

  test('a temp created, changed and deleted is followed by listing its folder only, never a walk', async () => {
    file('sub/big.json', '{"ok":true}');
    for (let i = 0; i < 50; i++) file(`sub/other${i}.ts`, 'x');
    const tracker = await started();
    const before = work(tracker.stats);
    const temp = file('sub/big.json.tmp.deadbeef01', '{"ok":');
    assert.equal(await tracker.apply([created(temp)]), true);
    assert.deepEqual(paths(tracker), ['ws/sub/big.json.tmp.deadbeef01']);
    assert.equal(tracker.orphans()[0]?.validJson, false);
    writeFileSync(temp, '{"ok":false}');
    assert.equal(await tracker.apply([changed(temp)]), true);
    assert.equal(tracker.orphans()[0]?.validJson, true);
    rmSync(temp);
    assert.equal(await tracker.apply([deleted(temp)]), true);
    assert.deepEqual(paths(tracker), []);
    assert.deepEqual(work(tracker.stats), { ...before, folderListings: before.folderListings + 3 });
  });

  test("a target's events re-judge its temps: corrupt, gone (a weak temp goes dormant), back", async () => {
    const target = file('t.json', '{"a":1}');
    file('t.json.vsctmp', '{"a":2}');
    file('t.json.3141592653', '{"a":3}');
    const tracker = await started();
    const state = () => tracker.orphans().map((orphan) => [basename(orphan.path), orphan.targetState]);
    assert.deepEqual(state(), [
      ['t.json.3141592653', 'ok'],
      ['t.json.vsctmp', 'ok'],
    ]);
    assert.deepEqual(tracker.targets(), [target]);
    writeFileSync(target, '{"a":');
    await tracker.apply([changed(target)]);
    assert.deepEqual(state(), [
      ['t.json.3141592653', 'corrupt'],
      ['t.json.vsctmp', 'corrupt'],
    ]);
    rmSync(target);
    await tracker.apply([deleted(target)]);
    // The weak pattern needs its target beside it; the strong one stays, with its target missing.
    assert.deepEqual(state(), [['t.json.vsctmp', 'missing']]);
    writeFileSync(target, '{}');
    await tracker.apply([created(target)]);
    assert.deepEqual(state(), [
      ['t.json.3141592653', 'ok'],
      ['t.json.vsctmp', 'ok'],
    ]);
    assert.equal(tracker.stats.fullWalks, 1);
  });

  test('a folder created with a temp already in it is walked, though only the folder was reported', async () => {
    const tracker = await started();
    file('new/deeper/c.json.vsctmp');
    await tracker.apply([created(join(root, 'new'))]);
    assert.deepEqual(paths(tracker), ['ws/new/deeper/c.json.vsctmp']);
    assert.deepEqual(work(tracker.stats), { fullWalks: 1, subtreeWalks: 1, folderListings: 0 });
  });

  test('a created folder is walked whatever its name, even one shaped like a temp', async () => {
    file('a.json');
    const tracker = await started();
    file('a.json.tmp.deadbeef01/inner.json.vsctmp');
    await tracker.apply([created(join(root, 'a.json.tmp.deadbeef01'))]);
    assert.deepEqual(paths(tracker), ['ws/a.json.tmp.deadbeef01/inner.json.vsctmp']);
  });

  test('a deleted folder of orphans disappears without any I/O; a renamed one is walked at its new name', async () => {
    file('old/a.json.vsctmp');
    file('old/in/b.json.vsctmp');
    file('keep/c.json.vsctmp');
    const tracker = await started();
    renameSync(join(root, 'old'), join(root, 'new'));
    await tracker.apply([deleted(join(root, 'old')), created(join(root, 'new'))]);
    assert.deepEqual(paths(tracker), ['ws/keep/c.json.vsctmp', 'ws/new/a.json.vsctmp', 'ws/new/in/b.json.vsctmp']);
    assert.equal(tracker.stats.subtreeWalks, 1);
    rmSync(join(root, 'new'), { recursive: true });
    await tracker.apply([deleted(join(root, 'new'))]);
    assert.deepEqual(paths(tracker), ['ws/keep/c.json.vsctmp']);
    assert.deepEqual(work(tracker.stats), { fullWalks: 1, subtreeWalks: 1, folderListings: 0 });
  });

  test('a delete event that arrives after its folder was made again keeps (walks) what is there now', async () => {
    file('scratch/a/same.json');
    file('scratch/a/same.json.tmp.aaaa1111bb');
    const tracker = await started();
    rmSync(join(root, 'scratch'), { recursive: true });
    file('scratch/a/same.json');
    file('scratch/a/same.json.tmp.aaaa2222bb');
    // The watcher reports the removal late, after the new folder and files are there.
    await tracker.apply([deleted(join(root, 'scratch'))]);
    assert.deepEqual(paths(tracker), ['ws/scratch/a/same.json.tmp.aaaa2222bb']);
  });

  test('a folder of orphans deleted, then copied back with no event (merged into a change, or lost): the recheck walks it', async () => {
    file('gone/a.json.vsctmp');
    file('gone/in/b.json.vsctmp');
    file('keep/c.json.vsctmp');
    const tracker = await started();
    rmSync(join(root, 'gone'), { recursive: true });
    await tracker.apply([deleted(join(root, 'gone'))]);
    assert.deepEqual(paths(tracker), ['ws/keep/c.json.vsctmp']);
    assert.equal(await tracker.recheckDropped(), false, 'nothing is back yet');
    file('gone/a.json.vsctmp');
    file('gone/in/b.json.vsctmp');
    assert.equal(await tracker.recheckDropped(), true);
    assert.deepEqual(paths(tracker), ['ws/gone/a.json.vsctmp', 'ws/gone/in/b.json.vsctmp', 'ws/keep/c.json.vsctmp']);
    assert.deepEqual(work(tracker.stats), { fullWalks: 1, subtreeWalks: 1, folderListings: 0 });
    assert.equal(await tracker.recheckDropped(), false, 'a path found back is not looked at again');
    assert.equal(tracker.stats.subtreeWalks, 1);
  });

  test('a deleted orphan file back without an event is judged again; the whole folder deleted and back is walked', async () => {
    const temp = file('sub/x.json.vsctmp');
    const tracker = await started();
    rmSync(temp);
    await tracker.apply([deleted(temp)]);
    assert.deepEqual(paths(tracker), []);
    file('sub/x.json.vsctmp');
    assert.equal(await tracker.recheckDropped(), true);
    assert.deepEqual(paths(tracker), ['ws/sub/x.json.vsctmp']);
    // The workspace folder itself: removed, then a fresh copy at its path.
    rmSync(root, { recursive: true });
    await tracker.apply([deleted(root)]);
    assert.deepEqual(paths(tracker), []);
    file('sub/x.json.vsctmp');
    assert.equal(await tracker.recheckDropped(), true);
    assert.deepEqual(paths(tracker), ['ws/sub/x.json.vsctmp']);
  });

  test('a dropped path is looked at again for a minute only, and a walk over it ends the watch', async () => {
    file('late/a.json.vsctmp');
    file('walked/b.json.vsctmp');
    const tracker = await started();
    rmSync(join(root, 'late'), { recursive: true });
    rmSync(join(root, 'walked'), { recursive: true });
    await tracker.apply([deleted(join(root, 'late')), deleted(join(root, 'walked'))]);
    file('walked/b.json.vsctmp');
    await tracker.apply([created(join(root, 'walked'))]);
    assert.equal(tracker.stats.subtreeWalks, 1);
    assert.equal(await tracker.recheckDropped(), false);
    assert.equal(tracker.stats.subtreeWalks, 1, 'the folder walked for its event was walked again');
    file('late/a.json.vsctmp');
    assert.equal(await tracker.recheckDropped(Date.now() + 61_000), false, 'looked at after its minute');
    assert.deepEqual(paths(tracker), ['ws/walked/b.json.vsctmp']);
  });

  test('a dropped folder back as a symlink to a folder elsewhere is not walked through', async () => {
    file('linked/a.json.vsctmp');
    const elsewhere = join(base, 'elsewhere');
    file('b.json.vsctmp', '{}', elsewhere);
    const tracker = await started();
    rmSync(join(root, 'linked'), { recursive: true });
    await tracker.apply([deleted(join(root, 'linked'))]);
    symlinkSync(elsewhere, join(root, 'linked'));
    await tracker.recheckDropped();
    assert.deepEqual(paths(tracker), []);
    assert.equal(tracker.stats.subtreeWalks, 0);
  });

  test('at most 256 dropped paths are watched, the newest: the safety net is left the rest', async () => {
    const count = 300;
    for (let i = 0; i < count; i++) file(`d${String(i).padStart(3, '0')}/x.json.vsctmp`);
    const tracker = await started();
    for (let i = 0; i < count; i++) rmSync(join(root, `d${String(i).padStart(3, '0')}`), { recursive: true });
    // One batch per folder, in order: the first 44 are the oldest.
    for (let i = 0; i < count; i++) await tracker.apply([deleted(join(root, `d${String(i).padStart(3, '0')}`))]);
    for (let i = 0; i < count; i++) file(`d${String(i).padStart(3, '0')}/x.json.vsctmp`);
    assert.equal(await tracker.recheckDropped(), true);
    const found = paths(tracker);
    assert.equal(found.length, 256);
    assert.equal(found[0], 'ws/d044/x.json.vsctmp');
    assert.equal(tracker.stats.subtreeWalks, 256);
  });

  test('a storm of created files that are no temps costs a listing per burst, no walk', async () => {
    const tracker = await started();
    mkdirSync(join(root, 'dist'));
    for (let burst = 0; burst < 3; burst++) {
      const events = Array.from({ length: 100 }, (_, i) => created(file(`dist/main.${burst * 100 + i}.js`, 'x')));
      assert.equal(await tracker.apply(events), false);
    }
    assert.deepEqual(work(tracker.stats), { fullWalks: 1, subtreeWalks: 0, folderListings: 0 });
    assert.equal(tracker.stats.events, 300);
  });

  test('events in excluded places are ignored: our globs, VS Code globs, node_modules when skipped, .git', async () => {
    const tracker = new OrphanTracker({ exclude: ['build/**', 'vendor'], skipNodeModules: true });
    await tracker.walk(await tracker.setRoots([{ path: root, workspaceExclude: ['**/generated'] }]));
    const ignored = [
      file('build/a.json.vsctmp'),
      file('x/vendor/a.json.vsctmp'),
      file('node_modules/p/package.json.vsctmp'),
      file('src/generated/a.json.vsctmp'),
      file('.git/a.json.vsctmp'),
      join(base, 'outside.json.vsctmp'),
    ];
    assert.equal(await tracker.apply(ignored.map(created)), false);
    assert.equal(tracker.stats.eventsIgnored, ignored.length);
    assert.deepEqual(paths(tracker), []);
    assert.deepEqual((await tracker.walk()).length, 0, 'a walk skips them too');
  });

  test('multi-root: each folder on its own; an event in one never walks another', async () => {
    const other = join(base, 'other');
    file('a.json.vsctmp', '{}', other);
    const tracker = await started({}, [root, other]);
    assert.equal(tracker.stats.fullWalks, 2);
    const temp = file('b.json.vsctmp');
    await tracker.apply([created(temp), created(join(root, 'folder'))]);
    assert.deepEqual(paths(tracker), ['other/a.json.vsctmp', 'ws/b.json.vsctmp']);
    assert.equal(tracker.stats.fullWalks, 2);
    // Dropping a folder forgets its orphans and walks nothing.
    assert.deepEqual(await tracker.setRoots([{ path: root }]), []);
    assert.deepEqual(paths(tracker), ['ws/b.json.vsctmp']);
  });

  test('a checkout (.git/HEAD) walks the working tree it belongs to', async () => {
    file('repo/.git/HEAD', 'ref: refs/heads/main\n');
    const tracker = await started();
    file('repo/src/a.json.vsctmp');
    await tracker.apply([changed(join(root, 'repo', '.git', 'HEAD'))]);
    assert.deepEqual(paths(tracker), ['ws/repo/src/a.json.vsctmp']);
    assert.deepEqual(work(tracker.stats), { fullWalks: 1, subtreeWalks: 1, folderListings: 0 });
  });

  test('events during a walk are applied after it, in order', async () => {
    const tracker = await started();
    const temp = file('late.json.vsctmp');
    const walked = tracker.walk();
    const applied = tracker.apply([created(temp)]);
    rmSync(temp);
    const removed = tracker.apply([deleted(temp)]);
    await Promise.all([walked, applied, removed]);
    assert.deepEqual(paths(tracker), []);
  });

  test('a user pattern is followed like a built-in one', async () => {
    file('n.json');
    const tracker = await started({ extraPatterns: ['{target}.bak~'] });
    const temp = file('n.json.bak~');
    await tracker.apply([created(temp)]);
    assert.deepEqual(
      tracker.orphans().map((orphan) => orphan.kind),
      ['custom'],
    );
  });
});

suite('tempNameGlobs: the watcher glob and the rules cannot drift apart', () => {
  const matcher = (patterns: string[] = []) => picomatch(tempNameGlobs(patterns), { dot: true, windows: false });
  test('every name a rule recognises matches a glob', () => {
    const isTemp = matcher();
    const names = [
      basename(ourTempPath('/w/state.json')),
      'package.json.3141592653',
      'a.txt.12345678',
      'a.txt.1234567890',
      'db.json.tmp-1712345678abcdef',
      '.db.json.tmp',
      'settings.json.vsctmp',
      'a.json.tmp.0f8fad5b-d9cb-469f-a165-70867728950e',
      'a.json.tmp.deadbeef01',
      '.a.json.3f2a9c0d1e.tmp',
      'a.json.csg-1-0-1-0123abcd.tmp',
      'a.json.csg-1-0-1-0123abcd.bak',
      '.cs-group-1-0-1-0123abcd.journal',
    ];
    const siblings = ['state.json', 'package.json', 'a.txt', 'db.json', 'settings.json', 'a.json'];
    for (const name of names) {
      assert.ok(
        recogniseTemp(name, siblings, undefined, { mtimeMs: Date.now() }) ?? recogniseGroupFile(name),
        `${name} is recognised`,
      );
      assert.ok(isTemp(name), `${name} matches the watcher glob`);
      assert.ok(couldBeTemp(name, []), `${name} passes the event filter`);
    }
  });

  test('hashed bundles, logs and sources match none', () => {
    const isTemp = matcher();
    for (const name of ['main.123.js', 'main.3141592653.js', 'app.log.1', 'index.ts', 'a.1234567', 'notes.2024']) {
      assert.equal(isTemp(name), false, name);
    }
  });

  test("a user pattern's names match, literal glob characters included", () => {
    for (const pattern of ['{target}.bak~', '.{target}.swp*', '{target}[1]{x}']) {
      const [custom] = compileCustomPatterns([pattern]);
      const name = pattern.replace('{target}', 'data.json').replace('*', 'x');
      assert.ok(matcher([pattern])(name), `${name} matches the glob of ${pattern}`);
      assert.ok(couldBeTemp(name, [custom!]), `${name} passes the event filter`);
    }
  });
});
