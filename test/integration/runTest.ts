// Integration tests in a real VS Code extension host, through @vscode/test-electron's runTests.
// By default (no internet) the "VS Code executable" is our launcher around code-server and headless Chromium;
// CRASH_SAFE_HOST=electron lets runTests download VS Code desktop instead (needs internet and a display).
// The in-host suite writes {"passed","failed","skipped"} to CS_RESULTS_FILE; if the host never reports, it stays absent.
// Usage: node --import tsx test/integration/runTest.ts
import { spawnSync } from 'node:child_process';
import {
  accessSync,
  chmodSync,
  constants,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { runTests, TestRunFailedError } from '@vscode/test-electron';

const root = path.resolve(__dirname, '..', '..');
const launcher = path.join(__dirname, 'launcher', 'code-host');
const fixture = path.join(__dirname, 'fixtures', 'workspace');
const extensionTestsPath = path.join(root, 'out', 'integration', 'index.js');

type HostKind = 'code-server' | 'electron';

function hostKind(): HostKind {
  const kind = process.env.CRASH_SAFE_HOST ?? 'code-server';
  if (kind !== 'code-server' && kind !== 'electron') {
    throw new Error(`CRASH_SAFE_HOST must be "code-server" (default) or "electron", not "${kind}"`);
  }
  return kind;
}

async function main(): Promise<number> {
  const kind = hostKind();
  const resultsFile = path.resolve(process.env.CS_RESULTS_FILE ?? path.join(root, '.test-results', 'integration.json'));
  rmSync(resultsFile, { force: true });
  mkdirSync(path.dirname(resultsFile), { recursive: true });

  if (kind === 'code-server') {
    const { ensureHost } = await import('../../scripts/host/ensureHost.mjs');
    await ensureHost();
    ensureExecutable(launcher);
  }
  build();

  const scratch = realpathSync(mkdtempSync(path.join(tmpdir(), 'cs-it-')));
  const workspace = path.join(scratch, 'workspace');
  cpSync(fixture, workspace, { recursive: true });

  console.log(`[integration] host: ${kind}; workspace: ${workspace}`);
  let exitCode: number;
  try {
    exitCode = await runTests({
      ...(kind === 'code-server'
        ? { vscodeExecutablePath: launcher }
        : // The download goes to the git-ignored cache, not runTests' default .vscode-test/.
          { version: process.env.CRASH_SAFE_VSCODE_VERSION, cachePath: path.join(root, '.cache', 'vscode-test') }),
      extensionDevelopmentPath: root,
      extensionTestsPath,
      // Read by suite/environment.ts: runTests puts these in the launcher's environment, and code-server's
      // extension host inherits it.
      extensionTestsEnv: { CS_RESULTS_FILE: resultsFile, CS_TEST_WORKSPACE: workspace },
      // A private, short profile: nothing lands in the repo, and no extension but ours is loaded.
      launchArgs: [
        workspace,
        '--disable-extensions',
        `--user-data-dir=${path.join(scratch, 'ud')}`,
        `--extensions-dir=${path.join(scratch, 'ext')}`,
      ],
    });
  } catch (error) {
    if (!(error instanceof TestRunFailedError)) throw error;
    exitCode = error.code ?? 1;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return checkResults(resultsFile, exitCode);
}

/** The suite's own counts decide too: a host that exits 0 after failures, or never reports, still fails. */
function checkResults(resultsFile: string, exitCode: number): number {
  if (!existsSync(resultsFile)) {
    console.log(`[integration] the extension host reported no results (exit ${exitCode})`);
    return exitCode === 0 ? 1 : exitCode;
  }
  const counts = JSON.parse(readFileSync(resultsFile, 'utf8')) as { passed: number; failed: number; skipped: number };
  console.log(`[integration] in-host: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
  return exitCode === 0 && counts.failed > 0 ? 1 : exitCode;
}

/** Builds the extension and the in-host suite (CS_SKIP_BUILD=1 reuses the last build, as after `node esbuild.mjs`). */
function build(): void {
  if (process.env.CS_SKIP_BUILD === '1' && existsSync(extensionTestsPath)) return;
  const result = spawnSync(process.execPath, [path.join(root, 'esbuild.mjs')], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`node esbuild.mjs failed (exit ${result.status ?? result.signal})`);
  if (!existsSync(extensionTestsPath)) throw new Error(`the build did not produce ${extensionTestsPath}`);
}

/** A checkout or archive may drop the executable bit, and runTests spawns the launcher directly. */
function ensureExecutable(file: string): void {
  try {
    accessSync(file, constants.X_OK);
  } catch {
    chmodSync(file, 0o755);
  }
}

main()
  .then((code) => process.exit(code))
  .catch((error: unknown) => {
    console.error(`[integration] ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  });
