import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { threadId } from 'node:worker_threads';

/**
 * Our temp files are `<target>.cs-<pid>-<threadId>-<seq>-<8 hex>.tmp`, beside the target.
 * pid + threadId + seq make names unique within a machine; the random part guards against pid reuse.
 * The `s` flag: a target name may hold a newline, which `.` must span.
 */
export const OUR_TEMP_PATTERN = /^(?<target>.+)\.cs-(?<pid>\d+)-(?<thread>\d+)-(?<seq>\d+)-(?<nonce>[0-9a-f]{8})\.tmp$/s;

let sequence = 0;

/** A fresh temp path in the target's own directory, so the final rename never crosses file systems. */
export function ourTempPath(target: string): string {
  sequence += 1;
  const nonce = randomBytes(4).toString('hex');
  return join(dirname(target), `${basename(target)}.cs-${process.pid}-${threadId}-${sequence}-${nonce}.tmp`);
}

/** Parses one of our temp names; undefined for anything else. */
export function parseOurTempName(name: string): { target: string; pid: number } | undefined {
  const match = OUR_TEMP_PATTERN.exec(name);
  if (!match?.groups) return undefined;
  return { target: match.groups.target!, pid: Number(match.groups.pid) };
}

/** Temp paths this process is writing right now; sweep never touches them. */
export const liveTempPaths = new Set<string>();
