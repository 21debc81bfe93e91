import * as vscode from 'vscode';
import { closeTabs, diffTabs, waitForDiffTab } from './dialogs';

/** The diff a picker item shows while it is highlighted: `original` on the left, `modified` on the right. */
export interface PickerDiff {
  original: vscode.Uri;
  modified: vscode.Uri;
  title: string;
}

export interface DiffPickerOptions<T extends vscode.QuickPickItem> {
  title: string;
  placeholder: string;
  items: readonly T[];
  /** The diff of an item; undefined shows none for it (the last diff stays). */
  diffOf: (item: T) => PickerDiff | undefined;
  /** Highlighted first (default: the first item). */
  active?: T;
  matchOnDescription?: boolean;
  matchOnDetail?: boolean;
}

/**
 * A Quick Pick that shows the diff of the highlighted item beside it, following the highlight, without taking the
 * focus. Resolves with the item accepted (Enter) or undefined (Escape, focus elsewhere does not close it). The diffs
 * it opened are closed again, except the accepted item's: the caller confirms against it and closes it after.
 * A diff that was open before the picker is never closed.
 */
export async function showDiffPicker<T extends vscode.QuickPickItem>(
  options: DiffPickerOptions<T>,
): Promise<T | undefined> {
  const picker = vscode.window.createQuickPick<T>();
  const opened: PickerDiff[] = [];
  const opening: Thenable<unknown>[] = [];
  const wasOpen = (diff: PickerDiff) => diffTabs(diff.original, diff.modified).length > 0;
  let accepted: T | undefined;
  try {
    picker.title = options.title;
    picker.placeholder = options.placeholder;
    picker.items = options.items;
    if (options.active) picker.activeItems = [options.active];
    picker.matchOnDescription = options.matchOnDescription ?? false;
    picker.matchOnDetail = options.matchOnDetail ?? false;
    // Showing the diff keeps the focus in the picker; should the workbench move it anyway, the picker stays open.
    picker.ignoreFocusOut = true;
    const preview = (item: T | undefined) => {
      const diff = item && options.diffOf(item);
      if (!diff) return;
      if (!opened.some((seen) => sameDiff(seen, diff)) && !wasOpen(diff)) opened.push(diff);
      opening.push(
        vscode.commands.executeCommand('vscode.diff', diff.original, diff.modified, diff.title, {
          preview: true,
          preserveFocus: true,
        }),
      );
    };
    accepted = await new Promise<T | undefined>((resolve) => {
      picker.onDidChangeActive((active) => preview(active[0]));
      picker.onDidAccept(() => resolve(picker.selectedItems[0] ?? picker.activeItems[0]));
      picker.onDidHide(() => resolve(undefined));
      picker.show();
      preview(options.active ?? options.items[0]);
    });
    return accepted;
  } finally {
    picker.dispose();
    // A diff still opening would escape the close below, and the extension host hears of a new tab late.
    await Promise.allSettled(opening);
    const last = opened.at(-1);
    if (last) await waitForDiffTab(last.original, last.modified);
    const kept = accepted && options.diffOf(accepted);
    const stale = opened.filter((diff) => !kept || !sameDiff(diff, kept));
    await closeTabs(stale.flatMap((diff) => diffTabs(diff.original, diff.modified)));
  }
}

function sameDiff(a: PickerDiff, b: PickerDiff): boolean {
  return a.original.toString() === b.original.toString() && a.modified.toString() === b.modified.toString();
}
