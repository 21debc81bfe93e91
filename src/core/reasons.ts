import { formatAge } from './age';
import { errnoOf } from './fs';
import { describeParseFailure, type ParsePosition, type ParseProblem } from './json/json';

/** A target state that makes a valid temp worth keeping. */
export type BrokenState = 'missing' | 'empty' | 'corrupt';

/**
 * Why a file was judged as it was, or why sweep keeps it: a code with arguments. The CLI and the logs word it in
 * English (reasonText, their bytes as before); the extension words the same codes in the display language.
 */
export type Reason =
  /** The file is not valid JSON (or JSON with comments) here. */
  | { code: 'parse-error'; problem: ParseProblem; line: number; column: number }
  /** Valid JSON that does not match the schema; `problems` are the schema checker's English messages. */
  | { code: 'schema-mismatch'; problems: string[] }
  /** It could not be read: an OS error (errno like EACCES), ENOTREG or EFBIG from the bounded read. */
  | { code: 'unreadable'; errno?: string; message: string }
  | { code: 'disappeared' }
  /** The only-copy rule (orphanJudge's onlyCopyReason). */
  | { code: 'target-unchecked'; because: Reason | undefined }
  | { code: 'target-broken-valid-copy'; state: BrokenState }
  | { code: 'target-broken-temp-unchecked'; state: BrokenState; because: Reason }
  | { code: 'target-broken-temp-unjudged'; state: BrokenState }
  /** Sweep's re-checks (orphanSweep). */
  | { code: 'outside-roots' }
  | { code: 'group-file' }
  | { code: 'orphaned-group-file' }
  | { code: 'through-symlink' }
  | { code: 'already-gone' }
  | { code: 'not-regular-file' }
  | { code: 'changed-since-scan' }
  | { code: 'undecodable-twin' }
  | { code: 'not-recognised' }
  | { code: 'writing-now' }
  | { code: 'writer-running'; pid: number; ageMs: number }
  | { code: 'too-young'; minimumMs: number; ageMs: number }
  | { code: 'git-tracked' }
  | { code: 'git-unknown' }
  /** Refused at the removal itself: the file or its folder changed after the decision (FileChangedError). */
  | { code: 'changed-before-removal'; message: string }
  | { code: 'folder-replaced' }
  | { code: 'busy' }
  | { code: 'busy-or-denied' }
  /** The extension's sweep: the trash refused and the user did not delete permanently. */
  | { code: 'trash-unavailable' };

/** The reason of a parse failure. */
export function parseReason(position: ParsePosition): Reason {
  return { code: 'parse-error', problem: position.problem, line: position.line, column: position.column };
}

/** The reason of a caught read error; its message (English, from the OS or the seam) is what the CLI shows. */
export function unreadableReason(error: unknown): Reason {
  const message = error instanceof Error ? error.message : String(error);
  const errno = errnoOf(error);
  return errno ? { code: 'unreadable', errno, message } : { code: 'unreadable', message };
}

/** The one English wording of a reason: the CLI's output and the logs. */
export function reasonText(reason: Reason): string {
  switch (reason.code) {
    case 'parse-error':
      return describeParseFailure(reason);
    case 'schema-mismatch':
      return `does not match the schema: ${reason.problems.join('; ')}`;
    case 'unreadable':
      return reason.message;
    case 'disappeared':
      return 'it disappeared while being checked';
    case 'target-unchecked':
      return `its target could not be checked (${reason.because ? reasonText(reason.because) : 'unknown'}), so this may be the only good copy`;
    case 'target-broken-valid-copy':
      return `the target is ${reason.state} and this is a valid copy`;
    case 'target-broken-temp-unchecked':
      return `the target is ${reason.state} and this temp could not be checked (${reasonText(reason.because)})`;
    case 'target-broken-temp-unjudged':
      return `the target is ${reason.state} and this temp's content cannot be judged`;
    case 'outside-roots':
      return 'outside the roots';
    case 'group-file':
      return 'part of an interrupted group commit; recover it with recover --groups';
    case 'orphaned-group-file':
      return 'left by a group commit whose journal is gone; recover --groups removes it';
    case 'through-symlink':
      return 'reached through a symlink';
    case 'already-gone':
      return 'already gone';
    case 'not-regular-file':
      return 'not a regular file';
    case 'changed-since-scan':
      return 'changed since the scan (still being written?)';
    case 'undecodable-twin':
      return 'another name in its folder is not valid UTF-8 and reads as the same text, so which file this path reaches cannot be proven; left in place';
    case 'not-recognised':
      return 'not recognised as a temp file';
    case 'writing-now':
      return 'this process is writing it right now';
    case 'writer-running':
      return `its writer (pid ${reason.pid}) is still running and touched it ${formatAge(reason.ageMs)} ago`;
    case 'too-young':
      return `younger than ${formatAge(reason.minimumMs)} (${formatAge(reason.ageMs)} old)`;
    case 'git-tracked':
      return 'tracked by git: it is part of the project, not a leftover';
    case 'git-unknown':
      return 'git could not say whether it tracks this file';
    case 'changed-before-removal':
      return `${reason.message}; left in place`;
    case 'folder-replaced':
      return 'its folder was replaced after it was checked; left in place';
    case 'busy':
      return 'in use by another process (EBUSY); left in place';
    case 'busy-or-denied':
      return 'in use by another process, or access to it is denied (EPERM); left in place';
    case 'trash-unavailable':
      return 'the trash is not available here, and it was not deleted permanently';
  }
}
