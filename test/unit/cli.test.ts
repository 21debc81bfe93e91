import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeError } from '../../src/cli/io';

const cli = join(__dirname, '..', '..', 'dist', 'cli.js');

/** Runs the built CLI with a time limit, so a hang fails the test instead of stalling the run. */
function crashSafe(args: string[], cwd: string) {
  return spawnSync(process.execPath, [cli, ...args], { cwd, encoding: 'utf8', timeout: 10_000 });
}

/** Spawns the CLI, reads its first chunk of stdout, then closes the pipe as `| head -1` does. */
function readFirstChunkAndClose(
  args: string[],
  cwd: string,
): Promise<{ first: string; code: number | null; stderr: string }> {
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

/** Spawns the CLI with its stdout pipe closed by the reader before the CLI writes anything, as `| true` does. */
function runWithReaderGone(args: string[], cwd: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    // Node takes far longer to start than this takes: the pipe has no reader when the first line is written.
    child.stdout.destroy();
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

/** Three corrupt targets; the middle one has no temp to recover from, so the work itself earns exit 1. */
function threeCorruptTargets(dir: string): string[] {
  for (const name of ['a', 'b', 'c']) writeFileSync(join(dir, `${name}.json`), '{"half":');
  writeFileSync(join(dir, 'a.json.vsctmp'), '{"a":1}');
  writeFileSync(join(dir, 'c.json.vsctmp'), '{"c":1}');
  return ['a.json', 'b.json', 'c.json'];
}

suite('cli: a lost reader stops the printing, not the work', () => {
  let dir: string;
  setup(() => {
    dir = mkdtempSync(join(tmpdir(), 'cs-cli-epipe-'));
  });
  teardown(() => rmSync(dir, { recursive: true, force: true }));

  test('`recover a b c | true` recovers every target it can and exits with the code the work earned (1)', async () => {
    const targets = threeCorruptTargets(dir);
    const result = await runWithReaderGone(['recover', ...targets], dir);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /No valid recovery candidate for .*b\.json/);
    assert.equal(readFileSync(join(dir, 'a.json'), 'utf8'), '{"a":1}');
    assert.equal(
      readFileSync(join(dir, 'c.json'), 'utf8'),
      '{"c":1}',
      'the target after the failed one was recovered too',
    );
  });

  test('`recover a c | true` with everything recovered exits 0 and prints no error', async () => {
    threeCorruptTargets(dir);
    const result = await runWithReaderGone(['recover', 'a.json', 'c.json'], dir);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    assert.equal(readFileSync(join(dir, 'c.json'), 'utf8'), '{"c":1}');
  });

  const linux = process.platform === 'linux';
  (linux ? test : test.skip)(
    'stderr closed by its reader (`2>&1 >/dev/null | true`): the work goes on, exit 1 earned',
    () => {
      const targets = threeCorruptTargets(dir);
      const script = `"$CS_NODE" "$CS_CLI" recover ${targets.join(' ')} 2>&1 >/dev/null | true; exit \${PIPESTATUS[0]}`;
      const result = spawnSync('bash', ['-c', script], {
        cwd: dir,
        env: { ...process.env, CS_NODE: process.execPath, CS_CLI: cli },
      });
      assert.equal(result.status, 1);
      assert.equal(readFileSync(join(dir, 'c.json'), 'utf8'), '{"c":1}');
    },
  );

  (linux ? test : test.skip)(
    'stdout and stderr closed before the start (`>&- 2>&-`): the work is done, exit 1 earned',
    () => {
      const targets = threeCorruptTargets(dir);
      const script = `exec "$CS_NODE" "$CS_CLI" recover ${targets.join(' ')} >&- 2>&-`;
      const result = spawnSync('bash', ['-c', script], {
        cwd: dir,
        env: { ...process.env, CS_NODE: process.execPath, CS_CLI: cli },
      });
      assert.equal(result.status, 1);
      assert.equal(readFileSync(join(dir, 'a.json'), 'utf8'), '{"a":1}');
      assert.equal(readFileSync(join(dir, 'c.json'), 'utf8'), '{"c":1}');
      assert.deepEqual(
        readdirSync(dir).filter((name) => !/^[abc]\.json/.test(name)),
        [],
        'no output landed in a file',
      );
    },
  );

  (linux ? test : test.skip)(
    'output to a full disk (`> /dev/full`) is reported and makes the exit 1, after all the work',
    () => {
      threeCorruptTargets(dir);
      const script = `exec "$CS_NODE" "$CS_CLI" recover a.json c.json > /dev/full`;
      const result = spawnSync('bash', ['-c', script], {
        cwd: dir,
        encoding: 'utf8',
        env: { ...process.env, CS_NODE: process.execPath, CS_CLI: cli },
      });
      assert.equal(result.status, 1);
      assert.match(result.stderr, /^crash-safe: cannot write the output: .*ENOSPC.*; the work goes on\n$/);
      assert.equal(readFileSync(join(dir, 'c.json'), 'utf8'), '{"c":1}');
    },
  );
});

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
  suiteTeardown(function () {
    // 6,000 files: on a disk busy with other work this alone has taken over 20 s.
    this.timeout(120_000);
    rmSync(root, { recursive: true, force: true });
  });

  for (const args of [['scan'], ['scan', '--json'], ['sweep', '--dry-run']]) {
    test(`\`${args.join(' ')} | head -1\` exits quietly when the reader closes the pipe`, async () => {
      const result = await readFirstChunkAndClose([args[0]!, join(root, 'tree'), ...args.slice(1)], root);
      assert.ok(result.first.length > 0, 'some output was read first');
      assert.equal(result.stderr, '', 'no stack trace or message');
      assert.equal(result.code, 0);
    });
  }

  test('`todos` is the to-do verb and `tasks` still works as its old name: both read the same list', () => {
    const workspace = mkdtempSync(join(root, 'ws-'));
    assert.equal(crashSafe(['todos', 'add', 'one', '--dir', workspace], workspace).status, 0);
    assert.equal(crashSafe(['tasks', 'add', 'two', '--dir', workspace], workspace).status, 0);
    const listed = crashSafe(['todos', 'list', '--dir', workspace], workspace);
    assert.match(listed.stdout, /one[\s\S]*two/);
    assert.match(crashSafe(['--help'], workspace).stdout, /todos .*\(also: tasks\)/);
  });

  for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
    test(`\`crash-safe ${name}\` is an unknown verb (exit 2), never a property of Object`, () => {
      const result = crashSafe([name], root);
      assert.equal(result.status, 2);
      assert.match(result.stderr, new RegExp(`^crash-safe: unknown verb "${name}"`));
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

  (fifoSupported ? test : test.skip)(
    'snapshot take with a FIFO settings.json fails at once naming it and leaves no lock',
    () => {
      const workspace = mkdtempSync(join(root, 'ws-'));
      mkdirSync(join(workspace, '.vscode'));
      const settings = join(workspace, '.vscode', 'settings.json');
      spawnSync('mkfifo', [settings]);
      const result = crashSafe(['snapshot', 'take'], workspace);
      assert.equal(result.signal, null, 'did not hang');
      assert.equal(result.status, 1);
      assert.equal(result.stderr, `crash-safe snapshot: ${settings}: not a regular file (a FIFO (named pipe))\n`);
      assert.deepEqual(
        readdirSync(join(workspace, '.vscode', 'crash-safe')),
        ['settings-snapshots'],
        'the lock was released',
      );
      const again = crashSafe(['snapshot', 'list'], workspace);
      assert.equal(again.status, 0, again.stderr);
    },
  );

  test('describeError: Node’s system errors become "path: cause (CODE)", in one line', () => {
    const error = Object.assign(new Error("EROFS: read-only file system, mkdir '/mnt/x'"), {
      code: 'EROFS',
      path: '/mnt/x',
    });
    assert.equal(describeError(error), '/mnt/x: read-only file system (EROFS)');
    const pathless = Object.assign(new Error('EISDIR: illegal operation on a directory, read'), { code: 'EISDIR' });
    assert.equal(describeError(pathless, '/etc'), '/etc: illegal operation on a directory (EISDIR)');
    assert.equal(describeError(pathless), 'EISDIR: illegal operation on a directory, read');
    assert.equal(
      describeError(new Error('Cannot write /x: rename failed\n  at somewhere')),
      'Cannot write /x: rename failed; at somewhere',
    );
    assert.equal(describeError('plain'), 'plain');
  });
});
