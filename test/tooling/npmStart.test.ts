// `npm start` must load the extension the way a user's VS Code does, with none of the test tooling: these pin the
// exact command lines and options its code-server path uses (scripts/start.mjs → host/userWorkbench.mjs).
import * as assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, sep } from 'node:path';
import { parse } from 'jsonc-parser';
import JSZip from 'jszip';
import { productionVsix } from './productionVsix';

type HostPaths = import('../../scripts/host/ensureHost.mjs', { with: { 'resolution-mode': 'import' }}).HostPaths;

const root = join(__dirname, '..', '..');
const paths: HostPaths = {
  cacheDir: '/cache',
  nodeDir: '/cache/node',
  nodeBinDir: '/cache/node/bin',
  nodeBinary: '/cache/node/bin/node',
  codeServerDir: '/cache/cs',
  codeServerEntry: '/cache/cs/out/node/entry.js',
  chromium: '/usr/bin/chromium',
  stampFile: '/cache/stamp.json',
};
const dirs = { userData: '/p/ud', extensions: '/p/ext' };

suite('npm start: no test tooling in the workbench it serves', () => {
  test('the server command line is exactly this, without the smoke-test driver', async () => {
    const { codeServerArgs } = await import('../../scripts/host/codeServer.mjs');
    const { userServerOptions } = await import('../../scripts/host/userWorkbench.mjs');
    const options = userServerOptions({ paths, vsix: '/s/crash-safe-state.vsix', env: {} });
    const args = codeServerArgs({ ...options, port: 4567, configFile: '/p/config.yaml', dirs });
    assert.deepEqual(args, [
      '/cache/cs/out/node/entry.js',
      '--bind-addr',
      '127.0.0.1:4567',
      '--auth',
      'none',
      '--config',
      '/p/config.yaml',
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--user-data-dir',
      '/p/ud',
      '--extensions-dir',
      '/p/ext',
    ]);
    assert.ok(!args.some((arg) => /smoke-test|vscode-option|extensionDevelopmentPath|extensionTestsPath/.test(arg)));
  });

  test('npm start installs the .vsix into the profile instead of loading a development extension', async () => {
    const { installExtensionArgs } = await import('../../scripts/host/codeServer.mjs');
    const { userServerOptions } = await import('../../scripts/host/userWorkbench.mjs');
    const options = userServerOptions({ paths, vsix: '/s/crash-safe-state.vsix', env: {} });
    assert.equal(options.smokeTestDriver, false);
    assert.deepEqual(options.extensions, ['/s/crash-safe-state.vsix']);
    assert.equal(options.extraArgs, undefined);
    assert.deepEqual(
      installExtensionArgs({ paths, configFile: '/p/config.yaml', dirs, vsix: '/s/crash-safe-state.vsix' }),
      [
        '/cache/cs/out/node/entry.js',
        '--config',
        '/p/config.yaml',
        '--user-data-dir',
        '/p/ud',
        '--extensions-dir',
        '/p/ext',
        '--install-extension',
        '/s/crash-safe-state.vsix',
      ],
    );
  });

  test('the URL npm start prints carries only the folder: no development or tests payload', async () => {
    const { workbenchUrl } = await import('../../scripts/host/codeServer.mjs');
    const { userWorkbenchUrl } = await import('../../scripts/host/userWorkbench.mjs');
    const server = { workbenchUrl: (options: object) => workbenchUrl('http://127.0.0.1:4567', options) };
    const url = new URL(userWorkbenchUrl(server as never, '/tmp/demo'));
    assert.deepEqual([...url.searchParams.keys()], ['folder']);
    assert.equal(url.searchParams.get('folder'), '/tmp/demo');
  });

  test('no test variable reaches the server npm start opens', async () => {
    const { userServerOptions } = await import('../../scripts/host/userWorkbench.mjs');
    const env = {
      PATH: '/bin',
      HOME: '/root',
      CS_TEST_WORKSPACE: '/ws',
      CS_RESULTS_FILE: '/r.json',
      CS_HOST_VERBOSE: '1',
      CS_INTEGRATION_GREP: 'x',
      CRASH_ITERATIONS: '5',
      CRASH_SAFE_HOST_CACHE: '/cache',
    };
    assert.deepEqual(userServerOptions({ paths, vsix: '/v.vsix', env }).env, {
      PATH: '/bin',
      HOME: '/root',
      CRASH_SAFE_HOST_CACHE: '/cache',
    });
  });

  test('startCodeServer leaves the smoke-test driver off unless asked, and the integration launcher asks', async () => {
    const { codeServerArgs } = await import('../../scripts/host/codeServer.mjs');
    const base = { paths, port: 1, configFile: '/c', dirs };
    assert.ok(!codeServerArgs(base).includes('enable-smoke-test-driver'));
    assert.deepEqual(codeServerArgs({ ...base, smokeTestDriver: true }).slice(-2), [
      '--vscode-option',
      'enable-smoke-test-driver',
    ]);
    const launcher = readFileSync(join(root, 'test/integration/launcher/launcher.mjs'), 'utf8');
    assert.match(launcher, /startCodeServer\(\{[^}]*smokeTestDriver: true/);
  });

  test('scripts/start.mjs serves code-server only through the user workbench', () => {
    const start = readFileSync(join(root, 'scripts/start.mjs'), 'utf8');
    assert.match(start, /startUserWorkbench\(/);
    assert.doesNotMatch(start, /startCodeServer|smokeTestDriver|enable-smoke-test-driver|CS_TEST|CS_RESULTS/);
  });

  test('the folder opens on its README, with no Chat side bar or AI onboarding', async () => {
    const { USER_SETTINGS } = await import('../../scripts/host/userWorkbench.mjs');
    assert.equal(USER_SETTINGS['workbench.startupEditor'], 'readme');
    assert.equal(USER_SETTINGS['workbench.secondarySideBar.defaultVisibility'], 'hidden');
    assert.equal(USER_SETTINGS['chat.disableAIFeatures'], true);
    assert.equal(USER_SETTINGS['workbench.welcomePage.experimentalOnboarding'], false);
    const demoSettings = parse(readFileSync(join(root, 'demo/.vscode/settings.json'), 'utf8'));
    assert.equal(demoSettings['workbench.startupEditor'], 'readme');
  });

  test('the .vsix is packaged with the same vsce flags as npm run package', async () => {
    const { VSCE_PACKAGE_ARGS } = await import('../../scripts/packageVsix.mjs');
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    assert.ok(pkg.scripts.package.endsWith(`vsce ${VSCE_PACKAGE_ARGS.join(' ')}`), pkg.scripts.package);
  });

  test('the .vsix is built in a staging folder outside the work tree, with production bundles', async function () {
    this.timeout(120_000);
    // The tier's one production build; its teardown checks that dispose() removes the staging folder.
    const built = await productionVsix();
    assert.ok(!built.stage.startsWith(`${root}${sep}`), built.stage);
    const zip = await JSZip.loadAsync(readFileSync(built.vsix));
    const manifest = JSON.parse(await zip.file('extension/package.json')!.async('string'));
    assert.equal(manifest.name, 'crash-safe-state');
    assert.ok(zip.file('extension/dist/extension.js'));
    assert.equal(zip.file('extension/dist/extension.js.map'), null);
    assert.ok(existsSync(join(built.stage, 'dist', 'cli.js')));
  });
});

suite('npm start: each run gets a demo copy of its own', () => {
  const made: string[] = [];
  /** Only a folder this suite made is removed: never the temp folder itself, whatever the code under test returned. */
  const remember = (folder: string) => {
    if (/^(crash-safe-demo-|cs-demo-test-)/.test(basename(folder)) && dirname(folder) === tmpdir()) made.push(folder);
  };
  suiteTeardown(() => {
    for (const folder of made) rmSync(folder, { recursive: true, force: true });
  });

  test("a second run makes a new folder and leaves the first run's copy, with the user's files, as it was", async () => {
    const { prepareDemoWorkspace } = await import('../../scripts/demoWorkspace.mjs');
    const first = prepareDemoWorkspace();
    remember(dirname(first));
    // What a user did in the first window: to-dos and their backups.
    const todos = join(first, '.vscode', 'crash-safe', 'tasks.json');
    mkdirSync(join(first, '.vscode', 'crash-safe', 'backups'), { recursive: true });
    writeFileSync(todos, '{"version":1,"tasks":[]}');
    writeFileSync(join(first, 'data', 'todo.json'), '{"mine":true}');
    const before = readdirSync(first, { recursive: true, encoding: 'utf8' }).sort();
    const second = prepareDemoWorkspace();
    remember(dirname(second));
    assert.notEqual(second, first);
    assert.ok(!second.startsWith(`${first}${sep}`) && !first.startsWith(`${dirname(second)}${sep}`), second);
    assert.deepEqual(readdirSync(first, { recursive: true, encoding: 'utf8' }).sort(), before);
    assert.equal(readFileSync(todos, 'utf8'), '{"version":1,"tasks":[]}');
    assert.equal(readFileSync(join(first, 'data', 'todo.json'), 'utf8'), '{"mine":true}');
    // The new copy is a fresh demo/.
    assert.equal(
      readFileSync(join(second, 'data', 'todo.json'), 'utf8'),
      readFileSync(join(root, 'demo', 'data', 'todo.json'), 'utf8'),
    );
  });

  test('a destination that exists is refused, never replaced or emptied', async () => {
    const { prepareDemoWorkspace } = await import('../../scripts/demoWorkspace.mjs');
    const parent = mkdtempSync(join(tmpdir(), 'cs-demo-test-'));
    remember(parent);
    const inUse = join(parent, 'demo');
    mkdirSync(inUse);
    writeFileSync(join(inUse, 'notes.md'), 'keep me');
    assert.throws(() => prepareDemoWorkspace(inUse), /exists/);
    assert.deepEqual(readdirSync(inUse), ['notes.md']);
    assert.equal(readFileSync(join(inUse, 'notes.md'), 'utf8'), 'keep me');
  });

  test('scripts/start.mjs removes no folder: a window (VS Code desktop outlives npm start) may still use it', () => {
    const start = readFileSync(join(root, 'scripts/start.mjs'), 'utf8');
    const demo = readFileSync(join(root, 'scripts/demoWorkspace.mjs'), 'utf8');
    for (const source of [start, demo]) assert.doesNotMatch(source, /\brmSync\b|\brm\(|rimraf/);
  });
});
