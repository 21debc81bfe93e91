import * as callbackFs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { errnoOf, readRegularFile } from './fs';

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

export function isLockOwner(value: unknown): value is LockOwner {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Partial<Record<keyof LockOwner, unknown>>;
  return (
    typeof record.pid === 'number' &&
    Number.isSafeInteger(record.pid) &&
    record.pid > 0 &&
    typeof record.hostname === 'string' &&
    typeof record.token === 'string' &&
    (record.pidNamespace === undefined || typeof record.pidNamespace === 'string') &&
    (record.startTicks === undefined || typeof record.startTicks === 'number')
  );
}

/** The owner record in a lock directory, or undefined when it is missing, partly written or not ours to parse. */
export async function readLockOwner(lockDir: string): Promise<LockOwner | undefined> {
  try {
    const parsed: unknown = JSON.parse((await readRegularFile(join(lockDir, LOCK_OWNER_FILE), OWNER_RECORD_MAX_BYTES)).toString('utf8'));
    return isLockOwner(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** True when `owner`'s pids are comparable with ours: same host and pid namespace. */
function onThisMachine(owner: LockOwner): boolean {
  const self = thisProcessIdentity();
  return owner.hostname === self.hostname && owner.pidNamespace === self.pidNamespace;
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
  return `pid ${owner.pid} on host ${owner.hostname}`;
}

type LockVerdict = { state: 'free' } | { state: 'held'; holder: string } | { state: 'abandoned'; holder: string };

/**
 * Decides whether a lock directory may be taken over. A holder on this machine: only once it has exited (pid gone,
 * or reused, as its start time shows). A holder elsewhere, or a directory without a readable owner record (just
 * created, or left by a writer killed before recording itself): only once not refreshed for `staleMs`.
 */
export async function judgeLock(lockDir: string, staleMs: number): Promise<LockVerdict> {
  let mtimeMs: number;
  try {
    mtimeMs = (await fsp.stat(lockDir)).mtimeMs;
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return { state: 'free' };
    throw error;
  }
  const owner = await readLockOwner(lockDir);
  if (owner && onThisMachine(owner)) {
    return (await holderIsAlive(owner))
      ? { state: 'held', holder: describeOwner(owner) }
      : { state: 'abandoned', holder: describeOwner(owner) };
  }
  const holder = owner ? describeOwner(owner) : 'a process that left no owner record';
  return mtimeMs < Date.now() - staleMs ? { state: 'abandoned', holder } : { state: 'held', holder };
}
