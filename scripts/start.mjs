// The main job: build, then scan a workspace (default: a fresh copy of the shipped demo) for orphaned temp files.
// Usage: npm start [-- WORKSPACE]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareDemoWorkspace } from './demoWorkspace.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = (command, args) => spawnSync(command, args, { cwd: root, stdio: 'inherit' }).status ?? 1;

if (!existsSync(join(root, 'node_modules', '.package-lock.json')) && run('npm', ['ci', '--no-audit', '--no-fund']) !== 0) {
  process.exit(1);
}
if (run(process.execPath, ['esbuild.mjs']) !== 0) process.exit(1);
const workspace = process.argv[2] ? resolve(process.argv[2]) : prepareDemoWorkspace();
console.log(`Scanning ${workspace}\n`);
process.exit(run(process.execPath, [join(root, 'dist', 'cli.js'), 'scan', workspace]));
