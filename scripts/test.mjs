// The one test command: installs what the tests need, builds once, lints, type-checks, then runs every tier
// (unit, crash, consistency model, integration in a real extension host, tooling (packaging and the host harness,
// with one production build of its own), the workbench as `npm start` serves it) and sums their counts.
// Usage: node scripts/test.mjs [--only unit,crash,consistency,integration,tooling,workbench] [--crash-iterations N]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureDependencies } from './ensureDependencies.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    'crash-iterations': { type: 'string' },
  },
});
const only = values.only ? new Set(values.only.split(',')) : undefined;
const wants = (tier) => !only || only.has(tier);
if (values['crash-iterations']) process.env.CRASH_ITERATIONS = values['crash-iterations'];

const totals = { passed: 0, failed: 0, skipped: 0 };
const resultsDir = join(root, '.test-results');
rmSync(resultsDir, { recursive: true, force: true });
mkdirSync(resultsDir, { recursive: true });

function run(command, args, env = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  return result.status ?? 1;
}

/** A quality check (build, lint, types) counts as one test. */
function check(label, command, args) {
  console.log(`\n=== ${label}: ${[command, ...args].join(' ')}`);
  const status = run(command, args);
  if (status === 0) totals.passed += 1;
  else {
    totals.failed += 1;
    console.log(`*** ${label} failed (exit ${status})`);
  }
  return status === 0;
}

/** A mocha tier; its counts come from the counting reporter's results file. */
function mochaTier(tier, globs, timeoutMs) {
  if (!wants(tier)) return;
  const present = globs.filter((glob) => existsSync(join(root, glob.split('/**')[0])));
  if (present.length === 0) return;
  console.log(`\n=== ${tier} tests`);
  const resultsFile = join(resultsDir, `${tier}.json`);
  const status = run(
    process.execPath,
    [
      join(root, 'node_modules/mocha/bin/mocha.js'),
      '--ui',
      'tdd',
      '--require',
      'tsx/cjs',
      '--reporter',
      join(root, 'test/support/countingReporter.cjs'),
      '--timeout',
      String(timeoutMs),
      ...present,
    ],
    { CS_RESULTS_FILE: resultsFile },
  );
  addResults(tier, resultsFile, status);
}

function addResults(tier, resultsFile, status) {
  if (!existsSync(resultsFile)) {
    console.log(`*** ${tier}: no results were reported (exit ${status})`);
    totals.failed += 1;
    return;
  }
  const counts = JSON.parse(readFileSync(resultsFile, 'utf8'));
  totals.passed += counts.passed;
  totals.failed += counts.failed;
  totals.skipped += counts.skipped;
  if (status !== 0 && counts.failed === 0) {
    console.log(`*** ${tier}: exited ${status} with no failed test`);
    totals.failed += 1;
  }
}

if (!ensureDependencies(root)) {
  console.log('*** npm install failed');
  process.exit(1);
}
const built = check('build', process.execPath, ['esbuild.mjs']);
if (!only) {
  check('lint', process.execPath, ['node_modules/@biomejs/biome/bin/biome', 'check', '.']);
  check('typecheck', process.execPath, ['node_modules/typescript/bin/tsc', '--noEmit', '-p', '.']);
  // What runs in the host against @types/vscode and @types/node of the oldest release engines.vscode admits.
  check('typecheck (engine 1.82, Node 18)', process.execPath, [
    'node_modules/typescript/bin/tsc',
    '--noEmit',
    '-p',
    'tsconfig.engine.json',
  ]);
}
if (built) {
  mochaTier('unit', ['test/unit/**/*.test.ts'], 20_000);
  mochaTier('crash', ['test/crash/**/*.test.ts'], 600_000);
  mochaTier('consistency', ['test/consistency/**/*.test.ts'], 120_000);
  if (wants('integration') && existsSync(join(root, 'test/integration/runTest.ts'))) {
    console.log('\n=== integration tests (real VS Code extension host)');
    const resultsFile = join(resultsDir, 'integration.json');
    // The development build above is the one the host loads: the runner must not build again.
    const status = run(process.execPath, ['--import', 'tsx', 'test/integration/runTest.ts'], {
      CS_RESULTS_FILE: resultsFile,
      CS_SKIP_BUILD: '1',
    });
    addResults('integration', resultsFile, status);
  }
  // After the integration step, which installs the host, so the harness's code-server test runs instead of skipping.
  mochaTier('tooling', ['test/tooling/**/*.test.ts'], 180_000);
  // The workbench exactly as `npm start` serves it (the tier installs the host itself when run alone), with its
  // notification toasts, in headless Chromium.
  mochaTier('workbench', ['test/workbench/**/*.test.ts'], 120_000);
}

console.log(`\n${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(totals.failed > 0 ? 1 : 0);
