import * as vscode from 'vscode';
import type { Orphan } from '../../core/orphans/orphans';
import { CommandId, STATUS_BAR_ID } from '../commandIds';
import { Disposable } from '../dispose';
import { markdownText } from '../markdownText';
import { describeOrphan, interruptedGroups, orphanCount, stateLabel, targetsNeedingRecovery } from './format';

const TOOLTIP_LIMIT = 10;
/** Enough to see how the item started; the rest of its life is not needed. */
const HISTORY_LIMIT = 20;
/** The English text shown while the first scan runs (what `scanningText()` returns without a translation); tests compare with it. */
export const SCANNING_TEXT = '$(sync~spin) scanning…';

/** The text shown while the first scan runs, localised. */
export function scanningText(): string {
  return vscode.l10n.t({
    message: '$(sync~spin) scanning…',
    comment: ['Status bar text; keep "$(sync~spin)", it is the spinning icon.'],
  });
}

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
  /** The theme colour of the item's background, e.g. `statusBarItem.errorBackground`; undefined when plain. */
  background: string | undefined;
  /** The texts shown so far, oldest first, each change once (the first few only). */
  history: readonly string[];
}

/** Screen readers get plain words, not the markdown list. `count` is e.g. "3 orphaned temp files". */
function accessibilityLabel(count: string, broken: readonly string[], relative: (path: string) => string): string {
  if (broken.length === 0) {
    return vscode.l10n.t({
      message: 'Crash-Safe State: {0}. Activate for actions.',
      args: [count],
      comment: ['{0} is a count, e.g. "3 orphaned temp files".'],
    });
  }
  if (broken.length === 1) {
    return vscode.l10n.t({
      message:
        'Crash-Safe State: {0}. {1} needs recovery: it has no valid content, but a valid temp file of it exists. Activate for actions.',
      args: [count, relative(broken[0]!)],
      comment: ['{0} is a count, e.g. "3 orphaned temp files"; {1} is a file.'],
    });
  }
  return vscode.l10n.t({
    message:
      'Crash-Safe State: {0}. {1} files need recovery: they have no valid content, but valid temp files of them exist. Activate for actions.',
    args: [count, broken.length],
    comment: ['{0} is a count, e.g. "3 orphaned temp files"; {1} is a number of files (2 or more).'],
  });
}

/** "1 interrupted group commit: Finish Interrupted Group Commits completes it." */
function interruptedGroupsSentence(count: number): string {
  return count === 1
    ? vscode.l10n.t({
        message: '1 interrupted group commit: Finish Interrupted Group Commits completes it.',
        comment: ['"Finish Interrupted Group Commits" is the title of a command: use its translated title.'],
      })
    : vscode.l10n.t({
        message: '{0} interrupted group commits: Finish Interrupted Group Commits completes them.',
        args: [count],
        comment: [
          '{0} is a number (2 or more). "Finish Interrupted Group Commits" is the title of a command: use its translated title.',
        ],
      });
}

/**
 * `scanning…` until the first scan ends; then `$(warning) N` while orphans exist: on the error background while a file
 * can be recovered (it stays after the start-up notification hides, so Recover is still found), else on the warning
 * background; a quiet shield (or nothing) when clean.
 */
export class OrphanStatusBar extends Disposable {
  private readonly item = this._register(
    vscode.window.createStatusBarItem(STATUS_BAR_ID, vscode.StatusBarAlignment.Left, 100),
  );
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
      background: this.item.backgroundColor instanceof vscode.ThemeColor ? this.item.backgroundColor.id : undefined,
      history: [...this.history],
    };
  }

  update({ scanned, orphans, showWhenClean, relative, scanError }: StatusInput): void {
    if (scanError !== undefined && orphans.length === 0) {
      this.show(
        '$(error)',
        vscode.l10n.t({
          message: 'Crash-Safe State: the scan failed ({0}). Click for actions.',
          args: [scanError],
          comment: ['{0} is the error, in English.'],
        }),
        vscode.l10n.t('Crash-Safe State: the scan for orphaned temp files failed. Activate for actions.'),
      );
      this.item.backgroundColor = undefined;
      return;
    }
    if (!scanned) {
      this.item.backgroundColor = undefined;
      const words = vscode.l10n.t('Crash-Safe State: scanning the workspace for orphaned temp files');
      if (showWhenClean) this.show(scanningText(), words, words);
      else this.hide();
      return;
    }
    if (orphans.length === 0) {
      this.item.backgroundColor = undefined;
      const words = vscode.l10n.t('Crash-Safe State: no orphaned temp files');
      if (showWhenClean) this.show('$(shield)', words, words);
      else this.hide();
      return;
    }
    const broken = targetsNeedingRecovery(orphans);
    const count = orphanCount(orphans.length);
    const tooltip = new vscode.MarkdownString('', true);
    tooltip.appendMarkdown(
      `**${vscode.l10n.t({ message: 'Crash-Safe State: {0}', args: [count], comment: ['{0} is a count, e.g. "3 orphaned temp files".'] })}**\n\n`,
    );
    const groups = interruptedGroups(orphans).length;
    if (groups > 0) {
      tooltip.appendMarkdown('$(warning) ');
      tooltip.appendMarkdown(markdownText(interruptedGroupsSentence(groups)));
      tooltip.appendMarkdown('\n\n');
    }
    for (const target of broken) {
      const found = orphans.find((orphan) => orphan.target === target)?.targetState;
      const state = found
        ? stateLabel(found)
        : vscode.l10n.t({ message: 'broken', comment: ['The state of a file whose exact state is not known.'] });
      tooltip.appendMarkdown('$(warning) ');
      tooltip.appendMarkdown(
        markdownText(
          vscode.l10n.t({
            message: '{0} is {1}; a valid temp file of it can restore it.',
            args: [relative(target), state],
            comment: ['{0} is a file, {1} its state (missing, empty, corrupt).'],
          }),
        ),
      );
      tooltip.appendMarkdown('\n\n');
    }
    for (const orphan of orphans.slice(0, TOOLTIP_LIMIT)) {
      tooltip.appendMarkdown('- ');
      tooltip.appendMarkdown(markdownText(`${relative(orphan.path)} — ${describeOrphan(orphan)}`));
      tooltip.appendMarkdown('\n');
    }
    const hidden = orphans.length - TOOLTIP_LIMIT;
    if (hidden > 0)
      tooltip.appendMarkdown(
        `\n${hidden === 1 ? vscode.l10n.t('…and 1 more') : vscode.l10n.t('…and {0} more', hidden)}\n`,
      );
    tooltip.appendMarkdown(
      `\n${broken.length > 0 ? vscode.l10n.t('Click for actions, including Recover.') : vscode.l10n.t('Click for actions.')}`,
    );
    this.item.backgroundColor = new vscode.ThemeColor(
      broken.length > 0 ? 'statusBarItem.errorBackground' : 'statusBarItem.warningBackground',
    );
    const label = accessibilityLabel(count, broken, relative);
    this.show(
      `$(warning) ${orphans.length}`,
      tooltip,
      groups > 0 ? `${label} ${interruptedGroupsSentence(groups)}` : label,
    );
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
