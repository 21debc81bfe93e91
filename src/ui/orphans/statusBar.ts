import * as vscode from 'vscode';
import type { Orphan } from '../../core/orphans';
import { CommandId, STATUS_BAR_ID } from '../commandIds';
import { Disposable } from '../dispose';
import { describeOrphan, plural, targetsNeedingRecovery } from './format';

const TOOLTIP_LIMIT = 10;
/** Enough to see how the item started; the rest of its life is not needed. */
const HISTORY_LIMIT = 20;
export const SCANNING_TEXT = '$(sync~spin) scanning…';

export interface StatusInput {
  /** False until the first scan finished: an empty list then means "not looked yet", not "clean". */
  scanned: boolean;
  orphans: readonly Orphan[];
  showWhenClean: boolean;
  relative: (path: string) => string;
  /** The first scan failed with this. */
  scanError?: string;
}

/** What the item shows, for the status menu's result and integration tests. */
export interface StatusSnapshot {
  text: string;
  tooltip: string;
  accessibilityLabel: string;
  visible: boolean;
  /** The texts shown so far, oldest first, each change once (the first few only). */
  history: readonly string[];
}

/**
 * `scanning…` until the first scan ends; then `$(warning) N` on the warning background while orphans exist, a quiet
 * shield (or nothing) when clean.
 */
export class OrphanStatusBar extends Disposable {
  private readonly item = this._register(vscode.window.createStatusBarItem(STATUS_BAR_ID, vscode.StatusBarAlignment.Left, 100));
  private readonly history: string[] = [];
  private tooltipText = '';
  private visible = false;

  constructor() {
    super();
    this.item.name = 'Crash-Safe State';
    this.item.command = CommandId.Menu;
  }

  /** The text shown now; integration tests read it. */
  get text(): string {
    return this.item.text;
  }

  snapshot(): StatusSnapshot {
    return {
      text: this.item.text,
      tooltip: this.tooltipText,
      accessibilityLabel: this.item.accessibilityInformation?.label ?? '',
      visible: this.visible,
      history: [...this.history],
    };
  }

  update({ scanned, orphans, showWhenClean, relative, scanError }: StatusInput): void {
    if (scanError !== undefined && orphans.length === 0) {
      this.show('$(error)', `Crash-Safe State: the scan failed (${scanError}). Click for actions.`, `Crash-Safe State: the scan for orphaned temp files failed. Activate for actions.`);
      this.item.backgroundColor = undefined;
      return;
    }
    if (!scanned) {
      this.item.backgroundColor = undefined;
      const words = 'Crash-Safe State: scanning the workspace for orphaned temp files';
      if (showWhenClean) this.show(SCANNING_TEXT, words, words);
      else this.hide();
      return;
    }
    if (orphans.length === 0) {
      this.item.backgroundColor = undefined;
      const words = 'Crash-Safe State: no orphaned temp files';
      if (showWhenClean) this.show('$(shield)', words, words);
      else this.hide();
      return;
    }
    const broken = targetsNeedingRecovery(orphans);
    const count = plural(orphans.length, 'orphaned temp file');
    const tooltip = new vscode.MarkdownString('', true);
    tooltip.appendMarkdown(`**Crash-Safe State: ${count}**\n\n`);
    for (const target of broken) {
      const state = orphans.find((orphan) => orphan.target === target)?.targetState ?? 'broken';
      tooltip.appendMarkdown('$(warning) ');
      tooltip.appendText(`${relative(target)} is ${state}; a valid temp file of it can restore it.`);
      tooltip.appendMarkdown('\n\n');
    }
    for (const orphan of orphans.slice(0, TOOLTIP_LIMIT)) {
      tooltip.appendMarkdown('- ');
      tooltip.appendText(`${relative(orphan.path)} — ${describeOrphan(orphan)}`);
      tooltip.appendMarkdown('\n');
    }
    if (orphans.length > TOOLTIP_LIMIT) tooltip.appendMarkdown(`\n…and ${orphans.length - TOOLTIP_LIMIT} more\n`);
    tooltip.appendMarkdown(`\nClick for actions${broken.length > 0 ? ', including Recover' : ''}.`);
    // Screen readers get plain words, not the markdown list.
    const needs =
      broken.length === 0
        ? ''
        : broken.length === 1
          ? ` ${relative(broken[0]!)} needs recovery: it has no valid content, but a valid temp file of it exists.`
          : ` ${broken.length} files need recovery: they have no valid content, but valid temp files of them exist.`;
    this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
    this.show(`$(warning) ${orphans.length}`, tooltip, `Crash-Safe State: ${count}.${needs} Activate for actions.`);
  }

  private show(text: string, tooltip: string | vscode.MarkdownString, accessibilityLabel: string): void {
    this.item.text = text;
    this.item.tooltip = tooltip;
    this.tooltipText = typeof tooltip === 'string' ? tooltip : tooltip.value;
    this.item.accessibilityInformation = { label: accessibilityLabel, role: 'button' };
    this.visible = true;
    this.item.show();
    if (this.history.at(-1) !== text && this.history.length < HISTORY_LIMIT) this.history.push(text);
  }

  private hide(): void {
    this.visible = false;
    this.item.hide();
  }
}
