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
