// Where an editor swap (a plain tab replaced by its `crashsafe:` editor, or back) shows its new editor. A swap takes
// a moment (the new document is read first), and a user who turned to another file meanwhile keeps it in front and
// keeps the focus: the new editor then opens behind theirs, in the same group.
import * as vscode from 'vscode';

/**
 * Test seam, reachable through the API's diagnostics: holds each swap this long once its new document is open, so an
 * in-host test can act before the swap deterministically. 0 in use.
 */
export const crashSafeReopenTiming = { holdSwapMs: 0 };

export async function holdSwapForTests(): Promise<void> {
  if (crashSafeReopenTiming.holdSwapMs > 0) {
    await new Promise((resolve) => setTimeout(resolve, crashSafeReopenTiming.holdSwapMs));
  }
}

export function sameUri(a: vscode.Uri, b: vscode.Uri): boolean {
  return a.toString() === b.toString();
}

/** The tab group in `viewColumn`, looked up again (TabGroup objects go stale). */
export function groupIn(viewColumn: vscode.ViewColumn | undefined): vscode.TabGroup | undefined {
  return vscode.window.tabGroups.all.find((group) => group.viewColumn === viewColumn);
}

/** Whether the text tab of `uri` is the active tab of the group in `viewColumn`. */
export function isActiveTabIn(viewColumn: vscode.ViewColumn | undefined, uri: vscode.Uri): boolean {
  const input = groupIn(viewColumn)?.activeTab?.input;
  return input instanceof vscode.TabInputText && sameUri(input.uri, uri);
}

export interface SwapShowOptions {
  preview: boolean;
  selection?: vscode.Range;
  /** Take the focus (when the user has not moved it to another group since the swap began). */
  focus: boolean;
}

/**
 * Shows `document` in `viewColumn`, in place of the editor of `lookedAt`: the one the user looked at when the swap
 * began. When that tab is no longer its group's active tab, the user has turned to another file, and the new editor
 * opens behind it without the focus. Returns the editor when it was shown.
 */
export async function showInPlaceOf(
  lookedAt: vscode.Uri | undefined,
  document: vscode.TextDocument,
  viewColumn: vscode.ViewColumn | undefined,
  options: SwapShowOptions,
): Promise<vscode.TextEditor | undefined> {
  const shown = {
    viewColumn,
    preview: options.preview,
    selection: options.selection,
    preserveFocus: !options.focus,
  };
  if (lookedAt && groupIn(viewColumn) && !isActiveTabIn(viewColumn, lookedAt)) {
    // `vscode.open` passes `background` on as the workbench's `inactive` (a tab, not shown, not focused), and
    // `override` as "the text editor", as showTextDocument opens, whatever editor association a user set.
    await vscode.commands.executeCommand('vscode.open', document.uri, {
      ...shown,
      preserveFocus: true,
      background: true,
      override: true,
    });
    return undefined;
  }
  return vscode.window.showTextDocument(document, shown);
}
