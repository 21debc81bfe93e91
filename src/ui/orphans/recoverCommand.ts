import { basename } from 'node:path';
import * as vscode from 'vscode';
import { messageOf } from '../../core/errors';
import type { Orphan } from '../../core/orphans/orphans';
import { findRecoveryCandidates, RecoveryError, type RecoveryResult, recoverTarget } from '../../core/orphans/recovery';
import { confirmModal, withDiff } from '../dialogs';
import { markWalkthrough, WalkthroughKey } from '../walkthroughProgress';
import { type CommandContext, requireTrust } from './commandContext';
import { isGroupFile, listNames, needsRecovery, stateLabel, uiAge, uiText } from './format';

/** Arguments that let keybindings and tests drive Recover without any dialog. */
export interface RecoverArgs {
  target?: string;
  /** Skip the diff preview and the confirmation. */
  confirm?: boolean;
  /** Recover even when the current target is valid and newer than every candidate. */
  force?: boolean;
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

/** "data.json ↔ data.json.tmp-1 (newest valid temp, 5 min old)", the title of the diff shown before recovering. */
function diffTitle(target: string, valid: boolean, temp: string, age: string): string {
  return valid
    ? vscode.l10n.t({
        message: '{0} (valid) ↔ {1} (newest valid temp, {2} old)',
        args: [target, temp, age],
        comment: [
          '{0} is the file to recover, {1} the temp file it would be restored from, {2} the temp\'s age (e.g. "5 min").',
        ],
      })
    : vscode.l10n.t({
        message: '{0} ↔ {1} (newest valid temp, {2} old)',
        args: [target, temp, age],
        comment: [
          '{0} is the file to recover, {1} the temp file it would be restored from, {2} the temp\'s age (e.g. "5 min").',
        ],
      });
}

export async function recover(deps: CommandContext, args: RecoverArgs = {}): Promise<RecoveryResult | undefined> {
  if (!requireTrust('recover')) return undefined;
  const { log, model, relative } = deps;
  const extraPatterns = deps.settings().tempPatterns;
  const target = args.target ?? (await pickTarget(deps));
  if (!target) return undefined;
  const candidates = await findRecoveryCandidates(target, { extraPatterns });
  const newest = candidates[0];
  if (!newest) {
    void vscode.window.showErrorMessage(
      vscode.l10n.t('No valid temp file of {0} exists to recover from.', relative(target)),
    );
    return undefined;
  }
  const valid = await targetIsValid(target, extraPatterns);
  let force = args.force ?? false;
  if (valid && !force && args.confirm) {
    void vscode.window.showInformationMessage(nothingToRecover(relative(target)));
    return undefined;
  }
  if (!args.confirm) {
    const targetUri = vscode.Uri.file(target);
    const exists = await vscode.workspace.fs.stat(targetUri).then(
      () => true,
      () => false,
    );
    const missing = vscode.l10n.t({
      message: '(missing)',
      comment: ['Name of the empty left side of a diff, when the file to recover does not exist.'],
    });
    const left = exists ? targetUri : vscode.Uri.from({ scheme: 'untitled', path: missing });
    const title = diffTitle(basename(target), valid, basename(newest.path), uiAge(Date.now() - newest.mtimeMs));
    const confirmed = await withDiff(left, vscode.Uri.file(newest.path), title, () =>
      valid
        ? // Seen the diff and still chose Recover: replacing a valid file is allowed, but only when asked for.
          confirmModal(
            vscode.l10n.t('{0} is valid. Replace a valid file with {1}?', relative(target), basename(newest.path)),
            vscode.l10n.t('Replace Valid File'),
            vscode.l10n.t(
              'There is nothing to repair: this replaces content that parses. The current file is kept as a backup.',
            ),
          )
        : confirmModal(
            vscode.l10n.t(
              'Replace {0} with {1}? The current file is kept as a backup.',
              relative(target),
              basename(newest.path),
            ),
            vscode.l10n.t('Recover'),
          ),
    );
    if (!confirmed) return undefined;
    force ||= valid;
  }
  try {
    const result = await recoverTarget(target, { force, extraPatterns });
    log.info(`Recovered ${result.target} from ${result.from}${result.backup ? `; backup at ${result.backup}` : ''}`);
    void vscode.window.showInformationMessage(
      result.backup
        ? vscode.l10n.t(
            'Recovered {0} from {1}. Backup: {2}',
            relative(target),
            basename(result.from),
            basename(result.backup),
          )
        : vscode.l10n.t('Recovered {0} from {1}.', relative(target), basename(result.from)),
    );
    model.refresh([result.target, result.from, ...(result.backup ? [result.backup] : [])]);
    markWalkthrough(WalkthroughKey.Recovered);
    return result;
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
