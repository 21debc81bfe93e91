import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeAgedFile } from '../../support/agedFiles';
import { runCliCaptured } from '../../support/cliRun';

const cli = join(__dirname, '..', '..', '..', 'dist', 'cli.js');

const run = (argv: string[], cwd: string) => runCliCaptured(argv, cwd);

suite('CLI: scan, sweep, recover', () => {
  let root: string;
  const file = (relativePath: string, content = '{}\n', minutesAgo = 60) =>
    writeAgedFile(join(root, relativePath), content, minutesAgo * 60_000);

  setup(() => {
    root = realpathSync(mkdtempSync(join(tmpdir(), 'cs-cli-orphans-')));
  });
  teardown(() => rmSync(root, { recursive: true, force: true }));

  suite('scan', () => {
    test('--json prints the documented array shape with absolute paths; exit 0', async () => {
      file('a.json', '{"ok":1}');
      const temp = file('a.json.3141592653', '{"v":2}');
      file('app.log', 'x');
      file('app.log.1', 'x');
      const { code, stdout, stderr } = await run(['scan', '--json'], root);
      assert.equal(code, 0, stderr);
      const parsed = JSON.parse(stdout);
      assert.equal(parsed.length, 1);
      assert.deepEqual(Object.keys(parsed[0]), [
        'path',
        'target',
        'kind',
        'size',
        'mtimeMs',
        'ageMs',
        'validJson',
        'targetState',
      ]);
      assert.equal(parsed[0].path, temp);
      assert.equal(parsed[0].target, join(root, 'a.json'));
      assert.equal(parsed[0].kind, 'write-file-atomic');
      assert.equal(parsed[0].validJson, true);
      assert.equal(parsed[0].targetState, 'ok');
      // Streamed output is byte-identical to printing the whole array.
      assert.equal(stdout, `${JSON.stringify(parsed, null, 2)}\n`);
    });

    test('--json with no orphans prints [] and exits 0; several roots, --exclude, --skip-node-modules', async () => {
      assert.deepEqual(await run(['scan', '--json'], root), { code: 0, stdout: '[]\n', stderr: '' });
      file('one/a.json.vsctmp');
      file('two/b.json.vsctmp');
      file('two/node_modules/c.json.vsctmp');
      file('two/skip/d.json.vsctmp');
      const { code, stdout } = await run(
        ['scan', 'one', 'two', '--json', '--exclude', 'skip', '--skip-node-modules'],
        root,
      );
      assert.equal(code, 0);
      assert.deepEqual(
        JSON.parse(stdout).map((o: { path: string }) => o.path),
        [join(root, 'one/a.json.vsctmp'), join(root, 'two/b.json.vsctmp')],
      );
    });

    test('human output lists each orphan and a summary', async () => {
      file('a.json');
      file('a.json.vsctmp', '{"x":1}');
      const { code, stdout } = await run(['scan', root], root);
      assert.equal(code, 0);
      assert.match(stdout, /vscode\s+1 h\s+.*a\.json\.vsctmp\s+\(7 B, valid JSON; target ok\)/);
      assert.match(stdout, /1 orphaned temp file \(7 bytes\) among 2 files\./);
    });

    test('--pattern adds user patterns; a bad one is a usage error (2)', async () => {
      file('n.md', 'x');
      file('n.md.bak~', 'x');
      const { stdout } = await run(['scan', '--json', '--pattern', '{target}.bak~'], root);
      assert.equal(JSON.parse(stdout)[0].kind, 'custom');
      const bad = await run(['scan', '--pattern', '*.bak'], root);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /must contain \{target\} exactly once/);
    });

    test('a missing root exits 1 naming it; an unknown option exits 2', async () => {
      const missing = await run(['scan', 'nope'], root);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /cannot scan .*nope: ENOENT/);
      assert.equal((await run(['scan', '--bogus'], root)).code, 2);
    });
  });

  test('an empty --exclude is a usage error (2) for scan and sweep', async () => {
    for (const verb of ['scan', 'sweep']) {
      const { code, stderr } = await run([verb, '--exclude', ''], root);
      assert.equal(code, 2, verb);
      assert.match(stderr, /--exclude needs a glob, not an empty string/);
    }
  });

  test('a 5,000-deep temp is reported as nested too deeply; scan and sweep still finish with exit 0', async () => {
    file('a.json', '{}');
    const deep = file('a.json.vsctmp', '['.repeat(5000));
    const scanned = await run(['scan'], root);
    assert.equal(scanned.code, 0, scanned.stderr);
    assert.match(scanned.stdout, /a\.json\.vsctmp .*not valid JSON/);
    const swept = await run(['sweep', '--older-than', '0'], root);
    assert.equal(swept.code, 0, swept.stderr);
    assert.equal(existsSync(deep), false);
  });

  suite('sweep', () => {
    test('--json {removed, kept, failed}; default threshold 10 minutes keeps young temps', async () => {
      file('a.json');
      const old = file('a.json.vsctmp', '{}', 30);
      const young = file('a.json.3141592653', '{}', 2);
      const { code, stdout } = await run(['sweep', '--json'], root);
      assert.equal(code, 0);
      const result = JSON.parse(stdout);
      assert.deepEqual(Object.keys(result), ['removed', 'kept', 'failed']);
      assert.deepEqual(result.removed, [old]);
      assert.equal(result.kept[0].path, young);
      assert.match(result.kept[0].reason, /younger than 10 min/);
      assert.deepEqual(result.failed, []);
      assert.ok(!existsSync(old));
    });

    test('--older-than 0 --dry-run lists everything and removes nothing', async () => {
      file('a.json');
      const temp = file('a.json.vsctmp', '{}', 0);
      const { code, stdout } = await run(['sweep', '--older-than', '0', '--dry-run', '--json'], root);
      assert.equal(code, 0);
      assert.deepEqual(JSON.parse(stdout).removed, [temp]);
      assert.ok(existsSync(temp));
      const human = await run(['sweep', '--older-than', '0', '--dry-run'], root);
      assert.match(human.stdout, /would remove {2}.*a\.json\.vsctmp\nWould remove 1, kept 0, failed 0\./);
    });

    test('bad --older-than values are usage errors (2)', async () => {
      for (const value of ['-1', 'soon', '']) {
        assert.equal((await run(['sweep', '--older-than', value], root)).code, 2, value);
      }
    });
  });

  suite('recover', () => {
    test('--json {target, from, backup}; exit 0', async () => {
      const target = file('s.json', '{"torn', 1);
      const temp = file('s.json.vsctmp', '{"v":1}', 5);
      const { code, stdout, stderr } = await run(['recover', 's.json', '--json'], root);
      assert.equal(code, 0, stderr);
      const result = JSON.parse(stdout);
      assert.deepEqual(Object.keys(result), ['target', 'from', 'backup']);
      assert.equal(result.target, target);
      assert.equal(result.from, temp);
      assert.match(result.backup, /s\.json\.corrupt-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z$/);
      assert.equal(readFileSync(target, 'utf8'), '{"v":1}');
      assert.equal(readFileSync(result.backup, 'utf8'), '{"torn');
    });

    test('backup is null when there was no target; several targets print an array', async () => {
      file('a.json.vsctmp', '{"a":1}');
      file('b.json.vsctmp', '{"b":1}');
      const { code, stdout } = await run(['recover', 'a.json', 'b.json', '--json'], root);
      assert.equal(code, 0);
      const results = JSON.parse(stdout);
      assert.deepEqual(
        results.map((r: { backup: unknown }) => r.backup),
        [null, null],
      );
    });

    test('no valid candidate exits 1 with a message that says so', async () => {
      file('s.json', '{"torn', 1);
      file('s.json.vsctmp', '{"half', 5);
      const { code, stdout, stderr } = await run(['recover', 's.json', '--json'], root);
      assert.equal(code, 1);
      assert.equal(stdout, '');
      assert.match(stderr, /No valid recovery candidate for .*s\.json/);
    });

    test('a valid target, older or newer than its temps, is "nothing to recover" (exit 0); --force replaces it', async () => {
      file('s.json.vsctmp', '{"v":1}', 5);
      const target = file('s.json', '{"v":2}', 10);
      const untouched = await run(['recover', 's.json'], root);
      assert.equal(untouched.code, 0);
      assert.match(untouched.stdout, /nothing to recover: .*s\.json is valid \(--force replaces it/);
      assert.equal(readFileSync(target, 'utf8'), '{"v":2}');
      const json = await run(['recover', 's.json', '--json'], root);
      assert.deepEqual(JSON.parse(json.stdout), { target, nothingToRecover: true });
      const forced = await run(['recover', 's.json', '--force'], root);
      assert.equal(forced.code, 0);
      assert.match(
        forced.stdout,
        /recovered .*s\.json from .*s\.json\.vsctmp; the previous file was kept as .*s\.json\.replaced-/,
      );
    });

    test('--schema FILE filters candidates; --dry-run writes nothing; no TARGET is a usage error', async () => {
      file('s.json', '', 1);
      file('s.json.vsctmp', '{"wrong":1}', 2);
      const good = file('s.json.tmp.0123abcd0123', '{"tasks":[]}', 5);
      writeFileSync(join(root, 'schema.json'), '{"type":"object","required":["tasks"]}');
      const { code, stdout } = await run(['recover', 's.json', '--schema', 'schema.json', '--dry-run', '--json'], root);
      assert.equal(code, 0);
      assert.equal(JSON.parse(stdout).from, good);
      assert.equal(readFileSync(join(root, 's.json'), 'utf8'), '');
      assert.equal((await run(['recover'], root)).code, 2);
      assert.equal((await run(['recover', 's.json', '--schema', 'nope.json'], root)).code, 2);
    });
    test('a --schema that is false, a string or not a JSON Schema is a usage error (2)', async () => {
      file('s.json', '', 1);
      file('s.json.vsctmp', '{}', 2);
      for (const [name, text, why] of [
        ['false.json', 'false', /must be a JSON object, not false/],
        ['string.json', '"object"', /must be a JSON object, not a string/],
        ['bad.json', '{"type": 12}', /not a valid JSON Schema/],
      ] as const) {
        writeFileSync(join(root, name), text);
        const { code, stderr } = await run(['recover', 's.json', '--schema', name], root);
        assert.equal(code, 2, name);
        assert.match(stderr, why);
      }
      assert.equal(readFileSync(join(root, 's.json'), 'utf8'), '');
    });
  });

  suite('the built CLI (dist/cli.js)', () => {
    const crashSafe = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8' });

    suiteSetup(function () {
      if (!existsSync(cli)) this.skip();
    });

    test('exit codes: scan 0 with or without orphans, sweep 0, recover 1 without candidate, usage 2', () => {
      assert.equal(crashSafe(['scan', '--json']).status, 0);
      file('a.json', '{"torn');
      file('a.json.vsctmp', '{"v":1}');
      file('a.json.3141592653', '{"v":');
      const scan = crashSafe(['scan', '--json']);
      assert.equal(scan.status, 0, scan.stderr);
      assert.equal(JSON.parse(scan.stdout).length, 2);
      assert.equal(crashSafe(['recover', 'missing.json']).status, 1);
      const recover = crashSafe(['recover', 'a.json', '--json']);
      assert.equal(recover.status, 0, recover.stderr);
      const sweep = crashSafe(['sweep', '--older-than', '0', '--json']);
      assert.equal(sweep.status, 0, sweep.stderr);
      assert.equal(JSON.parse(sweep.stdout).removed.length, 2);
      assert.equal(crashSafe(['sweep', '--older-than', 'x']).status, 2);
      assert.equal(crashSafe(['scan', '--frobnicate']).status, 2);
    });
  });
});
