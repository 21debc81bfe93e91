import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  type FSWatcher,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  watch,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, sep } from 'node:path';
import type { FileHandleLike } from '../../src/core/fs';
import { GroupCommitError, type GroupFs, recoverGroups } from '../../src/core/groups/groupCommit';
import { groupLockTarget, nodeGroupFs } from '../../src/core/groups/groupJournal';
import { withFileLock } from '../../src/core/lock/fileLock';
import { OUR_TEMP_PATTERN } from '../../src/core/names/tempNames';
import { recogniseGroupFile } from '../../src/core/names/tempPatterns';
import {
  changedSettingKeys,
  DEFAULT_SNAPSHOT_KEEP,
  SettingsSnapshots,
  SnapshotError,
  type SnapshotSummary,
  settingsValuesFromText,
  snapshotIdFor,
  snapshotIdTime,
  type TakeResult,
} from '../../src/state/snapshots';
import { runCliCaptured } from '../support/cliRun';
import { CrashingGroupFs } from '../support/crashingGroupFs';
import { errnoError, FaultyFs } from '../support/faultyFs';

const SETTINGS_V1 = '{\n  // Bigger text for the demo\n  "editor.fontSize": 14,\n  "files.eol": "\\n",\n}\n';
const SETTINGS_V2 =
  '{\n  // Bigger text for the demo\n  "editor.fontSize": 18,\n  "files.eol": "\\n",\n  "[json]": { "editor.tabSize": 2 },\n}\n';

/** The real disk (with or without link), failing every rename onto `failOn` with `code`. */
function failingRenameOnto(failOn: string, code: string, withLink: boolean): GroupFs {
  const { link, ...plain } = nodeGroupFs;
  return {
    ...(withLink ? nodeGroupFs : plain),
    rename: async (from, to) => {
      if (to === failOn) throw errnoError(code, 'rename', to);
      return nodeGroupFs.rename(from, to);
    },
  };
}

/** Group commit files (journals, temps, backups) anywhere under `dir`. */
function groupFilesUnder(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, encoding: 'utf8' }) as string[]).filter((name) =>
    recogniseGroupFile(name.split(/[\\/]/).pop()!),
  );
}

/** A handle's calls, bound, to override one of them. */
function bindHandle(handle: FileHandleLike): FileHandleLike {
  return {
    write: (...args) => handle.write(...args),
    sync: () => handle.sync(),
    chmod: (mode) => handle.chmod(mode),
    chown: (uid, gid) => handle.chown(uid, gid),
    close: () => handle.close(),
  };
}

function taken(result: TakeResult): SnapshotSummary {
  assert.ok(result.taken, 'expected a snapshot to be taken');
  return result.snapshot;
}

suite('settings snapshots', () => {
  let workspace: string;
  let settingsPath: string;
  let clock: number;
  const tick = () => {
    clock += 1000;
    return new Date(clock);
  };
  let snapshots: SettingsSnapshots;
  const writeSettings = (text: string) => {
    mkdirSync(join(workspace, '.vscode'), { recursive: true });
    writeFileSync(settingsPath, text);
  };

  setup(() => {
    workspace = mkdtempSync(join(tmpdir(), 'cs-snap-'));
    settingsPath = join(workspace, '.vscode', 'settings.json');
    clock = Date.parse('2024-05-01T12:30:05.123Z');
    snapshots = new SettingsSnapshots(workspace, { now: tick });
  });
  teardown(() => rmSync(workspace, { recursive: true, force: true }));

  test('ids are file-name-safe ISO times that sort in time order and parse back', () => {
    const id = snapshotIdFor(new Date('2024-05-01T12:30:05.123Z'));
    assert.equal(id, '2024-05-01T12-30-05.123Z');
    assert.doesNotMatch(id, /[:/\\]/);
    assert.equal(snapshotIdTime(id)?.toISOString(), '2024-05-01T12:30:05.123Z');
    assert.equal(snapshotIdTime('2024-05-01T12:30:05.123Z'), undefined);
    assert.equal(snapshotIdTime('latest'), undefined);
    assert.ok(
      snapshotIdFor(new Date('2024-05-01T09:00:00.000Z')) < snapshotIdFor(new Date('2024-05-01T10:00:00.000Z')),
    );
  });

  test('settings.json is parsed as JSONC (comments, trailing commas); problems are reported by line:column', () => {
    assert.deepEqual(settingsValuesFromText(SETTINGS_V1), {
      values: { 'editor.fontSize': 14, 'files.eol': '\n' },
      parseErrors: [],
    });
    assert.deepEqual(settingsValuesFromText(null), { values: {}, parseErrors: [] });
    const broken = settingsValuesFromText('{\n  "a": 1\n  "b": 2\n}');
    assert.deepEqual(broken.values, { a: 1, b: 2 }, 'JSONC recovers what it can');
    assert.deepEqual(broken.parseErrors, ['3:3 CommaExpected']);
    assert.ok(settingsValuesFromText('[1]').parseErrors.length > 0);
  });

  test('changed keys compare values deeply, including override blocks', () => {
    assert.deepEqual(changedSettingKeys({ a: 1, b: { x: [1] }, c: 3 }, { a: 1, b: { x: [2] }, d: 4 }), ['b', 'c', 'd']);
    assert.deepEqual(changedSettingKeys({ a: { x: 1 } }, { a: { x: 1 } }), []);
  });

  test('take keeps the raw text as written (comments and all) plus the values', async () => {
    writeSettings(SETTINGS_V1);
    const snapshot = taken(await snapshots.take({ reason: 'command' }));
    assert.equal(snapshot.id, '2024-05-01T12-30-06.123Z');
    assert.equal(snapshot.path, join(workspace, '.vscode', 'crash-safe', 'settings-snapshots', `${snapshot.id}.json`));
    const stored = await snapshots.read(snapshot.id);
    assert.equal(stored.settingsText, SETTINGS_V1);
    assert.deepEqual(stored.values, { 'editor.fontSize': 14, 'files.eol': '\n' });
    assert.equal(stored.reason, 'command');
    assert.equal(stored.takenAt, '2024-05-01T12:30:06.123Z');
    assert.deepEqual(JSON.parse(readFileSync(snapshot.path, 'utf8')), stored);
  });

  test('values passed by the caller (VS Code’s effective values) are recorded instead of parsed ones', async () => {
    writeSettings(SETTINGS_V1);
    const values = { 'editor.fontSize': 14, 'files.eol': '\n', 'editor.wordWrap': 'on' };
    const snapshot = taken(await snapshots.take({ values }));
    assert.deepEqual((await snapshots.read(snapshot.id)).values, values);
  });

  test('nothing changed since the newest snapshot: no snapshot is taken', async () => {
    writeSettings(SETTINGS_V1);
    const first = taken(await snapshots.take());
    const again = await snapshots.take();
    assert.equal(again.taken, false);
    assert.ok(!again.taken && again.newest.id === first.id && again.reason === 'unchanged');
    assert.equal((await snapshots.list()).snapshots.length, 1);
  });

  test('a comment-only edit is a change of text, with no changed keys', async () => {
    writeSettings(SETTINGS_V1);
    await snapshots.take();
    writeSettings(SETTINGS_V1.replace('Bigger text', 'Larger text'));
    const snapshot = taken(await snapshots.take());
    assert.deepEqual(snapshot.changedKeys, []);
    assert.equal(snapshot.textChanged, true);
  });

  test('list: newest first, each with the keys changed against the previous snapshot', async () => {
    await snapshots.take(); // No settings.json yet.
    writeSettings(SETTINGS_V1);
    await snapshots.take();
    writeSettings(SETTINGS_V2);
    await snapshots.take();
    const { snapshots: list, damaged } = await snapshots.list();
    assert.deepEqual(damaged, []);
    assert.deepEqual(
      list.map((s) => [s.changedKeys, s.settingsExisted, s.previousId !== undefined]),
      [
        [['[json]', 'editor.fontSize'], true, true],
        [['editor.fontSize', 'files.eol'], true, true],
        [[], false, false],
      ],
    );
    assert.ok(list[0]!.takenAt > list[1]!.takenAt);
  });

  test('ids stay strictly increasing when the clock stands still or steps back', async () => {
    const frozen = new SettingsSnapshots(workspace, { now: () => new Date('2024-05-01T00:00:00.000Z') });
    writeSettings(SETTINGS_V1);
    const a = taken(await frozen.take());
    writeSettings(SETTINGS_V2);
    const b = taken(await frozen.take());
    assert.ok(b.id > a.id, `${b.id} after ${a.id}`);
  });

  test(`retention keeps the newest ${DEFAULT_SNAPSHOT_KEEP} by default, or "keep"`, async () => {
    const few = new SettingsSnapshots(workspace, { keep: 3, now: tick });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      writeSettings(`{ "n": ${i} }`);
      const result = await few.take();
      ids.push(taken(result).id);
      if (i === 3) assert.deepEqual(result.taken && result.pruned, [ids[0]]);
    }
    const left = readdirSync(few.snapshotsDir).sort();
    assert.deepEqual(
      left,
      ids.slice(2).map((id) => `${id}.json`),
    );
    assert.equal(
      left.some((name) => OUR_TEMP_PATTERN.test(name)),
      false,
    );
    assert.equal(DEFAULT_SNAPSHOT_KEEP, 20);
  });

  test('restore first snapshots the current state, then replaces settings.json atomically', async () => {
    writeSettings(SETTINGS_V1);
    const old = taken(await snapshots.take());
    writeSettings(SETTINGS_V2);
    const inodeBefore = statSync(settingsPath).ino;
    const result = await snapshots.restore(old.id);
    assert.equal(readFileSync(settingsPath, 'utf8'), SETTINGS_V1);
    assert.notEqual(statSync(settingsPath).ino, inodeBefore, 'written by rename, not in place');
    assert.ok(result.before.taken);
    assert.equal(result.before.snapshot.reason, 'before-restore');
    assert.equal(
      (await snapshots.read(result.before.snapshot.id)).settingsText,
      SETTINGS_V2,
      'the state before is kept',
    );
    assert.deepEqual(result.changedKeys, ['[json]', 'editor.fontSize']);
    assert.equal(result.restored.id, old.id);
    assert.equal(
      readdirSync(join(workspace, '.vscode')).some((name) => OUR_TEMP_PATTERN.test(name)),
      false,
    );
  });

  test('restoring when the current state is already the newest snapshot takes no duplicate', async () => {
    writeSettings(SETTINGS_V1);
    const old = taken(await snapshots.take());
    writeSettings(SETTINGS_V2);
    const current = taken(await snapshots.take());
    const result = await snapshots.restore(old.id);
    assert.ok(!result.before.taken && result.before.newest.id === current.id);
    assert.equal((await snapshots.list()).snapshots.length, 2);
  });

  test('restoring the oldest snapshot at the retention limit does not prune it away', async () => {
    const two = new SettingsSnapshots(workspace, { keep: 2, now: tick });
    writeSettings(SETTINGS_V1);
    const oldest = taken(await two.take());
    writeSettings(SETTINGS_V2);
    await two.take();
    writeSettings('{ "third": true }');
    await two.restore(oldest.id);
    assert.equal(readFileSync(settingsPath, 'utf8'), SETTINGS_V1);
    assert.ok(existsSync(oldest.path), 'the restored snapshot survives');
    assert.equal(readdirSync(two.snapshotsDir).length, 2);
  });

  test('restore with keep 1 keeps both the snapshot it took of the current settings and the one restored', async () => {
    const one = new SettingsSnapshots(workspace, { keep: 1, now: tick });
    writeSettings(SETTINGS_V1);
    const old = taken(await one.take());
    writeSettings(SETTINGS_V2);
    const result = await one.restore(old.id);
    assert.ok(result.before.taken);
    assert.deepEqual(result.before.pruned, []);
    assert.equal(
      (await one.read(result.before.snapshot.id)).settingsText,
      SETTINGS_V2,
      'the settings before the restore survive',
    );
    assert.ok(existsSync(old.path));
    // The next take prunes back to keep as usual.
    writeSettings('{ "third": true }');
    const next = await one.take();
    assert.deepEqual(next.taken && next.pruned, [old.id, result.before.snapshot.id]);
  });

  test('a settings.json with a BOM is read as settings, and restore keeps the BOM', async () => {
    writeSettings(SETTINGS_V1);
    const old = taken(await snapshots.take());
    writeSettings(`\ufeff${SETTINGS_V2}`);
    const withBom = taken(await snapshots.take());
    const document = await snapshots.read(withBom.id);
    assert.equal(document.parseErrors, undefined);
    assert.deepEqual(document.values, settingsValuesFromText(SETTINGS_V2).values);
    await snapshots.restore(old.id);
    assert.equal(readFileSync(settingsPath, 'utf8'), `\ufeff${SETTINGS_V1}`);
  });

  test('a settings.json nested too deeply is kept as text with its problem, not a stack overflow', async () => {
    writeSettings(`{ "a": ${'['.repeat(100_000)}${']'.repeat(100_000)} }`);
    const snapshot = taken(await snapshots.take());
    const document = await snapshots.read(snapshot.id);
    assert.deepEqual(document.values, {});
    assert.match(document.parseErrors?.[0] ?? '', /^1:\d+ nested too deeply/);
  });

  test('on a read-only file system take reports EROFS naming the folder it could not create', async () => {
    writeSettings(SETTINGS_V1);
    const readOnly = new FaultyFs([{ step: 'mkdir', code: 'EROFS' }]);
    const blocked = new SettingsSnapshots(workspace, { fs: readOnly, now: tick });
    await assert.rejects(blocked.take(), (error: NodeJS.ErrnoException) => {
      assert.equal(error.code, 'EROFS');
      assert.equal(error.path, join(workspace, '.vscode', 'crash-safe'));
      return true;
    });
    assert.deepEqual(readdirSync(join(workspace, '.vscode')), ['settings.json']);
  });

  test('restoring a snapshot taken when no settings.json existed removes the file', async () => {
    await snapshots.take();
    const none = (await snapshots.list()).snapshots[0]!;
    writeSettings(SETTINGS_V1);
    await snapshots.restore(none.id);
    assert.equal(existsSync(settingsPath), false);
    assert.equal((await snapshots.list()).snapshots[0]!.reason, 'before-restore');
  });

  test('unknown or malformed ids and damaged snapshot files are refused with the file named', async () => {
    writeSettings(SETTINGS_V1);
    await assert.rejects(snapshots.restore('latest'), SnapshotError);
    await assert.rejects(snapshots.restore('2020-01-01T00-00-00.000Z'), /No snapshot/);
    mkdirSync(snapshots.snapshotsDir, { recursive: true });
    const damagedPath = join(snapshots.snapshotsDir, '2021-01-01T00-00-00.000Z.json');
    writeFileSync(damagedPath, '{"version": 1, "takenAt": ');
    await assert.rejects(
      snapshots.restore('2021-01-01T00-00-00.000Z'),
      (e: unknown) => e instanceof SnapshotError && e.message.includes(damagedPath),
    );
    const listing = await snapshots.list();
    assert.deepEqual(
      listing.damaged.map((d) => d.id),
      ['2021-01-01T00-00-00.000Z'],
    );
    assert.equal(readFileSync(settingsPath, 'utf8'), SETTINGS_V1, 'a refused restore leaves settings.json alone');
  });

  test('compare tells which keys a restore would change', async () => {
    writeSettings(SETTINGS_V1);
    const old = taken(await snapshots.take());
    writeSettings(SETTINGS_V2);
    const comparison = await snapshots.compare(old.id);
    assert.deepEqual(comparison.changedKeys, ['[json]', 'editor.fontSize']);
    assert.equal(comparison.currentText, SETTINGS_V2);
    assert.equal(comparison.snapshot.settingsText, SETTINGS_V1);
  });

  test('concurrent takes from several callers never produce two snapshots of one state', async () => {
    writeSettings(SETTINGS_V1);
    const results = await Promise.all(Array.from({ length: 5 }, () => new SettingsSnapshots(workspace).take()));
    assert.equal(results.filter((r) => r.taken).length, 1);
    assert.equal((await snapshots.list()).snapshots.length, 1);
  });

  suite('a snapshot is a byte copy: bytes that are not UTF-8 survive take and restore', () => {
    /** A BOM, CRLF, and the bytes 0xE9 and 0xFF, which are not UTF-8 (a Latin-1 é, and a byte no encoding uses). */
    const LATIN1 = Buffer.concat([
      Buffer.from('\ufeff{\r\n  // caf', 'utf8'),
      Buffer.from([0xe9]),
      Buffer.from('\r\n  "editor.fontSize": 14,\r\n  "x": "', 'utf8'),
      Buffer.from([0xff]),
      Buffer.from('"\r\n}\r\n', 'utf8'),
    ]);
    const writeBytes = (bytes: Buffer) => {
      mkdirSync(join(workspace, '.vscode'), { recursive: true });
      writeFileSync(settingsPath, bytes);
    };

    test('take, then restore over other settings: settings.json is byte-identical again', async () => {
      writeBytes(LATIN1);
      const old = taken(await snapshots.take());
      writeSettings(SETTINGS_V2);
      await snapshots.restore(old.id);
      assert.deepEqual([...readFileSync(settingsPath)], [...LATIN1]);
    });

    test('the before-restore snapshot keeps such bytes too: undoing a restore gives them back', async () => {
      writeSettings(SETTINGS_V1);
      const old = taken(await snapshots.take());
      writeBytes(LATIN1);
      const result = await snapshots.restore(old.id);
      assert.ok(result.before.taken);
      await snapshots.restore(result.before.snapshot.id);
      assert.deepEqual([...readFileSync(settingsPath)], [...LATIN1]);
    });

    test('two files that decode to the same text are two states: the second is snapshotted, not "unchanged"', async () => {
      writeBytes(LATIN1);
      const first = taken(await snapshots.take());
      const other = Buffer.from(LATIN1);
      other[other.indexOf(0xe9)] = 0xe8; // Decodes to the same U+FFFD.
      writeBytes(other);
      const second = await snapshots.take();
      assert.ok(second.taken, 'a different file is a different state');
      await snapshots.restore(first.id);
      assert.deepEqual([...readFileSync(settingsPath)], [...LATIN1]);
      await snapshots.restore(second.snapshot.id);
      assert.deepEqual([...readFileSync(settingsPath)], [...other]);
    });
  });

  suite('restore racing a save: a settings.json changed after restore read it is never written over', () => {
    const SAVED = '{ "saved": "by the editor, meanwhile" }\n';
    /** The real disk, calling `save` once, right after the first `step` on settings.json. */
    const savingAfter = (step: 'readFile' | 'lstat' | 'stat', save: () => void): GroupFs => {
      let saved = false;
      const hooked = async <T>(call: () => Promise<T>, path: string): Promise<T> => {
        try {
          return await call();
        } finally {
          // Whether the call found the file or not (ENOENT): the save lands right after it.
          if (!saved && path === settingsPath) {
            saved = true;
            save();
          }
        }
      };
      return {
        ...nodeGroupFs,
        [step]: (path: string, ...rest: unknown[]) =>
          hooked(() => (nodeGroupFs[step] as (p: string, ...r: unknown[]) => Promise<unknown>)(path, ...rest), path),
      } as GroupFs;
    };

    for (const step of ['readFile', 'lstat'] as const) {
      test(`a save right after restore's first ${step} of settings.json: refused naming settings.json, the save kept`, async () => {
        writeSettings(SETTINGS_V1);
        const old = taken(await snapshots.take());
        writeSettings(SETTINGS_V2);
        const before = readdirSync(snapshots.snapshotsDir).sort();
        const racing = new SettingsSnapshots(workspace, {
          now: tick,
          fs: savingAfter(step, () => writeFileSync(settingsPath, SAVED)),
        });
        await assert.rejects(racing.restore(old.id), (error: Error) => {
          assert.ok(error.message.includes(settingsPath), error.message);
          assert.match(error.message, /changed/);
          return true;
        });
        assert.equal(readFileSync(settingsPath, 'utf8'), SAVED, 'the save survives in the file');
        assert.deepEqual(readdirSync(snapshots.snapshotsDir).sort(), before, 'no snapshot was written');
        assert.deepEqual(groupFilesUnder(workspace), []);
        // Run again, the restore records the save first.
        const result = await snapshots.restore(old.id);
        assert.ok(result.before.taken);
        assert.equal((await snapshots.read(result.before.snapshot.id)).settingsText, SAVED);
      });
    }

    test('when the current state is already the newest snapshot (no snapshot to take), a save meanwhile is still refused', async () => {
      writeSettings(SETTINGS_V1);
      const old = taken(await snapshots.take());
      writeSettings(SETTINGS_V2);
      taken(await snapshots.take());
      const racing = new SettingsSnapshots(workspace, {
        now: tick,
        fs: savingAfter('readFile', () => writeFileSync(settingsPath, SAVED)),
      });
      await assert.rejects(racing.restore(old.id), (error: Error) => error.message.includes(settingsPath));
      assert.equal(readFileSync(settingsPath, 'utf8'), SAVED);
    });

    test('restoring "no settings.json": a save meanwhile is not removed', async () => {
      await snapshots.take();
      const none = (await snapshots.list()).snapshots[0]!;
      writeSettings(SETTINGS_V1);
      const before = readdirSync(snapshots.snapshotsDir).sort();
      const racing = new SettingsSnapshots(workspace, {
        now: tick,
        fs: savingAfter('readFile', () => writeFileSync(settingsPath, SAVED)),
      });
      await assert.rejects(racing.restore(none.id), (error: Error) => error.message.includes(settingsPath));
      assert.equal(readFileSync(settingsPath, 'utf8'), SAVED);
      assert.deepEqual(readdirSync(snapshots.snapshotsDir).sort(), before);
    });

    test('a settings.json created after restore found none is not written over', async () => {
      await snapshots.take({ values: { 'editor.fontSize': 3 } }); // No file: a snapshot of the values only.
      writeSettings(SETTINGS_V1);
      const old = taken(await snapshots.take());
      rmSync(settingsPath);
      const racing = new SettingsSnapshots(workspace, {
        now: tick,
        fs: savingAfter('readFile', () => writeFileSync(settingsPath, SAVED)),
      });
      await assert.rejects(racing.restore(old.id), (error: Error) => error.message.includes(settingsPath));
      assert.equal(readFileSync(settingsPath, 'utf8'), SAVED);
    });

    test('the extension restores only what its preview showed: settings.json changed since then is refused, naming it', async () => {
      writeSettings(SETTINGS_V1);
      const old = taken(await snapshots.take());
      writeSettings(SETTINGS_V2);
      const previewed = await snapshots.currentSettingsBytes();
      writeSettings(SAVED);
      await assert.rejects(snapshots.restore(old.id, { expectedSettings: previewed }), (error: Error) =>
        error.message.includes(settingsPath),
      );
      assert.equal(readFileSync(settingsPath, 'utf8'), SAVED);
      // Unchanged since the preview: restored.
      await snapshots.restore(old.id, { expectedSettings: await snapshots.currentSettingsBytes() });
      assert.equal(readFileSync(settingsPath, 'utf8'), SETTINGS_V1);
    });

    test('CLI: a save while restore waits for the group lock makes it exit 1 naming settings.json; the save is kept', async () => {
      writeSettings(SETTINGS_V1);
      const old = taken(await snapshots.take());
      writeSettings(SETTINGS_V2);
      const vscodeDir = join(workspace, '.vscode');
      let cli: Promise<{ code: number; stdout: string; stderr: string }> | undefined;
      await withFileLock(groupLockTarget(vscodeDir), async () => {
        cli = runCliCaptured(['snapshot', 'restore', old.id, '--dir', workspace], workspace);
        // The group's temps appear once restore has read settings.json and is waiting for this lock.
        for (let waited = 0; !readdirSync(vscodeDir).some((name) => recogniseGroupFile(name)); waited += 10) {
          assert.ok(waited < 20_000, 'the restore never prepared its group');
          await new Promise((resolveWait) => setTimeout(resolveWait, 10));
        }
        writeFileSync(settingsPath, SAVED);
      });
      const result = await cli!;
      assert.equal(result.code, 1, result.stderr);
      assert.ok(result.stderr.includes(settingsPath), result.stderr);
      assert.equal(readFileSync(settingsPath, 'utf8'), SAVED);
      assert.deepEqual(groupFilesUnder(workspace), []);
    });
  });

  suite('hostile files: snapshots and settings.json that are not what they claim', () => {
    const fifoSupported = process.platform !== 'win32';

    (fifoSupported ? test : test.skip)(
      'settings.json a FIFO: restore fails at once naming it, writes nothing',
      async () => {
        writeSettings(SETTINGS_V1);
        const old = taken(await snapshots.take());
        rmSync(settingsPath);
        spawnSync('mkfifo', [settingsPath]);
        const before = readdirSync(snapshots.snapshotsDir).sort();
        await assert.rejects(
          snapshots.restore(old.id),
          (error: Error) => error.message.includes(settingsPath) && /not a regular file/.test(error.message),
        );
        assert.ok(lstatSync(settingsPath).isFIFO());
        assert.deepEqual(readdirSync(snapshots.snapshotsDir).sort(), before);
      },
    );

    (fifoSupported ? test : test.skip)(
      'a snapshot file that is a FIFO is listed as damaged, never waited on',
      async () => {
        mkdirSync(snapshots.snapshotsDir, { recursive: true });
        const id = '2021-01-01T00-00-00.000Z';
        spawnSync('mkfifo', [join(snapshots.snapshotsDir, `${id}.json`)]);
        const listing = await snapshots.list();
        assert.deepEqual(
          listing.damaged.map((d) => d.id),
          [id],
        );
        await assert.rejects(snapshots.restore(id), SnapshotError);
      },
    );

    (fifoSupported ? test : test.skip)(
      'settings.json replaced by a symlink after the preview: refused, the file it names untouched',
      async () => {
        writeSettings(SETTINGS_V1);
        const old = taken(await snapshots.take());
        writeSettings(SETTINGS_V2);
        const previewed = await snapshots.currentSettingsBytes();
        const elsewhere = join(workspace, 'dotfile.json');
        writeFileSync(elsewhere, '{ "mine": "not the workspace settings" }\n');
        rmSync(settingsPath);
        symlinkSync(elsewhere, settingsPath);
        const before = readdirSync(snapshots.snapshotsDir).sort();
        await assert.rejects(snapshots.restore(old.id, { expectedSettings: previewed }), (error: Error) =>
          error.message.includes(settingsPath),
        );
        assert.equal(readFileSync(elsewhere, 'utf8'), '{ "mine": "not the workspace settings" }\n');
        assert.ok(lstatSync(settingsPath).isSymbolicLink());
        assert.deepEqual(readdirSync(snapshots.snapshotsDir).sort(), before);
      },
    );

    test('ids that are paths are refused before any file is opened', async () => {
      writeSettings(SETTINGS_V1);
      for (const id of [
        '../../settings',
        '/etc/passwd',
        '2024-05-01T12-30-05.123Z/../../x',
        '2024-05-01T12-30-05.123Z.json',
      ]) {
        await assert.rejects(snapshots.restore(id), SnapshotError, id);
      }
      assert.equal(readFileSync(settingsPath, 'utf8'), SETTINGS_V1);
    });

    test('a tampered version 2 snapshot (bytes that do not decode to its text, or not base64) is damaged, never restored', async () => {
      writeSettings(SETTINGS_V1);
      const real = taken(await snapshots.take());
      const good = JSON.parse(readFileSync(real.path, 'utf8')) as Record<string, unknown>;
      const cases: Record<string, Record<string, unknown>> = {
        '2021-01-01T00-00-00.001Z': {
          ...good,
          version: 2,
          settingsBytes: Buffer.from('{ "other": 1 }\xff', 'latin1').toString('base64'),
        },
        '2021-01-01T00-00-00.002Z': { ...good, version: 2, settingsBytes: 'not base64!' },
        '2021-01-01T00-00-00.003Z': { ...good, version: 2 }, // no bytes at all
        '2021-01-01T00-00-00.004Z': { ...good, version: 1, settingsBytes: Buffer.from(SETTINGS_V1).toString('base64') },
        '2021-01-01T00-00-00.005Z': { ...good, version: 3 },
      };
      for (const [id, document] of Object.entries(cases))
        writeFileSync(join(snapshots.snapshotsDir, `${id}.json`), JSON.stringify(document));
      writeSettings(SETTINGS_V2);
      const listing = await snapshots.list();
      assert.deepEqual(listing.damaged.map((d) => d.id).sort(), Object.keys(cases));
      for (const id of Object.keys(cases)) await assert.rejects(snapshots.restore(id), SnapshotError, id);
      assert.equal(readFileSync(settingsPath, 'utf8'), SETTINGS_V2);
    });

    test('writer and reader agree on the size bound: a snapshot too large to read back is refused before anything is written', async () => {
      const small = new SettingsSnapshots(workspace, { now: tick, maxSnapshotBytes: 4096 });
      writeSettings(SETTINGS_V1);
      const old = taken(await small.take());
      // Control characters: six bytes each in the snapshot file, one in settings.json.
      writeSettings(`{ "big": "${'\u0001'.repeat(1000)}" }`);
      const before = readdirSync(small.snapshotsDir).sort();
      await assert.rejects(
        small.take(),
        (error: Error) => error instanceof SnapshotError && /read back/.test(error.message),
      );
      await assert.rejects(
        small.restore(old.id),
        (error: Error) => error instanceof SnapshotError && /read back/.test(error.message),
      );
      assert.deepEqual(readdirSync(small.snapshotsDir).sort(), before);
      assert.match(readFileSync(settingsPath, 'utf8'), /big/);
      // A snapshot file over the bound (planted, sparse) is damaged, not read into memory.
      const huge = join(small.snapshotsDir, '2021-01-01T00-00-00.000Z.json');
      writeFileSync(huge, '');
      truncateSync(huge, 300 * 1024 * 1024);
      assert.deepEqual(
        (await snapshots.list()).damaged.map((d) => d.id),
        ['2021-01-01T00-00-00.000Z'],
      );
    });

    test('two restores at once (the CLI, and the extension with its preview): serialised, and no state is lost', async () => {
      writeSettings(SETTINGS_V1);
      const v1 = taken(await snapshots.take());
      writeSettings('{ "other": true }\n');
      const other = taken(await snapshots.take());
      writeSettings(SETTINGS_V2);
      const previewed = await snapshots.currentSettingsBytes();
      const cli = new SettingsSnapshots(workspace, { now: tick }).restore(v1.id);
      const extension = new SettingsSnapshots(workspace, { now: tick }).restore(other.id, {
        expectedSettings: previewed,
      });
      const [cliResult, extensionResult] = await Promise.allSettled([cli, extension]);
      const texts = (await snapshots.list()).snapshots.map((s) => s.id);
      const recorded = await Promise.all(texts.map(async (id) => (await snapshots.read(id)).settingsText));
      // Whichever ran second saw the first one's result: the extension (its preview is stale) refuses; the CLI records it.
      assert.equal(cliResult.status, 'fulfilled');
      if (extensionResult.status === 'fulfilled') {
        assert.equal(readFileSync(settingsPath, 'utf8'), SETTINGS_V1, 'the CLI ran second');
        assert.ok(recorded.includes('{ "other": true }\n'));
      } else {
        assert.ok(String(extensionResult.reason).includes(settingsPath));
        assert.equal(readFileSync(settingsPath, 'utf8'), SETTINGS_V1);
      }
      assert.ok(recorded.includes(SETTINGS_V2), 'the settings before both restores are a snapshot');
      assert.deepEqual(groupFilesUnder(workspace), []);
    });
  });

  suite('a symlinked settings.json (dotfiles): the real file is restored; no lock or journal outside the workspace', () => {
    const SAVED = '{ "saved": "to the dotfile, meanwhile" }\n';
    let parent: string;
    let home: string;
    let dotfile: string;
    let store: SettingsSnapshots;
    let watchers: FSWatcher[];
    /** Every name created or changed in `parent` itself (beside the workspace) and anywhere in `home`. */
    let touched: { parent: string[]; home: string[] };

    setup(() => {
      // The workspace and a "home" folder side by side, so their common folder is one this test can watch.
      parent = mkdtempSync(join(tmpdir(), 'cs-dotfiles-'));
      workspace = join(parent, 'ws');
      home = join(parent, 'home', 'dotfiles', 'vscode');
      mkdirSync(join(workspace, '.vscode'), { recursive: true });
      mkdirSync(home, { recursive: true });
      settingsPath = join(workspace, '.vscode', 'settings.json');
      dotfile = join(home, 'settings.json');
      writeFileSync(dotfile, SETTINGS_V1);
      symlinkSync(dotfile, settingsPath);
      store = new SettingsSnapshots(workspace, { now: tick });
      touched = { parent: [], home: [] };
      watchers = [
        watch(parent, (_event, name) => touched.parent.push(String(name))),
        watch(join(parent, 'home'), { recursive: true }, (_event, name) => touched.home.push(String(name))),
      ];
    });
    teardown(() => {
      for (const watcher of watchers) watcher.close();
      rmSync(parent, { recursive: true, force: true });
    });

    /** What the watchers saw, once their events are in: lock, journal or group temp names outside the workspace. */
    const outsideDebris = async () => {
      await new Promise((settle) => setTimeout(settle, 100));
      const foreign = (name: string) => name !== 'ws' && !name.startsWith(`ws${sep}`);
      return {
        parent: touched.parent.filter(foreign),
        home: touched.home.filter((name) => /\.cs-group|\.lock/.test(name) || recogniseGroupFile(basename(name))),
        groupFiles: [
          ...groupFilesUnder(join(parent, 'home')),
          ...readdirSync(parent).filter(
            (name) => recogniseGroupFile(name) || name.includes('.cs-group') || name.endsWith('.lock'),
          ),
        ],
      };
    };

    test('restore replaces the real file, keeps the link, snapshots the state before, and creates nothing outside', async () => {
      const old = taken(await store.take());
      writeFileSync(dotfile, SETTINGS_V2);
      const result = await store.restore(old.id);
      assert.equal(readFileSync(dotfile, 'utf8'), SETTINGS_V1, 'the real file holds the restored settings');
      assert.ok(lstatSync(settingsPath).isSymbolicLink(), 'the link is still a link');
      assert.equal(readlinkSync(settingsPath), dotfile);
      assert.ok(result.before.taken, 'a before-restore snapshot was taken');
      assert.equal((await store.read(result.before.snapshot.id)).settingsText, SETTINGS_V2);
      assert.deepEqual(await outsideDebris(), { parent: [], home: [], groupFiles: [] });
      assert.deepEqual(groupFilesUnder(workspace), []);
      assert.deepEqual(readdirSync(home).sort(), ['settings.json']);
    });

    test('restore when the state before is already snapshotted (settings.json alone): the real file restored', async () => {
      const old = taken(await store.take());
      writeFileSync(dotfile, SETTINGS_V2);
      taken(await store.take());
      const result = await store.restore(old.id);
      assert.equal(result.before.taken, false);
      assert.equal(readFileSync(dotfile, 'utf8'), SETTINGS_V1);
      assert.ok(lstatSync(settingsPath).isSymbolicLink());
      assert.deepEqual(await outsideDebris(), { parent: [], home: [], groupFiles: [] });
    });

    test("a save to the real file between restore's read and its rename: refused naming settings.json, the save kept", async () => {
      const old = taken(await store.take());
      writeFileSync(dotfile, SETTINGS_V2);
      const before = readdirSync(store.snapshotsDir).sort();
      // The save lands when the new content's temp beside the real file is closed: just before the rename.
      const racing: GroupFs = {
        ...nodeGroupFs,
        open: async (path, flags, mode) => {
          const handle = await nodeGroupFs.open(path, flags, mode);
          if (dirname(path) !== home) return handle;
          return { ...bindHandle(handle), close: () => handle.close().then(() => writeFileSync(dotfile, SAVED)) };
        },
      };
      const error = await new SettingsSnapshots(workspace, { now: tick, fs: racing }).restore(old.id).then(
        () => assert.fail('the restore should be refused'),
        (caught: unknown) => caught,
      );
      assert.ok(
        error instanceof Error && error.message.includes(settingsPath) && /changed/.test(error.message),
        String(error),
      );
      assert.equal(readFileSync(dotfile, 'utf8'), SAVED, 'the save survives');
      assert.deepEqual(readdirSync(store.snapshotsDir).sort(), before, 'the before-restore snapshot went again');
      assert.deepEqual(readdirSync(home).sort(), ['settings.json']);
      assert.ok(lstatSync(settingsPath).isSymbolicLink());
    });

    test('a dangling link: refused naming the link and where it points; nothing written', async () => {
      const old = taken(await store.take());
      rmSync(dotfile);
      const before = readdirSync(store.snapshotsDir).sort();
      await assert.rejects(store.restore(old.id), (error: Error) => {
        assert.ok(error instanceof SnapshotError, String(error));
        assert.ok(error.message.includes(settingsPath) && error.message.includes(dotfile), error.message);
        assert.match(error.message, /does not exist/);
        return true;
      });
      assert.equal(readlinkSync(settingsPath), dotfile, 'the link is kept as it was');
      assert.equal(existsSync(dotfile), false, 'no file was created where it points');
      assert.deepEqual(readdirSync(store.snapshotsDir).sort(), before);
      assert.deepEqual(await outsideDebris(), { parent: [], home: [], groupFiles: [] });
    });

    test("the real file's folder not writable: refused naming the link and the real file, never EACCES at a common folder; no snapshot left", async () => {
      const old = taken(await store.take());
      writeFileSync(dotfile, SETTINGS_V2);
      const before = readdirSync(store.snapshotsDir).sort();
      // Root ignores folder modes: the refusal of a create in `home` is injected.
      const readOnlyHome: GroupFs = {
        ...nodeGroupFs,
        open: async (path, flags, mode) => {
          if (dirname(path) === home && flags !== 'r') throw errnoError('EACCES', 'open', path);
          return nodeGroupFs.open(path, flags, mode);
        },
      };
      await assert.rejects(
        new SettingsSnapshots(workspace, { now: tick, fs: readOnlyHome }).restore(old.id),
        (error: Error) => {
          assert.ok(error instanceof SnapshotError, String(error));
          assert.ok(error.message.includes(settingsPath) && error.message.includes(dotfile), error.message);
          assert.match(error.message, /symbolic link/);
          return true;
        },
      );
      assert.equal(readFileSync(dotfile, 'utf8'), SETTINGS_V2);
      assert.deepEqual(readdirSync(store.snapshotsDir).sort(), before);
      assert.deepEqual(await outsideDebris(), { parent: [], home: [], groupFiles: [] });
    });

    test("the real file replaced, but its folder's fsync fails: the error says so, and the before-restore snapshot is kept", async () => {
      const old = taken(await store.take());
      writeFileSync(dotfile, SETTINGS_V2);
      const unsyncable: GroupFs = {
        ...nodeGroupFs,
        fsyncDir: async (path) => {
          if (path === home) throw errnoError('EIO', 'fsync', path);
          return nodeGroupFs.fsyncDir(path);
        },
      };
      await assert.rejects(
        new SettingsSnapshots(workspace, { now: tick, fs: unsyncable }).restore(old.id),
        (error: Error) => /fsync-dir/.test(error.message) && error.message.includes(settingsPath),
      );
      assert.equal(readFileSync(dotfile, 'utf8'), SETTINGS_V1, 'the rename happened');
      const before = (await store.list()).snapshots.find((summary) => summary.reason === 'before-restore');
      assert.ok(before, 'the state before the restore is still in a snapshot');
      assert.equal((await store.read(before.id)).settingsText, SETTINGS_V2);
    });

    test('CLI: snapshot restore through the link exits 0 and restores the real file', async () => {
      const old = taken(await store.take());
      writeFileSync(dotfile, SETTINGS_V2);
      const result = await runCliCaptured(['snapshot', 'restore', old.id, '--dir', workspace], workspace);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(readFileSync(dotfile, 'utf8'), SETTINGS_V1);
      assert.ok(lstatSync(settingsPath).isSymbolicLink());
      assert.deepEqual(await outsideDebris(), { parent: [], home: [], groupFiles: [] });
    });
  });

  suite('restore is one group commit: the before-restore snapshot and settings.json, both or neither', () => {
    /** settings.json holds SETTINGS_V2; snapshots: `old` (SETTINGS_V1) and `other` ({ "other": true }), oldest first. */
    const seed = async (store: SettingsSnapshots) => {
      writeSettings(SETTINGS_V1);
      const old = taken(await store.take());
      writeSettings('{ "other": true }\n');
      const other = taken(await store.take());
      writeSettings(SETTINGS_V2);
      return { old, other };
    };
    const snapshotFiles = () =>
      readdirSync(snapshots.snapshotsDir)
        .filter((name) => name.endsWith('.json'))
        .sort();

    for (const withLink of [true, false]) {
      test(`EIO on the rename of settings.json: no new snapshot, settings.json as it was, nothing pruned (backups ${withLink ? 'linked' : 'copied'})`, async () => {
        const seeding = new SettingsSnapshots(workspace, { keep: 2, now: tick });
        const { old, other } = await seed(seeding);
        const before = snapshotFiles();
        assert.deepEqual(before, [`${old.id}.json`, `${other.id}.json`]);
        const failing = new SettingsSnapshots(workspace, {
          keep: 2,
          now: tick,
          fs: failingRenameOnto(settingsPath, 'EIO', withLink),
        });
        const error = await failing.restore(old.id).then(
          () => assert.fail('the restore should fail'),
          (caught: unknown) => caught,
        );
        assert.equal(readFileSync(settingsPath, 'utf8'), SETTINGS_V2, 'settings.json as it was');
        // Neither the before-restore snapshot nor the pruning of `other` (keep 2) happened.
        assert.deepEqual(snapshotFiles(), before);
        assert.deepEqual(groupFilesUnder(workspace), []);
        assert.ok(error instanceof GroupCommitError, String(error));
        assert.deepEqual([error.code, error.outcome], ['EIO', 'rolled-back']);
        assert.equal(
          readdirSync(join(workspace, '.vscode')).some((name) => OUR_TEMP_PATTERN.test(name)),
          false,
        );
        // And the same restore without the fault then works.
        const result = await seeding.restore(old.id);
        assert.equal(readFileSync(settingsPath, 'utf8'), SETTINGS_V1);
        assert.ok(result.before.taken && result.before.pruned.includes(other.id));
      });
    }

    test('ENOSPC while preparing: nothing written, nothing pruned', async () => {
      const seeding = new SettingsSnapshots(workspace, { keep: 2, now: tick });
      const { old } = await seed(seeding);
      const before = snapshotFiles();
      const full = new SettingsSnapshots(workspace, {
        keep: 2,
        now: tick,
        fs: new FaultyFs([{ step: 'write', code: 'ENOSPC' }]),
      });
      await assert.rejects(full.restore(old.id), /ENOSPC/);
      assert.equal(readFileSync(settingsPath, 'utf8'), SETTINGS_V2);
      assert.deepEqual(snapshotFiles(), before);
      assert.deepEqual(groupFilesUnder(workspace), []);
    });

    test('a crash after any disk step, then recoverGroups on .vscode: both written or neither, nothing left behind', async () => {
      const dry = new CrashingGroupFs(Number.POSITIVE_INFINITY);
      const reset = async () => {
        rmSync(join(workspace, '.vscode'), { recursive: true, force: true });
        return seed(new SettingsSnapshots(workspace, { now: tick }));
      };
      let { old } = await reset();
      await new SettingsSnapshots(workspace, { now: tick, fs: dry.fs }).restore(old.id);
      const steps = dry.steps;
      assert.ok(steps > 5, `only ${steps} steps`);
      const seen = { neither: 0, both: 0, forward: 0, back: 0 };
      for (let crashAfter = 0; crashAfter <= steps; crashAfter++) {
        ({ old } = await reset());
        const seeded = snapshotFiles();
        const crashing = new SettingsSnapshots(workspace, { now: tick, fs: new CrashingGroupFs(crashAfter).fs });
        await crashing.restore(old.id).catch((error: unknown) => {
          if (crashAfter === steps) throw error;
        });
        const report = await recoverGroups(join(workspace, '.vscode'));
        const where = `crash after ${crashAfter} of ${steps} steps`;
        assert.deepEqual(report.problems, [], where);
        seen.forward += report.recovered.filter((r) => r.state === 'rolled-forward').length;
        seen.back += report.recovered.filter((r) => r.state === 'rolled-back').length;
        assert.deepEqual(groupFilesUnder(workspace), [], where);
        const added = snapshotFiles().filter((name) => !seeded.includes(name));
        const settings = readFileSync(settingsPath, 'utf8');
        if (settings === SETTINGS_V2) {
          assert.deepEqual(added, [], `${where}: settings.json not restored, yet a new snapshot`);
          seen.neither += 1;
        } else {
          assert.equal(settings, SETTINGS_V1, where);
          assert.equal(added.length, 1, `${where}: settings.json restored without the snapshot of the state before`);
          const document = await snapshots.read(added[0]!.replace(/\.json$/, ''));
          assert.deepEqual([document.reason, document.settingsText], ['before-restore', SETTINGS_V2], where);
          seen.both += 1;
        }
      }
      assert.ok(seen.neither > 0 && seen.both > 0 && seen.forward > 0, JSON.stringify(seen));
    });

    test('the next take first finishes a restore interrupted part-way through its renames', async () => {
      // Crash right after the snapshot's rename: the before-restore snapshot is there, settings.json is not restored.
      for (let crashAfter = 0; ; crashAfter++) {
        assert.ok(crashAfter < 200, 'the snapshot was never renamed into place');
        rmSync(join(workspace, '.vscode'), { recursive: true, force: true });
        const { old } = await seed(snapshots);
        const seeded = snapshotFiles();
        await new SettingsSnapshots(workspace, { now: tick, fs: new CrashingGroupFs(crashAfter).fs })
          .restore(old.id)
          .catch(() => undefined);
        if (snapshotFiles().length > seeded.length) break;
      }
      assert.equal(readFileSync(settingsPath, 'utf8'), SETTINGS_V2, 'the crash should leave the restore half done');
      assert.equal(groupFilesUnder(join(workspace, '.vscode')).filter((name) => name.endsWith('.journal')).length, 1);
      await snapshots.take();
      assert.equal(readFileSync(settingsPath, 'utf8'), SETTINGS_V1, 'rolled forward before the take read anything');
      assert.deepEqual(groupFilesUnder(workspace), []);
      const reasons = (await snapshots.list()).snapshots.map((s) => s.reason);
      assert.deepEqual(reasons.slice(0, 2), ['command', 'before-restore']);
    });

    test('a restore of "no settings.json" whose removal fails leaves no before-restore snapshot', async () => {
      await snapshots.take();
      const none = (await snapshots.list()).snapshots[0]!;
      writeSettings(SETTINGS_V1);
      const before = snapshotFiles();
      const failing = new SettingsSnapshots(workspace, {
        now: tick,
        fs: new FaultyFs([{ step: 'unlink', code: 'EBUSY', times: 1 }]),
      });
      await assert.rejects(failing.restore(none.id), /EBUSY/);
      assert.equal(readFileSync(settingsPath, 'utf8'), SETTINGS_V1);
      assert.deepEqual(snapshotFiles(), before);
    });
  });
});
