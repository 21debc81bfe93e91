import { basename } from 'node:path';
import * as vscode from 'vscode';
import { messageOf } from '../../core/errors';
import { formatAge, type Orphan } from '../../core/orphans';
import { findRecoveryCandidates, RecoveryError, type RecoveryResult, recoverTarget } from '../../core/recovery';
import { confirmModal, withDiff } from '../dialogs';
import { type CommandContext, requireTrust } from './commandContext';
import { listNames, needsRecovery, plural, uiText } from './format';

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

export async function recover(deps: CommandContext, args: RecoverArgs = {}): Promise<RecoveryResult | undefined> {
  if (!requireTrust('recover files')) return undefined;
  const { log, model, relative } = deps;
  const extraPatterns = deps.settings().tempPatterns;
  const target = args.target ?? (await pickTarget(deps));
  if (!target) return undefined;
  const candidates = await findRecoveryCandidates(target, { extraPatterns });
  const newest = candidates[0];
  if (!newest) {
    void vscode.window.showErrorMessage(`No valid temp file of ${relative(target)} exists to recover from.`);
    return undefined;
  }
  const valid = await targetIsValid(target, extraPatterns);
  let force = args.force ?? false;
  if (valid && !force && args.confirm) {
    void vscode.window.showInformationMessage(`${relative(target)} is valid: there is nothing to recover.`);
    return undefined;
  }
  if (!args.confirm) {
    const targetUri = vscode.Uri.file(target);
    const exists = await vscode.workspace.fs.stat(targetUri).then(() => true, () => false);
    const left = exists ? targetUri : vscode.Uri.parse('untitled:(missing)');
    const title = `${basename(target)}${valid ? ' (valid)' : ''} ↔ ${basename(newest.path)} (newest valid temp, ${formatAge(Date.now() - newest.mtimeMs)} old)`;
    const confirmed = await withDiff(left, vscode.Uri.file(newest.path), title, () =>
      valid
        ? // Seen the diff and still chose Recover: replacing a valid file is allowed, but only when asked for.
          confirmModal(
            `${relative(target)} is valid. Replace a valid file with ${basename(newest.path)}?`,
            'Replace Valid File',
            'There is nothing to repair: this replaces content that parses. The current file is kept as a backup.',
          )
        : confirmModal(`Replace ${relative(target)} with ${basename(newest.path)}? The current file is kept as a backup.`, 'Recover'),
    );
    if (!confirmed) return undefined;
    force ||= valid;
  }
  try {
    const result = await recoverTarget(target, { force, extraPatterns });
    log.info(`Recovered ${result.target} from ${result.from}${result.backup ? `; backup at ${result.backup}` : ''}`);
    void vscode.window.showInformationMessage(
      `Recovered ${relative(target)} from ${basename(result.from)}.` + (result.backup ? ` Backup: ${basename(result.backup)}` : ''),
    );
    model.refresh([result.target, result.from, ...(result.backup ? [result.backup] : [])]);
    return result;
  } catch (error) {
    if (error instanceof RecoveryError && error.code === 'not-needed') {
      void vscode.window.showInformationMessage(`${relative(target)} is valid: there is nothing to recover.`);
      return undefined;
    }
    const message = messageOf(error);
    log.error(`Recovery of ${target} refused or failed: ${message}`);
    void vscode.window.showErrorMessage(uiText(message));
    return undefined;
  }
}

/** Targets with at least one valid temp, broken ones first. */
async function pickTarget({ model, relative }: CommandContext): Promise<string | undefined> {
  const byTarget = new Map<string, Orphan[]>();
  for (const orphan of await model.rescan()) {
    if (orphan.validJson === false) continue;
    byTarget.set(orphan.target, [...(byTarget.get(orphan.target) ?? []), orphan]);
  }
  const items = [...byTarget.entries()]
    .map(([target, temps]) => {
      const broken = temps.some(needsRecovery);
      const state = broken ? `${temps[0]!.targetState}, needs recovery` : temps[0]!.targetState === 'ok' ? 'valid now' : temps[0]!.targetState;
      return { label: relative(target), description: `${state} · ${plural(temps.length, 'temp file')}: ${listNames(temps.map((t) => basename(t.path)), 2)}`, target, broken };
    })
    .sort((a, b) => Number(b.broken) - Number(a.broken));
  if (items.length === 0) {
    void vscode.window.showInformationMessage('No file has a temp file to recover from.');
    return undefined;
  }
  return (await vscode.window.showQuickPick(items, { title: 'Recover which file?', matchOnDescription: true }))?.target;
}
