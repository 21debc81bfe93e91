import * as vscode from 'vscode';

/** Read-only documents holding a copy's bytes (or a broken file's) for the picker's diff: nothing is written to disk. */
export const COPY_SCHEME = 'crashsafe-copy';

/**
 * Serves `crashsafe-copy:` documents from readers registered per picker. The URI's path is the file's own path, so
 * the diff shows its name and language; the query tells the copies apart.
 */
export class CopyContentProvider implements vscode.TextDocumentContentProvider {
  private readonly readers = new Map<string, () => Promise<Uint8Array>>();
  private session = 0;

  /** A URI for bytes that `read` returns (read again, bounded and digest-checked, when VS Code asks). */
  uriFor(path: string, key: string, read: () => Promise<Uint8Array>): vscode.Uri {
    const uri = vscode.Uri.from({
      scheme: COPY_SCHEME,
      path: vscode.Uri.file(path).path,
      query: `${this.session}-${key}`,
    });
    this.readers.set(uri.toString(), read);
    return uri;
  }

  /** A new set of URIs: a later picker never shows an earlier one's cached text, and the earlier readers go. */
  nextSession(): void {
    this.session += 1;
    this.readers.clear();
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const read = this.readers.get(uri.toString());
    if (!read) return '';
    try {
      return new TextDecoder('utf-8').decode(await read());
    } catch (error) {
      return vscode.l10n.t(
        '(this copy cannot be read any more: {0})',
        error instanceof Error ? error.message : String(error),
      );
    }
  }
}
