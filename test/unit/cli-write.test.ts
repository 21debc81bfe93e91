import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const cli = join(__dirname, '..', '..', 'dist', 'cli.js');

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
    const result = crashSafe(['write', target, '--json'], '{"new":true}\n');
    assert.equal(result.status, 0, result.stderr);
    assert.equal(readFileSync(target, 'utf8'), '{"new":true}\n');
    assert.deepEqual(readdirSync(dir), ['state.json']);
  });

  test('--json refuses invalid JSON: exit 1, target untouched, the parse position named', () => {
    const result = crashSafe(['write', target, '--json'], '{\n  "new": true,\n}\n');
    assert.equal(result.status, 1);
    assert.match(result.stderr, /refusing to write .*state\.json: .* at line 3, column 1/);
    assert.equal(readFileSync(target, 'utf8'), '{"old":true}\n');
    assert.deepEqual(readdirSync(dir), ['state.json']);
  });

  test('--json refuses empty input', () => {
    const result = crashSafe(['write', target, '--json'], '');
    assert.equal(result.status, 1);
    assert.match(result.stderr, /is empty/);
    assert.equal(readFileSync(target, 'utf8'), '{"old":true}\n');
  });

  test('without --json any bytes are written', () => {
    const result = crashSafe(['write', target, '--durability', 'fast'], 'not json');
    assert.equal(result.status, 0, result.stderr);
    assert.equal(readFileSync(target, 'utf8'), 'not json');
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

  test('--help prints the usage and exits 0', () => {
    const result = crashSafe(['write', '--help']);
    assert.equal(result.status, 0);
    assert.match(result.stdout, /crash-safe write TARGET/);
  });
});
