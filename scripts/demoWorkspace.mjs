// Copies the shipped demo/ workspace to a scratch folder and backdates its planted temp files,
// because git does not keep modification times and a fresh clone would make every orphan look young.
import { cpSync, readdirSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const HOUR_MS = 60 * 60 * 1000;
/** Planted leftovers; user files that merely look like temps keep their times. */
const PLANTED =
  /(\.\d{10}$|\.tmp-\d{10}[0-9a-z]{6}$|^\..+\.tmp$|\.vsctmp$|\.cs-\d+-\d+-\d+-[0-9a-f]{8}\.tmp$|\.tmp\.[0-9a-f]+$)/;

/** A fresh copy of demo/ at `destination` (default: in the temp folder, outside any git repository), orphans aged one hour. */
export function prepareDemoWorkspace(destination = join(tmpdir(), 'crash-safe-demo-workspace')) {
  rmSync(destination, { recursive: true, force: true });
  cpSync(join(root, 'demo'), destination, { recursive: true });
  const aged = new Date(Date.now() - HOUR_MS);
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (PLANTED.test(name)) utimesSync(path, aged, aged);
    }
  };
  walk(destination);
  return destination;
}
