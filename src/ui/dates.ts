import * as vscode from 'vscode';

/** A date and time in VS Code's display language (not the OS locale, which may differ), e.g. for a German UI. */
export function displayDateTime(value: string | number | Date): string {
  const date = new Date(value);
  try {
    return date.toLocaleString(vscode.env.language);
  } catch {
    return date.toLocaleString(); // a language tag Intl does not accept
  }
}
