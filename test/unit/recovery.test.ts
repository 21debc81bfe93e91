import * as assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FsLike, nodeFs } from '../../src/core/fs';
import { liveTempPaths } from '../../src/core/names/tempNames';
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

  suite('recover from a chosen temp, and consume it', () => {
    /** The seam, with `afterTargetWritten` run once the recovered target is in place (before the temp is consumed). */
    const seamWith = (afterTargetWritten: () => void): FsLike => ({
      ...nodeFs,
      rename: async (from: string, to: string) => {
        await nodeFs.rename(from, to);
        if (to === target) afterTargetWritten();
      },
    });

    test('`from` recovers exactly that temp, not the newest', async () => {
      file('state.json', '{"torn', 1);
      file('.state.json.tmp', '{"v":"newest"}', 5);
      const older = file('state.json.tmp-1234567890abcdef', '{"v":"older"}', 30);
      const result = await recoverTarget(target, { from: older, now: NOW });
      assert.equal(result.from, older);
      assert.equal(readFileSync(target, 'utf8'), '{"v":"older"}');
      assert.equal(result.consumed, undefined, 'nothing consumed unless asked');
      assert.ok(existsSync(older));
    });

    test('`from` naming a torn temp, another target’s temp or a file that is no temp: refused, nothing changed', async () => {
      file('state.json', '{"torn', 1);
      file('.state.json.tmp', '{"v":1}', 5);
      const torn = file('state.json.tmp-1234567890abcdef', '{"v":', 30);
      const other = file('other.json.vsctmp', '{"v":9}', 1);
      const plain = file('notes.json', '{"v":8}', 1);
      const before = readdirSync(dir).sort();
      for (const [from, why] of [
        [torn, /cannot be used to recover .*state\.json: .*line 1/],
        [other, /not a temp file of it/],
        [plain, /not a temp file of it/],
        [join(dir, '..', 'state.json.vsctmp'), /not a temp file of it/],
      ] as const) {
        await assert.rejects(recoverTarget(target, { from, now: NOW, consumeCandidate: true }), (error: unknown) => {
          assert.ok(error instanceof RecoveryError);
          assert.equal(error.code, 'no-candidate');
          assert.match(error.message, why);
          return true;
        });
      }
      assert.equal(readFileSync(target, 'utf8'), '{"torn');
      assert.deepEqual(readdirSync(dir).sort(), before);
    });

    test('`fromIdentity`: a temp rewritten since it was shown is refused, nothing changed', async () => {
      file('state.json', '{"torn', 1);
      const temp = file('state.json.vsctmp', '{"v":1}', 5);
      const [shown] = await findRecoveryCandidates(target);
      writeFileSync(temp, '{"v":22}');
      await assert.rejects(
        recoverTarget(target, { from: temp, fromIdentity: shown!.identity, consumeCandidate: true }),
        (error: unknown) => error instanceof RecoveryError && error.code === 'changed',
      );
      assert.equal(readFileSync(target, 'utf8'), '{"torn');
      assert.equal(readFileSync(temp, 'utf8'), '{"v":22}');
    });

    test('consumeCandidate removes the temp used, only that one, after the target reads back', async () => {
      file('state.json', '{"torn', 1);
      const newest = file('.state.json.tmp', '{"v":3}', 5);
      const older = file('state.json.3141592653', '{"v":1}', 30);
      const result = await recoverTarget(target, { from: older, consumeCandidate: true, now: NOW });
      assert.deepEqual(result.consumed, { removed: true });
      assert.equal(readFileSync(target, 'utf8'), '{"v":1}');
      assert.equal(existsSync(older), false);
      assert.equal(readFileSync(newest, 'utf8'), '{"v":3}', 'other temps stay');
      assert.equal(readFileSync(backupPathFor(target, 'corrupt', NOW), 'utf8'), '{"torn');
    });

    test('a temp replaced by another file (same bytes, new inode) after the decision is kept', async () => {
      file('state.json', '{"torn', 1);
      const temp = file('state.json.vsctmp', '{"v":1}', 5);
      const fs = seamWith(() => {
        writeFileSync(join(dir, 'swap'), '{"v":1}');
        utimesSync(join(dir, 'swap'), statSync(temp).atime, statSync(temp).mtime);
        renameSync(join(dir, 'swap'), temp);
      });
      const result = await recoverTarget(target, { fs, consumeCandidate: true, now: NOW });
      assert.equal(result.consumed?.removed, false);
      assert.match((result.consumed as { reason: string }).reason, /changed/);
      assert.equal(readFileSync(temp, 'utf8'), '{"v":1}');
      assert.equal(readFileSync(target, 'utf8'), '{"v":1}');
    });

    test('a temp swapped for a symlink to a file with the same bytes is kept, and so is that file', async () => {
      file('state.json', '{"torn', 1);
      const temp = file('state.json.vsctmp', '{"v":1}', 5);
      const elsewhere = file('elsewhere.txt', '{"v":1}', 5);
      const fs = seamWith(() => {
        rmSync(temp);
        symlinkSync(elsewhere, temp);
      });
      const result = await recoverTarget(target, { fs, consumeCandidate: true, now: NOW });
      assert.equal(result.consumed?.removed, false);
      assert.ok(existsSync(temp), 'the symlink stays');
      assert.equal(readFileSync(elsewhere, 'utf8'), '{"v":1}');
    });

    test('a temp rewritten in place with the same size and mtime is kept: its bytes are compared too', async () => {
      file('state.json', '{"torn', 1);
      const temp = file('state.json.vsctmp', '{"v":1}', 5);
      const fs = seamWith(() => {
        const { atime, mtime } = statSync(temp);
        writeFileSync(temp, '{"v":2}');
        utimesSync(temp, atime, mtime);
      });
      const result = await recoverTarget(target, { fs, consumeCandidate: true, now: NOW });
      assert.deepEqual(result.consumed, { removed: false, reason: 'its content changed since it was read' });
      assert.equal(readFileSync(temp, 'utf8'), '{"v":2}');
    });

    test('a temp that cannot be read again (EACCES), or is gone, is kept or left gone: never an error', async () => {
      file('state.json', '{"torn', 1);
      const temp = file('state.json.vsctmp', '{"v":1}', 5);
      let written = false;
      const fs: FsLike = {
        ...seamWith(() => {
          written = true;
        }),
        readFile: async (path, maxBytes) => {
          if (written && path === temp) throw errnoError('EACCES', 'open', path);
          return nodeFs.readFile(path, maxBytes);
        },
      };
      const result = await recoverTarget(target, { fs, consumeCandidate: true, now: NOW });
      assert.equal(result.consumed?.removed, false);
      assert.match((result.consumed as { reason: string }).reason, /EACCES/);
      assert.ok(existsSync(temp));

      file('state.json', '{"torn', 1);
      const result2 = await recoverTarget(target, {
        fs: seamWith(() => rmSync(temp)),
        consumeCandidate: true,
        now: NOW + 1,
      });
      assert.equal(result2.consumed?.removed, false);
      assert.equal(readFileSync(target, 'utf8'), '{"v":1}');
    });

    test('a temp this process is writing right now is never consumed', async () => {
      file('state.json', '{"torn', 1);
      const temp = file('state.json.vsctmp', '{"v":1}', 5);
      liveTempPaths.add(temp);
      try {
        const result = await recoverTarget(target, { consumeCandidate: true, now: NOW });
        assert.deepEqual(result.consumed, { removed: false, reason: 'this process is writing it right now' });
        assert.ok(existsSync(temp));
      } finally {
        liveTempPaths.delete(temp);
      }
    });

    test('a failed replace consumes nothing: the temp is still the only good copy', async () => {
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
      await assert.rejects(recoverTarget(target, { fs, consumeCandidate: true, now: NOW }), /EIO/);
      assert.equal(readFileSync(temp, 'utf8'), '{"v":1}');
    });

    test('a dry run with consumeCandidate removes nothing', async () => {
      file('state.json', '{"torn', 1);
      const temp = file('state.json.vsctmp', '{"v":1}', 5);
      const result = await recoverTarget(target, { dryRun: true, consumeCandidate: true, now: NOW });
      assert.equal(result.consumed, undefined);
      assert.deepEqual(readdirSync(dir).sort(), ['state.json', 'state.json.vsctmp']);
      assert.ok(existsSync(temp));
    });
  });
});
