// Builds the extension's .vsix the way `npm run package` does (production bundles, then `vsce package` with the
// same flags), but in a staging folder, so the work tree's development build in dist/ stays untouched while other
// runs (tests, watch) use it. Works offline: vsce needs no network with these flags.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The arguments `npm run package` gives vsce (a unit test keeps them equal to package.json's script). */
export const VSCE_PACKAGE_ARGS = [
  'package',
  '--no-dependencies',
  '--allow-missing-repository',
  '--no-rewrite-relative-links',
];
/** What the staging folder needs besides the bundles; .vscodeignore then decides what goes into the .vsix. */
const STAGED = ['package.json', 'README.md', 'CHANGELOG.md', 'LICENSE', '.vscodeignore', 'media', 'l10n'];
/** The manifest's translations (package.nls.json, package.nls.<language>.json) are staged too. */
const MANIFEST_TRANSLATION = /^package\.nls(\.[\w-]+)?\.json$/;

/**
 * Builds the .vsix in a new temp folder (the staging folder, which also holds the production `dist/cli.js`) and
 * returns `{ vsix, stage, dispose }`; `dispose()` removes the folder. Throws with the tool's output when a step fails.
 */
export function buildVsix({ repoRoot = root } = {}) {
  const stage = mkdtempSync(join(tmpdir(), 'cs-vsix-'));
  try {
    for (const name of [...STAGED, ...readdirSync(repoRoot).filter((name) => MANIFEST_TRANSLATION.test(name))]) {
      if (existsSync(join(repoRoot, name))) cpSync(join(repoRoot, name), join(stage, name), { recursive: true });
    }
    mkdirSync(join(stage, 'dist'));
    runOrThrow(process.execPath, ['esbuild.mjs', '--production', `--dist=${join(stage, 'dist')}`], repoRoot);
    const vsix = join(stage, 'crash-safe-state.vsix');
    const vsce = join(repoRoot, 'node_modules', '@vscode', 'vsce', 'vsce');
    runOrThrow(process.execPath, [vsce, ...VSCE_PACKAGE_ARGS, '--out', vsix], stage);
    return { vsix, stage, dispose: () => rmSync(stage, { recursive: true, force: true }) };
  } catch (error) {
    rmSync(stage, { recursive: true, force: true });
    throw error;
  }
}

function runOrThrow(command, args, cwd) {
  // stdin closed: vsce asks questions on a TTY (a missing LICENSE, say) instead of failing.
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (result.status !== 0) {
    throw new Error(
      `${[command, ...args].join(' ')} failed (exit ${result.status ?? result.signal}):\n${result.stdout}${result.stderr}`,
    );
  }
}
