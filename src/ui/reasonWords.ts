import * as vscode from 'vscode';
import type { ParsePosition, ParseProblem, SyntaxErrorName } from '../core/json/json';
import type { Reason } from '../core/reasons';
import { stateLabel, uiAge } from './orphans/format';

/**
 * The core's reasons and parse problems in the display language. The core returns codes with arguments; the CLI
 * words them in English (core/reasons.ts reasonText), the extension here, so no English reason and no parser
 * identifier reaches a German user. Every call goes through `vscode.l10n.t` at call time.
 */

/** Every jsonc-parser error as a clause; the keys are its ParseErrorCode names. */
function syntaxErrorLabel(error: SyntaxErrorName): string {
  switch (error) {
    case 'InvalidSymbol':
      return vscode.l10n.t('there is a character that does not belong here');
    case 'InvalidNumberFormat':
      return vscode.l10n.t('a number is written wrongly');
    case 'PropertyNameExpected':
      return vscode.l10n.t('a property name in double quotes is missing');
    case 'ValueExpected':
      return vscode.l10n.t('a value is missing');
    case 'ColonExpected':
      return vscode.l10n.t('a colon is missing after a property name');
    case 'CommaExpected':
      return vscode.l10n.t('a comma is missing');
    case 'CloseBraceExpected':
      return vscode.l10n.t('a closing brace } is missing');
    case 'CloseBracketExpected':
      return vscode.l10n.t('a closing bracket ] is missing');
    case 'EndOfFileExpected':
      return vscode.l10n.t('more text follows the end of the JSON value');
    case 'InvalidCommentToken':
      return vscode.l10n.t('comments are not allowed in JSON');
    case 'UnexpectedEndOfComment':
      return vscode.l10n.t('the file ends inside a comment');
    case 'UnexpectedEndOfString':
      return vscode.l10n.t('the file ends inside a string');
    case 'UnexpectedEndOfNumber':
      return vscode.l10n.t('a number ends too early');
    case 'InvalidUnicode':
      return vscode.l10n.t('a \\u escape needs four hex digits');
    case 'InvalidEscapeCharacter':
      return vscode.l10n.t('a backslash escapes a character that cannot be escaped');
    case 'InvalidCharacter':
      return vscode.l10n.t('a string holds a control character that must be escaped');
  }
}

/** A parse problem as a clause in the display language: "the file ends inside a string". */
export function parseProblemLabel(problem: ParseProblem): string {
  switch (problem.code) {
    case 'syntax':
      return syntaxErrorLabel(problem.error);
    case 'empty':
      return vscode.l10n.t('the document is empty');
    case 'too-deep':
      return vscode.l10n.t({
        message: 'nested too deeply (over {0} levels)',
        args: [problem.limit],
        comment: ['{0} is the number of nesting levels allowed.'],
      });
    case 'duplicate-key':
      return vscode.l10n.t({
        message: 'duplicate key {0}',
        args: [JSON.stringify(problem.name)],
        comment: ['{0} is a member name in double quotes.'],
      });
    case 'invalid-utf8':
      return vscode.l10n.t({
        message: 'invalid UTF-8 (byte 0x{0})',
        args: [problem.byte.toString(16).toUpperCase().padStart(2, '0')],
        comment: ['{0} is a byte in hex, e.g. E9.'],
      });
    case 'string-breaks-line':
      return vscode.l10n.t('a string runs past the end of its line');
    case 'not-json':
      return vscode.l10n.t('the JSON text is incomplete or malformed');
  }
}

/** "the file ends inside a string, line 4, column 16" */
export function parseFailureLabel(position: Pick<ParsePosition, 'problem' | 'line' | 'column'>): string {
  return vscode.l10n.t({
    message: '{0}, line {1}, column {2}',
    args: [parseProblemLabel(position.problem), position.line, position.column],
    comment: ['{0} says what is wrong in a JSON file (e.g. "the file ends inside a string"), {1} and {2} where.'],
  });
}

/** An OS error in words, by its errno; the errno itself stays in brackets for the ones not worded. */
function unreadableLabel(errno: string | undefined): string {
  switch (errno) {
    case 'ENOTREG':
      return vscode.l10n.t('not a regular file');
    case 'EFBIG':
      return vscode.l10n.t('larger than the size limit for JSON documents');
    case 'EACCES':
    case 'EPERM':
      return vscode.l10n.t('permission denied');
    case 'EISDIR':
      return vscode.l10n.t('it is a folder');
    case 'ELOOP':
      return vscode.l10n.t('too many symbolic links');
    case 'EMFILE':
    case 'ENFILE':
      return vscode.l10n.t('too many open files');
    case 'EIO':
      return vscode.l10n.t('input/output error');
    case undefined:
      return vscode.l10n.t('it could not be read');
    default:
      return vscode.l10n.t({
        message: 'it could not be read ({0})',
        args: [errno],
        comment: ['{0} is an error code such as EBUSY.'],
      });
  }
}

/** A reason the core gave, in the display language. CLI hints ("recover --groups") are not part of it. */
export function reasonLabel(reason: Reason): string {
  switch (reason.code) {
    case 'parse-error':
      return vscode.l10n.t({
        message: 'not valid JSON: {0}',
        args: [parseFailureLabel(reason)],
        comment: ['{0} says what is wrong and where, e.g. "the file ends inside a string, line 4, column 16".'],
      });
    case 'schema-mismatch':
      return vscode.l10n.t({
        message: 'does not match the schema: {0}',
        args: [reason.problems.join('; ')],
        comment: ["{0} is the schema checker's list of problems."],
      });
    case 'unreadable':
      return unreadableLabel(reason.errno);
    case 'disappeared':
      return vscode.l10n.t('it disappeared while being checked');
    case 'target-unchecked':
      return reason.because
        ? vscode.l10n.t({
            message: 'its target could not be checked ({0}), so this may be the only good copy',
            args: [reasonLabel(reason.because)],
            comment: ['{0} is why the target could not be checked.'],
          })
        : vscode.l10n.t('its target could not be checked, so this may be the only good copy');
    case 'target-broken-valid-copy':
      return vscode.l10n.t({
        message: 'the target is {0} and this is a valid copy',
        args: [stateLabel(reason.state)],
        comment: ['{0} is the state of the target file: missing, empty or corrupt.'],
      });
    case 'target-broken-temp-unchecked':
      return vscode.l10n.t({
        message: 'the target is {0} and this temp could not be checked ({1})',
        args: [stateLabel(reason.state), reasonLabel(reason.because)],
        comment: ['{0} is the state of the target file (missing, empty or corrupt), {1} why the temp was not checked.'],
      });
    case 'target-broken-temp-unjudged':
      return vscode.l10n.t({
        message: "the target is {0} and this temp's content cannot be judged",
        args: [stateLabel(reason.state)],
        comment: ['{0} is the state of the target file: missing, empty or corrupt.'],
      });
    case 'outside-roots':
      return vscode.l10n.t('outside the workspace folders');
    case 'group-file':
      return vscode.l10n.t('part of an interrupted group commit');
    case 'orphaned-group-file':
      return vscode.l10n.t('left by a group commit whose journal is gone');
    case 'through-symlink':
      return vscode.l10n.t('reached through a symlink');
    case 'already-gone':
      return vscode.l10n.t('already gone');
    case 'not-regular-file':
      return vscode.l10n.t('not a regular file');
    case 'changed-since-scan':
      return vscode.l10n.t('changed since the scan (still being written?)');
    case 'undecodable-twin':
      return vscode.l10n.t(
        'another name in its folder is not valid UTF-8 and reads as the same text, so which file this path reaches cannot be proven',
      );
    case 'not-recognised':
      return vscode.l10n.t('not recognised as a temp file');
    case 'writing-now':
      return vscode.l10n.t('this window is writing it right now');
    case 'writer-running':
      return vscode.l10n.t({
        message: 'its writer (process {0}) is still running and touched it {1} ago',
        args: [reason.pid, uiAge(reason.ageMs)],
        comment: ['{0} is a process id, {1} an age (e.g. "5 min").'],
      });
    case 'too-young':
      return vscode.l10n.t({
        message: 'younger than {0} ({1} old)',
        args: [uiAge(reason.minimumMs), uiAge(reason.ageMs)],
        comment: ['{0} is the age a temp must reach before a sweep removes it, {1} its age (e.g. "5 min").'],
      });
    case 'git-tracked':
      return vscode.l10n.t('tracked by git: it is part of the project, not a leftover');
    case 'git-unknown':
      return vscode.l10n.t('git could not say whether it tracks this file');
    case 'changed-before-removal':
      return vscode.l10n.t('changed after it was checked; left in place');
    case 'folder-replaced':
      return vscode.l10n.t('its folder was replaced after it was checked; left in place');
    case 'busy':
      return vscode.l10n.t('in use by another process; left in place');
    case 'busy-or-denied':
      return vscode.l10n.t('in use by another process, or access to it is denied; left in place');
    case 'trash-unavailable':
      return vscode.l10n.t('the trash is not available here, and it was not deleted permanently');
  }
}
