import * as vscode from 'vscode';

/**
 * Asks a modal yes/no question; true only when the user picks `action`.
 * A dialog that cannot be shown (hosts that refuse dialogs reject instead of answering) counts as "no".
 */
export async function confirmModal(message: string, action: string, detail?: string): Promise<boolean> {
  try {
    return (await vscode.window.showWarningMessage(message, { modal: true, detail }, action)) === action;
  } catch {
    return false;
  }
}

/** How long to wait for the workbench to report a tab just opened (the extension host hears of tabs late). */
const TAB_SEEN_TIMEOUT_MS = 2_000;

/** The open tabs that show the diff of `original` (left) and `modified` (right). */
export function diffTabs(original: vscode.Uri, modified: vscode.Uri): vscode.Tab[] {
  return vscode.window.tabGroups.all
    .flatMap((group) => group.tabs)
    .filter(
      (tab) =>
        tab.input instanceof vscode.TabInputTextDiff &&
        tab.input.original.toString() === original.toString() &&
        tab.input.modified.toString() === modified.toString(),
    );
}

/** Closes `tabs`, if any; a tab closed meanwhile is no failure. */
export async function closeTabs(tabs: readonly vscode.Tab[]): Promise<void> {
  if (tabs.length > 0) await Promise.resolve(vscode.window.tabGroups.close([...tabs], true)).catch(() => undefined);
}

export function waitForDiffTab(original: vscode.Uri, modified: vscode.Uri): Promise<void> {
  if (diffTabs(original, modified).length > 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      listener.dispose();
      resolve();
    };
    const timer = setTimeout(done, TAB_SEEN_TIMEOUT_MS);
    const listener = vscode.window.tabGroups.onDidChangeTabs(() => {
      if (diffTabs(original, modified).length > 0) done();
    });
  });
}

/**
 * Shows `vscode.diff` of the two files while `decide` runs (a confirmation), then closes that diff tab again,
 * whatever was decided, unless the same diff was already open before.
 */
export async function withDiff<T>(
  original: vscode.Uri,
  modified: vscode.Uri,
  title: string,
  decide: () => Promise<T>,
): Promise<T> {
  const wasOpen = diffTabs(original, modified).length > 0;
  await vscode.commands.executeCommand('vscode.diff', original, modified, title, { preview: true });
  try {
    return await decide();
  } finally {
    if (!wasOpen) {
      await waitForDiffTab(original, modified);
      const tabs = diffTabs(original, modified);
      if (tabs.length > 0) await Promise.resolve(vscode.window.tabGroups.close(tabs)).catch(() => undefined);
    }
  }
}

/** Replacing a valid file is allowed, but only when asked for, after the diff. */
export function confirmReplaceValid(relativeTarget: string, copy: string): Promise<boolean> {
  return confirmModal(
    vscode.l10n.t('{0} is valid. Replace a valid file with {1}?', relativeTarget, copy),
    vscode.l10n.t('Replace Valid File'),
    vscode.l10n.t(
      'There is nothing to repair: this replaces content that parses. The current file is kept as a backup.',
    ),
  );
}
