// Targets whose names are near NAME_MAX (255 bytes): every name we derive from them (temps, group files, recover's
// backups, to-do backups, lock folders) fits, and scan ties a short name back to exactly its target.
import * as assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { CliIo } from '../../src/cli/io';
import { runCli } from '../../src/cli/main';
import { nodeFs } from '../../src/core/fs';
import { commitGroup } from '../../src/core/groups/groupCommit';
import { groupBackupName, groupTempName, parseJournal } from '../../src/core/groups/groupJournal';
import { recoverGroups } from '../../src/core/groups/groupRecovery';
import { lockPathFor, takeOverStaleLock, withFileLock } from '../../src/core/lock/fileLock';
import {
  derivedName,
  isOurTempName,
  lockNameFor,
  NAME_MAX_BYTES,
  nameDigest,
  ourTempPath,
} from '../../src/core/names/tempNames';
import { nameMatchingFor, recogniseGroupFile, recogniseTemp } from '../../src/core/names/tempPatterns';
import { scanOrphans, sweepOrphans } from '../../src/core/orphans/orphans';
import { backupPathFor, RecoveryError, recoverTarget } from '../../src/core/orphans/recovery';
import { writeFileAtomic } from '../../src/core/write/atomicWrite';
import { addTodoEdit } from '../../src/state/todoEdits';
import { TodosBackups } from '../../src/state/todosBackups';
import { TodosStore } from '../../src/state/todosStore';
import { setAge, writeAgedFile } from '../support/agedFiles';
import { CrashingGroupFs } from '../support/crashingGroupFs';
import { asPlatform, MacLikeFs, WindowsLikeFs } from '../support/windowsLikeFs';

const HOUR = 3_600_000;
const bytes = (name: string) => Buffer.byteLength(name, 'utf8');
/** 250 bytes, and 255 bytes of two-byte, four-byte and decomposed (letter + combining mark) characters. */
const LONG_NAMES = {
  ascii250: `${'a'.repeat(245)}.json`,
  twoByte255: `${'é'.repeat(125)}.json`,
  fourByte253: `${'😀'.repeat(62)}.json`,
  combining254: `${'e\u0301'.repeat(83)}.json`,
};
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** A name that round-trips through UTF-8 (no sequence cut in two) and fits NAME_MAX. */
function assertWholeName(name: string): void {
  assert.ok(bytes(name) <= NAME_MAX_BYTES, `${bytes(name)} bytes: ${name}`);
  assert.ok(!LONE_SURROGATE.test(name), `a surrogate pair was cut: ${name}`);
  assert.equal(Buffer.from(name, 'utf8').toString('utf8'), name);
}

function stdinOf(text: string): AsyncIterable<Buffer> {
  return (async function* () {
    yield Buffer.from(text);
  })();
}

suite('long target names: derived names fit NAME_MAX', () => {
  let dir: string;
  const aged = (path: string, content: string) => writeAgedFile(path, content, 2 * HOUR);
  setup(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'cs-long-')));
  });
  teardown(() => rmSync(dir, { recursive: true, force: true }));

  test('writeFileAtomic of a 250-byte name succeeds and leaves only the target', async () => {
    const target = join(dir, LONG_NAMES.ascii250);
    await writeFileAtomic(target, '{"v":1}\n');
    await writeFileAtomic(target, '{"v":2}\n');
    assert.equal(readFileSync(target, 'utf8'), '{"v":2}\n');
    assert.deepEqual(readdirSync(dir), [LONG_NAMES.ascii250]);
  });

  test('crash-safe write of a 250-byte name exits 0', async () => {
    const target = join(dir, LONG_NAMES.ascii250);
    let stderr = '';
    const io: CliIo = {
      stdout: { write: () => true },
      stderr: { write: (text: string) => (stderr += text) },
      stdin: stdinOf('{"written":true}\n'),
      cwd: dir,
    };
    assert.equal(await runCli(['write', target], io), 0, stderr);
    assert.equal(readFileSync(target, 'utf8'), '{"written":true}\n');
    assert.deepEqual(readdirSync(dir), [LONG_NAMES.ascii250]);
  });

  for (const [label, name] of Object.entries(LONG_NAMES)) {
    test(`${label}: a crash-left temp is found by scan tied to its target, and recover restores exactly that name`, async () => {
      const target = aged(join(dir, name), '{"torn');
      const tempName = basename(ourTempPath(target));
      assertWholeName(tempName);
      assert.ok(isOurTempName(tempName));
      const temp = aged(join(dir, tempName), '{"saved":true}\n');

      const { orphans, errors } = await scanOrphans([dir]);
      assert.deepEqual(errors, []);
      assert.equal(orphans.length, 1);
      assert.equal(orphans[0]!.path, temp);
      assert.equal(orphans[0]!.target, target, 'tied to exactly its target');
      assert.equal(orphans[0]!.kind, 'crash-safe');
      assert.equal(orphans[0]!.targetState, 'corrupt');
      assert.equal(orphans[0]!.validJson, true);

      const result = await recoverTarget(target);
      assert.equal(result.from, temp);
      assert.equal(readFileSync(target, 'utf8'), '{"saved":true}\n');
      assertWholeName(basename(result.backup!));
      assert.equal(readFileSync(result.backup!, 'utf8'), '{"torn', "recover's backup holds the old bytes");
      assert.deepEqual(readdirSync(dir).sort(), [name, tempName, basename(result.backup!)].sort());
    });
  }

  test('a target that is missing: its short temp is recovered under the name given, never under another', async () => {
    const name = LONG_NAMES.ascii250;
    const sibling = `${name.slice(0, -6)}b.json`; // same 244-byte start, another file
    const temp = aged(join(dir, basename(ourTempPath(join(dir, name)))), '{"only":"copy"}\n');
    // Its target is not in the folder: scan cannot name it, so it is not listed (and sweep never sees it).
    assert.deepEqual((await scanOrphans([dir])).orphans, []);
    await assert.rejects(
      recoverTarget(join(dir, sibling)),
      (error: unknown) => error instanceof RecoveryError && error.code === 'no-candidate',
    );
    assert.equal(existsSync(join(dir, sibling)), false, 'nothing was written under the other name');
    const result = await recoverTarget(join(dir, name));
    assert.equal(result.from, temp);
    assert.equal(result.backup, null);
    assert.equal(readFileSync(join(dir, name), 'utf8'), '{"only":"copy"}\n');
  });

  test('two long targets sharing a 244-byte start: each temp is tied to its own target, and recover picks only its own', async () => {
    const [a, b] = [`${'p'.repeat(244)}a.json`, `${'p'.repeat(244)}b.json`];
    aged(join(dir, a), '{"torn');
    aged(join(dir, b), '{"b":0}\n');
    const tempA = aged(join(dir, basename(ourTempPath(join(dir, a)))), '{"a":1}\n');
    const tempB = join(dir, basename(ourTempPath(join(dir, b))));
    writeFileSync(tempB, '{"b":1}\n'); // newer than A's temp, and valid
    const byPath = new Map((await scanOrphans([dir])).orphans.map((orphan) => [orphan.path, orphan.target]));
    assert.equal(byPath.get(tempA), join(dir, a));
    assert.equal(byPath.get(tempB), join(dir, b));
    const result = await recoverTarget(join(dir, a));
    assert.equal(result.from, tempA);
    assert.equal(readFileSync(join(dir, a), 'utf8'), '{"a":1}\n');
    assert.equal(readFileSync(join(dir, b), 'utf8'), '{"b":0}\n');
  });

  test('a stale short temp of a valid target is swept like any other; a fresh one is kept', async () => {
    const target = aged(join(dir, LONG_NAMES.twoByte255), '{"v":1}\n');
    const stale = aged(join(dir, basename(ourTempPath(target))), '{"v":0}\n');
    const fresh = join(dir, basename(ourTempPath(target)));
    writeFileSync(fresh, '{"v":2}\n');
    const { orphans } = await scanOrphans([dir]);
    assert.equal(orphans.length, 2);
    const result = await sweepOrphans(orphans, { olderThanMs: HOUR, roots: [dir] });
    assert.deepEqual(result.removed, [stale]);
    assert.ok(existsSync(fresh));
    assert.equal(readFileSync(target, 'utf8'), '{"v":1}\n');
  });

  test("hostile names: a short temp's digest must match a sibling and its prefix that sibling's start", () => {
    const [a, b] = [`${'a'.repeat(245)}.json`, `${'b'.repeat(245)}.json`];
    const siblings = new Set([a, b]);
    const ours = basename(ourTempPath(join(dir, a)));
    assert.equal(recogniseTemp(ours, siblings)?.target, a);
    const tail = ours.slice(ours.indexOf('~'));
    // B's start with A's digest (or a digest of no sibling): never tied to either.
    assert.equal(recogniseTemp(`${'b'.repeat(ours.indexOf('~'))}${tail}`, siblings), undefined);
    assert.equal(recogniseTemp(ours.replace(nameDigest(a), nameDigest('gone.json'.repeat(30))), siblings), undefined);
    // Without its siblings (name-only calls) a short name is never a temp of anything.
    assert.equal(recogniseTemp(ours), undefined);
    assert.equal(recogniseTemp(ours, new Set([b])), undefined);
  });

  test('a case-insensitive volume: a digest two spellings share ties the temp to neither', () => {
    const upper = `${'A'.repeat(245)}.json`;
    const lower = upper.toLowerCase();
    const ntfs = nameMatchingFor('win32');
    const name = derivedName(lower, '.cs-1-0-1-0badf00d.tmp', '.cs~1-0-1-0badf00d.tmp');
    assert.equal(recogniseTemp(name, new Set([lower, upper]), [], { names: nameMatchingFor('linux') })?.target, lower);
    assert.equal(
      recogniseTemp(name, new Set([upper]), [], { names: ntfs })?.target,
      upper,
      'one file on NTFS, whatever its case',
    );
    assert.equal(
      recogniseTemp(name, new Set([lower, upper]), [], { names: ntfs }),
      undefined,
      'two such files: which one is unknown',
    );
  });

  test('the boundary: a name whose derived name is exactly 255 bytes keeps it; one byte more gets the short form', () => {
    const suffix = '.cs-4242-0-7-0badf00d.tmp';
    const shortSuffix = '.cs~4242-0-7-0badf00d.tmp';
    const fits = 'x'.repeat(NAME_MAX_BYTES - suffix.length);
    assert.equal(derivedName(fits, suffix, shortSuffix), `${fits}${suffix}`, 'unchanged for names that fit');
    const over = `${fits}x`;
    const short = derivedName(over, suffix, shortSuffix);
    assert.ok(short.endsWith(shortSuffix) && short.startsWith('x'));
    assertWholeName(short);
    assert.equal(bytes(short), NAME_MAX_BYTES, 'the prefix uses the whole budget');
    for (const name of ['data.json', `${'a'.repeat(195)}.json`]) {
      assert.equal(basename(ourTempPath(join(dir, name))).startsWith(`${name}.cs-`), true, name);
      assert.equal(basename(backupPathFor(join(dir, name), 'corrupt', 0)), `${name}.corrupt-1970-01-01T00-00-00-000Z`);
      assert.equal(lockNameFor(name), `${name}.lock`);
    }
  });

  test('every target length 200–255 bytes, of 1- to 4-byte characters: temps, group files, backups and locks fit', () => {
    for (const char of ['a', 'é', '€', '😀', 'e\u0301']) {
      for (let length = 200; length <= 255; length++) {
        let name = '';
        while (bytes(name + char) <= length - 5) name += char;
        name = `${name}.json`;
        const derived = [
          basename(ourTempPath(join(dir, name))),
          groupTempName(name, '4294967295-4294967295-99999999-0badf00d'),
          groupBackupName(`sub/dir/${name}`, '1-0-1-0badf00d').slice('sub/dir/'.length),
          basename(backupPathFor(join(dir, name), 'replaced', Date.UTC(2026, 0, 1), 99_999)),
          `${lockNameFor(name)}.reclaim-4294967295-0badf00d`,
        ];
        for (const derivedName of derived) assertWholeName(derivedName);
        const temp = derived[0]!;
        assert.equal(recogniseTemp(temp, new Set([name, 'other.json']))?.target, name, temp);
      }
    }
  });

  test('a group commit of long targets: committed, and after a crash at any step recovered whole', async () => {
    const names = [LONG_NAMES.ascii250, LONG_NAMES.twoByte255, 'short.json'];
    const versionOf = (name: string, generation: number) =>
      `${JSON.stringify({ name: name.slice(0, 8), generation })}\n`;
    const group = (generation: number) =>
      names.map((name) => ({ path: join(dir, name), data: versionOf(name, generation) }));
    const writeGeneration = (generation: number) => {
      for (const name of names) writeFileSync(join(dir, name), versionOf(name, generation));
    };
    writeGeneration(0);
    const dry = new CrashingGroupFs(Number.POSITIVE_INFINITY);
    await commitGroup(group(1), { fs: dry.fs });
    assert.deepEqual(readdirSync(dir).sort(), [...names].sort());
    let sawShortFiles = false;
    for (let crashAfter = 0; crashAfter < dry.steps; crashAfter++) {
      writeGeneration(0);
      await commitGroup(group(1), { fs: new CrashingGroupFs(crashAfter).fs }).catch(() => undefined);
      const left = readdirSync(dir);
      for (const name of left) assertWholeName(name);
      const siblings = new Set(left);
      for (const name of left.filter((n) => n.includes('.csg~'))) {
        sawShortFiles = true;
        const named = recogniseGroupFile(name, siblings);
        assert.ok(named?.target === undefined || names.includes(named.target), name);
        assert.ok(named?.target === undefined || name.startsWith(named.target.slice(0, 100)), name);
      }
      const report = await recoverGroups(dir);
      assert.deepEqual(report.problems, [], `crash after ${crashAfter} of ${dry.steps} steps`);
      const generations = names.map(
        (name) => (JSON.parse(readFileSync(join(dir, name), 'utf8')) as { generation: number }).generation,
      );
      assert.ok(
        generations.every((g) => g === generations[0]),
        `crash after ${crashAfter}: ${generations.join(', ')}`,
      );
      assert.deepEqual(readdirSync(dir).sort(), [...names].sort(), `crash after ${crashAfter}`);
    }
    assert.ok(sawShortFiles, 'the crashes left short group files to recover');
  });

  test('a journal entry of a long target in a subfolder names its short temp and backup, and parses', () => {
    const id = '42-0-1-0badf00d';
    const target = `sub/${LONG_NAMES.ascii250}`;
    const digest = { size: 3, sha256: '0'.repeat(64) };
    const journal = { format: 'crash-safe-group', version: 1, id, state: 'committing', entries: [] as unknown[] };
    journal.entries.push({
      target,
      temp: groupTempName(target, id),
      backup: groupBackupName(target, id),
      previous: digest,
      next: digest,
    });
    assert.ok(groupTempName(target, id).startsWith('sub/aaaa'));
    assert.doesNotThrow(() => parseJournal(JSON.stringify(journal), `/w/.cs-group-${id}.journal`));
    const named = recogniseGroupFile(basename(groupTempName(target, id)), [LONG_NAMES.ascii250]);
    assert.deepEqual(named, { role: 'temp', groupId: id, pid: 42, threadId: 0, target: LONG_NAMES.ascii250 });
  });

  test('the lock of a 250-byte target, and the takeover of a 230-byte target’s dead lock, fit', async () => {
    const target = join(dir, LONG_NAMES.ascii250);
    assert.equal(await withFileLock(target, async (lock) => basename(lock.lockPath)), lockNameFor(LONG_NAMES.ascii250));
    const medium = join(dir, `${'m'.repeat(225)}.json`);
    const lockPath = lockPathFor(medium);
    mkdirSync(lockPath); // left by a holder that died before writing its owner record
    setAge(lockPath, HOUR);
    await takeOverStaleLock(lockPath, 2000);
    assert.equal(existsSync(lockPath), false, 'taken over: its reclaim name fit');
    assert.equal(await withFileLock(medium, async () => 'held'), 'held');
    assert.deepEqual(readdirSync(dir), []);
  });

  test('a to-do list with a long file name: its backups fit and are found again', async () => {
    const name = `${'t'.repeat(240)}.json`;
    const store = new TodosStore(join(dir, name), { backupsToKeep: 2 });
    for (let n = 0; n < 3; n++) await store.apply([addTodoEdit(`task ${n}`)]);
    const generations = await store.backups.generations();
    assert.deepEqual(
      generations.map((g) => g.generation),
      [2, 3],
    );
    for (const generation of generations) assertWholeName(generation.name);
    assert.deepEqual(readdirSync(join(dir, 'backups')).sort(), generations.map((g) => g.name).sort(), 'pruned to two');
  });

  test('to-do backups whose name outgrows the limit at generation 10: both forms are one series, pruned in order', async () => {
    const target = join(dir, `${'t'.repeat(244)}.json`); // `.bak-9` ends at 255 bytes, `.bak-10` would not fit
    const backups = new TodosBackups(target, { fs: nodeFs, durability: 'fast', keep: 3 });
    for (let n = 1; n <= 11; n++) await backups.write(`{"n":${n}}\n`);
    const generations = await backups.generations();
    assert.deepEqual(
      generations.map((g) => g.generation),
      [9, 10, 11],
    );
    assert.ok(generations[0]!.name.startsWith(`${basename(target)}.bak-9`), 'generation 9 kept its long name');
    assert.ok(generations[1]!.name.includes('~'), 'generation 10 has the short one');
    for (const generation of generations) assertWholeName(generation.name);
    assert.deepEqual(readdirSync(backups.dir).sort(), generations.map((g) => g.name).sort());
  });

  test('two long targets sharing a start get two lock folders', () => {
    assert.notEqual(lockNameFor(`${'p'.repeat(244)}a.json`), lockNameFor(`${'p'.repeat(244)}b.json`));
  });

  test('Windows (emulated NTFS, 255 UTF-16 units): a 250-character target is written, and its crash-left temp recovered', async () => {
    const fs = new WindowsLikeFs(dir);
    const target = join(dir, LONG_NAMES.ascii250);
    await asPlatform('win32', async () => {
      await writeFileAtomic(target, '{"v":1}\n', { fs });
      const temp = aged(join(dir, basename(ourTempPath(target))), '{"v":2}\n');
      writeFileSync(target, '');
      const { orphans } = await scanOrphans([dir], { fs });
      assert.deepEqual(
        orphans.map((o) => [o.path, o.target]),
        [[temp, target]],
      );
      // A listing in another case still names the same file on NTFS: the digest is of the folded name.
      assert.equal(
        recogniseTemp(basename(temp), [LONG_NAMES.ascii250.toUpperCase()], [], { names: nameMatchingFor('win32') })
          ?.target,
        LONG_NAMES.ascii250.toUpperCase(),
      );
      const result = await recoverTarget(target, { fs });
      assert.equal(result.from, temp);
      assertWholeName(basename(result.backup!));
    });
    assert.equal(readFileSync(target, 'utf8'), '{"v":2}\n');
  });

  test('macOS: a long run of combining marks of two classes, cut by the prefix, still ties (NFD reorders such a run)', async () => {
    const name = `a${'\u0301\u0316'.repeat(60)}.json`; // acute (class 230) and grave below (class 220)
    const temp = await asPlatform('darwin', async () => basename(ourTempPath(join(dir, name))));
    assertWholeName(temp);
    const apfs = nameMatchingFor('darwin');
    for (const listed of [name, name.normalize('NFD'), name.normalize('NFC')]) {
      assert.equal(recogniseTemp(temp, [listed], [], { names: apfs })?.target, listed);
    }
  });

  test('macOS (emulated APFS): a temp named from the NFC spelling is tied to the target listed in NFD', async () => {
    const nfc = `${'é'.repeat(120)}.json`.normalize('NFC');
    const nfd = nfc.normalize('NFD');
    assert.ok(bytes(nfd) > NAME_MAX_BYTES, 'the NFD spelling is too long here, so only the listing is emulated');
    const temp = await asPlatform('darwin', async () => basename(ourTempPath(join(dir, nfc))));
    assertWholeName(temp);
    const apfs = nameMatchingFor('darwin');
    assert.equal(recogniseTemp(temp, [nfd], [], { names: apfs })?.target, nfd);
    assert.equal(recogniseTemp(temp, [nfd.toUpperCase()], [], { names: apfs })?.target, nfd.toUpperCase());
    const fs = new MacLikeFs(dir);
    await asPlatform('darwin', async () => {
      await writeFileAtomic(join(dir, nfc), '{"v":1}\n', { fs });
    });
    assert.deepEqual(readdirSync(dir), [nfc]);
  });
});
