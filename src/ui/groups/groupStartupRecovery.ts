// Start-up recovery of group commits (docs/group-commits.md): after the first orphan scan, every interrupted group
// whose journal lies inside a workspace folder is finished, forward or back, exactly as `recover --groups` would,
// each under its journal folder's lock. Only in a trusted workspace: in Restricted Mode nothing is touched (the
// orphan surfaces show the journal) until trust is granted.
import { basename } from 'node:path';
import * as vscode from 'vscode';
import { messageOf } from '../../core/errors';
import { isInside } from '../../core/folderListing';
import { type GroupRecoveryReport, recoverGroupFiles } from '../../core/groups/groupCommit';
import { recogniseGroupFile } from '../../core/names/tempPatterns';
import type { Orphan } from '../../core/orphans/orphans';
import { Disposable } from '../dispose';
import type { OrphanModel } from '../orphans/orphanModel';

/** A size for people: `512 bytes`, `1,5 MiB` (the number in the display language's form). */
export function uiSize(bytes: number): string {
  if (bytes < 1024)
    return vscode.l10n.t({ message: '{0} bytes', args: [bytes], comment: ['A file size, e.g. "512 bytes".'] });
  const kib = bytes / 1024;
  const number = (value: number) =>
    value.toLocaleString(vscode.env.language, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  return kib < 1024 ? `${number(kib)} KiB` : `${number(kib / 1024)} MiB`;
}

/** Targets named in the notification before "and N more". */
const NAMED_TARGETS = 3;

/** What one run did. */
export interface GroupStartupRun {
  /**
   * `finished`: every journal found was handled (each one finished, or reported in `report.problems`);
   * `nothing`: the scan found no group file; `restricted`: the workspace is not trusted, nothing was touched;
   * `failed`: the run itself threw (`error`).
   */
  state: 'finished' | 'nothing' | 'restricted' | 'failed';
  /** The journals the scan found inside the workspace folders. */
  journals: string[];
  report: GroupRecoveryReport | undefined;
  /** The notification shown, if any. */
  message: string | undefined;
  error?: string;
}

/** For the API's diagnostics: runs so far, whether journals wait for trust, and the last run. */
export interface GroupStartupStats {
  runs: number;
  waitingForTrust: boolean;
  last: GroupStartupRun | undefined;
}

export interface GroupStartupDeps {
  model: OrphanModel;
  log: vscode.LogOutputChannel;
  relative: (path: string) => string;
}

/** The group files among the orphans that belong to this workspace's recovery, and their journals. */
function groupFilesOf(
  orphans: readonly Orphan[],
  roots: readonly string[],
): { paths: string[]; journals: string[]; outside: string[] } {
  const inside = (path: string) => roots.some((root) => isInside(path, root));
  const paths: string[] = [];
  const journals = new Set<string>();
  const outside = new Set<string>();
  for (const orphan of orphans) {
    const named = recogniseGroupFile(basename(orphan.path));
    if (!named) continue;
    if (orphan.group !== undefined && !inside(orphan.group)) {
      outside.add(orphan.group);
      continue;
    }
    if (orphan.group !== undefined) journals.add(orphan.group);
    // A temp or backup whose journal is gone is a leftover that recover --groups removes: so is it here.
    paths.push(orphan.path);
  }
  return { paths, journals: [...journals].sort(), outside: [...outside].sort() };
}

export class GroupStartupRecovery extends Disposable {
  private runs = 0;
  private waitingForTrust = false;
  private last: GroupStartupRun | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private firstScanDone = false;

  constructor(private readonly deps: GroupStartupDeps) {
    super();
    this._register(
      vscode.workspace.onDidGrantWorkspaceTrust(() => {
        if (!this.firstScanDone) return; // the first scan's own run will see the trust
        this.deps.log.info('Workspace trusted: finishing interrupted group commits');
        void this.rescanAndRun();
      }),
    );
  }

  get stats(): GroupStartupStats {
    return { runs: this.runs, waitingForTrust: this.waitingForTrust, last: this.last && structuredClone(this.last) };
  }

  /**
   * Called with the first scan's orphans. Returns the orphans as they are afterwards (rescanned when anything was
   * finished or removed), so the start-up check judges what is left.
   */
  async afterFirstScan(orphans: readonly Orphan[]): Promise<readonly Orphan[]> {
    this.firstScanDone = true;
    try {
      const run = await this.run(orphans);
      return run.state === 'finished' ? this.deps.model.orphans : orphans;
    } catch (error) {
      this.deps.log.error(`Finishing interrupted group commits failed: ${messageOf(error)}`);
      return orphans;
    }
  }

  /** Scans again and finishes what the scan found (the command, and a grant of trust). */
  async rescanAndRun(): Promise<GroupStartupRun> {
    try {
      return await this.run(await this.deps.model.rescan());
    } catch (error) {
      return this.record({
        state: 'failed',
        journals: [],
        report: undefined,
        message: undefined,
        error: messageOf(error),
      });
    }
  }

  /** Finishes the groups of the scan's group files; one run at a time. */
  run(orphans: readonly Orphan[]): Promise<GroupStartupRun> {
    const go = () => this.runOnce(orphans);
    const result = this.queue.then(go, go);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async runOnce(orphans: readonly Orphan[]): Promise<GroupStartupRun> {
    const { log, relative, model } = this.deps;
    const roots = model.roots;
    const { paths, journals, outside } = groupFilesOf(orphans, roots);
    for (const journal of outside)
      log.info(`Interrupted group commit ${journal} is outside the workspace: left for crash-safe recover --groups`);
    if (paths.length === 0) {
      this.waitingForTrust = false;
      return this.record({ state: 'nothing', journals, report: undefined, message: undefined });
    }
    if (!vscode.workspace.isTrusted) {
      this.waitingForTrust = true;
      if (journals.length > 0) {
        log.info(
          `Restricted Mode: ${journals.length} interrupted group commit(s) left as they are until the workspace is trusted: ${journals.map(relative).join(', ')}`,
        );
      }
      return this.record({ state: 'restricted', journals, report: undefined, message: undefined });
    }
    this.waitingForTrust = false;
    let report: GroupRecoveryReport;
    try {
      report = await recoverGroupFiles(paths, { within: roots });
    } catch (error) {
      const detail = messageOf(error);
      log.error(`Finishing interrupted group commits failed: ${detail}`);
      const message = vscode.l10n.t('Crash-Safe State could not finish the interrupted group commits: {0}', detail);
      this.notify(message, true);
      return this.record({ state: 'failed', journals, report: undefined, message, error: detail });
    }
    this.logReport(report);
    const message = this.describe(report);
    if (message) this.notify(message, report.problems.length > 0);
    // The journal, temps and backups are gone: the status bar and the Orphans view must say so now.
    if (report.recovered.length > 0 || report.removed.length > 0) {
      await model
        .rescan()
        .catch((error: unknown) => log.error(`Rescan after group recovery failed: ${messageOf(error)}`));
    }
    return this.record({ state: 'finished', journals, report, message });
  }

  private record(run: GroupStartupRun): GroupStartupRun {
    this.runs += 1;
    this.last = run;
    return run;
  }

  private logReport(report: GroupRecoveryReport): void {
    const { log, relative } = this.deps;
    for (const outcome of report.recovered) {
      const how = outcome.state === 'rolled-forward' ? 'rolled forward' : 'rolled back';
      log.info(
        `Finished the interrupted group commit ${outcome.journal}: ${how} (${outcome.targets.map(relative).join(', ')})`,
      );
    }
    for (const { journal, reason } of report.problems)
      log.warn(`Left the interrupted group commit ${journal} as it was: ${reason}`);
    for (const path of report.removed)
      log.info(`Deleted ${path} (left by a group commit whose journal is gone and whose writer has exited)`);
    for (const { path, reason } of report.skipped) log.warn(`Group recovery did not enter ${path}: ${reason}`);
    for (const { path, reason } of report.kept) log.info(`Kept ${path}: ${reason}`);
    for (const { path, error } of report.errors) log.warn(`Group recovery could not read ${path}: ${error}`);
  }

  /**
   * One notification for the whole run: the groups finished or left, and the leftovers of dead writers removed (their
   * count and size: they are deleted, not moved to the trash). Undefined when there was nothing of either.
   */
  private describe(report: GroupRecoveryReport): string | undefined {
    const groups = this.describeGroups(report);
    const count = report.removed.length;
    if (count === 0) return groups;
    const size = uiSize(report.removedBytes);
    // Named, not only counted: they are deleted for good, and the user may want to know which they were.
    const files = this.fileList(report.removed);
    const debris =
      count === 1
        ? vscode.l10n.t({
            message: 'Crash-Safe State deleted 1 leftover file ({0}) of a group commit whose writer had exited: {1}.',
            args: [size, files],
            comment: ['{0} is its size, {1} the file (workspace-relative).'],
          })
        : vscode.l10n.t({
            message:
              'Crash-Safe State deleted {0} leftover files ({1}) of group commits whose writers had exited: {2}.',
            args: [count, size, files],
            comment: ['{1} is their total size, {2} the files (workspace-relative, "a, b, c and 2 more files").'],
          });
    return groups ? `${groups} ${debris}` : debris;
  }

  private describeGroups(report: GroupRecoveryReport): string | undefined {
    const { recovered, problems } = report;
    const total = recovered.length + problems.length;
    if (total === 0) return undefined;
    if (problems.length === 0 && recovered.length === 1) {
      const [outcome] = recovered;
      const files = this.fileList(outcome!.targets);
      return outcome!.state === 'rolled-forward'
        ? vscode.l10n.t('Crash-Safe State finished an interrupted group commit: {0} rolled forward.', files)
        : vscode.l10n.t('Crash-Safe State finished an interrupted group commit: {0} rolled back.', files);
    }
    if (problems.length === 0) {
      const forward = recovered.filter((outcome) => outcome.state === 'rolled-forward').length;
      return vscode.l10n.t(
        'Crash-Safe State finished {0} interrupted group commits: {1} rolled forward, {2} rolled back.',
        recovered.length,
        forward,
        recovered.length - forward,
      );
    }
    if (total === 1) {
      const [{ journal, reason }] = problems as [{ journal: string; reason: string }];
      return vscode.l10n.t(
        'Crash-Safe State left an interrupted group commit ({0}) as it was: {1}',
        this.deps.relative(journal),
        reason,
      );
    }
    if (recovered.length === 0) {
      return vscode.l10n.t(
        'Crash-Safe State left {0} interrupted group commits as they were. See the log for why.',
        problems.length,
      );
    }
    return vscode.l10n.t(
      'Crash-Safe State finished {0} of {1} interrupted group commits and left the others as they were. See the log for why.',
      recovered.length,
      total,
    );
  }

  /** `a.json, b.json, c.json` or `a.json, b.json, c.json and 2 more files`, workspace-relative. */
  private fileList(targets: readonly string[]): string {
    const named = targets.slice(0, NAMED_TARGETS).map(this.deps.relative).join(', ');
    const more = targets.length - NAMED_TARGETS;
    if (more <= 0) return named;
    return more === 1
      ? vscode.l10n.t('{0} and 1 more file', named)
      : vscode.l10n.t('{0} and {1} more files', named, more);
  }

  private notify(message: string, problem: boolean): void {
    const showLog = vscode.l10n.t('Show Log');
    const shown = problem
      ? vscode.window.showWarningMessage(message, showLog)
      : vscode.window.showInformationMessage(message, showLog);
    void Promise.resolve(shown).then(
      (action) => {
        if (action === showLog) this.deps.log.show(true);
      },
      () => undefined,
    );
  }
}
