import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  contributes: { commands: { command: string }[]; configuration: { properties: Record<string, unknown> } };
};

suite('README: every command and setting a user can meet', () => {
  test('each command of the manifest has its id in the README', () => {
    const missing = manifest.contributes.commands.map((c) => c.command).filter((id) => !readme.includes(`\`${id}\``));
    assert.deepEqual(missing, []);
  });

  test('each setting of the manifest has its key in the README', () => {
    const keys = Object.keys(manifest.contributes.configuration.properties);
    assert.deepEqual(
      keys.filter((key) => !readme.includes(`\`${key}\``)),
      [],
    );
  });
});
