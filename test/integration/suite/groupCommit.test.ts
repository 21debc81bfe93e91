import * as assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CrashSafeStateApi } from '../../../src/ui/api';
import { integrationEnvironment } from './environment';

const EXTENSION_ID = 'crash-safe-state.crash-safe-state';

async function api(): Promise<CrashSafeStateApi> {
  const extension = vscode.extensions.getExtension<CrashSafeStateApi>(EXTENSION_ID);
  assert.ok(extension, `${EXTENSION_ID} is not loaded`);
  return extension.isActive ? extension.exports : extension.activate();
}

suite('API: group commits for other extensions', () => {
  const folder = path.join(integrationEnvironment().workspace, 'group-api');
  setup(() => mkdirSync(folder, { recursive: true }));
  teardown(() => rmSync(folder, { recursive: true, force: true }));

  test('commitGroup replaces every file and leaves no journal, temp or backup; recoverGroups finds nothing to do', async () => {
    writeFileSync(path.join(folder, 'data.json'), '{"v":1}\n');
    writeFileSync(path.join(folder, 'manifest.json'), '{"data":1}\n');
    const result = await (await api()).commitGroup([
      { path: path.join(folder, 'data.json'), value: { v: 2 } },
      { path: path.join(folder, 'manifest.json'), value: { data: 2 } },
    ]);
    assert.deepEqual(result.targets.map((target) => path.basename(target)).sort(), ['data.json', 'manifest.json']);
    assert.deepEqual(JSON.parse(readFileSync(path.join(folder, 'data.json'), 'utf8')), { v: 2 });
    assert.deepEqual(JSON.parse(readFileSync(path.join(folder, 'manifest.json'), 'utf8')), { data: 2 });
    assert.deepEqual(readdirSync(folder).sort(), ['data.json', 'manifest.json']);
    const report = await (await api()).recoverGroups(folder);
    assert.deepEqual([report.recovered, report.problems, report.removed], [[], [], []]);
  });

  test('a value failing its schema writes nothing', async () => {
    writeFileSync(path.join(folder, 'a.json'), '{"v":1}\n');
    await assert.rejects(
      (await api()).commitGroup([
        { path: path.join(folder, 'a.json'), value: { v: 2 } },
        { path: path.join(folder, 'b.json'), value: { wrong: true }, schema: { type: 'object', required: ['v'] } },
      ]),
    );
    assert.equal(readFileSync(path.join(folder, 'a.json'), 'utf8'), '{"v":1}\n');
    assert.deepEqual(readdirSync(folder), ['a.json']);
  });
});
