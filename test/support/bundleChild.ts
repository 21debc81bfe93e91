import * as esbuild from 'esbuild';

/** Bundles a child-process script (which may import src/ TypeScript) into one CommonJS file, as esbuild.mjs does. */
export async function bundleChild(entry: string, outfile: string): Promise<void> {
  await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'error',
    mainFields: ['module', 'main'],
  });
}
