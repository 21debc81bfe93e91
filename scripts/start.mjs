// The main job: open the extension in a real VS Code on a workspace (default: a fresh copy of demo/).
// With `code` on PATH it launches VS Code desktop with the development build; otherwise it packages the .vsix,
// installs it into a private code-server profile the way a user's VS Code installs an extension, serves the
// workbench on 127.0.0.1 and prints the URL to open. No test tooling is involved (see host/userWorkbench.mjs).
// Usage: npm start [-- [--locale LANGUAGE] [WORKSPACE]]   (--locale de: the extension in German)
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { prepareDemoWorkspace } from './demoWorkspace.mjs';
import { ensureDependencies } from './ensureDependencies.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = (command, args) => spawnSync(command, args, { cwd: root, stdio: 'inherit' }).status ?? 1;
const onPath = (command) => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
const showScan = (cli, workspace) => {
  console.log(`What the CLI sees in ${workspace}:\n`);
  run(process.execPath, [cli, 'scan', workspace]);
};

const started = Date.now();
if (!ensureDependencies(root)) process.exit(1);
let options;
let positionals;
try {
  ({ values: options, positionals } = parseArgs({ options: { locale: { type: 'string' } }, allowPositionals: true }));
} catch (error) {
  console.error(`npm start: ${error.message}\nUsage: npm start [-- [--locale LANGUAGE] [WORKSPACE]]`);
  process.exit(2);
}
// The demo gets a new folder each run: an earlier run's copy may still be open, with the user's to-dos in it.
const workspace = positionals[0] ? resolve(positionals[0]) : prepareDemoWorkspace();
if (!positionals[0]) {
  console.log(
    `Demo workspace for this run: ${workspace}\n(a new copy of demo/; it is kept when you stop, and earlier copies are never touched)\n`,
  );
}

if (onPath('code') && !process.env.CRASH_SAFE_FORCE_CODE_SERVER) {
  if (run(process.execPath, ['esbuild.mjs']) !== 0) process.exit(1);
  showScan(join(root, 'dist', 'cli.js'), workspace);
  console.log('\nOpening VS Code with the extension loaded…');
  process.exit(
    run('code', [
      '--new-window',
      ...(options.locale ? ['--locale', options.locale] : []),
      `--extensionDevelopmentPath=${root}`,
      workspace,
    ]),
  );
}

const { ensureHost } = await import('./host/ensureHost.mjs');
const { buildVsix } = await import('./packageVsix.mjs');
const { startUserWorkbench } = await import('./host/userWorkbench.mjs');
const paths = await ensureHost({ log: (line) => console.log(line) });
console.log('Packaging the extension (.vsix)…');
let built;
try {
  built = buildVsix();
} catch (error) {
  console.error(error.message);
  process.exit(1);
}
let server;
let url;
try {
  // The same production CLI that is in the .vsix.
  showScan(join(built.stage, 'dist', 'cli.js'), workspace);
  console.log('');
  ({ server, url } = await startUserWorkbench({
    paths,
    folder: workspace,
    vsix: built.vsix,
    displayLanguage: options.locale,
    log: console.log,
  }));
} catch (error) {
  built.dispose();
  console.error(error.message);
  process.exit(1);
}
built.dispose();
console.log(
  `\nVS Code (code-server) is serving the workspace with Crash-Safe State installed (ready in ${((Date.now() - started) / 1000).toFixed(1)} s). Open:\n\n  ${url}\n\nPress Ctrl+C to stop.`,
);
// Ctrl+C or SIGTERM: stop the server's whole process group and remove its profile, then exit. (If this process is
// killed outright, the server notices and does the same; see host/parentWatch.mjs.)
let stopping;
const stop = () => {
  stopping ??= server.stop().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
const { code } = await server.exited;
if (!stopping) {
  console.error(`code-server exited (${code})`);
  await server.stop();
  process.exit(code ?? 1);
}
