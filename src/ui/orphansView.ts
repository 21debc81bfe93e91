import { basename } from 'node:path';
import * as vscode from 'vscode';
import type { Orphan } from '../core/orphans';
import { ORPHANS_VIEW_ID } from './commandIds';
import { Disposable } from './dispose';
import { describeOrphan } from './format';
import type { OrphanModel } from './orphanModel';

/** The Explorer view "Orphaned Temp Files": one item per orphan, with sweep/recover/reveal actions. */
export class OrphansView extends Disposable implements vscode.TreeDataProvider<Orphan> {
  private readonly changed = this._register(new vscode.EventEmitter<void>());
  readonly onDidChangeTreeData = this.changed.event;

  constructor(
    private readonly model: OrphanModel,
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
    return element ? [] : [...this.model.orphans];
  }

  getTreeItem(orphan: Orphan): vscode.TreeItem {
    const item = new vscode.TreeItem(basename(orphan.path), vscode.TreeItemCollapsibleState.None);
    const uri = vscode.Uri.file(orphan.path);
    item.resourceUri = uri;
    item.description = `${describeOrphan(orphan)} · target ${orphan.targetState}`;
    item.tooltip = `${this.relative(orphan.path)}\nLeft by ${describeOrphan(orphan)}\nTarget ${this.relative(orphan.target)} is ${orphan.targetState}\nContent: ${
      orphan.validJson === null ? 'not checked' : orphan.validJson ? 'valid JSON' : 'not valid JSON'
    }`;
    item.contextValue = 'orphan';
    item.command = { command: 'vscode.open', title: 'Open', arguments: [uri] };
    return item;
  }
}
