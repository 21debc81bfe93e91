// The main job: build, then open the extension in a real VS Code on a workspace (default: a fresh copy of demo/).
// With `code` on PATH it launches VS Code desktop; otherwise it serves the workbench with code-server on
// 127.0.0.1 and prints the URL to open. Usage: npm start [-- WORKSPACE]
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareDemoWorkspace } from './demoWorkspace.mjs';
import { ensureDependencies } from './ensureDependencies.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = (command, args) => spawnSync(command, args, { cwd: root, stdio: 'inherit' }).status ?? 1;
const onPath = (command) => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;

if (!ensureDependencies(root)) process.exit(1);
if (run(process.execPath, ['esbuild.mjs']) !== 0) process.exit(1);
const workspace = process.argv[2] ? resolve(process.argv[2]) : prepareDemoWorkspace();

console.log(`What the CLI sees in ${workspace}:\n`);
run(process.execPath, [join(root, 'dist', 'cli.js'), 'scan', workspace]);

if (onPath('code') && !process.env.CRASH_SAFE_FORCE_CODE_SERVER) {
  console.log('\nOpening VS Code with the extension loaded…');
  process.exit(run('code', ['--new-window', `--extensionDevelopmentPath=${root}`, workspace]));
}

const { ensureHost } = await import('./host/ensureHost.mjs');
const { startCodeServer } = await import('./host/codeServer.mjs');
const paths = await ensureHost({ log: (line) => console.log(line) });
// The demo is ours, so workspace trust would only hide Sweep and Recover behind a prompt.
const server = await startCodeServer({ paths, disableWorkspaceTrust: true });
const url = server.workbenchUrl({ folder: workspace, extensionDevelopmentPath: root });
console.log(`\nVS Code (code-server) is serving the workspace with Crash-Safe State loaded. Open:\n\n  ${url}\n\nPress Ctrl+C to stop.`);
const stop = async () => {
  await server.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
const { code } = await server.exited;
process.exit(code ?? 1);
