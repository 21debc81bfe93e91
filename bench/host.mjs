// Host benchmark: the orphan model in the real extension host (code-server, driven by headless Chromium, as the
// integration tests run). For each workspace size (a third of the files under node_modules) it prints the start-up
// walk with the listing cache of the previous walk and, beside it, the cold full scan (every folder read: Rescan,
// a first-ever start-up), the host's RSS, the rescans and extra host CPU of a build's storm (2,000 hashed bundles
// `dist/main.<n>.js` in 20 bursts of 100, 1 s apart) against the same storm under names no rule reads, and the
// orphan-detection latency (a real orphan written until onDidChangeOrphans lists it). bench/hostDriver.cjs measures
// inside the host.
// Usage: node bench/host.mjs [--sizes 10k,100k,300k,1m] [--rounds N] [--latency N] [--extension DIR] [--skip-build]
//   [--generate-only]
//   --extension: another build of the extension to measure (a folder with package.json and dist/extension.js).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CHROMIUM_ARGS, startCodeServer } from '../scripts/host/codeServer.mjs';
import { ensureHost } from '../scripts/host/ensureHost.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10k,100k,300k' },
    rounds: { type: 'string', default: '4' },
    latency: { type: 'string', default: '10' },
    scans: { type: 'string', default: '3' },
    extension: { type: 'string', default: root },
    'skip-build': { type: 'boolean', default: false },
    'generate-only': { type: 'boolean', default: false },
  },
});
const sizes = values.sizes
  .split(',')
  .map((size) => Math.round(Number.parseFloat(size) * ({ k: 1e3, m: 1e6 }[size.slice(-1).toLowerCase()] ?? 1)));
const extension = resolve(values.extension);
const say = (line) => console.log(line);
const FILES_PER_FOLDER = 20;
const ORPHANS = 10;
const LATENCY_TARGETS = 50;

/**
 * A workspace of `files` files shaped like a real project, reused while its shape is unchanged: a third of the files
 * in nested node_modules (packages with lib/ folders and their own node_modules, two levels down), a tenth in a .git
 * (loose objects in 256 fan-out folders, refs, logs), a tenth in build output (`out/` with hashed bundles and maps,
 * folders per chunk), the rest in `src/` folders of FILES_PER_FOLDER.
 */
function ensureWorkspace(files) {
  const dir = join(tmpdir(), 'crash-safe-bench', 'host', String(files));
  const marker = join(dir, '..', `${files}.json`);
  const shape = JSON.stringify({ files, FILES_PER_FOLDER, ORPHANS, LATENCY_TARGETS, version: 2 });
  if (existsSync(marker) && readFileSync(marker, 'utf8') === shape) return dir;
  rmSync(dir, { recursive: true, force: true });
  rmSync(marker, { force: true });
  const started = Date.now();
  process.stdout.write(`Generating ${files.toLocaleString('en')} files in ${dir}… `);
  let written = 0;
  const file = (path) => {
    writeFileSync(path, '');
    written += 1;
  };
  /** Folders of FILES_PER_FOLDER files, two levels deep under `base`. */
  const fill = (base, count, nameOf) => {
    const folders = Math.ceil(count / FILES_PER_FOLDER);
    const fanout = Math.ceil(Math.sqrt(folders));
    for (let f = 0; f < folders; f++) {
      const folder = join(base, `p${Math.floor(f / fanout)}`, `m${f % fanout}`);
      mkdirSync(folder, { recursive: true });
      for (let i = 0; i < FILES_PER_FOLDER && f * FILES_PER_FOLDER + i < count; i++) file(join(folder, nameOf(i)));
    }
  };
  /** A package of about `count` files: package.json, index.js, lib/ chunks, and nested dependencies past 60 files. */
  const pkg = (base, count, depth) => {
    mkdirSync(join(base, 'lib'), { recursive: true });
    file(join(base, 'package.json'));
    file(join(base, 'index.js'));
    let left = count - 2;
    const nested = depth < 2 && left > 60 ? Math.floor(left / 2) : 0;
    const own = left - nested;
    for (let i = 0; i < own; i++) {
      const folder = join(base, 'lib', `part${Math.floor(i / FILES_PER_FOLDER)}`);
      if (i % FILES_PER_FOLDER === 0) mkdirSync(folder, { recursive: true });
      file(join(folder, i % 4 === 3 ? `chunk${i}.d.ts` : `chunk${i}.js`));
    }
    left = nested;
    for (let d = 0; left > 0; d++) {
      const size = Math.min(left, 40 + ((d * 37) % 80));
      pkg(join(base, 'node_modules', d % 3 ? `dep-${d}` : `@scope${d}`, d % 3 ? '' : 'inner'), size, depth + 1);
      left -= size;
    }
  };
  const underNodeModules = Math.floor(files / 3);
  for (let p = 0, left = underNodeModules; left > 0; p++) {
    const size = Math.min(left, 200 + ((p * 53) % 400));
    pkg(join(dir, 'node_modules', `package-${p}`), size, 0);
    left -= size;
  }
  // .git: loose objects (38 hex names in 256 folders), refs and logs; the walk skips it, the watcher sees HEAD.
  const gitFiles = Math.floor(files / 10);
  mkdirSync(join(dir, '.git', 'refs', 'heads'), { recursive: true });
  mkdirSync(join(dir, '.git', 'logs'), { recursive: true });
  writeFileSync(join(dir, '.git', 'HEAD'), 'ref: refs/heads/main\n');
  file(join(dir, '.git', 'refs', 'heads', 'main'));
  for (let i = 0; i < gitFiles - 2; i++) {
    const fan = (i % 256).toString(16).padStart(2, '0');
    if (i < 256) mkdirSync(join(dir, '.git', 'objects', fan), { recursive: true });
    file(join(dir, '.git', 'objects', fan, (i * 2654435761).toString(16).padStart(38, '0').slice(-38)));
  }
  written += 1;
  // Build output: hashed bundles and their maps, a folder per chunk group.
  const buildFiles = Math.floor(files / 10);
  fill(join(dir, 'out'), buildFiles, (i) => {
    const hash = ((i + 1) * 40503).toString(16).padStart(8, '0').slice(-8);
    return i % 2 ? `chunk-${i >> 1}.${hash}.js.map` : `chunk-${i >> 1}.${hash}.js`;
  });
  fill(join(dir, 'src'), files - written - ORPHANS * 2 - LATENCY_TARGETS, (i) => `file${i}.${i % 3 ? 'ts' : 'json'}`);
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
      new Promise((r) => setTimeout(() => r('timed out after 60 minutes'), 60 * 60_000)),
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
  const cached = r.startupWalkMs !== undefined;
  if (cached) {
    say(
      `  start-up walk      ${fmt(r.startupWalkMs).padStart(6)} ms (median of ${values.scans}; the listing cache of the previous walk: ${r.startupFoldersFromCache} folders from it, ${r.startupFoldersRead} read; cache ${r.listingCache}; ${r.orphansFoundCached} orphans)`,
    );
    say(`  its host CPU       ${fmt(r.startupWalkCpuMs).padStart(6)} ms (all threads)`);
  }
  say(
    `  ${cached ? 'cold full scan' : 'full scan     '}     ${fmt(r.fullScanMs).padStart(6)} ms (median of ${values.scans}${cached ? '; no cache: a first-ever start-up, and Rescan' : ''}; first scan done ${r.firstScanDoneMs} ms after activation)`,
  );
  say(
    `  its host CPU       ${fmt(r.fullScanCpuMs).padStart(6)} ms (all threads; load average ${loadavg()
      .map((load) => load.toFixed(1))
      .join(', ')} after the run)`,
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
  // The start-up walk every later start-up sees (an older build without the cache: its only full scan).
  const startup = r.startupWalkMs ?? r.fullScanMs;
  return { size, extra, latencyMax: latencies.at(-1), rss: r.rssMb.afterStorms, scan: startup, cold: r.fullScanMs };
}

if (values['generate-only']) {
  for (const size of sizes) ensureWorkspace(size);
  process.exit(0);
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
const smallest = rows[0];
const rssGrowth = largest.rss - smallest.rss;
const extraSpread = Math.max(...rows.map((row) => row.extra)) - Math.min(...rows.map((row) => row.extra));
const met = (ok) => (ok ? 'met    ' : 'MISSED ');
const at = (row) => row.size.toLocaleString('en');
say('\nTargets:');
say(
  `  ${met(rows.every((row) => row.scan <= 2_000))} full start-up scan ≤ 2 s at every size (with the previous walk's listing cache): ${rows.map((row) => fmt(row.scan)).join(', ')} ms; cold (no cache: first start-up, Rescan): ${rows.map((row) => fmt(row.cold)).join(', ')} ms`,
);
say(`  ${met(largest.extra <= 500)} extra host CPU of the storm at ${at(largest)} ≤ 0.5 s: ${fmt(largest.extra)} ms`);
say(`  ${met(extraSpread <= 250)} extra host CPU flat across sizes: spread ${fmt(extraSpread)} ms`);
say(
  `  ${met(rows.every((row) => row.latencyMax <= 500))} detection latency ≤ 500 ms at every size: max ${rows.map((row) => fmt(row.latencyMax)).join(', ')} ms`,
);
say(
  `  ${met(rssGrowth <= 100)} host RSS at ${at(largest)} ≤ 100 MB over ${at(smallest)}: ${rows.map((row) => fmt(row.rss)).join(', ')} MB (+${fmt(rssGrowth)} MB)`,
);
// Playwright and the server's pipes can keep the event loop alive after everything was stopped.
process.exit(0);
