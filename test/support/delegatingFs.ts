import type { GroupFs } from '../../src/core/groups/groupJournal';

/**
 * Every call of the seam, bound to `inner` (a class instance's methods live on its prototype, out of a spread's
 * reach), with `hooks` in place of the calls a test intercepts. Optional calls are passed on only where `inner` has them.
 */
export function delegateTo(inner: GroupFs, hooks: Partial<GroupFs> = {}): GroupFs {
  return {
    open: (path, flags, mode) => inner.open(path, flags, mode),
    readFile: (path, maxBytes) => inner.readFile(path, maxBytes),
    rename: (from, to) => inner.rename(from, to),
    unlink: (path) => inner.unlink(path),
    mkdir: (path) => inner.mkdir(path),
    stat: (path) => inner.stat(path),
    lstat: (path) => inner.lstat(path),
    realpath: (path) => inner.realpath(path),
    readdir: (path) => inner.readdir(path),
    fsyncDir: (path) => inner.fsyncDir(path),
    ...(inner.unlinkChecked ? { unlinkChecked: inner.unlinkChecked.bind(inner) } : {}),
    ...(inner.link ? { link: inner.link.bind(inner) } : {}),
    ...hooks,
  };
}
