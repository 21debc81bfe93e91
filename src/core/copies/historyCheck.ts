import { isAbsolute, relative as relativePath } from 'node:path';
import { DescriptorsExhaustedError, mapBounded } from '../boundedOpens';
import { type FsLike, nodeFs } from '../fs';
import type { Copy } from './copyModel';
import { type HistoryIndex, type HistoryOptions, readHistoryIndex } from './historyCopies';
import { judgeBroken } from './judgeBroken';

/** A file with NUL-filled or empty content (the classic power-loss damage) that a good copy can restore. */
export interface BrokenWithCopy {
  target: string;
  reason: 'nul' | 'empty';
  /** The copy Recover From… would offer first. */
  best: Copy;
}

/**
 * The best copy of a file (the newest good one) as the caller's finders see it, or undefined. `historyIndex`: the
 * Local History index the check already read, for the caller's history finder (HistoryOptions.index).
 */
export type BestCopyFinder = (
  target: string,
  signal?: AbortSignal,
  historyIndex?: HistoryIndex,
) => Promise<Copy | undefined>;

/** Files judged at once: each is read whole (bounded), so few. */
const FILES_AT_ONCE = 8;
/** A file larger than this is not read by the check (it only looks for NUL-filled or empty content). */
export const LARGEST_CHECKED = 16 * 1024 * 1024;

const insideAny = (path: string, folders: readonly string[]) =>
  folders.some((folder) => {
    const inside = relativePath(folder, path);
    return inside !== '' && !inside.startsWith('..') && !isAbsolute(inside);
  });

/**
 * Whether `target` is NUL-filled or empty with a good copy to restore it. Unknown (missing, unreadable, too large,
 * not a regular file) means no claim; running out of descriptors or being cancelled is thrown.
 */
export async function brokenWithCopy(
  target: string,
  bestCopyOf: BestCopyFinder,
  signal?: AbortSignal,
  fs: FsLike = nodeFs,
  historyIndex?: HistoryIndex,
): Promise<BrokenWithCopy | undefined> {
  try {
    const stats = await fs.stat(target);
    if (!stats.isFile() || stats.size > LARGEST_CHECKED) return undefined;
    const verdict = await judgeBroken(target, { fs });
    if (verdict.state !== 'broken' || (verdict.reason !== 'nul' && verdict.reason !== 'empty')) return undefined;
    const best = await bestCopyOf(target, signal, historyIndex);
    return best ? { target, reason: verdict.reason, best } : undefined;
  } catch (error) {
    if (error instanceof DescriptorsExhaustedError || signal?.aborted) throw error;
    return undefined;
  }
}

export interface KnownFilesCheck {
  /** Files inside the folders that Local History knows (the `resource` of each entries.json), each once. */
  known: string[];
  /** Per known file (same order): the broken one with its copy, or undefined. */
  found: (BrokenWithCopy | undefined)[];
  /** What the History index reader reported (skipped folders, refusals). */
  notes: string[];
}

/**
 * The start-up check: every file inside `folders` that Local History knows is judged for NUL-filled or empty
 * content, a few at a time. Read-only; cancelled through `signal`.
 */
export async function checkFilesHistoryKnows(
  historyDir: string,
  folders: readonly string[],
  options: { history?: HistoryOptions; bestCopyOf: BestCopyFinder; signal?: AbortSignal; fs?: FsLike },
): Promise<KnownFilesCheck> {
  const { signal, fs = nodeFs } = options;
  const index = await readHistoryIndex(fs, historyDir, { ...options.history, signal });
  const known = [
    ...new Set(
      index.folders.flatMap((folder) => (folder.path && insideAny(folder.path, folders) ? [folder.path] : [])),
    ),
  ];
  const found = await mapBounded(known, FILES_AT_ONCE, (path) => {
    signal?.throwIfAborted();
    return brokenWithCopy(path, options.bestCopyOf, signal, fs, index);
  });
  return { known, found, notes: index.notes };
}
