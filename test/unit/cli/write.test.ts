import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CliIo } from '../../../src/cli/io';
import { runCli } from '../../../src/cli/main';

const cli = join(__dirname, '..', '..', '..', 'dist', 'cli.js');

function crashSafe(args: string[], input = '') {
  return spawnSync(process.execPath, [cli, ...args], { input, encoding: 'utf8' });
}

suite('crash-safe write', () => {
  let dir: string;
  let target: string;
  setup(() => {
    dir = mkdtempSync(join(tmpdir(), 'cs-cli-write-'));
    target = join(dir, 'state.json');
    writeFileSync(target, '{"old":true}\n');
  });
  teardown(() => rmSync(dir, { recursive: true, force: true }));

  test('writes stdin to the target and exits 0', () => {
    const result = crashSafe(['write', target, '--validate-json'], '{"new":true}\n');
    assert.equal(result.status, 0, result.stderr);
    assert.equal(readFileSync(target, 'utf8'), '{"new":true}\n');
    assert.deepEqual(readdirSync(dir), ['state.json']);
  });

  test('--validate-json refuses invalid JSON: exit 1, target untouched, the parse position named', () => {
    const result = crashSafe(['write', target, '--validate-json'], '{\n  "new": true,\n}\n');
    assert.equal(result.status, 1);
    assert.match(result.stderr, /refusing to write .*state\.json: .* at line 3, column 1/);
    assert.equal(readFileSync(target, 'utf8'), '{"old":true}\n');
    assert.deepEqual(readdirSync(dir), ['state.json']);
  });

  test('--validate-json refuses empty input', () => {
    const result = crashSafe(['write', target, '--validate-json'], '');
    assert.equal(result.status, 1);
    assert.match(result.stderr, /is empty/);
    assert.equal(readFileSync(target, 'utf8'), '{"old":true}\n');
  });

  test('--raw writes any bytes, even to a .json target', () => {
    const result = crashSafe(['write', target, '--raw', '--durability', 'fast'], 'not json');
    assert.equal(result.status, 0, result.stderr);
    assert.equal(readFileSync(target, 'utf8'), 'not json');
  });

  test('--json prints the result as JSON, as every verb does (with --raw: no validation)', () => {
    const result = crashSafe(['write', target, '--json', '--raw', '--durability', 'fast'], 'not json');
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { written: true, target, bytes: 8, durability: 'fast' });
    assert.equal(readFileSync(target, 'utf8'), 'not json');
    const quiet = crashSafe(['write', target], '{}');
    assert.equal(quiet.stdout, '', 'without --json nothing is printed');
  });

  test('--validate-json --json: a refusal prints no JSON, only the one-line reason', () => {
    const result = crashSafe(['write', target, '--validate-json', '--json'], '{');
    assert.equal(result.status, 1);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /^crash-safe write: refusing to write /);
    assert.equal(readFileSync(target, 'utf8'), '{"old":true}\n');
  });

  test('usage errors exit 2', () => {
    assert.equal(crashSafe(['write']).status, 2);
    assert.equal(crashSafe(['write', target, '--durability', 'sometimes']).status, 2);
    assert.equal(crashSafe(['write', target, '--bogus']).status, 2);
    assert.equal(crashSafe(['frobnicate']).status, 2);
    assert.equal(crashSafe([]).status, 2);
    assert.equal(readFileSync(target, 'utf8'), '{"old":true}\n');
  });

  test('a missing parent exits 1 naming the directory; --create-parents creates it', () => {
    const deep = join(dir, 'x', 'y.json');
    const failed = crashSafe(['write', deep], '{}');
    assert.equal(failed.status, 1);
    assert.match(failed.stderr, /parent directory .*x does not exist/);
    const created = crashSafe(['write', deep, '--create-parents'], '{}');
    assert.equal(created.status, 0, created.stderr);
    assert.ok(statSync(deep).isFile());
  });

  test('empty stdin is refused naming the target, the file kept; --raw --allow-empty writes it', () => {
    const refused = crashSafe(['write', target], '');
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /^crash-safe write: refusing to write .*state\.json: stdin is empty .*--allow-empty/);
    assert.equal(readFileSync(target, 'utf8'), '{"old":true}\n');
    assert.deepEqual(readdirSync(dir), ['state.json']);
    const allowed = crashSafe(['write', target, '--raw', '--allow-empty'], '');
    assert.equal(allowed.status, 0, allowed.stderr);
    assert.equal(readFileSync(target, 'utf8'), '');
  });

  test('--validate-json refuses a deeply nested document naming the target, in one line', () => {
    const result = crashSafe(['write', target, '--validate-json'], `${'['.repeat(100_000)}${']'.repeat(100_000)}`);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /^crash-safe write: refusing to write .*state\.json: .*nested too deeply/);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.equal(readFileSync(target, 'utf8'), '{"old":true}\n');
  });

  test('--validate-json refuses stdin over the 256 MiB document limit before joining it, naming the target and the limit', async () => {
    // One 1 MiB chunk handed out again and again: the input is large, the test's memory is not.
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    let handedOut = 0;
    let stderr = '';
    const io: CliIo = {
      stdout: { write: () => true },
      stderr: { write: (text: string) => (stderr += text) },
      stdin: (async function* () {
        for (; handedOut < 600; handedOut++) yield chunk;
      })(),
      cwd: dir,
    };
    const code = await runCli(['write', target, '--validate-json'], io);
    assert.equal(code, 1);
    assert.match(
      stderr,
      /^crash-safe write: refusing to write .*state\.json: stdin is larger than the 256\.0 MiB limit/,
    );
    assert.ok(handedOut <= 257, `stopped reading at the limit, not after ${handedOut} MiB`);
    assert.equal(readFileSync(target, 'utf8'), '{"old":true}\n');
  });

  test('a .json target is validated by default: half-written JSON exits 1, names the target and line:column, changes nothing', () => {
    const result = crashSafe(['write', target], '{"new": [1, 2,\n  3');
    assert.equal(result.status, 1);
    assert.match(
      result.stderr,
      /^crash-safe write: refusing to write .*state\.json: stdin is not valid JSON: .* at line 2, column 4 \(--raw writes it as given\); nothing was written\n$/,
    );
    assert.equal(readFileSync(target, 'utf8'), '{"old":true}\n');
    assert.deepEqual(readdirSync(dir), ['state.json']);
    const raw = crashSafe(['write', target, '--raw'], '{"new": [1, 2,\n  3');
    assert.equal(raw.status, 0, raw.stderr);
    assert.equal(readFileSync(target, 'utf8'), '{"new": [1, 2,\n  3');
  });

  test('JSONC where VS Code reads JSONC (.jsonc, .vscode/settings.json, tsconfig.json), strict JSON elsewhere', () => {
    const jsonc = '{\n  // a comment\n  "a": 1,\n}\n';
    mkdirSync(join(dir, '.vscode'));
    for (const name of ['x.jsonc', join('.vscode', 'settings.json'), 'tsconfig.json']) {
      const result = crashSafe(['write', join(dir, name)], jsonc);
      assert.equal(result.status, 0, `${name}: ${result.stderr}`);
      assert.equal(readFileSync(join(dir, name), 'utf8'), jsonc);
    }
    for (const name of ['package.json', join('other', 'settings.json')]) {
      const result = crashSafe(['write', join(dir, name), '--create-parents'], jsonc);
      assert.equal(result.status, 1, name);
      assert.match(result.stderr, /is not valid JSON: comments are not allowed in JSON at line 2, column 3/);
    }
    const broken = crashSafe(['write', join(dir, 'x.jsonc')], '{ // open');
    assert.equal(broken.status, 1);
    assert.match(broken.stderr, /read as JSONC/);
    assert.equal(readFileSync(join(dir, 'x.jsonc'), 'utf8'), jsonc);
  });

  test('bytes that are not UTF-8 are not JSON: refused at their line:column', () => {
    const result = spawnSync(process.execPath, [cli, 'write', target], {
      input: Buffer.from('{"a":\n "caf\xe9"}', 'latin1'),
      encoding: 'utf8',
    });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /not valid JSON: invalid UTF-8 \(byte 0xE9\) at line 2, column 6/);
    assert.equal(readFileSync(target, 'utf8'), '{"old":true}\n');
    const fffd = spawnSync(process.execPath, [cli, 'write', target], { input: '{"a":"\ufffd"}', encoding: 'utf8' });
    assert.equal(fffd.status, 0, 'a real U+FFFD is valid UTF-8');
  });

  test('other targets are written as given; --validate-json checks them; --raw with --validate-json is a usage error', () => {
    const text = join(dir, 'notes.txt');
    assert.equal(crashSafe(['write', text], 'not json').status, 0);
    assert.equal(readFileSync(text, 'utf8'), 'not json');
    assert.equal(crashSafe(['write', text, '--validate-json'], 'still not json').status, 1);
    assert.equal(readFileSync(text, 'utf8'), 'not json');
    assert.equal(crashSafe(['write', target, '--raw', '--validate-json'], '{}').status, 2);
  });

  test('empty stdin to a .json target is refused even with --allow-empty (empty is not JSON)', () => {
    const result = crashSafe(['write', target, '--allow-empty'], '');
    assert.equal(result.status, 1);
    assert.match(result.stderr, /stdin is empty \(pass --raw --allow-empty to write an empty file\)/);
    assert.equal(readFileSync(target, 'utf8'), '{"old":true}\n');
  });

  test('--help prints the usage and exits 0', () => {
    const result = crashSafe(['write', '--help']);
    assert.equal(result.status, 0);
    assert.match(result.stdout, /crash-safe write TARGET .*--validate-json.*--allow-empty.*--json/);
  });
});
