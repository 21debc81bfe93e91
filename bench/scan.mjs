// Scan benchmark: `crash-safe scan` against `find ROOT -type f` with name tests for the same temp patterns, on a
// generated tree of 100,000 files in 5,000 folders holding 200 orphans (`npm run bench`: 1,000,000 in 50,000 with
// 300, where the wall-time target is judged). Runs alternate so noise hits both alike; figures are medians of warm runs. CPU time and peak RSS of each process come from GNU time (/usr/bin/time).
// Usage: node bench/scan.mjs [--files N] [--folders N] [--orphans N] [--runs N] [--cli PATH]   (build dist/cli.js first)
// `--temps N` runs the one-folder case instead: N temps (each beside its own valid target) in one folder, scanned
// once; prints wall time and peak RSS and checks every temp was judged (the bounded-opens target: 100,000 temps
// under 200 MB).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    // Another build of the CLI, e.g. to compare a change against dist/cli.js.
    cli: { type: 'string', default: join(here, '..', 'dist', 'cli.js') },
    files: { type: 'string', default: '100000' },
    folders: { type: 'string', default: '5000' },
    orphans: { type: 'string', default: '200' },
    runs: { type: 'string', default: '7' },
    temps: { type: 'string' },
  },
});
const FILES = Number(values.files);
const FOLDERS = Number(values.folders);
const ORPHANS = Number(values.orphans);
const RUNS = Number(values.runs);
const cli = values.cli;
// Outside the work tree: 100,000 files inside it would slow every tool that walks the repository.
const work = join(tmpdir(), 'crash-safe-bench', 'scan');
const tree = join(work, 'tree');
const marker = join(work, 'tree.json');

if (!existsSync(cli)) {
  console.error(`bench/scan.mjs: ${cli} is missing; run \`node esbuild.mjs\` first`);
  process.exit(1);
}

/** One orphan per kind in turn, each beside the target it names (the weak patterns need it). */
const ORPHAN_MAKERS = [
  (t) => `${t}.cs-4242-0-1-0123abcd.tmp`,
  (t) => `${t}.${3_000_000_000 + Math.floor(Math.random() * 1_000_000_000)}`,
  (t) =>
    `${t}.tmp-1712345678${Math.floor(Math.random() * 0xffffff)
      .toString(16)
      .padStart(6, '0')}`,
  (t) => `.${t}.tmp`,
  (t) => `${t}.vsctmp`,
  (t) => `${t}.tmp.0f8fad5b-d9cb-469f-a165-70867728950e`,
  (t) => `.${t}.9f86d081884c.tmp`,
];

/** Builds the tree once; a marker remembers its shape so later runs reuse it. */
function ensureTree() {
  const shape = JSON.stringify({ FILES, FOLDERS, ORPHANS });
  if (existsSync(marker) && readFileSync(marker, 'utf8') === shape) return;
  rmSync(work, { recursive: true, force: true });
  console.log(
    `Generating ${FILES.toLocaleString('en')} files in ${FOLDERS.toLocaleString('en')} folders (${ORPHANS} orphans)…`,
  );
  const perFolder = Math.floor(FILES / FOLDERS);
  const top = Math.ceil(Math.sqrt(FOLDERS));
  const orphanEvery = Math.floor(FOLDERS / ORPHANS);
  let made = 0;
  for (let f = 0; f < FOLDERS; f++) {
    const folder = join(tree, `pkg${Math.floor(f / top)}`, `mod${f % top}`);
    mkdirSync(folder, { recursive: true });
    const hasOrphan = f % orphanEvery === 0 && made < ORPHANS;
    const names = [];
    // Look-alikes that must never match: rotated logs, numbered backups, a user's draft.tmp.
    names.push('app.log', 'app.log.1', 'app.log.2', 'data.json.2', 'draft.tmp');
    for (let i = names.length; names.length < perFolder - (hasOrphan ? 1 : 0); i++)
      names.push(`file${i}.${i % 3 ? 'ts' : 'json'}`);
    for (const name of names) writeFileSync(join(folder, name), name.endsWith('.json') ? '{"ok":true}\n' : 'x\n');
    if (hasOrphan) {
      const name = ORPHAN_MAKERS[made % ORPHAN_MAKERS.length]('file6.json');
      writeFileSync(join(folder, name), '{"ok":tru');
      made += 1;
    }
  }
  writeFileSync(marker, shape);
}

const FIND_NAME_TESTS = [
  '*.cs-*-*-*-*.tmp',
  `*.[1-9]${'[0-9]'.repeat(7)}`,
  `*.[1-9]${'[0-9]'.repeat(8)}`,
  `*.[1-9]${'[0-9]'.repeat(9)}`,
  `*.tmp-${'[0-9]'.repeat(10)}${'[0-9a-f]'.repeat(6)}`,
  '.*.tmp',
  '*.vsctmp',
  '*.tmp.*',
];

function findArgs() {
  const names = FIND_NAME_TESTS.flatMap((pattern, i) => (i === 0 ? ['-name', pattern] : ['-o', '-name', pattern]));
  return [tree, '-type', 'f', '(', ...names, ')'];
}

const hasGnuTime = existsSync('/usr/bin/time');
/** Wall time (hrtime), and from GNU time, CPU seconds (user + sys) and peak RSS of one run. */
function timed(command, args) {
  const wrapped = hasGnuTime ? ['/usr/bin/time', ['-f', 'TIME %U %S %M', command, ...args]] : [command, args];
  const started = process.hrtime.bigint();
  const result = spawnSync(wrapped[0], wrapped[1], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  const figures = result.stderr.match(/TIME ([\d.]+) ([\d.]+) (\d+)/);
  return {
    ms,
    cpuMs: figures ? (Number(figures[1]) + Number(figures[2])) * 1000 : Number.NaN,
    rssMb: figures ? Number(figures[3]) / 1024 : Number.NaN,
    stdout: result.stdout,
  };
}

const median = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/** N temps beside N targets in one folder, built once (a marker remembers N). */
function ensureTempFolder(count) {
  const folder = join(tmpdir(), 'crash-safe-bench', 'temps');
  const shape = join(tmpdir(), 'crash-safe-bench', 'temps.json');
  if (existsSync(shape) && readFileSync(shape, 'utf8') === String(count)) return folder;
  rmSync(folder, { recursive: true, force: true });
  mkdirSync(folder, { recursive: true });
  console.log(`Generating ${count.toLocaleString('en')} temps and their targets in one folder…`);
  const old = new Date(Date.now() - 3_600_000);
  for (let i = 0; i < count; i++) {
    writeFileSync(join(folder, `t${i}.json`), `{"target":${i}}\n`);
    const temp = join(folder, `t${i}.json.cs-4242-0-1-0123abcd.tmp`);
    writeFileSync(temp, `{"temp":${i}}\n`);
    utimesSync(temp, old, old);
  }
  writeFileSync(shape, String(count));
  return folder;
}

if (values.temps !== undefined) {
  const count = Number(values.temps);
  const folder = ensureTempFolder(count);
  const run = timed(process.execPath, [cli, 'scan', folder, '--json']);
  const orphans = JSON.parse(run.stdout);
  const judged = orphans.filter((orphan) => orphan.targetState === 'ok' && orphan.validJson === true).length;
  console.log(`\nOne folder, ${count.toLocaleString('en')} temps (each with its own target): crash-safe scan --json`);
  console.log(
    `  wall ${(run.ms / 1000).toFixed(1)} s   cpu ${(run.cpuMs / 1000).toFixed(1)} s   peak RSS ${run.rssMb.toFixed(1)} MB`,
  );
  console.log(
    `  ${orphans.length.toLocaleString('en')} listed, ${judged.toLocaleString('en')} judged (target ok, temp valid JSON)`,
  );
  console.log('\nTargets:');
  console.log(`  ${judged === count ? 'met    ' : 'MISSED '} every temp judged: ${judged} of ${count}`);
  console.log(`  ${run.rssMb <= 200 ? 'met    ' : 'MISSED '} peak RSS ≤ 200 MB: ${run.rssMb.toFixed(1)} MB`);
  if (judged !== count || run.rssMb > 200) process.exitCode = 1;
  process.exit();
}

ensureTree();
const scanArgs = [cli, 'scan', tree, '--json'];

// Warm the page cache and check both tools agree on the orphans before timing anything.
const ours = JSON.parse(timed(process.execPath, scanArgs).stdout);
const found = timed('find', findArgs()).stdout.split('\n').filter(Boolean);
console.log(`crash-safe scan found ${ours.length} orphans; find's name tests matched ${found.length} files.`);
if (ours.length !== ORPHANS) {
  console.error(`*** expected ${ORPHANS} orphans`);
  process.exitCode = 1;
}

const samples = { scan: [], find: [], node: [] };
for (let run = 0; run < RUNS; run++) {
  samples.scan.push(timed(process.execPath, scanArgs));
  samples.find.push(timed('find', findArgs()));
  samples.node.push(timed(process.execPath, ['-e', '0']));
}
const stat = (runs, key, pick) => pick(runs.map((r) => r[key]));
const best = (xs) => Math.min(...xs);
const row = (label, runs) =>
  `  ${label.padEnd(24)} ${stat(runs, 'ms', median).toFixed(0).padStart(6)} ms (best ${stat(runs, 'ms', best).toFixed(0)})` +
  `   cpu ${stat(runs, 'cpuMs', median).toFixed(0).padStart(4)} ms   peak RSS ${stat(runs, 'rssMb', (xs) => Math.max(...xs)).toFixed(1)} MB`;
const ratio = stat(samples.scan, 'ms', median) / stat(samples.find, 'ms', median);
const bestRatio = stat(samples.scan, 'ms', best) / stat(samples.find, 'ms', best);
const cpuRatio = stat(samples.scan, 'cpuMs', median) / stat(samples.find, 'cpuMs', median);
const rss = stat(samples.scan, 'rssMb', (xs) => Math.max(...xs));
console.log(
  `\nScan: ${FILES.toLocaleString('en')} files, ${FOLDERS.toLocaleString('en')} folders, ${ORPHANS} orphans; median of ${RUNS} warm runs, alternating`,
);
console.log(row('crash-safe scan --json', samples.scan));
console.log(row('find -type f -name …', samples.find));
console.log(row('node -e 0 (start-up)', samples.node));
console.log(
  `  → crash-safe scan takes ${ratio.toFixed(2)}× find's wall time (best runs: ${bestRatio.toFixed(2)}×; CPU: ${cpuRatio.toFixed(2)}×)`,
);
// The wall-time target holds at a million files and more, where the walk decides. Below, a fixed ~150 ms (Node's
// start-up and the bundle's load) is a large share of find's whole run: the ratio is printed, not judged.
const AT_SCALE = 1_000_000;
const startup = stat(samples.node, 'ms', median);
if (FILES < AT_SCALE) {
  console.log(
    `  (wall-time target set at ${AT_SCALE.toLocaleString('en')} files: here Node's start-up alone is ${startup.toFixed(0)} of the scan's ${stat(samples.scan, 'ms', median).toFixed(0)} ms; run with --files ${AT_SCALE} --folders 50000 to judge it)`,
  );
}
console.log('\nTargets:');
if (FILES >= AT_SCALE)
  console.log(
    `  ${ratio <= 1.0 ? 'met    ' : 'MISSED '} wall time ≤ 1.0× find at ${FILES.toLocaleString('en')} files: ${ratio.toFixed(2)}× (median)`,
  );
console.log(`  ${rss <= 150 ? 'met    ' : 'MISSED '} peak RSS ≤ 150 MB: ${rss.toFixed(1)} MB`);
