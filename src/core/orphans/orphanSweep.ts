import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { threadId } from 'node:worker_threads';
import { formatAge } from '../age';
import { DescriptorsExhaustedError, withOpenFiles } from '../boundedOpens';
import { messageOf } from '../errors';
import {
  errnoOf,
  FileChangedError,
  type FileIdentity,
  type FsLike,
  identityOf,
  nodeFs,
  sameFile,
  sameNode,
} from '../fs';
import { liveTempPaths } from '../names/tempNames';
import { compileCustomPatterns, type RecognisedTemp, recogniseGroupFile, recogniseTemp } from '../names/tempPatterns';
import { GitTrackedFiles } from './gitTracked';
import { OrphanJudge, onlyCopyReason } from './orphanJudge';
import { GROUP_FILE_NOTE, isInside, listFolder, type Orphan, resolveRoots } from './orphanWalk';

/** A temp of ours whose writer is alive and that was touched this recently is being written right now. */
export const LIVE_WRITER_WINDOW_MS = 10 * 60_000;

export interface SweepOptions {
  /** Only orphans at least this old (by mtime, re-read at sweep time) are removed. */
  olderThanMs: number;
  /** Report what would be removed; touch nothing. */
  dryRun?: boolean;
  /** Nothing outside these folders is removed. */
  roots: readonly string[];
  /**
   * How to remove a file (the extension passes a move-to-trash); default: the seam's unlinkChecked, which cannot be
   * redirected by a folder swapped for a symlink. A custom remover gets the same checks immediately before.
   */
  remove?: (path: string) => Promise<void>;
  signal?: AbortSignal;
  onProgress?: (processed: number, total: number) => void;
  fs?: FsLike;
  now?: number;
  /** The same user patterns the scan used, so custom orphans are re-recognised. */
  extraPatterns?: string[];
  /** Also remove valid temps whose target is missing, empty or corrupt (default: keep them for `recover`). */
  includeRecoverable?: boolean;
}

/** What a sweep takes from the user: the extension's settings and the CLI's flags both give this. */
export interface SweepSettings {
  /** Folders the sweep may remove from (the workspace folders, or the CLI's roots). */
  roots: readonly string[];
  /** The `orphanAgeMinutes` setting or `--older-than`. */
  olderThanMinutes: number;
  /** The `tempPatterns` setting or `--pattern`. */
  tempPatterns?: string[];
  /** `--include-recoverable`; the extension never sets it. */
  includeRecoverable?: boolean;
}

/** The one place sweep options are built: the preview, the sweep and the CLI call it, so their rules cannot drift apart. */
export function sweepOptionsFrom(settings: SweepSettings): SweepOptions {
  return {
    olderThanMs: settings.olderThanMinutes * 60_000,
    roots: settings.roots,
    extraPatterns: settings.tempPatterns,
    includeRecoverable: settings.includeRecoverable,
  };
}

export interface SweepResult {
  removed: string[];
  kept: { path: string; reason: string }[];
  failed: { path: string; error: string }[];
}

/** True when a process with this pid exists (EPERM means it exists but belongs to someone else). */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoOf(error) === 'EPERM';
  }
}

/** Why a temp of ours must stay because its writer may still be using it; undefined if it may go. */
export function liveWriterReason(path: string, recognised: RecognisedTemp, ageMs: number): string | undefined {
  if (liveTempPaths.has(path)) return 'this process is writing it right now';
  if (recognised.kind !== 'crash-safe' || recognised.pid === undefined) return undefined;
  // Our own pid and thread: liveTempPaths is exact, so a temp missing from it is from a dead process that had our pid.
  if (recognised.pid === process.pid && recognised.threadId === threadId) return undefined;
  if (ageMs < LIVE_WRITER_WINDOW_MS && isProcessAlive(recognised.pid)) {
    return `its writer (pid ${recognised.pid}) is still running and touched it ${formatAge(ageMs)} ago`;
  }
  return undefined;
}

/** One folder as sweep re-reads it; names that are not valid UTF-8 are kept apart (by their decoded text). */
interface Listing {
  siblings: Set<string>;
  folders: Set<string>;
  undecodable: Set<string>;
}

const UNDECODABLE_TWIN =
  'another name in its folder is not valid UTF-8 and reads as the same text, so which file this path reaches cannot be proven; left in place';

/** The identities a removal was decided on; both must still hold at the unlink. */
interface Proven {
  folder: FileIdentity;
  file: FileIdentity;
}

type Verdict = { remove: Proven } | { keep: string } | { failed: string };

const keep = (reason: string): Verdict => ({ keep: reason });

/**
 * Removes recognised orphans older than the threshold, and only what it has proven may go. Every orphan is re-checked
 * at sweep time: a regular file inside a root, not under a symlink, unchanged since the scan, still recognised, not
 * held by a live writer, old enough, not tracked by git, and not possibly the only good copy of its target (a temp or
 * target that cannot be judged is kept). The folder and file identities seen then must still hold at the unlink.
 * Per-file errors are collected and the sweep goes on.
 */
export async function sweepOrphans(orphans: readonly Orphan[], options: SweepOptions): Promise<SweepResult> {
  const fs = options.fs ?? nodeFs;
  const now = options.now ?? Date.now();
  const custom = compileCustomPatterns(options.extraPatterns);
  const roots = await resolveRoots(fs, options.roots, () => undefined);
  const judge = new OrphanJudge(fs);
  const tracking = await new GitTrackedFiles(fs).check(orphans.map((orphan) => orphan.path));
  const listings = new Map<string, Promise<Listing>>();
  const result: SweepResult = { removed: [], kept: [], failed: [] };

  const listingOf = (dir: string) => {
    let listing = listings.get(dir);
    if (!listing) {
      listing = listFolder(fs, dir).then((entries) => {
        const exact = entries.filter((e) => !e.nameBytes);
        return {
          siblings: new Set(exact.filter((e) => !e.isDirectory()).map((e) => e.name)),
          folders: new Set(exact.filter((e) => e.isDirectory()).map((e) => e.name)),
          undecodable: new Set(entries.filter((e) => e.nameBytes).map((e) => e.name)),
        };
      });
      listings.set(dir, listing);
    }
    return listing;
  };

  const decide = async (orphan: Orphan): Promise<Verdict> => {
    const path = orphan.path;
    const dir = dirname(path);
    if (!isAbsolute(path) || resolve(path) !== path || !roots.some((root) => path !== root && isInside(path, root))) {
      return keep('outside the roots');
    }
    // Removing one file of a group could leave it neither old nor new; only recover --groups finishes a group.
    if (recogniseGroupFile(basename(path))) return keep(GROUP_FILE_NOTE);
    let folderStats: Awaited<ReturnType<FsLike['lstat']>>;
    try {
      if ((await fs.realpath(dir)) !== dir) return keep('reached through a symlink');
      folderStats = await fs.lstat(dir);
    } catch (error) {
      return { failed: messageOf(error) };
    }
    let stats: Awaited<ReturnType<FsLike['lstat']>>;
    try {
      stats = await fs.lstat(path);
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return keep('already gone');
      return { failed: messageOf(error) };
    }
    if (!stats.isFile()) return keep('not a regular file');
    if (stats.mtimeMs !== orphan.mtimeMs || stats.size !== orphan.size) {
      return keep('changed since the scan (still being written?)');
    }
    let listing: Listing;
    try {
      listing = await listingOf(dir);
    } catch (error) {
      if (error instanceof DescriptorsExhaustedError) throw error;
      return { failed: messageOf(error) };
    }
    // Another name here decodes to the same text: which file the path reaches cannot be told from the scan.
    if (listing.undecodable.has(basename(path))) return keep(UNDECODABLE_TWIN);
    const recognised = recogniseTemp(basename(path), listing.siblings, custom, { mtimeMs: stats.mtimeMs, now });
    if (!recognised || join(dir, recognised.target) !== orphan.target || listing.folders.has(recognised.target)) {
      return keep('not recognised as a temp file');
    }
    const ageMs = Math.max(0, now - stats.mtimeMs);
    const live = liveWriterReason(path, recognised, ageMs);
    if (live) return keep(live);
    if (ageMs < options.olderThanMs) {
      return keep(`younger than ${formatAge(options.olderThanMs)} (${formatAge(ageMs)} old)`);
    }
    const git = tracking.get(path);
    if (git === 'tracked') return keep('tracked by git: it is part of the project, not a leftover');
    if (git === 'unknown') return keep('git could not say whether it tracks this file');
    const [target, temp] = await Promise.all([judge.target(orphan.target), judge.temp(path, orphan.target)]);
    const recoverable = temp.validJson === true && target.state !== 'ok' && target.state !== 'unknown';
    if (!(options.includeRecoverable && recoverable)) {
      const reason = onlyCopyReason(target, temp, stats.size);
      if (reason) return keep(reason);
    }
    return { remove: { folder: identityOf(folderStats), file: identityOf(stats) } };
  };

  const removeProven = async (path: string, proven: Proven): Promise<void> => {
    if (!options.remove && fs.unlinkChecked) {
      await fs.unlinkChecked(dirname(path), basename(path), proven.folder, proven.file);
      return;
    }
    // No pinned unlink here: re-check both identities as late as possible, then remove by path.
    const [folderNow, fileNow] = await Promise.all([fs.lstat(dirname(path)), fs.lstat(path)]);
    if (!folderNow.isDirectory() || !sameNode(identityOf(folderNow), proven.folder)) {
      throw new FileChangedError(dirname(path), 'no longer the folder that was checked');
    }
    if (!fileNow.isFile() || !sameFile(identityOf(fileNow), proven.file)) {
      throw new FileChangedError(path, 'changed since it was checked');
    }
    await (options.remove ?? ((target: string) => fs.unlink(target)))(path);
  };

  for (const [index, orphan] of orphans.entries()) {
    options.signal?.throwIfAborted();
    let verdict: Verdict;
    try {
      verdict = await decide(orphan);
    } catch (error) {
      if (!(error instanceof DescriptorsExhaustedError)) throw error;
      // Out of descriptors even after waiting: nothing more can be proven; every orphan left is reported unchecked.
      for (const rest of orphans.slice(index))
        result.failed.push({ path: rest.path, error: `not checked: ${error.message}` });
      break;
    }
    if ('failed' in verdict) result.failed.push({ path: orphan.path, error: verdict.failed });
    else if ('keep' in verdict) result.kept.push({ path: orphan.path, reason: verdict.keep });
    else if (options.dryRun) result.removed.push(orphan.path);
    else {
      try {
        // Re-checked on each try: a retry after a shortage of descriptors proves the file again first.
        await withOpenFiles(() => removeProven(orphan.path, verdict.remove));
        result.removed.push(orphan.path);
      } catch (error) {
        const changed = keptBecauseChanged(error);
        if (changed) result.kept.push({ path: orphan.path, reason: changed });
        else result.failed.push({ path: orphan.path, error: messageOf(error) });
      }
    }
    options.onProgress?.(index + 1, orphans.length);
  }
  return result;
}

/**
 * A removal refused because the file or its folder changed after the decision, or because another process holds the
 * file open, is a keep, not a failure.
 */
function keptBecauseChanged(error: unknown): string | undefined {
  if (error instanceof FileChangedError) return `${error.message}; left in place`;
  const code = errnoOf(error);
  if (code === 'ENOENT') return 'already gone';
  if (code === 'ELOOP' || code === 'ENOTDIR') return 'its folder was replaced after it was checked; left in place';
  // Windows refuses to delete a file another process opened without FILE_SHARE_DELETE: EBUSY, or EPERM once
  // delete-pending. On POSIX, EPERM and EACCES are real permission problems and stay failures.
  if (code === 'EBUSY') return 'in use by another process (EBUSY); left in place';
  if (code === 'EPERM' && process.platform === 'win32') {
    return 'in use by another process, or access to it is denied (EPERM); left in place';
  }
  return undefined;
}
