// A VS Code "executable" for @vscode/test-electron's runTests on a machine with no internet: it takes the flags
// runTests passes, starts code-server (a real extension host), opens the workbench in headless Chromium, streams
// the extension host's output (mocha's included) to stdout and exits with the tests' exit code.
//
// Environment: CS_HOST_TIMEOUT_MS (default 1 200 000) fails a hung host; CS_HOST_VERBOSE=1 also prints
// code-server's and the page's own output (otherwise shown only when the run fails); CS_HOST_WORKSPACE_TRUST=1
// keeps workspace trust on (runTests always passes --disable-workspace-trust, which this launcher then overrides).
import { appendFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { format } from 'node:util';
import { CHROMIUM_ARGS, startCodeServer } from '../../../scripts/host/codeServer.mjs';
import { ensureHost } from '../../../scripts/host/ensureHost.mjs';

const EXIT_HOST_FAILED = 2;
const timeoutMs = Number(process.env.CS_HOST_TIMEOUT_MS ?? 20 * 60_000);
const verbose = process.env.CS_HOST_VERBOSE === '1';
const workspaceTrust = process.env.CS_HOST_WORKSPACE_TRUST === '1';
const say = (line) => process.stderr.write(`[code-host] ${line}\n`);

/** Value flags VS Code accepts as `--flag=value` or `--flag value`; every other flag is a switch. */
const VALUE_FLAGS = new Set([
  'extensionDevelopmentPath',
  'extensionTestsPath',
  'user-data-dir',
  'extensions-dir',
  'folder-uri',
  'locale',
  'log',
]);

/** Splits VS Code's command line into value flags (repeatable), switches and positionals. */
export function parseVSCodeArgs(argv) {
  const values = new Map();
  const switches = new Set();
  const positionals = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const equals = arg.indexOf('=');
    const name = arg.slice(2, equals === -1 ? undefined : equals);
    if (equals !== -1) addValue(values, name, arg.slice(equals + 1));
    else if (VALUE_FLAGS.has(name) && i + 1 < argv.length) addValue(values, name, argv[++i]);
    else switches.add(name);
  }
  return { values, switches, positionals };
}

function addValue(values, name, value) {
  const list = values.get(name) ?? [];
  list.push(value);
  values.set(name, list);
}

/** Keeps the last lines of noisy output (repeats folded), to show only when the run goes wrong. */
class Tail {
  constructor(limit = 80) {
    this.limit = limit;
    this.entries = [];
  }
  add(text) {
    for (const line of String(text).split('\n')) {
      if (line.length === 0) continue;
      const last = this.entries.at(-1);
      if (last?.line === line) last.count += 1;
      else this.entries.push({ line, count: 1 });
    }
    if (this.entries.length > this.limit) this.entries.splice(0, this.entries.length - this.limit);
  }
  print(title) {
    if (this.entries.length === 0) return;
    say(`${title} (last ${this.entries.length} lines):`);
    for (const { line, count } of this.entries) process.stderr.write(`  ${line}${count > 1 ? ` (×${count})` : ''}\n`);
  }
}

async function main() {
  const { values, switches, positionals } = parseVSCodeArgs(process.argv.slice(2));
  const developmentPaths = values.get('extensionDevelopmentPath') ?? [];
  const testsPath = values.get('extensionTestsPath')?.at(-1);
  const folder = positionals[0];
  if (developmentPaths.length === 0) throw new Error('--extensionDevelopmentPath is required');
  // Only the tests' end tells this launcher to exit; to just look at the extension, use scripts/host/codeServer.mjs.
  if (!testsPath) throw new Error('--extensionTestsPath is required');
  if (values.has('folder-uri')) throw new Error('--folder-uri is not supported; pass the folder path as an argument');
  // runTests always adds a profile; the server gets a fresh private one in a short temp path instead.
  const ignored = [...switches, ...['user-data-dir', 'extensions-dir', 'locale', 'log'].filter((n) => values.has(n))];
  if (verbose && ignored.length > 0) say(`ignoring ${ignored.map((n) => `--${n}`).join(' ')}`);

  const paths = await ensureHost({ log: say });
  const serverTail = new Tail();
  const workbenchTail = new Tail();
  const started = Date.now();
  const server = await startCodeServer({
    paths,
    // The tests need the smoke-test driver: it loads the development extension and its tests.
    smokeTestDriver: true,
    disableWorkspaceTrust: !workspaceTrust,
    onOutput: (chunk) => (verbose ? process.stderr.write(chunk) : serverTail.add(chunk)),
  });
  cleanups.push(() => server.stop());
  say(
    `code-server ${server.baseUrl} (pid ${server.pid}) ready in ${Date.now() - started} ms` +
      (workspaceTrust ? ' (workspace trust on)' : ''),
  );

  const { chromium } = await import('playwright-core');
  let browser;
  let exitCode = EXIT_HOST_FAILED;
  let timer;
  try {
    browser = await chromium.launch({ executablePath: paths.chromium, headless: true, args: CHROMIUM_ARGS });
    cleanups.unshift(() => browser.close());
    const page = await browser.newPage();
    let settle;
    const outcome = new Promise((resolveOutcome) => {
      settle = resolveOutcome;
    });
    await page.exposeFunction('codeAutomationLog', (type, args) => writeHostLog(type, args, workbenchTail));
    await page.exposeFunction('codeAutomationExit', (code) =>
      settle(Number.isInteger(code) ? { code } : { error: `the extension host sent exit code ${code}` }),
    );
    page.on('crash', () => settle({ error: 'the workbench page crashed' }));
    page.on('close', () => settle({ error: 'the workbench page closed' }));
    server.exited.then(({ code, signal }) =>
      settle({ error: `code-server exited during the run (${code ?? signal})` }),
    );
    timer = setTimeout(
      () => settle({ error: `no exit code from the extension host within ${timeoutMs / 1000} s (CS_HOST_TIMEOUT_MS)` }),
      timeoutMs,
    );
    // The page's console repeats the workbench log that codeAutomationLog already delivers.
    if (verbose) page.on('console', (message) => process.stderr.write(`[page ${message.type()}] ${message.text()}\n`));
    page.on('pageerror', (error) => workbenchTail.add(`[page error] ${error.message}`));
    const url = server.workbenchUrl({
      folder,
      extensionDevelopmentPath: developmentPaths,
      extensionTestsPath: testsPath,
    });
    if (verbose) say(`opening ${url}`);
    await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 60_000 });
    const result = await outcome;
    if (result.error) {
      say(result.error);
      serverTail.print('code-server output');
      workbenchTail.print('workbench log');
    } else {
      exitCode = result.code;
      if (exitCode !== 0 && !verbose) workbenchTail.print('workbench log');
    }
  } finally {
    clearTimeout(timer);
    await browser?.close().catch(() => {});
    await server.stop();
  }
  say(`extension host finished with exit code ${exitCode} after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return exitCode;
}

/** Same mark as test/integration/suite/environment.ts puts on mocha's output and hostLog() lines. */
const HOST_OUTPUT_MARK = '\u2063cs\u2063';

/**
 * The workbench's log arrives here as (level, printf-style args): the extension host's console (marked by the
 * in-host runner; mocha's reporter included) goes to stdout/stderr, the workbench's own chatter to `chatter`.
 */
function writeHostLog(type, args, chatter) {
  if (process.env.CS_HOST_RAW_LOG) appendFileSync(process.env.CS_HOST_RAW_LOG, `${JSON.stringify([type, args])}\n`);
  const text = format(...(Array.isArray(args) ? args : [args]));
  if (!text.includes(HOST_OUTPUT_MARK)) {
    if (verbose) process.stderr.write(`[workbench ${type}] ${text}\n`);
    else chatter.add(`[workbench ${type}] ${text}`);
    return;
  }
  const stream = type === 'error' || type === 'warn' ? process.stderr : process.stdout;
  stream.write(`${text.replaceAll(HOST_OUTPUT_MARK, '')}\n`);
}

// A signal skips main()'s finally, so the browser and the server's process group are stopped from here too.
const cleanups = [];
let stopping = false;

if (isMainModule(import.meta.url)) {
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      if (stopping) process.exit(130);
      stopping = true;
      say(`${signal}: stopping code-server and Chromium`);
      Promise.allSettled(cleanups.map((cleanup) => cleanup())).then(() => process.exit(130));
    });
  }
  main()
    .then((code) => process.exit(code))
    .catch((error) => {
      if (stopping) return; // The signal handler exits once everything is stopped.
      say(`failed: ${error.stack ?? error.message}`);
      process.exit(EXIT_HOST_FAILED);
    });
}

/** True when this file is the script node was started with (not imported). */
function isMainModule(moduleUrl) {
  try {
    return realpathSync(process.argv[1] ?? '') === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}
