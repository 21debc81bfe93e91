import * as vscode from 'vscode';
import type { Copy } from '../../core/copies/copyModel';
import { uiSize } from '../groups/groupStartupRecovery';

/** A copy's time: "14:02" today, else the date and time, in VS Code's display language. */
export function copyTime(time: number | undefined, now = Date.now()): string | undefined {
  if (time === undefined) return undefined;
  const date = new Date(time);
  const sameDay = new Date(now).toDateString() === date.toDateString();
  const options: Intl.DateTimeFormatOptions = sameDay
    ? { hour: '2-digit', minute: '2-digit' }
    : { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' };
  try {
    return date.toLocaleString(vscode.env.language, options);
  } catch {
    return date.toLocaleString(undefined, options);
  }
}

/** Where a copy comes from, in words: "Local History", "git HEAD", "temp of write-file-atomic", "backup". */
export function copySourceLabel(copy: Pick<Copy, 'source' | 'kind'>): string {
  switch (copy.source) {
    case 'history':
      return vscode.l10n.t('Local History');
    case 'git':
      return vscode.l10n.t({ message: 'git {0}', args: [copy.kind], comment: ['{0} is "HEAD" or "index".'] });
    case 'temp':
      return vscode.l10n.t({
        message: 'temp of {0}',
        args: [copy.kind],
        comment: ['{0} is the tool that left a temp file, e.g. "write-file-atomic".'],
      });
    default:
      return vscode.l10n.t('backup');
  }
}

/** "Local History · 14:02 · 2.0 KiB": a copy as a picker lists it. */
export function copyLabel(copy: Pick<Copy, 'source' | 'kind' | 'time' | 'size'>): string {
  return [copySourceLabel(copy), copyTime(copy.time), uiSize(copy.size)].filter(Boolean).join(' · ');
}
