// git's copies of the target: the index (`git show :path`) and HEAD (`git show HEAD:path`), read-only. The object
// ids come from `ls-files -s` and `ls-tree` (so a symlink or a submodule is never taken for the file's content) and
// the bytes from `cat-file blob <id>`, exactly as stored: no filters, no textconv, no pager. No git, no repository,
// or a repository git refuses: no git copies, a note at most, never an error.
import { execFile } from 'node:child_process';
import { devNull } from 'node:os';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { isDescriptorExhaustion, retryWhileExhausted } from '../boundedOpens';
import { messageOf } from '../errors';
import { errnoOf, MAX_DOCUMENT_BYTES } from '../fs';
import { CopyChangedError, type CopyFinder, type FinderResult, type FoundCopy } from './copyModel';

export const GIT_TIMEOUT_MS = 15_000;

export interface GitOptions {
  /** The environment git runs in (its PATH finds git); default this process's. GIT_* variables are dropped. */
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/**
 * An environment that makes git answer about this file and nothing else: inherited GIT_* variables (GIT_DIR,
 * GIT_INDEX_FILE… set by a hook that runs us) dropped; no system or global config (and so no `safe.directory`: a
 * repository of another user is refused, which is the safe answer); no pager, no prompt, no lazy fetch of missing
 * objects, no replace refs, no optional locks.
 */
export function gitEnvironment(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) if (!/^GIT_/i.test(name)) clean[name] = value;
  return {
    ...clean,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: devNull,
    GIT_ATTR_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    GIT_PAGER: 'cat',
    PAGER: 'cat',
    GIT_NO_LAZY_FETCH: '1',
    GIT_NO_REPLACE_OBJECTS: '1',
    GIT_OPTIONAL_LOCKS: '0',
    LC_ALL: 'C',
  };
}

/** Settings a repository's own config could use to run a program on a read: switched off per call. */
const SAFE_CONFIG = ['-c', 'core.fsmonitor=false', '-c', 'core.untrackedCache=false'];

type GitResult = { ok: true; stdout: Buffer } | { ok: false; missing: boolean; message: string };

/** Runs git read-only in `cwd` with bounded output and a timeout; never throws for git's own failure. */
function runGit(cwd: string, args: string[], options: GitOptions, maxBytes = 1024 * 1024): Promise<GitResult> {
  return retryWhileExhausted(
    () =>
      new Promise<GitResult>((resolveRun, rejectRun) => {
        execFile(
          'git',
          ['--no-pager', '--literal-pathspecs', ...SAFE_CONFIG, '-C', cwd, ...args],
          {
            env: gitEnvironment(options.env),
            timeout: options.timeoutMs ?? GIT_TIMEOUT_MS,
            maxBuffer: maxBytes,
            encoding: 'buffer',
            windowsHide: true,
          },
          (error, stdout, stderr) => {
            if (!error) return resolveRun({ ok: true, stdout });
            if (isDescriptorExhaustion(error)) return rejectRun(error);
            const missing = errnoOf(error) === 'ENOENT' && (error as { path?: string }).path === 'git';
            const said = stderr.toString('utf8').trim().split('\n')[0];
            resolveRun({ ok: false, missing, message: said || messageOf(error) });
          },
        );
      }),
  );
}

interface GitObject {
  mode: string;
  oid: string;
  stage?: number;
}

const STAGE_KINDS: Record<number, string> = { 0: 'index', 1: 'index-base', 2: 'index-ours', 3: 'index-theirs' };
const STAGE_LABELS: Record<number, string> = {
  0: 'git index',
  1: 'git index (merge base)',
  2: 'git index (ours)',
  3: 'git index (theirs)',
};

/** Records of `-z` output: `<mode> <oid> <stage>\t<path>` (ls-files -s) or `<mode> <type> <oid>\t<path>` (ls-tree). */
function parseObjects(stdout: Buffer, form: 'ls-files' | 'ls-tree', name: string): GitObject[] {
  const objects: GitObject[] = [];
  for (const record of stdout.toString('utf8').split('\0')) {
    const tab = record.indexOf('\t');
    if (tab < 0 || record.slice(tab + 1) !== name) continue;
    const fields = record.slice(0, tab).split(' ');
    if (form === 'ls-files' && fields.length === 3) {
      objects.push({ mode: fields[0]!, oid: fields[1]!, stage: Number(fields[2]) });
    } else if (form === 'ls-tree' && fields.length === 3 && fields[1] === 'blob') {
      objects.push({ mode: fields[0]!, oid: fields[2]! });
    }
  }
  // Only a regular file's content is a copy: never a symlink's target (120000) or a submodule (160000).
  return objects.filter((object) => object.mode === '100644' || object.mode === '100755');
}

/** The committer time of HEAD in ms, from the commit object itself (`git log` could run gpg for signatures). */
function commitTime(stdout: Buffer): number | undefined {
  const match = /^committer .* (?<seconds>\d+) [+-]\d{4}$/m.exec(stdout.toString('utf8'));
  return match?.groups ? Number(match.groups.seconds) * 1000 : undefined;
}

/** git's copies: the index (each stage during a conflict) and HEAD. */
export function gitFinder(options: GitOptions = {}): CopyFinder {
  return {
    source: 'git',
    async find({ fs, realTarget }): Promise<FinderResult> {
      // git tracks the real file: a symlinked target's own blob would be the link text.
      const dir = dirname(realTarget);
      const name = basename(realTarget);
      const top = await runGit(dir, ['rev-parse', '--show-toplevel', '--absolute-git-dir', '--show-prefix'], options);
      if (!top.ok) {
        if (top.missing) return { copies: [], notes: [] }; // no git on this machine
        // Not a repository is the common case and says nothing; anything else is worth a note.
        const quiet = /not a git repository/i.test(top.message) || /No such file/i.test(top.message);
        return { copies: [], notes: quiet ? [] : [`git: ${top.message}`] };
      }
      const [repo, gitDir, prefix = ''] = top.stdout.toString('utf8').split('\n');
      const inRepo = `${prefix}${name}`;
      if (!repo || !gitDir || !isAbsolute(repo)) return { copies: [], notes: [] };
      const copies: FoundCopy[] = [];
      const notes: string[] = [];
      const blobCopy = (object: GitObject, kind: string, label: string, time: number | undefined, spec: string) => {
        const where = `git ${spec}`;
        copies.push({
          kind,
          label,
          time,
          path: repo,
          where,
          detail: `object ${object.oid}`,
          load: async () => {
            const blob = await runGit(dir, ['cat-file', 'blob', object.oid], options, MAX_DOCUMENT_BYTES + 1);
            if (!blob.ok) throw new CopyChangedError(where, `git cannot read it: ${blob.message}`);
            if (blob.stdout.length > MAX_DOCUMENT_BYTES) throw new CopyChangedError(where, 'larger than the limit');
            return blob.stdout;
          },
        });
      };

      const index = await runGit(dir, ['ls-files', '-s', '-z', '--', name], options);
      if (index.ok) {
        let indexTime: number | undefined;
        try {
          indexTime = (await fs.stat(join(gitDir, 'index'))).mtimeMs;
        } catch {
          indexTime = undefined;
        }
        for (const object of parseObjects(index.stdout, 'ls-files', name)) {
          const stage = object.stage ?? 0;
          const spec = `:${stage === 0 ? '' : `${stage}:`}${inRepo}`;
          blobCopy(object, STAGE_KINDS[stage] ?? 'index', STAGE_LABELS[stage] ?? 'git index', indexTime, spec);
        }
      } else notes.push(`git index: ${index.message}`);

      const head = await runGit(dir, ['cat-file', 'commit', 'HEAD'], options);
      if (head.ok) {
        const tree = await runGit(dir, ['ls-tree', '-z', 'HEAD', '--', name], options);
        if (tree.ok) {
          for (const object of parseObjects(tree.stdout, 'ls-tree', name)) {
            blobCopy(object, 'HEAD', 'git HEAD', commitTime(head.stdout), `HEAD:${inRepo}`);
          }
        } else notes.push(`git HEAD: ${tree.message}`);
      } // no commit yet: no HEAD copy
      return { copies, notes };
    },
  };
}
