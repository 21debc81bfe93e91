import { isUtf8 } from 'node:buffer';
import type { Stats } from 'node:fs';
import { DescriptorsExhaustedError, withOpenFiles } from '../boundedOpens';
import { messageOf } from '../errors';
import { type FileIdentity, type FsLike, identityOf, isAbsent, nodeFs } from '../fs';
import { decodeUtf8Exactly, describeParseFailure, isJsonTarget, jsonFlavourOf, parseJson } from '../json/json';
import { type JsonSchema, schemaProblems } from '../json/jsonStore';

/**
 * What a file's bytes are: valid JSON, valid only as JSONC (comments, trailing commas), text (valid UTF-8), bytes that
 * are not text where nothing says they should be (`binary`), or `broken`.
 */
export type ContentJudgement = 'json' | 'jsonc' | 'text' | 'binary' | 'broken';

/** Why bytes are broken: the classic damage of a crash or a power loss first. */
export type BrokenReason = 'empty' | 'nul' | 'invalid-json' | 'schema' | 'invalid-utf8';

export interface ContentVerdict {
  judgement: ContentJudgement;
  /** Only for `broken`. */
  reason?: BrokenReason;
  /** Why it is broken, in words ("holds only NUL bytes (4,096 bytes)"); only for `broken`. */
  problem?: string;
}

export interface JudgeContentOptions {
  /** A JSON file must also match this schema. */
  schema?: JsonSchema;
  /**
   * For a file that is not JSON: its history is text, so bytes that are not UTF-8 are damage. Without it they are
   * `binary`, never broken: unknown means keep.
   */
  textExpected?: boolean;
}

/** True when every byte is 0: what a power loss leaves where the data blocks never reached the disk. */
export function allNulBytes(bytes: Uint8Array): boolean {
  for (const byte of bytes) if (byte !== 0) return false;
  return bytes.length > 0;
}

/**
 * The one judgement of a file's content, for the target and every copy alike. Broken: empty, all NUL bytes, not
 * valid JSON (JSONC tolerated, as scan and recover read it) or not matching `schema` for a JSON file (by name:
 * `isJsonTarget`), not valid UTF-8 where the history is text. A JSON file that parses is never broken.
 */
export function judgeContent(bytes: Buffer, path: string, options: JudgeContentOptions = {}): ContentVerdict {
  if (bytes.length === 0) return { judgement: 'broken', reason: 'empty', problem: 'is empty' };
  if (allNulBytes(bytes)) {
    return {
      judgement: 'broken',
      reason: 'nul',
      problem: `holds only NUL bytes (${bytes.length.toLocaleString('en')} bytes)`,
    };
  }
  if (isJsonTarget(path)) {
    const text = bytes.toString('utf8');
    const flavour = jsonFlavourOf(path);
    const strict = parseJson(text, 'json');
    const parsed = strict.ok ? strict : parseJson(text, 'jsonc');
    if (!parsed.ok) {
      if (parsed.empty) return { judgement: 'broken', reason: 'empty', problem: 'holds only white space' };
      return { judgement: 'broken', reason: 'invalid-json', problem: describeParseFailure(parsed.position) };
    }
    const problems = options.schema ? schemaProblems(options.schema, parsed.value) : [];
    if (problems.length > 0) {
      return {
        judgement: 'broken',
        reason: 'schema',
        problem: `does not match the schema: ${problems.join('; ')}`,
      };
    }
    return { judgement: strict.ok && flavour === 'json' ? 'json' : 'jsonc' };
  }
  if (isUtf8(bytes)) return { judgement: 'text' };
  if (!options.textExpected) return { judgement: 'binary' };
  const decoded = decodeUtf8Exactly(bytes);
  const where = decoded.ok ? '' : ` at line ${decoded.position.line}, column ${decoded.position.column}`;
  const what = decoded.ok ? 'invalid UTF-8' : decoded.position.message;
  return { judgement: 'broken', reason: 'invalid-utf8', problem: `is not text: ${what}${where}` };
}

/** A file as judged: `unknown` (unreadable, not a regular file, too large) is never called broken. */
export type TargetVerdict =
  | { state: 'missing'; broken: true; problem: string }
  | { state: 'unknown'; broken: false; problem: string }
  | {
      state: 'ok' | 'broken';
      broken: boolean;
      judgement: ContentJudgement;
      reason?: BrokenReason;
      problem?: string;
      bytes: Buffer;
      identity: FileIdentity;
      /** Permission bits, kept by a backup of it. */
      mode: number;
    };

export interface JudgeBrokenOptions extends JudgeContentOptions {
  fs?: FsLike;
}

/**
 * Whether `target` is broken: missing, or its content is (see judgeContent). Read through the seam, bounded, regular
 * files only (a FIFO or a device is `unknown`, never a hang); the read counts against the bound on open files.
 */
export async function judgeBroken(target: string, options: JudgeBrokenOptions = {}): Promise<TargetVerdict> {
  const fs = options.fs ?? nodeFs;
  let stats: Stats;
  let bytes: Buffer;
  try {
    [stats, bytes] = await withOpenFiles(async () => {
      const before = await fs.stat(target);
      return [before, await fs.readFile(target)] as const;
    });
  } catch (error) {
    if (error instanceof DescriptorsExhaustedError) throw error;
    if (isAbsent(error)) return { state: 'missing', broken: true, problem: 'is missing' };
    return { state: 'unknown', broken: false, problem: messageOf(error) };
  }
  const verdict = judgeContent(bytes, target, options);
  const broken = verdict.judgement === 'broken';
  return {
    state: broken ? 'broken' : 'ok',
    broken,
    ...verdict,
    bytes,
    identity: identityOf(stats),
    mode: stats.mode & 0o777,
  };
}
