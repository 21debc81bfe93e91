import type { AnySchema, ValidateFunction } from 'ajv';
import { messageOf } from '../errors';
import { errnoOf, type FsLike, nodeFs } from '../fs';
import { type AtomicWriteOptions, writeFileAtomic } from '../write/atomicWrite';
import { describeParseFailure, type ParsePosition, parseJson } from './json';

export type JsonSchema = AnySchema;

export type { ParsePosition } from './json';

export type JsonReadResult<T = unknown> =
  | { state: 'missing'; path: string }
  | { state: 'empty'; path: string }
  | { state: 'corrupt'; path: string; error: ParsePosition }
  | { state: 'invalid'; path: string; errors: string[]; value: unknown }
  | { state: 'valid'; path: string; value: T; text: string };

/** A value that cannot be written: it fails the schema or cannot be serialised. Nothing was written. */
export class JsonValueError extends Error {
  override readonly name = 'JsonValueError';
  constructor(
    readonly path: string,
    readonly problems: string[],
  ) {
    super(`Refusing to write ${path}: ${problems.join('; ')}`);
  }
}

const compiled = new WeakMap<object, ValidateFunction>();

function validatorFor(schema: object): ValidateFunction {
  let validate = compiled.get(schema);
  if (!validate) {
    // Ajv is over a third of the extension's code: the extension bundle keeps it in its own chunk
    // (dist/schemaCompiler.js, see esbuild.mjs), loaded here on the first schema check rather than at activation.
    const { compileSchema }: typeof import('./schemaCompiler') = require('./schemaCompiler');
    validate = compileSchema(schema);
    compiled.set(schema, validate);
  }
  return validate;
}

/** Why `schema` cannot be used as a JSON Schema object, or undefined when it compiles. */
export function schemaDefectOf(schema: unknown): string | undefined {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    return `a schema must be a JSON object, not ${schema === null ? 'null' : Array.isArray(schema) ? 'an array' : typeof schema === 'boolean' ? String(schema) : `a ${typeof schema}`}`;
  }
  try {
    validatorFor(schema);
    return undefined;
  } catch (error) {
    return `it is not a valid JSON Schema: ${messageOf(error)}`;
  }
}

/** Schema problems in `value`, as `instancePath message` lines; empty when it conforms. */
export function schemaProblems(schema: JsonSchema, value: unknown): string[] {
  if (typeof schema !== 'object' || schema === null) return [];
  const validate = validatorFor(schema);
  if (validate(value)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
}

/** Deterministic serialisation: 2-space indent and a trailing newline. Throws JsonValueError for cycles, BigInt, undefined. */
export function serializeJson(path: string, value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value, null, 2);
  } catch (error) {
    throw new JsonValueError(path, [`cannot serialise the value: ${messageOf(error)}`]);
  }
  if (text === undefined)
    throw new JsonValueError(path, ['the value has no JSON form (undefined, a function or a symbol)']);
  return `${text}\n`;
}

/** Classifies the text of a JSON document: empty, corrupt (with position), invalid against the schema, or valid. */
export function classifyJsonText<T>(path: string, text: string, schema?: JsonSchema): JsonReadResult<T> {
  const parsed = parseJson(text, 'json');
  if (!parsed.ok) return parsed.empty ? { state: 'empty', path } : { state: 'corrupt', path, error: parsed.position };
  const value = parsed.value;
  const problems = schema ? schemaProblems(schema, value) : [];
  if (problems.length > 0) return { state: 'invalid', path, errors: problems, value };
  return { state: 'valid', path, value: value as T, text };
}

export interface ReadJsonOptions {
  schema?: JsonSchema;
  fs?: FsLike;
}

/** Reads a JSON document and tells apart missing, empty, corrupt (line:column), schema-invalid and valid. */
export async function readJson<T = unknown>(path: string, options: ReadJsonOptions = {}): Promise<JsonReadResult<T>> {
  const fs = options.fs ?? nodeFs;
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(path);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return { state: 'missing', path };
    throw error;
  }
  return classifyJsonText<T>(path, bytes.toString('utf8'), options.schema);
}

/** Describes a non-valid read result in one line naming the file and the cause. */
export function describeReadProblem(result: JsonReadResult): string {
  switch (result.state) {
    case 'missing':
      return `${result.path} does not exist`;
    case 'empty':
      return `${result.path} is empty`;
    case 'corrupt':
      return `${result.path} is ${describeParseFailure(result.error)}`;
    case 'invalid':
      return `${result.path} does not match its schema: ${result.errors.join('; ')}`;
    case 'valid':
      return `${result.path} is valid`;
  }
}

export interface WriteJsonOptions extends AtomicWriteOptions {
  schema?: JsonSchema;
  /** Start the file with a byte-order mark (a rewrite keeps the BOM a user's file had). */
  bom?: boolean;
}

/** The text `writeJson` would write: serialised, then checked against `schema`. Throws JsonValueError. */
export function prepareJson(path: string, value: unknown, schema?: JsonSchema): string {
  const text = serializeJson(path, value);
  if (schema) {
    // Validate what will be read back, so values like Dates are checked in their JSON form.
    const problems = schemaProblems(schema, JSON.parse(text));
    if (problems.length > 0) throw new JsonValueError(path, problems);
  }
  return text;
}

/** Validates, then serialises deterministically and writes through the atomic service. Invalid values write nothing. */
export async function writeJson(path: string, value: unknown, options: WriteJsonOptions = {}): Promise<void> {
  const { schema, bom, ...writeOptions } = options;
  const text = prepareJson(path, value, schema);
  await writeFileAtomic(path, bom ? `\ufeff${text}` : text, writeOptions);
}
