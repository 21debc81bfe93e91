import * as assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
