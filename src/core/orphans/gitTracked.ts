import { execFile } from 'node:child_process';
import { dirname, join, relative, sep } from 'node:path';
import { isDescriptorExhaustion, mapBounded, retryWhileExhausted } from '../boundedOpens';
import { errnoOf, type FsLike } from '../fs';

/**
 * Whether git tracks a file in the working tree it sits in. `unknown`: git is there but could not answer (for example
 * a repository of another user that git refuses as "dubious ownership"); sweep keeps such files.
 */
export type GitTracking = 'tracked' | 'untracked' | 'unknown';

const GIT_TIMEOUT_MS = 15_000;
const PATHS_PER_CALL = 500;
const GIT_PROCESSES_AT_ONCE = 4;

/**
 * Asks git which of a set of files it tracks, one `git ls-files` per repository. A file under no `.git` is untracked
 * without running git; where git is not installed, every file counts as untracked.
 */
export class GitTrackedFiles {
  private readonly repoOfFolder = new Map<string, Promise<string | undefined>>();

  constructor(private readonly fs: FsLike) {}

  async check(paths: readonly string[]): Promise<Map<string, GitTracking>> {
    const answers = new Map<string, GitTracking>();
    const byRepo = new Map<string, string[]>();
    for (const path of paths) {
      const repo = await this.repoOf(dirname(path));
      if (repo === undefined) answers.set(path, 'untracked');
      else byRepo.set(repo, [...(byRepo.get(repo) ?? []), path]);
    }
    // A few git processes at a time (each holds pipes open), however many repositories the files are in.
    await mapBounded([...byRepo], GIT_PROCESSES_AT_ONCE, async ([repo, files]) => {
      // Chunks keep the command line well under the system's argument limit.
      for (let start = 0; start < files.length; start += PATHS_PER_CALL) {
        const chunk = files.slice(start, start + PATHS_PER_CALL);
        const tracked = await retryWhileExhausted(() => listTracked(repo, chunk));
        for (const file of chunk) {
          answers.set(file, tracked === undefined ? 'unknown' : tracked.has(file) ? 'tracked' : 'untracked');
        }
      }
    });
    return answers;
  }

  /** The nearest folder at or above `dir` holding `.git` (a folder, or a file for worktrees and submodules). */
  private repoOf(dir: string): Promise<string | undefined> {
    let answer = this.repoOfFolder.get(dir);
    if (!answer) {
      answer = this.fs.lstat(join(dir, '.git')).then(
        () => dir,
        (error: unknown) => {
          const parent = dirname(dir);
          if (parent === dir || (errnoOf(error) !== 'ENOENT' && errnoOf(error) !== 'ENOTDIR')) return undefined;
          return this.repoOf(parent);
        },
      );
      this.repoOfFolder.set(dir, answer);
    }
    return answer;
  }
}

/** The subset of `files` that git tracks in `repo`; undefined when git failed to answer. */
function listTracked(repo: string, files: readonly string[]): Promise<Set<string> | undefined> {
  const relativePaths = files.map((file) => relative(repo, file).split(sep).join('/'));
  return new Promise((resolveTracked, rejectTracked) => {
    execFile(
      'git',
      ['--literal-pathspecs', '-C', repo, 'ls-files', '-z', '--', ...relativePaths],
      { timeout: GIT_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout) => {
        if (error) {
          // Out of descriptors for the pipes: a shortage to wait out, not git's answer.
          if (isDescriptorExhaustion(error)) return rejectTracked(error);
          // No git on this machine: the rule applies "where git is available".
          resolveTracked(errnoOf(error) === 'ENOENT' ? new Set() : undefined);
          return;
        }
        resolveTracked(
          new Set(
            stdout
              .split('\0')
              .filter(Boolean)
              .map((name) => join(repo, name)),
          ),
        );
      },
    );
  });
}
