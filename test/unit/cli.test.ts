import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeError } from '../../src/cli/io';

const cli = join(__dirname, '..', '..', 'dist', 'cli.js');

/** Runs the built CLI with a time limit, so a hang fails the test instead of stalling the run. */
function crashSafe(args: string[], cwd: string) {
  return spawnSync(process.execPath, [cli, ...args], { cwd, encoding: 'utf8', timeout: 10_000 });
}

/** Spawns the CLI, reads its first chunk of stdout, then closes the pipe as `| head -1` does. */
function readFirstChunkAndClose(args: string[], cwd: string): Promise<{ first: string; code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    let first = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.stdout.once('data', (chunk: Buffer) => {
      first = chunk.toString('utf8');
      child.stdout.destroy();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ first, code, stderr });
    });
  });
}

suite('cli: closed pipes, special files and one-line errors', () => {
  let root: string;
  suiteSetup(() => {
    root = mkdtempSync(join(tmpdir(), 'cs-cli-robust-'));
    // Enough orphans that the output outgrows a pipe's buffer, so writes continue after the reader has gone.
    const tree = join(root, 'tree');
    mkdirSync(tree);
    for (let i = 0; i < 3000; i++) {
      writeFileSync(join(tree, `f${i}.json`), '{}');
      writeFileSync(join(tree, `f${i}.json.vsctmp`), '{}');
    }
  });
  suiteTeardown(() => rmSync(root, { recursive: true, force: true }));

  for (const args of [['scan'], ['scan', '--json'], ['sweep', '--dry-run']]) {
    test(`\`${args.join(' ')} | head -1\` exits quietly when the reader closes the pipe`, async () => {
      const result = await readFirstChunkAndClose([args[0]!, join(root, 'tree'), ...args.slice(1)], root);
      assert.ok(result.first.length > 0, 'some output was read first');
      assert.equal(result.stderr, '', 'no stack trace or message');
      assert.equal(result.code, 0);
    });
  }

  const fifoSupported = process.platform !== 'win32';
  (fifoSupported ? test : test.skip)('tasks list with a FIFO tasks.json fails at once naming it', () => {
    const workspace = mkdtempSync(join(root, 'ws-'));
    const path = join(workspace, 'tasks.json');
    spawnSync('mkfifo', [path]);
    const result = crashSafe(['tasks', 'list', '--file', path], workspace);
    assert.equal(result.signal, null, 'did not hang');
    assert.equal(result.status, 1);
    assert.equal(result.stderr, `crash-safe tasks: ${path}: not a regular file (a FIFO (named pipe))\n`);
  });

  (fifoSupported ? test : test.skip)('snapshot take with a FIFO settings.json fails at once naming it and leaves no lock', () => {
    const workspace = mkdtempSync(join(root, 'ws-'));
    mkdirSync(join(workspace, '.vscode'));
    const settings = join(workspace, '.vscode', 'settings.json');
    spawnSync('mkfifo', [settings]);
    const result = crashSafe(['snapshot', 'take'], workspace);
    assert.equal(result.signal, null, 'did not hang');
    assert.equal(result.status, 1);
    assert.equal(result.stderr, `crash-safe snapshot: ${settings}: not a regular file (a FIFO (named pipe))\n`);
    assert.deepEqual(readdirSync(join(workspace, '.vscode', 'crash-safe')), ['settings-snapshots'], 'the lock was released');
    const again = crashSafe(['snapshot', 'list'], workspace);
    assert.equal(again.status, 0, again.stderr);
  });

  test('describeError: Node’s system errors become "path: cause (CODE)", in one line', () => {
    const error = Object.assign(new Error("EROFS: read-only file system, mkdir '/mnt/x'"), { code: 'EROFS', path: '/mnt/x' });
    assert.equal(describeError(error), '/mnt/x: read-only file system (EROFS)');
    const pathless = Object.assign(new Error('EISDIR: illegal operation on a directory, read'), { code: 'EISDIR' });
    assert.equal(describeError(pathless, '/etc'), '/etc: illegal operation on a directory (EISDIR)');
    assert.equal(describeError(pathless), 'EISDIR: illegal operation on a directory, read');
    assert.equal(describeError(new Error('Cannot write /x: rename failed\n  at somewhere')), 'Cannot write /x: rename failed; at somewhere');
    assert.equal(describeError('plain'), 'plain');
  });
});
