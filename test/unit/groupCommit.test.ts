import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { Stats } from 'node:fs';
import {
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { runRecoverGroups, writeGroupVerb } from '../../src/cli/writeGroup';
import { commitGroup, GroupCommitError } from '../../src/core/groups/groupCommit';
import {
  digestOf,
  encodeJournal,
  type GroupFs,
  groupBackupName,
  groupJournalName,
  groupLockTarget,
  groupTempName,
  MAX_JOURNAL_BYTES,
  newGroupId,
  nodeGroupFs,
} from '../../src/core/groups/groupJournal';
import { recoverGroupFiles, recoverGroups } from '../../src/core/groups/groupRecovery';
import { LockTimeoutError, withFileLock } from '../../src/core/lock/fileLock';
import { mightBeTemp, recogniseGroupFile, recogniseTemp } from '../../src/core/names/tempPatterns';
import { scanOrphans, sweepOrphans } from '../../src/core/orphans/orphans';
import { GROUP_FILE_NOTE } from '../../src/core/orphans/orphanWalk';
import { captureIo } from '../support/cliRun';
import { CrashingGroupFs } from '../support/crashingGroupFs';
import { delegateTo } from '../support/delegatingFs';
import { errnoError, FaultyFs } from '../support/faultyFs';
import { SimulatedCrash } from '../support/fuseLikeFs';

const TARGETS = ['a.json', 'b.json', 'c.json'] as const;

const versionOf = (name: string, generation: number) => `${JSON.stringify({ name, generation })}\n`;

/** Every regular file below `dir` (relative, sorted), lock folders included. */
function filesUnder(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, encoding: 'utf8' }) as string[]).sort();
}

/** A GroupFs that fails chosen calls on chosen paths, and can report a folder on another device. */
function faultyOn(
  inner: GroupFs,
  faults: { step: 'open' | 'rename' | 'link'; when: (path: string) => boolean; code: string }[],
  otherDevice?: string,
): GroupFs {
  const onOtherDevice = (path: string, stats: Stats): Stats =>
    path !== otherDevice
      ? stats
      : Object.assign(Object.create(Object.getPrototypeOf(stats) as object) as Stats, stats, { dev: stats.dev + 1 });
  const fail = (step: string, path: string) => {
    const fault = faults.find((f) => f.step === step && f.when(path));
    if (fault) throw errnoError(fault.code, step, path);
  };
  return {
    ...delegateTo(inner),
    open: async (path, flags, mode) => {
      fail('open', path);
      return inner.open(path, flags, mode);
    },
    rename: async (from, to) => {
      fail('rename', to);
      return inner.rename(from, to);
    },
    ...(inner.link
      ? {
          link: async (existing: string, newPath: string) => {
            fail('link', newPath);
            return inner.link!(existing, newPath);
          },
        }
      : {}),
    stat: async (path) => onOtherDevice(path, await inner.stat(path)),
    lstat: async (path) => onOtherDevice(path, await inner.lstat(path)),
  };
}

/**
 * Refuses the first `times` renames that `when` picks with `code`, as a virus scanner's or indexer's brief hold
 * refuses them on Windows (`Infinity`: a hold that never ends). `refused` lists each refusal's target.
 */
function refusingRenames(
  inner: GroupFs,
  when: (from: string, to: string) => boolean,
  code: string,
  times = 2,
): { fs: GroupFs; refused: string[] } {
  const refused: string[] = [];
  const fs: GroupFs = {
    ...delegateTo(inner),
    rename: async (from, to) => {
      if (when(from, to) && refused.length < times) {
        refused.push(to);
        throw errnoError(code, 'rename', to);
      }
      return inner.rename(from, to);
    },
  };
  return { fs, refused };
}

const roleOf = (path: string) => recogniseGroupFile(basename(path))?.role;

/** Three retries without waiting: the tests below never sleep through the real backoff. */
const NO_WAIT = { renameRetryDelaysMs: [0, 0, 0] };

suite('group commits', () => {
  let dir: string;
  const path = (name: string) => join(dir, name);
  const read = (name: string) => readFileSync(path(name), 'utf8');
  const generationOf = (name: string) => (JSON.parse(read(name)) as { generation: number }).generation;
  const writeGeneration = (generation: number, names: readonly string[] = TARGETS) => {
    for (const name of names) writeFileSync(path(name), versionOf(name, generation));
  };
  const group = (generation: number, names: readonly string[] = TARGETS) =>
    names.map((name) => ({ path: path(name), data: versionOf(name, generation) }));
  const assertGeneration = (generation: number, names: readonly string[] = TARGETS) => {
    for (const name of names) assert.equal(read(name), versionOf(name, generation), name);
  };

  setup(() => {
    dir = mkdtempSync(join(tmpdir(), 'cs-group-'));
  });
  teardown(() => rmSync(dir, { recursive: true, force: true }));

  test('replaces every file, creates a new one, and leaves nothing behind (journal, temps, backups, lock)', async () => {
    writeGeneration(0, ['a.json', 'b.json']);
    const schema = { type: 'object', required: ['generation'] };
    const result = await commitGroup([
      { path: path('a.json'), data: versionOf('a.json', 1) },
      { path: path('b.json'), value: { name: 'b.json', generation: 1 }, schema },
      { path: path('c.json'), data: versionOf('c.json', 1), schema },
    ]);
    assert.deepEqual(result.targets, TARGETS.map(path));
    assert.equal(dirname(result.journal), dir);
    assert.equal(read('a.json'), versionOf('a.json', 1));
    assert.deepEqual(JSON.parse(read('b.json')), { name: 'b.json', generation: 1 });
    assert.equal(generationOf('c.json'), 1);
    assert.deepEqual(filesUnder(dir), [...TARGETS]);
  });

  test('schema problems of every file are reported at once, and nothing is written', async () => {
    writeGeneration(0);
    const schema = { type: 'object', properties: { generation: { type: 'string' } } };
    await assert.rejects(
      commitGroup([
        { path: path('a.json'), value: { generation: 1 }, schema },
        { path: path('b.json'), data: 'not json', schema },
        { path: path('c.json'), data: versionOf('c.json', 1) },
      ]),
      (error: unknown) => {
        assert.ok(error instanceof GroupCommitError);
        assert.equal(error.step, 'validate');
        assert.equal(error.outcome, 'unchanged');
        assert.deepEqual(
          error.problems.map((p) => basename(p.path)),
          ['a.json', 'b.json'],
        );
        assert.match(error.message, /generation must be string/);
        return true;
      },
    );
    assertGeneration(0);
    assert.deepEqual(filesUnder(dir), [...TARGETS]);
  });

  test('refuses up front: data and value both, a file listed twice (also through a symlink), a missing folder, a journal folder outside', async () => {
    writeGeneration(0);
    symlinkSync(path('a.json'), path('alias.json'));
    const refusals: Array<[Parameters<typeof commitGroup>, RegExp]> = [
      [[[{ path: path('a.json'), data: '{}', value: {} }]], /exactly one of data and value/],
      [
        [
          [
            { path: path('a.json'), data: '{}' },
            { path: path('alias.json'), data: '{}' },
          ],
        ],
        /same file, listed twice/,
      ],
      [
        [
          [
            { path: path('a.json'), data: '{}' },
            { path: join(dir, 'nope', 'x.json'), data: '{}' },
          ],
        ],
        /nope does not exist/,
      ],
      [[[{ path: path('a.json'), data: '{}' }], { journalDir: join(dir, 'elsewhere') }], /must contain every file/],
      [[[]], /no files listed/],
    ];
    for (const [args, message] of refusals) {
      await assert.rejects(
        commitGroup(...args),
        (error: unknown) => error instanceof GroupCommitError && message.test(error.message),
      );
    }
    assertGeneration(0);
    assert.deepEqual(filesUnder(dir), ['a.json', 'alias.json', 'b.json', 'c.json']);
  });

  test('a symlinked target is written through, so the link survives', async () => {
    mkdirSync(path('real'));
    writeFileSync(path('real/a.json'), versionOf('a.json', 0));
    symlinkSync(path('real/a.json'), path('a.json'));
    writeGeneration(0, ['b.json']);
    await commitGroup(group(1, ['a.json', 'b.json']));
    assert.equal(readFileSync(path('real/a.json'), 'utf8'), versionOf('a.json', 1));
    assert.equal(read('b.json'), versionOf('b.json', 1));
    assert.deepEqual(filesUnder(dir), ['a.json', 'b.json', 'real', 'real/a.json']);
  });

  test('EXDEV: targets on different file systems are refused up front, naming both devices', async () => {
    for (const folder of ['one', 'two', 'three']) mkdirSync(path(folder));
    const names = ['one/a.json', 'two/b.json', 'three/c.json'];
    writeGeneration(0, names);
    const fs = faultyOn(nodeGroupFs, [], path('three'));
    await assert.rejects(commitGroup(group(1, names), { fs }), (error: unknown) => {
      assert.ok(error instanceof GroupCommitError);
      assert.equal(error.code, 'EXDEV');
      assert.match(error.message, /one \(device \d+\) and .*three \(device \d+\) are on different file systems/);
      return true;
    });
    assertGeneration(0, names);
    assert.deepEqual(filesUnder(dir), ['one', 'one/a.json', 'three', 'three/c.json', 'two', 'two/b.json']);
  });

  test('ENOSPC while preparing the second temp: every target as it was, no temp left', async () => {
    writeGeneration(0);
    const big = { name: 'b.json', generation: 1, padding: 'x'.repeat(4096) };
    const fs = new FaultyFs([], { failWriteAfterBytes: 1024 });
    await assert.rejects(
      commitGroup(
        [
          { path: path('a.json'), data: versionOf('a.json', 1) },
          { path: path('b.json'), value: big },
          { path: path('c.json'), data: versionOf('c.json', 1) },
        ],
        { fs },
      ),
      (error: unknown) =>
        error instanceof GroupCommitError &&
        error.step === 'prepare' &&
        error.code === 'ENOSPC' &&
        error.outcome === 'unchanged',
    );
    assertGeneration(0);
    assert.deepEqual(filesUnder(dir), [...TARGETS]);
  });

  test("EACCES on the third target's folder: every target as it was, no temp left", async () => {
    for (const folder of ['one', 'two', 'three']) mkdirSync(path(folder));
    const names = ['one/a.json', 'two/b.json', 'three/c.json'];
    writeGeneration(0, names);
    const fs = faultyOn(new FaultyFs(), [{ step: 'open', when: (p) => dirname(p) === path('three'), code: 'EACCES' }]);
    await assert.rejects(commitGroup(group(1, names), { fs }), (error: unknown) => {
      assert.ok(error instanceof GroupCommitError);
      assert.equal(error.code, 'EACCES');
      assert.equal(error.outcome, 'unchanged');
      assert.match(error.message, /three\/c\.json/);
      return true;
    });
    assertGeneration(0, names);
    assert.deepEqual(filesUnder(dir), ['one', 'one/a.json', 'three', 'three/c.json', 'two', 'two/b.json']);
  });

  test('EACCES on the third rename: the two files already replaced are rolled back (from links, and from copies)', async () => {
    for (const inner of [nodeGroupFs, new FaultyFs()]) {
      writeGeneration(0, ['a.json', 'b.json']);
      rmSync(path('c.json'), { force: true });
      const fs = faultyOn(inner, [{ step: 'rename', when: (p) => p === path('c.json'), code: 'EACCES' }]);
      await assert.rejects(commitGroup(group(1), { fs, ...NO_WAIT }), (error: unknown) => {
        assert.ok(error instanceof GroupCommitError);
        assert.equal(error.step, 'apply');
        assert.equal(error.outcome, 'rolled-back');
        assert.match(error.message, /every file is as it was/);
        return true;
      });
      assertGeneration(0, ['a.json', 'b.json']);
      assert.deepEqual(
        filesUnder(dir),
        ['a.json', 'b.json'],
        `with ${inner === nodeGroupFs ? 'hard links' : 'copies'}`,
      );
    }
  });

  test('abort (the signal) before the first rename removes the temps and the journal and touches no target', async () => {
    writeGeneration(0);
    const controller = new AbortController();
    const fs: GroupFs = {
      ...nodeGroupFs,
      // Aborted as soon as the journal is in place.
      rename: async (from, to) => {
        await nodeGroupFs.rename(from, to);
        if (recogniseGroupFile(basename(to))?.role === 'journal') controller.abort();
      },
    };
    await assert.rejects(
      commitGroup(group(1), { fs, signal: controller.signal }),
      (error: unknown) =>
        error instanceof GroupCommitError && error.step === 'aborted' && error.outcome === 'unchanged',
    );
    assertGeneration(0);
    assert.deepEqual(filesUnder(dir), [...TARGETS]);
  });

  test('a crash after any step, then recoverGroups: all three files of one generation, nothing left behind', async () => {
    const dry = new CrashingGroupFs(Number.POSITIVE_INFINITY);
    writeGeneration(0);
    await commitGroup(group(1), { fs: dry.fs });
    const steps = dry.steps;
    assert.ok(steps > 20, `only ${steps} steps`);
    const seen = { old: 0, new: 0, forward: 0, back: 0 };
    for (let crashAfter = 0; crashAfter <= steps; crashAfter++) {
      writeGeneration(0);
      await commitGroup(group(1), { fs: new CrashingGroupFs(crashAfter).fs }).catch((error: unknown) => {
        if (crashAfter === steps) throw error;
      });
      const report = await recoverGroups(dir);
      assert.deepEqual(report.problems, [], `crash after ${crashAfter} of ${steps} steps`);
      seen.forward += report.recovered.filter((r) => r.state === 'rolled-forward').length;
      seen.back += report.recovered.filter((r) => r.state === 'rolled-back').length;
      const generations = TARGETS.map(generationOf);
      assert.ok(
        generations.every((g) => g === generations[0]),
        `crash after ${crashAfter}: generations ${generations.join(', ')}`,
      );
      seen[generations[0] === 0 ? 'old' : 'new'] += 1;
      assert.deepEqual(filesUnder(dir), [...TARGETS], `crash after ${crashAfter} of ${steps} steps`);
    }
    assert.ok(seen.old > 0 && seen.new > 0 && seen.forward > 0, JSON.stringify(seen));
  });

  test('the next commit to those files first finishes an interrupted group', async () => {
    writeGeneration(0);
    const dry = new CrashingGroupFs(Number.POSITIVE_INFINITY);
    await commitGroup(group(1), { fs: dry.fs });
    writeGeneration(0);
    // Crash just after the first target was renamed.
    let crashAfter = 0;
    for (; crashAfter < dry.steps; crashAfter++) {
      writeGeneration(0);
      for (const name of readdirSync(dir)) if (!TARGETS.includes(name as (typeof TARGETS)[number])) rmSync(path(name));
      await commitGroup(group(1), { fs: new CrashingGroupFs(crashAfter).fs }).catch(() => undefined);
      if (generationOf('a.json') === 1) break;
    }
    assert.equal(generationOf('a.json'), 1);
    assert.equal(generationOf('b.json'), 0, 'the crash should leave the group mixed');
    const result = await commitGroup(group(2, ['b.json', 'c.json']));
    assert.equal(result.recovered.length, 1);
    assert.equal(result.recovered[0]!.state, 'rolled-forward');
    assert.deepEqual([generationOf('a.json'), generationOf('b.json'), generationOf('c.json')], [1, 2, 2]);
    assert.deepEqual(filesUnder(dir), [...TARGETS]);
  });

  test('scan shows the files of an interrupted group as one group; sweep keeps every one of them', async () => {
    writeGeneration(0);
    const dry = new CrashingGroupFs(Number.POSITIVE_INFINITY);
    await commitGroup(group(1), { fs: dry.fs });
    writeGeneration(0);
    let crashAfter = 0;
    for (; generationOf('a.json') === 0; crashAfter++) {
      writeGeneration(0);
      for (const name of readdirSync(dir)) if (!TARGETS.includes(name as (typeof TARGETS)[number])) rmSync(path(name));
      await commitGroup(group(1), { fs: new CrashingGroupFs(crashAfter).fs }).catch(() => undefined);
    }
    const { orphans, errors } = await scanOrphans([dir]);
    assert.deepEqual(errors, []);
    const journal = orphans.find((o) => recogniseGroupFile(basename(o.path))?.role === 'journal');
    assert.ok(journal, JSON.stringify(orphans));
    const names = orphans
      .map((o) =>
        basename(o.path)
          .replace(/csg-[^.]+/, 'csg-ID')
          .replace(/group-[^.]+/, 'group-ID'),
      )
      .sort();
    assert.deepEqual(names, [
      '.cs-group-ID.journal',
      'a.json.csg-ID.bak',
      'b.json.csg-ID.bak',
      'b.json.csg-ID.tmp',
      'c.json.csg-ID.bak',
      'c.json.csg-ID.tmp',
    ]);
    for (const orphan of orphans) {
      assert.equal(orphan.group, journal.path);
      assert.equal(orphan.note, GROUP_FILE_NOTE);
    }
    const swept = await sweepOrphans(orphans, { olderThanMs: 0, roots: [dir], includeRecoverable: true });
    assert.deepEqual(swept.removed, []);
    assert.deepEqual(
      new Set(swept.kept.map((k) => k.reason)),
      new Set(['part of an interrupted group commit; recover it with recover --groups']),
    );
    const report = await recoverGroups(dir);
    assert.equal(report.recovered.length, 1);
    assert.deepEqual(TARGETS.map(generationOf), [1, 1, 1]);
  });

  test('a journal that cannot be parsed, or a target changed since, is reported and nothing is touched', async () => {
    writeGeneration(0);
    const id = newGroupId();
    const journalPath = path(groupJournalName(id));
    writeFileSync(journalPath, '{"format": "crash-safe-group", "version": 1, "id": "x"');
    writeFileSync(path(groupTempName('a.json', id)), versionOf('a.json', 1));
    let report = await recoverGroups(dir);
    assert.equal(report.problems.length, 1);
    assert.match(report.problems[0]!.reason, /is not valid JSON/);
    assert.equal(readdirSync(dir).length, 5);
    // The next commit of files it may describe is refused rather than guessing.
    await assert.rejects(
      commitGroup(group(1, ['b.json'])),
      (error: unknown) => error instanceof GroupCommitError && error.step === 'recover',
    );
    assertGeneration(0);

    rmSync(journalPath);
    writeFileSync(
      journalPath,
      encodeJournal({
        format: 'crash-safe-group',
        version: 1,
        id,
        state: 'committing',
        entries: [
          {
            target: 'a.json',
            temp: groupTempName('a.json', id),
            backup: groupBackupName('a.json', id),
            previous: digestOf(Buffer.from(versionOf('a.json', -1))),
            next: digestOf(Buffer.from(versionOf('a.json', 1))),
          },
        ],
      }),
    );
    report = await recoverGroups(dir);
    assert.equal(report.problems.length, 1);
    assert.match(report.problems[0]!.reason, /a\.json holds neither its old nor its new content/);
    assertGeneration(0);
    const io = captureIo(dir);
    assert.equal(await runRecoverGroups(dir, { json: false }, io), 1);
    assert.match(io.err(), /left .*\.journal as it was/);
  });

  test('leftovers of a group whose journal is gone: removed once the writer is gone, kept while it runs', async () => {
    writeGeneration(0);
    const dead = `2147483646-0-1-0badf00d`;
    const live = `${process.ppid}-0-1-0badf00d`;
    writeFileSync(path(groupTempName('a.json', dead)), '{}');
    writeFileSync(path(groupBackupName('b.json', dead)), '{}');
    writeFileSync(path(groupTempName('c.json', live)), '{}');
    const report = await recoverGroups(dir);
    assert.deepEqual(report.removed.map((p) => basename(p)).sort(), [
      groupTempName('a.json', dead),
      groupBackupName('b.json', dead),
    ]);
    assert.deepEqual(
      report.kept.map((k) => basename(k.path)),
      [groupTempName('c.json', live)],
    );
    assert.match(report.kept[0]!.reason, /still running/);
  });

  test('the cross-process lock: a commit waits while the group lock is held, and gives up after its timeout', async () => {
    writeGeneration(0);
    await withFileLock(groupLockTarget(dir), async () => {
      await assert.rejects(commitGroup(group(1), { lock: { acquireTimeoutMs: 300 } }), LockTimeoutError);
    });
    assertGeneration(0);
    await commitGroup(group(1));
    assertGeneration(1);
  });

  test('a target replaced, or created, while the commit waited for the lock is not written over: refused, naming it', async () => {
    writeGeneration(0);
    rmSync(path('c.json'));
    let commit: Promise<unknown> | undefined;
    await withFileLock(groupLockTarget(dir), async () => {
      commit = commitGroup(group(1), NO_WAIT).catch((error: unknown) => error);
      // The commit prepares while it waits; meanwhile another writer (an editor's save) replaces a.json and creates c.json.
      await new Promise((resolve) => setTimeout(resolve, 200));
      writeFileSync(path('a.json.other'), versionOf('a.json', 7));
      await nodeGroupFs.rename(path('a.json.other'), path('a.json'));
      writeFileSync(path('c.json'), versionOf('c.json', 7));
    });
    const error = await commit;
    assert.ok(error instanceof GroupCommitError, String(error));
    assert.equal(error.code, 'ECHANGED', error.message);
    assert.equal(error.outcome, 'unchanged', error.message);
    assert.match(
      error.message,
      /a\.json \(it was replaced or rewritten .*\), .*c\.json \(it exists now\) changed since the group was planned, so they are not written over; nothing was written/,
    );
    assert.deepEqual(
      error.problems.map((p) => basename(p.path)),
      ['a.json', 'c.json'],
    );
    assert.deepEqual([generationOf('a.json'), generationOf('b.json'), generationOf('c.json')], [7, 0, 7]);
    assert.deepEqual(filesUnder(dir), [...TARGETS]);
  });

  test('a folder path ("newdir/", "x/.", "x/..") is refused before anything is written, naming it', async () => {
    writeGeneration(0);
    for (const target of [`${dir}/newdir/`, `${dir}/newdir/.`, `${dir}/newdir/..`]) {
      await assert.rejects(commitGroup([...group(1, ['a.json']), { path: target, data: '{}' }]), (error: unknown) => {
        assert.ok(error instanceof GroupCommitError);
        assert.equal(error.step, 'validate');
        assert.deepEqual(
          error.problems.map((p) => p.path),
          [target],
        );
        assert.match(error.message, /names a folder, not a file/);
        return true;
      });
    }
    assertGeneration(0);
    assert.deepEqual(filesUnder(dir), [...TARGETS]);
  });

  test('two names for one file (a hard link, a/../a.json) are refused as listed twice', async () => {
    writeGeneration(0);
    linkSync(path('a.json'), path('hard.json'));
    mkdirSync(path('sub'));
    const pairs = [
      [path('a.json'), path('hard.json')],
      [path('b.json'), join(dir, 'sub', '..', 'b.json')],
    ];
    for (const [first, second] of pairs) {
      await assert.rejects(
        commitGroup([
          { path: first!, data: '{"one":1}' },
          { path: second!, data: '{"two":2}' },
        ]),
        (error: unknown) =>
          error instanceof GroupCommitError &&
          error.outcome === 'unchanged' &&
          /same file, listed twice/.test(error.message),
      );
    }
    assertGeneration(0);
    assert.equal(readFileSync(path('hard.json'), 'utf8'), versionOf('a.json', 0));
  });

  suite('compare before rename: a target changed between the plan and its rename is never written over', () => {
    /** The real disk, plus `strike` run once, right after the journal is in place (under the lock, before any rename). */
    const strikingAfterJournal = (inner: GroupFs, strike: () => void): GroupFs => {
      let struck = false;
      return {
        ...delegateTo(inner),
        rename: async (from, to) => {
          await inner.rename(from, to);
          if (!struck && roleOf(to) === 'journal') {
            struck = true;
            strike();
          }
        },
      };
    };
    const elsewhere = () => join(dir, 'elsewhere.json');
    const attacks: Array<{ name: string; target: string; strike: () => void; check: () => void }> = [
      {
        name: 'replaced by another file (a save by rename)',
        target: 'a.json',
        strike: () => {
          writeFileSync(path('a.json.save'), versionOf('a.json', 7));
          renameSync(path('a.json.save'), path('a.json'));
        },
        check: () => assert.equal(generationOf('a.json'), 7),
      },
      {
        name: 'rewritten in place, same size, same mtime tick',
        target: 'b.json',
        strike: () => {
          const before = statSync(path('b.json'));
          writeFileSync(path('b.json'), versionOf('b.json', 8));
          utimesSync(path('b.json'), before.atime, before.mtime);
        },
        check: () => assert.equal(generationOf('b.json'), 8),
      },
      {
        name: 'replaced by a symlink to a file outside',
        target: 'a.json',
        strike: () => {
          writeFileSync(elsewhere(), 'outside\n');
          rmSync(path('a.json'));
          symlinkSync(elsewhere(), path('a.json'));
        },
        check: () => {
          assert.ok(lstatSync(path('a.json')).isSymbolicLink());
          assert.equal(readFileSync(elsewhere(), 'utf8'), 'outside\n');
        },
      },
      {
        name: 'turned into a folder',
        target: 'b.json',
        strike: () => {
          rmSync(path('b.json'));
          mkdirSync(path('b.json'));
        },
        check: () => assert.ok(statSync(path('b.json')).isDirectory()),
      },
      {
        name: 'removed',
        target: 'a.json',
        strike: () => rmSync(path('a.json')),
        check: () => assert.ok(!existsSync(path('a.json'))),
      },
      {
        // Its content is read beside the lstat (racy mtime): the read must refuse a FIFO at once, never wait on it.
        name: 'replaced by a FIFO',
        target: 'b.json',
        strike: () => {
          rmSync(path('b.json'));
          execFileSync('mkfifo', [path('b.json')]);
        },
        check: () => assert.ok(lstatSync(path('b.json')).isFIFO()),
      },
      {
        name: 'replaced by a symlink to /dev/zero',
        target: 'a.json',
        strike: () => {
          rmSync(path('a.json'));
          symlinkSync('/dev/zero', path('a.json'));
        },
        check: () => assert.equal(readlinkSync(path('a.json')), '/dev/zero'),
      },
      {
        name: 'created where there was none',
        target: 'c.json',
        strike: () => writeFileSync(path('c.json'), versionOf('c.json', 9)),
        check: () => assert.equal(generationOf('c.json'), 9),
      },
    ];
    for (const attack of attacks) {
      for (const [how, inner] of [
        ['linked backups', nodeGroupFs],
        ['copied backups', new FaultyFs()],
      ] as const) {
        test(`${attack.target} ${attack.name} (${how}): refused (ECHANGED, naming it), every file as it was, nothing left`, async () => {
          writeGeneration(0, ['a.json', 'b.json']);
          const fs = strikingAfterJournal(inner, attack.strike);
          await assert.rejects(commitGroup(group(1), { fs, ...NO_WAIT }), (error: unknown) => {
            assert.ok(error instanceof GroupCommitError, String(error));
            assert.equal(error.code, 'ECHANGED', error.message);
            assert.equal(error.outcome, 'unchanged', error.message);
            assert.match(
              error.message,
              new RegExp(`${path(attack.target)} \\(it .*\\) changed since the group was planned`),
            );
            return true;
          });
          attack.check();
          for (const name of TARGETS.filter((n) => n !== attack.target && n !== 'c.json'))
            assert.equal(generationOf(name), 0, name);
          if (attack.target !== 'c.json') assert.ok(!existsSync(path('c.json')), 'c.json must not be created');
          const left = filesUnder(dir).filter((name) => roleOf(name) !== undefined || name.includes('.lock'));
          assert.deepEqual(left, []);
        });
      }
    }

    test('the folder of a new target swapped for a symlink to another folder: refused, naming the folder; nothing created there', async () => {
      writeGeneration(0, ['b.json']);
      mkdirSync(path('sub'));
      mkdirSync(path('other'));
      const fs = strikingAfterJournal(nodeGroupFs, () => {
        renameSync(path('sub'), path('sub-old'));
        symlinkSync(path('other'), path('sub'));
      });
      const files = [...group(1, ['b.json']), { path: path('sub/c.json'), data: versionOf('c.json', 1) }];
      await assert.rejects(commitGroup(files, { fs, ...NO_WAIT }), (error: unknown) => {
        assert.ok(error instanceof GroupCommitError, String(error));
        assert.equal(error.code, 'ECHANGED');
        assert.equal(error.outcome, 'unchanged');
        assert.match(error.message, /the folder .*sub changed since the group was planned \(it is now a symbolic link/);
        return true;
      });
      assert.equal(generationOf('b.json'), 0);
      assert.deepEqual(readdirSync(path('other')), []);
    });

    test('a case-insensitive file system: A.json and a.json are one file, refused as listed twice; two new ones fail before any rename', async () => {
      // Every name is looked up case-folded, as on macOS or Windows by default.
      const fold = (p: string) => (dirname(p) === dir ? join(dir, basename(p).toLowerCase()) : p);
      const folding: GroupFs = {
        ...nodeGroupFs,
        open: (p, flags, mode) => nodeGroupFs.open(fold(p), flags, mode),
        readFile: (p, max) => nodeGroupFs.readFile(fold(p), max),
        rename: (from, to) => nodeGroupFs.rename(fold(from), fold(to)),
        unlink: (p) => nodeGroupFs.unlink(fold(p)),
        stat: (p) => nodeGroupFs.stat(fold(p)),
        lstat: (p) => nodeGroupFs.lstat(fold(p)),
        link: (from, to) => nodeGroupFs.link!(fold(from), fold(to)),
      };
      writeGeneration(0, ['a.json']);
      const pair = (upper: string, lower: string) => [
        { path: path(upper), data: versionOf(upper, 1) },
        { path: path(lower), data: versionOf(lower, 2) },
      ];
      await assert.rejects(
        commitGroup(pair('A.json', 'a.json'), { fs: folding }),
        /a\.json and .*A\.json are the same file, listed twice/,
      );
      await assert.rejects(
        commitGroup(pair('N.json', 'n.json'), { fs: folding }),
        (error: unknown) =>
          error instanceof GroupCommitError && error.outcome === 'unchanged' && /n\.json/.test(error.message),
      );
      assert.deepEqual(filesUnder(dir), ['a.json']);
      assert.equal(generationOf('a.json'), 0);
    });

    test('expected: a save that landed after the caller read the file is refused; what was read commits', async () => {
      writeGeneration(0, ['a.json', 'b.json']);
      const read = readFileSync(path('a.json'));
      writeFileSync(path('a.json'), versionOf('a.json', 5)); // the editor saved after the read
      const files = (expectedA: Uint8Array | null) => [
        { path: path('a.json'), data: versionOf('a.json', 1), expected: expectedA },
        { path: path('c.json'), data: versionOf('c.json', 1), expected: null },
      ];
      await assert.rejects(commitGroup(files(read)), (error: unknown) => {
        assert.ok(error instanceof GroupCommitError);
        assert.equal(error.code, 'ECHANGED');
        assert.match(
          error.message,
          /a\.json \(it holds other content than the one the new content was made from\) changed since the group was planned/,
        );
        return true;
      });
      assert.equal(generationOf('a.json'), 5);
      await assert.rejects(
        commitGroup([{ path: path('b.json'), data: '{}', expected: null }]),
        /b\.json \(it exists, but .*\) changed since the group was planned/,
      );
      await commitGroup(files(readFileSync(path('a.json'))));
      assert.deepEqual([generationOf('a.json'), generationOf('b.json'), generationOf('c.json')], [1, 0, 1]);
    });
  });

  suite('the lock and journal go where the files are seen', () => {
    test('a symlinked settings.json whose real file is outside the workspace: refused (EOUTSIDE), naming it; no lock or journal anywhere', async () => {
      mkdirSync(path('dotfiles'));
      mkdirSync(path('ws/.vscode/snapshots'), { recursive: true });
      writeFileSync(path('dotfiles/settings.json'), '{"a":1}\n');
      symlinkSync(path('dotfiles/settings.json'), path('ws/.vscode/settings.json'));
      const before = filesUnder(dir);
      const files = [
        { path: path('ws/.vscode/snapshots/s1.json'), data: '{"snapshot":1}\n' },
        { path: path('ws/.vscode/settings.json'), data: '{"a":2}\n' },
      ];
      for (const options of [{}, { journalDir: path('ws/.vscode') }]) {
        await assert.rejects(commitGroup(files, options), (error: unknown) => {
          assert.ok(error instanceof GroupCommitError, String(error));
          assert.equal(error.code, 'EOUTSIDE', error.message);
          assert.equal(error.outcome, 'unchanged');
          assert.match(
            error.message,
            /\.vscode\/settings\.json is really .*dotfiles\/settings\.json .*outside .*ws\/\.vscode, where the group's lock and journal go/,
          );
          return true;
        });
      }
      assert.deepEqual(filesUnder(dir), before);
      assert.equal(readFileSync(path('dotfiles/settings.json'), 'utf8'), '{"a":1}\n');
    });

    test('a symlink or a symlinked folder that stays inside: written through, journal in the real folder', async () => {
      mkdirSync(path('real'));
      symlinkSync(path('real'), path('seen'));
      writeFileSync(path('real/a.json'), versionOf('a.json', 0));
      const fs = { ...nodeGroupFs, journals: [] as string[] };
      const recording: GroupFs = {
        ...fs,
        rename: async (from, to) => {
          if (roleOf(to) === 'journal') fs.journals.push(to);
          return nodeGroupFs.rename(from, to);
        },
      };
      const result = await commitGroup(
        [
          { path: path('seen/a.json'), data: versionOf('a.json', 1) },
          { path: path('seen/b.json'), data: versionOf('b.json', 1) },
        ],
        { fs: recording },
      );
      assert.deepEqual(fs.journals.map(dirname), [path('real')]);
      assert.equal(result.journal, fs.journals[0]);
      assert.equal(readFileSync(path('real/a.json'), 'utf8'), versionOf('a.json', 1));
      assert.deepEqual(readdirSync(path('real')).sort(), ['a.json', 'b.json']);
      assert.ok(lstatSync(path('seen')).isSymbolicLink());
    });

    test('a symlink to a file that does not exist is refused, not replaced by a file', async () => {
      symlinkSync(path('missing.json'), path('a.json'));
      await assert.rejects(
        commitGroup(group(1, ['a.json'])),
        /a\.json is a symbolic link to a file that does not exist/,
      );
      assert.ok(lstatSync(path('a.json')).isSymbolicLink());
      assert.deepEqual(filesUnder(dir), ['a.json']);
    });
  });

  suite('the journal fits what recovery reads: a group is sized exactly against MAX_JOURNAL_BYTES before anything is written', () => {
    /** So the sizing commits and the real one get ids of one length (the sequence number is part of the id). */
    const skipSequenceRollover = (commits: number) => {
      for (;;) {
        const sequence = Number(newGroupId().split('-')[2]);
        if (String(sequence + 1).length === String(sequence + commits).length) return;
      }
    };
    /** The journal this group would write, in bytes: from the refusal when it is too large, else from its one write (then failed). */
    const journalSize = async (files: { path: string; data: string }[]): Promise<number> => {
      let size = -1;
      const fs: GroupFs = {
        ...nodeGroupFs,
        open: async (path, flags, mode) => {
          // The targets' temps are not needed to size the journal: failing them saves hundreds of creates.
          if (roleOf(path) === 'temp' && !path.includes('.journal.')) throw errnoError('EIO', 'open', path);
          const handle = await nodeGroupFs.open(path, flags, mode);
          if (roleOf(path) !== 'temp') return handle;
          return {
            ...handle,
            close: () => handle.close(),
            write: async (_buffer: Uint8Array, _offset: number, length: number) => {
              size = length;
              throw errnoError('EIO', 'write', path);
            },
          };
        },
      };
      const error = await commitGroup(files, { fs, durability: 'fast', journalDir: dir }).catch(
        (caught: unknown) => caught,
      );
      assert.ok(error instanceof GroupCommitError, String(error));
      const refused = /its journal would be (\d+) bytes/.exec(error.message);
      return refused ? Number(refused[1]) : size;
    };

    test('a journal of exactly the limit is written and recovered; one byte more is refused before anything is touched', async function () {
      this.timeout(120_000);
      // Deep folders make long relative paths (three per existing file: target, temp, backup), so a few hundred files fill 4 MiB.
      const deep = join(dir, ...Array.from({ length: 8 }, (_, i) => String(i).padEnd(250, 'd')));
      mkdirSync(deep, { recursive: true });
      const existing = (count: number) =>
        Array.from({ length: count }, (_, i) => ({
          path: join(deep, `f${String(i).padStart(4, '0')}.json`),
          data: '{"g":1}\n',
        }));
      // The tail: a new file (two paths in the journal) whose folder path is lengthened to reach the limit exactly.
      const tail = (extraChars: number, dataBytes: number) => {
        const parts: string[] = [];
        let left = extraChars;
        for (; left > 200; left -= parts.at(-1)!.length + 1) parts.push('t'.repeat(Math.min(250, left - 1)));
        const folder = join(dir, 'tail', ...parts);
        return { path: join(folder, `n${'x'.repeat(left)}.json`), data: `"${'x'.repeat(dataBytes - 3)}"\n` };
      };
      const all = existing(900);
      for (const file of all) writeFileSync(file.path, '{"g":0}\n');
      skipSequenceRollover(12);
      const one = await journalSize(existing(1));
      const perFile = (await journalSize(existing(2))) - one;
      let count = Math.floor((MAX_JOURNAL_BYTES - one) / perFile);
      mkdirSync(join(dir, 'tail'));
      let short = await journalSize([...existing(count), tail(0, 9)]);
      // Each file of the deep folder adds exactly perFile bytes (fixed-width names and sizes).
      for (; short > MAX_JOURNAL_BYTES; short -= perFile) count -= 1;
      for (; MAX_JOURNAL_BYTES - short >= perFile; short += perFile) count += 1;
      assert.ok(count < all.length && MAX_JOURNAL_BYTES - short < perFile, `${count} files, ${short} bytes`);
      const files = existing(count);
      let missing = MAX_JOURNAL_BYTES - short;
      // Each character of the tail's path counts twice; an odd byte comes from a size of two digits (10 bytes, not 9).
      const dataBytes = missing % 2 === 0 ? 9 : 10;
      missing -= dataBytes - 9;
      const exact = tail(missing / 2, dataBytes);
      mkdirSync(dirname(exact.path), { recursive: true });
      assert.equal(await journalSize([...files, exact]), MAX_JOURNAL_BYTES);

      // One byte more: refused up front, naming the size and the limit; not one file opened, nothing touched.
      const opened: string[] = [];
      const spying: GroupFs = {
        ...nodeGroupFs,
        open: async (path, flags, mode) => {
          opened.push(path);
          return nodeGroupFs.open(path, flags, mode);
        },
      };
      const over = { ...exact, data: `"${'x'.repeat(dataBytes * 10 - 3)}"\n` };
      await assert.rejects(commitGroup([...files, over], { fs: spying, journalDir: dir }), (error: unknown) => {
        assert.ok(error instanceof GroupCommitError);
        assert.equal(error.code, 'EFBIG');
        assert.equal(error.outcome, 'unchanged');
        assert.match(
          error.message,
          new RegExp(
            `journal would be ${MAX_JOURNAL_BYTES + 1} bytes .* over the ${MAX_JOURNAL_BYTES}-byte \\(4\\.0 MiB\\) limit recovery reads`,
          ),
        );
        return true;
      });
      assert.deepEqual(opened, []);
      assert.ok(!existsSync(exact.path));
      assert.equal(readFileSync(files[0]!.path, 'utf8'), '{"g":0}\n');

      // Exactly the limit: a crash at the first target's rename leaves the journal, and recovery reads and finishes it.
      let crashed = false;
      const targets = new Set([...files, exact].map((file) => file.path));
      const guard = (what: string) => {
        if (crashed) throw new SimulatedCrash(`crashed before ${what}`);
      };
      const crashing: GroupFs = {
        ...nodeGroupFs,
        open: async (path, flags, mode) => {
          guard(path);
          return nodeGroupFs.open(path, flags, mode);
        },
        unlink: async (path) => {
          guard(path);
          return nodeGroupFs.unlink(path);
        },
        unlinkChecked: async (folderPath, name, folder, file) => {
          guard(join(folderPath, name));
          return nodeGroupFs.unlinkChecked!(folderPath, name, folder, file);
        },
        link: async (from, to) => {
          guard(to);
          return nodeGroupFs.link!(from, to);
        },
        fsyncDir: async (path) => {
          guard(path);
          return nodeGroupFs.fsyncDir(path);
        },
        rename: async (from, to) => {
          guard(to);
          if (targets.has(to)) {
            crashed = true;
            guard(to);
          }
          return nodeGroupFs.rename(from, to);
        },
      };
      await assert.rejects(
        commitGroup([...files, exact], { fs: crashing, durability: 'fast', journalDir: dir }),
        GroupCommitError,
      );
      const journals = readdirSync(dir).filter((name) => roleOf(name) === 'journal');
      assert.equal(journals.length, 1);
      assert.equal(statSync(join(dir, journals[0]!)).size, MAX_JOURNAL_BYTES);
      const report = await recoverGroups(dir);
      assert.deepEqual(report.problems, []);
      assert.deepEqual(
        report.recovered.map((outcome) => outcome.state),
        ['rolled-forward'],
      );
      assert.equal(readFileSync(files.at(-1)!.path, 'utf8'), '{"g":1}\n');
      assert.equal(readFileSync(exact.path, 'utf8'), exact.data);
    });
  });

  /** Leaves a group mixed (a.json new, b.json and c.json old) by crashing the commit after its first target's rename. */
  const interruptMidway = async () => {
    writeGeneration(0);
    for (let crashAfter = 0; generationOf('a.json') === 0; crashAfter++) {
      writeGeneration(0);
      for (const name of readdirSync(dir))
        if (!TARGETS.includes(name as (typeof TARGETS)[number])) rmSync(path(name), { recursive: true });
      await commitGroup(group(1), { fs: new CrashingGroupFs(crashAfter).fs }).catch(() => undefined);
    }
    assert.equal(generationOf('b.json'), 0, 'the crash should leave the group mixed');
  };

  test('recoverGroupFiles finishes the groups of the files a scan found, as recoverGroups does, without a walk', async () => {
    await interruptMidway();
    const dead = '2147483646-0-1-0badf00d';
    writeFileSync(path(groupTempName('a.json', dead)), '{}');
    const { orphans } = await scanOrphans([dir]);
    const paths = orphans.map((orphan) => orphan.path);
    assert.ok(
      paths.some((p) => recogniseGroupFile(basename(p))?.role === 'journal'),
      JSON.stringify(paths),
    );
    const report = await recoverGroupFiles([...paths, path('a.json')], { within: [dir] });
    assert.deepEqual(
      report.recovered.map((r) => [r.state, r.targets.map((t) => basename(t)).sort()]),
      [['rolled-forward', [...TARGETS]]],
    );
    assert.deepEqual(report.problems, []);
    assert.deepEqual(
      report.removed,
      [path(groupTempName('a.json', dead))],
      'a leftover whose journal is gone goes too',
    );
    assert.deepEqual(report.kept, [{ path: path('a.json'), reason: 'not a file of a group commit' }]);
    assert.deepEqual(TARGETS.map(generationOf), [1, 1, 1]);
    assert.deepEqual(filesUnder(dir), [...TARGETS]);
    // Listed again (the scan is stale now): nothing left to do.
    const again = await recoverGroupFiles(paths);
    assert.deepEqual([again.recovered, again.problems, again.removed], [[], [], []]);
  });

  test('recoverGroupFiles: a journal outside `within` is left alone; a held group lock is waited for, then reported', async () => {
    await interruptMidway();
    const { orphans } = await scanOrphans([dir]);
    const before = filesUnder(dir);
    const outside = await recoverGroupFiles(
      orphans.map((o) => o.path),
      { within: [join(dir, 'elsewhere')] },
    );
    assert.deepEqual([outside.recovered, outside.problems, outside.removed], [[], [], []]);
    assert.equal(outside.kept.length, orphans.length);
    assert.match(outside.kept[0]!.reason, /is outside the folders being recovered/);
    // Only a temp listed: its journal is found beside it, and finished under the lock, which another holder has.
    const temp = orphans.find((o) => recogniseGroupFile(basename(o.path))?.role === 'temp')!.path;
    await withFileLock(groupLockTarget(dir), async () => {
      const blocked = await recoverGroupFiles([temp], { lock: { acquireTimeoutMs: 300 } });
      assert.equal(blocked.problems.length, 1);
      assert.match(blocked.problems[0]!.reason, /Cannot lock .*\.cs-group\.lock/);
    });
    assert.deepEqual(filesUnder(dir), before, 'nothing was touched');
    const finished = await recoverGroupFiles([temp]);
    assert.equal(finished.recovered.length, 1);
    assert.deepEqual(TARGETS.map(generationOf), [1, 1, 1]);
    assert.deepEqual(filesUnder(dir), [...TARGETS]);
  });

  suite('a rename refused for a moment (EPERM, EBUSY, EACCES) is retried, as writeFileAtomic retries its own', () => {
    test('the second of three renames refused twice with EPERM: all three files new, nothing left behind', async () => {
      writeGeneration(0);
      const { fs, refused } = refusingRenames(
        nodeGroupFs,
        (from, to) => roleOf(from) === 'temp' && to === path('b.json'),
        'EPERM',
      );
      const result = await commitGroup(group(1), { fs, ...NO_WAIT });
      assert.deepEqual(refused, [path('b.json'), path('b.json')]);
      assert.deepEqual(result.targets, TARGETS.map(path));
      assertGeneration(1);
      assert.deepEqual(filesUnder(dir), [...TARGETS]);
    });

    test('refused beyond the retries: the whole group is rolled back, and the error names the file and EPERM', async () => {
      writeGeneration(0);
      const when = (from: string, to: string) => roleOf(from) === 'temp' && to === path('b.json');
      const { fs, refused } = refusingRenames(nodeGroupFs, when, 'EPERM', Number.POSITIVE_INFINITY);
      await assert.rejects(commitGroup(group(1), { fs, ...NO_WAIT }), (error: unknown) => {
        assert.ok(error instanceof GroupCommitError, String(error));
        assert.equal(error.step, 'apply');
        assert.equal(error.code, 'EPERM');
        assert.equal(error.outcome, 'rolled-back');
        assert.match(error.message, /Cannot replace .*\/b\.json: rename failed with EPERM/);
        assert.match(error.message, /tried 4 times over \d+ ms: another program may hold .*\/b\.json open/);
        assert.match(error.message, /every file is as it was$/);
        return true;
      });
      assert.equal(refused.length, 4, 'one try and three retries');
      assertGeneration(0);
      assert.deepEqual(filesUnder(dir), [...TARGETS]);
    });

    test('the roll back retries too: a backup refused twice with EBUSY still goes back, so every file is old', async () => {
      for (const inner of [nodeGroupFs, new FaultyFs()]) {
        writeGeneration(0);
        const blocked = refusingRenames(
          inner,
          (from, to) => roleOf(from) === 'temp' && to === path('c.json'),
          'EPERM',
          Number.POSITIVE_INFINITY,
        );
        const { fs, refused } = refusingRenames(
          blocked.fs,
          (from, to) => roleOf(from) === 'backup' && to === path('a.json'),
          'EBUSY',
        );
        await assert.rejects(commitGroup(group(1), { fs, ...NO_WAIT }), (error: unknown) => {
          assert.ok(error instanceof GroupCommitError, String(error));
          assert.equal(error.outcome, 'rolled-back', error.message);
          assert.match(error.message, /c\.json: rename failed with EPERM/);
          return true;
        });
        assert.deepEqual(refused, [path('a.json'), path('a.json')]);
        assertGeneration(0);
        assert.deepEqual(filesUnder(dir), [...TARGETS], `with ${inner === nodeGroupFs ? 'hard links' : 'copies'}`);
      }
    });

    test('recovery retries too: renames refused twice with EBUSY, rolling forward and rolling back, finish the group', async () => {
      for (const direction of ['forward', 'back'] as const) {
        await interruptMidway();
        if (direction === 'back') {
          // Without the temp of b.json the group can only go back: a.json's backup is renamed over it.
          const temp = readdirSync(dir).find((name) => name.startsWith('b.json') && roleOf(name) === 'temp')!;
          rmSync(path(temp));
        }
        const refusedOn = direction === 'forward' ? 'b.json' : 'a.json';
        const { fs, refused } = refusingRenames(nodeGroupFs, (_from, to) => to === path(refusedOn), 'EBUSY');
        const report = await recoverGroups(dir, { fs, ...NO_WAIT });
        assert.deepEqual(report.problems, [], direction);
        assert.deepEqual(
          report.recovered.map((r) => r.state),
          [direction === 'forward' ? 'rolled-forward' : 'rolled-back'],
        );
        assert.deepEqual(refused, [path(refusedOn), path(refusedOn)]);
        assertGeneration(direction === 'forward' ? 1 : 0);
        assert.deepEqual(filesUnder(dir), [...TARGETS], direction);
      }
    });

    test('the commit that first finishes an interrupted group retries that recovery too', async () => {
      await interruptMidway();
      const { fs, refused } = refusingRenames(
        nodeGroupFs,
        (from, to) => roleOf(from) === 'temp' && to === path('c.json'),
        'EBUSY',
        2,
      );
      const result = await commitGroup(group(2, ['a.json']), { fs, ...NO_WAIT });
      assert.deepEqual(
        result.recovered.map((r) => r.state),
        ['rolled-forward'],
      );
      assert.equal(refused.length, 2);
      assert.deepEqual(TARGETS.map(generationOf), [2, 1, 1]);
      assert.deepEqual(filesUnder(dir), [...TARGETS]);
    });
  });

  test('names: the recogniser knows journals, temps and backups; recogniseTemp and look-alikes stay apart', () => {
    const id = newGroupId();
    for (const [name, role, target] of [
      [groupJournalName(id), 'journal', undefined],
      [groupTempName('a.json', id), 'temp', 'a.json'],
      [groupBackupName('a.json', id), 'backup', 'a.json'],
      [groupTempName(groupJournalName(id), id), 'temp', groupJournalName(id)],
    ] as const) {
      assert.deepEqual(recogniseGroupFile(name), {
        role,
        groupId: id,
        pid: process.pid,
        threadId: 0,
        ...(target ? { target } : {}),
      });
      assert.ok(mightBeTemp(name), name);
      assert.equal(recogniseTemp(name, new Set([name, 'a.json', groupJournalName(id)])), undefined, name);
    }
    for (const name of ['a.json.csg-1-2-3.tmp', 'a.json.bak', '.cs-group-x.journal', 'a.json.csg-1-2-3-ABCDEF12.tmp']) {
      assert.equal(recogniseGroupFile(name), undefined, name);
    }
  });
});

suite('crash-safe write-group (the verb) and recover --groups (the output)', () => {
  let dir: string;
  setup(() => {
    dir = mkdtempSync(join(tmpdir(), 'cs-write-group-'));
    mkdirSync(join(dir, 'new'));
    for (const name of ['a.json', 'b.json']) {
      writeFileSync(join(dir, name), '{"old":true}\n');
      writeFileSync(join(dir, 'new', name), `{"new":"${name}"}\n`);
    }
  });
  teardown(() => rmSync(dir, { recursive: true, force: true }));

  const manifest = (files: unknown) => {
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ files }));
    return 'manifest.json';
  };

  test('commits the manifest, paths relative to its folder; --json prints the result', async () => {
    const io = captureIo(dir);
    const args = [
      manifest([
        { target: 'a.json', source: 'new/a.json' },
        { target: 'b.json', source: join(dir, 'new/b.json') },
      ]),
      '--json',
    ];
    assert.equal(await writeGroupVerb.run(args, io), 0, io.err());
    assert.deepEqual(JSON.parse(io.out()), {
      committed: true,
      targets: [join(dir, 'a.json'), join(dir, 'b.json')],
      recovered: [],
    });
    assert.equal(readFileSync(join(dir, 'b.json'), 'utf8'), '{"new":"b.json"}\n');
  });

  test('a source that is not valid JSON, or a bad manifest, is refused with exit 1 and nothing is written', async () => {
    writeFileSync(join(dir, 'new', 'b.json'), '{"new": }');
    const cases: Array<[unknown, RegExp]> = [
      [
        [
          { target: 'a.json', source: 'new/a.json' },
          { target: 'b.json', source: 'new/b.json' },
        ],
        /source for .*b\.json: .* at line 1, column 9/,
      ],
      [[{ target: 'a.json', source: 'new/missing.json' }], /cannot read the source .*missing\.json/],
      [[], /lists no files/],
      [[{ target: 'a.json' }], /needs a "target" and a "source"/],
    ];
    for (const [files, message] of cases) {
      const io = captureIo(dir);
      assert.equal(await writeGroupVerb.run([manifest(files)], io), 1);
      assert.match(io.err(), message);
      assert.match(io.err(), /nothing was written/);
    }
    assert.equal(readFileSync(join(dir, 'a.json'), 'utf8'), '{"old":true}\n');
  });

  test('a target ending in "/" (or "/.") names a folder: refused with exit 1, naming it; no file "newdir" is created', async () => {
    for (const target of ['newdir/', 'newdir/.', 'a.json/..']) {
      const io = captureIo(dir);
      assert.equal(
        await writeGroupVerb.run(
          [
            manifest([
              { target: 'a.json', source: 'new/a.json' },
              { target, source: 'new/b.json' },
            ]),
          ],
          io,
        ),
        1,
        target,
      );
      assert.match(
        io.err(),
        new RegExp(
          `the target ${target.replace(/[.]/g, '\\.')} ends in .*names a folder, not a file.*nothing was written`,
        ),
      );
    }
    assert.deepEqual(readdirSync(dir).sort(), ['a.json', 'b.json', 'manifest.json', 'new']);
    assert.equal(readFileSync(join(dir, 'a.json'), 'utf8'), '{"old":true}\n');
  });

  test('usage errors are thrown as UsageError (exit 2 in main)', async () => {
    const io = captureIo(dir);
    await assert.rejects(writeGroupVerb.run([], io), /exactly one MANIFEST/);
    await assert.rejects(
      writeGroupVerb.run(['m.json', '--durability', 'sometimes'], io),
      /--durability must be full or fast/,
    );
    await assert.rejects(
      writeGroupVerb.run(['m.json', '--bogus'], io),
      (error: unknown) => (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION',
    );
  });

  test('recover --groups output: nothing to do exits 0; a root that is not a folder exits 1', async () => {
    let io = captureIo(dir);
    assert.equal(await runRecoverGroups(dir, { json: false }, io), 0);
    assert.match(io.out(), /no interrupted group commits/);
    io = captureIo(dir);
    assert.equal(await runRecoverGroups(dir, { json: true }, io), 0);
    assert.deepEqual(JSON.parse(io.out()), {
      recovered: [],
      problems: [],
      removed: [],
      removedBytes: 0,
      kept: [],
      skipped: [],
      errors: [],
    });
    io = captureIo(dir);
    assert.equal(await runRecoverGroups(join(dir, 'a.json'), { json: false }, io), 1);
    assert.match(io.err(), /not a folder/);
  });
});
