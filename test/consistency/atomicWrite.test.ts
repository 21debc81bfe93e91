// Every crash state of the real write path (src/core/write/atomicWrite.ts) recovers to the old or the new document
// with durability 'full'; with 'fast' the model finds states that lose data, which is exactly what 'fast' gives up.
import * as assert from 'node:assert/strict';
import type { Durability } from '../../src/core/write/atomicWrite';
import { writeFileAtomic } from '../../src/core/write/atomicWrite';
import { describeViolations } from './model/checker';
import { DocumentHistory } from './model/expectations';
import { checkDocument, documentText } from './model/fixtures';
import { ImageBuilder, RecordingFs, type RecordingOptions } from './model/recordingFs';

const NEW_TARGET = '/ws/.vscode/crash-safe/state.json';
const TARGET = '/ws/state.json';

async function firstWriteInNewFolder(durability: Durability) {
  const fs = new RecordingFs(new ImageBuilder().dir('/ws').image);
  const history = new DocumentHistory(fs, NEW_TARGET, null);
  const text = documentText(1);
  await history.write(text, () => writeFileAtomic(NEW_TARGET, text, { fs, durability, createParents: true }));
  return checkDocument(`first write, new parent folders (${durability})`, fs, history);
}

async function overwrite(durability: Durability, bytes: number, processCrashOnly = false) {
  const old = documentText(0, bytes);
  const fs = new RecordingFs(new ImageBuilder().file(TARGET, old).image);
  const history = new DocumentHistory(fs, TARGET, old);
  const text = documentText(1, bytes);
  await history.write(text, () => writeFileAtomic(TARGET, text, { fs, durability }));
  const crash = processCrashOnly ? ', process crashes only' : '';
  return checkDocument(`overwrite, ${Math.ceil(bytes / 4096) || 1} block(s) (${durability}${crash})`, fs, history, {
    processCrashOnly,
  });
}

async function threeWrites(durability: Durability, processCrashOnly = false) {
  const fs = new RecordingFs(new ImageBuilder().file(TARGET, documentText(0)).image);
  const history = new DocumentHistory(fs, TARGET, documentText(0));
  for (const version of [1, 2, 3]) {
    const text = documentText(version);
    await history.write(text, () => writeFileAtomic(TARGET, text, { fs, durability }));
  }
  const crash = processCrashOnly ? ', process crashes only' : '';
  return checkDocument(`three acknowledged writes in a row (${durability}${crash})`, fs, history, { processCrashOnly });
}

/** libfuse and NFS: a rename over a file held open takes two steps, with a crash point between them. */
const FUSE: RecordingOptions = { renameOverOpenFile: 'two-step' };

/** `versions` durable overwrites on FUSE/NFS, judged with orphan recovery or (`recovery: false`) on the target alone. */
async function overwritesOnFuse(versions: number, bytes: number, recovery: boolean) {
  const old = documentText(0, bytes);
  const fs = new RecordingFs(new ImageBuilder().file(TARGET, old).image, FUSE);
  const history = new DocumentHistory(fs, TARGET, old);
  for (let version = 1; version <= versions; version++) {
    const text = documentText(version, bytes);
    await history.write(text, () => writeFileAtomic(TARGET, text, { fs }));
  }
  const steps = fs.trace.filter(({ op }) => op.kind === 'rename').length;
  assert.equal(steps, versions, 'every rename took one step: the target was never held open');
  const label = `${versions} overwrite(s), ${Math.ceil(bytes / 4096) || 1} block(s), FUSE/NFS rename (full${recovery ? '' : ', no recovery'})`;
  return checkDocument(label, fs, history, recovery ? {} : { recover: async () => undefined });
}

suite('consistency: atomic write (power loss model)', () => {
  test('full: a first write whose parent folders are new survives every crash state', async () => {
    const report = await firstWriteInNewFolder('full');
    assert.ok(report.statesChecked >= 8, `too few states: ${report.statesChecked}`);
    assert.equal(report.violationCount, 0, describeViolations(report));
  });

  test('full: an overwrite survives every crash state', async () => {
    const report = await overwrite('full', 0);
    assert.equal(report.violationCount, 0, describeViolations(report));
  });

  test('full: an overwrite of a 3-block document survives every torn, zeroed or lost block', async () => {
    const report = await overwrite('full', 9000);
    assert.equal(report.violationCount, 0, describeViolations(report));
  });

  test('full: a 10-block document (too many tears to enumerate: a seeded sample) survives every state checked', async () => {
    const report = await overwrite('full', 40_000);
    assert.ok(report.sampledPoints > 0, 'this scenario is meant to exercise the sampled path');
    assert.ok(report.statesChecked >= 200, `too few states: ${report.statesChecked}`);
    assert.equal(report.violationCount, 0, describeViolations(report));
  });

  test('full: after each acknowledged write, no crash state goes back to an older version', async () => {
    const report = await threeWrites('full');
    assert.equal(report.violationCount, 0, describeViolations(report));
  });

  test('full on FUSE/NFS (a rename over an open file takes two steps): no crash state loses the target, even before recovery', async () => {
    for (const report of [
      await overwritesOnFuse(1, 0, false),
      await overwritesOnFuse(1, 9000, false),
      await overwritesOnFuse(3, 0, false),
      await overwritesOnFuse(3, 0, true),
    ]) {
      assert.ok(report.statesChecked >= 5, `too few states in ${report.scenario}`);
      assert.equal(report.violationCount, 0, `${report.scenario}\n${describeViolations(report)}`);
    }
  });

  test('fast: the model finds crash states where a first write leaves a torn or empty file', async () => {
    const report = await firstWriteInNewFolder('fast');
    assert.ok(report.violationCount > 0, 'fast was expected to lose data in some power-loss state');
  });

  test('fast: the model finds crash states where an overwrite destroys the old document', async () => {
    const report = await overwrite('fast', 9000);
    assert.ok(report.violationCount > 0, 'fast was expected to lose data in some power-loss state');
    assert.match(describeViolations(report), /empty|not valid JSON/);
  });

  test('fast: acknowledged versions can be lost after a power cut', async () => {
    const report = await threeWrites('fast');
    assert.ok(report.violationCount > 0, 'fast was expected to lose data in some power-loss state');
  });

  test('fast: what it does promise holds — after a crash of the process alone, the target is old or new', async () => {
    for (const report of [await overwrite('fast', 9000, true), await threeWrites('fast', true)]) {
      assert.ok(report.statesChecked >= 5, `too few states in ${report.scenario}`);
      assert.equal(report.violationCount, 0, describeViolations(report));
    }
  });
});
