import { basename, dirname, resolve } from 'node:path';
import * as vscode from 'vscode';
import { messageOf } from '../../core/errors';
import type { Orphan } from '../../core/orphans/orphans';
import {
  findRecoveryCandidates,
  type RecoveryCandidate,
  RecoveryError,
  type RecoveryResult,
  recoverTarget,
} from '../../core/orphans/recovery';
import { type CopyCandidate, pickCopyAndRecover } from '../copyPicker';
import { confirmModal, confirmReplaceValid, withDiff } from '../dialogs';
import { uiSize } from '../groups/groupStartupRecovery';
import { markWalkthrough, WalkthroughKey } from '../walkthroughProgress';
import { type CommandContext, requireTrust } from './commandContext';
import { isGroupFile, kindLabel, listNames, needsRecovery, stateLabel, uiAge, uiText } from './format';

/** Arguments that let keybindings and tests drive Recover without any dialog. */
export interface RecoverArgs {
  target?: string;
  /**
   * Recover from this temp of the target (a row of Orphaned Temp Files, a quick fix that names it): the diff, the
   * question and the recovery all use this copy, and no other is offered. Without it, several valid copies are offered
   * in a picker.
   */
  from?: string;
  /** Skip the diff preview and the confirmation (and the picker: without `from`, the newest valid copy is used). */
  confirm?: boolean;
  /** Recover even when the current target is valid and newer than every candidate. */
  force?: boolean;
}

/** What a recovery did, and the buttons its message offered. */
export interface RecoverOutcome extends RecoveryResult {
  actions: string[];
}

/** "target is valid": recover's own dry run decides, so the UI judges exactly as recovering will. */
async function targetIsValid(target: string, extraPatterns: string[]): Promise<boolean> {
  try {
    await recoverTarget(target, { dryRun: true, extraPatterns });
    return false;
  } catch (error) {
    if (error instanceof RecoveryError && error.code === 'not-needed') return true;
    return false; // the real attempt reports it
  }
}

function nothingToRecover(target: string): string {
  return vscode.l10n.t('{0} is valid: there is nothing to recover.', target);
}

/** "data.json ↔ data.json.tmp-1 (5 min old)", the title of the diff of the target against one copy. */
function diffTitle(target: string, valid: boolean, temp: string, age: string): string {
  return valid
    ? vscode.l10n.t({
        message: '{0} (valid) ↔ {1} ({2} old)',
        args: [target, temp, age],
        comment: [
          '{0} is the file to recover, {1} a temp file it could be restored from, {2} the temp\'s age (e.g. "5 min").',
        ],
      })
    : vscode.l10n.t({
        message: '{0} ↔ {1} ({2} old)',
        args: [target, temp, age],
        comment: [
          '{0} is the file to recover, {1} a temp file it could be restored from, {2} the temp\'s age (e.g. "5 min").',
        ],
      });
}

/** The button labels of the message after a recovery; a click is compared against the same (localised) labels. */
export const openBackupAction = () => vscode.l10n.t('Open Backup');
export const compareWithBackupAction = () => vscode.l10n.t('Compare with Backup');

/** Acts on a click on the message after a recovery: opens the backup, or diffs it against the recovered file. */
export async function runRecoveredAction(action: string | undefined, result: RecoveryResult): Promise<void> {
  if (!result.backup) return;
  const backup = vscode.Uri.file(result.backup);
  if (action === openBackupAction()) await vscode.commands.executeCommand('vscode.open', backup);
  if (action === compareWithBackupAction()) {
    const title = vscode.l10n.t({
      message: '{0} (backup) ↔ {1} (recovered)',
      args: [basename(result.backup), basename(result.target)],
      comment: ["A diff editor's title: {0} is the backup of the replaced file, {1} the file as recovered."],
    });
    await vscode.commands.executeCommand('vscode.diff', backup, vscode.Uri.file(result.target), title);
  }
}

/** The state a recovery shares: the target, whether it is valid now, and the command's context. */
interface Recovery {
  deps: CommandContext;
  target: string;
  valid: boolean;
  extraPatterns: string[];
}

/** Restores the target from `copy` (exactly that file, as judged), consumes the copy, and says so. */
async function recoverFrom(
  { deps, target, extraPatterns }: Recovery,
  copy: RecoveryCandidate,
  force: boolean,
): Promise<RecoverOutcome | undefined> {
  const { log, model, relative } = deps;
  try {
    const result = await recoverTarget(target, {
      force,
      extraPatterns,
      from: copy.path,
      fromIdentity: copy.identity,
      consumeCandidate: true,
    });
    const consumed = result.consumed;
    log.info(
      `Recovered ${result.target} from ${result.from}${result.backup ? `; backup at ${result.backup}` : ''}` +
        (consumed?.removed ? `; removed ${result.from}, its content is the file's now` : '') +
        (consumed && !consumed.removed ? `; kept ${result.from}: ${consumed.reason}` : ''),
    );
    const actions = result.backup ? [openBackupAction(), compareWithBackupAction()] : [];
    void vscode.window
      .showInformationMessage(
        result.backup
          ? vscode.l10n.t(
              'Recovered {0} from {1}. Backup: {2}',
              relative(target),
              basename(result.from),
              basename(result.backup),
            )
          : vscode.l10n.t('Recovered {0} from {1}.', relative(target), basename(result.from)),
        ...actions,
      )
      .then((action) => runRecoveredAction(action, result));
    model.refresh([result.target, result.from, ...(result.backup ? [result.backup] : [])]);
    markWalkthrough(WalkthroughKey.Recovered);
    return { ...result, actions };
  } catch (error) {
    if (error instanceof RecoveryError && error.code === 'not-needed') {
      void vscode.window.showInformationMessage(nothingToRecover(relative(target)));
      return undefined;
    }
    const message = messageOf(error);
    log.error(`Recovery of ${target} refused or failed: ${message}`);
    void vscode.window.showErrorMessage(uiText(message));
    return undefined;
  }
}

/** The left side of every diff: the target, or an empty `untitled:` side named "(missing)". */
async function currentSide(target: string): Promise<vscode.Uri> {
  const targetUri = vscode.Uri.file(target);
  const exists = await vscode.workspace.fs.stat(targetUri).then(
    () => true,
    () => false,
  );
  const missing = vscode.l10n.t({
    message: '(missing)',
    comment: ['Name of the empty left side of a diff, when the file to recover does not exist.'],
  });
  return exists ? targetUri : vscode.Uri.from({ scheme: 'untitled', path: missing });
}

/** One copy: its diff and the question, then the recovery from exactly that copy. */
async function askAndRecover(recovery: Recovery, copy: RecoveryCandidate): Promise<RecoverOutcome | undefined> {
  const { deps, target, valid } = recovery;
  const title = diffTitle(basename(target), valid, basename(copy.path), uiAge(Date.now() - copy.mtimeMs));
  const confirmed = await withDiff(await currentSide(target), vscode.Uri.file(copy.path), title, () =>
    valid
      ? confirmReplaceValid(deps.relative(target), basename(copy.path))
      : confirmModal(
          vscode.l10n.t(
            'Replace {0} with {1}? The current file is kept as a backup.',
            deps.relative(target),
            basename(copy.path),
          ),
          vscode.l10n.t('Recover'),
        ),
  );
  return confirmed ? recoverFrom(recovery, copy, valid) : undefined;
}

/** A temp as the copy picker shows it: "write-file-atomic (npm) · 5 min old · 2.1 KiB". */
function tempCopy(recovery: Recovery, copy: RecoveryCandidate): CopyCandidate<RecoverOutcome> {
  const { deps, target, valid } = recovery;
  const age = uiAge(Date.now() - copy.mtimeMs);
  const elsewhere = dirname(copy.path) !== dirname(target);
  return {
    label: basename(copy.path),
    description: vscode.l10n.t({
      message: '{0} · {1} old · {2}',
      args: [kindLabel(copy.kind), age, uiSize(copy.size)],
      comment: ['{0} is the tool that left a temp file (e.g. "write-file-atomic (npm)"), {1} its age, {2} its size.'],
    }),
    // A copy beside the real file of a symlinked target: say where.
    ...(elsewhere ? { detail: deps.relative(copy.path) } : {}),
    time: copy.mtimeMs,
    uri: vscode.Uri.file(copy.path),
    diffTitle: diffTitle(basename(target), valid, basename(copy.path), age),
    recover: async () =>
      !valid || (await confirmReplaceValid(deps.relative(target), basename(copy.path)))
        ? recoverFrom(recovery, copy, valid)
        : undefined,
  };
}

export async function recover(deps: CommandContext, args: RecoverArgs = {}): Promise<RecoverOutcome | undefined> {
  if (!requireTrust('recover')) return undefined;
  const { relative } = deps;
  const extraPatterns = deps.settings().tempPatterns;
  const target = args.target ?? (await pickTarget(deps));
  if (!target) return undefined;
  const candidates = await findRecoveryCandidates(target, { extraPatterns });
  const named = args.from === undefined ? undefined : resolve(args.from);
  const copies = named === undefined ? candidates : candidates.filter((candidate) => candidate.path === named);
  if (named !== undefined && copies.length === 0) {
    void vscode.window.showErrorMessage(
      vscode.l10n.t({
        message: '{0} is not a valid copy of {1} (any more), so it cannot restore it.',
        args: [basename(named), relative(target)],
        comment: ['{0} is a temp file, {1} the file it was meant to restore.'],
      }),
    );
    return undefined;
  }
  const newest = copies[0];
  if (!newest) {
    void vscode.window.showErrorMessage(
      vscode.l10n.t('No valid temp file of {0} exists to recover from.', relative(target)),
    );
    return undefined;
  }
  const valid = await targetIsValid(target, extraPatterns);
  const recovery: Recovery = { deps, target, valid, extraPatterns };
  const force = args.force ?? false;
  if (args.confirm) {
    if (valid && !force) {
      void vscode.window.showInformationMessage(nothingToRecover(relative(target)));
      return undefined;
    }
    return recoverFrom(recovery, newest, force);
  }
  if (copies.length === 1) return askAndRecover(recovery, newest);
  return pickCopyAndRecover(
    copies.map((copy) => tempCopy(recovery, copy)),
    {
      current: await currentSide(target),
      title: vscode.l10n.t({
        message: 'Recover {0} from which copy? (the current file is kept as a backup)',
        args: [relative(target)],
        comment: ['{0} is the file to recover.'],
      }),
      placeholder: vscode.l10n.t('Highlight a copy to compare it with the current file; Enter restores it'),
    },
  );
}

/** The state of a target in the file picker. */
function targetStatus(state: Orphan['targetState'], broken: boolean): string {
  if (broken)
    return vscode.l10n.t({
      message: '{0}, needs recovery',
      args: [stateLabel(state)],
      comment: ['{0} is the state of a file: missing, empty or corrupt.'],
    });
  return state === 'ok' ? vscode.l10n.t('valid now') : stateLabel(state);
}

/** Targets with at least one valid temp, broken ones first. */
async function pickTarget({ model, relative }: CommandContext): Promise<string | undefined> {
  const byTarget = new Map<string, Orphan[]>();
  for (const orphan of await model.rescan()) {
    // A group's temp is no candidate here: only Finish Interrupted Group Commits uses it.
    if (orphan.validJson === false || isGroupFile(orphan)) continue;
    byTarget.set(orphan.target, [...(byTarget.get(orphan.target) ?? []), orphan]);
  }
  const items = [...byTarget.entries()]
    .map(([target, temps]) => {
      const broken = temps.some(needsRecovery);
      const names = listNames(
        temps.map((t) => basename(t.path)),
        2,
      );
      const files =
        temps.length === 1
          ? vscode.l10n.t('1 temp file: {0}', names)
          : vscode.l10n.t('{0} temp files: {1}', temps.length, names);
      return {
        label: relative(target),
        description: `${targetStatus(temps[0]!.targetState, broken)} · ${files}`,
        target,
        broken,
      };
    })
    .sort((a, b) => Number(b.broken) - Number(a.broken));
  if (items.length === 0) {
    void vscode.window.showInformationMessage(vscode.l10n.t('No file has a temp file to recover from.'));
    return undefined;
  }
  return (
    await vscode.window.showQuickPick(items, { title: vscode.l10n.t('Recover which file?'), matchOnDescription: true })
  )?.target;
}
