// Starts and stops code-server (a real VS Code server with a Node extension host) on 127.0.0.1, for the
// integration tests, `npm start` and screenshots. Install it first with ensureHost() from ./ensureHost.mjs.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { withoutNpmVariables } from './childEnv.mjs';
import { hostPaths } from './ensureHost.mjs';

export const HOST = '127.0.0.1';
/** Preloaded into the server: ends its process group once the process that started it is gone. */
const PARENT_WATCH = fileURLToPath(new URL('./parentWatch.mjs', import.meta.url));
/** Chromium flags that keep a headless run offline, quiet and working as root. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Asks the kernel for a free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * The command line (after the Node binary) that starts code-server. Pure, so tests can check exactly what a launch
 * passes. `smokeTestDriver` adds `--vscode-option enable-smoke-test-driver`: only the integration tests want it
 * (it makes the workbench load an `extensionDevelopmentPath` and report to `codeAutomationLog`, and it hides
 * every notification toast), so it is off unless asked for.
 */
export function codeServerArgs({
  paths,
  port,
  configFile,
  dirs,
  disableWorkspaceTrust = true,
  smokeTestDriver = false,
  extraArgs = [],
}) {
  return [
    paths.codeServerEntry,
    '--bind-addr',
    `${HOST}:${port}`,
    '--auth',
    'none',
    '--config',
    configFile,
    '--disable-telemetry',
    '--disable-update-check',
    ...(disableWorkspaceTrust ? ['--disable-workspace-trust'] : []),
    '--user-data-dir',
    dirs.userData,
    '--extensions-dir',
    dirs.extensions,
    ...(smokeTestDriver ? ['--vscode-option', 'enable-smoke-test-driver'] : []),
    ...extraArgs,
  ];
}

/** The command line (after the Node binary) that installs a .vsix into the profile's extensions folder. */
export function installExtensionArgs({ paths, configFile, dirs, vsix }) {
  return [
    paths.codeServerEntry,
    '--config',
    configFile,
    '--user-data-dir',
    dirs.userData,
    '--extensions-dir',
    dirs.extensions,
    '--install-extension',
    resolve(vsix),
  ];
}

/**
 * Starts code-server with a private profile (user data, extensions, XDG dirs, TMPDIR) in a short temp folder,
 * and resolves once /healthz answers 200. `onOutput(chunk, stream)` receives the server's stdout/stderr;
 * `disableWorkspaceTrust: false` keeps workspace trust on (for untrusted-workspace checks);
 * `smokeTestDriver: true` is for the integration tests only (see codeServerArgs); `extensions` are .vsix files
 * installed into the private profile before the server starts; `userSettings` is written to the profile's
 * `User/settings.json`. The server (and its extension host) stops by itself when this process dies, even by
 * SIGKILL, unless `watchParent: false`. `displayLanguage` (e.g. `de`) starts the workbench in that language; see
 * displayLanguageFiles().
 */
export async function startCodeServer({
  paths = hostPaths(),
  port,
  env = process.env,
  onOutput = () => {},
  healthTimeoutMs = 60_000,
  disableWorkspaceTrust = true,
  smokeTestDriver = false,
  extensions = [],
  userSettings,
  watchParent = true,
  displayLanguage,
  extraArgs = [],
} = {}) {
  // Short paths: the server puts unix sockets in the user data dir, and those have a ~107-byte limit.
  const profileDir = realpathSync(mkdtempSync(join(tmpdir(), 'cs-host-')));
  const dirs = {
    profileDir,
    userData: join(profileDir, 'ud'),
    extensions: join(profileDir, 'ext'),
    config: join(profileDir, 'config'),
    data: join(profileDir, 'data'),
    tmp: join(profileDir, 'tmp'),
  };
  for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true });
  const configFile = join(profileDir, 'config.yaml');
  writeFileSync(configFile, 'auth: none\ncert: false\n');
  if (userSettings) {
    mkdirSync(join(dirs.userData, 'User'), { recursive: true });
    writeFileSync(join(dirs.userData, 'User', 'settings.json'), `${JSON.stringify(userSettings, null, 2)}\n`);
  }
  if (displayLanguage) displayLanguageFiles(dirs, displayLanguage);
  const childEnv = serverEnv(env, dirs);
  try {
    for (const vsix of extensions) installExtension({ paths, configFile, dirs, vsix, env: childEnv });
  } catch (error) {
    rmSync(profileDir, { recursive: true, force: true });
    throw error;
  }

  const chosenPort = port ?? (await freePort());
  const args = codeServerArgs({
    paths,
    port: chosenPort,
    configFile,
    dirs,
    disableWorkspaceTrust,
    smokeTestDriver,
    extraArgs: displayLanguage ? ['--locale', displayLanguage, ...extraArgs] : extraArgs,
  });
  const nodeArgs = watchParent ? ['--import', pathToFileURL(PARENT_WATCH).href] : [];
  const child = spawn(paths.nodeBinary, [...nodeArgs, ...args], {
    env: watchParent
      ? { ...childEnv, CS_HOST_PARENT_PID: String(process.pid), CS_HOST_PROFILE_DIR: profileDir }
      : childEnv,
    // Its own process group, so stop() also ends the extension host and every other child.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (chunk) => onOutput(chunk, 'stdout'));
  child.stderr.on('data', (chunk) => onOutput(chunk, 'stderr'));
  const exited = new Promise((resolveExit) => {
    child.on('exit', (code, signal) => resolveExit({ code, signal }));
    child.on('error', (error) => resolveExit({ code: null, signal: null, error }));
  });

  const baseUrl = `http://${HOST}:${chosenPort}`;
  const server = {
    port: chosenPort,
    baseUrl,
    pid: child.pid,
    /** The command line the server was started with (after the Node binary and its preload). */
    args,
    dirs,
    exited,
    /** The workbench URL that opens `folder` with the development extension (and optionally its tests). */
    workbenchUrl: (options = {}) => {
      const development = [options.extensionDevelopmentPath ?? []].flat().length > 0 || options.extensionTestsPath;
      if (development && !smokeTestDriver) {
        // Without the driver the workbench silently ignores the payload: fail loudly instead.
        throw new Error(
          'extensionDevelopmentPath/extensionTestsPath need startCodeServer({ smokeTestDriver: true }); ' +
            'to use the extension like a user, install its .vsix with { extensions: [vsix] } instead',
        );
      }
      return workbenchUrl(baseUrl, options);
    },
    /** Stops the whole process group and removes the private profile. */
    stop: () => stopProcessGroup(child, exited).finally(() => rmSync(profileDir, { recursive: true, force: true })),
  };
  try {
    await waitForHealth(baseUrl, exited, healthTimeoutMs);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

/**
 * Lets `--locale LANGUAGE` take effect without a language pack from the marketplace (there is no internet): VS Code
 * only switches to a language listed in the profile's languagepacks.json, which code-server writes when a pack is
 * installed from its UI (coder/code-server#3372). This writes the entry such an install would, pointing at an empty
 * translation of VS Code itself: the workbench stays English, and every extension shows its own bundle for that
 * language (`l10n/bundle.l10n.<language>.json`, `package.nls.<language>.json`), as for a user with the real pack.
 */
export function displayLanguageFiles(dirs, language) {
  const translations = join(dirs.profileDir, `vscode.${language}.i18n.json`);
  writeFileSync(translations, JSON.stringify({ version: '1.0.0', contents: {} }));
  const packs = {
    [language]: {
      hash: `empty-${language}`,
      extensions: [
        { extensionIdentifier: { id: `crash-safe-state.empty-language-pack-${language}` }, version: '0.0.0' },
      ],
      translations: { vscode: translations },
      label: language,
    },
  };
  writeFileSync(join(dirs.userData, 'languagepacks.json'), JSON.stringify(packs, null, 2));
}

/**
 * Builds `<baseUrl>/?folder=…&payload=…`; the payload points the workbench at the development extension
 * folders and the tests entry as vscode-remote URIs on this server.
 */
export function workbenchUrl(baseUrl, { folder, extensionDevelopmentPath = [], extensionTestsPath } = {}) {
  const authority = new URL(baseUrl).host;
  const remote = (path) => `vscode-remote://${authority}${encodePath(resolve(path))}`;
  const developmentPaths = Array.isArray(extensionDevelopmentPath)
    ? extensionDevelopmentPath
    : [extensionDevelopmentPath];
  const payload = developmentPaths.map((path) => ['extensionDevelopmentPath', remote(path)]);
  if (extensionTestsPath) payload.push(['extensionTestsPath', remote(extensionTestsPath)]);
  const query = new URLSearchParams();
  if (folder) query.set('folder', resolve(folder));
  if (payload.length > 0) query.set('payload', JSON.stringify(payload));
  return `${baseUrl}/?${query.toString()}`;
}

/** Installs one .vsix with code-server's own `--install-extension` (works offline); throws if it fails. */
function installExtension({ paths, configFile, dirs, vsix, env }) {
  const result = spawnSync(paths.nodeBinary, installExtensionArgs({ paths, configFile, dirs, vsix }), {
    env,
    encoding: 'utf8',
    timeout: 120_000,
  });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim();
  if (result.status !== 0 || !/successfully installed/i.test(output)) {
    throw new Error(
      `code-server --install-extension ${vsix} failed (exit ${result.status ?? result.signal}): ${output}`,
    );
  }
}

function encodePath(path) {
  return path.split('/').map(encodeURIComponent).join('/');
}

function serverEnv(env, dirs) {
  const clean = {};
  for (const [key, value] of Object.entries(withoutNpmVariables(env))) {
    // Variables of an enclosing VS Code (its terminal or its own test run) would confuse this server.
    if (key.startsWith('VSCODE_') || key === 'ELECTRON_RUN_AS_NODE') continue;
    clean[key] = value;
  }
  return { ...clean, XDG_CONFIG_HOME: dirs.config, XDG_DATA_HOME: dirs.data, TMPDIR: dirs.tmp };
}

async function waitForHealth(baseUrl, exited, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let early;
  exited.then((result) => {
    early = result;
  });
  while (Date.now() < deadline) {
    if (early) {
      throw new Error(`code-server exited before it was ready (exit ${early.code ?? early.signal ?? early.error})`);
    }
    try {
      const response = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(2000) });
      if (response.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await delay(200);
  }
  throw new Error(`code-server did not answer ${baseUrl}/healthz within ${timeoutMs / 1000} s`);
}

async function stopProcessGroup(child, exited) {
  const signalGroup = (signal) => {
    try {
      process.kill(-child.pid, signal);
      return true;
    } catch {
      return false; // The group is gone already.
    }
  };
  if (!signalGroup('SIGTERM')) return;
  const timedOut = Symbol('timeout');
  if ((await Promise.race([exited, delay(5000, timedOut)])) === timedOut) signalGroup('SIGKILL');
  // The server may exit first while its extension host still winds down; the group must end with it.
  for (let attempt = 0; attempt < 50 && groupAlive(child.pid); attempt++) await delay(100);
  if (groupAlive(child.pid)) signalGroup('SIGKILL');
}

function groupAlive(pgid) {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}
