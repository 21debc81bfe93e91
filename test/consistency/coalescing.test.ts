// A coalesced burst through CoalescingWriter: after a power cut, every acknowledged value (or a newer one) survives.
import * as assert from 'node:assert/strict';
import { CoalescingWriter } from '../../src/core/json/coalescingWriter';
import { serializeJson, writeJson } from '../../src/core/json/jsonStore';
import type { Durability } from '../../src/core/write/atomicWrite';
import { EarlyAckWriter } from './model/buggyCopies';
import { describeViolations } from './model/checker';
import { DocumentHistory } from './model/expectations';
import { checkDocument, documentText, documentValue, type SampleDocument } from './model/fixtures';
import { ImageBuilder, RecordingFs } from './model/recordingFs';

const TARGET = '/ws/.vscode/crash-safe/burst.json';

interface Writer {
  write(value: SampleDocument): Promise<void>;
}

/**
 * Two waves of three edits. Edit 1 is written at once; 2 and 3 arrive while it is in flight and coalesce into one
 * write of version 3; the second wave arrives while version 3 is in flight and coalesces into version 6. So the
 * file sees versions 1, 3 and 6; callers 2, 4 and 5 are acknowledged by the writes carrying 3 and 6.
 */
async function burst(durability: Durability, makeWriter: (write: (value: SampleDocument) => Promise<void>) => Writer) {
  const fs = new RecordingFs(new ImageBuilder().file(TARGET, documentText(0)).image);
  const history = new DocumentHistory(fs, TARGET, documentText(0));
  const writer = makeWriter(async (value) => {
    history.begin(serializeJson(TARGET, value));
    await writeJson(TARGET, value, { fs, durability });
  });
  const submit = (version: number) => {
    const ticket = history.submit();
    return writer.write(documentValue(version)).then(() => history.ack(ticket));
  };
  const firstWave = [1, 2, 3].map(submit);
  await firstWave[0];
  const secondWave = [4, 5, 6].map(submit);
  await Promise.all([...firstWave, ...secondWave]);
  const begun = fs.trace.filter((entry) => entry.op.kind === 'mark' && entry.op.label.startsWith('begin')).length;
  return { fs, history, begun };
}

suite('consistency: coalesced burst (CoalescingWriter)', () => {
  test('full: every acknowledged value, or a newer one, survives every crash state', async () => {
    const { fs, history, begun } = await burst('full', (write) => new CoalescingWriter(write));
    assert.equal(begun, 3, 'the burst of six edits should cost three writes');
    const report = await checkDocument('coalesced burst of 6 edits (full)', fs, history);
    assert.ok(report.statesChecked >= 20, `too few states: ${report.statesChecked}`);
    assert.equal(report.violationCount, 0, describeViolations(report));
  });

  test('fast: the model finds crash states that lose acknowledged edits', async () => {
    const { fs, history } = await burst('fast', (write) => new CoalescingWriter(write));
    const report = await checkDocument('coalesced burst of 6 edits (fast)', fs, history);
    assert.ok(report.violationCount > 0, 'fast was expected to lose data in some power-loss state');
  });

  test('catches a writer that acknowledges queued callers before their write is durable', async () => {
    const { fs, history } = await burst('full', (write) => new EarlyAckWriter(write));
    const report = await checkDocument('buggy copy: coalescing writer that acknowledges early (full)', fs, history);
    assert.ok(report.violationCount > 0, 'the checker missed an early acknowledgement');
    assert.match(describeViolations(report), /acknowledged as durable: an acknowledged write was lost/);
  });
});
