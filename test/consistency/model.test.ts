// The crash model itself: which work an fsync makes durable, how writes tear, and how states are enumerated.
import * as assert from 'node:assert/strict';
import { assignments, combinationCount, forcingBarriers, replay, unforcedUnits } from './model/crashStates';
import { listFiles } from './model/image';
import { ImageBuilder, RecordingFs } from './model/recordingFs';

async function writeFile(fs: RecordingFs, path: string, bytes: Buffer | string, options: { sync?: boolean } = {}) {
  const handle = await fs.open(path, 'wx', 0o600);
  const data = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
  await handle.write(data, 0, data.length, 0);
  if (options.sync) await handle.sync();
  await handle.close();
}

function labels(fs: RecordingFs): string[] {
  return unforcedUnits(fs.base, fs.trace, fs.trace.length).map((unit) => unit.label);
}

/** Every distinct content `path` can have after a crash at the end of the trace ('<none>' when absent). */
function outcomes(fs: RecordingFs, path: string): Set<string> {
  const units = unforcedUnits(fs.base, fs.trace, fs.trace.length);
  const seen = new Set<string>();
  for (const assignment of assignments(units, { exhaustiveLimit: 100_000, samplesPerPoint: 0, seed: 1 }, 0)) {
    const file = listFiles(replay(fs.base, fs.trace, fs.trace.length, units, assignment).image).get(path);
    seen.add(file ? file.data.toString('latin1').replace(/\0/g, '0') : '<none>');
  }
  return seen;
}

suite('consistency model: persistence rules', () => {
  test('an un-fsynced new file may be missing, empty, zero-filled or complete: 2 x 3 = 6 states', async () => {
    const fs = new RecordingFs(new ImageBuilder().dir('/d').image);
    await writeFile(fs, '/d/f', 'abc');
    assert.deepEqual(labels(fs), ['create /d/f', 'write /d/f [0, 3)']);
    assert.equal(combinationCount(unforcedUnits(fs.base, fs.trace, fs.trace.length)), 6);
    assert.deepEqual(outcomes(fs, '/d/f'), new Set(['<none>', '', '000', 'abc']));
  });

  test('fsync of a file makes its data durable but not its name (ext4-like)', async () => {
    const fs = new RecordingFs(new ImageBuilder().dir('/d').image);
    await writeFile(fs, '/d/f', 'abc', { sync: true });
    assert.deepEqual(labels(fs), ['create /d/f']);
    assert.deepEqual(outcomes(fs, '/d/f'), new Set(['<none>', 'abc']));
  });

  test('fsync of the directory makes the name durable but not the data', async () => {
    const fs = new RecordingFs(new ImageBuilder().dir('/d').image);
    await writeFile(fs, '/d/f', 'abc');
    await fs.fsyncDir('/d');
    assert.deepEqual(labels(fs), ['write /d/f [0, 3)']);
    assert.deepEqual(outcomes(fs, '/d/f'), new Set(['', '000', 'abc']));
  });

  test('a write tears at 4 KiB boundaries: lost blocks leave holes or a short file, zeroed blocks read as NUL', async () => {
    const fs = new RecordingFs(new ImageBuilder().dir('/d').image);
    const data = Buffer.concat([Buffer.alloc(4096, 'a'), Buffer.alloc(4096, 'b'), Buffer.alloc(100, 'c')]);
    await writeFile(fs, '/d/f', data);
    await fs.fsyncDir('/d');
    assert.deepEqual(labels(fs), ['write /d/f [0, 4096)', 'write /d/f [4096, 8192)', 'write /d/f [8192, 8292)']);
    const units = unforcedUnits(fs.base, fs.trace, fs.trace.length);
    const contentWith = (assignment: number[]) =>
      listFiles(replay(fs.base, fs.trace, fs.trace.length, units, assignment).image).get('/d/f')!.data;
    // Middle block lost: a hole of zeros between the first and last blocks.
    const holed = contentWith([0, 1, 0]);
    assert.equal(holed.length, 8292);
    assert.ok(holed.subarray(4096, 8192).every((byte) => byte === 0));
    assert.equal(holed.subarray(8192).toString(), 'c'.repeat(100));
    // Last block lost: the file is short.
    assert.equal(contentWith([0, 0, 1]).length, 8192);
    // First block zeroed: size reached disk, data did not.
    const zeroed = contentWith([2, 0, 0]);
    assert.ok(zeroed.subarray(0, 4096).every((byte) => byte === 0));
    assert.equal(zeroed.subarray(4096, 4097).toString(), 'b');
  });

  test('directory operations persist out of order: a rename can reach disk without the create before it', async () => {
    const fs = new RecordingFs(new ImageBuilder().dir('/d').image);
    await writeFile(fs, '/d/t', 'new', { sync: true });
    await fs.rename('/d/t', '/d/f');
    assert.deepEqual(labels(fs), ['create /d/t', 'rename /d/t -> /d/f']);
    assert.deepEqual(outcomes(fs, '/d/f'), new Set(['<none>', 'new']));
    assert.deepEqual(outcomes(fs, '/d/t'), new Set(['<none>', 'new']));
  });

  test('a rename is forced by an fsync of its destination directory; later calls are not', async () => {
    const fs = new RecordingFs(new ImageBuilder().file('/d/f', 'old').image);
    await writeFile(fs, '/d/t', 'new', { sync: true });
    await fs.rename('/d/t', '/d/f');
    await fs.fsyncDir('/d');
    await fs.unlink('/d/f');
    assert.deepEqual(labels(fs), ['unlink /d/f']);
    const barriers = forcingBarriers(fs.trace);
    const renameIndex = fs.trace.findIndex((entry) => entry.op.kind === 'rename');
    assert.equal(fs.trace[barriers[renameIndex]!]!.op.kind, 'fsyncDir');
  });

  test('FUSE/NFS option: a rename over a file held open goes through a hidden name first, a crash point between', async () => {
    const image = new ImageBuilder().file('/d/f', 'old').image;
    const fuse = new RecordingFs(image, { renameOverOpenFile: 'two-step' });
    await writeFile(fuse, '/d/t', 'new', { sync: true });
    await fuse.fsyncDir('/d');
    const held = await fuse.open('/d/f', 'r');
    await fuse.rename('/d/t', '/d/f');
    const hidden = (await fuse.readdir('/d')).find((name) => name.startsWith('.fuse_hidden'));
    assert.match(hidden ?? '', /^\.fuse_hidden[0-9a-f]{16}$/);
    assert.deepEqual(labels(fuse), [`rename /d/f -> /d/${hidden}`, 'rename /d/t -> /d/f']);
    // Crash between the two renames, both persisted so far: the target is gone, the old bytes under the hidden name.
    const between = fuse.trace.findIndex(({ op }) => op.kind === 'rename') + 1;
    const units = unforcedUnits(fuse.base, fuse.trace, between);
    const files = listFiles(
      replay(
        fuse.base,
        fuse.trace,
        between,
        units,
        units.map(() => 0),
      ).image,
    );
    assert.equal(files.get('/d/f'), undefined);
    assert.equal(files.get(`/d/${hidden}`)?.data.toString(), 'old');
    await held.close();
    assert.deepEqual(await fuse.readdir('/d'), ['f']);
    assert.equal(fuse.trace.at(-1)?.op.kind, 'unlink');
    // Not held open, or without the option: one rename.
    const plain = new RecordingFs(image, { renameOverOpenFile: 'two-step' });
    await writeFile(plain, '/d/t', 'new', { sync: true });
    await plain.rename('/d/t', '/d/f');
    const local = new RecordingFs(image);
    await writeFile(local, '/d/t', 'new', { sync: true });
    await (await local.open('/d/f', 'r')).sync();
    await local.rename('/d/t', '/d/f');
    for (const fs of [plain, local]) assert.equal(fs.trace.filter(({ op }) => op.kind === 'rename').length, 1);
  });

  test('the live view answers reads with un-fsynced data', async () => {
    const fs = new RecordingFs(new ImageBuilder().dir('/d').image);
    await writeFile(fs, '/d/f', 'abc');
    assert.equal((await fs.readFile('/d/f')).toString(), 'abc');
    assert.deepEqual(await fs.readdir('/d'), ['f']);
    assert.equal((await fs.stat('/d/f')).size, 3);
  });

  test('O_EXCL refuses an existing name; a missing file is ENOENT; truncation is recorded', async () => {
    const fs = new RecordingFs(new ImageBuilder().file('/d/f', 'old').image);
    await assert.rejects(fs.open('/d/f', 'wx'), { code: 'EEXIST' });
    await assert.rejects(fs.readFile('/d/missing'), { code: 'ENOENT' });
    await assert.rejects(fs.open('/d/missing/x', 'w'), { code: 'ENOENT' });
    const handle = await fs.open('/d/f', 'w');
    await handle.close();
    assert.deepEqual(labels(fs), ['truncate /d/f to 0']);
    assert.deepEqual(outcomes(fs, '/d/f'), new Set(['old', '']));
  });

  test('a RAM-backed tmpdir is another device (EXDEV) and comes back empty after a crash', async () => {
    const fs = new RecordingFs(new ImageBuilder().dir('/d').tmpfs('/ram').image);
    await writeFile(fs, '/ram/t', 'abc', { sync: true });
    await fs.fsyncDir('/ram');
    await assert.rejects(fs.rename('/ram/t', '/d/f'), { code: 'EXDEV' });
    assert.deepEqual(outcomes(fs, '/ram/t'), new Set(['<none>']));
  });
});

suite('consistency model: enumeration', () => {
  test('small crash points are enumerated exhaustively; large ones are sampled deterministically, edge cases first', async () => {
    const fs = new RecordingFs(new ImageBuilder().dir('/d').image);
    for (let n = 0; n < 6; n++) await writeFile(fs, `/d/f${n}`, 'x');
    const units = unforcedUnits(fs.base, fs.trace, fs.trace.length);
    assert.equal(combinationCount(units), 6 ** 6);
    const options = { exhaustiveLimit: 4096, samplesPerPoint: 200, seed: 7 };
    const first = [...assignments(units, options, 3)];
    const again = [...assignments(units, options, 3)];
    assert.equal(first.length, 200);
    assert.deepEqual(first, again);
    assert.deepEqual(
      first[0],
      units.map(() => 0),
    );
    assert.equal(new Set(first.map((a) => a.join(''))).size, 200);
    const small = unforcedUnits(fs.base, fs.trace, 6);
    assert.equal([...assignments(small, options, 6)].length, combinationCount(small));
  });
});
