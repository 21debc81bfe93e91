import * as callbackFs from 'node:fs';
import { constants, type Stats } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { formatAge } from '../age';
import {
  errnoOf,
  type FileIdentity,
  fileTypeOf,
  formatBytes,
  identityOf,
  NotReadableError,
  PINNED_FOLDERS,
  readRegularFile,
  sameNode,
} from '../fs';

/** The file inside the lock directory that names its holder. */
export const LOCK_OWNER_FILE = 'owner.json';
/** An owner record is a few hundred bytes; anything bigger is not one of ours. */
const OWNER_RECORD_MAX_BYTES = 64 * 1024;

/** Who holds a lock: written into the lock directory before the lock counts as held. */
export interface LockOwner {
  pid: number;
  hostname: string;
  /** Linux: the pid namespace (`pid:[…]`); pids are only comparable within one. */
  pidNamespace?: string;
  /** Linux: the process start time, field 22 of /proc/<pid>/stat, so a reused pid is told apart. */
  startTicks?: number;
  /** Unique per acquisition: tells our record from a successor's. */
  token: string;
  acquiredAt: string;
}

interface ProcStat {
  state: string;
  startTicks: number;
}

/** Parses /proc/<pid>/stat; the name (field 2) may hold spaces and parentheses, so fields are counted after its last `)`. */
function parseProcStat(text: string): ProcStat | undefined {
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const startTicks = Number(fields[22 - 3]);
  return state && Number.isSafeInteger(startTicks) ? { state, startTicks } : undefined;
}

function readProcSync<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined; // No /proc (macOS, Windows): pids are checked with kill(pid, 0) alone.
  }
}

let thisProcess: Omit<LockOwner, 'token' | 'acquiredAt'> | undefined;

function thisProcessIdentity(): Omit<LockOwner, 'token' | 'acquiredAt'> {
  thisProcess ??= {
    pid: process.pid,
    hostname: hostname(),
    pidNamespace: readProcSync(() => callbackFs.readlinkSync('/proc/self/ns/pid')),
    startTicks: readProcSync(() => parseProcStat(callbackFs.readFileSync('/proc/self/stat', 'utf8'))?.startTicks),
  };
  return thisProcess;
}

/** The owner record this process writes for an acquisition identified by `token`. */
export function ownerRecordFor(token: string): LockOwner {
  return { ...thisProcessIdentity(), token, acquiredAt: new Date().toISOString() };
}

/** The largest pid any supported system hands out (an int32); `kill` refuses bigger ones, so no process has one. */
const MAX_PID = 2 ** 31 - 1;

export function isLockOwner(value: unknown): value is LockOwner {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Partial<Record<keyof LockOwner, unknown>>;
  return (
    typeof record.pid === 'number' &&
    Number.isSafeInteger(record.pid) &&
    record.pid > 0 &&
    record.pid <= MAX_PID &&
    typeof record.hostname === 'string' &&
    typeof record.token === 'string' &&
    (record.pidNamespace === undefined || typeof record.pidNamespace === 'string') &&
    (record.startTicks === undefined || Number.isSafeInteger(record.startTicks))
  );
}

/** A lock folder as found: what a takeover decides on, and must still find when it removes the folder. */
export interface LockFolder {
  folder: FileIdentity;
  /** The owner record, when owner.json holds a whole, valid one. */
  owner?: LockOwner;
  /** owner.json as it was when read, if present. */
  ownerFile?: FileIdentity;
}

/** What is at a lock path, seen without following a symlink anywhere. */
export type LockPathContent =
  | { kind: 'missing' }
  | { kind: 'folder'; lock: LockFolder }
  /** Nothing this tool makes: `found` says what it is ("a symbolic link to …", "a regular file (3 bytes)"). */
  | { kind: 'foreign'; found: string; what: ForeignKind }
  /** A lock folder this user may not read (another user's): it cannot be judged, nor is it ours to remove. */
  | { kind: 'unreadable'; found: string }
  /** Replaced at every look: writers taking turns. */
  | { kind: 'changing' };

/** A link, a folder with other files, a lock folder with a strange owner.json, anything else. */
type ForeignKind = 'link' | 'folder' | 'lock' | 'other';

const FOREIGN_NAMES_SHOWN = 3;

/** A name or host read from disk, fit for a message: plain names as they are, anything else quoted and escaped. */
function shown(text: string): string {
  return /^[\w.@+-]+$/.test(text) ? text : JSON.stringify(text);
}

async function describeNonFolder(path: string, stats: Stats): Promise<string> {
  if (!stats.isSymbolicLink())
    return stats.isFile() ? `a regular file (${formatBytes(stats.size)})` : fileTypeOf(stats);
  const linkTarget = await fsp.readlink(path).catch(() => undefined);
  const to = linkTarget === undefined ? 'a symbolic link' : `a symbolic link to ${JSON.stringify(linkTarget)}`;
  try {
    return `${to}, which leads to ${fileTypeOf(await fsp.stat(path))}`;
  } catch (error) {
    return `${to}, which leads nowhere (${errnoOf(error) === 'ENOENT' ? 'dangling' : (errnoOf(error) ?? 'unresolvable')})`;
  }
}

/** Reads a lock folder through `folderPath` (pinned to the folder where the system allows it). */
async function readLockFolder(folderPath: string, folder: FileIdentity): Promise<LockPathContent> {
  const others: string[] = [];
  // Bounded: a lock folder holds owner.json alone, so a few names are enough to tell it is something else.
  for await (const entry of await fsp.opendir(folderPath)) {
    if (entry.name !== LOCK_OWNER_FILE) others.push(entry.name);
    if (others.length > FOREIGN_NAMES_SHOWN) break;
  }
  if (others.length > 0) {
    const names = others.slice(0, FOREIGN_NAMES_SHOWN).map((name) => JSON.stringify(name));
    const more = others.length > FOREIGN_NAMES_SHOWN ? ', …' : '';
    return {
      kind: 'foreign',
      what: 'folder',
      found: `a folder holding ${names.join(', ')}${more}, not a lock folder (one holds only ${LOCK_OWNER_FILE})`,
    };
  }
  const ownerPath = join(folderPath, LOCK_OWNER_FILE);
  let ownerStats: Stats;
  try {
    ownerStats = await fsp.lstat(ownerPath);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return { kind: 'folder', lock: { folder } };
    throw error;
  }
  const notARecord = (what: string): LockPathContent => ({
    kind: 'foreign',
    what: 'lock',
    found: `a lock folder whose ${LOCK_OWNER_FILE} is ${what}, not an owner record this tool writes`,
  });
  if (!ownerStats.isFile()) return notARecord(await describeNonFolder(ownerPath, ownerStats));
  if (ownerStats.size > OWNER_RECORD_MAX_BYTES) return notARecord(`${formatBytes(ownerStats.size)} long`);
  let text: string;
  try {
    text = (await readRegularFile(ownerPath, OWNER_RECORD_MAX_BYTES, constants.O_NOFOLLOW ?? 0)).toString('utf8');
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return { kind: 'folder', lock: { folder } };
    if (error instanceof NotReadableError || errnoOf(error) === 'ELOOP') return notARecord('no longer a regular file');
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined; // Partly written: its writer was killed between creating and filling it.
  }
  const ownerFile = identityOf(ownerStats);
  return { kind: 'folder', lock: isLockOwner(parsed) ? { folder, owner: parsed, ownerFile } : { folder, ownerFile } };
}

/**
 * What is at `lockPath`. Nothing is followed: a symlink at the path, or as owner.json, is reported, not read
 * through, and on Linux the folder is read through a handle, so a swap after the check cannot redirect the reads.
 */
export async function inspectLockPath(lockPath: string): Promise<LockPathContent> {
  for (let attempt = 0; attempt < 3; attempt++) {
    let stats: Stats;
    try {
      stats = await fsp.lstat(lockPath);
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return { kind: 'missing' };
      throw error;
    }
    if (!stats.isDirectory()) {
      return {
        kind: 'foreign',
        what: stats.isSymbolicLink() ? 'link' : 'other',
        found: await describeNonFolder(lockPath, stats),
      };
    }
    try {
      if (!PINNED_FOLDERS) return await readLockFolder(lockPath, identityOf(stats));
      let handle: fsp.FileHandle;
      try {
        handle = await fsp.open(lockPath, constants.O_RDONLY | (constants.O_DIRECTORY ?? 0) | constants.O_NOFOLLOW);
      } catch (error) {
        if (['ENOENT', 'ELOOP', 'ENOTDIR'].includes(errnoOf(error) ?? '')) continue; // Replaced since the lstat.
        throw error;
      }
      try {
        const held = await handle.stat();
        if (sameNode(held, stats)) return await readLockFolder(`/proc/self/fd/${handle.fd}`, identityOf(held));
      } finally {
        await handle.close();
      }
    } catch (error) {
      const code = errnoOf(error);
      if (code !== 'EACCES' && code !== 'EPERM') throw error;
      const mode = (stats.mode & 0o7777).toString(8).padStart(4, '0');
      return {
        kind: 'unreadable',
        found: `a lock folder this user may not read (${code}; it belongs to uid ${stats.uid}, mode ${mode})`,
      };
    }
  }
  return { kind: 'changing' };
}

/** The owner record in a lock folder, or undefined when it is missing, partly written or not ours to parse. */
export async function readLockOwner(lockDir: string): Promise<LockOwner | undefined> {
  try {
    const content = await inspectLockPath(lockDir);
    return content.kind === 'folder' ? content.lock.owner : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The same for the exit handler, synchronously: no symlink followed, non-blocking, bounded. Returns the record only
 * if the folder is `lockDir` itself (not a link) and owner.json a regular file.
 */
export function readLockOwnerSync(lockDir: string): LockOwner | undefined {
  try {
    if (!callbackFs.lstatSync(lockDir).isDirectory()) return undefined;
    const fd = callbackFs.openSync(
      join(lockDir, LOCK_OWNER_FILE),
      constants.O_RDONLY | constants.O_NONBLOCK | (constants.O_NOFOLLOW ?? 0),
    );
    try {
      const stats = callbackFs.fstatSync(fd);
      if (!stats.isFile() || stats.size > OWNER_RECORD_MAX_BYTES) return undefined;
      const buffer = Buffer.alloc(OWNER_RECORD_MAX_BYTES + 1);
      let length = 0;
      for (let read = 1; read > 0 && length < buffer.length; length += read) {
        read = callbackFs.readSync(fd, buffer, length, buffer.length - length, length);
      }
      if (length > OWNER_RECORD_MAX_BYTES) return undefined;
      const parsed: unknown = JSON.parse(buffer.subarray(0, length).toString('utf8'));
      return isLockOwner(parsed) ? parsed : undefined;
    } finally {
      callbackFs.closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

/** How liveness is probed; a parameter so the path without /proc (macOS, Windows) is tested on Linux too. */
export interface LivenessProbes {
  /** `process.kill(pid, 0)`: throws ESRCH when no such process exists (Windows too: libuv checks the exit code). */
  signal(pid: number): void;
  readProcStat(pid: number): Promise<string>;
}

const SYSTEM_PROBES: LivenessProbes = {
  signal: (pid) => {
    process.kill(pid, 0);
  },
  readProcStat: (pid) => fsp.readFile(`/proc/${pid}/stat`, 'utf8'),
};

/** Whether the process an owner record names (on this machine) still runs. Unsure means alive. */
export async function holderIsAlive(owner: LockOwner, probes: LivenessProbes = SYSTEM_PROBES): Promise<boolean> {
  try {
    probes.signal(owner.pid);
  } catch (error) {
    if (errnoOf(error) === 'ESRCH') return false;
    // EPERM: it exists, under another user.
  }
  let stat: ProcStat | undefined;
  try {
    stat = parseProcStat(await probes.readProcStat(owner.pid));
  } catch {
    return true; // No /proc, or hidden (hidepid): existence is all we can tell.
  }
  if (!stat) return true;
  if (stat.state === 'Z' || stat.state === 'X') return false; // Killed, not yet reaped by its parent.
  return owner.startTicks === undefined || stat.startTicks === owner.startTicks;
}

function describeOwner(owner: LockOwner): string {
  return `pid ${owner.pid} on host ${shown(owner.hostname)}`;
}

/** Why a record's process cannot be checked from here; undefined when it can. */
function uncheckableBecause(owner: LockOwner): string | undefined {
  const self = thisProcessIdentity();
  if (owner.hostname !== self.hostname) return 'which cannot be checked from this host';
  if (owner.pidNamespace !== self.pidNamespace)
    return 'in another pid namespace (a container?), which cannot be checked from here';
  return undefined;
}

export type LockVerdict =
  | { state: 'free' }
  /** Wait. `identified`: `holder` names a process (from its owner record), not just a folder; `token`: its acquisition. */
  | { state: 'held'; holder: string; identified: boolean; token?: string }
  /** May be taken over: the folder found, to be re-checked when it is removed. */
  | { state: 'abandoned'; holder: string; lock: LockFolder }
  /** A lock folder neither its age nor its owner record can judge (an mtime in the future). Wait; then say so. */
  | { state: 'undecidable'; found: string; advice: string }
  /** Not a lock this tool makes (a symlink, a file, a folder holding other files): never touched. */
  | { state: 'foreign'; found: string; advice: string };

const FOREIGN_ADVICE: Record<ForeignKind, (lockDir: string) => string> = {
  link: (lockDir) =>
    `If no crash-safe process is running, remove the link ${lockDir} itself (what it points to is no lock).`,
  folder: () => 'It is no lock: look at what it holds, and move it away if it is not needed.',
  lock: (lockDir) => `If no crash-safe process is running, remove ${lockDir}.`,
  other: () => 'This tool never makes one: move it away, or remove it if it is not needed.',
};

/**
 * Decides whether a lock may be taken over. A holder on this machine: only once it has exited (pid gone, or reused,
 * as its start time shows), whatever the lock's mtime. A holder elsewhere, or a folder without a readable owner record
 * (just created, or left by a writer killed before recording itself): only once not refreshed for `staleMs`.
 * An mtime more than `staleMs` ahead of our clock tells no age: such a lock is undecidable unless its record is
 * judged. Whatever is not a lock folder this tool makes is foreign. Neither is ever taken over.
 */
export async function judgeLock(lockDir: string, staleMs: number, now = Date.now()): Promise<LockVerdict> {
  const content = await inspectLockPath(lockDir);
  const remove = (host?: string) =>
    `If no crash-safe process is running${host ? ` on ${shown(host)}` : ''}, remove ${lockDir}`;
  switch (content.kind) {
    case 'missing':
      return { state: 'free' };
    case 'changing':
      return {
        state: 'held',
        holder: 'a lock folder replaced at every look (writers taking turns)',
        identified: false,
      };
    case 'unreadable':
      return {
        state: 'undecidable',
        found: content.found,
        advice: `Nothing was changed. ${remove()} (its owner or root can).`,
      };
    case 'foreign':
      return {
        state: 'foreign',
        found: content.found,
        advice: `Nothing was changed. ${FOREIGN_ADVICE[content.what](lockDir)}`,
      };
  }
  const { lock } = content;
  const { owner } = lock;
  const uncheckable = owner && uncheckableBecause(owner);
  if (owner && !uncheckable) {
    return (await holderIsAlive(owner))
      ? { state: 'held', holder: describeOwner(owner), identified: true, token: owner.token }
      : { state: 'abandoned', holder: describeOwner(owner), lock };
  }
  const ageMs = now - lock.folder.mtimeMs;
  const folder = owner
    ? `a lock folder whose owner record names ${describeOwner(owner)}, ${uncheckable}`
    : 'a lock folder without an owner record';
  if (ageMs > staleMs) return { state: 'abandoned', holder: owner ? describeOwner(owner) : folder, lock };
  if (-ageMs > staleMs) {
    return {
      state: 'undecidable',
      found:
        `${folder}; its last refresh is dated ${new Date(lock.folder.mtimeMs).toISOString()}, ${formatAge(-ageMs)} ahead of ` +
        "this machine's clock (clock skew, or restored from a backup), so its age tells nothing",
      advice: `Nothing was changed. ${remove(owner?.hostname)}.`,
    };
  }
  if (owner) return { state: 'held', holder: describeOwner(owner), identified: true, token: owner.token };
  return { state: 'held', holder: `${folder}, refreshed ${formatAge(Math.max(ageMs, 0))} ago`, identified: false };
}

/** What is at a lock path, in words, e.g. for the holder that lost it. */
export function describeLockPathContent(content: LockPathContent): string {
  switch (content.kind) {
    case 'missing':
      return 'nothing';
    case 'changing':
      return 'a lock folder replaced at every look';
    case 'unreadable':
      return content.found;
    case 'foreign':
      return content.found;
    case 'folder':
      return content.lock.owner
        ? `the lock of ${describeOwner(content.lock.owner)}`
        : 'a lock folder without an owner record';
  }
}
