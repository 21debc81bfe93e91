// The checker must be able to fail: it catches each deliberate bug in a copy of the write path and of recovery,
// while the same copy without the bug passes every state.
import * as assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { writeFileAtomic } from '../../src/core/write/atomicWrite';
import { recoverWithoutValidation, type WritePathBug, writeWithBug } from './model/buggyCopies';
import { describeViolations } from './model/checker';
import { DocumentHistory } from './model/expectations';
import { checkDocument, documentText } from './model/fixtures';
import { ImageBuilder, RecordingFs, type RecordingOptions } from './model/recordingFs';

const TARGET = '/ws/state.json';
const NEW_TARGET = '/ws/new/state.json';

/** The starting disk: a workspace and, as on many Linux systems, a RAM-backed os.tmpdir() on its own device. */
function disk(): ImageBuilder {
  return new ImageBuilder().dir('/ws').tmpfs(tmpdir());
}

/** libfuse and NFS: a rename over a file held open takes two steps, with a crash point between them. */
const FUSE: RecordingOptions = { renameOverOpenFile: 'two-step' };

async function overwriteWith(bug: WritePathBug, recording: RecordingOptions = {}) {
  const old = documentText(0, 5000);
  const fs = new RecordingFs(disk().file(TARGET, old).image, recording);
  const history = new DocumentHistory(fs, TARGET, old);
  const text = documentText(1, 5000);
  await history.write(text, () => writeWithBug(TARGET, text, { fs, bug }));
  const where = recording.renameOverOpenFile === 'two-step' ? ' on FUSE/NFS' : '';
  return checkDocument(`buggy copy '${bug}': overwrite${where}`, fs, history);
}

async function firstWriteWith(bug: WritePathBug) {
  const fs = new RecordingFs(disk().image);
  const history = new DocumentHistory(fs, NEW_TARGET, null);
  const text = documentText(1);
  await history.write(text, () => writeWithBug(NEW_TARGET, text, { fs, bug, createParents: true }));
  return checkDocument(`buggy copy '${bug}': first write`, fs, history);
}

const CAUGHT: Array<{ bug: WritePathBug; why: RegExp }> = [
  { bug: 'no-file-fsync', why: /is (empty|not valid JSON)/ },
  { bug: 'no-dir-fsync', why: /acknowledged write was lost/ },
  { bug: 'copy-then-unlink', why: /is (empty|not valid JSON)/ },
  { bug: 'temp-in-tmpdir', why: /is (empty|not valid JSON)/ },
];

suite('consistency: the checker catches deliberate bugs', () => {
  test('the copy of the write path without a bug passes every state (so the bugs below are what fails)', async () => {
    for (const report of [await overwriteWith('none'), await firstWriteWith('none')]) {
      assert.ok(report.statesChecked >= 8, `too few states in ${report.scenario}`);
      assert.equal(report.violationCount, 0, describeViolations(report));
    }
  });

  for (const { bug, why } of CAUGHT) {
    test(`catches '${bug}'`, async () => {
      const report = await overwriteWith(bug);
      assert.ok(report.violationCount > 0, `the checker missed '${bug}'`);
      assert.match(describeViolations(report), why);
    });
  }

  test("catches 'hold-target-open' once a rename over an open file takes two steps (FUSE, NFS), and only then", async () => {
    const local = await overwriteWith('hold-target-open');
    assert.equal(
      local.violationCount,
      0,
      `on a local disk holding the target open is harmless:\n${describeViolations(local)}`,
    );
    const clean = await overwriteWith('none', FUSE);
    assert.equal(clean.violationCount, 0, describeViolations(clean));
    const fuse = await overwriteWith('hold-target-open', FUSE);
    assert.ok(fuse.violationCount > 0, "the checker missed 'hold-target-open' under the two-step rename rule");
    assert.match(describeViolations(fuse), /rename \/ws\/state\.json -> \/ws\/\.fuse_hidden/);
    assert.match(describeViolations(fuse), /\/ws\/state\.json is missing; expected version 0 or version 1/);
  });

  test("catches 'no-dir-fsync' on a first write: the new file's name is not durable", async () => {
    const report = await firstWriteWith('no-dir-fsync');
    assert.ok(report.violationCount > 0, "the checker missed 'no-dir-fsync'");
    assert.match(describeViolations(report), /is missing, but version 1 was acknowledged as durable/);
  });

  test('catches recovery that skips validation: it promotes a torn temp that the real recovery refuses', async () => {
    const run = async (label: string, recover?: typeof recoverWithoutValidation) => {
      const fs = new RecordingFs(disk().image);
      const history = new DocumentHistory(fs, TARGET, null);
      const text = documentText(1, 9000);
      await history.write(text, () => writeFileAtomic(TARGET, text, { fs }));
      return checkDocument(label, fs, history, recover ? { recover } : {});
    };
    const real = await run('recovery (src/core/orphans/recovery.ts) after a first write');
    assert.equal(real.violationCount, 0, describeViolations(real));
    const buggy = await run('buggy copy: recovery without validation', recoverWithoutValidation);
    assert.ok(buggy.violationCount > 0, 'the checker missed recovery without validation');
    assert.match(describeViolations(buggy), /recovery promoted a torn or foreign temp/);
  });
});
