// Copies the shipped demo/ workspace to a scratch folder and backdates its planted temp files,
// because git does not keep modification times and a fresh clone would make every orphan look young.
// Each copy is new: a folder that exists (a window may have it open, with the user's to-dos and backups in it) is
// never replaced or deleted, and copies are kept after `npm start` ends, since a VS Code window may still use one.
import { cpSync, mkdirSync, mkdtempSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const HOUR_MS = 60 * 60 * 1000;
/** Prefix of the folders that hold the demo copies, one per run, in the temp folder. */
export const DEMO_FOLDER_PREFIX = 'crash-safe-demo-';
/** Planted leftovers; user files that merely look like temps keep their times. */
const PLANTED =
  /(\.\d{10}$|\.tmp-\d{10}[0-9a-z]{6}$|^\..+\.tmp$|\.vsctmp$|\.cs-\d+-\d+-\d+-[0-9a-f]{8}\.tmp$|\.tmp\.[0-9a-f]+$)/;

/**
 * A fresh copy of demo/ at `destination`, orphans aged one hour. Without `destination`: `demo/` in a new folder of
 * its own in the temp folder (outside any git repository), so no earlier run's copy is touched. A `destination`
 * that exists is refused, never replaced.
 */
export function prepareDemoWorkspace(destination = join(mkdtempSync(join(tmpdir(), DEMO_FOLDER_PREFIX)), 'demo')) {
  try {
    // Created here, atomically: a folder that exists already is someone's, even if it appeared a moment ago.
    mkdirSync(destination);
  } catch (error) {
    if (error.code !== 'EEXIST') throw error;
    throw new Error(`${destination} exists; the demo is copied only to a new folder, never over one`);
  }
  cpSync(join(root, 'demo'), destination, { recursive: true, errorOnExist: true, force: false });
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
