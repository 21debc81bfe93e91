import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { escapeTerminalControls, printable } from '../../../src/cli/io';
import { setAge } from '../../support/agedFiles';
import { runCliCaptured } from '../../support/cliRun';

const cli = join(__dirname, '..', '..', '..', 'dist', 'cli.js');

/** A name that forges a line, sets a colour, rings the bell, sends a C1 CSI and reverses the rest of the line. */
const HOSTILE = 'a\nforged\x1b[31m\x07\u009b2J\u202egnp.json';
/** Raw controls a terminal would act on (everything in HOSTILE but the printable characters). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: this test looks for raw control characters
const RAW_CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]/;

function assertNoRawControls(output: string, what: string): void {
  assert.ok(!RAW_CONTROL.test(output), `${what} holds a raw control character: ${JSON.stringify(output)}`);
}

suite('CLI: names with control characters are printed escaped', () => {
  let root: string;
  const old = (path: string) => setAge(path, 3_600_000);
  setup(() => {
    root = realpathSync(mkdtempSync(join(tmpdir(), 'cs-cli-escape-')));
  });
  teardown(() => rmSync(root, { recursive: true, force: true }));

  test('printable quotes a name as a JSON string only when it must; escapeTerminalControls keeps line breaks', () => {
    assert.equal(printable('/w/plain name.json'), '/w/plain name.json');
    assert.equal(printable('/w/a\nb\x1b\x07\0.json'), '"/w/a\\nb\\u001b\\u0007\\u0000.json"');
    assert.equal(JSON.parse(printable(HOSTILE)), HOSTILE, 'the quoted form decodes to the exact name');
    assert.equal(printable('x\ud800"\\'), '"x\\ud800\\"\\\\"');
    assert.equal(escapeTerminalControls('one\x1b[2J\ntwo\t\u0085\n'), 'one\\u001b[2J\ntwo\\t\\u0085\n');
    assert.equal(printable('emoji 😀 and accents é'), 'emoji 😀 and accents é', 'surrogate pairs are not escaped');
  });

  test('recover prints the recovered name escaped, in one line, on stdout and in errors', async () => {
    const target = join(root, HOSTILE);
    writeFileSync(target, '{"half":');
    writeFileSync(`${target}.vsctmp`, '{"ok":1}');
    const recovered = await runCliCaptured(['recover', target], root);
    assert.equal(recovered.code, 0, recovered.stderr);
    assertNoRawControls(recovered.stdout, 'stdout');
    assert.equal(recovered.stdout.split('\n').length, 2, 'one line');
    assert.ok(recovered.stdout.includes(printable(target)), recovered.stdout);
    assert.equal(readFileSync(target, 'utf8'), '{"ok":1}');

    writeFileSync(target, '{"half":');
    rmSync(`${target}.vsctmp`);
    const failed = await runCliCaptured(['recover', target], root);
    assert.equal(failed.code, 1);
    assertNoRawControls(failed.stderr, 'stderr');
    assert.equal(failed.stderr.split('\n').length, 2, `one line: ${failed.stderr}`);
  });

  test('write names a refused target escaped', async () => {
    const { code, stderr } = await runCliCaptured(['write', join(root, HOSTILE)], root);
    assert.equal(code, 1);
    assertNoRawControls(stderr, 'stderr');
    assert.ok(stderr.includes(printable(join(root, HOSTILE))), stderr);
  });

  test('scan and sweep print names escaped; --json stays valid JSON holding the exact names', async () => {
    writeFileSync(join(root, HOSTILE), '{}');
    writeFileSync(join(root, `${HOSTILE}.vsctmp`), '{}');
    old(join(root, `${HOSTILE}.vsctmp`));
    const scan = await runCliCaptured(['scan', root], root);
    assert.equal(scan.code, 0, scan.stderr);
    assertNoRawControls(scan.stdout, 'scan');
    assert.ok(scan.stdout.includes(printable(join(root, `${HOSTILE}.vsctmp`))), scan.stdout);
    const scanJson = await runCliCaptured(['scan', root, '--json'], root);
    assertNoRawControls(scanJson.stdout, 'scan --json');
    assert.equal(JSON.parse(scanJson.stdout)[0].path, join(root, `${HOSTILE}.vsctmp`));

    const dryRun = await runCliCaptured(['sweep', root, '--dry-run', '--older-than', '0'], root);
    assertNoRawControls(dryRun.stdout, 'sweep');
    assert.ok(dryRun.stdout.includes(`would remove  ${printable(join(root, `${HOSTILE}.vsctmp`))}\n`), dryRun.stdout);
    const sweepJson = await runCliCaptured(['sweep', root, '--json', '--older-than', '0'], root);
    assertNoRawControls(sweepJson.stdout, 'sweep --json');
    assert.deepEqual(JSON.parse(sweepJson.stdout).removed, [join(root, `${HOSTILE}.vsctmp`)]);
  });

  test('every verb’s output passes the guard: a NUL in a write-group manifest path is escaped', async () => {
    const manifest = join(root, 'manifest.json');
    writeFileSync(join(root, 'src.json'), '{}');
    writeFileSync(manifest, JSON.stringify({ files: [{ target: 'a\u0000\x1b[2J.json', source: 'src.json' }] }));
    const { code, stdout, stderr } = await runCliCaptured(['write-group', manifest], root);
    assert.notEqual(code, 0);
    assertNoRawControls(stdout + stderr, 'write-group');
    assert.ok(!stderr.includes('\0'));
  });

  test('the built CLI escapes too (the guard sits in runCli, before the real streams)', () => {
    const target = join(root, HOSTILE);
    writeFileSync(target, '{"half":');
    writeFileSync(`${target}.vsctmp`, '{"ok":1}');
    const result = spawnSync(process.execPath, [cli, 'recover', target], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    assertNoRawControls(result.stdout, 'stdout');
    assert.ok(result.stdout.includes(printable(target)));
  });
});
