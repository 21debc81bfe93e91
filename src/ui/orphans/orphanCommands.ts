import { basename } from 'node:path';
import * as vscode from 'vscode';
import { formatAge, type Orphan, type SweepResult, sweepOrphans } from '../../core/orphans';
import { findRecoveryCandidates, RecoveryError, type RecoveryResult, recoverTarget } from '../../core/recovery';
import { CONFIG_SECTION, CommandId, ORPHANS_VIEW_ID } from '../commandIds';
import { confirmModal, withDiff } from '../dialogs';
import type { ExtensionSettings } from '../settings';
import { describeKept, describeOrphan, folderLabel, listNames, needsRecovery, plural, targetsNeedingRecovery, uiText } from './format';
import type { OrphanModel } from './orphanModel';
import type { OrphanRow } from './orphansView';
import type { StatusSnapshot } from './statusBar';

/** `crashSafeState.sweep.whenTrashUnavailable`: what sweep does with files the trash refuses. */
export type WhenTrashUnavailable = 'ask' | 'deletePermanently' | 'keep';

/** Arguments that let keybindings and tests drive Sweep without any dialog. */
export interface SweepArgs {
  /** Sweep exactly these orphans (still only if stale); skips the preview. */
  paths?: string[];
  olderThanMinutes?: number;
  /** Overrides the `sweep.whenTrashUnavailable` setting for this sweep. */
  whenTrashUnavailable?: WhenTrashUnavailable;
  /** Return the preview (what would go, what stays and why) without showing or removing anything. */
  dryRun?: boolean;
}

/** One line of the sweep preview. */
export interface SweepPreviewItem {
  path: string;
  label: string;
  description: string;
  /** Ticked: the sweep would remove it. */
  picked: boolean;
  /** Why the sweep keeps it (unticked rows). */
  keptBecause?: string;
}

/** What a sweep did and what it told the user. */
export interface SweepOutcome extends SweepResult {
  /** Removed files that went to the trash; the other removed ones were deleted permanently. */
  trashed: string[];
  /** The summary notification and its buttons. */
  message: string;
  actions: string[];
  /** The preview rows (always for a dry run; for a sweep that showed a preview). */
  preview?: SweepPreviewItem[];
}

/** Arguments that let keybindings and tests drive Recover without any dialog. */
export interface RecoverArgs {
  target?: string;
  /** Skip the diff preview and the confirmation. */
  confirm?: boolean;
  /** Recover even when the current target is valid and newer than every candidate. */
  force?: boolean;
}

/** `{ show: false }` describes the status item and its menu without showing anything. */
export interface MenuArgs {
  show?: boolean;
}

export interface MenuEntry {
  label: string;
  description: string;
  command: string;
  args?: unknown;
}

/** The status-bar item as shown and the actions its menu offers, first one highlighted. */
export interface StatusMenu {
  status: StatusSnapshot;
  items: MenuEntry[];
}

export interface CommandContext {
  model: OrphanModel;
  log: vscode.LogOutputChannel;
  settings: () => ExtensionSettings;
  relative: (path: string) => string;
  status: () => StatusSnapshot;
  rows: () => OrphanRow[];
}

/** Registers every command; each returns its result so callers (and tests) can check it. */
export function registerCommands(context: vscode.ExtensionContext, deps: CommandContext): void {
  const register = (id: CommandId, run: (...args: never[]) => unknown) =>
    context.subscriptions.push(vscode.commands.registerCommand(id, run));

  register(CommandId.Scan, () => scan(deps));
  register(CommandId.Sweep, (args?: SweepArgs) => sweep(deps, args));
  register(CommandId.Recover, (args?: RecoverArgs) => recover(deps, args));
  register(CommandId.ShowOrphans, async () => {
    await vscode.commands.executeCommand(`${ORPHANS_VIEW_ID}.focus`);
    return deps.rows();
  });
  register(CommandId.OpenLog, () => deps.log.show());
  register(CommandId.Menu, (args?: MenuArgs) => menu(deps, args));
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

function whenTrashUnavailableSetting(): WhenTrashUnavailable {
  const value = vscode.workspace.getConfiguration(CONFIG_SECTION).get<string>('sweep.whenTrashUnavailable', 'ask');
  return value === 'deletePermanently' || value === 'keep' ? value : 'ask';
}

/** Set once a file system said it has no trash (code-server, most remotes): later sweeps skip the attempt. */
let trashUnsupported = false;
const NO_TRASH_REASON = 'the trash is not available here, and it was not deleted permanently';
const PREVIEW_KEPT_SEPARATOR = 'Kept: a sweep leaves these';

function previewItems(orphans: readonly Orphan[], plan: SweepResult, relative: (path: string) => string): SweepPreviewItem[] {
  const byPath = new Map(orphans.map((orphan) => [orphan.path, orphan]));
  const line = (path: string) => {
    const orphan = byPath.get(path);
    return `${folderLabel(relative(path))}${orphan ? ` · ${describeOrphan(orphan)}` : ''}`;
  };
  return [
    ...plan.removed.map((path) => ({ path, label: basename(path), description: line(path), picked: true })),
    ...plan.kept.map(({ path, reason }) => ({
      path,
      label: basename(path),
      description: `kept: ${uiText(reason)} · ${line(path)}`,
      picked: false,
      keptBecause: uiText(reason),
    })),
  ];
}

async function sweep(deps: CommandContext, args: SweepArgs = {}): Promise<SweepOutcome | undefined> {
  if (!requireTrust('sweep files')) return undefined;
  const { model } = deps;
  const settings = deps.settings();
  const olderThanMinutes = args.olderThanMinutes ?? settings.orphanAgeMinutes;
  const orphans = await model.rescan();
  let chosen: Orphan[];
  let preview: SweepPreviewItem[] | undefined;
  // Kept already in the preview (and not ticked anyway): still named in the result.
  let keptBefore: SweepResult['kept'] = [];
  if (args.paths) {
    const wanted = new Set(args.paths);
    chosen = orphans.filter((orphan) => wanted.has(orphan.path));
  } else {
    const plan = await model.planSweep(orphans, olderThanMinutes);
    preview = previewItems(orphans, plan, deps.relative);
    const title = `Sweep ${plural(plan.removed.length, 'orphaned temp file')}${plan.kept.length ? ` (${plan.kept.length} kept, see why below)` : ''}`;
    if (args.dryRun) return { ...plan, trashed: [], message: title, actions: [], preview };
    if (plan.removed.length === 0) {
      return report(deps, orphans, { removed: [], kept: plan.kept, failed: plan.failed }, { trashed: [], noTrash: [], preview, nothingToDo: true });
    }
    type PreviewPick = vscode.QuickPickItem & { path?: string };
    const separator = (label: string): PreviewPick => ({ label, kind: vscode.QuickPickItemKind.Separator });
    const pickable = (item: SweepPreviewItem): PreviewPick => ({ label: item.label, description: item.description, picked: item.picked, path: item.path });
    const items: PreviewPick[] = [
      ...preview.filter((item) => item.picked).map(pickable),
      ...(plan.kept.length ? [separator(PREVIEW_KEPT_SEPARATOR), ...preview.filter((item) => !item.picked).map(pickable)] : []),
    ];
    const picks = await vscode.window.showQuickPick(items, {
      canPickMany: true,
      title,
      placeHolder: 'Untick what you want to keep',
      matchOnDescription: true,
    });
    if (!picks || picks.length === 0) return undefined;
    const picked = new Set(picks.map((pick) => pick.path));
    chosen = orphans.filter((orphan) => picked.has(orphan.path));
    keptBefore = plan.kept.filter(({ path }) => !picked.has(path));
  }
  if (args.dryRun) {
    const plan = await model.planSweep(chosen, olderThanMinutes);
    return { ...plan, trashed: [], message: '', actions: [], preview: previewItems(orphans, plan, deps.relative) };
  }

  const sweepOptions = { olderThanMs: olderThanMinutes * 60_000, roots: model.roots, extraPatterns: settings.tempPatterns };
  // Files the trash refused, and why: a choice for the user, not a failure.
  const noTrash = new Map<string, string>();
  const trashed: string[] = [];
  const moveToTrash = async (path: string): Promise<void> => {
    if (trashUnsupported) {
      noTrash.set(path, 'the file system has no trash');
      throw new Error('the file system has no trash');
    }
    try {
      await vscode.workspace.fs.delete(vscode.Uri.file(path), { useTrash: true });
      trashed.push(path);
    } catch (error) {
      if (error instanceof vscode.FileSystemError && error.code === 'FileNotFound') {
        throw Object.assign(new Error('already gone'), { code: 'ENOENT' });
      }
      const message = error instanceof Error ? error.message : String(error);
      // VS Code: "Unable to delete file '…' via trash because provider does not support it."
      if (/trash/i.test(message) && /support/i.test(message)) trashUnsupported = true;
      noTrash.set(path, message);
      throw error;
    }
  };
  const first = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'Sweeping orphaned temp files', cancellable: true },
    (progress, token) => {
      const abort = new AbortController();
      token.onCancellationRequested(() => abort.abort());
      return sweepOrphans(chosen, {
        ...sweepOptions,
        remove: settings.useTrash ? moveToTrash : undefined,
        signal: abort.signal,
        onProgress: (done: number) => progress.report({ message: `${done} of ${chosen.length}`, increment: 100 / chosen.length }),
      });
    },
  );
  const result: SweepResult = {
    removed: first.removed,
    kept: [...keptBefore, ...first.kept],
    failed: first.failed.filter(({ path }) => !noTrash.has(path)),
  };
  const refused = chosen.filter((orphan) => noTrash.has(orphan.path) && first.failed.some(({ path }) => path === orphan.path));
  let keptForNoTrash: string[] = [];
  if (refused.length > 0) {
    const policy = args.whenTrashUnavailable ?? whenTrashUnavailableSetting();
    const names = refused.map((orphan) => deps.relative(orphan.path));
    const deletePermanently =
      policy === 'deletePermanently' ||
      (policy === 'ask' &&
        (await confirmModal(
          `The trash is not available here. Delete ${plural(refused.length, 'orphaned temp file')} permanently?`,
          'Delete Permanently',
          `${listNames(names, 5)}.\n\n${trashUnsupported ? 'This file system has no trash.' : `The trash refused: ${noTrash.get(refused[0]!.path)}`}\nThe setting crashSafeState.sweep.whenTrashUnavailable answers this for every sweep.`,
        )));
    if (deletePermanently) {
      // A fresh sweep: every check again, then the unlink pinned to the checked folder.
      const second = await sweepOrphans(refused, sweepOptions);
      result.removed.push(...second.removed);
      result.kept.push(...second.kept);
      result.failed.push(...second.failed);
    } else {
      keptForNoTrash = refused.map((orphan) => orphan.path);
      result.kept.push(...keptForNoTrash.map((path) => ({ path, reason: NO_TRASH_REASON })));
    }
  }
  return report(deps, orphans, result, { trashed, noTrash: keptForNoTrash, preview, olderThanMinutes });
}

/** Logs every file, shows one summary that names what was kept and why, and offers the next step. */
function report(
  deps: CommandContext,
  orphans: readonly Orphan[],
  result: SweepResult,
  extra: { trashed: string[]; noTrash: string[]; preview?: SweepPreviewItem[]; nothingToDo?: boolean; olderThanMinutes?: number },
): SweepOutcome {
  const { log, relative, model } = deps;
  const trashed = new Set(extra.trashed);
  for (const path of result.removed) log.info(`Swept ${path} (${trashed.has(path) ? 'moved to the trash' : 'deleted permanently'})`);
  for (const { path, reason } of result.kept) log.info(`Kept ${path}: ${reason}`);
  for (const { path, error } of result.failed) log.error(`Could not sweep ${path}: ${error}`);

  const removed = result.removed.length;
  const inTrash = result.removed.filter((path) => trashed.has(path)).length;
  const how =
    removed === 0 ? '' : inTrash === removed ? ' (moved to the trash)' : inTrash === 0 ? ' (deleted permanently)' : ` (${inTrash} moved to the trash, ${removed - inTrash} deleted permanently)`;
  const parts = [
    extra.nothingToDo ? 'Nothing to sweep.' : removed === 0 ? 'Swept nothing.' : `Swept ${plural(removed, 'orphaned temp file')}${how}.`,
  ];
  if (result.kept.length) parts.push(describeKept(result.kept, relative));
  if (result.failed.length) {
    parts.push(`${plural(result.failed.length, 'file')} could not be removed: ${relative(result.failed[0]!.path)}: ${uiText(result.failed[0]!.error)}.`);
  }
  const message = parts.join(' ');

  // A kept valid copy of a broken target: offer to recover it right here.
  const keptPaths = new Set(result.kept.map(({ path }) => path));
  const recoverable = targetsNeedingRecovery(orphans.filter((orphan) => keptPaths.has(orphan.path) && needsRecovery(orphan)));
  const recoverAction =
    recoverable.length === 1 ? `Recover ${relative(recoverable[0]!)}…` : recoverable.length > 1 ? 'Recover…' : undefined;
  const actions = [
    ...(recoverAction && vscode.workspace.isTrusted ? [recoverAction] : []),
    ...(extra.noTrash.length ? ['Delete Permanently'] : []),
    ...(result.failed.length || result.kept.length > 3 ? ['Open Log'] : []),
  ];
  const shown = result.failed.length ? vscode.window.showWarningMessage(message, ...actions) : vscode.window.showInformationMessage(message, ...actions);
  void Promise.resolve(shown).then((action) => {
    if (!action) return;
    if (action === recoverAction) {
      void vscode.commands.executeCommand(CommandId.Recover, recoverable.length === 1 ? { target: recoverable[0] } : undefined);
    } else if (action === 'Delete Permanently') {
      const args: SweepArgs = { paths: extra.noTrash, olderThanMinutes: extra.olderThanMinutes, whenTrashUnavailable: 'deletePermanently' };
      void vscode.commands.executeCommand(CommandId.Sweep, args);
    } else if (action === 'Open Log') {
      log.show();
    }
  });
  model.scheduleRescan();
  return { ...result, trashed: result.removed.filter((path) => trashed.has(path)), message, actions, preview: extra.preview };
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

async function recover(deps: CommandContext, args: RecoverArgs = {}): Promise<RecoveryResult | undefined> {
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
    model.scheduleRescan();
    return result;
  } catch (error) {
    if (error instanceof RecoveryError && error.code === 'not-needed') {
      void vscode.window.showInformationMessage(`${relative(target)} is valid: there is nothing to recover.`);
      return undefined;
    }
    const message = error instanceof Error ? error.message : String(error);
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

/** The sweep plan if it is ready soon; a menu must not wait long for a description. */
const MENU_PLAN_BUDGET_MS = 1_500;

async function menuItems(deps: CommandContext): Promise<MenuEntry[]> {
  const { model, relative } = deps;
  const orphans = model.orphans;
  const trusted = vscode.workspace.isTrusted;
  const olderThan = formatAge(deps.settings().orphanAgeMinutes * 60_000);
  const plan = await Promise.race([
    model.planSweep(orphans).catch(() => undefined),
    new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), MENU_PLAN_BUDGET_MS)),
  ]);
  const items: MenuEntry[] = [];

  // A file with no valid content comes first: recovering it matters more than tidying up.
  const broken = targetsNeedingRecovery(orphans);
  for (const target of broken.slice(0, 3)) {
    const copies = orphans.filter((orphan) => orphan.target === target && needsRecovery(orphan)).sort((a, b) => b.mtimeMs - a.mtimeMs);
    const newest = copies[0]!;
    const more = copies.length > 1 ? ` (+${copies.length - 1} older)` : '';
    const state = `${newest.targetState}; valid copy ${basename(newest.path)}, ${formatAge(newest.ageMs)} old${more}`;
    items.push(
      trusted
        ? { label: `$(history) Recover ${relative(target)}…`, description: state, command: CommandId.Recover, args: { target } }
        : {
            label: `$(workspace-untrusted) Trust the workspace to recover ${relative(target)}…`,
            description: `${state}; recovering replaces files, which needs trust`,
            command: 'workbench.trust.manage',
          },
    );
  }

  let sweepDescription: string;
  if (plan) {
    const names = plan.removed.map((path) => basename(path));
    const kept = plan.kept.length ? ` · ${plan.kept.length} kept` : '';
    sweepDescription = names.length
      ? `${names.length} can go: ${listNames(names)}${kept}`
      : `nothing can go now${plan.kept.length ? `; ${plan.kept.length} kept: ${uiText(plan.kept[0]!.reason)}${plan.kept.length > 1 ? ', …' : ''}` : ''}`;
  } else {
    const stale = model.stale(orphans);
    sweepDescription = `${stale.length} older than ${olderThan}: ${listNames(stale.map((orphan) => basename(orphan.path)))}`;
  }
  items.push({
    label: '$(trash) Sweep orphaned temp files…',
    description: trusted ? sweepDescription : `needs a trusted workspace · ${sweepDescription}`,
    command: CommandId.Sweep,
  });

  const otherTargets = [...new Set(orphans.filter((orphan) => orphan.validJson === true).map((orphan) => orphan.target))].filter(
    (target) => !broken.slice(0, 3).includes(target),
  );
  if (otherTargets.length > 0) {
    items.push({
      label: `$(history) Recover ${broken.length ? 'another file' : 'a file'} from a temp…`,
      description: `${plural(otherTargets.length, 'file')} with a valid temp: ${listNames(otherTargets.map((target) => basename(target)))}`,
      command: CommandId.Recover,
    });
  }
  const folders = new Set(orphans.map((orphan) => folderLabel(relative(orphan.path))));
  items.push({
    label: '$(list-tree) Show all orphans',
    description: orphans.length ? `${orphans.length} in ${plural(folders.size, 'folder')}: ${listNames([...folders])}` : 'none found',
    command: CommandId.ShowOrphans,
  });
  const lastScan = model.lastScanAt;
  items.push({
    label: '$(refresh) Rescan',
    description: lastScan === undefined ? 'the first scan is still running' : `last scan ${formatAge(Date.now() - lastScan)} ago`,
    command: CommandId.Scan,
  });
  items.push({ label: '$(output) Open log', description: 'every deletion, recovery and scan error', command: CommandId.OpenLog });
  return items;
}

async function menu(deps: CommandContext, args: MenuArgs = {}): Promise<StatusMenu> {
  const items = await menuItems(deps);
  const result = { status: deps.status(), items };
  if (args.show === false) return result;
  const firstIsRecover = items[0]?.command !== CommandId.Sweep;
  const picks: (vscode.QuickPickItem & { entry?: MenuEntry })[] = items.map((entry) => ({ label: entry.label, description: entry.description, entry }));
  // Recover items get their own group, so the highlighted first row reads as the thing to do.
  if (firstIsRecover) {
    const sweepAt = items.findIndex((entry) => entry.command === CommandId.Sweep);
    picks.splice(sweepAt, 0, { label: '', kind: vscode.QuickPickItemKind.Separator });
  }
  const choice = await vscode.window.showQuickPick(picks, { title: 'Crash-Safe State', matchOnDescription: true });
  if (choice?.entry) {
    await vscode.commands.executeCommand(choice.entry.command, ...(choice.entry.args === undefined ? [] : [choice.entry.args]));
  }
  return result;
}
