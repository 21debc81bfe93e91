import { createHash, randomFillSync } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { type NameMatching, nameKey, nameMatchingFor, startsWithName } from './nameMatching';

/**
 * Our temp files are `<target>.cs-<pid>-<threadId>-<seq>-<8 hex>.tmp`, beside the target.
 * pid + threadId + seq make names unique within a machine; the random part guards against pid reuse.
 * The `s` flag: a target name may hold a newline, which `.` must span.
 */
export const OUR_TEMP_PATTERN =
  /^(?<target>.+)\.cs-(?<pid>\d+)-(?<thread>\d+)-(?<seq>\d+)-(?<nonce>[0-9a-f]{8})\.tmp$/s;

/**
 * The longest name every volume we support takes: 255 UTF-8 bytes (ext4, APFS). A name within it has at most 255
 * UTF-16 units too (NTFS), so one rule holds everywhere, on shares between systems as well.
 */
export const NAME_MAX_BYTES = 255;
/** Every suffix we add to a target's name is shorter: only a target longer than NAME_MAX_BYTES minus this gets a short stem. */
export const MAX_SUFFIX_BYTES = 96;
/** Hex digits of the name digest in a short stem (64 bits). */
const DIGEST_HEX = 16;
/** How far a short stem's prefix backs off so that it does not end just before a combining mark. */
const MAX_MARK_BACKOFF = 32;
const COMBINING_MARK = /^\p{M}$/u;

/** The length that counts against NAME_MAX_BYTES. */
export const nameBytes = (name: string): number => Buffer.byteLength(name, 'utf8');

/**
 * The digest a short stem carries: SHA-256 of the name as the volume compares names (this platform's usual volume),
 * so a target listed in another case (NTFS) or normalisation (APFS) still owns its short names.
 */
export function nameDigest(targetName: string, matching: NameMatching = nameMatchingFor(process.platform)): string {
  return createHash('sha256').update(nameKey(targetName, matching), 'utf8').digest('hex').slice(0, DIGEST_HEX);
}

/**
 * `<prefix>~<16 hex digest>`: stands for a target whose name plus a suffix of `suffixBytes` would not fit. The prefix
 * is the longest start of the name, cut between characters (never inside a UTF-8 sequence or a surrogate pair) and
 * not just before a combining mark, that leaves room for the digest and the suffix.
 */
export function shortStem(targetName: string, suffixBytes: number): string {
  const budget = NAME_MAX_BYTES - suffixBytes - 1 - DIGEST_HEX;
  const chars = [...targetName];
  let end = 0;
  for (let used = 0; end < chars.length; end++) {
    used += nameBytes(chars[end]!);
    if (used > budget) break;
  }
  let cut = end;
  while (cut > 1 && cut < chars.length && end - cut < MAX_MARK_BACKOFF && COMBINING_MARK.test(chars[cut]!)) cut--;
  if (cut < chars.length && COMBINING_MARK.test(chars[cut]!)) cut = end; // A run of marks: any cut splits one.
  return `${chars.slice(0, cut).join('')}~${nameDigest(targetName)}`;
}

/**
 * The name we derive from a target: `<target><suffix>` when it fits NAME_MAX_BYTES (always the case for names that
 * are not long), else `<short stem><shortSuffix>`. Kinds that scan recognises pass a shortSuffix with another marker,
 * so a short name is never also the long name of some other target.
 */
export function derivedName(targetName: string, suffix: string, shortSuffix = suffix): string {
  const long = `${targetName}${suffix}`;
  if (nameBytes(long) <= NAME_MAX_BYTES) return long;
  const suffixBytes = nameBytes(shortSuffix);
  if (suffixBytes > MAX_SUFFIX_BYTES)
    throw new RangeError(`suffix ${JSON.stringify(shortSuffix)} is over ${MAX_SUFFIX_BYTES} bytes`);
  return `${shortStem(targetName, suffixBytes)}${shortSuffix}`;
}

/** A short stem's parts; the `s` flag: a name may hold a newline. */
export const SHORT_STEM_SOURCE = '(?<prefix>.+)~(?<digest>[0-9a-f]{16})';
const SHORT_STEM = new RegExp(`^${SHORT_STEM_SOURCE}$`, 's');

/** True when `stem` is a short stem of exactly `targetName` (its digest and its prefix). */
export function isShortStemOf(
  stem: string,
  targetName: string,
  matching: NameMatching = nameMatchingFor(process.platform),
): boolean {
  const parts = SHORT_STEM.exec(stem)?.groups;
  if (!parts || nameBytes(targetName) <= NAME_MAX_BYTES - MAX_SUFFIX_BYTES) return false;
  return parts.digest === nameDigest(targetName, matching) && startsWithName(targetName, parts.prefix!, matching);
}

type Names = ReadonlySet<string> | readonly string[];

/** The long siblings of a listing by digest, computed once per listing (and again if it grew). */
const digestCache = new WeakMap<Names, { size: number; mode: string; byDigest: Map<string, string[]> }>();

function siblingsByDigest(siblings: Names, matching: NameMatching): Map<string, string[]> {
  const size = siblings instanceof Set ? siblings.size : (siblings as readonly string[]).length;
  const mode = `${matching.caseInsensitive}/${matching.normalisationInsensitive}`;
  const cached = digestCache.get(siblings);
  if (cached && cached.size === size && cached.mode === mode) return cached.byDigest;
  const byDigest = new Map<string, string[]>();
  for (const sibling of siblings) {
    // Only a name this long can have been given a short stem; the rest are never hashed.
    if (nameBytes(sibling) <= NAME_MAX_BYTES - MAX_SUFFIX_BYTES) continue;
    const digest = nameDigest(sibling, matching);
    const named = byDigest.get(digest);
    if (named) named.push(sibling);
    else byDigest.set(digest, [sibling]);
  }
  digestCache.set(siblings, { size, mode, byDigest });
  return byDigest;
}

/**
 * The one sibling a short stem stands for: its digest and prefix match, compared as `matching` compares names.
 * Undefined when none does (the target is gone, or the name was not ours) or several spellings do (which one is
 * unknown): such a name is never tied to a target, so it is never promoted or swept.
 */
export function ownerOfShortStem(
  prefix: string,
  digest: string,
  siblings: Names,
  matching: NameMatching,
): string | undefined {
  const owners = (siblingsByDigest(siblings, matching).get(digest) ?? []).filter((name) =>
    startsWithName(name, prefix, matching),
  );
  return owners.length === 1 ? owners[0] : undefined;
}

let sequence = 0;
/** Random bytes for the nonces, drawn 4 at a time: one draw from the CSPRNG per 256 temp names, not one per name. */
const nonces = Buffer.alloc(1024);
let nonceAt = nonces.length;

/** 8 random hex digits, from a pool drawn once per 256: cheap enough for every name and token. */
export function nextNonce(): string {
  if (nonceAt === nonces.length) {
    randomFillSync(nonces);
    nonceAt = 0;
  }
  nonceAt += 4;
  return nonces.toString('hex', nonceAt - 4, nonceAt);
}

/** `<pid>-<thread>-<seq>-<8 hex>`: unique on this machine; the random part guards against pid reuse. */
export function uniqueId(): string {
  sequence += 1;
  return `${process.pid}-${threadId}-${sequence}-${nextNonce()}`;
}

/** A fresh temp path in the target's own directory, so the final rename never crosses file systems. */
export function ourTempPath(target: string): string {
  const unique = uniqueId();
  return join(dirname(target), derivedName(basename(target), `.cs-${unique}.tmp`, `.cs~${unique}.tmp`));
}

/** Our temp name for a target too long for `<target>.cs-…`: `<prefix>~<digest>.cs~<pid>-<thread>-<seq>-<8 hex>.tmp`. */
export const OUR_SHORT_TEMP_PATTERN = new RegExp(
  `^${SHORT_STEM_SOURCE}\\.cs~(?<pid>\\d+)-(?<thread>\\d+)-(?<seq>\\d+)-(?<nonce>[0-9a-f]{8})\\.tmp$`,
  's',
);

/** True for a temp name of ours, long or short form (whether scan can tie a short one to its target or not). */
export function isOurTempName(name: string): boolean {
  return OUR_TEMP_PATTERN.test(name) || OUR_SHORT_TEMP_PATTERN.test(name);
}

/** Parses one of our long-form temp names; undefined for anything else (a short name needs its siblings: recogniseTemp). */
export function parseOurTempName(name: string): { target: string; pid: number } | undefined {
  const match = OUR_TEMP_PATTERN.exec(name);
  if (!match?.groups) return undefined;
  return { target: match.groups.target!, pid: Number(match.groups.pid) };
}

/** The longest name takeOverStaleLock adds to a lock folder's: `.reclaim-<10-digit pid>-<8 hex>`. */
const LOCK_RECLAIM_RESERVE = '.reclaim-4294967295-00000000';

/** The lock folder's name for a target: `<target>.lock`, or `<short stem>.lock` when that or its reclaim name would not fit. */
export function lockNameFor(targetName: string): string {
  const long = `${targetName}.lock`;
  if (nameBytes(long + LOCK_RECLAIM_RESERVE) <= NAME_MAX_BYTES) return long;
  return `${shortStem(targetName, nameBytes(`.lock${LOCK_RECLAIM_RESERVE}`))}.lock`;
}

/** Temp paths this process is writing right now; sweep never touches them. */
export const liveTempPaths = new Set<string>();
