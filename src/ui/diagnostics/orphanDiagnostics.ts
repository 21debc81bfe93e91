import { basename } from 'node:path';
import * as vscode from 'vscode';
import { nodeFs } from '../../core/fs';
import { judgeJsonFile } from '../../core/json/judgeFile';
import type { Orphan, TargetState } from '../../core/orphans/orphans';
import type { Reason } from '../../core/reasons';
import type { BrokenFile, BrokenFiles } from '../copies/brokenFiles';
import { copyLabel } from '../copies/copyWords';
import { isGroupFile, kindLabel, needsRecovery, uiAge } from '../orphans/format';
import type { OrphanModel } from '../orphans/orphanModel';
import type { ExtensionSettings } from '../settings';
import { OrphanCodeActions, type OrphanEntry } from './orphanCodeActions';

/** `source` of every entry, so the code-action provider (and people filtering Problems) can tell ours apart. */
export const DIAGNOSTIC_SOURCE = 'Crash-Safe State';

export const DiagnosticCode = {
  CorruptTarget: 'corrupt-target',
  EmptyTarget: 'empty-target',
  MissingTarget: 'missing-target',
  /** A file of only NUL bytes (the classic power-loss damage) that a copy can restore. */
  NulTarget: 'nul-target',
  StaleTemp: 'stale-temp',
} as const;
export type DiagnosticCode = (typeof DiagnosticCode)[keyof typeof DiagnosticCode];

/** An entry and the file it is shown on. */
type Placed = { uri: vscode.Uri; entry: OrphanEntry };

export interface OrphanDiagnosticsDeps {
  /** Only the public surface: the model may scan incrementally. */
  model: Pick<OrphanModel, 'orphans' | 'onDidChange'>;
  settings: () => ExtensionSettings;
  relative: (path: string) => string;
  log: vscode.LogOutputChannel;
  /** Broken files (NUL bytes, empty) that a copy other than a temp can restore: Local History, git, a backup. */
  brokenFiles?: Pick<BrokenFiles, 'files' | 'onDidChange'>;
}

/** Where a parse failure is, when the reason is one. */
function positionIn(reason: Reason | undefined): vscode.Position | undefined {
  return reason?.code === 'parse-error' ? new vscode.Position(reason.line - 1, reason.column - 1) : undefined;
}

/** The Problems entry of a broken target: what is wrong with it (and where, for a parse error) and how old its valid temp is. */
function brokenTargetMessage(
  target: string,
  state: TargetState,
  position: vscode.Position | undefined,
  age: string,
): string {
  if (state === 'corrupt') {
    return position
      ? vscode.l10n.t({
          message: '{0} is not valid JSON (line {1}, column {2}); a valid temp from {3} ago can restore it',
          args: [target, position.line + 1, position.character + 1, age],
          comment: ['{0} is a file, {1} and {2} where parsing it failed, {3} an age (e.g. "5 min").'],
        })
      : vscode.l10n.t({
          message: '{0} is not valid JSON; a valid temp from {1} ago can restore it',
          args: [target, age],
          comment: ['{0} is a file, {1} an age (e.g. "5 min").'],
        });
  }
  return state === 'empty'
    ? vscode.l10n.t({
        message: '{0} is empty; a valid temp from {1} ago can restore it',
        args: [target, age],
        comment: ['{0} is a file, {1} an age (e.g. "5 min").'],
      })
    : vscode.l10n.t({
        message: '{0} is missing; a valid temp from {1} ago can restore it',
        args: [target, age],
        comment: ['{0} is a file, {1} an age (e.g. "5 min").'],
      });
}

/** Problems-panel entries for the orphan model: broken targets a valid temp can restore, and stale temps that can go. */
class OrphanDiagnostics {
  private byUri = new Map<string, OrphanEntry[]>();
  /** Bumped per refresh, so a slow refresh never overwrites a newer one. */
  private generation = 0;

  constructor(
    private readonly collection: vscode.DiagnosticCollection,
    private readonly deps: OrphanDiagnosticsDeps,
  ) {}

  entriesFor(uri: vscode.Uri): readonly OrphanEntry[] {
    return this.byUri.get(uri.toString()) ?? [];
  }

  async refresh(): Promise<void> {
    const generation = ++this.generation;
    const orphans = this.deps.model.orphans.filter((orphan) => !isGroupFile(orphan));
    const now = Date.now();
    const entries = [
      ...(await Promise.all(this.recoveryEntries(orphans, now))).filter((entry) => entry !== undefined),
      ...this.staleEntries(orphans, now),
    ];
    // A file that a temp can restore has its entry already; the others get one naming their best copy.
    const withEntry = new Set(entries.map(({ uri }) => uri.toString()));
    for (const file of this.deps.brokenFiles?.files() ?? []) {
      const placed = this.copyEntry(file);
      if (!withEntry.has(placed.uri.toString())) entries.push(placed);
    }
    if (generation !== this.generation) return;
    const byUri = new Map<string, { uri: vscode.Uri; entries: OrphanEntry[] }>();
    for (const { uri, entry } of entries) {
      const key = uri.toString();
      const slot = byUri.get(key) ?? { uri, entries: [] };
      slot.entries.push(entry);
      byUri.set(key, slot);
    }
    this.byUri = new Map([...byUri].map(([key, slot]) => [key, slot.entries]));
    this.collection.clear();
    this.collection.set([...byUri.values()].map((slot) => [slot.uri, slot.entries.map((entry) => entry.diagnostic)]));
  }

  /** One entry per broken target, on the target, naming its newest valid temp (the one recover takes). */
  private recoveryEntries(orphans: readonly Orphan[], now: number): Promise<Placed | undefined>[] {
    const newestByTarget = new Map<string, Orphan>();
    for (const orphan of orphans.filter(needsRecovery)) {
      const known = newestByTarget.get(orphan.target);
      if (!known || orphan.mtimeMs > known.mtimeMs) newestByTarget.set(orphan.target, orphan);
    }
    return [...newestByTarget.values()].map(async (temp): Promise<Placed | undefined> => {
      let state = temp.targetState;
      let position = positionIn(temp.why);
      if (state === 'corrupt' && !position) {
        // The note may hold another reason (git, a group); judge the target again for the position.
        const judged = await judgeJsonFile(nodeFs, temp.target);
        if (judged.state === 'valid') return undefined; // repaired since the scan; the next one drops it anyway
        if (judged.state === 'corrupt') position = positionIn(judged.why);
        else if (judged.state === 'empty' || judged.state === 'missing') state = judged.state;
      }
      const age = uiAge(now - temp.mtimeMs);
      const diagnostic = new vscode.Diagnostic(
        new vscode.Range(position ?? new vscode.Position(0, 0), position ?? new vscode.Position(0, 0)),
        brokenTargetMessage(this.deps.relative(temp.target), state, position, age),
        state === 'missing' ? vscode.DiagnosticSeverity.Warning : vscode.DiagnosticSeverity.Error,
      );
      diagnostic.source = DIAGNOSTIC_SOURCE;
      diagnostic.code =
        state === 'corrupt'
          ? DiagnosticCode.CorruptTarget
          : state === 'empty'
            ? DiagnosticCode.EmptyTarget
            : DiagnosticCode.MissingTarget;
      // A missing target cannot be opened for its quick fix; the temp it links to can be.
      diagnostic.relatedInformation = [
        new vscode.DiagnosticRelatedInformation(
          new vscode.Location(vscode.Uri.file(temp.path), new vscode.Position(0, 0)),
          vscode.l10n.t({
            message: 'Valid temp {0} ({1}, {2} old)',
            args: [basename(temp.path), kindLabel(temp.kind), age],
            comment: [
              '{0} is a temp file, {1} the tool that left it (e.g. "write-file-atomic (npm)"), {2} its age (e.g. "5 min").',
            ],
          }),
        ),
      ];
      return {
        uri: vscode.Uri.file(temp.target),
        entry: { diagnostic, fix: { kind: 'recover', target: temp.target, temp } },
      };
    });
  }

  /** The entry of a broken file that its best copy (Local History, git, a backup) can restore: Recover From… fixes it. */
  private copyEntry(file: BrokenFile): Placed {
    const copy = copyLabel(file.best);
    const diagnostic = new vscode.Diagnostic(
      new vscode.Range(0, 0, 0, 0),
      file.reason === 'nul'
        ? vscode.l10n.t({
            message: '{0} holds only NUL bytes; a good copy ({1}) can restore it',
            args: [this.deps.relative(file.target), copy],
            comment: ['{0} is a file, {1} a copy of it (e.g. "Local History · 14:02 · 2.0 KiB").'],
          })
        : vscode.l10n.t({
            message: '{0} is empty; a good copy ({1}) can restore it',
            args: [this.deps.relative(file.target), copy],
            comment: ['{0} is a file, {1} a copy of it (e.g. "Local History · 14:02 · 2.0 KiB").'],
          }),
      vscode.DiagnosticSeverity.Error,
    );
    diagnostic.source = DIAGNOSTIC_SOURCE;
    diagnostic.code = file.reason === 'nul' ? DiagnosticCode.NulTarget : DiagnosticCode.EmptyTarget;
    return {
      uri: vscode.Uri.file(file.target),
      entry: { diagnostic, fix: { kind: 'recover-from', target: file.target, copy } },
    };
  }

  /** Stale temps of a fine target that sweep could take (git-tracked files it never does are left out). */
  private staleEntries(orphans: readonly Orphan[], now: number): Placed[] {
    const staleMs = this.deps.settings().orphanAgeMinutes * 60_000;
    return orphans
      .filter((orphan) => orphan.targetState === 'ok' && !orphan.gitTracked && now - orphan.mtimeMs >= staleMs)
      .map((temp): Placed => {
        const diagnostic = new vscode.Diagnostic(
          new vscode.Range(0, 0, 0, 0),
          vscode.l10n.t({
            message: 'Orphaned temp file of {0} ({1}, {2} old); {0} is fine, so it can be deleted',
            args: [basename(temp.target), kindLabel(temp.kind), uiAge(now - temp.mtimeMs)],
            comment: [
              '{0} is the file the temp belongs to, {1} the tool that left it (e.g. "write-file-atomic (npm)"), {2} its age (e.g. "5 min").',
            ],
          }),
          vscode.DiagnosticSeverity.Information,
        );
        diagnostic.source = DIAGNOSTIC_SOURCE;
        diagnostic.code = DiagnosticCode.StaleTemp;
        return { uri: vscode.Uri.file(temp.path), entry: { diagnostic, fix: { kind: 'delete', temp } } };
      });
  }
}

/** Problems-panel entries and their quick fixes, kept in step with the orphan model. */
export function registerOrphanDiagnostics(context: vscode.ExtensionContext, deps: OrphanDiagnosticsDeps): void {
  const collection = vscode.languages.createDiagnosticCollection('crashSafeState');
  context.subscriptions.push(collection);
  const diagnostics = new OrphanDiagnostics(collection, deps);
  // A failed refresh keeps the last entries; the next scan tries again.
  const refresh = () =>
    void diagnostics
      .refresh()
      .catch((error: unknown) => deps.log.warn(`Problems entries not updated: ${String(error)}`));
  context.subscriptions.push(deps.model.onDidChange(refresh));
  if (deps.brokenFiles) context.subscriptions.push(deps.brokenFiles.onDidChange(refresh));
  context.subscriptions.push(
    vscode.languages.registerCodeActionsProvider(
      { scheme: 'file' },
      new OrphanCodeActions((uri) => diagnostics.entriesFor(uri), deps.relative),
      { providedCodeActionKinds: OrphanCodeActions.providedCodeActionKinds },
    ),
  );
  refresh();
}
