import { basename } from 'node:path';
import * as vscode from 'vscode';
import type { Orphan } from '../../core/orphans';
import { ORPHANS_VIEW_ID } from '../commandIds';
import { Disposable } from '../dispose';
import { describeOrphan, folderLabel, orphanProblem, targetIsBroken, uiText } from './format';

/** A row as shown, in plain data: what Show Orphans returns, so tests can read the real view. */
export interface OrphanRow {
  path: string;
  label: string;
  description: string;
  tooltip: string;
  /** Set on rows that need attention: a codicon id and its theme colour. */
  icon?: { id: string; color?: string };
}

/** Rows needing attention first, then by folder and name, so the broken target is on top. */
function byAttention(relative: (path: string) => string): (a: Orphan, b: Orphan) => number {
  const rank = (orphan: Orphan) => (targetIsBroken(orphan) ? (orphan.validJson === true ? 0 : 1) : orphan.targetState === 'unknown' ? 2 : 3);
  return (a, b) => rank(a) - rank(b) || relative(a.path).localeCompare(relative(b.path));
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
    const view = this._register(vscode.window.createTreeView(ORPHANS_VIEW_ID, { treeDataProvider: this, canSelectMany: true }));
    this._register(
      model.onDidChange((orphans) => {
        view.badge = orphans.length > 0 ? { value: orphans.length, tooltip: `${orphans.length} orphaned temp files` } : undefined;
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
    item.description = problem ? `${problem} · ${where} · ${describeOrphan(orphan)}` : `${where} · ${describeOrphan(orphan)}`;
    if (targetIsBroken(orphan)) {
      item.iconPath = new vscode.ThemeIcon('warning', new vscode.ThemeColor('list.warningForeground'));
    } else if (orphan.targetState === 'unknown') {
      item.iconPath = new vscode.ThemeIcon('question', new vscode.ThemeColor('list.warningForeground'));
    }
    const content = orphan.validJson === null ? 'not checked' : orphan.validJson ? 'valid JSON' : 'not valid JSON';
    item.tooltip = [
      ...(problem ? [`${problem}${orphan.validJson === true ? ': Recover This Target restores the file from this copy' : ''}.`] : []),
      this.relative(orphan.path),
      `Left by ${describeOrphan(orphan)}`,
      `Target ${this.relative(orphan.target)} is ${orphan.targetState}${orphan.note ? ` (${uiText(orphan.note)})` : ''}`,
      `Content: ${content}`,
      ...(orphan.gitTracked ? ['Tracked by git: sweep never removes it'] : []),
    ].join('\n');
    item.contextValue = 'orphan';
    item.command = { command: 'vscode.open', title: 'Open', arguments: [uri] };
    return item;
  }
}
