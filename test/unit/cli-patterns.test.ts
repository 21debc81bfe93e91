import * as assert from 'node:assert/strict';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCliCaptured } from '../support/cliRun';

suite('CLI: an over-broad --pattern', () => {
  let root: string;
  setup(() => {
    root = realpathSync(mkdtempSync(join(tmpdir(), 'cs-cli-patterns-')));
  });
  teardown(() => rmSync(root, { recursive: true, force: true }));

  test('is a usage error (2) naming the pattern, and nothing is swept', async () => {
    writeFileSync(join(root, 'app.log'), 'x');
    writeFileSync(join(root, 'app.log.1'), 'x');
    for (const verb of ['scan', 'sweep']) {
      const { code, stderr } = await runCliCaptured([verb, '--pattern', '{target}.*'], root);
      assert.equal(code, 2, `${verb}: ${stderr}`);
      assert.match(stderr, /"\{target\}\.\*"/);
    }
    assert.ok(realpathSync(join(root, 'app.log.1')));
  });
});
