import { basename, dirname } from 'node:path';
import { formatAge, type Orphan, type OrphanKind } from '../../core/orphans';

const KIND_LABELS: Record<OrphanKind, string> = {
  'crash-safe': 'Crash-Safe State',
  'write-file-atomic': 'write-file-atomic (npm)',
  atomically: 'atomically',
  steno: 'steno / lowdb',
  vscode: 'VS Code save',
  'tmp-suffix': '*.tmp.<id>',
  'dot-hex-tmp': '.<name>.<hex>.tmp',
  custom: 'your pattern',
};

/** Which tool left the orphan, for people. */
export function kindLabel(kind: OrphanKind): string {
  return KIND_LABELS[kind] ?? kind;
}

export function describeOrphan(orphan: Orphan): string {
  return `${kindLabel(orphan.kind)}, ${formatAge(orphan.ageMs)} old`;
}

/** The target has no usable content: missing, empty or corrupt. */
export function targetIsBroken(orphan: Orphan): boolean {
  return orphan.targetState === 'missing' || orphan.targetState === 'empty' || orphan.targetState === 'corrupt';
}

/** A valid temp of a broken target: recovering from it is the likely next step. */
export function needsRecovery(orphan: Orphan): boolean {
  return orphan.validJson === true && targetIsBroken(orphan);
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
  if (orphan.targetState === 'unknown') return `${target} unchecked`;
  if (!targetIsBroken(orphan)) return undefined;
  if (orphan.validJson === true) return `${target} ${orphan.targetState}, valid copy`;
  if (orphan.validJson === false) return `${target} ${orphan.targetState}, copy not valid either`;
  return `${target} ${orphan.targetState}`;
}

/** "a, b, c and 2 more" */
export function listNames(names: readonly string[], limit = 3): string {
  if (names.length <= limit) return names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
  return `${names.slice(0, limit).join(', ')} and ${names.length - limit} more`;
}

export const plural = (count: number, one: string, many = `${one}s`): string => `${count} ${count === 1 ? one : many}`;

/**
 * Core reasons and notes are shared with the CLI and may end in a hint for it ("…; recover it with recover --groups").
 * In VS Code the clauses that point at the command line are dropped; the UI offers its own actions.
 */
export function uiText(text: string): string {
  if (!mentionsCli(text)) return text;
  const kept = text.split(/;\s+/).filter((clause) => !mentionsCli(clause));
  return kept.length > 0 ? kept.join('; ') : 'see the log';
}

/** Kept files grouped by reason, one sentence per reason, at most `limit` sentences. */
export function describeKept(kept: readonly { path: string; reason: string }[], relative: (path: string) => string, limit = 3): string {
  const byReason = new Map<string, string[]>();
  for (const { path, reason } of kept) byReason.set(uiText(reason), [...(byReason.get(uiText(reason)) ?? []), relative(path)]);
  const sentences = [...byReason].map(([reason, paths]) => `Kept ${listNames(paths)}: ${reason}.`);
  if (sentences.length <= limit) return sentences.join(' ');
  const shown = sentences.slice(0, limit);
  const hiddenFiles = [...byReason.values()].slice(limit).reduce((sum, paths) => sum + paths.length, 0);
  return `${shown.join(' ')} Kept ${plural(hiddenFiles, 'more file')} for other reasons (see log).`;
}

/**
 * Text shown in VS Code never points at the command line: it names no CLI flag (`--force`) or CLI command, since a
 * VS Code user acts through the UI. Integration tests check every message against this.
 */
export function mentionsCli(text: string): boolean {
  return /(^|\s)--[a-z]/.test(text) || /\bcrash-safe (scan|sweep|recover|write|tasks|snapshot)\b/.test(text);
}
