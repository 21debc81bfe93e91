import { type NameMatching, nameKey, nameMatchingFor } from './nameMatching';
import { OUR_SHORT_TEMP_PATTERN, OUR_TEMP_PATTERN, ownerOfShortStem, SHORT_STEM_SOURCE } from './tempNames';

/** Which tool left a temp file behind. */
export type OrphanKind =
  | 'crash-safe'
  | 'write-file-atomic'
  | 'atomically'
  | 'steno'
  | 'vscode'
  | 'tmp-suffix'
  | 'dot-hex-tmp'
  | 'custom';

/** A file name recognised as a temp of `target` (a sibling name in the same folder). */
export interface RecognisedTemp {
  target: string;
  kind: OrphanKind;
  /** For our own temps: the writer's pid and thread, so a live writer's temp is never swept. */
  pid?: number;
  threadId?: number;
}

/** What is known about the file besides its name; it sharpens the write-file-atomic rule. */
export interface RecogniseContext {
  /** The temp's mtime; without it every name that could be a Unix-time backup is refused. */
  mtimeMs?: number;
  now?: number;
  /** How the volume compares names when a weak pattern looks for its target; default: this platform's usual volume. */
  names?: NameMatching;
}

export { EXACT_NAMES, type NameMatching, nameKey, nameMatchingFor } from './nameMatching';

/** Smallest write-file-atomic suffix we accept: rotation and backup numbers stay far below it. */
export const MIN_UINT32_DIGITS = 8;
const UINT32_MAX = 4_294_967_295;
const DAY_MS = 86_400_000;
/** 2000-01-01T00:00:00Z in Unix seconds: the earliest timestamp we treat as a backup's name. */
const EARLIEST_TIMESTAMP_NAME = 946_684_800;
/** How far before its mtime a backup may have been named after a Unix time (copies that kept an older mtime). */
const TIMESTAMP_NAME_SLACK_MS = 7 * DAY_MS;

// The `s` flag: a name may hold a newline or U+2028, and `.` must span it like any other character.
const ATOMICALLY = /^(?<target>.+)\.tmp-\d{10}[0-9a-f]{6}$/s;
const VSCODE = /^(?<target>.+)\.vsctmp$/s;
const UUID = /^\{?[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\}?$/;
const TMP_SUFFIX = /^(?<target>.+)\.tmp\.(?<id>[^.]+)$/s;
const DOT_HEX_TMP = /^\.(?<target>.+)\.(?<hex>[0-9a-f]{8,64})\.tmp$/s;
const STENO = /^\.(?<target>.+)\.tmp$/s;
const WRITE_FILE_ATOMIC = /^(?<target>.+)\.(?<number>[1-9]\d{0,9})$/s;
/** Hex of at least 8 digits with a letter in it: dates (`20240115`) and counters are all digits. */
const RANDOM_HEX = /^(?=.*[a-f])[0-9a-f]{8,64}$/;

/** A user's file that looks like a temp of `target`; neither built-in nor user patterns may take it for one. */
export interface TempLookalike {
  name: string;
  target: string;
  /** What the file really is, for error messages. */
  what: string;
}

/** The shared look-alike corpus: the recogniser's tests check it, and compileCustomPatterns refuses patterns matching it. */
export const TEMP_LOOKALIKES: readonly TempLookalike[] = Object.freeze(
  (
    [
      ['app.log.1', 'app.log', 'a rotated log'],
      ['app.log.2', 'app.log', 'a rotated log'],
      ['app.log.12', 'app.log', 'a rotated log'],
      ['app.log.1234567', 'app.log', 'a rotated log'],
      ['app.log.2.gz', 'app.log', 'a compressed rotated log'],
      ['data.json.1', 'data.json', 'a numbered backup'],
      ['data.json.bak', 'data.json', 'a backup'],
      ['data.json~', 'data.json', "an editor's backup"],
      ['data.json.old', 'data.json', 'a backup'],
      ['data.json.orig', 'data.json', "a merge tool's backup"],
      ['data.json.corrupt-2026-01-01T00-00-00-000Z', 'data.json', "recover's backup of a corrupt file"],
      ['data.json.corrupt-2026-01-01T00-00-00-000Z-1', 'data.json', "recover's backup of a corrupt file"],
      ['data.json.replaced-2026-01-01T00-00-00-000Z', 'data.json', "recover's backup of a replaced file"],
      ['draft.tmp', 'draft', "a user's own file"],
      ['report.tmp.20240115', 'report', 'a dated copy'],
      ['.notes.20240115.tmp', 'notes', 'a dated copy'],
      ['.notes.cafe.tmp', 'notes', "a user's own file"],
      ['report.json.20260101', 'report.json', 'a dated copy'],
      ['notes.20240115', 'notes', 'a dated copy'],
      ['notes.2024', 'notes', 'a dated copy'],
      ['notes.202401', 'notes', 'a dated copy'],
      ['data.json.19991231', 'data.json', 'a dated copy'],
    ] as const
  ).map(([name, target, what]) => Object.freeze({ name, target, what })),
);

/** A user pattern refused by compileCustomPatterns; `example` is a look-alike it would take for a temp, if that is why. */
export class TempPatternError extends Error {
  override readonly name = 'TempPatternError';
  constructor(
    readonly pattern: string,
    message: string,
    readonly example?: string,
  ) {
    super(message);
  }
}

/** A user-added pattern: `{target}` once, `*` any run of characters, `?` one character; the rest literal. */
export interface CustomPattern {
  source: string;
  greedy: RegExp;
  lazy: RegExp;
}

/**
 * Compiles `{target}` patterns. Throws a TempPatternError for a pattern without exactly one `{target}`, with a
 * slash, or matching one of TEMP_LOOKALIKES (it would sweep rotated logs, backups or recover's own backups).
 */
export function compileCustomPatterns(patterns: readonly string[] = []): CustomPattern[] {
  return patterns.map((source) => {
    const parts = source.split('{target}');
    if (parts.length !== 2) {
      throw new TempPatternError(
        source,
        `temp pattern "${source}" must contain {target} exactly once (e.g. "{target}.bak~")`,
      );
    }
    if (source.includes('/') || source.includes('\\')) {
      throw new TempPatternError(source, `temp pattern "${source}" must be a file name pattern without / or \\`);
    }
    const [before, after] = parts.map(globToRegexSource) as [string, string];
    // Checked with the look-alike's own target spelled out: any reading that makes it a temp of that file is too broad.
    const lookalike = TEMP_LOOKALIKES.find(({ name, target }) =>
      new RegExp(`^${before}${escapeRegex(target)}${after}$`, 'su').test(name),
    );
    if (lookalike) {
      throw new TempPatternError(
        source,
        `temp pattern "${source}" is too broad: it would take ${lookalike.name} (${lookalike.what} of ${lookalike.target}) for a temp; use a suffix only temps have (e.g. "{target}.bak~")`,
        lookalike.name,
      );
    }
    // `u`: `?` is one character even outside the BMP; `s`: `*` and `?` span newlines in names.
    return {
      source,
      greedy: new RegExp(`^${before}(?<target>.+)${after}$`, 'su'),
      lazy: new RegExp(`^${before}(?<target>.+?)${after}$`, 'su'),
    };
  });
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function globToRegexSource(glob: string): string {
  let out = '';
  for (const char of glob) {
    if (char === '*') out += '.*';
    else if (char === '?') out += '.';
    else out += escapeRegex(char);
  }
  return out;
}

type Siblings = ReadonlySet<string> | readonly string[];

function hasSibling(siblings: Siblings | undefined, name: string, matching: NameMatching): boolean {
  if (!siblings) return false;
  if (siblings instanceof Set ? siblings.has(name) : (siblings as readonly string[]).includes(name)) return true;
  if (!matching.caseInsensitive && !matching.normalisationInsensitive) return false;
  return siblingKeys(siblings, matching).has(nameKey(name, matching));
}

/** Keys of a folder listing, computed once per listing (and again if it grew) rather than once per candidate. */
const siblingKeyCache = new WeakMap<Siblings, { size: number; mode: string; keys: Set<string> }>();

function siblingKeys(siblings: Siblings, matching: NameMatching): Set<string> {
  const size = siblings instanceof Set ? siblings.size : (siblings as readonly string[]).length;
  const mode = `${matching.caseInsensitive}/${matching.normalisationInsensitive}`;
  const cached = siblingKeyCache.get(siblings);
  if (cached && cached.size === size && cached.mode === mode) return cached.keys;
  const keys = new Set<string>();
  for (const sibling of siblings) keys.add(nameKey(sibling, matching));
  siblingKeyCache.set(siblings, { size, mode, keys });
  return keys;
}

function usableTarget(target: string | undefined, tempName: string): target is string {
  return target !== undefined && target.length > 0 && target !== '.' && target !== '..' && target !== tempName;
}

/** True for an 8-digit number that reads as a calendar date YYYYMMDD between 1970 and 2099. */
function looksLikeDate(digits: string): boolean {
  if (digits.length !== 8) return false;
  const year = Number(digits.slice(0, 4));
  const month = Number(digits.slice(4, 6));
  const day = Number(digits.slice(6, 8));
  if (year < 1970 || year > 2099 || month < 1 || month > 12 || day < 1) return false;
  return day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * True when a number could be the Unix time (seconds) a backup was named after: between 2000 and tomorrow, and
 * no earlier than a week before the file's mtime (a backup is named when made, and making it never moves its mtime
 * past that name by more than an edit would). Without an mtime, the whole 2000..tomorrow range is refused.
 */
function looksLikeTimestamp(value: number, context: RecogniseContext): boolean {
  const now = context.now ?? Date.now();
  if (value < EARLIEST_TIMESTAMP_NAME || value * 1000 > now + DAY_MS) return false;
  if (context.mtimeMs === undefined) return true;
  return value * 1000 >= context.mtimeMs - TIMESTAMP_NAME_SLACK_MS;
}

/** write-file-atomic's `<target>.<uint32>` with the extra conditions that keep numbered backups out. */
function plausibleUint32Suffix(digits: string, context: RecogniseContext): boolean {
  if (digits.length < MIN_UINT32_DIGITS) return false;
  const value = Number(digits);
  if (value > UINT32_MAX) return false;
  if (looksLikeDate(digits)) return false;
  return !looksLikeTimestamp(value, context);
}

/**
 * Recognises a temp file name left by us or a peer, or undefined. The exact rule (documented in the README):
 * strong patterns (ours, atomically, VS Code, `<t>.tmp.<uuid>`) need no existing target; the weak ones
 * (write-file-atomic, steno, `.<t>.<hex>.tmp`, `<t>.tmp.<hex>`, custom) are only temps when `siblingNames`
 * holds the target, compared as the volume compares names (context.names). Pass the names of the folder's
 * non-directory entries; without them weak patterns never match. The target is returned as the temp spells it.
 */
export function recogniseTemp(
  name: string,
  siblingNames?: Siblings,
  extraPatterns?: readonly string[] | readonly CustomPattern[],
  context: RecogniseContext = {},
): RecognisedTemp | undefined {
  const custom = normaliseCustom(extraPatterns);
  return recogniseStrong(name) ?? recogniseWeak(name, siblingNames, custom, context);
}

function normaliseCustom(extra: readonly string[] | readonly CustomPattern[] | undefined): readonly CustomPattern[] {
  if (!extra || extra.length === 0) return [];
  return typeof extra[0] === 'string' ? compileCustomPatterns(extra as readonly string[]) : (extra as CustomPattern[]);
}

function recogniseStrong(name: string): RecognisedTemp | undefined {
  const ours = OUR_TEMP_PATTERN.exec(name);
  if (ours?.groups && usableTarget(ours.groups.target, name)) {
    return {
      target: ours.groups.target,
      kind: 'crash-safe',
      pid: Number(ours.groups.pid),
      threadId: Number(ours.groups.thread),
    };
  }
  const atomically = ATOMICALLY.exec(name)?.groups?.target;
  if (usableTarget(atomically, name)) return { target: atomically, kind: 'atomically' };
  const vscode = VSCODE.exec(name)?.groups?.target;
  if (usableTarget(vscode, name)) return { target: vscode, kind: 'vscode' };
  const tmpSuffix = TMP_SUFFIX.exec(name)?.groups;
  if (tmpSuffix && usableTarget(tmpSuffix.target, name) && UUID.test(tmpSuffix.id!)) {
    return { target: tmpSuffix.target, kind: 'tmp-suffix' };
  }
  return undefined;
}

function recogniseWeak(
  name: string,
  siblings: Siblings | undefined,
  custom: readonly CustomPattern[],
  context: RecogniseContext,
): RecognisedTemp | undefined {
  if (!siblings) return undefined;
  const matching = context.names ?? nameMatchingFor(process.platform);
  const short = OUR_SHORT_TEMP_PATTERN.exec(name)?.groups;
  if (short) {
    // Ours, for a target too long to spell out: only the sibling its digest and prefix name is its target.
    const target = ownerOfShortStem(short.prefix!, short.digest!, siblings, matching);
    if (!usableTarget(target, name)) return undefined;
    return { target, kind: 'crash-safe', pid: Number(short.pid), threadId: Number(short.thread) };
  }
  const known = (target: string | undefined): target is string =>
    usableTarget(target, name) && hasSibling(siblings, target, matching);

  const tmpSuffix = TMP_SUFFIX.exec(name)?.groups;
  if (tmpSuffix && known(tmpSuffix.target) && RANDOM_HEX.test(tmpSuffix.id!)) {
    return { target: tmpSuffix.target, kind: 'tmp-suffix' };
  }
  const dotHex = DOT_HEX_TMP.exec(name)?.groups;
  if (dotHex && known(dotHex.target) && RANDOM_HEX.test(dotHex.hex!)) {
    return { target: dotHex.target, kind: 'dot-hex-tmp' };
  }
  const steno = STENO.exec(name)?.groups?.target;
  if (known(steno)) return { target: steno, kind: 'steno' };
  const wfa = WRITE_FILE_ATOMIC.exec(name)?.groups;
  if (wfa && known(wfa.target) && plausibleUint32Suffix(wfa.number!, context)) {
    return { target: wfa.target, kind: 'write-file-atomic' };
  }
  for (const pattern of custom) {
    for (const regex of [pattern.greedy, pattern.lazy]) {
      const target = regex.exec(name)?.groups?.target;
      if (known(target)) return { target, kind: 'custom' };
    }
  }
  return undefined;
}

/**
 * A cheap test that rules out most names before recogniseTemp runs: true for every name a built-in pattern can
 * match. Each shape is tested on its own, so a `.tmp` inside a target never hides another shape. Custom patterns
 * disable the shortcut; hidden leftovers are not covered (see recogniseHiddenLeftover).
 */
export function mightBeTemp(name: string): boolean {
  if (name.endsWith('.vsctmp')) return true;
  if (name.includes('.csg-') || name.includes('.csg~') || name.startsWith('.cs-group-')) return true; // group commits (recogniseGroupFile)
  // steno, dot-hex, ours (`.cs~`: the short form for long targets)
  if (name.endsWith('.tmp') && (name.charCodeAt(0) === 46 || name.includes('.cs-') || name.includes('.cs~')))
    return true;
  if (name.includes('.tmp.') || name.includes('.tmp-')) return true; // `.tmp.<id>`, atomically's `.tmp-<digits><hex>`
  // write-file-atomic: at least MIN_UINT32_DIGITS trailing digits after a dot.
  let digits = 0;
  for (let i = name.length - 1; i >= 0; i--) {
    const code = name.charCodeAt(i);
    if (code >= 48 && code <= 57) digits += 1;
    else return code === 46 && digits >= MIN_UINT32_DIGITS;
  }
  return false;
}

/** Most digits a write-file-atomic suffix has (a uint32). */
const MAX_UINT32_DIGITS = String(UINT32_MAX).length;

/**
 * File-name globs (VS Code's syntax, also picomatch's with `dot`) that together match every name mightBeTemp passes
 * and every name a user pattern can match: a file watcher's filter, derived here so it cannot drift from the rules.
 */
export function tempNameGlobs(customPatterns: readonly string[] = []): string[] {
  const digits = (count: number) => `*.[1-9]${'[0-9]'.repeat(count - 1)}`;
  const wfa = Array.from({ length: MAX_UINT32_DIGITS - MIN_UINT32_DIGITS + 1 }, (_, i) =>
    digits(MIN_UINT32_DIGITS + i),
  );
  // A user pattern's literal glob characters become `?`: wider than the pattern, never narrower.
  const custom = customPatterns.map((pattern) => pattern.replaceAll('{target}', '*').replace(/[[\]{},!]/g, '?'));
  return [
    '*.vsctmp',
    '*.csg-*',
    '*.csg~*',
    '.cs-group-*',
    '.*.tmp',
    '*.cs-*.tmp',
    '*.cs~*.tmp',
    '*.tmp.*',
    '*.tmp-*',
    ...wfa,
    ...custom,
  ];
}

/** True for a name some built-in or user pattern could take for a temp, whatever its siblings. */
export function couldBeTemp(name: string, custom: readonly CustomPattern[]): boolean {
  return mightBeTemp(name) || custom.some((pattern) => pattern.greedy.test(name));
}

/** The file systems whose rename-over-an-open-file leftovers recogniseHiddenLeftover knows. */
export type HiddenLeftoverKind = 'fuse' | 'nfs';

/** libfuse's hide_node: `.fuse_hidden%08x%08x` (node id, counter). */
const FUSE_HIDDEN = /^\.fuse_hidden[0-9a-f]{16}$/;
/** Linux silly rename `.nfs%016llx%08x` (file id, counter); BSD and macOS `.nfs.%08x.%04x4.4` (ticks, pid). */
const NFS_SILLY = /^\.nfs(?:[0-9a-f]{24}|\.[0-9a-f]{8}\.[0-9a-f]{4,8}4\.4)$/;

/**
 * Recognises a FUSE or NFS file renamed aside while open. It may hold a target's old bytes after a crash, but its
 * name does not say which target, so it must never be swept as a temp; recogniseTemp never matches these names.
 */
export function recogniseHiddenLeftover(name: string): HiddenLeftoverKind | undefined {
  if (FUSE_HIDDEN.test(name)) return 'fuse';
  if (NFS_SILLY.test(name)) return 'nfs';
  return undefined;
}

/** What a file of a group commit (src/core/groups/groupCommit.ts) is: its journal, a temp or a backup of one target. */
export interface RecognisedGroupFile {
  role: 'journal' | 'temp' | 'backup';
  /** `<pid>-<thread>-<seq>-<8 hex>`: the committing process and thread, a sequence and a random part. */
  groupId: string;
  pid: number;
  threadId: number;
  /**
   * The sibling file a temp or backup belongs to (for the journal's own temp, the journal's name). A short name (a
   * target too long to spell out) has one only when the siblings were given and exactly one of them owns it.
   */
  target?: string;
}

const GROUP_ID_SOURCE = '(?<id>(?<pid>\\d+)-(?<thread>\\d+)-\\d+-[0-9a-f]{8})';
/** `<target>.csg-<id>.tmp` (new content) and `<target>.csg-<id>.bak` (the old target, kept for a roll back). */
const GROUP_MEMBER = new RegExp(`^(?<target>.+)\\.csg-${GROUP_ID_SOURCE}\\.(?<role>tmp|bak)$`, 's');
/** `<prefix>~<digest>.csg~<id>.tmp` and `.bak`: the same for a target whose name is too long to spell out. */
const GROUP_SHORT_MEMBER = new RegExp(`^${SHORT_STEM_SOURCE}\\.csg~${GROUP_ID_SOURCE}\\.(?<role>tmp|bak)$`, 's');
/** `.cs-group-<id>.journal`, in a folder that contains every target of the group. */
const GROUP_JOURNAL = new RegExp(`^\\.cs-group-${GROUP_ID_SOURCE}\\.journal$`);

/**
 * Recognises the files of a group commit. recogniseTemp never matches them: they are not single-file temps that
 * recover or sweep may act on alone, only `recover --groups` may.
 */
export function recogniseGroupFile(
  name: string,
  siblings?: Siblings,
  matching: NameMatching = nameMatchingFor(process.platform),
): RecognisedGroupFile | undefined {
  const journal = GROUP_JOURNAL.exec(name)?.groups;
  if (journal) {
    return { role: 'journal', groupId: journal.id!, pid: Number(journal.pid), threadId: Number(journal.thread) };
  }
  const short = GROUP_SHORT_MEMBER.exec(name)?.groups;
  if (short) {
    const target = siblings ? ownerOfShortStem(short.prefix!, short.digest!, siblings, matching) : undefined;
    return {
      role: short.role === 'tmp' ? 'temp' : 'backup',
      groupId: short.id!,
      pid: Number(short.pid),
      threadId: Number(short.thread),
      ...(usableTarget(target, name) ? { target } : {}),
    };
  }
  const member = GROUP_MEMBER.exec(name)?.groups;
  if (!member || !usableTarget(member.target, name)) return undefined;
  return {
    role: member.role === 'tmp' ? 'temp' : 'backup',
    groupId: member.id!,
    pid: Number(member.pid),
    threadId: Number(member.thread),
    target: member.target,
  };
}
