// Contenders for lock and orphan tests: a pid that is surely dead, a live child that holds nothing, and in-process
// contenders for one lock.
import * as assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type LockSettings, withFileLock } from '../../src/core/lock/fileLock';
import { LOCK_OWNER_FILE, type LockOwner } from '../../src/core/lock/lockOwner';

/** A pid that has just exited (and was reaped). */
export function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  assert.ok(child.pid);
  return child.pid;
}

/** A live child process that idles until killed; resolves once it has spawned, so its pid exists. */
export async function spawnIdleProcess(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('spawn', resolve));
  return child;
}

/** Resolves with the first stdout line of `child` that contains `marker` (or, with `exact`, is `marker`). */
export function waitForLine(child: ChildProcess, marker: string, options: { exact?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const line = buffered.split('\n').find((l) => (options.exact ? l === marker : l.includes(marker)));
      if (line !== undefined) resolve(line);
    });
    child.once('exit', (code, signal) => reject(new Error(`child exited (${code ?? signal}) before "${marker}"`)));
  });
}

/**
 * `count` in-process contenders for the lock on `target` at once, each holding it for 15 ms and checking it still
 * holds it; resolves with the most that were inside at the same time.
 */
export async function mostInsideAtOnce(
  target: string,
  count: number,
  settings: Partial<LockSettings>,
): Promise<number> {
  let inside = 0;
  let maxInside = 0;
  await Promise.all(
    Array.from({ length: count }, () =>
      withFileLock(
        target,
        async (lock) => {
          inside += 1;
          maxInside = Math.max(maxInside, inside);
          await new Promise((resolve) => setTimeout(resolve, 15));
          await lock.assertHeld();
          inside -= 1;
        },
        settings,
      ),
    ),
  );
  return maxInside;
}

/** Plants a lock folder at `lockPath` holding `owner` (a record, raw text, or nothing), its mtime set to `mtimeMs`. */
export function plantLockFolder(lockPath: string, owner: LockOwner | string | undefined, mtimeMs: number): string {
  mkdirSync(lockPath);
  if (owner !== undefined) {
    writeFileSync(join(lockPath, LOCK_OWNER_FILE), typeof owner === 'string' ? owner : JSON.stringify(owner));
  }
  const at = new Date(mtimeMs);
  utimesSync(lockPath, at, at);
  return lockPath;
}
