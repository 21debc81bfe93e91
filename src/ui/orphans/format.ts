import { basename, dirname } from 'node:path';
import * as vscode from 'vscode';
import { ageParts } from '../../core/age';
import { recogniseGroupFile } from '../../core/names/tempPatterns';
import type { Orphan, OrphanKind, TargetState } from '../../core/orphans/orphans';

/**
 * Every text here is shown in VS Code, so it goes through `vscode.l10n.t` at call time (never at module load: the
 * extension's l10n bundle may not be loaded yet then). Logs and the CLI keep their English texts.
 */

/** Which tool left the orphan, for people. Tool names and patterns stay as they are; only descriptions are translated. */
export function kindLabel(kind: OrphanKind): string {
  switch (kind) {
    case 'crash-safe':
      return 'Crash-Safe State';
    case 'write-file-atomic':
      return 'write-file-atomic (npm)';
    case 'atomically':
      return 'atomically';
    case 'steno':
      return 'steno / lowdb';
    case 'vscode':
      return vscode.l10n.t({
        message: 'VS Code save',
        comment: ['Which tool left a temp file: VS Code itself, while saving a file.'],
      });
    case 'tmp-suffix':
      return '*.tmp.<id>';
    case 'dot-hex-tmp':
      return '.<name>.<hex>.tmp';
    case 'custom':
      return vscode.l10n.t({
        message: 'your pattern',
        comment: ['Which tool left a temp file: one matched by a pattern the user configured.'],
      });
    default:
      return kind;
  }
}

/**
 * A short human age: 45 s, 12 min, 3 h, 2 d, in the display language; the core's `ageParts` picks the unit, as for
 * the CLI's English `formatAge`. Everything the extension shows uses this one.
 */
export function uiAge(ms: number): string {
  const { count, unit } = ageParts(ms);
  switch (unit) {
    case 's':
      return vscode.l10n.t({ message: '{0} s', args: [count], comment: ['An age in seconds, e.g. "45 s".'] });
    case 'min':
      return vscode.l10n.t({ message: '{0} min', args: [count], comment: ['An age in minutes, e.g. "12 min".'] });
    case 'h':
      return vscode.l10n.t({ message: '{0} h', args: [count], comment: ['An age in hours, e.g. "3 h".'] });
    case 'd':
      return vscode.l10n.t({ message: '{0} d', args: [count], comment: ['An age in days, e.g. "2 d".'] });
  }
}

/** The state of an orphan's target, as a word for people (the core's states are English identifiers). */
export function stateLabel(state: TargetState): string {
  switch (state) {
    case 'ok':
      return vscode.l10n.t({
        message: 'ok',
        comment: [
          'The state of a JSON file, shown after its name or after "is": "data.json missing", "Target data.json is missing".',
        ],
      });
    case 'missing':
      return vscode.l10n.t({
        message: 'missing',
        comment: [
          'The state of a JSON file, shown after its name or after "is": "data.json missing", "Target data.json is missing".',
        ],
      });
    case 'empty':
      return vscode.l10n.t({
        message: 'empty',
        comment: [
          'The state of a JSON file, shown after its name or after "is": "data.json missing", "Target data.json is missing".',
        ],
      });
    case 'corrupt':
      return vscode.l10n.t({
        message: 'corrupt',
        comment: [
          'The state of a JSON file, shown after its name or after "is": "data.json missing", "Target data.json is missing".',
        ],
      });
    case 'unknown':
      return vscode.l10n.t({
        message: 'unknown',
        comment: [
          'The state of a JSON file, shown after its name or after "is": "data.json missing", "Target data.json is missing".',
        ],
      });
    default:
      return state;
  }
}

/** "write-file-atomic (npm), 5 min old" */
export function describeOrphan(orphan: Orphan): string {
  return vscode.l10n.t({
    message: '{0}, {1} old',
    args: [kindLabel(orphan.kind), uiAge(orphan.ageMs)],
    comment: ['{0} is the tool that left a temp file (e.g. "write-file-atomic (npm)"), {1} its age (e.g. "5 min").'],
  });
}

/** "5 orphaned temp files" */
export function orphanCount(count: number): string {
  return count === 1 ? vscode.l10n.t('1 orphaned temp file') : vscode.l10n.t('{0} orphaned temp files', count);
}

/** The target has no usable content: missing, empty or corrupt. */
export function targetIsBroken(orphan: Orphan): boolean {
  return orphan.targetState === 'missing' || orphan.targetState === 'empty' || orphan.targetState === 'corrupt';
}

/**
 * A journal, temp or backup of a group commit (`*.csg-<id>.tmp|bak`, `.cs-group-<id>.journal`). The group's files are
 * one unit that only group recovery (Finish Interrupted Group Commits) finishes; recover and sweep never take one alone.
 */
export function isGroupFile(orphan: Orphan): boolean {
  return recogniseGroupFile(basename(orphan.path)) !== undefined;
}

/**
 * A valid temp of a broken target: recovering from it is the likely next step. Never a group file: the single-file
 * Recover does not use a group's temp (a group that creates a file leaves it missing until the group is finished).
 */
export function needsRecovery(orphan: Orphan): boolean {
  return orphan.validJson === true && targetIsBroken(orphan) && !isGroupFile(orphan);
}

/** The journals of the interrupted group commits among the orphans (those whose journal exists), sorted. */
export function interruptedGroups(orphans: readonly Orphan[]): string[] {
  return [...new Set(orphans.flatMap((orphan) => (orphan.group === undefined ? [] : [orphan.group])))].sort();
}

/** Targets with no valid content while a valid temp of theirs exists, in scan order. */
export function targetsNeedingRecovery(orphans: readonly Orphan[]): string[] {
  return [...new Set(orphans.filter(needsRecovery).map((orphan) => orphan.target))];
}

/** `data/` for a workspace-relative path, `./` at the top of the folder. */
export function folderLabel(relativePath: string): string {
  const dir = dirname(relativePath);
  return dir === '.' ? './' : `${dir}/`;
}

/** What is wrong with the orphan's target, short enough to lead a truncated line; undefined when nothing is. */
export function orphanProblem(orphan: Orphan): string | undefined {
  const target = basename(orphan.target);
  if (orphan.targetState === 'unknown') {
    return vscode.l10n.t({
      message: '{0} unchecked',
      args: [target],
      comment: ['{0} is a file name whose state could not be checked.'],
    });
  }
  if (!targetIsBroken(orphan)) return undefined;
  const state = stateLabel(orphan.targetState);
  if (orphan.validJson === true)
    return vscode.l10n.t({
      message: '{0} {1}, valid copy',
      args: [target, state],
      comment: [
        '{0} is a file name, {1} its state (missing, empty or corrupt); short, it leads a line in a narrow view.',
      ],
    });
  if (orphan.validJson === false)
    return vscode.l10n.t({
      message: '{0} {1}, copy not valid either',
      args: [target, state],
      comment: [
        '{0} is a file name, {1} its state (missing, empty or corrupt); short, it leads a line in a narrow view.',
      ],
    });
  return vscode.l10n.t({
    message: '{0} {1}',
    args: [target, state],
    comment: [
      '{0} is a file name, {1} its state (missing, empty or corrupt); short, it leads a line in a narrow view.',
    ],
  });
}

/** A short phrase (a problem, a list of files) as a sentence of its own: with the language's full stop. */
export function asSentence(phrase: string): string {
  return vscode.l10n.t({
    message: '{0}.',
    args: [phrase],
    comment: [
      'Ends a sentence that is only {0}, a short phrase such as "data.json corrupt, valid copy" or a list of files. Use your language\'s full stop.',
    ],
  });
}

/** "a, b, c and 2 more" */
export function listNames(names: readonly string[], limit = 3): string {
  if (names.length <= 1) return names[0] ?? '';
  if (names.length <= limit)
    return vscode.l10n.t({
      message: '{0} and {1}',
      args: [names.slice(0, -1).join(', '), names.at(-1)!],
      comment: ['Ends a list of file names: {0} is the names before the last, joined by ", ", {1} the last name.'],
    });
  const shown = names.slice(0, limit).join(', ');
  const more = names.length - limit;
  return more === 1
    ? vscode.l10n.t({
        message: '{0} and 1 more',
        args: [shown],
        comment: ['{0} is a list of file names joined by ", "; one more name is not shown.'],
      })
    : vscode.l10n.t({
        message: '{0} and {1} more',
        args: [shown, more],
        comment: ['{0} is a list of file names joined by ", "; {1} more names are not shown.'],
      });
}

/**
 * Core texts that are still English (errors, not reasons: reasons come as codes and are worded by reasonWords.ts) are
 * shared with the CLI and may end in a hint for it ("…; recover it with recover --groups"). In VS Code the clauses that
 * point at the command line are dropped; the UI offers its own actions.
 */
export function uiText(text: string): string {
  if (!mentionsCli(text)) return text;
  const kept = text.split(/;\s+/).filter((clause) => !mentionsCli(clause));
  return kept.length > 0
    ? kept.join('; ')
    : vscode.l10n.t({
        message: 'see the log',
        comment: ['Stands in for a reason that only made sense on the command line.'],
      });
}

/** Kept files grouped by reason (already worded, see reasonWords.ts), one sentence per reason, at most `limit` sentences. */
export function describeKept(
  kept: readonly { path: string; reason: string }[],
  relative: (path: string) => string,
  limit = 3,
): string {
  const byReason = new Map<string, string[]>();
  for (const { path, reason } of kept)
    byReason.set(uiText(reason), [...(byReason.get(uiText(reason)) ?? []), relative(path)]);
  const sentences = [...byReason].map(([reason, paths]) =>
    vscode.l10n.t({
      message: 'Kept {0}: {1}.',
      args: [listNames(paths), reason],
      comment: ['{0} is a list of files a sweep did not remove, {1} the reason.'],
    }),
  );
  if (sentences.length <= limit) return sentences.join(' ');
  const hiddenFiles = [...byReason.values()].slice(limit).reduce((sum, paths) => sum + paths.length, 0);
  const rest =
    hiddenFiles === 1
      ? vscode.l10n.t('Kept 1 more file for other reasons (see log).')
      : vscode.l10n.t('Kept {0} more files for other reasons (see log).', hiddenFiles);
  return [...sentences.slice(0, limit), rest].join(' ');
}

/**
 * Text shown in VS Code never points at the command line: it names no CLI flag (`--force`) or CLI command, since a
 * VS Code user acts through the UI. Integration tests check every message against this.
 */
export function mentionsCli(text: string): boolean {
  return /(^|\s)--[a-z]/.test(text) || /\bcrash-safe (scan|sweep|recover|write|todos|tasks|snapshot)\b/.test(text);
}
