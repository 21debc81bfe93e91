import { basename } from 'node:path';
import * as vscode from 'vscode';
import type { Orphan } from '../../core/orphans/orphans';
import { CommandId } from '../commandIds';
import type { RecoverFromArgs } from '../copies/recoverFromCommand';
import { uiAge } from '../orphans/format';
import type { RecoverArgs, SweepArgs } from '../orphans/orphanCommands';

/** What a quick fix for one entry would do; the provider turns it into a command when the workspace is trusted. */
export type OrphanFix =
  | { kind: 'recover'; target: string; temp: Orphan }
  | { kind: 'delete'; temp: Orphan }
  /** No temp, but another copy (Local History, git, a backup): Recover From… lists them all. */
  | { kind: 'recover-from'; target: string; copy: string };

export interface OrphanEntry {
  diagnostic: vscode.Diagnostic;
  fix: OrphanFix;
}

const sameDiagnostic = (a: vscode.Diagnostic, b: vscode.Diagnostic) =>
  a.source === b.source && String(a.code) === String(b.code) && a.message === b.message;

/**
 * Quick fixes for the orphan entries: they run the existing Recover and Sweep commands, so the diff, the confirmation,
 * the backup and every sweep check stay in one place. Restricted Mode gets no action that changes files.
 */
export class OrphanCodeActions implements vscode.CodeActionProvider {
  static readonly providedCodeActionKinds = [vscode.CodeActionKind.QuickFix];

  constructor(
    private readonly entriesFor: (uri: vscode.Uri) => readonly OrphanEntry[],
    private readonly relative: (path: string) => string,
  ) {}

  provideCodeActions(
    document: vscode.TextDocument,
    _range: vscode.Range,
    context: vscode.CodeActionContext,
  ): vscode.CodeAction[] {
    if (context.only && !vscode.CodeActionKind.QuickFix.intersects(context.only)) return [];
    // The context's diagnostics are copies, not our objects: match them by source, code and message.
    const entries = this.entriesFor(document.uri).filter((entry) =>
      context.diagnostics.some((diagnostic) => sameDiagnostic(diagnostic, entry.diagnostic)),
    );
    return entries.flatMap((entry) => this.actionsFor(entry));
  }

  private actionsFor({ diagnostic, fix }: OrphanEntry): vscode.CodeAction[] {
    if (!vscode.workspace.isTrusted) {
      if (fix.kind === 'delete') return [];
      // Trusting changes no file, and it is the step that makes Recover possible.
      const trust = new vscode.CodeAction(
        vscode.l10n.t('Trust this workspace to recover {0}…', this.relative(fix.target)),
        vscode.CodeActionKind.QuickFix,
      );
      trust.diagnostics = [diagnostic];
      trust.command = { command: 'workbench.trust.manage', title: trust.title };
      return [trust];
    }
    if (fix.kind === 'recover-from') {
      const args: RecoverFromArgs = { target: fix.target };
      const action = new vscode.CodeAction(
        vscode.l10n.t({
          message: 'Recover From… (best: {0})',
          args: [fix.copy],
          comment: [
            '{0} is the newest good copy (e.g. "Local History · 14:02 · 2.0 KiB"); the command lists every copy.',
          ],
        }),
        vscode.CodeActionKind.QuickFix,
      );
      action.diagnostics = [diagnostic];
      action.isPreferred = true;
      action.command = { command: CommandId.RecoverFrom, title: action.title, arguments: [args] };
      return [action];
    }
    const temp = basename(fix.temp.path);
    if (fix.kind === 'recover') {
      // The action names this temp, so it recovers from this temp.
      const args: RecoverArgs = { target: fix.target, from: fix.temp.path };
      const action = new vscode.CodeAction(
        vscode.l10n.t({
          message: 'Recover from {0} ({1} old)',
          args: [temp, uiAge(Date.now() - fix.temp.mtimeMs)],
          comment: ['{0} is a temp file, {1} its age (e.g. "5 min").'],
        }),
        vscode.CodeActionKind.QuickFix,
      );
      action.diagnostics = [diagnostic];
      action.isPreferred = true;
      action.command = { command: CommandId.Recover, title: action.title, arguments: [args] };
      return [action];
    }
    // Sweep restricted to this file: it still keeps the temp if it turns out young, in use or the only good copy.
    const args: SweepArgs = { paths: [fix.temp.path] };
    const action = new vscode.CodeAction(vscode.l10n.t('Delete this temp'), vscode.CodeActionKind.QuickFix);
    action.diagnostics = [diagnostic];
    action.command = { command: CommandId.Sweep, title: action.title, arguments: [args] };
    return [action];
  }
}
