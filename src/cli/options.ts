// The options several verbs share, each defined and checked once, so a flag means the same on every verb.
import { resolve } from 'node:path';
import { messageOf } from '../core/errors';
import { readRegularFile } from '../core/fs';
import { parseJson } from '../core/json/json';
import { type JsonSchema, schemaDefectOf } from '../core/json/jsonStore';
import { compileCustomPatterns } from '../core/names/tempPatterns';
import { DEFAULT_DURABILITY, type Durability, isDurability } from '../core/write/durability';
import { type CliIo, UsageError } from './io';

/** `--json`: print the result as JSON (printJson) instead of lines, on every verb. */
export const JSON_OPTION = { type: 'boolean', default: false } as const;

/** `--durability full|fast`, on every verb that writes. */
export const DURABILITY_OPTION = { type: 'string', default: DEFAULT_DURABILITY } as const;

/** Checks a `--durability` value: `full` or `fast`, anything else is a usage error. */
export function parseDurability(value: string): Durability {
  if (!isDurability(value)) throw new UsageError(`--durability must be full or fast, not "${value}"`);
  return value;
}

/** `--pattern "{target}.SUFFIX"`, repeatable: extra temp-file patterns for the verbs that recognise temps. */
export const PATTERN_OPTION = { type: 'string', multiple: true, default: [] as string[] } as const;

/** Checks `--pattern` values up front so a bad one is a usage error (exit 2), not a failure. */
export function checkPatterns(patterns: string[]): string[] {
  try {
    compileCustomPatterns(patterns);
  } catch (error) {
    throw new UsageError(messageOf(error));
  }
  return patterns;
}

/** The options of the verbs that walk folders (`scan`, `sweep`). */
export const WALK_OPTIONS = {
  json: JSON_OPTION,
  exclude: { type: 'string', multiple: true, default: [] as string[] },
  'skip-node-modules': { type: 'boolean', default: false },
  pattern: PATTERN_OPTION,
} as const;

/** An empty `--exclude` would silently exclude nothing (or, as a glob, everything): a usage error. */
export function checkExcludes(globs: string[]): string[] {
  if (globs.some((glob) => glob.trim() === '')) throw new UsageError('--exclude needs a glob, not an empty string');
  return globs;
}

/** `--dir WORKSPACE`: the workspace folder of the verbs that keep state in it (`snapshot`, `todos`). */
export const DIR_OPTION = { type: 'string' } as const;

/** The absolute workspace folder a `--dir` names, the working directory without one. */
export function workspaceDir(dir: string | undefined, io: CliIo): string {
  return resolve(io.cwd, dir ?? '.');
}

/** `--schema FILE`: a JSON Schema the document must match. */
export const SCHEMA_OPTION = { type: 'string' } as const;

/** Reads and checks a `--schema FILE`; an unreadable file or an unusable schema is a usage error. */
export async function loadSchema(path: string | undefined, io: CliIo): Promise<JsonSchema | undefined> {
  if (path === undefined) return undefined;
  const absolute = resolve(io.cwd, path);
  let text: string;
  try {
    text = (await readRegularFile(absolute)).toString('utf8');
  } catch (error) {
    throw new UsageError(`cannot read the schema ${absolute}: ${messageOf(error)}`);
  }
  const parsed = parseJson(text, 'json');
  if (!parsed.ok) {
    const where = `line ${parsed.position.line}, column ${parsed.position.column}`;
    throw new UsageError(`the schema ${absolute} is not valid JSON: ${parsed.position.message} at ${where}`);
  }
  const defect = schemaDefectOf(parsed.value);
  if (defect) throw new UsageError(`the schema ${absolute} cannot be used: ${defect}`);
  return parsed.value as JsonSchema;
}
