import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { runTests } from '@vscode/test-electron';

const root = path.resolve(__dirname, '..', '..');

suite('integration host harness', () => {
  let scratch: string;
  setup(() => {
    scratch = mkdtempSync(path.join(tmpdir(), 'cs-harness-'));
  });
  teardown(() => rmSync(scratch, { recursive: true, force: true }));

  test('the launcher understands the command line runTests really passes', async () => {
    const { parseVSCodeArgs } = await import('../integration/launcher/launcher.mjs');
    // A stand-in executable that records its arguments, one per line.
    const recorded = path.join(scratch, 'argv.txt');
    const fakeCode = path.join(scratch, 'fake-code');
    writeFileSync(fakeCode, `#!/bin/sh\nprintf '%s\\n' "$@" > '${recorded}'\n`);
    chmodSync(fakeCode, 0o755);
    await runTests({
      vscodeExecutablePath: fakeCode,
      extensionDevelopmentPath: '/dev ext/one',
      extensionTestsPath: '/tests/index.js',
      launchArgs: ['/the workspace', '--disable-extensions', '--user-data-dir=/ud'],
    });
    const argv = readFileSync(recorded, 'utf8').split('\n').slice(0, -1);
    const { values, switches, positionals } = parseVSCodeArgs(argv);
    assert.deepEqual(values.get('extensionDevelopmentPath'), ['/dev ext/one']);
    assert.deepEqual(values.get('extensionTestsPath'), ['/tests/index.js']);
    assert.deepEqual(values.get('user-data-dir'), ['/ud']);
    assert.deepEqual(positionals, ['/the workspace']);
    assert.ok(switches.has('disable-extensions'));
  });

  test('value flags also work as separate arguments and repeat', async () => {
    const { parseVSCodeArgs } = await import('../integration/launcher/launcher.mjs');
    const { values, positionals } = parseVSCodeArgs([
      '--extensionDevelopmentPath',
      '/a',
      '--extensionDevelopmentPath=/b',
      '--no-sandbox',
      '/ws',
    ]);
    assert.deepEqual(values.get('extensionDevelopmentPath'), ['/a', '/b']);
    assert.deepEqual(positionals, ['/ws']);
  });

  test('the workbench URL carries the folder and remote URIs in its payload', async () => {
    const { workbenchUrl } = await import('../../scripts/host/codeServer.mjs');
    const url = new URL(
      workbenchUrl('http://127.0.0.1:4567', {
        folder: '/tmp/a b',
        extensionDevelopmentPath: '/repo #1',
        extensionTestsPath: '/repo #1/out/index.js',
      }),
    );
    assert.equal(url.searchParams.get('folder'), '/tmp/a b');
    assert.deepEqual(JSON.parse(url.searchParams.get('payload') ?? ''), [
      ['extensionDevelopmentPath', 'vscode-remote://127.0.0.1:4567/repo%20%231'],
      ['extensionTestsPath', 'vscode-remote://127.0.0.1:4567/repo%20%231/out/index.js'],
    ]);
  });

  test('everything installs under one cache folder outside the work tree', async () => {
    const { defaultHostCacheDir, hostPaths } = await import('../../scripts/host/ensureHost.mjs');
    const paths = hostPaths();
    assert.equal(paths.cacheDir, defaultHostCacheDir());
    assert.ok(!paths.cacheDir.startsWith(`${root}${path.sep}`), 'the host cache must stay out of the work tree');
    for (const file of [paths.nodeBinary, paths.codeServerEntry, paths.stampFile]) {
      assert.ok(file.startsWith(`${paths.cacheDir}${path.sep}`), file);
    }
  });

  test("nested npm and node processes get none of the enclosing npm run's variables", async () => {
    const { withoutNpmVariables } = await import('../../scripts/host/childEnv.mjs');
    const clean = withoutNpmVariables({
      PATH: '/bin',
      HOME: '/root',
      npm_config_user_agent: 'npm/11.19.1 node/v20.20.2 linux x64',
      NPM_CONFIG_CACHE: '/c',
      npm_lifecycle_event: 'test',
      npm_package_name: 'crash-safe-state',
      INIT_CWD: '/repo',
    });
    assert.deepEqual(clean, { PATH: '/bin', HOME: '/root' });
  });

  test('the host installer started by `npm run` hands npm install a clean environment', async function () {
    this.timeout(60_000);
    // A stand-in npm, first on PATH only inside the installer, records the environment of each install.
    const stubBin = path.join(scratch, 'stub-bin');
    const records = path.join(scratch, 'records');
    mkdirSync(stubBin);
    mkdirSync(records);
    writeFileSync(
      path.join(stubBin, 'npm'),
      `#!/bin/sh
env > "${records}/$(date +%s%N).env"
`,
    );
    chmodSync(path.join(stubBin, 'npm'), 0o755);
    const cacheDir = path.join(scratch, 'cache');
    const ensureHostUrl = new URL(`file://${path.join(root, 'scripts/host/ensureHost.mjs')}`).href;
    writeFileSync(
      path.join(scratch, 'driver.mjs'),
      `process.env.PATH = ${JSON.stringify(stubBin)} + ':' + process.env.PATH;
const { ensureHost } = await import(${JSON.stringify(ensureHostUrl)});
await ensureHost({ cacheDir: ${JSON.stringify(cacheDir)}, aptPackages: false, log: () => {} }).catch((e) => console.log(e.message));
`,
    );
    writeFileSync(path.join(scratch, 'package.json'), JSON.stringify({ scripts: { host: 'node driver.mjs' } }));
    const result = spawnSync('npm', ['run', '--silent', 'host'], { cwd: scratch, encoding: 'utf8' });
    assert.match(result.stdout, /code-server installed but .* is missing/, result.stderr);

    const installs = readdirSync(records)
      .sort()
      .map((name) => new Map(readFileSync(path.join(records, name), 'utf8').split('\n').map(splitVariable)));
    assert.equal(installs.length, 2, 'Node 24, then code-server');
    for (const env of installs) {
      const leaked = [...env.keys()].filter((key) => /^npm_/i.test(key) && key !== 'npm_config_nodedir');
      assert.deepEqual(leaked, []);
      assert.equal(env.has('INIT_CWD'), false);
    }
    const { hostPaths } = await import('../../scripts/host/ensureHost.mjs');
    const codeServerInstall = installs[1];
    assert.equal(codeServerInstall.get('npm_config_nodedir'), hostPaths(cacheDir).nodeDir);
    assert.ok(codeServerInstall.get('PATH')?.startsWith(`${hostPaths(cacheDir).nodeBinDir}:`));
  });

  test('code-server starts healthy and stops with its whole process group', async function () {
    this.timeout(90_000);
    const { hostPaths } = await import('../../scripts/host/ensureHost.mjs');
    const { startCodeServer } = await import('../../scripts/host/codeServer.mjs');
    const paths = hostPaths();
    if (!existsSync(paths.stampFile)) this.skip(); // Installed by the integration tier (npm test) on first run.
    const server = await startCodeServer({ paths });
    const health = await fetch(`${server.baseUrl}/healthz`);
    assert.equal(health.status, 200);
    assert.ok(existsSync(server.dirs.userData));
    await server.stop();
    assert.throws(() => process.kill(-server.pid, 0), { code: 'ESRCH' });
    assert.equal(existsSync(server.dirs.profileDir), false);
    await assert.rejects(fetch(`${server.baseUrl}/healthz`));
  });
});

function splitVariable(line: string): [string, string] {
  const equals = line.indexOf('=');
  return [line.slice(0, equals), line.slice(equals + 1)];
}
