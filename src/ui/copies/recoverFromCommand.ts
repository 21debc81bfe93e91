import { basename, resolve } from 'node:path';
import * as vscode from 'vscode';
import { type Copy, type CopySource, isCopySource } from '../../core/copies/copyModel';
import {
  bestCopy,
  type CopiesResult,
  type FindCopiesOptions,
  findCopies,
  recoverFromCopy,
  selectCopy,
} from '../../core/copies/findCopies';
import type { HistoryIndex } from '../../core/copies/historyCopies';
import { messageOf } from '../../core/errors';
import { readRegularFile } from '../../core/fs';
import { RecoveryError, type RecoveryResult } from '../../core/orphans/recovery';
import { stateCopyFinders } from '../../state/stateCopies';
import { type CopyCandidate, pickCopyAndRecover } from '../copyPicker';
import { confirmReplaceValid } from '../dialogs';
import { requireTrust } from '../orphans/commandContext';
import { uiText } from '../orphans/format';
import type { OrphanModel } from '../orphans/orphanModel';
import { compareWithBackupAction, openBackupAction, runRecoveredAction } from '../orphans/recoverCommand';
import type { ExtensionSettings } from '../settings';
import { markWalkthrough, WalkthroughKey } from '../walkthroughProgress';
import type { CopyContentProvider } from './copyContent';
import { copyLabel, copySourceLabel } from './copyWords';
import type { LocalHistoryPlace } from './localHistory';

/** Arguments that let the Problems entry, the start-up toast and tests drive Recover From… without the picker. */
export interface RecoverFromArgs {
  target?: string;
  /** `SOURCE[:N]` as in the CLI's `--from` (`history`, `git:1`): recover from that copy without the picker. */
  from?: string;
  /** With `from`: no picker and no question. */
  confirm?: boolean;
  /** Replace a file that is valid (after the question, or at once with `confirm`). */
  force?: boolean;
}

/** What Recover From… did: the recovery, the copy used, and the buttons its message offered. */
export interface RecoverFromOutcome extends RecoveryResult {
  copy: { source: CopySource; index: number; kind: string; label: string };
  actions: string[];
}

export interface CopiesDeps {
  log: vscode.LogOutputChannel;
  settings: () => ExtensionSettings;
  relative: (path: string) => string;
  model: Pick<OrphanModel, 'refresh'>;
  provider: CopyContentProvider;
  place: LocalHistoryPlace;
  /** Told about every file recovered, so the Problems entry and the editor's context key follow. */
  recovered?: (target: string) => void;
}

/** findCopies' options for this window: its Local History, git, the temp patterns and src/state's backups. */
export function copiesOptions(deps: Pick<CopiesDeps, 'settings' | 'place'>, signal?: AbortSignal): FindCopiesOptions {
  return {
    ...(deps.place.dir ? { historyDir: deps.place.dir, history: deps.place.history } : {}),
    extraPatterns: deps.settings().tempPatterns,
    extraFinders: stateCopyFinders(),
    ...(signal ? { signal } : {}),
  };
}

/** A copy that can replace the file: read, and neither broken nor unknown. */
export const isUsable = (copy: Copy) => copy.judgement !== 'broken' && copy.judgement !== 'unknown';

/** The target of a command run from the Explorer or an editor title (a URI), from arguments, or the active editor's. */
function targetOf(arg: vscode.Uri | RecoverFromArgs | undefined): string | undefined {
  if (arg instanceof vscode.Uri) return arg.scheme === 'file' ? arg.fsPath : undefined;
  if (arg?.target) return resolve(arg.target);
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  const uri =
    input instanceof vscode.TabInputText || input instanceof vscode.TabInputCustom
      ? input.uri
      : vscode.window.activeTextEditor?.document.uri;
  return uri?.scheme === 'file' ? uri.fsPath : undefined;
}

function parseFrom(from: string): { source: CopySource; index: number } | undefined {
  const match = /^(?<source>[a-z]+)(?::(?<index>\d{1,6}))?$/.exec(from)?.groups;
  if (!match || !isCopySource(match.source!)) return undefined;
  return { source: match.source, index: Number(match.index ?? 0) };
}

/** The left side of the diffs: the file, its bytes as text when they are NUL bytes or not UTF-8, or "(missing)". */
async function currentSide(found: CopiesResult, provider: CopyContentProvider): Promise<vscode.Uri> {
  const state = found.targetState;
  if (state.state === 'missing') {
    const missing = vscode.l10n.t({
      message: '(missing)',
      comment: ['Name of the empty left side of a diff, when the file to recover does not exist.'],
    });
    return vscode.Uri.from({ scheme: 'untitled', path: missing });
  }
  // VS Code would refuse to diff a file it takes for binary: show its bytes as text instead, read-only.
  if (state.state === 'broken' && (state.reason === 'nul' || state.reason === 'invalid-utf8')) {
    return provider.uriFor(found.target, 'current', () => readRegularFile(found.target));
  }
  return vscode.Uri.file(found.target);
}

/** Finds every copy of `target`, with a window progress while it looks. */
async function listCopies(deps: CopiesDeps, target: string): Promise<CopiesResult> {
  return vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Window,
      title: vscode.l10n.t({
        message: 'Crash-Safe State: looking for copies of {0}',
        args: [basename(target)],
        comment: ['{0} is a file name.'],
      }),
    },
    () => findCopies(target, copiesOptions(deps)),
  );
}

/** Replaces the target with `copy` (recoverFromCopy: atomically, keeping the old file), and says so. */
async function recoverWith(
  deps: CopiesDeps,
  found: CopiesResult,
  copy: Copy,
  force: boolean,
): Promise<RecoverFromOutcome | undefined> {
  const { log, relative } = deps;
  const target = found.target;
  const label = copyLabel(copy);
  try {
    const result = await recoverFromCopy(target, copy, {
      force,
      durability: deps.settings().durability,
      textExpected: found.textExpected,
    });
    log.info(`Recovered ${target} from ${copy.where}${result.backup ? `; backup at ${result.backup}` : ''}`);
    const actions = result.backup ? [openBackupAction(), compareWithBackupAction()] : [];
    void vscode.window
      .showInformationMessage(
        result.backup
          ? vscode.l10n.t('Recovered {0} from {1}. Backup: {2}', relative(target), label, basename(result.backup))
          : vscode.l10n.t('Recovered {0} from {1}.', relative(target), label),
        ...actions,
      )
      .then((action) => runRecoveredAction(action, result));
    deps.model.refresh([target, ...(result.backup ? [result.backup] : [])]);
    deps.recovered?.(target);
    markWalkthrough(WalkthroughKey.Recovered);
    return { ...result, copy: { source: copy.source, index: copy.index, kind: copy.kind, label }, actions };
  } catch (error) {
    if (error instanceof RecoveryError && error.code === 'not-needed') {
      void vscode.window.showInformationMessage(
        vscode.l10n.t('{0} is valid: there is nothing to recover.', relative(target)),
      );
      return undefined;
    }
    const message = messageOf(error);
    log.error(`Recovery of ${target} from ${copy.where} refused or failed: ${message}`);
    void vscode.window.showErrorMessage(uiText(message));
    return undefined;
  }
}

/**
 * Recover From…: every good copy of a file from every source (Local History, git, temps, backups), newest first, with
 * a live diff of the highlighted one; choosing one replaces the file atomically and keeps the old one as a backup. In
 * Restricted Mode it lists and compares, but does not replace.
 */
export async function recoverFrom(
  deps: CopiesDeps,
  arg?: vscode.Uri | RecoverFromArgs,
): Promise<RecoverFromOutcome | undefined> {
  const args: RecoverFromArgs = arg instanceof vscode.Uri ? {} : (arg ?? {});
  const target = targetOf(arg);
  if (!target) {
    void vscode.window.showInformationMessage(vscode.l10n.t('Open or select a file to recover it from a copy.'));
    return undefined;
  }
  const { relative } = deps;
  const found = await listCopies(deps, target);
  for (const note of found.notes) deps.log.info(`Copies of ${target}: ${note}`);
  const usable = found.copies.filter(isUsable);
  if (usable.length === 0) {
    void vscode.window.showWarningMessage(
      vscode.l10n.t('No good copy of {0} was found in Local History, git, temp files or backups.', relative(target)),
    );
    return undefined;
  }
  const valid = !found.targetState.broken;
  if (args.from !== undefined) {
    const wanted = parseFrom(args.from);
    const copy = wanted && selectCopy(usable, wanted.source, wanted.index);
    if (!copy) {
      void vscode.window.showErrorMessage(
        vscode.l10n.t('{0} has no good copy "{1}" to recover from.', relative(target), args.from),
      );
      return undefined;
    }
    if (args.confirm) {
      if (!requireTrust('recover')) return undefined;
      return recoverWith(deps, found, copy, args.force ?? false);
    }
    usable.splice(0, usable.length, copy);
  }

  deps.provider.nextSession();
  const trusted = vscode.workspace.isTrusted;
  const candidates = usable.map(
    (copy): CopyCandidate<RecoverFromOutcome> => ({
      label: copyLabel(copy),
      ...(copy.detail ? { description: copy.detail } : {}),
      detail: copy.source === 'git' ? copy.where : relative(copy.path),
      time: copy.time ?? 0,
      uri: deps.provider.uriFor(target, `${copy.source}-${copy.index}`, () => copy.read()),
      diffTitle: vscode.l10n.t({
        message: '{0} ↔ {1}',
        args: [basename(target), copyLabel(copy)],
        comment: ['A diff title: {0} is the file as it is now, {1} a copy of it (e.g. "Local History · 14:02").'],
      }),
      recover: async () => {
        if (!requireTrust('recover')) return undefined;
        if (valid && !(await confirmReplaceValid(relative(target), copySourceLabel(copy)))) return undefined;
        return recoverWith(deps, found, copy, valid);
      },
    }),
  );
  return pickCopyAndRecover(candidates, {
    current: await currentSide(found, deps.provider),
    title: trusted
      ? vscode.l10n.t({
          message: 'Recover {0} from which copy? (the current file is kept as a backup)',
          args: [relative(target)],
          comment: ['{0} is the file to recover.'],
        })
      : vscode.l10n.t({
          message: 'Copies of {0} (trust the workspace to recover from one)',
          args: [relative(target)],
          comment: ['{0} is a file; the workspace is in Restricted Mode.'],
        }),
    placeholder: vscode.l10n.t('Highlight a copy to compare it with the current file; Enter restores it'),
  });
}

/** The best copy to offer for a broken file (the newest good one), or undefined. */
export async function bestCopyOf(
  deps: Pick<CopiesDeps, 'settings' | 'place'>,
  target: string,
  signal?: AbortSignal,
  historyIndex?: HistoryIndex,
): Promise<{ found: CopiesResult; best: Copy | undefined }> {
  const options = copiesOptions(deps, signal);
  if (historyIndex && options.historyDir) options.history = { ...options.history, index: historyIndex };
  const found = await findCopies(target, options);
  return { found, best: bestCopy(found.copies) };
}
