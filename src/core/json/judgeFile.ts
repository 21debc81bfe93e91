import type { Stats } from 'node:fs';
import { DescriptorsExhaustedError, withOpenFiles } from '../boundedOpens';
import { messageOf } from '../errors';
import { errnoOf, type FileIdentity, type FsLike, identityOf } from '../fs';
import { describeParseFailure, type JsonFlavour, parseJson } from './json';
import { type JsonSchema, schemaProblems } from './jsonStore';

/**
 * One judgement of a JSON file, shared by scan, sweep and recover. `unknown` means it could not be judged (unreadable,
 * not a regular file, over the size limit): destructive steps treat it as possibly the only good copy.
 */
export type JsonFileJudgement =
  | { state: 'missing' }
  | { state: 'unknown'; reason: string }
  | { state: 'empty'; identity: FileIdentity }
  | { state: 'corrupt'; reason: string; identity: FileIdentity }
  | { state: 'valid'; bytes: Buffer; value: unknown; identity: FileIdentity };

export interface JudgeOptions {
  /** Also require the value to match this schema. */
  schema?: JsonSchema;
  /** Default `jsonc`: temps and targets may be VS Code files with comments; strict JSON passes too. */
  flavour?: JsonFlavour;
}

/**
 * Reads and judges `path` through the seam: bounded, regular files only, symlinks followed. The read counts against
 * MAX_OPEN_FILES; running out of descriptors is waited out, and if it lasts, thrown (DescriptorsExhaustedError):
 * never a judgement.
 */
export async function judgeJsonFile(fs: FsLike, path: string, options: JudgeOptions = {}): Promise<JsonFileJudgement> {
  let stats: Stats;
  let bytes: Buffer;
  try {
    [stats, bytes] = await withOpenFiles(async () => {
      const before = await fs.stat(path);
      return [before, await fs.readFile(path)] as const;
    });
  } catch (error) {
    if (error instanceof DescriptorsExhaustedError) throw error;
    const code = errnoOf(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') return { state: 'missing' };
    return { state: 'unknown', reason: messageOf(error) };
  }
  return judgeJsonBytes(bytes, identityOf(stats), options);
}

/** The same judgement for bytes already read. */
export function judgeJsonBytes(bytes: Buffer, identity: FileIdentity, options: JudgeOptions = {}): JsonFileJudgement {
  const parsed = parseJson(bytes.toString('utf8'), options.flavour ?? 'jsonc');
  if (!parsed.ok) {
    if (parsed.empty) return { state: 'empty', identity };
    return { state: 'corrupt', reason: describeParseFailure(parsed.position), identity };
  }
  const problems = options.schema ? schemaProblems(options.schema, parsed.value) : [];
  if (problems.length > 0) {
    return { state: 'corrupt', reason: `does not match the schema: ${problems.join('; ')}`, identity };
  }
  return { state: 'valid', bytes, value: parsed.value, identity };
}
