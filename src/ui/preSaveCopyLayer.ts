// The second layer of `crashSafeState.crashSafeSave.files`, which needs no reopen: VS Code saves a matching file as
// it always does (truncate, then write), but first we copy the content being saved durably (src/state/preSaveCopies),
// and remove the copy once the save is seen complete on disk. A save torn by a crash leaves the copy for Recover From…
import * as vscode from 'vscode';
import { digestOf } from '../core/copies/copyModel';
import { messageOf } from '../core/errors';
import type { Durability } from '../core/write/durability';
import { PreSaveCopies, type PreSaveCopy } from '../state/preSaveCopies';
import { CrashSafeSaveFilesMatcher } from './crashSafeSave/crashSafeSaveFiles';

/**
 * How long a save waits for its copy. VS Code gives each onWillSave listener 1.5 s and stops calling one that
 * overruns three times; past this bound the save goes on and the copy is finished in the background.
 */
export const PRE_SAVE_WAIT_MS = 1000;

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** A copy in flight or made, until its save is seen on disk. Only digests are kept: a document may be 256 MiB. */
interface PendingSave {
  copy: Promise<PreSaveCopy | undefined>;
  digest: string;
  bomDigest: string;
}

export interface PreSaveStats {
  written: number;
  pruned: number;
  kept: number;
  skipped: number;
  /** Copies that took longer than PRE_SAVE_WAIT_MS: the save did not wait for them. */
  slow: number;
  failed: number;
}

/**
 * The document's text as the save writes it, or why that is not known. `TextDocument.encoding` exists from VS Code
 * 1.100; before it, `files.encoding` is what a save uses unless the file was guessed otherwise.
 */
function savedBytes(document: vscode.TextDocument): { bytes: Buffer } | { refused: string } {
  const known = (document as { encoding?: unknown }).encoding;
  const encoding = known ?? vscode.workspace.getConfiguration('files', document).get<unknown>('encoding');
  if (encoding !== 'utf8' && encoding !== 'utf8bom') return { refused: `encoding ${String(encoding)} is not UTF-8` };
  const text = Buffer.from(document.getText(), 'utf8');
  return { bytes: encoding === 'utf8bom' ? Buffer.concat([UTF8_BOM, text]) : text };
}

export class PreSaveCopyLayer implements vscode.Disposable {
  readonly stats: PreSaveStats = { written: 0, pruned: 0, kept: 0, skipped: 0, slow: 0, failed: 0 };
  private readonly copies: PreSaveCopies;
  private readonly pending = new Map<string, PendingSave>();
  private readonly disposables: vscode.Disposable[];
  private readonly matcher = new CrashSafeSaveFilesMatcher();

  constructor(
    options: { durability: () => Durability },
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.copies = new PreSaveCopies({ durability: options.durability });
    this.disposables = [
      vscode.workspace.onWillSaveTextDocument((event) => this.willSave(event)),
      vscode.workspace.onDidSaveTextDocument((document) => void this.didSave(document)),
      vscode.workspace.onDidCloseTextDocument((document) => this.pending.delete(document.uri.toString())),
    ];
  }

  /** The workspace folder of a `file:` document whose path matches `crashSafeSave.files`. */
  private folderOf(document: vscode.TextDocument): string | undefined {
    return this.matcher.folderOf(document.uri);
  }

  private willSave(event: vscode.TextDocumentWillSaveEvent): void {
    const { document } = event;
    const folder = this.folderOf(document);
    if (folder === undefined) return;
    // Restricted Mode: we write nothing into a folder the user has not trusted.
    if (!vscode.workspace.isTrusted) return;
    const target = document.uri.fsPath;
    const content = savedBytes(document);
    if ('refused' in content) {
      this.stats.skipped++;
      this.log.warn(`No pre-save copy of ${target}: ${content.refused}`);
      return;
    }
    const copy = this.copies.write(folder, target, content.bytes).then(
      (result) => {
        if ('written' in result) {
          this.stats.written++;
          return result.written;
        }
        this.stats.skipped++;
        this.log.warn(`No pre-save copy of ${target}: ${result.skipped}`);
        return undefined;
      },
      (error: unknown) => {
        this.stats.failed++;
        this.log.error(`Pre-save copy of ${target} failed; the save goes on: ${messageOf(error)}`);
        return undefined;
      },
    );
    this.pending.set(document.uri.toString(), {
      copy,
      digest: digestOf(content.bytes),
      bomDigest: digestOf(Buffer.concat([UTF8_BOM, content.bytes])),
    });
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.stats.slow++;
        this.log.warn(`Pre-save copy of ${target} took over ${PRE_SAVE_WAIT_MS} ms; the save did not wait for it`);
        resolve();
      }, PRE_SAVE_WAIT_MS);
    });
    event.waitUntil(Promise.race([copy, bound]).then(() => clearTimeout(timer)));
  }

  private async didSave(document: vscode.TextDocument): Promise<void> {
    const key = document.uri.toString();
    const entry = this.pending.get(key);
    if (!entry) return;
    // What the save wrote: the copied text, or the text now, when save participants (format, trim) changed it.
    const digests = [entry.digest, entry.bomDigest];
    if (!document.isDirty) {
      const now = savedBytes(document);
      if ('bytes' in now) digests.push(digestOf(now.bytes), digestOf(Buffer.concat([UTF8_BOM, now.bytes])));
    }
    const copy = await entry.copy;
    if (this.pending.get(key) === entry) this.pending.delete(key);
    if (!copy) return;
    const result = await this.copies.pruneIfSaved(copy, document.uri.fsPath, digests);
    if (result.pruned) {
      this.stats.pruned++;
      this.log.trace(`Pre-save copy of ${document.uri.fsPath} removed: the save is complete on disk`);
    } else {
      this.stats.kept++;
      this.log.warn(
        `Pre-save copy ${copy.path} kept: ${result.kept}. Recover with "crash-safe recover ${document.uri.fsPath} --list".`,
      );
    }
  }

  dispose(): void {
    for (const disposable of this.disposables) disposable.dispose();
    this.pending.clear();
  }
}
