import { basename } from 'node:path';
import * as vscode from 'vscode';
import { type Orphan, onlyCopyReason } from '../../core/orphans/orphans';
import { ORPHANS_VIEW_ID } from '../commandIds';
import { Disposable } from '../dispose';
import { reasonLabel } from '../reasonWords';
import { markWhenVisible, WalkthroughKey } from '../walkthroughProgress';
import {
  asSentence,
  describeOrphan,
  folderLabel,
  isGroupFile,
  needsRecovery,
  orphanCount,
  orphanProblem,
  stateLabel,
  targetIsBroken,
  uiText,
} from './format';

/** A row as shown, in plain data: what Show Orphans returns, so tests can read the real view. */
export interface OrphanRow {
  path: string;
  label: string;
  description: string;
  tooltip: string;
  /**
   * `orphan`; `orphan.kept` for a copy sweep always keeps (package.json menus: no Sweep); `orphan.group` for a group
   * commit's file (no Sweep or Recover This Target).
   */
  contextValue: string;
  /** Set on rows that need attention: a codicon id and its theme colour. */
  icon?: { id: string; color?: string };
}

/**
 * Whether sweep keeps this file whatever its age: git tracks it, or it may be the only good copy of its target (the
 * core's own rule). Its row gets no Sweep button, which would only say it swept nothing.
 */
export function sweepAlwaysKeeps(orphan: Orphan): boolean {
  if (orphan.gitTracked) return true;
  return onlyCopyReason({ state: orphan.targetState }, { validJson: orphan.validJson }, orphan.size) !== undefined;
}

/** Rows needing attention first, then by folder and name, so the broken target is on top. */
function byAttention(relative: (path: string) => string): (a: Orphan, b: Orphan) => number {
  const rank = (orphan: Orphan) =>
    targetIsBroken(orphan) ? (orphan.validJson === true ? 0 : 1) : orphan.targetState === 'unknown' ? 2 : 3;
  return (a, b) => rank(a) - rank(b) || relative(a.path).localeCompare(relative(b.path));
}

/** The tooltip's first line: what is wrong, and what to do when this copy can help. */
function problemLine(problem: string, validCopy: boolean): string {
  return validCopy
    ? vscode.l10n.t({
        message: '{0}: Recover This Target restores the file from this copy.',
        args: [problem],
        comment: ['{0} is a short problem, e.g. "data.json corrupt, valid copy".'],
      })
    : asSentence(problem);
}

function targetLine(target: string, orphan: Orphan): string {
  const state = stateLabel(orphan.targetState);
  const note = orphan.why ? reasonLabel(orphan.why) : orphan.note && uiText(orphan.note);
  return note
    ? vscode.l10n.t({
        message: 'Target {0} is {1} ({2})',
        args: [target, state, note],
        comment: [
          '{0} is a file, {1} its state (ok, missing, empty, corrupt, unknown), {2} a note from the scan (why it is corrupt, or why it was not checked).',
        ],
      })
    : vscode.l10n.t({
        message: 'Target {0} is {1}',
        args: [target, state],
        comment: ['{0} is a file, {1} its state (ok, missing, empty, corrupt, unknown).'],
      });
}

function contentLabel(validJson: boolean | null): string {
  if (validJson === null)
    return vscode.l10n.t({ message: 'not checked', comment: ['Whether a temp file holds valid JSON: not looked at.'] });
  return validJson ? vscode.l10n.t('valid JSON') : vscode.l10n.t('not valid JSON');
}

/** The Explorer view "Orphaned Temp Files": one item per orphan, with sweep/recover/reveal actions. */
export class OrphansView extends Disposable implements vscode.TreeDataProvider<Orphan> {
  private readonly changed = this._register(new vscode.EventEmitter<void>());
  readonly onDidChangeTreeData = this.changed.event;

  constructor(
    private readonly model: { readonly orphans: readonly Orphan[]; onDidChange: vscode.Event<readonly Orphan[]> },
    private readonly relative: (path: string) => string,
  ) {
    super();
    const view = this._register(
      vscode.window.createTreeView(ORPHANS_VIEW_ID, { treeDataProvider: this, canSelectMany: true }),
    );
    this._register(markWhenVisible(view, WalkthroughKey.OrphansViewSeen));
    this._register(
      model.onDidChange((orphans) => {
        view.badge = orphans.length > 0 ? { value: orphans.length, tooltip: orphanCount(orphans.length) } : undefined;
        this.changed.fire();
      }),
    );
  }

  getChildren(element?: Orphan): Orphan[] {
    return element ? [] : [...this.model.orphans].sort(byAttention(this.relative));
  }

  /** The rows in the order shown. */
  rows(): OrphanRow[] {
    return this.getChildren().map((orphan) => {
      const item = this.getTreeItem(orphan);
      const icon = item.iconPath instanceof vscode.ThemeIcon ? item.iconPath : undefined;
      return {
        path: orphan.path,
        label: String(item.label),
        description: String(item.description ?? ''),
        tooltip: item.tooltip instanceof vscode.MarkdownString ? item.tooltip.value : String(item.tooltip ?? ''),
        contextValue: String(item.contextValue),
        ...(icon ? { icon: { id: icon.id, ...(icon.color ? { color: icon.color.id } : {}) } } : {}),
      };
    });
  }

  getTreeItem(orphan: Orphan): vscode.TreeItem {
    const item = new vscode.TreeItem(basename(orphan.path), vscode.TreeItemCollapsibleState.None);
    const uri = vscode.Uri.file(orphan.path);
    const where = folderLabel(this.relative(orphan.path));
    const problem = orphanProblem(orphan);
    item.resourceUri = uri;
    // The problem leads, so a narrow view still shows it; the folder tells same-named files apart.
    item.description = problem
      ? `${problem} · ${where} · ${describeOrphan(orphan)}`
      : `${where} · ${describeOrphan(orphan)}`;
    if (targetIsBroken(orphan)) {
      item.iconPath = new vscode.ThemeIcon('warning', new vscode.ThemeColor('list.warningForeground'));
    } else if (orphan.targetState === 'unknown') {
      item.iconPath = new vscode.ThemeIcon('question', new vscode.ThemeColor('list.warningForeground'));
    }
    item.tooltip = [
      // Recover This Target only for a copy it would use: a group's temp waits for Finish Interrupted Group Commits.
      ...(problem ? [problemLine(problem, needsRecovery(orphan))] : []),
      this.relative(orphan.path),
      vscode.l10n.t({
        message: 'Left by {0}',
        args: [describeOrphan(orphan)],
        comment: ['{0} is the tool and the age, e.g. "write-file-atomic (npm), 5 min old".'],
      }),
      targetLine(this.relative(orphan.target), orphan),
      vscode.l10n.t({
        message: 'Content: {0}',
        args: [contentLabel(orphan.validJson)],
        comment: ['{0} is "valid JSON", "not valid JSON" or "not checked".'],
      }),
      ...(orphan.gitTracked ? [vscode.l10n.t('Tracked by git: sweep never removes it')] : []),
    ].join('\n');
    // A group's file is never swept or recovered alone: its row offers Finish Interrupted Group Commits instead.
    // A copy sweep always keeps (git's, or possibly the only good data of its target) offers no Sweep either.
    item.contextValue = isGroupFile(orphan) ? 'orphan.group' : sweepAlwaysKeeps(orphan) ? 'orphan.kept' : 'orphan';
    item.command = { command: 'vscode.open', title: vscode.l10n.t('Open'), arguments: [uri] };
    return item;
  }
}
