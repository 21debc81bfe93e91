import { readdirSync, statSync } from 'node:fs';
import { OUR_TEMP_PATTERN } from '../../src/core/names/tempNames';

/** A file's permission bits, set-ID and sticky bits included. */
export const modeOf = (path: string) => statSync(path).mode & 0o7777;

/** Our temps left in `dir`. */
export const leftovers = (dir: string) => readdirSync(dir).filter((name) => OUR_TEMP_PATTERN.test(name));

/** Runs `run` under the umask `mask`, then puts the old one back. */
export function withUmask<T>(mask: number, run: () => Promise<T>): Promise<T> {
  const old = process.umask(mask);
  return run().finally(() => process.umask(old));
}
