import type { Stats } from 'node:fs';
import { DescriptorsExhaustedError, withOpenFiles } from '../boundedOpens';
import { type FileIdentity, type FsLike, identityOf, isAbsent } from '../fs';
import { parseReason, type Reason, reasonText, unreadableReason } from '../reasons';
import { type JsonFlavour, parseJson } from './json';
import { type JsonSchema, schemaProblems } from './jsonStore';

/**
 * One judgement of a JSON file, shared by scan, sweep and recover. `unknown` means it could not be judged (unreadable,
 * not a regular file, over the size limit): destructive steps treat it as possibly the only good copy. `why` is the
 * reason as a code (the extension words it); `reason` is reasonText(why), the CLI's English.
 */
export type JsonFileJudgement =
  | { state: 'missing' }
  | { state: 'unknown'; reason: string; why: Reason }
  | { state: 'empty'; identity: FileIdentity }
  | { state: 'corrupt'; reason: string; why: Reason; identity: FileIdentity }
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
    if (isAbsent(error)) return { state: 'missing' };
    const why = unreadableReason(error);
    return { state: 'unknown', reason: reasonText(why), why };
  }
  return judgeJsonBytes(bytes, identityOf(stats), options);
}

/** The same judgement for bytes already read. */
export function judgeJsonBytes(bytes: Buffer, identity: FileIdentity, options: JudgeOptions = {}): JsonFileJudgement {
  const parsed = parseJson(bytes.toString('utf8'), options.flavour ?? 'jsonc');
  if (!parsed.ok) {
    if (parsed.empty) return { state: 'empty', identity };
    const why = parseReason(parsed.position);
    return { state: 'corrupt', reason: reasonText(why), why, identity };
  }
  const problems = options.schema ? schemaProblems(options.schema, parsed.value) : [];
  if (problems.length > 0) {
    const why: Reason = { code: 'schema-mismatch', problems };
    return { state: 'corrupt', reason: reasonText(why), why, identity };
  }
  return { state: 'valid', bytes, value: parsed.value, identity };
}
