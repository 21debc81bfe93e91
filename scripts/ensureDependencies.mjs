// Installs the npm dependencies when node_modules is missing or older than package-lock.json.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Returns false when the install failed. */
export function ensureDependencies(root) {
  const installed = join(root, 'node_modules/.package-lock.json');
  const lock = join(root, 'package-lock.json');
  if (existsSync(installed) && statSync(installed).mtimeMs >= statSync(lock).mtimeMs) return true;
  // `npm install` rather than `npm ci`: npm 11's ci rejects this lock for lacking other platforms' optional
  // packages (Biome's), though install honours the same pinned versions.
  console.log('=== installing npm dependencies (npm install)');
  return spawnSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' }).status === 0;
}
