import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import JSZip from 'jszip';
import { productionVsix } from './productionVsix';

const root = join(__dirname, '..', '..');
/** The manifest's strings (package.nls*.json) and the code's (l10n/, `npm run l10n`), in English and German. */
const TRANSLATIONS = ['package.nls.json', 'package.nls.de.json', 'l10n/bundle.l10n.json', 'l10n/bundle.l10n.de.json'];

suite('packaging (npm run package)', () => {
  test('the .vsix holds dist, media, README, CHANGELOG, LICENSE, package.json and the translations, and nothing else', async function () {
    this.timeout(180_000);
    const zip = await JSZip.loadAsync(readFileSync((await productionVsix()).vsix));
    const files = Object.keys(zip.files).filter((name) => name.startsWith('extension/') && !zip.files[name]!.dir);
    const shipped = files.map((name) => name.slice('extension/'.length)).sort();
    for (const required of [
      'package.json',
      'readme.md',
      'changelog.md',
      'LICENSE.txt',
      'dist/extension.js',
      'dist/cli.js',
      'dist/schemaCompiler.js',
      'dist/walkWorker.js',
      'media/icon.png',
      ...TRANSLATIONS,
    ]) {
      assert.ok(shipped.includes(required), `${required} is missing from ${shipped.join(', ')}`);
    }
    const allowed =
      /^(package\.json|readme\.md|changelog\.md|LICENSE\.txt|dist\/(extension|cli|schemaCompiler|walkWorker)\.js|media\/.+|package\.nls(\.[\w-]+)?\.json|l10n\/bundle\.l10n(\.[\w-]+)?\.json)$/;
    assert.deepEqual(
      shipped.filter((name) => !allowed.test(name)),
      [],
      'unexpected files in the .vsix',
    );
    assert.ok(!shipped.some((name) => /^(src|test|node_modules)\/|\.map$/.test(name)));
    const bundle = await zip.file('extension/dist/extension.js')!.async('nodebuffer');
    console.log(
      `      .vsix: ${shipped.length} files; production dist/extension.js ${(bundle.length / 1024).toFixed(0)} KB (budget 400 KB)`,
    );
    // 350 KB since 2026-12-07: the reason words, the copy and diff pickers and the save guard came in (302 KB).
    // 400 KB since 2026-12-07 (round 3 of speed): the listing cache, the local-disk write path, git's gutter diff for
    // crash-safe editors and the To-Dos' reselect came in (360 KB, all our own code). Activation has its own budget.
    assert.ok(bundle.length < 400 * 1024, `dist/extension.js is ${bundle.length} bytes`);
  });

  // The .vsix above is built in a staging folder; `npm run package` packages the work tree itself, so its
  // .vscodeignore must keep src, test, node_modules and source maps out too. `vsce ls` lists that selection unbuilt.
  test('packaged from the work tree, .vscodeignore lets in only the bundles, media, README, CHANGELOG, LICENSE, package.json and the translations', () => {
    const vsce = join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
    const result = spawnSync(process.execPath, [vsce, 'ls', '--no-dependencies'], {
      cwd: root,
      encoding: 'utf8',
      input: '',
    });
    assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
    const listed = result.stdout.split('\n').filter(Boolean).sort();
    const allowed =
      /^(package\.json|README\.md|CHANGELOG\.md|LICENSE|dist\/(extension|cli|schemaCompiler|walkWorker)\.js|media\/.+|package\.nls(\.[\w-]+)?\.json|l10n\/bundle\.l10n(\.[\w-]+)?\.json)$/;
    assert.deepEqual(
      listed.filter((name) => !allowed.test(name)),
      [],
      'unexpected files in `vsce ls`',
    );
    for (const required of [
      'package.json',
      'README.md',
      'CHANGELOG.md',
      'LICENSE',
      'media/icon.png',
      ...TRANSLATIONS,
    ]) {
      assert.ok(listed.includes(required), `${required} is missing from ${listed.join(', ')}`);
    }
    for (const bundle of ['dist/extension.js', 'dist/cli.js', 'dist/schemaCompiler.js', 'dist/walkWorker.js']) {
      assert.equal(listed.includes(bundle), existsSync(join(root, bundle)), bundle);
    }
  });
});
