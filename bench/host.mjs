// Host benchmark: the orphan model in the real extension host (code-server, driven by headless Chromium, as the
// integration tests run). For each workspace size (a third of the files under node_modules) it prints the full scan
// time, the host's RSS, the rescans and extra host CPU of a build's storm (2,000 hashed bundles `dist/main.<n>.js`
// in 20 bursts of 100, 1 s apart) against the same storm under names no rule reads, and the orphan-detection
// latency (a real orphan written until onDidChangeOrphans lists it). bench/hostDriver.cjs measures inside the host.
// Usage: node bench/host.mjs [--sizes 10k,100k,300k] [--rounds N] [--latency N] [--extension DIR] [--skip-build]
//   --extension: another build of the extension to measure (a folder with package.json and dist/extension.js).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CHROMIUM_ARGS, startCodeServer } from '../scripts/host/codeServer.mjs';
import { ensureHost } from '../scripts/host/ensureHost.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10k,100k,300k' },
    rounds: { type: 'string', default: '2' },
    latency: { type: 'string', default: '10' },
    scans: { type: 'string', default: '3' },
    extension: { type: 'string', default: root },
    'skip-build': { type: 'boolean', default: false },
  },
});
const sizes = values.sizes
  .split(',')
  .map((size) => Math.round(Number.parseFloat(size) * (/k$/i.test(size) ? 1000 : 1)));
const extension = resolve(values.extension);
const say = (line) => console.log(line);
const FILES_PER_FOLDER = 20;
const ORPHANS = 10;
const LATENCY_TARGETS = 50;

/** A workspace of `files` files, a third under node_modules, reused while its shape is unchanged. */
function ensureWorkspace(files) {
  const dir = join(tmpdir(), 'crash-safe-bench', 'host', String(files));
  const marker = join(dir, '..', `${files}.json`);
  const shape = JSON.stringify({ files, FILES_PER_FOLDER, ORPHANS, LATENCY_TARGETS, version: 1 });
  if (existsSync(marker) && readFileSync(marker, 'utf8') === shape) return dir;
  rmSync(dir, { recursive: true, force: true });
  rmSync(marker, { force: true });
  const started = Date.now();
  process.stdout.write(`Generating ${files.toLocaleString('en')} files in ${dir}… `);
  const underNodeModules = Math.floor(files / 3);
  let written = 0;
  /** Folders of FILES_PER_FOLDER files, two levels deep under `base`. */
  const fill = (base, count, nameOf) => {
    const folders = Math.ceil(count / FILES_PER_FOLDER);
    const fanout = Math.ceil(Math.sqrt(folders));
    for (let f = 0; f < folders; f++) {
      const folder = join(base, `p${Math.floor(f / fanout)}`, `m${f % fanout}`);
      mkdirSync(folder, { recursive: true });
      for (let i = 0; i < FILES_PER_FOLDER && f * FILES_PER_FOLDER + i < count; i++) {
        writeFileSync(join(folder, nameOf(i)), '');
        written += 1;
      }
    }
  };
  fill(join(dir, 'node_modules'), underNodeModules, (i) => (i === 0 ? 'package.json' : `index${i}.js`));
  fill(
    join(dir, 'src'),
    files - underNodeModules - ORPHANS * 2 - LATENCY_TARGETS,
    (i) => `file${i}.${i % 3 ? 'ts' : 'json'}`,
  );
  // A few real orphans, so the model has targets to follow, and the targets the latency probe writes temps beside.
  mkdirSync(join(dir, 'state'), { recursive: true });
  for (let i = 0; i < ORPHANS; i++) {
    writeFileSync(join(dir, 'state', `s${i}.json`), '{"ok":true}\n');
    writeFileSync(join(dir, 'state', `s${i}.json.tmp.0123abcd${String(i).padStart(2, '0')}`), '{"ok":tr');
  }
  mkdirSync(join(dir, 'lat'), { recursive: true });
  for (let i = 0; i < LATENCY_TARGETS; i++) writeFileSync(join(dir, 'lat', `t${i}.json`), '{}\n');
  written += ORPHANS * 2 + LATENCY_TARGETS;
  writeFileSync(marker, shape);
  say(`${written.toLocaleString('en')} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return dir;
}

/** Opens `workspace` in code-server with the extension and the driver; resolves with the driver's figures. */
async function measure(paths, workspace) {
  rmSync(join(workspace, 'dist'), { recursive: true, force: true });
  const resultsFile = join(tmpdir(), 'crash-safe-bench', 'host', `results-${process.pid}.json`);
  rmSync(resultsFile, { force: true });
  const config = {
    workspace,
    resultsFile,
    scans: Number(values.scans),
    rounds: Number(values.rounds),
    latencySamples: Math.min(LATENCY_TARGETS, Number(values.latency)),
    storm: { bursts: 20, perBurst: 100, gapMs: 1_000 },
  };
  const output = [];
  const server = await startCodeServer({
    paths,
    smokeTestDriver: true,
    env: { ...process.env, CS_BENCH_CONFIG: JSON.stringify(config) },
    onOutput: (chunk) => output.push(String(chunk)),
  });
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: paths.chromium, headless: true, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage();
    let resolveExit;
    const exited = new Promise((resolveIt) => {
      resolveExit = resolveIt;
    });
    // The smoke-test driver reports through these two; the workbench's log is not needed here.
    await page.exposeFunction('codeAutomationExit', (code) => resolveExit(code));
    await page.exposeFunction('codeAutomationLog', () => undefined);
    page.on('crash', () => resolveExit('the workbench page crashed'));
    const url = server.workbenchUrl({
      folder: workspace,
      extensionDevelopmentPath: extension,
      extensionTestsPath: join(root, 'bench', 'hostDriver.cjs'),
    });
    await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 60_000 });
    const code = await Promise.race([
      exited,
      new Promise((r) => setTimeout(() => r('timed out after 20 minutes'), 20 * 60_000)),
    ]);
    if (!existsSync(resultsFile))
      throw new Error(`the driver wrote no figures (exit ${code})\n${output.join('').slice(-2000)}`);
    const results = JSON.parse(readFileSync(resultsFile, 'utf8'));
    if (results.error) throw new Error(`the driver failed: ${results.error}`);
    return results;
  } finally {
    await browser.close().catch(() => {});
    await server.stop();
    rmSync(resultsFile, { force: true });
  }
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const fmt = (value, digits = 0) => (value === undefined || Number.isNaN(value) ? '–' : value.toFixed(digits));
/** Rescans: walks the model counted (this build), else the change events a rescan fires (an older build). */
const rescansOf = (row) => (row.fullWalks === undefined ? row.changes : row.fullWalks);

function print(size, r) {
  const [plain, matching] = [r.storms['dist/main-<n>.js'], r.storms['dist/main.<n>.js']];
  const extra = mean(matching.map((row) => row.cpuMs)) - mean(plain.map((row) => row.cpuMs));
  const latencies = [...r.latencyMs].sort((a, b) => a - b);
  say(
    `\n${size.toLocaleString('en')} files (${Math.floor(size / 3).toLocaleString('en')} under node_modules), ${r.orphansFound} orphans`,
  );
  say(
    `  full scan          ${fmt(r.fullScanMs).padStart(6)} ms (median of ${values.scans}; first scan done ${r.firstScanDoneMs} ms after activation)`,
  );
  say(
    `  host RSS           ${fmt(r.rssMb.afterScans, 1).padStart(6)} MB after the scans, ${fmt(r.rssMb.afterStorms, 1)} MB after the storms`,
  );
  say('  storm of 2,000     rescans  subtree walks  listings  events   host CPU  model time');
  for (const [label, rows] of [
    ['(no files: idle)', r.storms.idle],
    ['dist/main-<n>.js', plain],
    ['dist/main.<n>.js', matching],
  ]) {
    const avg = (pick) => (rows.every((row) => pick(row) !== undefined) ? mean(rows.map(pick)) : undefined);
    say(
      `    ${label.padEnd(17)} ${fmt(avg(rescansOf)).padStart(6)} ${fmt(avg((row) => row.subtreeWalks)).padStart(14)} ${fmt(avg((row) => row.folderListings)).padStart(9)} ${fmt(avg((row) => row.events)).padStart(7)} ${fmt(avg((row) => row.cpuMs)).padStart(7)} ms ${fmt(avg((row) => row.eventMs)).padStart(7)} ms`,
    );
  }
  say(`    extra host CPU of the matching names: ${fmt(extra)} ms (mean of ${matching.length} rounds, alternating)`);
  say(
    `  detection latency  median ${fmt(latencies[latencies.length >> 1])} ms, max ${fmt(latencies.at(-1))} ms (${latencies.length} orphans)`,
  );
  return { size, extra, latencyMax: latencies.at(-1), rss: r.rssMb.afterStorms, scan: r.fullScanMs };
}

const paths = await ensureHost({ log: (line) => say(`[host] ${line}`) });
if (!values['skip-build'] && extension === root) {
  const build = spawnSync(process.execPath, [join(root, 'esbuild.mjs')], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
say(
  `Host benchmark of ${extension === root ? 'this build' : extension}; sizes ${sizes.map((s) => s.toLocaleString('en')).join(', ')}`,
);
const rows = [];
for (const size of sizes) {
  const workspace = ensureWorkspace(size);
  const started = Date.now();
  rows.push(print(size, await measure(paths, workspace)));
  say(`  (${((Date.now() - started) / 1000).toFixed(0)} s)`);
}

const largest = rows.at(-1);
const rssSpread = Math.max(...rows.map((row) => row.rss)) - Math.min(...rows.map((row) => row.rss));
const extraSpread = Math.max(...rows.map((row) => row.extra)) - Math.min(...rows.map((row) => row.extra));
const met = (ok) => (ok ? 'met    ' : 'MISSED ');
say('\nTargets:');
say(
  `  ${met(largest.extra <= 500)} extra host CPU at ${largest.size.toLocaleString('en')} ≤ 0.5 s: ${fmt(largest.extra)} ms`,
);
say(`  ${met(extraSpread <= 250)} extra host CPU flat across sizes: spread ${fmt(extraSpread)} ms`);
say(
  `  ${met(rows.every((row) => row.latencyMax <= 500))} detection latency ≤ 500 ms at every size: max ${rows.map((row) => fmt(row.latencyMax)).join(', ')} ms`,
);
say(
  `  ${met(rssSpread <= 50)} host RSS flat across sizes: ${rows.map((row) => fmt(row.rss)).join(', ')} MB (spread ${fmt(rssSpread)} MB)`,
);
// Playwright and the server's pipes can keep the event loop alive after everything was stopped.
process.exit(0);
