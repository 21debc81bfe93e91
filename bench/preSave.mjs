// Cost per save of crashSafeSave.files' pre-save copy layer: a save as VS Code makes it (truncate and write the
// file, no fsync) with and without the layer (durable copy before, read back and prune after), 4 KiB and 1 MiB,
// interleaved in one run on this disk. Run: `node --import tsx bench/preSave.mjs [rounds]`.
import { mkdirSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { digestOf } from '../src/core/copies/copyModel.ts';
import { PreSaveCopies } from '../src/state/preSaveCopies.ts';

const work = join(dirname(fileURLToPath(import.meta.url)), '.work', 'pre-save');
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const rounds = Number(process.argv[2] ?? 40);
const copies = new PreSaveCopies();

/** VS Code's save: the file truncated and written in place. */
const plainSave = (path, bytes) => writeFile(path, bytes);

/** The same save inside the layer: copy before (awaited, as onWillSave), prune after (as onDidSave). */
async function layeredSave(path, bytes) {
  const result = await copies.write(work, path, bytes);
  await plainSave(path, bytes);
  if (!('written' in result)) throw new Error(result.skipped);
  const pruned = await copies.pruneIfSaved(result.written, path, [digestOf(bytes)]);
  if (!pruned.pruned) throw new Error(pruned.kept);
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};
const p90 = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length * 0.9)];

for (const [label, size] of [
  ['4 KiB', 4096],
  ['1 MiB', 1024 * 1024],
]) {
  const bytes = Buffer.alloc(size, 'x');
  const path = join(work, `file-${size}.json`);
  const times = { plain: [], layered: [], waited: [] };
  for (let round = 0; round < rounds; round++) {
    let started = performance.now();
    await plainSave(path, bytes);
    times.plain.push(performance.now() - started);
    started = performance.now();
    await layeredSave(path, bytes);
    times.layered.push(performance.now() - started);
    started = performance.now();
    const result = await copies.write(work, path, bytes);
    times.waited.push(performance.now() - started);
    await plainSave(path, bytes);
    if ('written' in result) await copies.pruneIfSaved(result.written, path, [digestOf(bytes)]);
  }
  const line = (name, values) => `${name} median ${median(values).toFixed(2)} ms, p90 ${p90(values).toFixed(2)} ms`;
  console.log(`${label} × ${rounds}:`);
  console.log(`  ${line('save without the layer    ', times.plain)}`);
  console.log(`  ${line('save with the layer (all) ', times.layered)}`);
  console.log(`  ${line('  of it before the write  ', times.waited)}`);
}
rmSync(work, { recursive: true, force: true });
