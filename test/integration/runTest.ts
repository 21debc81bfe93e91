// Integration tests in a real VS Code extension host, through @vscode/test-electron's runTests.
// By default (no internet) the "VS Code executable" is our launcher around code-server and headless Chromium;
// CRASH_SAFE_HOST=electron lets runTests download VS Code desktop instead (needs internet and a display).
// Two passes, each over its own copy of the fixture workspace: suite/ in a trusted workspace, and untrusted/ with
// workspace trust on (Restricted Mode; code-server only). Each pass's in-host runner writes its counts to its own
// file; their sum {"passed","failed","skipped"} goes to CS_RESULTS_FILE. A pass that never reports fails the run.
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
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { runTests, TestRunFailedError } from '@vscode/test-electron';

const root = path.resolve(__dirname, '..', '..');
const launcher = path.join(__dirname, 'launcher', 'code-host');
const fixture = path.join(__dirname, 'fixtures', 'workspace');

type HostKind = 'code-server' | 'electron';
type Counts = { passed: number; failed: number; skipped: number };

/** One run of the host over its own copy of the fixture workspace. */
interface Pass {
  name: string;
  /** The pass's in-host runner bundle (esbuild.mjs builds one out folder per pass). */
  extensionTestsPath: string;
  /** Keep workspace trust on, so the folder opens in Restricted Mode (code-server only, see below). */
  workspaceTrust: boolean;
}

const passes: Pass[] = [
  { name: 'trusted', extensionTestsPath: path.join(root, 'out', 'integration', 'index.js'), workspaceTrust: false },
  {
    name: 'untrusted',
    extensionTestsPath: path.join(root, 'out', 'integration-untrusted', 'index.js'),
    workspaceTrust: true,
  },
];

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

  const totals: Counts = { passed: 0, failed: 0, skipped: 0 };
  let exitCode = 0;
  for (const pass of passes) {
    // runTests always adds --disable-workspace-trust; only our launcher can be told to keep trust on.
    if (pass.workspaceTrust && kind !== 'code-server') {
      console.log(
        `[integration] ${pass.name} pass: not run with CRASH_SAFE_HOST=${kind} (runTests disables workspace trust)`,
      );
      continue;
    }
    const started = Date.now();
    const { code, counts } = await runPass(kind, pass);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    if (!counts) {
      console.log(
        `[integration] ${pass.name} pass: the extension host reported no results (exit ${code}, ${seconds} s)`,
      );
      exitCode ||= code === 0 ? 1 : code;
      continue;
    }
    console.log(
      `[integration] ${pass.name} pass: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped (${seconds} s)`,
    );
    for (const key of ['passed', 'failed', 'skipped'] as const) totals[key] += counts[key];
    // The suite's own counts decide too: a host that exits 0 after failures, or runs no test, still fails.
    const ranNothing = counts.passed + counts.failed + counts.skipped === 0;
    exitCode ||= code !== 0 ? code : counts.failed > 0 || ranNothing ? 1 : 0;
  }
  writeFileSync(resultsFile, JSON.stringify(totals));
  console.log(`[integration] in-host: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
  return exitCode;
}

/** Runs one pass in a fresh scratch folder (workspace copy, profile, results) and returns its exit code and counts. */
async function runPass(kind: HostKind, pass: Pass): Promise<{ code: number; counts: Counts | undefined }> {
  const scratch = realpathSync(mkdtempSync(path.join(tmpdir(), 'cs-it-')));
  const workspace = path.join(scratch, 'workspace');
  const passResults = path.join(scratch, 'results.json');
  cpSync(fixture, workspace, { recursive: true });
  console.log(`[integration] ${pass.name} pass; host: ${kind}; workspace: ${workspace}`);
  let code: number;
  try {
    code = await runTests({
      ...(kind === 'code-server'
        ? { vscodeExecutablePath: launcher }
        : // The download goes to the git-ignored cache, not runTests' default .vscode-test/.
          { version: process.env.CRASH_SAFE_VSCODE_VERSION, cachePath: path.join(root, '.cache', 'vscode-test') }),
      extensionDevelopmentPath: root,
      extensionTestsPath: pass.extensionTestsPath,
      // Read by suite/environment.ts: runTests puts these in the launcher's environment, and code-server's
      // extension host inherits it. CS_HOST_WORKSPACE_TRUST is for the launcher itself.
      extensionTestsEnv: {
        CS_RESULTS_FILE: passResults,
        CS_TEST_WORKSPACE: workspace,
        CS_HOST_WORKSPACE_TRUST: pass.workspaceTrust ? '1' : '0',
        ...(process.env.CS_INTEGRATION_GREP ? { CS_INTEGRATION_GREP: process.env.CS_INTEGRATION_GREP } : {}),
      },
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
    code = error.code ?? 1;
  }
  try {
    const counts = existsSync(passResults) ? (JSON.parse(readFileSync(passResults, 'utf8')) as Counts) : undefined;
    return { code, counts };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Builds the extension and the in-host suite (CS_SKIP_BUILD=1 reuses the last build, as after `node esbuild.mjs`). */
function build(): void {
  const entries = passes.map((pass) => pass.extensionTestsPath);
  if (process.env.CS_SKIP_BUILD === '1' && entries.every((entry) => existsSync(entry))) return;
  const result = spawnSync(process.execPath, [path.join(root, 'esbuild.mjs')], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`node esbuild.mjs failed (exit ${result.status ?? result.signal})`);
  const missing = entries.filter((entry) => !existsSync(entry));
  if (missing.length > 0) throw new Error(`the build did not produce ${missing.join(', ')}`);
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
