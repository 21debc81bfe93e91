import * as assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoalescingWriter, flushAllJsonWriters, jsonWriterFor } from '../../src/core/coalescingWriter';

function deferred() {
  let release!: () => void;
  let fail!: (error: Error) => void;
  const promise = new Promise<void>((resolve, reject) => {
    release = resolve;
    fail = reject;
  });
  return { promise, release, fail };
}

suite('CoalescingWriter', () => {
  test('a burst becomes the in-flight write plus one write of the newest value', async () => {
    const written: number[] = [];
    const gate = deferred();
    const writer = new CoalescingWriter<number>(async (value) => {
      written.push(value);
      if (written.length === 1) await gate.promise;
    });
    const promises = Array.from({ length: 1000 }, (_, i) => writer.write(i));
    gate.release();
    await Promise.all(promises);
    assert.deepEqual(written, [0, 999]);
  });

  test('a caller does not settle before its value (or a newer one) is written', async () => {
    const gate = deferred();
    const writer = new CoalescingWriter<string>(() => gate.promise);
    let settled = false;
    const first = writer.write('a').then(() => {
      settled = true;
    });
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(settled, false);
    gate.release();
    await first;
    assert.equal(settled, true);
  });

  test('callers reject with the error of the write that carried their value, later ones still succeed', async () => {
    const gate = deferred();
    let calls = 0;
    const writer = new CoalescingWriter<string>(async (value) => {
      calls += 1;
      if (calls === 1) await gate.promise;
      if (value === 'bad') throw new Error('ENOSPC on bad');
    });
    const first = writer.write('first');
    const superseded = writer.write('superseded');
    const bad = writer.write('bad');
    gate.release();
    await first;
    await assert.rejects(superseded, /ENOSPC on bad/);
    await assert.rejects(bad, /ENOSPC on bad/);
    await writer.write('good');
    assert.equal(calls, 3);
  });

  test('flush waits for every pending write and does not reject on failures', async () => {
    const gate = deferred();
    const writer = new CoalescingWriter<number>(async () => {
      await gate.promise;
      throw new Error('boom');
    });
    const failed = writer.write(1).catch(() => 'rejected');
    let flushed = false;
    const flushing = writer.flush().then(() => {
      flushed = true;
    });
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(flushed, false);
    gate.release();
    await flushing;
    assert.equal(await failed, 'rejected');
    assert.equal(writer.busy, false);
  });

  test('100 un-awaited JSON writes to one file: the final content is the last submitted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cs-coalesce-'));
    try {
      const file = join(dir, 'doc.json');
      const writer = jsonWriterFor(file, { durability: 'fast' });
      const writes = Array.from({ length: 100 }, (_, i) => writer.write({ n: i }));
      await flushAllJsonWriters();
      await Promise.all(writes);
      assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { n: 99 });
      assert.deepEqual(readdirSync(dir), ['doc.json']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
