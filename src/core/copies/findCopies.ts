import { resolve } from 'node:path';
import { DescriptorsExhaustedError, mapBounded } from '../boundedOpens';
import { messageOf } from '../errors';
import { errnoOf, type FsLike, nodeFs } from '../fs';
import type { JsonSchema } from '../json/jsonStore';
import { type CurrentTarget, RecoveryError, type RecoveryResult, replaceKeepingBackup } from '../orphans/recovery';
import type { Durability } from '../write/durability';
import {
  COPY_SOURCES,
  type Copy,
  CopyChangedError,
  type CopyFinder,
  type CopySource,
  digestOf,
  type FoundCopy,
} from './copyModel';
import { type GitOptions, gitFinder } from './gitCopies';
import { type HistoryOptions, historyFinder } from './historyCopies';
import { judgeBroken, judgeContent, type TargetVerdict } from './judgeBroken';
import { recoverBackupFinder, tempFinder } from './siblingCopies';

export interface FindCopiesOptions {
  fs?: FsLike;
  /** VS Code's Local History folder (`…/User/History`); without it there are no history copies. */
  historyDir?: string;
  /** Resource rules for Local History (code-server's `vscode-remote` authorities). */
  history?: HistoryOptions;
  /** `false`: do not ask git. Otherwise the environment and timeout for git. */
  git?: GitOptions | false;
  /** Extra temp patterns (`--pattern`, `crashSafeState.tempPatterns`). */
  extraPatterns?: string[];
  /** A JSON target's copies (and the target) must also match this schema. */
  schema?: JsonSchema;
  /** More finders: src/state's to-do backups and settings snapshots (`stateCopyFinders`). */
  extraFinders?: readonly CopyFinder[];
  /** Only these sources. */
  sources?: readonly CopySource[];
  /** Cancels the search: AbortError is thrown, nothing was written. */
  signal?: AbortSignal;
}

/** The target as judged, for lists: its verdict without bytes, identity and mode (the size stands for the bytes). */
export type TargetSummary = TargetVerdict extends infer V
  ? V extends { bytes: Buffer }
    ? Omit<V, 'bytes' | 'identity' | 'mode'> & { size: number }
    : V
  : never;

export interface CopiesResult {
  /** The target, absolute. */
  target: string;
  /** Judged with `textExpected` when its copies are text (judgeBroken). */
  targetState: TargetSummary;
  /** Every copy from every source, newest first (unknown times last); each source's own order gives `index`. */
  copies: Copy[];
  /** What could not be looked at and why: never an error. */
  notes: string[];
  /** Whether the copies say the file is text: then bytes that are not UTF-8 make the target broken. */
  textExpected: boolean;
}

/** Copies read at once: each may be up to 256 MiB, so few. */
const COPIES_READ_AT_ONCE = 4;

async function realPathOf(fs: FsLike, target: string): Promise<string> {
  try {
    return (await fs.lstat(target)).isSymbolicLink() ? await fs.realpath(target) : target;
  } catch {
    return target;
  }
}

/** The finders findCopies asks, in the order their copies are listed when times tie. */
function findersFor(options: FindCopiesOptions): CopyFinder[] {
  const finders: CopyFinder[] = [];
  if (options.historyDir !== undefined) {
    finders.push(historyFinder(options.historyDir, { ...options.history, signal: options.signal }));
  }
  if (options.git !== false) finders.push(gitFinder(options.git ?? {}));
  finders.push(tempFinder(options.extraPatterns), recoverBackupFinder, ...(options.extraFinders ?? []));
  const only = options.sources;
  return only ? finders.filter((finder) => only.includes(finder.source)) : finders;
}

const byTimeNewestFirst = (a: { time: number | undefined }, b: { time: number | undefined }) =>
  (b.time ?? Number.NEGATIVE_INFINITY) - (a.time ?? Number.NEGATIVE_INFINITY);

/**
 * Every copy of `target` from every source (Local History, git, temps, our backups, and `extraFinders`), each read
 * once, bounded, and judged; nothing is written. Never throws for what it finds on disk (a source that fails is a
 * note); only running out of file descriptors is thrown.
 */
export async function findCopies(targetPath: string, options: FindCopiesOptions = {}): Promise<CopiesResult> {
  const fs = options.fs ?? nodeFs;
  const target = resolve(targetPath);
  const realTarget = await realPathOf(fs, target);
  const notes: string[] = [];
  const found: { source: CopySource; found: FoundCopy }[] = [];
  for (const finder of findersFor(options)) {
    options.signal?.throwIfAborted();
    try {
      const result = await finder.find({ fs, target, realTarget });
      notes.push(...result.notes);
      for (const copy of result.copies) found.push({ source: finder.source, found: copy });
    } catch (error) {
      if (error instanceof DescriptorsExhaustedError || options.signal?.aborted) throw error;
      notes.push(`${finder.source}: ${messageOf(error)}`);
    }
  }

  // Each copy is read, judged and digested in turn; its bytes are not kept (a copy may be 256 MiB).
  const examined = await mapBounded(found, COPIES_READ_AT_ONCE, async ({ source, found: copy }) => {
    options.signal?.throwIfAborted();
    try {
      const bytes = await copy.load();
      const judged = judgeContent(bytes, target, { schema: options.schema });
      return { source, copy, size: bytes.length, digest: digestOf(bytes), judged, problem: judged.problem };
    } catch (error) {
      if (error instanceof DescriptorsExhaustedError) throw error;
      const problem = errnoOf(error) === 'ENOENT' ? 'is gone' : messageOf(error);
      return { source, copy, size: copy.size ?? 0, digest: '', judged: undefined, problem };
    }
  });
  const usable = examined.filter(({ judged }) => judged && judged.judgement !== 'broken');
  const textExpected = usable.length > 0 && usable.every(({ judged }) => judged!.judgement !== 'binary');

  const copies: Copy[] = examined.map(({ source, copy, size, digest, judged, problem }) => ({
    source,
    index: 0,
    kind: copy.kind,
    label: copy.label,
    time: copy.time,
    size,
    judgement: judged?.judgement ?? 'unknown',
    ...(problem ? { problem } : {}),
    path: copy.path,
    where: copy.where,
    ...(copy.detail ? { detail: copy.detail } : {}),
    digest,
    read: async () => {
      if (!digest) throw new CopyChangedError(copy.where, `could not be read when listed: ${problem ?? 'unknown'}`);
      const bytes = await copy.load();
      if (digestOf(bytes) !== digest) throw new CopyChangedError(copy.where, 'changed since it was listed');
      return bytes;
    },
  }));
  const order = (source: CopySource) => COPY_SOURCES.indexOf(source);
  for (const source of COPY_SOURCES) {
    const ofSource = copies.filter((copy) => copy.source === source);
    // Stable sort: ties keep the finder's order.
    ofSource.sort(byTimeNewestFirst).forEach((copy, index) => {
      copy.index = index;
    });
  }
  copies.sort((a, b) => byTimeNewestFirst(a, b) || order(a.source) - order(b.source) || a.index - b.index);

  const verdict = await judgeBroken(target, { fs, schema: options.schema, textExpected });
  return { target, targetState: summaryOf(verdict), copies, notes, textExpected };
}

function summaryOf(verdict: TargetVerdict): TargetSummary {
  if (verdict.state === 'missing' || verdict.state === 'unknown') return verdict;
  const { bytes, identity: _identity, mode: _mode, ...judged } = verdict;
  return { ...judged, size: bytes.length };
}

/** The copy `--from SOURCE[:N]` names: the Nth (from 0, newest first) of that source; N defaults to 0. */
export function selectCopy(copies: readonly Copy[], source: CopySource, index = 0): Copy | undefined {
  return copies.find((copy) => copy.source === source && copy.index === index);
}

/** The newest copy that can replace a broken file (not broken, not unknown), or undefined. */
export function bestCopy(copies: readonly Copy[]): Copy | undefined {
  return copies.find((copy) => copy.judgement !== 'broken' && copy.judgement !== 'unknown');
}

export interface RecoverFromCopyOptions {
  fs?: FsLike;
  /** Replace a target that is not broken (by default it is left alone: `not-needed`). */
  force?: boolean;
  dryRun?: boolean;
  /** Default `full`. */
  durability?: Durability;
  schema?: JsonSchema;
  /** Whether the file's history is text (CopiesResult.textExpected): then bytes that are not UTF-8 are broken. */
  textExpected?: boolean;
  /** Clock for the backup name. */
  now?: number;
}

/**
 * Replaces `target` with the chosen copy, the one write of the copies model. The target is judged again (a valid one
 * is kept unless `force`; one that cannot be read is never replaced), the copy is read again and must hold exactly
 * the bytes that were listed and must not be broken, the old target is kept as `<target>.corrupt-<time>` (or
 * `.replaced-<time>`), and the target is replaced atomically only if it is still the file that was judged (device,
 * inode, size, mtime, and its bytes right before the rename). The copy itself is never touched.
 */
export async function recoverFromCopy(
  targetPath: string,
  copy: Copy,
  options: RecoverFromCopyOptions = {},
): Promise<RecoveryResult> {
  const fs = options.fs ?? nodeFs;
  const target = resolve(targetPath);
  const verdict = await judgeBroken(target, { fs, schema: options.schema, textExpected: options.textExpected });
  if (verdict.state === 'unknown') {
    throw new RecoveryError(
      target,
      'unreadable',
      `Cannot judge ${target}, so it was left as it was: ${verdict.problem}`,
    );
  }
  if (!verdict.broken && !options.force) {
    throw new RecoveryError(target, 'not-needed', `${target} is valid, so there is nothing to recover`);
  }
  let bytes: Buffer;
  try {
    bytes = await copy.read();
  } catch (error) {
    throw new RecoveryError(
      target,
      'changed',
      `${copy.where} cannot be used; nothing was replaced: ${messageOf(error)}`,
    );
  }
  const judged = judgeContent(bytes, target, { schema: options.schema, textExpected: options.textExpected });
  if (judged.judgement === 'broken') {
    throw new RecoveryError(
      target,
      'no-candidate',
      `${copy.where} ${judged.problem ?? 'is broken'}; it cannot replace ${target}, nothing was replaced`,
    );
  }
  const current: CurrentTarget =
    verdict.state === 'missing'
      ? { state: 'missing' }
      : {
          state: verdict.broken ? 'broken' : 'valid',
          bytes: verdict.bytes,
          identity: verdict.identity,
          mode: verdict.mode,
        };
  const realTarget = await realPathOf(fs, target);
  return replaceKeepingBackup(fs, target, realTarget, current, bytes, copy.where, {
    dryRun: options.dryRun,
    now: options.now,
    durability: options.durability,
  });
}
