// Other processes for lock and orphan tests: a pid that is surely dead, and a live child that holds nothing.
import * as assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';

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
