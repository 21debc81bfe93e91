// Write benchmark: our durable write against write-file-atomic, atomically, steno, fs.writeFile and a raw floor,
// all measured in this run on this disk. Rounds interleave the peers so machine noise hits them alike.
// Run through `npm run bench` (tsx loads the TypeScript core).
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { open, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeFile as atomicallyWrite } from 'atomically';
import { Writer as StenoWriter } from 'steno';
import writeFileAtomicPeer from 'write-file-atomic';
import { CoalescingWriter } from '../src/core/json/coalescingWriter.ts';
import { writeFileAtomic } from '../src/core/write/atomicWrite.ts';

const work = join(dirname(fileURLToPath(import.meta.url)), '.work', 'write');
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });

async function rawFloor(path, data) {
  const temp = `${path}.floor-tmp`;
  const handle = await open(temp, 'wx', 0o600);
  await handle.write(data, 0, data.length, 0);
  await handle.sync();
  await handle.close();
  await rename(temp, path);
  const directory = await open(dirname(path), 'r');
  await directory.sync();
  await directory.close();
}

const stenoWriters = new Map();
function stenoWrite(path, data) {
  if (!stenoWriters.has(path)) stenoWriters.set(path, new StenoWriter(path));
  return stenoWriters.get(path).write(data);
}

// --compare FILE: another build's src/core/write/atomicWrite.ts as one more peer, for a before/after in one run.
const compareAt = process.argv.indexOf('--compare');
const compare =
  compareAt > 0
    ? (await import(pathToFileURL(resolvePath(process.argv[compareAt + 1])).href)).writeFileAtomic
    : undefined;

const peers = {
  'crash-safe (full)': (path, data) => writeFileAtomic(path, data),
  'raw floor': rawFloor,
  'write-file-atomic': (path, data) => writeFileAtomicPeer(path, data),
  atomically: (path, data) => atomicallyWrite(path, data),
  steno: stenoWrite,
  'fs.writeFile': (path, data) => writeFile(path, data),
  'crash-safe (fast)': (path, data) => writeFileAtomic(path, data, { durability: 'fast' }),
  ...(compare && { 'compared build (full)': (path, data) => compare(path, data) }),
};

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/**
 * Rounds of `writesPerRound` writes per peer, the peers in turn (every other round in reverse order, so none always
 * follows the same one). Besides each peer's median, the median over rounds of its time against the floor's in the
 * same round: load that comes and goes between rounds hits both sides of each ratio alike.
 */
async function sequential(label, size, rounds, writesPerRound) {
  const data = Buffer.alloc(size, 0x61);
  const names = Object.keys(peers);
  const samples = Object.fromEntries(names.map((name) => [name, []]));
  const perRound = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    const times = {};
    for (const name of round % 2 ? [...names].reverse() : names) {
      const path = join(work, `${name.replace(/\W+/g, '-')}-${size}.json`);
      const started = performance.now();
      for (let i = 0; i < writesPerRound; i++) await peers[name](path, data);
      times[name] = (performance.now() - started) / writesPerRound;
      samples[name].push(times[name]);
    }
    for (const name of names) perRound[name].push(times[name] / times['raw floor']);
  }
  const floor = median(samples['raw floor']);
  const ours = median(samples['crash-safe (full)']);
  console.log(`\n${label}: median ms per write over ${rounds} rounds of ${writesPerRound}`);
  console.log(`  ${''.padEnd(20)} ${'ms'.padStart(8)}      × floor   × ours   × floor, per round`);
  for (const [name, values] of Object.entries(samples)) {
    const m = median(values);
    console.log(
      `  ${name.padEnd(20)} ${m.toFixed(3).padStart(8)} ms   ${(m / floor).toFixed(2)}×     ${(m / ours).toFixed(2)}×    ${median(perRound[name]).toFixed(2)}×`,
    );
  }
  return {
    floorRatio: median(perRound['crash-safe (full)']),
    wfaRatio: median(perRound['write-file-atomic']),
  };
}

async function burst(updates) {
  const path = join(work, 'burst.json');
  const documentFor = (i) => `${JSON.stringify({ update: i, items: Array.from({ length: 64 }, (_, k) => k + i) })}\n`;
  console.log(`\nBurst: ${updates.toLocaleString('en')} updates to one document`);

  let started = performance.now();
  const writer = new CoalescingWriter((text) => writeFileAtomic(path, text));
  await Promise.all(Array.from({ length: updates }, (_, i) => writer.write(documentFor(i))));
  const ours = performance.now() - started;
  const lastOk = readFileSync(path, 'utf8') === documentFor(updates - 1);

  started = performance.now();
  const stenoPath = join(work, 'burst-steno.json');
  await Promise.all(Array.from({ length: updates }, (_, i) => stenoWrite(stenoPath, documentFor(i))));
  const steno = performance.now() - started;

  started = performance.now();
  const wfaPath = join(work, 'burst-wfa.json');
  for (let i = 0; i < updates; i++) await writeFileAtomicPeer(wfaPath, documentFor(i));
  const wfaAwaited = performance.now() - started;

  console.log(
    `  crash-safe coalescing, un-awaited    ${ours.toFixed(1).padStart(9)} ms   final content is the last update: ${lastOk}`,
  );
  console.log(`  steno, un-awaited (no fsync)         ${steno.toFixed(1).padStart(9)} ms`);
  console.log(`  write-file-atomic, awaiting each     ${wfaAwaited.toFixed(1).padStart(9)} ms`);
  console.log(`  → crash-safe is ${(wfaAwaited / ours).toFixed(0)}× faster than write-file-atomic awaiting each write`);
  return { speedup: wfaAwaited / ours, lastOk };
}

const quick = process.argv.includes('--quick');
const small = await sequential('4 KiB documents', 4096, quick ? 5 : 41, 10);
const large = await sequential('1 MiB documents', 1024 * 1024, quick ? 3 : 25, 4);
const burstResult = await burst(quick ? 1000 : 10_000);

const targets = [
  [`durable 4 KiB write ≤ 1.1× floor`, small.floorRatio <= 1.1, `${small.floorRatio.toFixed(2)}×`],
  [`durable 1 MiB write ≤ 1.1× floor`, large.floorRatio <= 1.1, `${large.floorRatio.toFixed(2)}×`],
  [
    `durable 4 KiB write ahead of write-file-atomic`,
    small.floorRatio < small.wfaRatio,
    `${small.floorRatio.toFixed(2)}× against ${small.wfaRatio.toFixed(2)}× floor`,
  ],
  [
    `durable 1 MiB write ahead of write-file-atomic`,
    large.floorRatio < large.wfaRatio,
    `${large.floorRatio.toFixed(2)}× against ${large.wfaRatio.toFixed(2)}× floor`,
  ],
  [
    `burst ≥ 20× faster than write-file-atomic awaited`,
    burstResult.speedup >= 20,
    `${burstResult.speedup.toFixed(0)}×`,
  ],
  [`burst ends with the last update`, burstResult.lastOk, String(burstResult.lastOk)],
];
console.log('\nTargets:');
for (const [label, met, figure] of targets) console.log(`  ${met ? 'met    ' : 'MISSED '} ${label}: ${figure}`);
rmSync(work, { recursive: true, force: true });
