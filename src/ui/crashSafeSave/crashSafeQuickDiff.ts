// Git's gutter diff in crash-safe editors. Git gives quick-diff originals only for `file:` URIs; this SourceControl
// gives them for `crashsafe:` ones, through the git extension's own API: the original is what git's quick diff shows
// for the file the editor edits (the index if the file is staged, else HEAD). Lazy: git is looked up only once a
// crash-safe tab is open, and the SourceControl (which the Source Control view lists: the stable API has no hidden
// one) exists only while a crash-safe tab of a file in a git repository is open.
import * as vscode from 'vscode';
import { CRASH_SAFE_SCHEME } from '../commandIds';
import { Disposable } from '../dispose';
import { realFileUri } from './crashSafeUri';

/** git's `Status.UNTRACKED` (extensions/git/src/api/git.d.ts). */
const GIT_UNTRACKED = 7;

/** The part of the git extension's API (`vscode.git`, `getAPI(1)`) used here. */
interface GitChange {
  readonly uri: vscode.Uri;
  readonly status: number;
}
interface GitRepository {
  readonly rootUri: vscode.Uri;
  readonly state: {
    readonly mergeChanges: readonly GitChange[];
    readonly workingTreeChanges: readonly GitChange[];
    /** Only when git.untrackedChanges is "separate" (and in newer git extensions). */
    readonly untrackedChanges?: readonly GitChange[];
  };
  checkIgnore(paths: string[]): Promise<Set<string>>;
}
interface GitApi {
  readonly onDidOpenRepository: vscode.Event<GitRepository>;
  readonly onDidCloseRepository: vscode.Event<GitRepository>;
  getRepository(uri: vscode.Uri): GitRepository | null;
  toGitUri(uri: vscode.Uri, ref: string): vscode.Uri;
}
interface GitExtension {
  readonly enabled: boolean;
  readonly onDidChangeEnablement: vscode.Event<boolean>;
  getAPI(version: 1): GitApi;
}

function isGitExtension(value: unknown): value is GitExtension {
  const candidate = value as Partial<GitExtension> | undefined;
  return typeof candidate?.getAPI === 'function' && typeof candidate.onDidChangeEnablement === 'function';
}

function sameFile(a: vscode.Uri, b: vscode.Uri): boolean {
  return a.fsPath === b.fsPath;
}

/** The `file:` URIs the open crash-safe tabs edit. */
function crashSafeFiles(): vscode.Uri[] {
  const files: vscode.Uri[] = [];
  for (const tab of vscode.window.tabGroups.all.flatMap((group) => group.tabs)) {
    if (!(tab.input instanceof vscode.TabInputText) || tab.input.uri.scheme !== CRASH_SAFE_SCHEME) continue;
    const file = realFileUri(tab.input.uri);
    if (file) files.push(file);
  }
  return files;
}

function gitEnabledFor(file: vscode.Uri): boolean {
  return vscode.workspace.getConfiguration('git', file).get<boolean>('enabled', true);
}

export interface CrashSafeQuickDiffStats {
  /** Whether the SourceControl that gives the originals exists now (the Source Control view lists it). */
  sourceControl: boolean;
  /** Originals given to VS Code's quick diff: git URIs of tracked files. */
  originals: number;
}

export class CrashSafeQuickDiff extends Disposable implements vscode.QuickDiffProvider {
  private originals = 0;
  private sourceControl: vscode.SourceControl | undefined;
  /** The git extension once looked up: undefined before, null when absent or it failed to start. */
  private gitExtension: GitExtension | null | undefined;
  private followsRepositories = false;
  private stopped = false;
  private updating = false;
  private updateAgain = false;

  constructor(private readonly log: vscode.LogOutputChannel) {
    super();
    this._register(vscode.window.tabGroups.onDidChangeTabs(() => void this.update()));
    this._register(
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (event.affectsConfiguration('git.enabled')) void this.update();
      }),
    );
    this._register({
      dispose: () => {
        this.stopped = true;
        this.dropSourceControl();
      },
    });
    // After activation: nothing is looked up unless a crash-safe tab was restored.
    setTimeout(() => void this.update(), 0);
  }

  get stats(): CrashSafeQuickDiffStats {
    return { sourceControl: this.sourceControl !== undefined, originals: this.originals };
  }

  /** What git's quick diff would compare `uri`'s file with, or nothing (not crash-safe, no git, untracked, ignored). */
  async provideOriginalResource(uri: vscode.Uri): Promise<vscode.Uri | undefined> {
    const file = uri.scheme === CRASH_SAFE_SCHEME ? realFileUri(uri) : undefined;
    const git = this.gitApi();
    if (!file || !git || !gitEnabledFor(file)) return undefined;
    const repository = git.getRepository(file);
    if (!repository) return undefined;
    // As git's own quick diff: nothing for a file inside .git, a symlink, one in a merge, untracked or ignored.
    if (file.path.slice(repository.rootUri.path.length).split('/').includes('.git')) return undefined;
    try {
      if ((await vscode.workspace.fs.stat(file)).type & vscode.FileType.SymbolicLink) return undefined;
    } catch {
      return undefined;
    }
    const { mergeChanges, workingTreeChanges, untrackedChanges = [] } = repository.state;
    if (mergeChanges.some((change) => sameFile(change.uri, file))) return undefined;
    if (
      untrackedChanges.some((change) => sameFile(change.uri, file)) ||
      workingTreeChanges.some((change) => change.status === GIT_UNTRACKED && sameFile(change.uri, file))
    ) {
      return undefined;
    }
    try {
      if ((await repository.checkIgnore([file.fsPath])).size > 0) return undefined;
    } catch (error) {
      this.log.trace(`Git gutter: could not ask git whether ${file.fsPath} is ignored: ${String(error)}`);
      return undefined;
    }
    this.originals += 1;
    return git.toGitUri(file, '~');
  }

  /** Creates or drops the SourceControl to match the open crash-safe tabs; one run at a time. */
  private async update(): Promise<void> {
    if (this.updating) {
      this.updateAgain = true;
      return;
    }
    this.updating = true;
    try {
      do {
        this.updateAgain = false;
        const files = crashSafeFiles();
        if (files.length === 0) {
          this.dropSourceControl();
          continue;
        }
        const git = await this.loadGit();
        const tracked = git && files.some((file) => gitEnabledFor(file) && git.getRepository(file));
        if (tracked) this.ensureSourceControl();
        else this.dropSourceControl();
      } while (this.updateAgain);
    } catch (error) {
      this.log.warn(`Git gutter for crash-safe editors: ${String(error)}`);
    } finally {
      this.updating = false;
    }
  }

  /** The git API if the git extension is there, started and enabled. */
  private gitApi(): GitApi | undefined {
    const extension = this.gitExtension;
    if (!extension?.enabled) return undefined;
    try {
      return extension.getAPI(1);
    } catch {
      return undefined;
    }
  }

  /** Looks the git extension up once (starting it if it is not yet), and follows its repositories from then on. */
  private async loadGit(): Promise<GitApi | undefined> {
    if (this.gitExtension === undefined) {
      this.gitExtension = null;
      const extension = vscode.extensions.getExtension<unknown>('vscode.git');
      try {
        const exports = extension && (extension.isActive ? extension.exports : await extension.activate());
        if (isGitExtension(exports)) {
          this.gitExtension = exports;
          this._register(exports.onDidChangeEnablement(() => void this.update()));
        }
      } catch (error) {
        this.log.info(`Git gutter for crash-safe editors: the git extension did not start: ${String(error)}`);
      }
    }
    const git = this.gitApi();
    if (git && !this.followsRepositories) {
      this.followsRepositories = true;
      this._register(git.onDidOpenRepository(() => void this.update()));
      this._register(git.onDidCloseRepository(() => void this.update()));
    }
    return git;
  }

  private ensureSourceControl(): void {
    if (this.sourceControl || this.stopped) return;
    const sourceControl = vscode.scm.createSourceControl(
      'crashSafeState.crashSafeEditors',
      vscode.l10n.t('Crash-Safe Save (git changes in the gutter)'),
    );
    sourceControl.inputBox.visible = false;
    sourceControl.quickDiffProvider = this;
    this.sourceControl = sourceControl;
  }

  private dropSourceControl(): void {
    this.sourceControl?.dispose();
    this.sourceControl = undefined;
  }
}
