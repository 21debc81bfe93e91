import { lstatSync } from 'node:fs';
import { basename, dirname, join, relative, sep } from 'node:path';
import { listFolderFast, toSlashes, type WalkFilter } from '../folderListing';
import { type FsLike, nodeFs } from '../fs';
import { type CustomPattern, couldBeTemp } from '../names/tempPatterns';
import type { OrphanIndex } from './orphanIndex';

/** What a file watcher reported about one path. */
export interface FileEvent {
  kind: 'created' | 'changed' | 'deleted';
  path: string;
}

/** What one batch of events asks of one workspace folder. */
export interface Work {
  events: number;
  /** Folder → names to re-judge in it. */
  names: Map<string, Set<string>>;
  /** Folder → created names that may be folders. */
  created: Map<string, Set<string>>;
  /** Paths deleted with orphans at or below them. */
  deleted: Set<string>;
  /** Folders to walk again. */
  subtrees: Set<string>;
}

export const newWork = (): Work => ({
  events: 0,
  names: new Map(),
  created: new Map(),
  deleted: new Set(),
  subtrees: new Set(),
});

const addTo = (map: Map<string, Set<string>>, key: string, value: string) => {
  const set = map.get(key);
  if (set) set.add(value);
  else map.set(key, new Set([value]));
};

const GIT_HEAD = `${sep}.git${sep}HEAD`;

/**
 * Notes in `todo` what one event at `real` (a real path inside `root`) asks for, touching no file; false when it
 * asks nothing (excluded, or no rule reads it). A temp-like name is re-judged; a target's event re-judges its temps;
 * a deletion drops what was at or below it; a created name of no interest may be a folder, to walk.
 */
export function planEvent(
  todo: Work,
  kind: FileEvent['kind'],
  real: string,
  root: { real: string; filter: WalkFilter },
  index: OrphanIndex,
  custom: readonly CustomPattern[],
): boolean {
  todo.events += 1;
  if (real === root.real) {
    if (kind !== 'deleted') return false;
    todo.deleted.add(real);
    return true;
  }
  // A checkout (or a branch switch) rewrites HEAD: walk the repository's working tree.
  if (real.endsWith(GIT_HEAD)) {
    todo.subtrees.add(dirname(dirname(real)));
    return true;
  }
  if (root.filter.skipsPath(toSlashes(relative(root.real, real)))) return false;
  const dir = dirname(real);
  const name = basename(real);
  let asked = false;
  if (couldBeTemp(name, custom)) {
    addTo(todo.names, dir, name);
    asked = true;
  }
  // A target came, went or changed: its temps' states (or whether a weak pattern still takes them) follow.
  for (const temp of index.tempsOf(real)) {
    addTo(todo.names, dirname(temp), basename(temp));
    asked = true;
  }
  if (kind === 'deleted' && index.hasUnder(real)) {
    todo.deleted.add(real);
    asked = true;
  } else if (kind === 'created') {
    // Maybe a folder (whatever its name): files written into it before the watcher saw it are never reported.
    addTo(todo.created, dir, name);
    asked = true;
  }
  return asked;
}

/** Created names in one folder beyond which one listing is cheaper than an lstat each. */
const LIST_INSTEAD_OF_LSTAT = 16;

/** Which of `names` in `dir` are folders (not symlinks): an lstat each, or one listing for many. */
export async function foldersAmong(fs: FsLike, dir: string, names: ReadonlySet<string>): Promise<string[]> {
  if (names.size > LIST_INSTEAD_OF_LSTAT) {
    try {
      const entries = await listFolderFast(fs, dir);
      return entries
        .filter((entry) => entry.isDirectory() && names.has(entry.name))
        .map((entry) => join(dir, entry.name));
    } catch {
      return []; // the folder went too; its delete event says so
    }
  }
  const found: string[] = [];
  for (const name of names) {
    const path = join(dir, name);
    try {
      const stats = fs === nodeFs ? lstatSync(path) : await fs.lstat(path);
      if (stats.isDirectory()) found.push(path);
    } catch {
      // Gone already.
    }
  }
  return found;
}
