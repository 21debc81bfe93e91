// Files with an age: the orphan rules judge temps and locks by mtime, so tests plant files "written" a while ago.
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Sets the atime and mtime of `path` to `ageMs` before now. */
export function setAge(path: string | Buffer, ageMs: number): void {
  const when = new Date(Date.now() - ageMs);
  utimesSync(path, when, when);
}

/** Writes `content` to `path` (making its folder), `ageMs` old; an age of 0 or none leaves the mtime at now. */
export function writeAgedFile(path: string, content: string | Buffer, ageMs?: number): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  if (ageMs) setAge(path, ageMs);
  return path;
}

/** Plants `count` targets `t<i>.json`, each with one temp of ours beside it that is `ageMs` old. */
export function plantTempPairs(dir: string, count: number, ageMs: number): void {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < count; i++) {
    writeFileSync(join(dir, `t${i}.json`), `{"target":${i}}\n`);
    const temp = join(dir, `t${i}.json.cs-4242-0-1-0123abcd.tmp`);
    writeFileSync(temp, `{"temp":${i}}\n`);
    setAge(temp, ageMs);
  }
}
