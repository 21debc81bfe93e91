import * as assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import picomatch from 'picomatch';
import { groupBackupName, groupTempName } from '../../src/core/groups/groupJournal';
import { ourTempPath } from '../../src/core/names/tempNames';
import {
  mightBeTemp,
  recogniseGroupFile,
  recogniseHiddenLeftover,
  TEMP_LOOKALIKES,
  TempPatternError,
  tempNameGlobs,
} from '../../src/core/names/tempPatterns';
import { compileCustomPatterns, MIN_UINT32_DIGITS, recogniseTemp } from '../../src/core/orphans/orphans';
import { backupPathFor } from '../../src/core/orphans/recovery';

const NOW = Date.UTC(2025, 5, 1);
const HOUR = 3_600_000;
/** A realistic context: the temp was last written an hour ago. */
const recent = { mtimeMs: NOW - HOUR, now: NOW };

function kindOf(name: string, siblings: string[] = [], extra?: string[], context = recent) {
  return recogniseTemp(name, new Set(siblings), extra, context);
}

suite('recogniseTemp: every known pattern', () => {
  test('ours, with pid and thread, needs no existing target', () => {
    const name = basename(ourTempPath('/w/state.json'));
    const hit = kindOf(name);
    assert.equal(hit?.kind, 'crash-safe');
    assert.equal(hit?.target, 'state.json');
    assert.equal(hit?.pid, process.pid);
    assert.equal(hit?.threadId, 0);
  });

  test("write-file-atomic's <target>.<uint32> with the target beside it", () => {
    assert.deepEqual(kindOf('package.json.3141592653', ['package.json']), {
      target: 'package.json',
      kind: 'write-file-atomic',
    });
    assert.equal(kindOf('a.txt.4294967295', ['a.txt'])?.kind, 'write-file-atomic');
    assert.equal(kindOf('a.txt.12345678', ['a.txt'])?.kind, 'write-file-atomic');
  });

  test("write-file-atomic's real temp names are recognised (from its own getTmpname)", () => {
    // biome-ignore lint/suspicious/noExplicitAny: the package's private test hook is untyped
    const wfa = require('write-file-atomic') as any;
    let recognised = 0;
    let tooShort = 0;
    for (let i = 0; i < 200; i++) {
      const name = basename(wfa._getTmpname('/w/settings.json') as string);
      const digits = name.slice('settings.json.'.length);
      const hit = kindOf(name, ['settings.json']);
      if (digits.length < MIN_UINT32_DIGITS) {
        tooShort += 1;
        assert.equal(hit, undefined, name);
      } else if (hit) {
        recognised += 1;
        assert.equal(hit.kind, 'write-file-atomic');
      }
    }
    // 1 in 430 names is shorter than 8 digits, and a few fall in the refused date/timestamp windows.
    assert.ok(recognised >= 190 - tooShort, `only ${recognised} of 200 recognised`);
  });

  test("atomically's <target>.tmp-<10 digits><6 hex>, without the target", () => {
    const name = `db.json.tmp-${Date.now().toString().slice(-10)}${randomBytes(3).toString('hex')}`;
    assert.deepEqual(kindOf(name), { target: 'db.json', kind: 'atomically' });
  });

  test("steno's .<target>.tmp needs the target beside it", () => {
    assert.deepEqual(kindOf('.db.json.tmp', ['db.json']), { target: 'db.json', kind: 'steno' });
    assert.equal(kindOf('.db.json.tmp', []), undefined);
  });

  test("VS Code's <target>.vsctmp", () => {
    assert.deepEqual(kindOf('settings.json.vsctmp'), { target: 'settings.json', kind: 'vscode' });
  });

  test('<target>.tmp.<uuid> (any case, braces or none) needs no target; <target>.tmp.<hex> does', () => {
    assert.deepEqual(kindOf(`a.json.tmp.${randomUUID()}`), { target: 'a.json', kind: 'tmp-suffix' });
    assert.equal(kindOf(`a.json.tmp.{${randomUUID().toUpperCase()}}`)?.kind, 'tmp-suffix');
    assert.equal(kindOf('a.json.tmp.9f8e7d6c5b4a39281706f5e4d3c2b1a0')?.kind, 'tmp-suffix');
    assert.equal(kindOf('a.json.tmp.deadbeef01', ['a.json'])?.kind, 'tmp-suffix');
    assert.equal(kindOf('a.json.tmp.deadbeef01', []), undefined);
  });

  test('.<target>.<hex>.tmp needs the target beside it', () => {
    assert.deepEqual(kindOf('.a.json.3f2a9c0d1e.tmp', ['a.json']), { target: 'a.json', kind: 'dot-hex-tmp' });
    assert.equal(kindOf('.a.json.3f2a9c0d1e.tmp', []), undefined);
  });

  test('user patterns: {target} with * and ?, target beside it', () => {
    assert.deepEqual(kindOf('notes.md.bak~', ['notes.md'], ['{target}.bak~']), { target: 'notes.md', kind: 'custom' });
    assert.equal(kindOf('~notes.md.swp1', ['notes.md'], ['~{target}.swp?'])?.kind, 'custom');
    assert.equal(kindOf('x.cfg.part-77', ['x.cfg'], ['{target}.part-*'])?.target, 'x.cfg');
    // The lazy reading finds the existing target when the greedy one does not.
    assert.equal(kindOf('a.b.c.old', ['a'], ['{target}.*.old'])?.target, 'a');
    assert.equal(kindOf('notes.md.bak~', [], ['{target}.bak~']), undefined);
    assert.equal(kindOf('notes.md', ['notes.md'], ['*{target}']), undefined, 'a file is never its own temp');
  });

  test('a user pattern without exactly one {target}, or with a slash, is refused with a clear error', () => {
    assert.throws(() => compileCustomPatterns(['*.bak']), /must contain \{target\} exactly once/);
    assert.throws(() => compileCustomPatterns(['{target}.{target}']), /exactly once/);
    assert.throws(() => compileCustomPatterns(['dir/{target}.bak']), /without \//);
  });

  test('regex metacharacters in user patterns are literal', () => {
    assert.equal(kindOf('a.json(1)', ['a.json'], ['{target}(1)'])?.kind, 'custom');
    assert.equal(kindOf('a.jsonX1Y', ['a.json'], ['{target}(1)']), undefined);
  });
});

suite('recogniseTemp: never taken for temps', () => {
  test('rotated logs app.log.1 … app.log.20, even with app.log beside them', () => {
    for (let n = 1; n <= 20; n++) assert.equal(kindOf(`app.log.${n}`, ['app.log']), undefined, `app.log.${n}`);
    assert.equal(kindOf('app.log.1234567', ['app.log']), undefined, 'seven digits');
  });

  test('numbered backups data.json.2, notes.2024, notes.202401', () => {
    assert.equal(kindOf('data.json.2', ['data.json']), undefined);
    assert.equal(kindOf('notes.2024', ['notes']), undefined);
    assert.equal(kindOf('notes.202401', ['notes']), undefined);
  });

  test('date-stamped backups YYYYMMDD', () => {
    assert.equal(kindOf('notes.20240115', ['notes']), undefined);
    assert.equal(kindOf('data.json.19991231', ['data.json']), undefined);
    // Not a date (month 13): an 8-digit write-file-atomic suffix.
    assert.equal(kindOf('data.json.20241301', ['data.json'])?.kind, 'write-file-atomic');
  });

  test('backups named after a Unix time are refused; random numbers far from the mtime are not', () => {
    const namedNow = Math.floor((NOW - HOUR) / 1000);
    assert.equal(kindOf(`data.json.${namedNow}`, ['data.json']), undefined, 'named when made');
    // mv data.json data.json.$(date +%s): the mtime is older than the name.
    assert.equal(
      kindOf(`data.json.${namedNow}`, ['data.json'], undefined, { mtimeMs: NOW - 400 * 24 * HOUR, now: NOW }),
      undefined,
    );
    // Without an mtime, the whole 2000..now window is refused.
    assert.equal(recogniseTemp(`data.json.${namedNow - 10 ** 8}`, ['data.json']), undefined);
    // The same number with an mtime long after it is a write-file-atomic temp.
    assert.equal(kindOf(`data.json.${namedNow - 10 ** 8}`, ['data.json'])?.kind, 'write-file-atomic');
    // Numbers beyond now + 1 day cannot be a backup's Unix time.
    assert.equal(
      recogniseTemp('data.json.4000000000', ['data.json'], undefined, { now: NOW })?.kind,
      'write-file-atomic',
    );
  });

  test('numbers out of uint32 range, with leading zeros, or without the target are not write-file-atomic', () => {
    assert.equal(kindOf('a.txt.4294967296', ['a.txt']), undefined);
    assert.equal(kindOf('a.txt.0123456789', ['a.txt']), undefined);
    assert.equal(kindOf('a.txt.3141592653', []), undefined);
    assert.equal(recogniseTemp('a.txt.3141592653'), undefined, 'no siblings given: weak patterns never match');
  });

  test("a user's own draft.tmp, .draft.tmp without draft, and other look-alikes", () => {
    assert.equal(kindOf('draft.tmp', ['draft']), undefined);
    assert.equal(kindOf('.draft.tmp', []), undefined);
    assert.equal(kindOf('report.tmp.20240115', ['report']), undefined, 'all-digit id is not random hex');
    assert.equal(kindOf('.notes.20240115.tmp', ['notes']), undefined, 'all-digit id is not random hex');
    assert.equal(kindOf('.notes.cafe.tmp', ['notes']), undefined, 'hex too short');
    assert.equal(kindOf('x.json.tmp-12345abcdef', []), undefined, 'atomically needs 10 digits then 6 hex');
    assert.equal(kindOf('.vsctmp', []), undefined, 'no target at all');
    assert.equal(kindOf('readme.md', ['readme.md']), undefined);
  });

  test('our own recovery backups are never temps', () => {
    const name = basename(backupPathFor('/w/data.json', 'corrupt', NOW));
    assert.match(name, /^data\.json\.corrupt-2025-06-01T00-00-00-000Z$/);
    assert.equal(kindOf(name, ['data.json']), undefined);
    assert.equal(kindOf(`${name}-1`, ['data.json']), undefined);
    assert.equal(kindOf(basename(backupPathFor('/w/data.json', 'replaced', NOW)), ['data.json']), undefined);
  });

  test('siblings may be passed as an array', () => {
    assert.equal(recogniseTemp('.db.json.tmp', ['db.json'])?.kind, 'steno');
  });
});

suite("mightBeTemp (the walk's cheap pre-filter)", () => {
  test('passes every name the built-in patterns recognise', () => {
    const names = [
      basename(ourTempPath('/w/state.json')),
      'package.json.3141592653',
      'a.txt.12345678',
      'db.json.tmp-1712345678abcdef',
      '.db.json.tmp',
      'settings.json.vsctmp',
      'a.json.tmp.0f8fad5b-d9cb-469f-a165-70867728950e',
      'a.json.tmp.{0F8FAD5B-D9CB-469F-A165-70867728950E}',
      'a.json.tmp.9f8e7d6c5b4a39281706f5e4d3c2b1a0',
      'a.json.tmp.deadbeef01',
      '.a.json.3f2a9c0d1e.tmp',
    ];
    const siblings = ['state.json', 'package.json', 'a.txt', 'db.json', 'settings.json', 'a.json'];
    for (const name of names) {
      assert.ok(recogniseTemp(name, siblings, undefined, recent), `${name} is recognised`);
      assert.ok(mightBeTemp(name), `${name} passes the pre-filter`);
    }
  });

  test('rejects the common look-alikes without running the recogniser', () => {
    for (const name of ['app.log.1', 'data.json.2', 'notes.2024', 'draft.tmp', 'index.ts', 'a.1234567', 'README']) {
      assert.equal(mightBeTemp(name), false, name);
    }
  });
});

suite('recogniseTemp: odd names', () => {
  /** Node's readdir decodes bytes that are not UTF-8 to U+FFFD; the name below is what it returns for `caf\xE9.json`. */
  const latin1Name = `${Buffer.from([0x63, 0x61, 0x66, 0xe9]).toString('utf8')}.json`;
  const targets = ['conf.tmpl.json', 'x.tmp8', 'a\nb.json', 'cr\r.json', 'ls\u2028.json', latin1Name, 'emoji😀.json'];
  /** Every built-in shape, as a function of the target; each is recognised when the target is beside it. */
  const shapes: [string, (target: string) => string][] = [
    ['crash-safe', (t) => basename(ourTempPath(`/w/${t}`))],
    ['write-file-atomic', (t) => `${t}.3141592653`],
    ['atomically', (t) => `${t}.tmp-1712345678abcdef`],
    ['vscode', (t) => `${t}.vsctmp`],
    ['tmp-suffix', (t) => `${t}.tmp.0f8fad5b-d9cb-469f-a165-70867728950e`],
    ['tmp-suffix', (t) => `${t}.tmp.deadbeef01`],
    ['dot-hex-tmp', (t) => `.${t}.3f2a9c0d1e.tmp`],
    ['steno', (t) => `.${t}.tmp`],
  ];

  test('every shape is recognised around targets with .tmp inside, newlines, U+FFFD and astral characters', () => {
    assert.ok(latin1Name.includes('\uFFFD'));
    for (const target of targets) {
      for (const [kind, shape] of shapes) {
        const name = shape(target);
        const hit = kindOf(name, [target]);
        assert.equal(hit?.kind, kind, JSON.stringify(name));
        assert.equal(hit?.target, target, JSON.stringify(name));
        assert.ok(mightBeTemp(name), `${JSON.stringify(name)} passes the pre-filter`);
      }
    }
  });

  test("the reported case: conf.tmpl.json.3141592653 is write-file-atomic's temp of conf.tmpl.json", () => {
    assert.ok(mightBeTemp('conf.tmpl.json.3141592653'));
    assert.deepEqual(kindOf('conf.tmpl.json.3141592653', ['conf.tmpl.json']), {
      target: 'conf.tmpl.json',
      kind: 'write-file-atomic',
    });
  });

  test('a U+FFFD target is matched as the string Node gave; bytes lost in decoding cannot be told apart', () => {
    // Both `caf\xE9.json` and `caf\xE8.json` decode to the same string: the walker, not the recogniser, must refuse to act.
    const other = `${Buffer.from([0x63, 0x61, 0x66, 0xe8]).toString('utf8')}.json`;
    assert.equal(other, latin1Name);
    assert.equal(kindOf(`${latin1Name}.3141592653`, [latin1Name])?.target, latin1Name);
  });

  test('user patterns see newlines and astral characters: * spans them, ? is one character', () => {
    assert.equal(kindOf('x\ny.bak~', ['x\ny'], ['{target}.bak~'])?.target, 'x\ny');
    assert.equal(kindOf('n.md.part-\n', ['n.md'], ['{target}.part-*'])?.target, 'n.md');
    assert.equal(kindOf('~n.md.swp😀', ['n.md'], ['~{target}.swp?'])?.kind, 'custom');
    assert.equal(kindOf('~n.md.swp\n', ['n.md'], ['~{target}.swp?'])?.kind, 'custom');
  });

  test('a trailing newline is part of the name, not an end of line', () => {
    assert.equal(kindOf('a.json.3141592653\n', ['a.json']), undefined);
    assert.equal(kindOf('a.json.vsctmp\n', []), undefined);
    assert.equal(recogniseHiddenLeftover('.fuse_hidden0000000a00000001\n'), undefined);
  });
});

suite('user patterns that would sweep look-alikes are refused', () => {
  test('the built-in recogniser takes none of the shared look-alikes for a temp', () => {
    assert.ok(TEMP_LOOKALIKES.length >= 15);
    for (const { name, target } of TEMP_LOOKALIKES) {
      assert.equal(kindOf(name, [target]), undefined, name);
      assert.equal(recogniseTemp(name, [target]), undefined, `${name} without an mtime`);
    }
  });

  test('{target}.* is refused with a TempPatternError naming the pattern and a look-alike it would match', () => {
    let caught: unknown;
    try {
      compileCustomPatterns(['{target}.bak~', '{target}.*']);
    } catch (error) {
      caught = error;
    }
    assert.ok(caught instanceof TempPatternError, String(caught));
    assert.ok(caught instanceof Error);
    assert.equal(caught.pattern, '{target}.*');
    assert.ok(caught.example !== undefined && TEMP_LOOKALIKES.some((l) => l.name === caught.example));
    assert.ok(caught.message.includes('"{target}.*"'), caught.message);
    assert.ok(caught.message.includes(caught.example), caught.message);
  });

  test('each over-broad pattern names a look-alike it really matches', () => {
    const tooBroad = [
      '{target}*',
      '*{target}*',
      '{target}.?',
      '{target}.??',
      '{target}.*.gz',
      '{target}.bak',
      '{target}~',
      '{target}.old',
      '{target}.tmp',
      '{target}.corrupt-*',
      '{target}.replaced-*',
      '{target}.*-*',
      '{target}.????????',
    ];
    for (const pattern of tooBroad) {
      assert.throws(
        () => compileCustomPatterns([pattern]),
        (error: unknown) => {
          assert.ok(error instanceof TempPatternError, `${pattern}: ${String(error)}`);
          assert.equal(error.pattern, pattern);
          const lookalike = TEMP_LOOKALIKES.find((l) => l.name === error.example);
          assert.ok(lookalike, `${pattern}: example ${error.example} is from the corpus`);
          const [before, after] = pattern.split('{target}') as [string, string];
          const glob = (text: string) =>
            text
              .replace(/[.+^${}()|[\]\\]/g, '\\$&')
              .replace(/\*/g, '.*')
              .replace(/\?/g, '.');
          const literal = lookalike.target.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
          assert.match(lookalike.name, new RegExp(`^${glob(before)}${literal}${glob(after)}$`, 'su'), pattern);
          return true;
        },
      );
    }
  });

  test('specific patterns are still accepted', () => {
    const fine = [
      '{target}.bak~',
      '~{target}.swp?',
      '{target}.part-*',
      '{target}(1)',
      '{target}.save~',
      '.{target}.swp',
      '{target}.*.old',
      '*{target}',
    ];
    assert.equal(compileCustomPatterns(fine).length, fine.length);
  });

  test('a pattern without exactly one {target} is a TempPatternError with no example', () => {
    assert.throws(
      () => compileCustomPatterns(['*.bak']),
      (error: unknown) => {
        assert.ok(error instanceof TempPatternError);
        assert.equal(error.pattern, '*.bak');
        assert.equal(error.example, undefined);
        return true;
      },
    );
  });
});

suite('recogniseHiddenLeftover (.fuse_hidden* and .nfs*)', () => {
  test("libfuse's .fuse_hidden<8 hex node id><8 hex counter>", () => {
    assert.equal(recogniseHiddenLeftover('.fuse_hidden0000000a00000001'), 'fuse');
    assert.equal(recogniseHiddenLeftover('.fuse_hiddenffffffffffffffff'), 'fuse');
  });

  test("Linux NFS's .nfs<16 hex file id><8 hex counter>, and the BSD/macOS .nfs.<ticks>.<pid>4.4", () => {
    assert.equal(recogniseHiddenLeftover('.nfs000000000012d68700000001'), 'nfs');
    assert.equal(recogniseHiddenLeftover('.nfs.0001e240.04d24.4'), 'nfs');
    assert.equal(recogniseHiddenLeftover('.nfs.0001e240.1e2404.4'), 'nfs', 'a pid above 0xffff prints more digits');
  });

  test('look-alikes are not hidden leftovers', () => {
    for (const name of [
      '.fuse_hidden',
      '.fuse_hidden0000000a',
      '.fuse_hidden0000000a000000012',
      '.fuse_hidden0000000A00000001',
      'x.fuse_hidden0000000a00000001',
      '.nfs',
      '.nfsrc',
      '.nfs0123abcd',
      '.nfs000000000012d6870000000',
      '.nfs000000000012d687000000011',
      'a.nfs000000000012d68700000001',
      '.nfs.0001e240.04d24.5',
    ]) {
      assert.equal(recogniseHiddenLeftover(name), undefined, name);
    }
  });

  test('recogniseTemp never gives them a target, even beside any file', () => {
    for (const name of ['.fuse_hidden0000000a00000001', '.nfs000000000012d68700000001', '.nfs.0001e240.04d24.4']) {
      const prefixes = Array.from({ length: name.length }, (_, i) => name.slice(0, i + 1));
      assert.equal(kindOf(name, prefixes), undefined, name);
    }
  });
});

suite('short names of long targets (<prefix>~<digest>)', () => {
  const target = `${'n'.repeat(240)}.json`;
  const shortTemp = basename(ourTempPath(`/w/${target}`));
  const shortGroup = groupTempName(target, '1-0-1-0123abcd');

  test('the walk pre-filter, the watcher globs and the recognisers all take them', () => {
    const isTemp = picomatch(tempNameGlobs(), { dot: true, windows: false });
    for (const name of [shortTemp, shortGroup, groupBackupName(target, '1-0-1-0123abcd')]) {
      assert.ok(name.includes('~'), name);
      assert.ok(mightBeTemp(name), `${name} passes mightBeTemp`);
      assert.ok(isTemp(name), `${name} matches a watcher glob`);
    }
    assert.equal(kindOf(shortTemp, [target])?.target, target);
    assert.equal(recogniseGroupFile(shortGroup, [target])?.target, target);
    assert.equal(
      recogniseGroupFile(shortGroup)?.target,
      undefined,
      'without siblings: a group file of an unknown target',
    );
  });

  test('a short name is never the long name of another target, and a long name never a short one', () => {
    const stem = shortTemp.slice(0, shortTemp.indexOf('.cs~'));
    assert.equal(kindOf(shortTemp, [stem]), undefined, 'not a temp of a file named like its stem');
    // A target whose own name looks like a short stem keeps its ordinary temp.
    const odd = `notes~${'0'.repeat(16)}.json`;
    assert.deepEqual(kindOf(basename(ourTempPath(`/w/${odd}`)))?.target, odd);
    assert.equal(recogniseGroupFile(shortTemp), undefined);
    assert.equal(kindOf(shortGroup, [target]), undefined, 'a group file is never a single-file temp');
  });

  test("recover's short backups are never temps", () => {
    const backup = basename(backupPathFor(`/w/${target}`, 'corrupt', NOW));
    assert.ok(backup.includes('~') && backup.endsWith('.corrupt-2025-06-01T00-00-00-000Z'), backup);
    assert.equal(kindOf(backup, [target]), undefined);
    assert.equal(kindOf(`${backup}-1`, [target]), undefined);
  });
});
