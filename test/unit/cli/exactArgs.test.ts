import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inexactArgumentProblem, inexactCwdProblem } from '../../../src/cli/exactArgv';
import { runCliCaptured } from '../../support/cliRun';

const cli = join(__dirname, '..', '..', '..', 'dist', 'cli.js');
const posix = process.platform === 'linux';

/**
 * Runs the built CLI with arguments written in bash's $'…' syntax, since Node can only spawn with strings, which it
 * encodes as UTF-8: `caf\xe9.json` (Latin-1) cannot be passed any other way.
 */
function crashSafeRaw(args: string, cwd: string, input = '', cd = '') {
  const script = `${cd ? `cd ${cd} && ` : ''}exec "$CS_NODE" "$CS_CLI" ${args}`;
  return spawnSync('bash', ['-c', script], {
    cwd,
    input,
    encoding: 'utf8',
    timeout: 20_000,
    env: { ...process.env, CS_NODE: process.execPath, CS_CLI: cli },
  });
}

/** The names in `dir` as raw bytes in hex, so a Latin-1 name and its U+FFFD look-alike stay apart. */
function rawNames(dir: string): string[] {
  return readdirSync(dir, { encoding: 'buffer' })
    .map((name) => name.toString('hex'))
    .sort();
}

const hex = (text: string) => Buffer.from(text, 'latin1').toString('hex');
const REPLACED = Buffer.from('caf\ufffd.json').toString('hex');

(posix ? suite : suite.skip)('CLI: arguments that are not exactly representable are refused (exit 2)', () => {
  let dir: string;
  setup(() => {
    dir = mkdtempSync(join(tmpdir(), 'cs-cli-bytes-'));
  });
  teardown(() => rmSync(dir, { recursive: true, force: true }));

  test("write $'caf\\xe9.json' exits 2 naming the argument and never touches caf\\uFFFD.json", () => {
    // The look-alike the lossy decoding would have chosen.
    writeFileSync(join(dir, 'caf\ufffd.json'), '{"other":"file"}\n');
    const result = crashSafeRaw(`write $'caf\\xe9.json'`, dir, '{"new":true}\n');
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /^crash-safe: refusing to run: argument 2 \(\$'caf\\xe9\.json'\) is not valid UTF-8/);
    assert.equal(readFileSync(join(dir, 'caf\ufffd.json'), 'utf8'), '{"other":"file"}\n');
    assert.deepEqual(rawNames(dir), [REPLACED], 'nothing was written, under either name');
  });

  test('every verb and every path option refuses a Latin-1 argument, wherever it stands', function () {
    // 13 CLI processes one after another: a loaded machine takes well over the default timeout.
    this.timeout(120_000);
    mkdirSync(join(dir, 'd\ufffd'));
    writeFileSync(join(dir, 'a.json'), '{"x":');
    writeFileSync(join(dir, 'a.json.vsctmp'), '{"ok":1}');
    const cases: [string, number][] = [
      [`write -- $'caf\\xe9.json'`, 3],
      [`write-group $'m\\xe9.json'`, 2],
      [`recover $'caf\\xe9.json'`, 2],
      [`recover a.json --schema $'s\\xe9.json'`, 4],
      [`recover --groups $'d\\xe9'`, 3],
      [`recover --groups=$'d\\xe9'`, 2],
      [`recover a.json --list --history $'d\\xe9'`, 5],
      [`scan $'d\\xe9'`, 2],
      [`sweep --older-than 0 $'d\\xe9'`, 4],
      [`tasks list --dir $'d\\xe9'`, 4],
      [`tasks add --file $'d\\xe9/t.json' title`, 4],
      [`tasks add $'caf\\xe9'`, 3],
      [`snapshot take --dir $'d\\xe9'`, 4],
    ];
    for (const [args, position] of cases) {
      const result = crashSafeRaw(args, dir, '{}');
      assert.equal(result.status, 2, `${args}: ${result.stderr}`);
      assert.match(result.stderr, new RegExp(`argument ${position} \\(\\$'`), args);
      assert.equal(result.stdout, '', args);
    }
    assert.equal(readFileSync(join(dir, 'a.json'), 'utf8'), '{"x":', 'recover did not run');
    assert.deepEqual(readdirSync(join(dir, 'd\ufffd')), [], 'nothing was created in the look-alike folder');
  });

  test('WTF-8 bytes of a lone surrogate are refused too', () => {
    const result = crashSafeRaw(`write -- $'\\xed\\xa0\\x80.json'`, dir, '{}');
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /argument 3 \(\$'\\xed\\xa0\\x80\.json'\)/);
    assert.deepEqual(rawNames(dir), []);
  });

  test('a name that really holds U+FFFD (valid UTF-8) is written as usual', () => {
    const result = crashSafeRaw(`write $'caf\\xef\\xbf\\xbd.json'`, dir, '{"ok":1}');
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(rawNames(dir), [REPLACED]);
  });

  test('a working directory that is not UTF-8 is refused before a relative path resolves against its look-alike', () => {
    mkdirSync(join(dir, 'd\ufffd'));
    const latin1Dir = Buffer.concat([Buffer.from(`${dir}/`), Buffer.from('d\xe9', 'latin1')]);
    mkdirSync(latin1Dir);
    const result = crashSafeRaw('write x.json', dir, '{"ok":1}', `$'d\\xe9'`);
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /the working directory \$'.*\/d\\xe9' may not be valid UTF-8/);
    assert.deepEqual(readdirSync(join(dir, 'd\ufffd')), []);
    assert.deepEqual(readdirSync(latin1Dir), []);
    assert.deepEqual(rawNames(dir), [hex('d\xe9'), Buffer.from('d\ufffd').toString('hex')].sort());
  });

  test('a 100 KiB argument with one Latin-1 byte is refused with a short message', () => {
    const result = crashSafeRaw(`write $'${'a'.repeat(100_000)}\\xe9'`, dir, '{}');
    assert.equal(result.status, 2, result.stderr.slice(0, 300));
    assert.ok(result.stderr.length < 1000, `message of ${result.stderr.length} characters`);
    assert.match(result.stderr, /… \(100001 bytes\)/);
  });
});

suite('CLI: exact-argument rules (in process)', () => {
  test('write-group refuses a manifest path that is not exactly representable, and writes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cs-cli-bytes-'));
    try {
      writeFileSync(join(dir, 'src.json'), '{"new":1}');
      writeFileSync(join(dir, '\ufffd.json'), '{"other":"file"}');
      // A lone surrogate (JSON allows it) and a Latin-1 byte would both be written as the U+FFFD look-alike.
      writeFileSync(join(dir, 'surrogate.json'), '{"files":[{"target":"\\ud800.json","source":"src.json"}]}');
      writeFileSync(
        join(dir, 'latin1.json'),
        Buffer.from('{"files":[{"target":"\xe9.json","source":"src.json"}]}', 'latin1'),
      );
      writeFileSync(join(dir, 'split.json'), '{"files":[{"target":"x\\ud800","source":"\\udc00src.json"}]}');
      for (const manifest of ['surrogate.json', 'latin1.json', 'split.json']) {
        const { code, stderr } = await runCliCaptured(['write-group', manifest], dir);
        assert.equal(code, 1, manifest);
        assert.match(stderr, /lone surrogate|not valid UTF-8/, manifest);
      }
      assert.equal(readFileSync(join(dir, '\ufffd.json'), 'utf8'), '{"other":"file"}');
      assert.deepEqual(
        readdirSync(dir).sort(),
        ['latin1.json', 'split.json', 'src.json', 'surrogate.json', '\ufffd.json'].sort(),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a lone surrogate is refused even from an in-process caller, before any verb runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cs-cli-bytes-'));
    try {
      const { code, stderr } = await runCliCaptured(['write', 'x\ud800.json'], dir);
      assert.equal(code, 2);
      assert.match(stderr, /argument 2 \("x\\ud800\.json"\) holds a lone surrogate/);
      assert.deepEqual(readdirSync(dir), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('without /proc, an argument or working directory holding U+FFFD cannot be verified and is refused', () => {
    assert.match(
      inexactArgumentProblem('caf\ufffd.json', 1, 'unverifiable') ?? '',
      /argument 2 .* cannot be read here/,
    );
    assert.equal(inexactArgumentProblem('café.json', 1, 'unverifiable'), undefined);
    assert.match(inexactCwdProblem('/w/d\ufffd', 'unverifiable') ?? '', /working directory/);
    assert.equal(inexactCwdProblem('/w/dé', 'unverifiable'), undefined);
  });

  test('with the bytes, U+FFFD is accepted only where the bytes are its UTF-8', () => {
    const latin1 = Buffer.from('caf\xe9.json', 'latin1');
    const utf8 = Buffer.from('caf\ufffd.json');
    assert.match(
      inexactArgumentProblem('caf\ufffd.json', 0, [latin1]) ?? '',
      /^argument 1 \(\$'caf\\xe9\.json'\) is not valid UTF-8/,
    );
    assert.equal(inexactArgumentProblem('caf\ufffd.json', 0, [utf8]), undefined);
    assert.equal(
      inexactCwdProblem('/w/d\ufffd', Buffer.from('/w/d\xe9', 'latin1'))?.startsWith(
        "the working directory $'/w/d\\xe9'",
      ),
      true,
    );
  });
});
