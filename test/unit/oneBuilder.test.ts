// One builder each: the sweep's options, the durability default and the "no folder fsync on Windows" rule are each
// written once, and every caller takes them from there (so a preview cannot disagree with the sweep it previews).
import * as assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DURABILITY_OPTION, parseDurability } from '../../src/cli/options';
import { fsyncsDirectories } from '../../src/core/fs';
import { scanOrphans, sweepOptionsFrom, sweepOrphans } from '../../src/core/orphans/orphans';
import { DEFAULT_DURABILITY, DURABILITIES, fsyncsFoldersFor, isDurable } from '../../src/core/write/durability';
import { asPlatform } from '../support/windowsLikeFs';

const SRC = join(__dirname, '..', '..', 'src');
const source = (relativePath: string): string => readFileSync(join(SRC, relativePath), 'utf8');

function sourceFiles(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** The src files (relative) whose text matches `pattern`. */
const filesMatching = (pattern: RegExp): string[] =>
  sourceFiles()
    .filter((path) => pattern.test(readFileSync(path, 'utf8')))
    .map((path) => path.slice(SRC.length + 1).replaceAll('\\', '/'))
    .sort();

suite('one builder each', () => {
  suite('sweepOptionsFrom', () => {
    test('turns the settings into sweep options, the same for the same settings', () => {
      const settings = {
        roots: ['/w'],
        olderThanMinutes: 7,
        tempPatterns: ['{target}.bak~'],
        includeRecoverable: true,
      };
      const options = sweepOptionsFrom(settings);
      assert.deepEqual(options, {
        olderThanMs: 7 * 60_000,
        roots: ['/w'],
        extraPatterns: ['{target}.bak~'],
        includeRecoverable: true,
      });
      assert.deepEqual(sweepOptionsFrom({ ...settings }), options);
      assert.equal(sweepOptionsFrom({ roots: [], olderThanMinutes: 0 }).includeRecoverable, undefined);
    });

    test('the preview, the Sweep command and the CLI take their options from it, and nobody else builds them', () => {
      // The preview (planSweep) and the sweep both take the model's sweepOptions, which is the builder.
      const model = source('ui/orphans/orphanModel.ts');
      assert.match(model, /sweepOrphans\(orphans, \{ \.\.\.this\.sweepOptions\(olderThanMinutes\), dryRun: true \}\)/);
      assert.match(model, /sweepOptions\(olderThanMinutes[^{]*\): SweepOptions \{\s*return sweepOptionsFrom\(/);
      assert.match(
        source('ui/orphans/sweepCommand.ts'),
        /const sweepOptions = model\.sweepOptions\(olderThanMinutes\);/,
      );
      assert.match(source('cli/sweep.ts'), /sweepOptionsFrom\(/);
      // Building them by hand needs `olderThanMs`: only the builder's own file says it.
      assert.deepEqual(filesMatching(/olderThanMs/), ['core/orphans/orphanSweep.ts']);
    });

    test('a preview from the builder names exactly what the sweep with the same settings removes', async () => {
      const root = realpathSync(mkdtempSync(join(tmpdir(), 'cs-builder-')));
      try {
        const file = (name: string, ageMs: number) => {
          const path = join(root, name);
          writeFileSync(path, '{}\n');
          const when = new Date(Date.now() - ageMs);
          utimesSync(path, when, when);
          return path;
        };
        file('a.json', 0);
        const old = file('a.json.3141592653', 3_600_000);
        file('a.json.vsctmp', 60_000);
        file('b.json.bak~', 3_600_000); // a custom pattern: an orphan only with the setting
        file('b.json', 0);
        const options = sweepOptionsFrom({ roots: [root], olderThanMinutes: 10, tempPatterns: ['{target}.bak~'] });
        const orphans = (await scanOrphans([root], { extraPatterns: options.extraPatterns })).orphans;
        const preview = await sweepOrphans(orphans, { ...options, dryRun: true });
        const swept = await sweepOrphans(orphans, options);
        // The reasons' codes carry ages in ms, read a moment apart; their wording is what must agree.
        const worded = (result: typeof swept) => ({
          ...result,
          kept: result.kept.map(({ path, reason }) => ({ path, reason })),
        });
        assert.deepEqual(worded(preview), worded(swept));
        assert.deepEqual([...swept.removed].sort(), [old, join(root, 'b.json.bak~')].sort());
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    });
  });

  suite('durability', () => {
    test('the default is written once and agrees with the setting and the CLI', () => {
      const manifest = JSON.parse(readFileSync(join(SRC, '..', 'package.json'), 'utf8'));
      const setting = manifest.contributes.configuration.properties['crashSafeState.durability'];
      assert.equal(setting.default, DEFAULT_DURABILITY);
      assert.deepEqual(setting.enum, DURABILITIES);
      assert.equal(DURABILITY_OPTION.default, DEFAULT_DURABILITY);
      for (const durability of DURABILITIES) assert.equal(parseDurability(durability), durability);
      assert.throws(() => parseDurability('Full'), /--durability must be full or fast/);
      // No second spelling of the default or of the test "is this durable".
      assert.deepEqual(filesMatching(/'full'/), ['core/write/durability.ts']);
    });

    test('isDurable: full and the default fsync, fast does not', () => {
      assert.equal(isDurable(undefined), true);
      assert.equal(isDurable('full'), true);
      assert.equal(isDurable('fast'), false);
    });

    test('one platform rule: folders are fsynced only by durable writes and never on Windows', async () => {
      for (const platform of ['linux', 'darwin', 'win32'] as const) {
        await asPlatform(platform, async () => {
          assert.equal(fsyncsDirectories(), platform !== 'win32');
          assert.equal(fsyncsFoldersFor('full'), platform !== 'win32');
          assert.equal(fsyncsFoldersFor(undefined), platform !== 'win32');
          assert.equal(fsyncsFoldersFor('fast'), false);
        });
      }
      // The rule is spelled once, in fs.ts; everything else asks fsyncsDirectories or fsyncsFoldersFor.
      assert.deepEqual(filesMatching(/process\.platform !== 'win32'/), ['core/fs.ts']);
    });
  });
});
