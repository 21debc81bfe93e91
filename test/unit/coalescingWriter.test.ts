import * as assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FsLike, nodeFs } from '../../src/core/fs';
import { CoalescingWriter, flushAllJsonWriters, writeJsonCoalesced } from '../../src/core/json/coalescingWriter';
import { JsonValueError } from '../../src/core/json/jsonStore';

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

  test('100 un-awaited JSON writes to one file: the final content is the last submitted, in at most two writes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cs-coalesce-'));
    try {
      const file = join(dir, 'doc.json');
      let renames = 0;
      const fs: FsLike = {
        ...nodeFs,
        rename: (from, to) => {
          renames += 1;
          return nodeFs.rename(from, to);
        },
      };
      const writes = Array.from({ length: 100 }, (_, i) =>
        writeJsonCoalesced(file, { n: i }, { durability: 'fast', fs }),
      );
      await flushAllJsonWriters();
      await Promise.all(writes);
      assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { n: 99 });
      assert.deepEqual(readdirSync(dir), ['doc.json']);
      assert.ok(renames <= 2, `${renames} writes for a burst of 100`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an invalid value rejects for its own caller only and is never written; the others land', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cs-coalesce-'));
    try {
      const file = join(dir, 'doc.json');
      const schema = { type: 'object', required: ['n'] };
      const first = writeJsonCoalesced(file, { n: 1 }, { schema });
      const invalid = writeJsonCoalesced(file, { m: 2 }, { schema });
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      const unserialisable = writeJsonCoalesced(file, cyclic);
      const last = writeJsonCoalesced(file, { n: 3 }, { schema });
      await assert.rejects(invalid, JsonValueError);
      await assert.rejects(unserialisable, JsonValueError);
      await Promise.all([first, last]);
      assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { n: 3 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('flushAllJsonWriters waits for writes still in flight', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cs-coalesce-'));
    try {
      const gate = deferred();
      const fs: FsLike = {
        ...nodeFs,
        rename: async (from, to) => {
          await gate.promise;
          return nodeFs.rename(from, to);
        },
      };
      const file = join(dir, 'doc.json');
      const write = writeJsonCoalesced(file, { n: 1 }, { fs });
      let flushed = false;
      const flushing = flushAllJsonWriters().then(() => {
        flushed = true;
      });
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(flushed, false);
      gate.release();
      await Promise.all([write, flushing]);
      assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { n: 1 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
