import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DURABILITY_OPTION } from '../../../src/cli/options';
import { DEFAULT_OLDER_THAN_MINUTES } from '../../../src/cli/sweep';
import { DEFAULT_SNAPSHOT_KEEP } from '../../../src/state/snapshots';
import { DEFAULT_TODOS_RELATIVE_PATH } from '../../../src/state/todosStore';
import { runCliCaptured } from '../../support/cliRun';

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

// The extension takes its defaults from package.json; the CLI, which has no VS Code settings, keeps its own.
suite('CLI defaults', () => {
  test('equal the defaults package.json gives the matching settings', () => {
    const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8'));
    const defaultOf = (key: string) => manifest.contributes.configuration.properties[`crashSafeState.${key}`].default;
    assert.equal(DURABILITY_OPTION.default, defaultOf('durability'));
    assert.equal(DEFAULT_OLDER_THAN_MINUTES, defaultOf('orphanAgeMinutes'));
    assert.equal(DEFAULT_SNAPSHOT_KEEP, defaultOf('snapshots.keep'));
    assert.equal(DEFAULT_TODOS_RELATIVE_PATH, defaultOf('todos.path'));
  });
});
