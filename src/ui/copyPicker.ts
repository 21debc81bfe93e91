import type * as vscode from 'vscode';
import { closeTabs, diffTabs, waitForDiffTab } from './dialogs';
import { type PickerDiff, showDiffPicker } from './diffPicker';

/**
 * One copy a file can be restored from, whatever its source (a temp file today; Local History, git and backups later):
 * what the picker shows, what its diff compares, and how to restore from it.
 */
export interface CopyCandidate<T> {
  label: string;
  description?: string;
  detail?: string;
  /** When the copy was made (ms since the epoch): the picker lists the newest first. */
  time: number;
  /** The copy's content, the right side of the diff while the item is highlighted. */
  uri: vscode.Uri;
  /** The diff's title for this copy. */
  diffTitle: string;
  /** Restores the file from this copy (it may still ask); undefined when nothing was restored. */
  recover(): Promise<T | undefined>;
}

export interface CopyPickerOptions {
  title: string;
  placeholder: string;
  /** The left side of every diff: the file as it is now (an `untitled:` name when it is missing). */
  current: vscode.Uri;
}

/** A Quick Pick item of the picker; `index` finds its candidate. */
interface CopyItem extends vscode.QuickPickItem {
  index: number;
}

/** The candidates newest first; equal times keep the caller's order. */
export function newestFirst<T>(candidates: readonly CopyCandidate<T>[]): CopyCandidate<T>[] {
  return candidates
    .map((candidate, order) => ({ candidate, order }))
    .sort((a, b) => b.candidate.time - a.candidate.time || a.order - b.order)
    .map(({ candidate }) => candidate);
}

/**
 * A Quick Pick of the copies, newest first, with the diff of the current file against the highlighted copy beside it
 * (showDiffPicker). Accepting runs the copy's `recover()` while its diff stays open; that diff closes afterwards,
 * whatever happened, unless it was open before. Resolves to what `recover()` returned, or undefined when cancelled.
 */
export async function pickCopyAndRecover<T>(
  candidates: readonly CopyCandidate<T>[],
  options: CopyPickerOptions,
): Promise<T | undefined> {
  const sorted = newestFirst(candidates);
  const items: CopyItem[] = sorted.map((candidate, index) => ({
    label: candidate.label,
    description: candidate.description,
    detail: candidate.detail,
    index,
  }));
  const diffOf = (item: CopyItem): PickerDiff => ({
    original: options.current,
    modified: sorted[item.index]!.uri,
    title: sorted[item.index]!.diffTitle,
  });
  const openBefore = new Set(
    items.filter((item) => diffTabs(options.current, diffOf(item).modified).length > 0).map((item) => item.index),
  );
  const chosen = await showDiffPicker({
    title: options.title,
    placeholder: options.placeholder,
    items,
    diffOf,
    matchOnDescription: true,
    matchOnDetail: true,
  });
  if (!chosen) return undefined;
  try {
    return await sorted[chosen.index]!.recover();
  } finally {
    if (!openBefore.has(chosen.index)) {
      const { original, modified } = diffOf(chosen);
      await waitForDiffTab(original, modified);
      await closeTabs(diffTabs(original, modified));
    }
  }
}
