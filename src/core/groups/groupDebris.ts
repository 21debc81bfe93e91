// Debris of our own group commits: temps and backups (`<target>.csg-<id>.tmp|.bak`, the journal's own temp) that a
// killed `write-group` left and that no journal names. Removed where it is made (the next group commit in that
// folder, under its lock) and by `recover --groups`; only once its writer is proven dead, and only the very file
// that was judged. Everything else is kept, with the reason.

import { basename, join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { messageOf } from '../errors';
import { errnoOf, type FsLike } from '../fs';
import { holderIsAlive } from '../lock/lockOwner';
import { type RecognisedGroupFile, recogniseGroupFile } from '../names/tempPatterns';
import { findJournal, liveGroupIds } from './groupJournal';
import { resolveInside, type TrustedFolder, type TrustOptions, trustedFolder, unlinkResolved } from './groupTrust';

export interface DebrisReport {
  /** Removed, with the size each had. */
  removed: { path: string; bytes: number }[];
  /** Left where they are, and why (a live writer, a journal naming them, not a regular file, changed since). */
  kept: { path: string; reason: string }[];
}

export const emptyDebrisReport = (): DebrisReport => ({ removed: [], kept: [] });

export const debrisBytes = (report: Pick<DebrisReport, 'removed'>): number =>
  report.removed.reduce((sum, file) => sum + file.bytes, 0);

/**
 * Why the writer of a group file may still be running; undefined once it is proven gone. Pids are judged on this
 * machine as lockOwner judges a lock holder (kill 0, then /proc: a zombie is dead); a pid that cannot be judged,
 * or one another process reuses now, counts as alive. Group names carry no host: see docs/group-commits.md#debris.
 */
export async function liveWriter(named: RecognisedGroupFile): Promise<string | undefined> {
  if (liveGroupIds.has(named.groupId)) return 'this process is committing that group right now';
  // Our own pid and thread: liveGroupIds is exact, so the writer was an earlier process with our pid.
  if (named.pid === process.pid && named.threadId === threadId) return undefined;
  if (!Number.isSafeInteger(named.pid) || named.pid <= 0) return `its writer's pid ${named.pid} cannot be judged`;
  const alive = await holderIsAlive({ pid: named.pid, hostname: '', token: '', acquiredAt: '' });
  return alive ? `its writer (pid ${named.pid}) is still running` : undefined;
}

/**
 * Removes one leftover of a group whose journal is gone, if its writer is dead and it is still the regular file that
 * was judged. Returns the bytes removed, or why it was kept; a file already gone is neither (undefined).
 */
export async function removeDebrisFile(
  fs: FsLike,
  base: TrustedFolder,
  name: string,
  named: RecognisedGroupFile,
): Promise<{ bytes: number } | { keep: string } | undefined> {
  if (named.role === 'journal') return { keep: 'a journal is finished by recovery, never removed as a leftover' };
  const live = await liveWriter(named);
  if (live) return { keep: live };
  const journal = await findJournal(fs, base.path, named.groupId);
  if (journal.state === 'unknown') return { keep: journal.reason };
  if (journal.state === 'found')
    return { keep: `its group's journal ${journal.path} names it; recover --groups finishes that group` };
  try {
    const seen = await resolveInside(fs, base, name);
    if (seen.file === 'absent') return undefined;
    await unlinkResolved(fs, base, name, seen);
    return { bytes: seen.file.size };
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined;
    return { keep: messageOf(error) };
  }
}

/**
 * Removes the dead writers' debris directly in each folder (not below): the leftovers of group commits whose journal
 * is gone. Call it holding the group lock of the folder the next commit journals in. Folders that cannot be trusted
 * (a symlink, another user's folder when running as root) or read are reported in `kept` and left alone. `listed`:
 * listings of some of the folders the caller already made (each name found there is judged again, on its own).
 */
export async function removeDeadGroupDebris(
  fs: FsLike,
  folders: string | readonly string[],
  options: TrustOptions = {},
  listed: ReadonlyMap<string, readonly string[]> = new Map(),
): Promise<DebrisReport> {
  const report = emptyDebrisReport();
  const done = new Set<string>();
  for (const folder of new Set(typeof folders === 'string' ? [folders] : folders)) {
    let names: string[];
    try {
      // This process's groups in progress (the caller's own among them) are not candidates at all.
      names = (listed.get(folder) ?? (await fs.readdir(folder))).filter((name) => {
        const named = recogniseGroupFile(name);
        return named !== undefined && named.role !== 'journal' && !liveGroupIds.has(named.groupId);
      });
    } catch (error) {
      report.kept.push({ path: folder, reason: `cannot list it: ${messageOf(error)}` });
      continue;
    }
    if (names.length === 0) continue;
    let base: TrustedFolder;
    try {
      base = await trustedFolder(fs, folder, options);
    } catch (error) {
      for (const name of names) report.kept.push({ path: join(folder, name), reason: messageOf(error) });
      continue;
    }
    if (done.has(base.path)) continue;
    done.add(base.path);
    for (const name of names.sort()) {
      const path = join(base.path, name);
      const outcome = await removeDebrisFile(fs, base, name, recogniseGroupFile(basename(path))!);
      if (outcome === undefined) continue;
      if ('keep' in outcome) report.kept.push({ path, reason: outcome.keep });
      else report.removed.push({ path, bytes: outcome.bytes });
    }
  }
  return report;
}
