import type { Stats } from 'node:fs';
import { lstat, mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import * as vscode from 'vscode';
import { messageOf } from '../../core/errors';
import { errnoOf } from '../../core/fs';
import { isJsonFileName, jsonFlavourOf, jsonTextProblem, type ParsePosition } from '../../core/json/json';
import { AtomicWriteError, type Durability, writeFileAtomic } from '../../core/write/atomicWrite';
import { CRASH_SAFE_SCHEME } from '../commandIds';
import { confirmModal } from '../dialogs';
import { Disposable } from '../dispose';
import { parseFailureLabel } from '../reasonWords';
import { readCrashSafeSaveSettings } from '../settings';
import { realFileUri, toCrashSafeUriLike } from './crashSafeUri';

export { toCrashSafeUri } from './crashSafeUri';

/** The path on disk a `crashsafe:` URI edits; a URI that names no file exactly is "not found", never guessed. */
function pathOf(uri: vscode.Uri): string {
  const file = realFileUri(uri);
  if (!file) throw vscode.FileSystemError.FileNotFound(uri);
  return file.fsPath;
}

/** Counters for diagnostics and tests. */
export interface CrashSafeFsStats {
  /** Saves written through the atomic writer. */
  atomicWrites: number;
  /** Saves refused because the content did not parse. */
  refusedInvalid: number;
  /** The last refusal's message. */
  lastRefusal: string | undefined;
  /** Saves that failed in the atomic writer (the file is unchanged), and the last one's message as VS Code shows it. */
  failedWrites: number;
  lastFailure: string | undefined;
  /** `crashsafe:` URIs the workbench asked us to decorate (tabs, breadcrumbs…), most recent last, at most 20. */
  decorated: string[];
}

/**
 * The badge and tooltip every `crashsafe:` editor carries (tab, hover), so it is told apart from a plain one. The
 * badge is the product's initials (VS Code shows at most two characters); the tooltip is looked up when read.
 */
export const CRASH_SAFE_DECORATION = {
  badge: 'CS',
  get tooltip(): string {
    return vscode.l10n.t(
      'Crash-safe save: each save writes a temp file, flushes it to disk and renames it over the file, so a crash leaves the old or the new content, never a torn file. Invalid JSON is never saved automatically.',
    );
  },
} as const;

/**
 * A save failure VS Code shows as our sentence. The workbench puts `name: message` in its own "Unable to write file
 * '…' (…)" text, and a FileSystemError's name is "Unknown (FileSystemError)"; an empty name leaves just the reason.
 */
export function saveFailure(message: string): vscode.FileSystemError {
  const error = new vscode.FileSystemError(message);
  error.name = '';
  return error;
}

/** Short words for the errnos a save most often meets. */
function errnoWords(code: string): string | undefined {
  switch (code) {
    case 'EACCES':
      return vscode.l10n.t('permission denied');
    case 'EPERM':
      return vscode.l10n.t('operation not permitted');
    case 'EROFS':
      return vscode.l10n.t('read-only file system');
    case 'ENOSPC':
      return vscode.l10n.t('no space left on the disk');
    case 'EDQUOT':
      return vscode.l10n.t('disk quota exceeded');
    case 'EBUSY':
      return vscode.l10n.t('the file is busy');
    case 'EIO':
      return vscode.l10n.t('input/output error');
    default:
      return undefined;
  }
}

export interface CrashSafeFsDeps {
  durability: () => Durability;
  log: vscode.LogOutputChannel;
}

function fileType(stats: Stats, isLink: boolean): vscode.FileType {
  const base = stats.isDirectory()
    ? vscode.FileType.Directory
    : stats.isFile()
      ? vscode.FileType.File
      : vscode.FileType.Unknown;
  return isLink ? base | vscode.FileType.SymbolicLink : base;
}

/** Node errors as the FileSystemErrors VS Code understands (not found, exists, permissions…). */
function toFileSystemError(error: unknown, uri: vscode.Uri): Error {
  if (error instanceof vscode.FileSystemError) return error;
  const message = messageOf(error);
  switch (errnoOf(error)) {
    case 'ENOENT':
      return vscode.FileSystemError.FileNotFound(uri);
    case 'EEXIST':
      return vscode.FileSystemError.FileExists(uri);
    case 'EISDIR':
      return vscode.FileSystemError.FileIsADirectory(uri);
    case 'ENOTDIR':
      return vscode.FileSystemError.FileNotADirectory(uri);
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return vscode.FileSystemError.NoPermissions(message);
    default:
      return new vscode.FileSystemError(message);
  }
}

/**
 * The `crashsafe:` file system: reads, stats and lists go to the real file (`crashsafe:/a/b.json` is `/a/b.json`),
 * and every save goes through the atomic writer (temp, fsync, rename, directory fsync) with the durability setting.
 * Content that does not parse as the file's JSON flavour is never saved automatically; a manual save of it asks
 * first (a modal; cancelling means "not saved").
 */
export class CrashSafeFileSystem
  extends Disposable
  implements vscode.FileSystemProvider, vscode.FileDecorationProvider
{
  private readonly changed = this._register(new vscode.EventEmitter<vscode.FileChangeEvent[]>());
  readonly onDidChangeFile = this.changed.event;
  /** URIs whose next save was started automatically (our auto-save, or VS Code's files.autoSave). */
  private readonly automaticSaves = new Set<string>();
  /** URIs whose next manual save may write this exact invalid text (the user said Save Anyway to it). */
  private readonly confirmedInvalid = new Map<string, string>();
  private readonly counters: CrashSafeFsStats = {
    atomicWrites: 0,
    refusedInvalid: 0,
    lastRefusal: undefined,
    failedWrites: 0,
    lastFailure: undefined,
    decorated: [],
  };

  constructor(private readonly deps: CrashSafeFsDeps) {
    super();
    this._register(vscode.workspace.registerFileSystemProvider(CRASH_SAFE_SCHEME, this, { isCaseSensitive: true }));
    this._register(vscode.window.registerFileDecorationProvider(this));
    this._register(
      vscode.workspace.onWillSaveTextDocument((event) => {
        if (event.document.uri.scheme !== CRASH_SAFE_SCHEME) return;
        if (event.reason !== vscode.TextDocumentSaveReason.Manual)
          this.automaticSaves.add(event.document.uri.toString());
      }),
    );
  }

  get stats(): CrashSafeFsStats {
    return { ...this.counters, decorated: [...this.counters.decorated] };
  }

  /** The tab (badge, and the hover's last line) of a `crashsafe:` editor says it saves crash-safely. */
  provideFileDecoration(uri: vscode.Uri): vscode.FileDecoration | undefined {
    if (uri.scheme !== CRASH_SAFE_SCHEME) return undefined;
    const key = uri.toString();
    const decorated = this.counters.decorated.filter((seen) => seen !== key);
    decorated.push(key);
    this.counters.decorated = decorated.slice(-20);
    return new vscode.FileDecoration(CRASH_SAFE_DECORATION.badge, CRASH_SAFE_DECORATION.tooltip);
  }

  /** Marks the next save of `uri` as automatic (so invalid content is refused without asking); returns the undo. */
  markAutomatic(uri: vscode.Uri): () => void {
    const key = uri.toString();
    this.automaticSaves.add(key);
    return () => this.automaticSaves.delete(key);
  }

  watch(
    uri: vscode.Uri,
    options: { readonly recursive: boolean; readonly excludes: readonly string[] },
  ): vscode.Disposable {
    // VS Code watches open files: a file is watched through its folder, with its name as the pattern.
    const path = pathOf(uri);
    const pattern = options.recursive
      ? new vscode.RelativePattern(vscode.Uri.file(path), '**')
      : new vscode.RelativePattern(vscode.Uri.file(dirname(path)), basename(path));
    const watcher = vscode.workspace.createFileSystemWatcher(pattern);
    const forward = (type: vscode.FileChangeType) => (changed: vscode.Uri) =>
      this.changed.fire([{ type, uri: toCrashSafeUriLike(changed, uri) }]);
    return vscode.Disposable.from(
      watcher,
      watcher.onDidChange(forward(vscode.FileChangeType.Changed)),
      watcher.onDidCreate(forward(vscode.FileChangeType.Created)),
      watcher.onDidDelete(forward(vscode.FileChangeType.Deleted)),
    );
  }

  async stat(uri: vscode.Uri): Promise<vscode.FileStat> {
    try {
      const path = pathOf(uri);
      const link = await lstat(path);
      const stats = link.isSymbolicLink() ? await stat(path) : link;
      return {
        type: fileType(stats, link.isSymbolicLink()),
        ctime: stats.ctimeMs,
        mtime: stats.mtimeMs,
        size: stats.size,
      };
    } catch (error) {
      throw toFileSystemError(error, uri);
    }
  }

  async readDirectory(uri: vscode.Uri): Promise<[string, vscode.FileType][]> {
    try {
      const entries = await readdir(pathOf(uri), { withFileTypes: true });
      return entries.map((entry) => [
        entry.name,
        entry.isDirectory()
          ? vscode.FileType.Directory
          : entry.isSymbolicLink()
            ? vscode.FileType.SymbolicLink
            : vscode.FileType.File,
      ]);
    } catch (error) {
      throw toFileSystemError(error, uri);
    }
  }

  async createDirectory(uri: vscode.Uri): Promise<void> {
    try {
      await mkdir(pathOf(uri));
    } catch (error) {
      throw toFileSystemError(error, uri);
    }
    this.changed.fire([{ type: vscode.FileChangeType.Created, uri }]);
  }

  async readFile(uri: vscode.Uri): Promise<Uint8Array> {
    try {
      return await readFile(pathOf(uri));
    } catch (error) {
      throw toFileSystemError(error, uri);
    }
  }

  async writeFile(
    uri: vscode.Uri,
    content: Uint8Array,
    options: { readonly create: boolean; readonly overwrite: boolean },
  ): Promise<void> {
    const path = pathOf(uri);
    const automatic = this.automaticSaves.delete(uri.toString());
    let exists = true;
    try {
      if ((await stat(path)).isDirectory()) throw vscode.FileSystemError.FileIsADirectory(uri);
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') throw toFileSystemError(error, uri);
      exists = false;
    }
    if (!exists && !options.create) throw vscode.FileSystemError.FileNotFound(uri);
    if (exists && !options.overwrite) throw vscode.FileSystemError.FileExists(uri);
    if (isJsonFileName(path)) await this.checkJson(uri, Buffer.from(content).toString('utf8'), automatic);
    try {
      await writeFileAtomic(path, content, { durability: this.deps.durability() });
    } catch (error) {
      this.deps.log.error(`Crash-safe save of ${path} failed; the file is unchanged: ${String(error)}`);
      const message = describeWriteFailure(basename(path), error);
      this.counters.failedWrites += 1;
      this.counters.lastFailure = message;
      throw saveFailure(message);
    }
    this.counters.atomicWrites += 1;
    this.changed.fire([{ type: exists ? vscode.FileChangeType.Changed : vscode.FileChangeType.Created, uri }]);
  }

  async delete(uri: vscode.Uri, options: { readonly recursive: boolean }): Promise<void> {
    try {
      await rm(pathOf(uri), { recursive: options.recursive });
    } catch (error) {
      throw toFileSystemError(error, uri);
    }
    this.changed.fire([{ type: vscode.FileChangeType.Deleted, uri }]);
  }

  async rename(oldUri: vscode.Uri, newUri: vscode.Uri, options: { readonly overwrite: boolean }): Promise<void> {
    try {
      if (!options.overwrite) {
        const taken = await lstat(pathOf(newUri)).then(
          () => true,
          () => false,
        );
        if (taken) throw vscode.FileSystemError.FileExists(newUri);
      }
      await rename(pathOf(oldUri), pathOf(newUri));
    } catch (error) {
      throw toFileSystemError(error, oldUri);
    }
    this.changed.fire([
      { type: vscode.FileChangeType.Deleted, uri: oldUri },
      { type: vscode.FileChangeType.Created, uri: newUri },
    ]);
  }

  /**
   * Lets the next manual save of `uri` write exactly `text` although it does not parse: the user has already said
   * "Save Anyway" to it (the Save command asks before VS Code saves, so a Cancel there never becomes a failed save).
   */
  allowInvalidOnce(uri: vscode.Uri, text: string): () => void {
    const key = uri.toString();
    this.confirmedInvalid.set(key, text);
    return () => {
      if (this.confirmedInvalid.get(key) === text) this.confirmedInvalid.delete(key);
    };
  }

  /** Refuses (throws) content that does not parse, unless a manual save is confirmed or the setting allows it. */
  private async checkJson(uri: vscode.Uri, text: string, automatic: boolean): Promise<void> {
    const confirmed = this.confirmedInvalid.get(uri.toString());
    this.confirmedInvalid.delete(uri.toString());
    const path = pathOf(uri);
    const problem = jsonTextProblem(text, jsonFlavourOf(path));
    if (!problem) return;
    const what = describeInvalidJson(path, problem);
    const policy = readCrashSafeSaveSettings(uri).invalidJson;
    if (policy === 'save' && !automatic) return;
    // Confirmed for exactly this text: an edit made after the question is asked about again.
    if (!automatic && confirmed === text) return;
    if (!automatic && policy === 'ask' && (await askSaveAnyway(what))) return;
    this.counters.refusedInvalid += 1;
    const message = automatic
      ? vscode.l10n.t({
          message: 'Not saved: {0}. Invalid content is never saved automatically; fix it, or save by hand to be asked.',
          args: [what],
          comment: ['{0} says which file is not valid JSON and where.'],
        })
      : vscode.l10n.t({
          message: 'Not saved: {0}.',
          args: [what],
          comment: ['{0} says which file is not valid JSON and where.'],
        });
    this.counters.lastRefusal = message;
    this.deps.log.warn(
      `Refused to save ${path}${automatic ? ' automatically' : ''}: not valid ${jsonFlavourOf(path) === 'jsonc' ? 'JSON with comments' : 'JSON'} (${problem.message} at line ${problem.line}, column ${problem.column})`,
    );
    throw saveFailure(message);
  }
}

/** One sentence naming the file and where it fails to parse as its JSON flavour, in the display language. */
export function describeInvalidJson(path: string, problem: ParsePosition): string {
  const args = [basename(path), parseFailureLabel(problem)];
  return jsonFlavourOf(path) === 'jsonc'
    ? vscode.l10n.t({
        message: '{0} is not valid JSON with comments ({1})',
        args,
        comment: [
          '{0} is a file name, {1} what is wrong and where ("the file ends inside a string, line 4, column 16").',
        ],
      })
    : vscode.l10n.t({
        message: '{0} is not valid JSON ({1})',
        args,
        comment: [
          '{0} is a file name, {1} what is wrong and where ("the file ends inside a string, line 4, column 16").',
        ],
      });
}

/** "… Save it anyway?" as a modal; true only for Save Anyway. `what` comes from describeInvalidJson. */
export function askSaveAnyway(what: string): Promise<boolean> {
  return confirmModal(
    vscode.l10n.t({
      message: '{0}. Save it anyway?',
      args: [what],
      comment: ['{0} says which file is not valid JSON and where.'],
    }),
    vscode.l10n.t('Save Anyway'),
    vscode.l10n.t('Programs that read this file may fail on it. The save is still atomic.'),
  );
}

/** One line for a failed atomic write: the step, the errno in words, and that the file is unchanged (the log has the rest). */
export function describeWriteFailure(name: string, error: unknown): string {
  const code = (error instanceof AtomicWriteError ? error.code : errnoOf(error)) ?? vscode.l10n.t('unknown error');
  const words = errnoWords(code);
  if (error instanceof AtomicWriteError) {
    return words
      ? vscode.l10n.t({
          message:
            'Not saved: the crash-safe write of {0} failed with {1}, {2} ({3} step). {0} is unchanged; the log has the details.',
          args: [name, code, words, error.step],
          comment: [
            '{0} is a file name, {1} an error code (EACCES…), {2} the code in words, {3} the step of the write that failed (open, write, fsync, rename…).',
          ],
        })
      : vscode.l10n.t({
          message:
            'Not saved: the crash-safe write of {0} failed with {1} ({2} step). {0} is unchanged; the log has the details.',
          args: [name, code, error.step],
          comment: [
            '{0} is a file name, {1} an error code (EACCES…), {2} the step of the write that failed (open, write, fsync, rename…).',
          ],
        });
  }
  return words
    ? vscode.l10n.t({
        message:
          'Not saved: the crash-safe write of {0} failed with {1}, {2}. {0} is unchanged; the log has the details.',
        args: [name, code, words],
        comment: ['{0} is a file name, {1} an error code (EACCES…), {2} the code in words.'],
      })
    : vscode.l10n.t({
        message: 'Not saved: the crash-safe write of {0} failed with {1}. {0} is unchanged; the log has the details.',
        args: [name, code],
        comment: ['{0} is a file name, {1} an error code (EACCES…) or "unknown error".'],
      });
}
