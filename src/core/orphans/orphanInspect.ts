import { join } from 'node:path';
import { INSPECTIONS_AT_ONCE, mapBounded } from '../boundedOpens';
import { messageOf } from '../errors';
import { byName, type ScanError, UNDECODABLE_NAME_NOTE, type WalkFilter } from '../folderListing';
import { type DirEntryLike, describeNameBytes, errnoOf, type FsLike } from '../fs';
import { findJournal } from '../groups/groupJournal';
import {
  type CustomPattern,
  mightBeTemp,
  type OrphanKind,
  type RecognisedGroupFile,
  recogniseGroupFile,
  recogniseTemp,
} from '../names/tempPatterns';
import { type Reason, reasonText } from '../reasons';
import type { GitTrackedFiles } from './gitTracked';
import type { OrphanJudge, TargetState } from './orphanJudge';

/** A temp file a crash (or a writer still at work) left beside its target. Paths are absolute. */
export interface Orphan {
  path: string;
  target: string;
  kind: OrphanKind;
  size: number;
  mtimeMs: number;
  ageMs: number;
  /** Whether the whole temp parses as JSON; null for non-JSON targets or temps that could not be judged. */
  validJson: boolean | null;
  targetState: TargetState;
  /** Why the temp or its target could not be judged, or why the target is corrupt: English, reasonText(why). */
  note?: string;
  /** The note as a code with arguments, for the extension to word. */
  why?: Reason;
  /** git tracks this file in its working tree: never swept. */
  gitTracked?: boolean;
  /**
   * The journal of the group commit this file belongs to (for the journal itself, its own path); the group's files
   * are one unit that only `recover --groups` finishes. Absent for a group file whose journal is gone.
   */
  group?: string;
}

/** A name in a listed folder that the lenient first pass took for a temp. */
export interface Candidate {
  dir: string;
  name: string;
  siblings: ReadonlySet<string>;
  folders: ReadonlySet<string>;
}

/** What inspecting candidates shares: one judge (each target judged once) and each group's journal. */
export interface Inspection {
  fs: FsLike;
  now: number;
  report: (error: ScanError) => void;
  judge: OrphanJudge;
  groupJournals: Map<string, Promise<string | undefined>>;
}

/** What a name is to the rules, for the lenient pass. */
export interface NameRules {
  custom: readonly CustomPattern[];
  filter: WalkFilter;
}

/** What Node puts in a name whose bytes are not valid UTF-8; such a path cannot be opened by its decoded name. */
const REPLACEMENT_CHARACTER = '\ufffd';

/** Why a group commit's file is listed; sweep keeps them all (see orphanSweep). */
export const GROUP_FILE_NOTE = reasonText({ code: 'group-file' });

/** An orphan's note and its code, always together. */
function withWhy(why: Reason): { note: string; why: Reason } {
  return { note: reasonText(why), why };
}

/** True for a file name some rule could take for a temp (custom patterns: every name). */
export function mayBeTempName(name: string, custom: readonly CustomPattern[]): boolean {
  return custom.length > 0 || mightBeTemp(name);
}

/**
 * The lenient first pass over one folder's listing: `names` (default: every file) that a rule takes for a temp with
 * these siblings, ignoring mtimes (inspectCandidate re-checks with the real one). `relativeOf` gives a name's path
 * from the root, for excludes.
 */
export function candidatesIn(
  dir: string,
  entries: readonly DirEntryLike[],
  rules: NameRules,
  relativeOf: (name: string) => string,
  names?: Iterable<string>,
): Candidate[] {
  const siblings = new Set<string>();
  const folders = new Set<string>();
  // A name that is not valid UTF-8 is no sibling: its decoded text would tie a temp to a file of another name.
  for (const entry of entries) if (!entry.nameBytes) (entry.isDirectory() ? folders : siblings).add(entry.name);
  const wanted = names ? [...names].filter((name) => siblings.has(name)) : [...siblings];
  const candidates: Candidate[] = [];
  for (const name of wanted.sort(byName)) {
    if (!mayBeTempName(name, rules.custom)) continue;
    const recognised =
      recogniseGroupFile(name) ?? recogniseTemp(name, siblings, rules.custom, { mtimeMs: Number.POSITIVE_INFINITY });
    if (!recognised) continue;
    if (rules.filter.usesPaths && rules.filter.skipsFile(relativeOf(name))) continue;
    candidates.push({ dir, name, siblings, folders });
  }
  return candidates;
}

/**
 * The entries of one listing that cannot be acted on by name (not valid UTF-8), as errors to report: folders (never
 * entered: no path reaches them exactly) and files some rule could take for temps. Never merged with the file whose
 * name is their decoded text.
 */
export function undecodableIn(
  dir: string,
  entries: readonly DirEntryLike[],
  custom: readonly CustomPattern[],
): ScanError[] {
  const errors: ScanError[] = [];
  for (const entry of entries) {
    if (!entry.nameBytes) continue;
    const path = join(dir, describeNameBytes(entry.nameBytes));
    if (entry.isDirectory()) errors.push({ path, error: `not entered: ${UNDECODABLE_NAME_NOTE}`, skipped: true });
    else if (entry.isFile() && mayBeTempName(entry.name, custom)) errors.push({ path, error: UNDECODABLE_NAME_NOTE });
  }
  return errors;
}

type Stats = Awaited<ReturnType<FsLike['lstat']>>;

/** A journal, temp or backup of a group commit, shown with the journal that binds its group. */
async function inspectGroupFile(
  inspection: Inspection,
  dir: string,
  path: string,
  stats: Stats,
  named: RecognisedGroupFile,
): Promise<Orphan> {
  const target = named.target === undefined ? path : join(dir, named.target);
  let journal = inspection.groupJournals.get(named.groupId);
  if (!journal) {
    journal =
      named.role === 'journal'
        ? Promise.resolve(path)
        : findJournal(inspection.fs, dir, named.groupId).then((found) =>
            found.state === 'found' ? found.path : undefined,
          );
    inspection.groupJournals.set(named.groupId, journal);
  }
  const [temp, targetJudgement, group] = await Promise.all([
    inspection.judge.temp(path, target),
    inspection.judge.target(target),
    journal,
  ]);
  return {
    path,
    target,
    kind: 'crash-safe',
    size: stats.size,
    mtimeMs: stats.mtimeMs,
    ageMs: Math.max(0, inspection.now - stats.mtimeMs),
    validJson: temp.validJson,
    targetState: targetJudgement.state,
    ...withWhy(group ? { code: 'group-file' } : { code: 'orphaned-group-file' }),
    ...(group ? { group } : {}),
  };
}

/** lstat, re-recognise with the real mtime, and judge one candidate; undefined if it is not an orphan after all. */
export async function inspectCandidate(
  inspection: Inspection,
  candidate: Candidate,
  custom: readonly CustomPattern[],
): Promise<Orphan | undefined> {
  const path = join(candidate.dir, candidate.name);
  let stats: Stats;
  try {
    stats = await inspection.fs.lstat(path);
  } catch (error) {
    if (candidate.name.includes(REPLACEMENT_CHARACTER)) {
      inspection.report({
        path,
        error: 'its name is not valid UTF-8, so it cannot be opened by name; rename it to inspect it',
      });
    } else if (errnoOf(error) !== 'ENOENT') inspection.report({ path, error: messageOf(error) });
    return undefined;
  }
  if (!stats.isFile()) return undefined;
  const grouped = recogniseGroupFile(candidate.name, candidate.siblings);
  if (grouped) return inspectGroupFile(inspection, candidate.dir, path, stats, grouped);
  const recognised = recogniseTemp(candidate.name, candidate.siblings, custom, {
    mtimeMs: stats.mtimeMs,
    now: inspection.now,
  });
  if (!recognised || candidate.folders.has(recognised.target)) return undefined;
  const target = join(candidate.dir, recognised.target);
  const [temp, targetJudgement] = await Promise.all([
    inspection.judge.temp(path, target),
    inspection.judge.target(target),
  ]);
  const why = temp.why ?? targetJudgement.why;
  return {
    path,
    target,
    kind: recognised.kind,
    size: stats.size,
    mtimeMs: stats.mtimeMs,
    ageMs: Math.max(0, inspection.now - stats.mtimeMs),
    validJson: temp.validJson,
    targetState: targetJudgement.state,
    ...(why ? withWhy(why) : {}),
  };
}

/**
 * Inspects candidates (see inspectCandidate), at most INSPECTIONS_AT_ONCE at a time, then marks those git tracks.
 * Results in the candidates' order.
 */
export async function inspectCandidates(
  inspection: Inspection,
  candidates: readonly Candidate[],
  custom: readonly CustomPattern[],
  git: GitTrackedFiles,
): Promise<(Orphan | undefined)[]> {
  const found = await mapBounded(candidates, INSPECTIONS_AT_ONCE, (candidate) =>
    inspectCandidate(inspection, candidate, custom),
  );
  await markGitTracked(git, found);
  return found;
}

/** Marks the orphans git tracks (a tracked `data.json.1700000000` is a file of the project, not a leftover). */
export async function markGitTracked(git: GitTrackedFiles, orphans: (Orphan | undefined)[]): Promise<void> {
  const found = orphans.filter((orphan): orphan is Orphan => orphan !== undefined);
  if (found.length === 0) return;
  const tracking = await git.check(found.map((orphan) => orphan.path));
  for (const orphan of found) {
    const answer = tracking.get(orphan.path);
    if (answer === 'tracked') orphan.gitTracked = true;
    else if (answer === 'unknown' && orphan.note === undefined) Object.assign(orphan, withWhy({ code: 'git-unknown' }));
  }
}
