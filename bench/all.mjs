// `npm run bench`: every benchmark in one run, then every target of every benchmark in one list.
// Usage: node bench/all.mjs [--no-host] [--host-sizes 10k,1m]
// Each benchmark prints its own figures and its `Targets:` block as it runs; the list at the end gathers those blocks
// (with the load average before and after, since figures on a shared machine depend on it) and the exit code is 1
// when a target was missed or a benchmark failed.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    'no-host': { type: 'boolean', default: false },
    'host-sizes': { type: 'string', default: '10k,1m' },
  },
});

const node = (...args) => [process.execPath, ...args];
const benches = [
  { name: 'build', command: node('esbuild.mjs') },
  { name: 'writes', command: node('--import', 'tsx', 'bench/write.mjs') },
  // The scan's wall-time target is set where the walk, not Node's start-up, decides: a million files (bench/scan.mjs).
  { name: 'scan', command: node('bench/scan.mjs', '--files', '1000000', '--folders', '50000', '--orphans', '300') },
  { name: 'one folder of temps', command: node('bench/scan.mjs', '--temps', '100000') },
  { name: 'group commits', command: node('--import', 'tsx', 'bench/groupCommit.mjs') },
  ...(values['no-host']
    ? []
    : [{ name: 'host', command: node('bench/host.mjs', '--sizes', values['host-sizes'], '--skip-build') }]),
];

/** Runs one benchmark with its output shown as it comes; resolves to its exit code and its Targets lines. */
function run({ command }) {
  return new Promise((resolve) => {
    const child = spawn(command[0], command.slice(1), { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      text += chunk;
    });
    child.on('close', (code, signal) => {
      const block = text
        .split(/\nTargets:\n/)
        .slice(1)
        .join('\n');
      const targets = block.split('\n').filter((line) => /^\s+(met|MISSED)\s/.test(line));
      resolve({ code: code ?? (signal ? 1 : 0), targets });
    });
  });
}

/** Dirty and Writeback of /proc/meminfo, in kB (0 where there is none: not Linux). */
function unwrittenKb() {
  if (!existsSync('/proc/meminfo')) return 0;
  const info = readFileSync('/proc/meminfo', 'utf8');
  const kb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(info)?.[1] ?? 0);
  return kb('Dirty') + kb('Writeback');
}

/**
 * Writes out what the previous benchmark left in the page cache (a million-file tree made and removed leaves hundreds
 * of MB of metadata) before the next starts, so its fsyncs do not queue behind that write-back. Says how long it took.
 */
async function settleDisk() {
  const started = performance.now();
  const before = unwrittenKb();
  spawnSync('sync', { stdio: 'ignore' });
  for (let waited = 0; unwrittenKb() > 4096 && waited < 30_000; waited += 100) await delay(100);
  const ms = Math.round(performance.now() - started);
  console.log(
    `(disk settled in ${ms} ms: ${Math.round(before / 1024)} MB unwritten before, ${unwrittenKb()} kB after)`,
  );
}

const load = () =>
  loadavg()
    .map((value) => value.toFixed(1))
    .join(' ');
const started = new Date();
const loadBefore = load();
const results = [];
for (const bench of benches) {
  console.log(`\n=== ${bench.name}: ${bench.command.slice(1).join(' ')}`);
  if (bench.name !== 'build') await settleDisk();
  const result = await run(bench);
  results.push({ ...bench, ...result });
  if (bench.name === 'build' && result.code !== 0) break;
}

console.log(`\n=== All targets (${started.toISOString().slice(0, 16)} UTC; load average ${loadBefore} → ${load()})`);
let missed = 0;
let failed = 0;
for (const { name, code, targets } of results) {
  if (name === 'build') {
    if (code !== 0) failed += 1;
    continue;
  }
  console.log(`${name}${code === 0 ? '' : ` (exited with ${code})`}:`);
  if (code !== 0) failed += 1;
  if (targets.length === 0) console.log('  (printed no targets)');
  for (const line of targets) {
    if (/^\s+MISSED/.test(line)) missed += 1;
    console.log(line);
  }
}
const met = results.reduce((sum, result) => sum + result.targets.length, 0) - missed;
console.log(`\n${met} targets met, ${missed} missed${failed ? `, ${failed} benchmark(s) failed` : ''}`);
process.exitCode = missed > 0 || failed > 0 ? 1 : 0;
