import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CliIo } from '../../src/cli/io';
import { runCli } from '../../src/cli/main';

function capture(isTTY: boolean, cwd: string) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    stdout: { write: (text: string) => out.push(text) },
    stderr: { write: (text: string) => err.push(text), isTTY },
    stdin: (async function* () {})(),
    cwd,
  };
  return { io, out, err };
}

suite('CLI progress on an interactive terminal', () => {
  let root: string;
  suiteSetup(() => {
    root = mkdtempSync(join(tmpdir(), 'cs-progress-'));
    for (let i = 0; i < 50; i++) {
      mkdirSync(join(root, `d${i}`));
      writeFileSync(join(root, `d${i}`, 'a.json'), '{}');
    }
    writeFileSync(join(root, 'd0', 'a.json.vsctmp'), '{}');
  });
  suiteTeardown(() => rmSync(root, { recursive: true, force: true }));

  for (const verb of ['scan', 'sweep']) {
    const args = () => (verb === 'sweep' ? [verb, root, '--dry-run'] : [verb, root]);
    test(`${verb} shows a files-scanned line on a TTY's stderr and erases it`, async () => {
      const { io, out, err } = capture(true, root);
      assert.equal(await runCli(args(), io), 0);
      const stderr = err.join('');
      assert.match(stderr, new RegExp(`crash-safe ${verb}: [\\d,]+ files scanned…`));
      assert.ok(stderr.endsWith('\r\x1b[K'), 'the progress line is erased at the end');
      assert.ok(!out.join('').includes('files scanned'), 'progress never goes to stdout');
    });

    test(`${verb} prints no progress when stderr is not a terminal (pipes, CI)`, async () => {
      const { io, err } = capture(false, root);
      assert.equal(await runCli(args(), io), 0);
      assert.equal(err.join(''), '');
    });
  }
});
