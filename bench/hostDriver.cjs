// Runs inside the extension host for bench/host.mjs (loaded as the smoke-test driver's extensionTestsPath): measures
// the orphan model of whichever build of the extension the host loaded, and writes the figures to a JSON file.
// Plain CommonJS, so it needs no bundling and works with an old build too (one without diagnostics.orphans()).
const { spawn } = require('node:child_process');
const { mkdirSync, rmSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const vscode = require('vscode');

const EXTENSION_ID = 'crash-safe-state.crash-safe-state';
const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** Writes `count` files in `bursts` bursts, `gapMs` apart, from another process so its CPU is not the host's. */
function writeStorm(dir, nameOf, { bursts, perBurst, gapMs }) {
  // No names: as long, writing nothing (the host's own idle cost).
  if (!nameOf) return delay((bursts - 1) * gapMs);
  const script = `
    const { writeFileSync } = require('node:fs');
    const [dir, bursts, perBurst, gapMs, nameOf] = process.argv.slice(1);
    const name = new Function('n', 'return ' + nameOf);
    let burst = 0;
    const once = () => {
      for (let i = 0; i < +perBurst; i++) writeFileSync(dir + '/' + name(burst * +perBurst + i), 'x'.repeat(200));
      if (++burst < +bursts) setTimeout(once, +gapMs);
    };
    once();`;
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['-e', script, dir, String(bursts), String(perBurst), String(gapMs), nameOf],
      {
        env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
        stdio: 'ignore',
      },
    );
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`storm writer exited ${code}`))));
  });
}

exports.run = async function run() {
  const config = JSON.parse(process.env.CS_BENCH_CONFIG ?? '{}');
  const results = { rssMb: {} };
  try {
    const api = await vscode.extensions.getExtension(EXTENSION_ID).activate();
    const stats = () => api.diagnostics.orphans?.();
    let fired = 0;
    let latest = [];
    api.onDidChangeOrphans((orphans) => {
      fired += 1;
      latest = orphans;
    });
    const started = Date.now();
    while (api.diagnostics.statusBarText().includes('scanning')) {
      if (Date.now() - started > 10 * 60_000) throw new Error('the first scan did not end within 10 minutes');
      await delay(100);
    }
    results.firstScanDoneMs = Date.now() - started;

    const scans = [];
    const scanCpu = [];
    for (let i = 0; i < config.scans; i++) {
      const t = performance.now();
      const cpu = cpuMs();
      latest = await api.scan();
      scans.push(performance.now() - t);
      // The whole process: the host's thread and the walk's worker threads alike.
      scanCpu.push(cpuMs() - cpu);
    }
    results.fullScanMs = median(scans);
    results.fullScanCpuMs = median(scanCpu);
    results.orphansFound = latest.length;

    // The start-up walk (also a settings change's and the safety net's): unchanged folders come from the listing
    // cache the previous walk wrote. The scans above read every folder (Rescan), as a first-ever start-up does.
    if (api.diagnostics.startupWalk) {
      const walks = [];
      const walkCpu = [];
      const fromCache = [];
      const read = [];
      for (let i = 0; i < config.scans; i++) {
        const before = stats();
        const t = performance.now();
        const cpu = cpuMs();
        latest = await api.diagnostics.startupWalk();
        walks.push(performance.now() - t);
        walkCpu.push(cpuMs() - cpu);
        const after = stats();
        fromCache.push(after.foldersFromCache - before.foldersFromCache);
        read.push(after.foldersRead - before.foldersRead);
      }
      results.startupWalkMs = median(walks);
      results.startupWalkCpuMs = median(walkCpu);
      results.startupFoldersFromCache = median(fromCache);
      results.startupFoldersRead = median(read);
      results.listingCache = stats().listingCache;
      results.orphansFoundCached = latest.length;
    }
    results.rssMb.afterScans = process.memoryUsage().rss / 1048576;

    // The storms: the same files, under names the rules could take (`main.<n>.js` matched the old `*.[0-9]*` glob)
    // and under names nothing takes. The difference in host CPU is what the matching names cost.
    const dist = join(config.workspace, 'dist');
    const settleMs = Math.max(3_000, 3 * results.fullScanMs);
    const storms = { idle: '', 'dist/main-<n>.js': '"main-" + n + ".js"', 'dist/main.<n>.js': '"main." + n + ".js"' };
    results.storms = {};
    for (let round = 0; round < config.rounds; round++) {
      // The two storms swap places every round, so neither always follows the idle window.
      const [idle, plain, matching] = Object.entries(storms);
      for (const [label, nameOf] of round % 2 === 0 ? [idle, plain, matching] : [idle, matching, plain]) {
        rmSync(dist, { recursive: true, force: true });
        mkdirSync(dist);
        await delay(settleMs);
        const before = { cpu: cpuMs(), fired, stats: stats() };
        await writeStorm(dist, nameOf, config.storm);
        await delay(settleMs);
        const after = { cpu: cpuMs(), fired, stats: stats() };
        const delta = (key) => (after.stats && before.stats ? after.stats[key] - before.stats[key] : undefined);
        const row = {
          cpuMs: after.cpu - before.cpu,
          changes: after.fired - before.fired,
          fullWalks: delta('fullWalks'),
          subtreeWalks: delta('subtreeWalks'),
          folderListings: delta('folderListings'),
          events: delta('events'),
          eventMs: delta('eventMs'),
        };
        results.storms[label] = [...(results.storms[label] ?? []), row];
      }
    }
    rmSync(dist, { recursive: true, force: true });
    await delay(settleMs);
    results.rssMb.afterStorms = process.memoryUsage().rss / 1048576;

    // Detection latency: a real orphan (beside its existing target) until onDidChangeOrphans lists it.
    const latencies = [];
    for (let i = 0; i < config.latencySamples; i++) {
      const temp = join(config.workspace, 'lat', `t${i}.json.vsctmp`);
      const seen = new Promise((resolve) => {
        const listener = api.onDidChangeOrphans((orphans) => {
          if (orphans.some((orphan) => orphan.path === temp)) {
            listener.dispose();
            resolve(performance.now());
          }
        });
      });
      const t = performance.now();
      writeFileSync(temp, '{"torn":');
      const at = await Promise.race([seen, delay(30_000).then(() => undefined)]);
      latencies.push(at === undefined ? Number.POSITIVE_INFINITY : at - t);
      rmSync(temp, { force: true });
      await delay(Math.max(1_000, results.fullScanMs * 2));
    }
    results.latencyMs = latencies;
    results.model = stats();
  } catch (error) {
    results.error = error instanceof Error ? (error.stack ?? error.message) : String(error);
  }
  writeFileSync(config.resultsFile, JSON.stringify(results, null, 2));
};
