import { basename } from 'node:path';
import * as vscode from 'vscode';
import { formatAge, type Orphan, type SweepResult, sweepOrphans } from '../core/orphans';
import { findRecoveryCandidates, RecoveryError, type RecoveryResult, recoverTarget } from '../core/recovery';
import { CommandId, ORPHANS_VIEW_ID } from './commandIds';
import { confirmModal } from './dialogs';
import { describeOrphan } from './format';
import type { OrphanModel } from './orphanModel';
import type { ExtensionSettings } from './settings';

/** Arguments that let keybindings and tests drive Sweep without any dialog. */
export interface SweepArgs {
  /** Sweep exactly these orphans (still only if stale); skips the preview. */
  paths?: string[];
  olderThanMinutes?: number;
}

/** Arguments that let keybindings and tests drive Recover without any dialog. */
export interface RecoverArgs {
  target?: string;
  /** Skip the diff preview and the confirmation. */
  confirm?: boolean;
  /** Recover even when the current target is valid and newer than every candidate. */
  force?: boolean;
}

export interface CommandContext {
  model: OrphanModel;
  log: vscode.LogOutputChannel;
  settings: () => ExtensionSettings;
  relative: (path: string) => string;
}

/** Registers every command; each returns its result so callers (and tests) can check it. */
export function registerCommands(context: vscode.ExtensionContext, deps: CommandContext): void {
  const register = (id: CommandId, run: (...args: never[]) => unknown) =>
    context.subscriptions.push(vscode.commands.registerCommand(id, run));

  register(CommandId.Scan, () => scan(deps));
  register(CommandId.Sweep, (args?: SweepArgs) => sweep(deps, args));
  register(CommandId.Recover, (args?: RecoverArgs) => recover(deps, args));
  register(CommandId.ShowOrphans, () => vscode.commands.executeCommand(`${ORPHANS_VIEW_ID}.focus`));
  register(CommandId.OpenLog, () => deps.log.show());
  register(CommandId.Menu, () => menu(deps));
  register(CommandId.SweepOne, (orphan?: Orphan) => orphan && sweep(deps, { paths: [orphan.path] }));
  register(CommandId.RecoverTarget, (orphan?: Orphan) => orphan && recover(deps, { target: orphan.target }));
  register(CommandId.Reveal, (orphan?: Orphan) =>
    orphan && vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(orphan.path)),
  );
}

async function scan({ model }: CommandContext): Promise<readonly Orphan[]> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Window, title: 'Crash-Safe State: scanning for orphaned temp files' },
    () => model.rescan(),
  );
}

function requireTrust(action: string): boolean {
  if (vscode.workspace.isTrusted) return true;
  void vscode.window.showWarningMessage(`Crash-Safe State does not ${action} in an untrusted workspace. Trust the workspace first.`);
  return false;
}

async function sweep(deps: CommandContext, args: SweepArgs = {}): Promise<SweepResult | undefined> {
  if (!requireTrust('sweep files')) return undefined;
  const { model, log } = deps;
  const settings = deps.settings();
  const olderThanMinutes = args.olderThanMinutes ?? settings.orphanAgeMinutes;
  const orphans = await model.rescan();
  let chosen: Orphan[];
  if (args.paths) {
    const wanted = new Set(args.paths);
    chosen = orphans.filter((orphan) => wanted.has(orphan.path));
  } else {
    const stale = model.stale(orphans, olderThanMinutes);
    if (stale.length === 0) {
      void vscode.window.showInformationMessage(`No orphaned temp files older than ${olderThanMinutes} minutes.`);
      return { removed: [], kept: [], failed: [] };
    }
    const picks = await vscode.window.showQuickPick(
      stale.map((orphan) => ({ label: basename(orphan.path), description: describeOrphan(orphan), detail: deps.relative(orphan.path), picked: true, orphan })),
      { canPickMany: true, title: `Sweep ${stale.length} stale orphaned temp file(s)`, placeHolder: 'Unselect anything you want to keep' },
    );
    if (!picks || picks.length === 0) return undefined;
    chosen = picks.map((pick) => pick.orphan);
  }
  const remove = settings.useTrash
    ? (path: string) => Promise.resolve(vscode.workspace.fs.delete(vscode.Uri.file(path), { useTrash: true }))
    : undefined;
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'Sweeping orphaned temp files', cancellable: true },
    (progress, token) => {
      const abort = new AbortController();
      token.onCancellationRequested(() => abort.abort());
      return sweepOrphans(chosen, {
        olderThanMs: olderThanMinutes * 60_000,
        roots: model.roots,
        extraPatterns: settings.tempPatterns,
        remove,
        signal: abort.signal,
        onProgress: (done: number) => progress.report({ message: `${done} of ${chosen.length}`, increment: 100 / chosen.length }),
      });
    },
  );
  for (const path of result.removed) log.info(`Swept ${path}${settings.useTrash ? ' (moved to trash)' : ''}`);
  for (const { path, reason } of result.kept) log.info(`Kept ${path}: ${reason}`);
  for (const { path, error } of result.failed) log.error(`Could not sweep ${path}: ${error}`);
  const summary = `Swept ${result.removed.length} orphaned temp file(s)` +
    (result.kept.length ? `, kept ${result.kept.length}` : '') +
    (result.failed.length ? `, ${result.failed.length} failed (see log)` : '');
  if (result.failed.length) void vscode.window.showWarningMessage(summary, 'Open Log').then((a) => a && log.show());
  else void vscode.window.showInformationMessage(summary);
  model.scheduleRescan();
  return result;
}

async function recover(deps: CommandContext, args: RecoverArgs = {}): Promise<RecoveryResult | undefined> {
  if (!requireTrust('recover files')) return undefined;
  const { log, model } = deps;
  const extraPatterns = deps.settings().tempPatterns;
  const target = args.target ?? (await pickTarget(deps));
  if (!target) return undefined;
  const candidates = await findRecoveryCandidates(target, { extraPatterns });
  const newest = candidates[0];
  if (!newest) {
    void vscode.window.showErrorMessage(`No valid temp file of ${deps.relative(target)} exists to recover from.`);
    return undefined;
  }
  if (!args.confirm) {
    const targetUri = vscode.Uri.file(target);
    const exists = await vscode.workspace.fs.stat(targetUri).then(() => true, () => false);
    const left = exists ? targetUri : vscode.Uri.parse('untitled:(missing)');
    await vscode.commands.executeCommand(
      'vscode.diff',
      left,
      vscode.Uri.file(newest.path),
      `${basename(target)} ↔ ${basename(newest.path)} (newest valid temp, ${formatAge(Date.now() - newest.mtimeMs)} old)`,
    );
    const confirmed = await confirmModal(
      `Replace ${deps.relative(target)} with ${basename(newest.path)}? The current file is kept as a backup.`,
      'Recover',
    );
    if (!confirmed) return undefined;
  }
  try {
    const result = await recoverTarget(target, { force: args.force, extraPatterns });
    log.info(`Recovered ${result.target} from ${result.from}${result.backup ? `; backup at ${result.backup}` : ''}`);
    void vscode.window.showInformationMessage(
      `Recovered ${deps.relative(target)} from ${basename(result.from)}.` + (result.backup ? ` Backup: ${basename(result.backup)}` : ''),
    );
    model.scheduleRescan();
    return result;
  } catch (error) {
    if (error instanceof RecoveryError && error.code === 'not-needed') {
      void vscode.window.showInformationMessage(`${deps.relative(target)} is valid: there is nothing to recover.`);
      return undefined;
    }
    const message = error instanceof Error ? error.message : String(error);
    log.error(`Recovery of ${target} refused or failed: ${message}`);
    void vscode.window.showErrorMessage(message);
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
    .map(([target, temps]) => ({ label: relative(target), description: `target ${temps[0]!.targetState} · ${temps.length} temp(s)`, target, broken: temps[0]!.targetState !== 'ok' }))
    .sort((a, b) => Number(b.broken) - Number(a.broken));
  if (items.length === 0) {
    void vscode.window.showInformationMessage('No target has a temp file to recover from.');
    return undefined;
  }
  return (await vscode.window.showQuickPick(items, { title: 'Recover which file?' }))?.target;
}

async function menu(deps: CommandContext): Promise<void> {
  const stale = deps.model.stale();
  const choice = await vscode.window.showQuickPick(
    [
      { label: `$(trash) Sweep stale orphans (${stale.length})`, command: CommandId.Sweep },
      { label: '$(history) Recover a target…', command: CommandId.Recover },
      { label: `$(list-tree) Show all (${deps.model.orphans.length})`, command: CommandId.ShowOrphans },
      { label: '$(refresh) Rescan', command: CommandId.Scan },
    ],
    { title: 'Crash-Safe State' },
  );
  if (choice) await vscode.commands.executeCommand(choice.command);
}
