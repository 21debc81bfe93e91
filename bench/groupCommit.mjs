// Group-commit benchmark: one 3-file group commit against 3 independent durable writes of the same files, measured
// in this run on this disk, rounds interleaved (each starting one contender later) so machine noise hits all alike.
// Target: the group ≤ 1.5× the writes.
// Run through `npm run bench` (tsx loads the TypeScript core), or `node --import tsx bench/groupCommit.mjs [--quick]`.
// --compare FILE: another build's src/core/groups/groupCommit.ts as one more contender, for a before/after in one run
// (both builds in this process, rounds interleaved).
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { commitGroup } from '../src/core/groups/groupCommit.ts';
import { writeFileAtomic } from '../src/core/write/atomicWrite.ts';

const work = join(dirname(fileURLToPath(import.meta.url)), '.work', 'group');
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });

const NAMES = ['a.json', 'b.json', 'c.json'];

const compareAt = process.argv.indexOf('--compare');
const compare =
  compareAt > 0 ? (await import(pathToFileURL(resolvePath(process.argv[compareAt + 1])).href)).commitGroup : undefined;

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

function documentOf(size, round) {
  const head = `{"round":${round},"pad":"`;
  return `${head}${'x'.repeat(Math.max(0, size - head.length - 3))}"}\n`;
}

const contenders = {
  '3 durable writes, one after another': async (folder, data) => {
    for (const name of NAMES) await writeFileAtomic(join(folder, name), data);
  },
  '3 durable writes, concurrently': async (folder, data) => {
    await Promise.all(NAMES.map((name) => writeFileAtomic(join(folder, name), data)));
  },
  'group commit of 3 files': async (folder, data) => {
    await commitGroup(NAMES.map((name) => ({ path: join(folder, name), data })));
  },
  ...(compare && {
    'group commit of 3 files, compared build': (folder, data) =>
      compare(NAMES.map((name) => ({ path: join(folder, name), data }))),
  }),
  // For scale only: the cross-process lock's share (a group commit always takes it).
  'group commit of 3 files, lock not taken': async (folder, data) => {
    await commitGroup(
      NAMES.map((name) => ({ path: join(folder, name), data })),
      { lock: false },
    );
  },
};

async function measure(label, size, rounds, commitsPerRound) {
  const samples = Object.fromEntries(Object.keys(contenders).map((name) => [name, []]));
  const folders = Object.fromEntries(
    Object.keys(contenders).map((name) => {
      const folder = join(work, `${name.replace(/\W+/g, '-')}-${size}`);
      mkdirSync(folder, { recursive: true });
      return [name, folder];
    }),
  );
  const order = Object.entries(contenders);
  for (let round = 0; round < rounds; round++) {
    // Each round starts one contender later, so none always follows the one before it in the list (whose writes the
    // disk may still be finishing) and noise lands on all alike.
    for (const [name, run] of [...order.slice(round % order.length), ...order.slice(0, round % order.length)]) {
      const started = performance.now();
      for (let i = 0; i < commitsPerRound; i++) await run(folders[name], documentOf(size, round * commitsPerRound + i));
      samples[name].push((performance.now() - started) / commitsPerRound);
    }
  }
  const writes = samples['3 durable writes, one after another'];
  const baseline = median(writes);
  console.log(`\n${label}: median ms per 3 files over ${rounds} rounds of ${commitsPerRound}`);
  for (const [name, values] of Object.entries(samples)) {
    const m = median(values);
    // Each round's own ratio too: paired rounds cancel the machine's drift between rounds.
    const paired = median(values.map((value, round) => value / writes[round]));
    console.log(
      `  ${name.padEnd(40)} ${m.toFixed(3).padStart(8)} ms   ${(m / baseline).toFixed(2)}× the 3 writes (per round ${paired.toFixed(2)}×)`,
    );
  }
  const ours = samples['group commit of 3 files'];
  const other = samples['group commit of 3 files, compared build'];
  if (other) {
    const against = median(ours.map((value, round) => value / other[round]));
    console.log(`  this build against the compared build, per round: ${against.toFixed(3)}×`);
  }
  return median(ours.map((value, round) => value / writes[round]));
}

const quick = process.argv.includes('--quick');
const small = await measure('4 KiB documents', 4096, quick ? 5 : 41, 10);
const large = await measure('256 KiB documents', 256 * 1024, quick ? 3 : 21, 4);

console.log('\nTargets:');
for (const [label, ratio] of [
  ['group commit of 3 × 4 KiB ≤ 1.5× three durable writes', small],
  ['group commit of 3 × 256 KiB ≤ 1.5× three durable writes', large],
]) {
  console.log(`  ${ratio <= 1.5 ? 'met    ' : 'MISSED '} ${label}: ${ratio.toFixed(2)}× (median of per-round ratios)`);
}
rmSync(work, { recursive: true, force: true });
