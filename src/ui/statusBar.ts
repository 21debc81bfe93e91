import * as vscode from 'vscode';
import type { Orphan } from '../core/orphans';
import { CommandId, STATUS_BAR_ID } from './commandIds';
import { Disposable } from './dispose';
import { describeOrphan } from './format';

const TOOLTIP_LIMIT = 10;

/** `$(warning) N` on the warning background while orphans exist; a quiet shield (or nothing) when clean. */
export class OrphanStatusBar extends Disposable {
  private readonly item = this._register(vscode.window.createStatusBarItem(STATUS_BAR_ID, vscode.StatusBarAlignment.Left, 100));

  constructor() {
    super();
    this.item.name = 'Crash-Safe State';
    this.item.command = CommandId.Menu;
  }

  /** The text shown now; integration tests read it. */
  get text(): string {
    return this.item.text;
  }

  update(orphans: readonly Orphan[], showWhenClean: boolean, relative: (path: string) => string): void {
    if (orphans.length === 0) {
      this.item.text = '$(shield)';
      this.item.tooltip = 'Crash-Safe State: no orphaned temp files';
      this.item.backgroundColor = undefined;
      if (showWhenClean) this.item.show();
      else this.item.hide();
      return;
    }
    this.item.text = `$(warning) ${orphans.length}`;
    this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
    const tooltip = new vscode.MarkdownString(`**Crash-Safe State: ${orphans.length} orphaned temp file${orphans.length === 1 ? '' : 's'}**\n\n`);
    for (const orphan of orphans.slice(0, TOOLTIP_LIMIT)) {
      tooltip.appendMarkdown('- ');
      tooltip.appendText(`${relative(orphan.path)} — ${describeOrphan(orphan)}`);
      tooltip.appendMarkdown('\n');
    }
    if (orphans.length > TOOLTIP_LIMIT) tooltip.appendMarkdown(`\n…and ${orphans.length - TOOLTIP_LIMIT} more\n`);
    tooltip.appendMarkdown('\nClick for actions.');
    this.item.tooltip = tooltip;
    this.item.show();
  }
}
