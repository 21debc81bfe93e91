import * as vscode from 'vscode';
import { waitForDiffTab } from './dialogs';

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

const sameUri = (a: vscode.Uri, b: vscode.Uri) => a.toString() === b.toString();

const diffKey = (tab: vscode.Tab) =>
  tab.input instanceof vscode.TabInputTextDiff ? `${tab.input.original}\n${tab.input.modified}` : '';

/** Diff tabs of `current` against one of `copies`. */
function copyDiffTabs(current: vscode.Uri, copies: readonly vscode.Uri[]): vscode.Tab[] {
  return vscode.window.tabGroups.all
    .flatMap((group) => group.tabs)
    .filter(
      (tab) =>
        tab.input instanceof vscode.TabInputTextDiff &&
        sameUri(tab.input.original, current) &&
        copies.some((copy) => sameUri((tab.input as vscode.TabInputTextDiff).modified, copy)),
    );
}

/** The candidates newest first; equal times keep the caller's order. */
export function newestFirst<T>(candidates: readonly CopyCandidate<T>[]): CopyCandidate<T>[] {
  return candidates
    .map((candidate, order) => ({ candidate, order }))
    .sort((a, b) => b.candidate.time - a.candidate.time || a.order - b.order)
    .map(({ candidate }) => candidate);
}

/**
 * A Quick Pick of the copies, newest first. While an item is highlighted a diff of the current file against that copy
 * is open (preview, focus kept on the picker). Accepting runs the copy's `recover()`; the diffs the picker opened close
 * afterwards, whatever happened. Resolves to what `recover()` returned, or undefined when cancelled.
 */
export async function pickCopyAndRecover<T>(
  candidates: readonly CopyCandidate<T>[],
  options: CopyPickerOptions,
): Promise<T | undefined> {
  const sorted = newestFirst(candidates);
  const copies = sorted.map((candidate) => candidate.uri);
  // A diff the user had open before stays open after.
  const openBefore = new Set(copyDiffTabs(options.current, copies).map(diffKey));
  const items: CopyItem[] = sorted.map((candidate, index) => ({
    label: candidate.label,
    description: candidate.description,
    detail: candidate.detail,
    index,
  }));
  const picker = vscode.window.createQuickPick<CopyItem>();
  picker.title = options.title;
  picker.placeholder = options.placeholder;
  picker.items = items;
  picker.matchOnDescription = true;
  picker.matchOnDetail = true;
  // Showing the diff keeps the focus on the picker; should a host move it anyway, the picker stays open.
  picker.ignoreFocusOut = true;
  let shown: number | undefined;
  let opening: Thenable<unknown> = Promise.resolve();
  const preview = (item: CopyItem | undefined) => {
    if (!item || item.index === shown) return;
    shown = item.index;
    const candidate = sorted[item.index]!;
    opening = vscode.commands.executeCommand('vscode.diff', options.current, candidate.uri, candidate.diffTitle, {
      preview: true,
      preserveFocus: true,
    });
  };
  try {
    const chosen = await new Promise<CopyCandidate<T> | undefined>((resolve) => {
      picker.onDidChangeActive((active) => preview(active[0]));
      picker.onDidAccept(() => {
        const item = picker.selectedItems[0] ?? picker.activeItems[0];
        resolve(item ? sorted[item.index] : undefined);
        picker.hide();
      });
      picker.onDidHide(() => resolve(undefined));
      picker.show();
      preview(items[0]);
    });
    // The chosen copy's diff stays open while its recover() asks.
    return chosen ? await chosen.recover() : undefined;
  } finally {
    picker.dispose();
    await Promise.resolve(opening).catch(() => undefined);
    // The extension host hears of a tab just opened late: wait for the last one shown, so it closes too.
    if (shown !== undefined) await waitForDiffTab(options.current, sorted[shown]!.uri);
    const opened = copyDiffTabs(options.current, copies).filter((tab) => !openBefore.has(diffKey(tab)));
    if (opened.length > 0) await Promise.resolve(vscode.window.tabGroups.close(opened)).catch(() => undefined);
  }
}
