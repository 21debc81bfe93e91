import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import JSZip from 'jszip';

const root = join(__dirname, '..', '..');

suite('packaging (npm run package)', () => {
  test('the .vsix holds dist, media, README, CHANGELOG, LICENSE and package.json, and nothing else', async function () {
    this.timeout(180_000);
    const out = mkdtempSync(join(tmpdir(), 'cs-vsix-'));
    try {
      const vsix = join(out, 'crash-safe-state.vsix');
      const result = spawnSync('npm', ['run', '--silent', 'package', '--', '--out', vsix], { cwd: root, encoding: 'utf8', input: '' });
      assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
      const zip = await JSZip.loadAsync(readFileSync(vsix));
      const files = Object.keys(zip.files).filter((name) => name.startsWith('extension/') && !zip.files[name]!.dir);
      const shipped = files.map((name) => name.slice('extension/'.length)).sort();
      for (const required of ['package.json', 'readme.md', 'changelog.md', 'LICENSE.txt', 'dist/extension.js', 'dist/cli.js', 'media/icon.png']) {
        assert.ok(shipped.includes(required), `${required} is missing from ${shipped.join(', ')}`);
      }
      const allowed = /^(package\.json|readme\.md|changelog\.md|LICENSE\.txt|dist\/(extension|cli)\.js|media\/[^/]+)$/;
      assert.deepEqual(shipped.filter((name) => !allowed.test(name)), [], 'unexpected files in the .vsix');
      assert.ok(!shipped.some((name) => /^(src|test|node_modules)\/|\.map$/.test(name)));
      const bundle = await zip.file('extension/dist/extension.js')!.async('nodebuffer');
      console.log(`      .vsix: ${shipped.length} files; production dist/extension.js ${(bundle.length / 1024).toFixed(0)} KB (budget 300 KB)`);
      assert.ok(bundle.length < 300 * 1024, `dist/extension.js is ${bundle.length} bytes`);
    } finally {
      rmSync(out, { recursive: true, force: true });
      // Later tiers expect the development build (source maps, the integration bundles).
      spawnSync(process.execPath, ['esbuild.mjs'], { cwd: root });
    }
  });
});
