import * as assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeFs } from '../../src/core/fs';
import { recogniseTemp } from '../../src/core/orphans/orphans';
import { backupPathFor, findRecoveryCandidates, RecoveryError, recoverTarget } from '../../src/core/orphans/recovery';
import { writeAgedFile } from '../support/agedFiles';
import { errnoError, FaultyFs } from '../support/faultyFs';

const MINUTE = 60_000;
const NOW = Date.UTC(2025, 0, 2, 3, 4, 5, 678);

suite('recovery', () => {
  let dir: string;
  let target: string;
  /** Writes a file whose mtime is `minutesAgo` before now. */
  const file = (name: string, content: string, minutesAgo: number) =>
    writeAgedFile(join(dir, name), content, minutesAgo * MINUTE);

  setup(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'cs-recover-')));
    target = join(dir, 'state.json');
  });
  teardown(() => rmSync(dir, { recursive: true, force: true }));

  suite('findRecoveryCandidates', () => {
    test('valid temps of that target only, newest first, with kind, size and mtime', async () => {
      file('state.json', '{"torn', 1);
      const older = file('state.json.3141592653', '{"v":1}', 30);
      const newer = file('state.json.tmp-1234567890abcdef', '{"v":2}', 10);
      const newest = file('.state.json.tmp', '{"v":3}', 5);
      file('state.json.vsctmp', '{"v":', 2); // torn: not a candidate
      file('other.json.vsctmp', '{"v":9}', 1); // another target's temp
      file('state.json.2', '{"v":8}', 1); // a numbered backup, never a temp
      const candidates = await findRecoveryCandidates(target);
      assert.deepEqual(
        candidates.map((c) => [c.path, c.kind]),
        [
          [newest, 'steno'],
          [newer, 'atomically'],
          [older, 'write-file-atomic'],
        ],
      );
      assert.equal(candidates[0]!.size, 7);
      assert.equal(candidates[0]!.mtimeMs, statSync(newest).mtimeMs);
    });

    test('symlinks and folders named like temps are never candidates', async () => {
      const outside = file('elsewhere.json', '{"v":1}', 1);
      symlinkSync(outside, join(dir, 'state.json.vsctmp'));
      mkdirSync(join(dir, 'state.json.tmp.0123abcd0123'));
      assert.deepEqual(await findRecoveryCandidates(target), []);
    });

    test('weak patterns count even when the target is missing (recovery only copies)', async () => {
      const temp = file('state.json.3141592653', '{"v":1}', 1);
      assert.deepEqual(
        (await findRecoveryCandidates(target)).map((c) => c.path),
        [temp],
      );
    });

    test('a schema filters candidates; JSONC temps are accepted', async () => {
      const schema = { type: 'object', required: ['tasks'] };
      file('state.json.vsctmp', '{"other":1}', 1);
      const good = file('state.json.tmp.0123abcd0123', '{\n  // comment\n  "tasks": [],\n}', 2);
      assert.deepEqual(
        (await findRecoveryCandidates(target, { schema })).map((c) => c.path),
        [good],
      );
      assert.equal((await findRecoveryCandidates(target)).length, 2);
    });

    test('user patterns find candidates too', async () => {
      const bak = file('state.json.save~', '{"v":1}', 1);
      assert.deepEqual(await findRecoveryCandidates(target), []);
      assert.deepEqual(
        (await findRecoveryCandidates(target, { extraPatterns: ['{target}.save~'] })).map((c) => c.path),
        [bak],
      );
    });
  });

  suite('recoverTarget', () => {
    for (const [state, content] of [
      ['corrupt', '{"items": [1, 2'],
      ['empty', ''],
    ] as const) {
      test(`target ${state}: backed up as .corrupt-<time>, replaced by the newest valid candidate`, async () => {
        file('state.json', content, 1);
        file('state.json.3141592653', '{"v":1}', 30);
        const newest = file('state.json.vsctmp', '{"v":2}', 10);
        const result = await recoverTarget(target, { now: NOW });
        const backup = `${target}.corrupt-2025-01-02T03-04-05-678Z`;
        assert.deepEqual(result, { target, from: newest, backup });
        assert.equal(readFileSync(target, 'utf8'), '{"v":2}');
        assert.equal(readFileSync(backup, 'utf8'), content);
        // Candidates are left for sweep; nothing else appears.
        assert.deepEqual(readdirSync(dir).sort(), [
          'state.json',
          'state.json.3141592653',
          'state.json.corrupt-2025-01-02T03-04-05-678Z',
          'state.json.vsctmp',
        ]);
        assert.equal(recogniseTemp('state.json.corrupt-2025-01-02T03-04-05-678Z', readdirSync(dir)), undefined);
      });
    }

    test('a missing target: written from the candidate, no backup', async () => {
      const temp = file('state.json.vsctmp', '{"v":1}', 1);
      assert.deepEqual(await recoverTarget(target), { target, from: temp, backup: null });
      assert.equal(readFileSync(target, 'utf8'), '{"v":1}');
    });

    test('the backup keeps the target’s mode, and never overwrites an earlier backup', async () => {
      file('state.json', '{"a', 1);
      writeFileSync(`${target}.corrupt-2025-01-02T03-04-05-678Z`, 'earlier backup');
      chmodSync(target, 0o600);
      file('state.json.vsctmp', '{"v":1}', 5);
      const result = await recoverTarget(target, { now: NOW });
      assert.equal(result.backup, `${target}.corrupt-2025-01-02T03-04-05-678Z-1`);
      assert.equal(readFileSync(`${target}.corrupt-2025-01-02T03-04-05-678Z`, 'utf8'), 'earlier backup');
      assert.equal(statSync(result.backup!).mode & 0o777, 0o600);
    });

    test('a valid target newer than every candidate is "not needed"; --force replaces it (.replaced-)', async () => {
      file('state.json.vsctmp', '{"v":1}', 10);
      file('state.json', '{"v":2}', 1);
      await assert.rejects(recoverTarget(target), (error: unknown) => {
        assert.ok(error instanceof RecoveryError);
        assert.equal(error.code, 'not-needed');
        assert.match(error.message, /state\.json is valid, so there is nothing to recover/);
        return true;
      });
      assert.equal(readFileSync(target, 'utf8'), '{"v":2}');
      const forced = await recoverTarget(target, { force: true, now: NOW });
      assert.equal(forced.backup, backupPathFor(target, 'replaced', NOW));
      assert.equal(readFileSync(target, 'utf8'), '{"v":1}');
      assert.equal(readFileSync(forced.backup!, 'utf8'), '{"v":2}');
    });

    test('a valid target is never replaced without force, whatever the mtimes; with force it is, with a backup', async () => {
      file('state.json', '{"v":1}', 10);
      file('state.json.vsctmp', '{"v":2}', 1);
      // The newer temp may be a write whose caller was told it failed: rolling it forward is not recovery.
      await assert.rejects(recoverTarget(target, { now: NOW }), { code: 'not-needed' });
      assert.equal(readFileSync(target, 'utf8'), '{"v":1}');
      const result = await recoverTarget(target, { now: NOW, force: true });
      assert.equal(result.backup, backupPathFor(target, 'replaced', NOW));
      assert.equal(readFileSync(target, 'utf8'), '{"v":2}');
    });

    test('a target that fails its schema counts as corrupt', async () => {
      const schema = { type: 'object', required: ['tasks'] };
      file('state.json', '{"nope":1}', 1);
      file('state.json.vsctmp', '{"tasks":[]}', 10);
      const result = await recoverTarget(target, { schema, now: NOW });
      assert.equal(result.backup, backupPathFor(target, 'corrupt', NOW));
    });

    test('no valid candidate: a clear error naming each temp and why, nothing changed', async () => {
      file('state.json', '{"torn', 1);
      file('state.json.vsctmp', '{"half', 5);
      file('state.json.3141592653', '', 5);
      await assert.rejects(recoverTarget(target), (error: unknown) => {
        assert.ok(error instanceof RecoveryError);
        assert.equal(error.code, 'no-candidate');
        assert.match(
          error.message,
          /No valid recovery candidate for .*state\.json: 2 temp file\(s\) found, none valid/,
        );
        assert.match(error.message, /state\.json\.vsctmp not valid JSON/);
        assert.match(error.message, /state\.json\.3141592653 it is empty/);
        return true;
      });
      await assert.rejects(recoverTarget(join(dir, 'other.json')), /no temp files of it were found/);
      assert.equal(readFileSync(target, 'utf8'), '{"torn');
      assert.equal(readdirSync(dir).length, 3);
    });

    test('dry run names the source and the backup and writes nothing', async () => {
      file('state.json', '{"torn', 1);
      const temp = file('state.json.vsctmp', '{"v":1}', 5);
      const result = await recoverTarget(target, { dryRun: true, now: NOW });
      assert.deepEqual(result, { target, from: temp, backup: backupPathFor(target, 'corrupt', NOW) });
      assert.equal(readFileSync(target, 'utf8'), '{"torn');
      assert.equal(readdirSync(dir).length, 2);
    });

    test('a symlinked target is recovered through the link; the backup sits beside the real file', async () => {
      mkdirSync(join(dir, 'real'));
      const real = join(dir, 'real', 'state.json');
      writeFileSync(real, '{"torn');
      symlinkSync(real, target);
      const temp = join(dir, 'real', 'state.json.3141592653');
      writeFileSync(temp, '{"v":1}');
      const result = await recoverTarget(target, { now: NOW });
      assert.deepEqual(result, { target, from: temp, backup: backupPathFor(real, 'corrupt', NOW) });
      assert.equal(readFileSync(real, 'utf8'), '{"v":1}');
    });

    test('a crash-free failure while writing the backup leaves the target and candidates untouched', async () => {
      file('state.json', '{"torn', 1);
      const temp = file('state.json.vsctmp', '{"v":1}', 5);
      const fs = new FaultyFs([{ step: 'rename', code: 'ENOSPC' }]);
      await assert.rejects(recoverTarget(target, { fs, now: NOW }), /ENOSPC/);
      assert.equal(readFileSync(target, 'utf8'), '{"torn');
      assert.equal(readFileSync(temp, 'utf8'), '{"v":1}');
      assert.ok(!existsSync(backupPathFor(target, 'corrupt', NOW)));
    });

    test('a failure replacing the target leaves the old content in the backup and the candidate in place', async () => {
      file('state.json', '{"torn', 1);
      const temp = file('state.json.vsctmp', '{"v":1}', 5);
      let renames = 0;
      const fs = {
        ...nodeFs,
        rename: async (from: string, to: string) => {
          renames += 1;
          if (renames === 2) throw errnoError('EIO', 'rename', to);
          await nodeFs.rename(from, to);
        },
      };
      await assert.rejects(recoverTarget(target, { fs, now: NOW }), /EIO/);
      assert.equal(readFileSync(backupPathFor(target, 'corrupt', NOW), 'utf8'), '{"torn');
      assert.equal(readFileSync(target, 'utf8'), '{"torn');
      assert.equal(readFileSync(temp, 'utf8'), '{"v":1}');
    });

    test('what was copied is re-validated: a mismatch is an error and nothing is lost', async () => {
      file('state.json', '{"torn', 1);
      const temp = file('state.json.vsctmp', '{"v":1}', 5);
      // A file system that silently stores a truncated target: the read-back check must catch it.
      const fs = {
        ...nodeFs,
        readFile: async (path: string) => {
          const bytes = await nodeFs.readFile(path);
          return path === target && bytes.toString() === '{"v":1}' ? bytes.subarray(0, 3) : bytes;
        },
      };
      await assert.rejects(recoverTarget(target, { fs, now: NOW }), (error: unknown) => {
        assert.ok(error instanceof RecoveryError);
        assert.equal(error.code, 'verify-failed');
        assert.match(error.message, /does not read back as .*state\.json\.vsctmp.*backup/);
        return true;
      });
      assert.equal(readFileSync(temp, 'utf8'), '{"v":1}');
      assert.equal(readFileSync(backupPathFor(target, 'corrupt', NOW), 'utf8'), '{"torn');
    });

    test('an unreadable target (EACCES) is an error that changes nothing', async () => {
      file('state.json', '{"torn', 1);
      file('state.json.vsctmp', '{"v":1}', 5);
      const fs = {
        ...nodeFs,
        readFile: async (path: string) => {
          if (path === target) throw errnoError('EACCES', 'open', path);
          return nodeFs.readFile(path);
        },
      };
      await assert.rejects(
        recoverTarget(target, { fs }),
        /Cannot judge .*state\.json, so it was left as it was: EACCES/,
      );
      assert.equal(readdirSync(dir).length, 2);
    });
  });
});
