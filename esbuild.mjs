// Bundles the extension, the CLI and the in-host integration suite. Type checks run separately (`npm run typecheck`).
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as esbuild from 'esbuild';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');
// `--dist=DIR` puts the extension and CLI bundles in DIR instead of dist/ (npm start packages a .vsix from a
// staging folder, so the work tree's development build stays as it is).
const dist = process.argv.find((arg) => arg.startsWith('--dist='))?.slice('--dist='.length) || 'dist';

const shared = {
  bundle: true,
  platform: 'node',
  // The Node of the oldest VS Code engines.vscode admits (1.82: Electron 25, Node 18.15); the CLI's is its own.
  target: 'node18',
  format: 'cjs',
  minify: production,
  sourcemap: !production,
  sourcesContent: false,
  logLevel: 'warning',
  // jsonc-parser's UMD build hides its requires from the bundler; its ESM build does not.
  mainFields: ['module', 'main'],
};

/** Leaves the extension's require('./schemaCompiler') to run time, against dist/schemaCompiler.js beside it. */
const schemaCompilerChunk = {
  name: 'schema-compiler-chunk',
  setup(build) {
    build.onResolve({ filter: /^\.\/schemaCompiler$/ }, () => ({ path: './schemaCompiler.js', external: true }));
  },
};

const builds = [
  {
    ...shared,
    entryPoints: ['src/extension.ts'],
    outfile: join(dist, 'extension.js'),
    external: ['vscode'],
    plugins: [schemaCompilerChunk],
  },
  // The whole walk's listing threads (src/core/orphans/walkWorkers.ts), loaded by the extension beside it.
  { ...shared, entryPoints: ['src/core/orphans/walkWorker.ts'], outfile: join(dist, 'walkWorker.js') },
  // Ajv on its own, loaded by the extension on the first schema check (src/core/json/jsonStore.ts).
  { ...shared, entryPoints: ['src/core/json/schemaCompiler.ts'], outfile: join(dist, 'schemaCompiler.js') },
  {
    ...shared,
    entryPoints: ['src/cli.ts'],
    outfile: join(dist, 'cli.js'),
    target: 'node20',
    banner: { js: '#!/usr/bin/env node' },
  },
];
// The integration suite runs inside the extension host, in two passes: suite/ (a trusted workspace) and untrusted/
// (workspace trust on, Restricted Mode). In each, the runner (index.ts) and each *.test.ts become their own bundle
// under the pass's out folder, which the runner finds and adds to mocha. mocha and vscode stay external, so the host
// loads them from node_modules and itself. Out folders are emptied first so a deleted test cannot linger.
const integrationPasses = [
  { suiteDir: 'test/integration/suite', outdir: 'out/integration' },
  { suiteDir: 'test/integration/untrusted', outdir: 'out/integration-untrusted' },
];
if (!production) {
  for (const { suiteDir, outdir } of integrationPasses) {
    const testEntries = existsSync(suiteDir)
      ? readdirSync(suiteDir, { recursive: true, encoding: 'utf8' })
          .filter((name) => name.endsWith('.test.ts'))
          .map((name) => join(suiteDir, name))
      : [];
    if (!watch) rmSync(outdir, { recursive: true, force: true });
    builds.push({
      ...shared,
      entryPoints: [join(suiteDir, 'index.ts'), ...testEntries],
      outbase: suiteDir,
      outdir,
      external: ['vscode', 'mocha'],
    });
  }
}

async function main() {
  const contexts = await Promise.all(builds.filter((b) => existsEntry(b)).map((b) => esbuild.context(b)));
  if (watch) {
    await Promise.all(contexts.map((c) => c.watch()));
    console.log('[esbuild] watching…');
    return;
  }
  await Promise.all(contexts.map((c) => c.rebuild()));
  await Promise.all(contexts.map((c) => c.dispose()));
}

function existsEntry(build) {
  return build.entryPoints.every((p) => existsSync(p));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
