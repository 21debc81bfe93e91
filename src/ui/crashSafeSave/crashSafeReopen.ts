// The reopen layer of `crashSafeState.crashSafeSave.files`: a JSON file the globs match, opened in a plain editor
// from anywhere (Explorer, Quick Open, a link, search, SCM), is shown as its `crashsafe:` editor instead, in the same
// group, with its selection and scroll. VS Code has no API to choose the scheme of an editor before it opens (a
// custom text editor keeps the document's `file:` URI), so the plain tab is replaced right after it opens.
import * as vscode from 'vscode';
import { isJsonFileName } from '../../core/json/json';
import { CRASH_SAFE_SCHEME } from '../commandIds';
import { Disposable } from '../dispose';
import { CrashSafeSaveFilesMatcher } from './crashSafeSaveFiles';
import { realFileUri, toCrashSafeUri } from './crashSafeUri';
import { groupIn, holdSwapForTests, sameUri, showInPlaceOf } from './editorSwap';

/** How long a reopen waits for the plain editor to report its selection and scroll (a tab opened in the background has none, and waits all of it). */
const EDITOR_WAIT_MS = 300;

/** How long after the swap a selection that still reaches the plain editor moves the crash-safe editor. */
const LATE_SELECTION_MS = 1000;

export interface CrashSafeReopenStats {
  /** Plain editors replaced by their crash-safe editor. */
  reopened: number;
  /** Crash-safe editors reopened as plain ones because the globs no longer match them. */
  reopenedNormally: number;
  /** Matching files left plain: unsaved changes in the plain editor, or Restricted Mode. */
  leftPlain: number;
  /** Milliseconds from the plain tab's opening to the crash-safe editor shown, of the last reopen. */
  lastReopenMs: number | undefined;
}

/** What a plain editor showed: kept across the reopen. */
interface ViewState {
  selections: readonly vscode.Selection[];
  visible: vscode.Range | undefined;
}

function plainEditorIn(viewColumn: vscode.ViewColumn, uri: vscode.Uri): vscode.TextEditor | undefined {
  return vscode.window.visibleTextEditors.find(
    (editor) => sameUri(editor.document.uri, uri) && editor.viewColumn === viewColumn,
  );
}

/** The text editor `tab` shows, once the workbench has reported it (bounded wait). */
async function editorOf(tab: vscode.Tab, uri: vscode.Uri): Promise<vscode.TextEditor | undefined> {
  const find = () => plainEditorIn(tab.group.viewColumn, uri);
  // Not only when `tab.isActive`: the tab's opening is reported before it becomes the active one.
  const found = find();
  if (found) return found;
  return new Promise((resolve) => {
    const done = (editor: vscode.TextEditor | undefined) => {
      clearTimeout(timer);
      listener.dispose();
      resolve(editor);
    };
    const timer = setTimeout(() => done(find()), EDITOR_WAIT_MS);
    const listener = vscode.window.onDidChangeVisibleTextEditors(() => {
      const editor = find();
      if (editor) done(editor);
    });
  });
}

function viewOf(editor: vscode.TextEditor): ViewState {
  return { selections: editor.selections, visible: editor.visibleRanges[0] };
}

function sameSelections(a: readonly vscode.Selection[], b: readonly vscode.Selection[]): boolean {
  return a.length === b.length && a.every((selection, index) => selection.isEqual(b[index]));
}

/**
 * Follows the plain editor of `uri` in `viewColumn`: the selection an open asks for (Go to Line, a Problems click, a
 * search hit, `showTextDocument` with a selection) can reach it after it appears, even after the swap began. Once the
 * crash-safe editor is shown (`handOver`), a selection that still arrives for the plain editor moves it for a short
 * while, unless the user has moved it since.
 */
class PlainViewFollower {
  private latest: ViewState | undefined;
  private target: { editor: vscode.TextEditor; applied: readonly vscode.Selection[] } | undefined;
  private readonly listeners: vscode.Disposable[];
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly uri: vscode.Uri,
    private readonly viewColumn: vscode.ViewColumn,
  ) {
    this.listeners = [
      vscode.window.onDidChangeTextEditorSelection((event) => this.follow(event.textEditor, true)),
      vscode.window.onDidChangeTextEditorVisibleRanges((event) => this.follow(event.textEditor, false)),
    ];
  }

  /** The plain editor's last view: read from it while it is shown, else the last one it reported. */
  view(): ViewState | undefined {
    const shown = plainEditorIn(this.viewColumn, this.uri);
    if (shown) this.latest = viewOf(shown);
    return this.latest;
  }

  /** Shows the plain editor's last view in the crash-safe `editor`, and keeps doing so for late selections. */
  handOver(editor: vscode.TextEditor): void {
    this.target = { editor, applied: editor.selections };
    const view = this.view();
    if (view) this.apply(view, true);
    this.timer ??= setTimeout(() => this.dispose(), LATE_SELECTION_MS);
  }

  /** Applies what arrived while the swap was under way (the plain tab is closed by now); nothing before a hand-over. */
  settle(): void {
    if (this.latest) this.apply(this.latest, false);
  }

  dispose(): void {
    clearTimeout(this.timer);
    for (const listener of this.listeners) listener.dispose();
    this.target = undefined;
  }

  private follow(editor: vscode.TextEditor, selectionChanged: boolean): void {
    if (!sameUri(editor.document.uri, this.uri) || editor.viewColumn !== this.viewColumn) return;
    // A hidden editor reports no visible range: its last one stays.
    const visible = editor.visibleRanges[0] ?? this.latest?.visible;
    this.latest = { selections: editor.selections, visible };
    if (this.target && selectionChanged) this.apply(this.latest, false);
  }

  private apply(view: ViewState, first: boolean): void {
    const target = this.target;
    if (!target) return;
    const { editor } = target;
    // The user moved the crash-safe editor (or typed, or closed it): theirs wins over a late selection.
    if (!vscode.window.visibleTextEditors.includes(editor) || !sameSelections(editor.selections, target.applied)) {
      this.dispose();
      return;
    }
    if (!first && sameSelections(view.selections, target.applied)) return;
    editor.selections = [...view.selections];
    target.applied = editor.selections;
    if (first && view.visible) editor.revealRange(view.visible, vscode.TextEditorRevealType.AtTop);
    else editor.revealRange(view.selections[0], vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  }
}

/** The tab in `group` showing `uri` as a text editor, looked up again (Tab objects go stale). */
function textTabIn(viewColumn: vscode.ViewColumn, uri: vscode.Uri): vscode.Tab | undefined {
  return groupIn(viewColumn)?.tabs.find(
    (tab) => tab.input instanceof vscode.TabInputText && sameUri(tab.input.uri, uri),
  );
}

export class CrashSafeReopen extends Disposable {
  private readonly matcher = new CrashSafeSaveFilesMatcher();
  /** `file:` URIs the user reopened normally: the globs leave them plain for this session. */
  private readonly keptPlain = new Set<string>();
  /** `crashsafe:` URIs shown because of the globs (this session, or restored matching): turned back when they stop matching. */
  private readonly byGlob = new Set<string>();
  /** Plain tabs being reopened now (group and `file:` URI), so a tab event during the reopen does not start a second one; the same file's tab in another group is reopened too. */
  private readonly reopening = new Set<string>();
  private restrictedNoted = false;
  private readonly counters: CrashSafeReopenStats = {
    reopened: 0,
    reopenedNormally: 0,
    leftPlain: 0,
    lastReopenMs: undefined,
  };

  constructor(
    private readonly log: vscode.LogOutputChannel,
    private readonly reopenNormally: (from: vscode.Uri, to: vscode.Uri) => Promise<void>,
  ) {
    super();
    this._register(
      vscode.window.tabGroups.onDidChangeTabs((event) => {
        for (const tab of [...event.opened, ...event.changed]) void this.consider(tab);
      }),
    );
    this._register(
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (event.affectsConfiguration('crashSafeState.crashSafeSave.files')) void this.sweep();
      }),
    );
    this._register(vscode.workspace.onDidGrantWorkspaceTrust(() => void this.sweep()));
    // Crash-safe editors restored from the last session that the globs match are the glob's to turn back.
    for (const tab of vscode.window.tabGroups.all.flatMap((group) => group.tabs)) {
      const file = tab.input instanceof vscode.TabInputText ? realFileUri(tab.input.uri) : undefined;
      if (tab.input instanceof vscode.TabInputText && tab.input.uri.scheme === CRASH_SAFE_SCHEME && file) {
        if (this.matcher.matches(file)) this.byGlob.add(tab.input.uri.toString());
      }
    }
    void this.sweep();
  }

  get stats(): CrashSafeReopenStats {
    return { ...this.counters };
  }

  /** "Reopen Without Crash-Safe Save" of `fileUri`: the globs leave it plain until the window closes. */
  keepPlain(fileUri: vscode.Uri): void {
    this.keptPlain.add(fileUri.toString());
    this.byGlob.delete(toCrashSafeUri(fileUri).toString());
  }

  /** "Reopen With Crash-Safe Save" of `fileUri`: the user's choice again, so an earlier "keep plain" ends. */
  forgetKeepPlain(fileUri: vscode.Uri): void {
    this.keptPlain.delete(fileUri.toString());
  }

  /** Whether the globs would reopen `fileUri` (a `file:` JSON file they match, not kept plain). */
  wants(fileUri: vscode.Uri): boolean {
    return (
      fileUri.scheme === 'file' &&
      isJsonFileName(fileUri.fsPath) &&
      !this.keptPlain.has(fileUri.toString()) &&
      this.matcher.matches(fileUri)
    );
  }

  /** Every open tab again: after the globs change or trust is granted. */
  private async sweep(): Promise<void> {
    for (const tab of vscode.window.tabGroups.all.flatMap((group) => group.tabs)) {
      if (!(tab.input instanceof vscode.TabInputText)) continue;
      const uri = tab.input.uri;
      if (uri.scheme === 'file') await this.consider(tab);
      else if (uri.scheme === CRASH_SAFE_SCHEME && this.byGlob.has(uri.toString())) {
        const file = realFileUri(uri);
        if (file && !this.wants(file)) await this.turnBack(uri, file);
      }
    }
  }

  private async turnBack(crashSafeUri: vscode.Uri, fileUri: vscode.Uri): Promise<void> {
    this.byGlob.delete(crashSafeUri.toString());
    try {
      await this.reopenNormally(crashSafeUri, fileUri);
      this.counters.reopenedNormally += 1;
      this.log.info(`Reopened ${fileUri.fsPath} normally: crashSafeSave.files no longer matches it`);
    } catch (error) {
      this.log.warn(`Could not reopen ${fileUri.fsPath} normally: ${String(error)}`);
    }
  }

  private async consider(tab: vscode.Tab): Promise<void> {
    if (!(tab.input instanceof vscode.TabInputText)) return;
    const uri = tab.input.uri;
    const key = `${tab.group.viewColumn} ${uri.toString()}`;
    if (!this.wants(uri) || this.reopening.has(key)) return;
    if (!vscode.workspace.isTrusted) {
      this.counters.leftPlain += 1;
      this.noteRestricted();
      return;
    }
    const document = vscode.workspace.textDocuments.find((open) => sameUri(open.uri, uri));
    if (document?.isDirty) {
      // Its unsaved changes stay where the user made them; the pre-save layer still copies its next save.
      this.counters.leftPlain += 1;
      this.log.info(`${uri.fsPath} stays in its plain editor: it has unsaved changes`);
      return;
    }
    this.reopening.add(key);
    try {
      await this.reopen(tab, uri);
    } catch (error) {
      this.log.warn(`Could not reopen ${uri.fsPath} with crash-safe save: ${String(error)}`);
    } finally {
      this.reopening.delete(key);
    }
  }

  private noteRestricted(): void {
    if (this.restrictedNoted) return;
    this.restrictedNoted = true;
    void vscode.window.showInformationMessage(
      vscode.l10n.t(
        'Restricted Mode: files in crashSafeState.crashSafeSave.files open in normal editors until you trust this folder.',
      ),
    );
  }

  /** Shows the crash-safe editor of `uri` where `tab` is, with its view state, and closes `tab`. */
  private async reopen(tab: vscode.Tab, uri: vscode.Uri): Promise<void> {
    const started = Date.now();
    const viewColumn = tab.group.viewColumn;
    const focused = tab.isActive && tab.group.isActive;
    const preview = tab.isPreview;
    const crashSafeUri = toCrashSafeUri(uri);
    // From the start: the selection an open asked for can reach the plain editor at any point until it is closed.
    const follower = new PlainViewFollower(uri, viewColumn);
    let handedOver = false;
    try {
      const [, document] = await Promise.all([editorOf(tab, uri), vscode.workspace.openTextDocument(crashSafeUri)]);
      await holdSwapForTests();
      // The plain tab may have been closed or replaced while we waited: then there is nothing to replace.
      if (!textTabIn(viewColumn, uri)) return;
      // A tab opened in the background, or left for another file meanwhile, gets its crash-safe editor behind.
      const editor = await showInPlaceOf(uri, document, viewColumn, {
        preview,
        focus: focused,
        selection: follower.view()?.selections[0],
      });
      if (editor) {
        follower.handOver(editor);
        handedOver = true;
      }
      this.byGlob.add(crashSafeUri.toString());
      // A preview replaces the plain preview tab by itself; a pinned plain tab is closed here.
      const left = textTabIn(viewColumn, uri);
      if (left) await vscode.window.tabGroups.close(left, true);
      follower.settle();
      this.counters.reopened += 1;
      this.counters.lastReopenMs = Date.now() - started;
      this.log.info(`Opened ${uri.fsPath} with crash-safe save (crashSafeSave.files)`);
    } finally {
      // After the hand-over it ends by itself, once late selections had their time.
      if (!handedOver) follower.dispose();
    }
  }
}
