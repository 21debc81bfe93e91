// The recover command itself (recoverTarget, src/core/orphans/recovery.ts): a crash at any point of a recovery keeps the
// newest valid version and the damaged original, and the next restart finishes the job.
import * as assert from 'node:assert/strict';
import { basename } from 'node:path';
import { recoverTarget } from '../../src/core/orphans/recovery';
import { recoverWithoutValidation } from './model/buggyCopies';
import { type CheckReport, checkCrashStates, describeViolations, summarize } from './model/checker';
import { describeBytes, type RecoverFn, restart, strictJson } from './model/expectations';
import { coreRecovery, documentText } from './model/fixtures';
import { listFiles } from './model/image';
import { ImageBuilder, MODEL_EPOCH_MS, RecordingFs } from './model/recordingFs';

const TARGET = '/ws/data.json';
const OLDER_VALID = documentText(1, 3000);
const NEWEST_VALID = documentText(2, 6000);
const TORN = Buffer.from(documentText(3, 6000)).subarray(0, 4096);
const DAMAGED = Buffer.from(NEWEST_VALID).subarray(0, 4096);

const realRecovery: RecoverFn = async (fs, target) => {
  const result = await recoverTarget(target, { fs });
  assert.equal(basename(result.from), 'data.json.3141592653', 'recovery should pick the newest valid temp');
  return result.from;
};

/** A damaged (or missing) target with three temps: an older valid one of ours, the newest valid one left by
 * write-file-atomic, and a still newer torn one of ours that must never be promoted. */
function leftovers(target: 'damaged' | 'missing'): ImageBuilder {
  const hour = 3_600_000;
  const builder = new ImageBuilder()
    .dir('/ws')
    .file(`${TARGET}.cs-4242-0-1-0badf00d.tmp`, OLDER_VALID, MODEL_EPOCH_MS - 3 * hour)
    .file(`${TARGET}.3141592653`, NEWEST_VALID, MODEL_EPOCH_MS - 2 * hour)
    .file(`${TARGET}.cs-4242-0-3-deadbeef.tmp`, TORN, MODEL_EPOCH_MS - hour);
  return target === 'damaged' ? builder.file(TARGET, DAMAGED, MODEL_EPOCH_MS - 4 * hour) : builder;
}

async function recoveryScenario(
  target: 'damaged' | 'missing',
  recover: RecoverFn = realRecovery,
): Promise<CheckReport> {
  const fs = new RecordingFs(leftovers(target).image);
  const label = recover === realRecovery ? 'recover command' : 'buggy copy: recovery without validation';
  await recover(fs, TARGET);
  const report = await checkCrashStates(`${label}, ${target} target`, fs, async ({ fs: crashed }) => {
    const problems: string[] = [];
    const onDisk = [...listFiles(crashed.live)];
    if (!onDisk.some(([, file]) => file.data.toString('utf8') === NEWEST_VALID)) {
      problems.push('no file holds the newest valid version any more');
    }
    const keepsDamaged = onDisk.some(
      ([path, file]) => (path === TARGET || path.startsWith(`${TARGET}.corrupt-`)) && file.data.equals(DAMAGED),
    );
    if (target === 'damaged' && !keepsDamaged)
      problems.push('the damaged original is neither in place nor in a backup');
    const inPlace = onDisk.find(([path]) => path === TARGET)?.[1].data;
    const original = target === 'damaged' ? DAMAGED : undefined;
    if (inPlace && !inPlace.equals(Buffer.from(NEWEST_VALID)) && !(original && inPlace.equals(original))) {
      problems.push(`recovery put something other than the newest valid version in place: ${describeBytes(inPlace)}`);
    }
    const after = await restart(crashed, TARGET, { valid: strictJson(), recover: coreRecovery() });
    if (after.promotedFrom?.includes('deadbeef')) problems.push('the torn temp was promoted');
    if (after.finalText !== NEWEST_VALID) {
      problems.push(
        `after restart ${TARGET} is ${after.finalText === null ? 'missing' : (after.finalProblem ?? 'an older version')}`,
      );
    }
    return problems;
  });
  console.log(summarize(report));
  return report;
}

suite('consistency: the recover command, crashed part-way', () => {
  test('damaged target: every crash state keeps the newest valid version and the damaged original', async () => {
    const report = await recoveryScenario('damaged');
    assert.ok(report.statesChecked >= 10, `too few states: ${report.statesChecked}`);
    assert.equal(report.violationCount, 0, describeViolations(report));
  });

  test('missing target: every crash state keeps the newest valid version, and a restart promotes it', async () => {
    const report = await recoveryScenario('missing');
    assert.equal(report.violationCount, 0, describeViolations(report));
  });

  test('the same checks catch a copy of recovery that skips validation (and the backup)', async () => {
    const report = await recoveryScenario('damaged', recoverWithoutValidation);
    assert.ok(report.violationCount > 0, 'the checker missed recovery without validation');
    assert.match(describeViolations(report), /something other than the newest valid version/);
    assert.match(describeViolations(report), /damaged original is neither in place nor in a backup/);
  });
});
