import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { threadId } from 'node:worker_threads';
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
import { type Reason, reasonText } from '../reasons';
import { GitTrackedFiles } from './gitTracked';
import { OrphanJudge, onlyCopyReason } from './orphanJudge';
import { isInside, listFolder, type Orphan, resolveRoots } from './orphanWalk';

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

/** A file sweep left in place: why as a code (the extension words it) and in English (reasonText, the CLI's). */
export interface KeptFile {
  path: string;
  reason: string;
  why: Reason;
}

export interface SweepResult {
  removed: string[];
  kept: KeptFile[];
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
export function liveWriterReason(path: string, recognised: RecognisedTemp, ageMs: number): Reason | undefined {
  if (liveTempPaths.has(path)) return { code: 'writing-now' };
  if (recognised.kind !== 'crash-safe' || recognised.pid === undefined) return undefined;
  // Our own pid and thread: liveTempPaths is exact, so a temp missing from it is from a dead process that had our pid.
  if (recognised.pid === process.pid && recognised.threadId === threadId) return undefined;
  if (ageMs < LIVE_WRITER_WINDOW_MS && isProcessAlive(recognised.pid)) {
    return { code: 'writer-running', pid: recognised.pid, ageMs };
  }
  return undefined;
}

/** One folder as sweep re-reads it; names that are not valid UTF-8 are kept apart (by their decoded text). */
interface Listing {
  siblings: Set<string>;
  folders: Set<string>;
  undecodable: Set<string>;
}

/** The identities a removal was decided on; both must still hold at the unlink. */
interface Proven {
  folder: FileIdentity;
  file: FileIdentity;
}

type Verdict = { remove: Proven } | { keep: Reason } | { failed: string };

const keep = (reason: Reason): Verdict => ({ keep: reason });
const kept = (path: string, why: Reason): KeptFile => ({ path, reason: reasonText(why), why });

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
      return keep({ code: 'outside-roots' });
    }
    // Removing one file of a group could leave it neither old nor new; only recover --groups finishes a group.
    if (recogniseGroupFile(basename(path))) return keep({ code: 'group-file' });
    let folderStats: Awaited<ReturnType<FsLike['lstat']>>;
    try {
      if ((await fs.realpath(dir)) !== dir) return keep({ code: 'through-symlink' });
      folderStats = await fs.lstat(dir);
    } catch (error) {
      return { failed: messageOf(error) };
    }
    let stats: Awaited<ReturnType<FsLike['lstat']>>;
    try {
      stats = await fs.lstat(path);
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return keep({ code: 'already-gone' });
      return { failed: messageOf(error) };
    }
    if (!stats.isFile()) return keep({ code: 'not-regular-file' });
    if (stats.mtimeMs !== orphan.mtimeMs || stats.size !== orphan.size) {
      return keep({ code: 'changed-since-scan' });
    }
    let listing: Listing;
    try {
      listing = await listingOf(dir);
    } catch (error) {
      if (error instanceof DescriptorsExhaustedError) throw error;
      return { failed: messageOf(error) };
    }
    // Another name here decodes to the same text: which file the path reaches cannot be told from the scan.
    if (listing.undecodable.has(basename(path))) return keep({ code: 'undecodable-twin' });
    const recognised = recogniseTemp(basename(path), listing.siblings, custom, { mtimeMs: stats.mtimeMs, now });
    if (!recognised || join(dir, recognised.target) !== orphan.target || listing.folders.has(recognised.target)) {
      return keep({ code: 'not-recognised' });
    }
    const ageMs = Math.max(0, now - stats.mtimeMs);
    const live = liveWriterReason(path, recognised, ageMs);
    if (live) return keep(live);
    if (ageMs < options.olderThanMs) {
      return keep({ code: 'too-young', minimumMs: options.olderThanMs, ageMs });
    }
    const git = tracking.get(path);
    if (git === 'tracked') return keep({ code: 'git-tracked' });
    if (git === 'unknown') return keep({ code: 'git-unknown' });
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
    else if ('keep' in verdict) result.kept.push(kept(orphan.path, verdict.keep));
    else if (options.dryRun) result.removed.push(orphan.path);
    else {
      try {
        // Re-checked on each try: a retry after a shortage of descriptors proves the file again first.
        await withOpenFiles(() => removeProven(orphan.path, verdict.remove));
        result.removed.push(orphan.path);
      } catch (error) {
        const changed = keptBecauseChanged(error);
        if (changed) result.kept.push(kept(orphan.path, changed));
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
function keptBecauseChanged(error: unknown): Reason | undefined {
  if (error instanceof FileChangedError) return { code: 'changed-before-removal', message: error.message };
  const code = errnoOf(error);
  if (code === 'ENOENT') return { code: 'already-gone' };
  if (code === 'ELOOP' || code === 'ENOTDIR') return { code: 'folder-replaced' };
  // Windows refuses to delete a file another process opened without FILE_SHARE_DELETE: EBUSY, or EPERM once
  // delete-pending. On POSIX, EPERM and EACCES are real permission problems and stay failures.
  if (code === 'EBUSY') return { code: 'busy' };
  if (code === 'EPERM' && process.platform === 'win32') return { code: 'busy-or-denied' };
  return undefined;
}
