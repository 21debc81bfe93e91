import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCliCaptured } from '../../support/cliRun';

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
      const { code, stdout, stderr } = await runCliCaptured(args(), root, { isTTY: true });
      assert.equal(code, 0);
      assert.match(stderr, new RegExp(`crash-safe ${verb}: [\\d,]+ files scanned…`));
      assert.ok(stderr.endsWith('\r\x1b[K'), 'the progress line is erased at the end');
      assert.ok(!stdout.includes('files scanned'), 'progress never goes to stdout');
    });

    test(`${verb} prints no progress when stderr is not a terminal (pipes, CI)`, async () => {
      const { code, stderr } = await runCliCaptured(args(), root, { isTTY: false });
      assert.equal(code, 0);
      assert.equal(stderr, '');
    });
  }
});
