// The in-host mocha runner: @vscode/test-electron's runTests (or our code-server launcher) loads this bundle in
// the extension host and awaits run(). It loads every bundled *.test.js beside it and writes the counts.
import { readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import Mocha from 'mocha';
import { HOST_OUTPUT_MARK, integrationEnvironment } from './environment';

/** Runs every integration test file in the host; rejects when any fails, so the host exits non-zero. */
export function run(): Promise<void> {
  return runTestsIn(__dirname);
}

/**
 * Runs every bundled *.test.js under `dir` (recursively) with mocha and writes the counts to CS_RESULTS_FILE;
 * rejects when any test fails. Each pass's index bundle (suite/, untrusted/) calls it with its own folder.
 */
export async function runTestsIn(dir: string): Promise<void> {
  const { resultsFile, grep } = integrationEnvironment();
  const files = testFiles(dir);
  if (files.length === 0) throw new Error(`no *.test.js files in ${dir}`);
  const mocha = new Mocha({
    ui: 'tdd',
    reporter: 'spec',
    color: false,
    timeout: 30_000,
    slow: 2_000,
    ...(grep ? { grep } : {}),
  });
  for (const file of files) mocha.addFile(file);
  const restoreReporter = markReporterOutput();
  try {
    const { failures, counts } = await new Promise<{ failures: number; counts: Record<string, number> }>((resolve) => {
      const runner = mocha.run((failures) => {
        const stats = runner.stats;
        resolve({
          failures,
          counts: { passed: stats?.passes ?? 0, failed: stats?.failures ?? 0, skipped: stats?.pending ?? 0 },
        });
      });
    });
    writeFileSync(resultsFile, JSON.stringify(counts));
    if (failures > 0) throw new Error(`${failures} integration test(s) failed`);
  } finally {
    restoreReporter();
  }
}

function testFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.test.js'))
    .sort()
    .map((name) => path.join(dir, name));
}

/** Prefixes the mark onto mocha's reporter output (keeping printf-style format strings working); returns the undo. */
function markReporterOutput(): () => void {
  // VS Code's extension host pins console's methods (assigning them is ignored), but mocha's reporters print
  // through this replaceable hook.
  const reporterLog = Mocha.reporters.Base.consoleLog;
  Mocha.reporters.Base.consoleLog = (...args: unknown[]) => {
    if (typeof args[0] === 'string') console.log(HOST_OUTPUT_MARK + args[0], ...args.slice(1));
    else console.log(HOST_OUTPUT_MARK, ...args);
  };
  return () => {
    Mocha.reporters.Base.consoleLog = reporterLog;
  };
}
