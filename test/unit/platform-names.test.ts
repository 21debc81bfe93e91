// Names, paths and patterns across platforms: our file names are valid everywhere, the exclude matcher and the lock
// path work on win32-shaped paths (path.win32), and temps pair with targets as NTFS and APFS compare names.
import * as assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { basename, join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { lockPathFor } from '../../src/core/lock/fileLock';
import { fileSafeTime } from '../../src/core/names/fileTime';
import { ourTempPath } from '../../src/core/names/tempNames';
import { nameKey, nameMatchingFor, recogniseTemp, TEMP_LOOKALIKES } from '../../src/core/names/tempPatterns';
import { scanOrphans, sweepOrphans } from '../../src/core/orphans/orphans';
import { compileExcluder } from '../../src/core/orphans/orphanWalk';
import { backupPathFor } from '../../src/core/orphans/recovery';
import { writeFileAtomic } from '../../src/core/write/atomicWrite';
import { snapshotIdFor } from '../../src/state/snapshots';
import { addTodoEdit } from '../../src/state/todoEdits';
import { TodosStore } from '../../src/state/todosStore';
import { writeAgedFile } from '../support/agedFiles';
import { asPlatform, MacLikeFs, portableNameProblem, windowsNameProblem } from '../support/windowsLikeFs';

const NTFS = nameMatchingFor('win32');
const APFS = nameMatchingFor('darwin');
const EXT4 = nameMatchingFor('linux');
const HOUR = 3_600_000;
/** The widest pid any platform hands out: Windows pids are 32-bit. */
const WIDEST_PID_DIGITS = String(2 ** 32 - 1).length;
const LONG_TARGET = `${'a'.repeat(195)}.json`;

function assertPortable(name: string): void {
  assert.equal(portableNameProblem(name), undefined, `${name}: ${portableNameProblem(name)}`);
}

suite('platform names: ours are valid on Linux, Windows and macOS', () => {
  let dir: string;
  setup(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'cs-names-')));
  });
  teardown(() => rmSync(dir, { recursive: true, force: true }));

  test('the portable-name check itself refuses what Windows or a 255-unit limit refuses', () => {
    for (const bad of [
      'nul.json',
      'CON',
      'aux.tar.gz',
      'com1',
      'LPT9.txt',
      'a.json.',
      'a.json ',
      'a:b',
      'a?',
      'x'.repeat(256),
    ]) {
      assert.notEqual(portableNameProblem(bad), undefined, bad);
    }
    assert.notEqual(portableNameProblem('é'.repeat(128)), undefined, '256 UTF-8 bytes');
    for (const good of ['null.json', 'console.log', 'data.json', 'COM10', '.vscode', 'x'.repeat(255)])
      assertPortable(good);
  });

  test('our temp names: portable and under 255 UTF-16 units for a 200-character target, even with the widest pid', () => {
    for (const target of ['data.json', 'Data.JSON', LONG_TARGET]) {
      const name = basename(ourTempPath(join(dir, target)));
      assertPortable(name);
      const worstCase = name.length - String(process.pid).length + WIDEST_PID_DIGITS;
      assert.ok(worstCase < 255, `${worstCase} units for a ${target.length}-character target`);
      assert.equal(recogniseTemp(name)?.target, target);
    }
    const accented = `${'é'.repeat(195)}.json`; // 200 UTF-16 units: fine on NTFS and HFS+ (too many bytes for ext4 anyway)
    const name = basename(ourTempPath(join(dir, accented)));
    assert.equal(windowsNameProblem(name), undefined);
    assert.ok(name.length - String(process.pid).length + WIDEST_PID_DIGITS < 255);
  });

  test('a 255-byte target (ASCII, 2-byte or 4-byte characters): every name we derive from it is portable', () => {
    const now = Date.UTC(2026, 11, 31, 23, 59, 59, 999);
    for (const target of [`${'a'.repeat(250)}.json`, `${'é'.repeat(125)}.json`, `${'😀'.repeat(62)}ab.json`]) {
      assert.equal(Buffer.byteLength(target), 255, target);
      assertPortable(target);
      const derived = [
        basename(ourTempPath(join(dir, target))),
        basename(backupPathFor(join(dir, target), 'corrupt', now)),
        basename(backupPathFor(join(dir, target), 'replaced', now, 99)),
        basename(lockPathFor(join(dir, target))),
        `${basename(lockPathFor(join(dir, target)))}.reclaim-${2 ** 32 - 1}-0badf00d`,
      ];
      for (const name of derived) assertPortable(name);
    }
  });

  test('a 200-character target is written on this disk: its temp name fits', async () => {
    const target = join(dir, LONG_TARGET);
    await writeFileAtomic(target, '{}\n');
    assert.deepEqual(readdirSync(dir), [LONG_TARGET]);
  });

  test("recover's backups, snapshot ids, task backups, damaged copies and lock folders are portable", async () => {
    const now = Date.UTC(2026, 11, 31, 23, 59, 59, 999);
    for (const target of ['data.json', LONG_TARGET]) {
      for (const label of ['corrupt', 'replaced'] as const) {
        const backup = basename(backupPathFor(join(dir, target), label, now));
        assertPortable(backup);
        assertPortable(`${backup}-99`); // freeBackupPath's suffix when the name is taken
        assert.equal(recogniseTemp(backup, [target], [], { mtimeMs: now, now }), undefined);
      }
    }
    for (const when of [new Date(now), new Date(0), new Date('9999-12-31T23:59:59.999Z')]) {
      assertPortable(`${snapshotIdFor(when)}.json`);
      assertPortable(`tasks.json.damaged-${fileSafeTime(when, { millisSeparator: '.' })}`);
    }
    const todosPath = join(dir, '.vscode', 'crash-safe', 'tasks.json');
    const store = new TodosStore(todosPath, { backupsToKeep: 3 });
    for (let n = 0; n < 4; n++) await store.apply([addTodoEdit(`task ${n}`)]);
    const backups = readdirSync(join(dir, '.vscode', 'crash-safe', 'backups'));
    assert.deepEqual(backups.sort(), ['tasks.json.bak-2', 'tasks.json.bak-3', 'tasks.json.bak-4']);
    for (const name of [...backups, ...readdirSync(join(dir, '.vscode', 'crash-safe'))]) assertPortable(name);
    const lock = basename(lockPathFor(todosPath));
    assertPortable(lock);
    assertPortable(`${lock}.reclaim-${2 ** 32 - 1}-0badf00d`);
    assertPortable('settings-snapshots.lock');
  });
});

suite('platform names: temps pair with targets as the volume compares names', () => {
  const nfc = 'café.json'.normalize('NFC');
  const nfd = nfc.normalize('NFD');

  test('NFC and NFD spell café differently, and nameKey tells the volumes apart', () => {
    assert.notEqual(nfc, nfd);
    assert.equal(nameKey(nfd, APFS), nameKey(nfc, APFS));
    assert.notEqual(nameKey(nfd, NTFS), nameKey(nfc, NTFS), 'NTFS does not normalise Unicode');
    assert.equal(nameKey('Data.JSON', NTFS), nameKey('data.json', NTFS));
    assert.notEqual(nameKey('Data.JSON', EXT4), nameKey('data.json', EXT4));
    assert.equal(nameKey('Straße', NTFS), 'straße', 'no ß → ss: the volumes fold one character at a time');
  });

  test('a weak temp whose target differs in case pairs on NTFS and APFS, never on Linux', () => {
    const now = Date.now();
    const cases: Array<[string, string]> = [
      ['.data.json.tmp', 'steno'],
      ['data.json.3141592653', 'write-file-atomic'],
      ['.data.json.0badf00d.tmp', 'dot-hex-tmp'],
      ['data.json.tmp.0badf00d', 'tmp-suffix'],
    ];
    for (const [temp, kind] of cases) {
      const siblings = new Set(['Data.JSON', temp]);
      for (const names of [NTFS, APFS]) {
        assert.deepEqual(
          recogniseTemp(temp, siblings, [], { mtimeMs: now, now, names }),
          { target: 'data.json', kind },
          temp,
        );
      }
      assert.equal(recogniseTemp(temp, siblings, [], { mtimeMs: now, now, names: EXT4 }), undefined, temp);
    }
  });

  test('a custom pattern pairs the same way', () => {
    const siblings = ['Settings.JSON', 'settings.json.bak~'];
    assert.equal(
      recogniseTemp('settings.json.bak~', siblings, ['{target}.bak~'], { names: NTFS })?.target,
      'settings.json',
    );
    assert.equal(recogniseTemp('settings.json.bak~', siblings, ['{target}.bak~'], { names: EXT4 }), undefined);
  });

  test('after Unicode normalisation: an NFD target and an NFC temp (and the reverse) pair on APFS only', () => {
    for (const [targetForm, tempForm] of [
      [nfd, nfc],
      [nfc, nfd],
    ] as const) {
      const temp = `.${tempForm}.tmp`;
      const siblings = [targetForm, temp];
      assert.deepEqual(recogniseTemp(temp, siblings, [], { names: APFS }), { target: tempForm, kind: 'steno' });
      assert.equal(recogniseTemp(temp, siblings, [], { names: NTFS }), undefined);
      assert.equal(recogniseTemp(temp, siblings, [], { names: EXT4 }), undefined);
      const ours = `${tempForm}.cs-${process.pid}-${threadId}-1-0badf00d.tmp`;
      assert.equal(recogniseTemp(ours, siblings)?.target, tempForm, 'ours needs no sibling');
    }
  });

  test('look-alikes stay refused on a case-insensitive volume, whatever the spelling of their target', () => {
    const now = Date.now();
    for (const { name, target } of TEMP_LOOKALIKES) {
      for (const names of [NTFS, APFS]) {
        assert.equal(recogniseTemp(name, [target.toUpperCase()], [], { mtimeMs: now, now, names }), undefined, name);
      }
    }
  });

  suite('macOS (emulated): APFS lookups ignore case and normalisation', () => {
    let dir: string;
    const file = (name: string, content: string) => writeAgedFile(join(dir, name), content, 2 * HOUR);
    setup(() => {
      dir = realpathSync(mkdtempSync(join(tmpdir(), 'cs-apfs-')));
    });
    teardown(() => rmSync(dir, { recursive: true, force: true }));

    for (const [label, targetForm, tempForm] of [
      ['NFD target, NFC temp', nfd, nfc],
      ['NFC target, NFD temp', nfc, nfd],
    ] as const) {
      test(`${label}: scan pairs them and judges the target through the other spelling; sweep removes the temp`, async () => {
        const target = file(targetForm, '{"v":1}\n');
        const temp = file(`${tempForm}.3141592653`, '{"v":2}\n');
        const fs = new MacLikeFs(dir);
        const result = await asPlatform('darwin', async () => {
          const { orphans, errors } = await scanOrphans([dir], { fs });
          assert.deepEqual(errors, []);
          assert.equal(orphans.length, 1);
          assert.equal(orphans[0]!.path, temp);
          assert.equal(orphans[0]!.target, join(dir, tempForm));
          assert.equal(orphans[0]!.targetState, 'ok');
          return sweepOrphans(orphans, { olderThanMs: HOUR, roots: [dir], fs });
        });
        assert.deepEqual(result.removed, [temp]);
        assert.equal(readFileSync(target, 'utf8'), '{"v":1}\n');
      });
    }
  });
});

suite('platform paths: exclude globs and lock paths on win32-shaped paths', () => {
  const win = (globs: string[]) => compileExcluder(globs, path.win32);

  test('`**/build/**` matches backslashed relative paths at any depth', () => {
    const excluded = win(['**/build/**']);
    assert.equal(excluded('build\\out\\a.json.vsctmp'), true);
    assert.equal(excluded('src\\build\\a.json.vsctmp'), true);
    assert.equal(excluded('builder\\a.json.vsctmp'), false);
    assert.equal(excluded('src/build/a.json.vsctmp'), true, 'forward slashes work too');
  });

  test('a name glob matches the last name of a backslashed path', () => {
    const excluded = win(['*.vsctmp', 'node_modules']);
    assert.equal(excluded('deep\\dir\\a.json.vsctmp'), true);
    assert.equal(excluded('pkg\\node_modules'), true);
    assert.equal(excluded('deep\\dir\\a.json'), false);
  });

  test('globs written with backslashes mean the same on win32', () => {
    const excluded = win(['build\\**', 'src\\*.tmp.*']);
    assert.equal(excluded('build\\x.json.vsctmp'), true);
    assert.equal(excluded('build/x.json.vsctmp'), true);
    assert.equal(excluded('src\\a.json.tmp.0badf00d'), true);
    assert.equal(excluded('lib\\a.json.tmp.0badf00d'), false);
  });

  test('drive letters stay out of the match: paths are relative to the root, whatever the case of the drive', () => {
    const relative = path.win32.relative('C:\\Work\\Proj', 'c:\\work\\proj\\Build\\out\\a.json.vsctmp');
    assert.equal(relative, 'Build\\out\\a.json.vsctmp');
    assert.equal(win(['Build/**'])(relative), true);
  });

  test('on POSIX a backslash is part of a name, and escapes in globs keep working', () => {
    const posix = (globs: string[]) => compileExcluder(globs, path.posix);
    assert.equal(posix(['**/build/**'])('build\\out'), false);
    assert.equal(posix(['a\\*'])('a*'), true);
    assert.equal(posix(['a\\*'])('ab'), false);
  });

  test('the lock folder is `<target>.lock`: portable, and one folder for every spelling of the target on NTFS', () => {
    const here = join(tmpdir(), 'data.json');
    assert.equal(lockPathFor(here), `${here}.lock`, 'the rule Node applies with path.win32 on Windows');
    const win32Lock = (target: string) => `${path.win32.resolve(target)}.lock`;
    const a = win32Lock('C:\\Work\\Data.JSON');
    const b = win32Lock('c:/work/data.json');
    assert.equal(a, 'C:\\Work\\Data.JSON.lock');
    assert.equal(b, 'c:\\work\\data.json.lock');
    assert.equal(
      nameKey(a, NTFS),
      nameKey(b, NTFS),
      'NTFS makes both one folder, so the two spellings still exclude each other',
    );
    assertPortable(path.win32.basename(a));
  });
});
