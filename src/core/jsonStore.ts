import Ajv, { type AnySchema, type ValidateFunction } from 'ajv';
import { type ParseError, parse as parseJsonc, printParseErrorCode } from 'jsonc-parser';
import { type AtomicWriteOptions, writeFileAtomic } from './atomicWrite';
import { errnoOf, type FsLike, nodeFs } from './fs';

export type JsonSchema = AnySchema;

/** Where a document failed to parse, 1-based like an editor shows it. */
export interface ParsePosition {
  offset: number;
  line: number;
  column: number;
  message: string;
}

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

// Built on first use: constructing Ajv costs start-up time that CLI verbs without a schema should not pay.
let ajv: Ajv | undefined;
const compiled = new WeakMap<object, ValidateFunction>();

/** Schema problems in `value`, as `instancePath message` lines; empty when it conforms. */
export function schemaProblems(schema: JsonSchema, value: unknown): string[] {
  if (typeof schema !== 'object' || schema === null) return [];
  let validate = compiled.get(schema);
  if (!validate) {
    ajv ??= new Ajv({ allErrors: true, strict: false });
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  if (validate(value)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
}

/** Deterministic serialisation: 2-space indent and a trailing newline. Throws JsonValueError for cycles, BigInt, undefined. */
export function serializeJson(path: string, value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value, null, 2);
  } catch (error) {
    throw new JsonValueError(path, [`cannot serialise the value: ${error instanceof Error ? error.message : String(error)}`]);
  }
  if (text === undefined) throw new JsonValueError(path, ['the value has no JSON form (undefined, a function or a symbol)']);
  return `${text}\n`;
}

/** Locates the first syntax error in `text` (line:column) using jsonc-parser in strict JSON mode. */
export function locateParseError(text: string): ParsePosition {
  const errors: ParseError[] = [];
  parseJsonc(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  const first = errors[0];
  const offset = first?.offset ?? text.length;
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  const message = first ? printParseErrorCode(first.error) : 'UnexpectedEndOfInput';
  return { offset, line, column, message };
}

/** Classifies the text of a JSON document: empty, corrupt (with position), invalid against the schema, or valid. */
export function classifyJsonText<T>(path: string, text: string, schema?: JsonSchema): JsonReadResult<T> {
  if (text.trim().length === 0) return { state: 'empty', path };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { state: 'corrupt', path, error: locateParseError(text) };
  }
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
      return `${result.path} is not valid JSON: ${result.error.message} at line ${result.error.line}, column ${result.error.column}`;
    case 'invalid':
      return `${result.path} does not match its schema: ${result.errors.join('; ')}`;
    case 'valid':
      return `${result.path} is valid`;
  }
}

export interface WriteJsonOptions extends AtomicWriteOptions {
  schema?: JsonSchema;
}

/** Validates, then serialises deterministically and writes through the atomic service. Invalid values write nothing. */
export async function writeJson(path: string, value: unknown, options: WriteJsonOptions = {}): Promise<void> {
  const text = serializeJson(path, value);
  if (options.schema) {
    // Validate what will be read back, so values like Dates are checked in their JSON form.
    const problems = schemaProblems(options.schema, JSON.parse(text));
    if (problems.length > 0) throw new JsonValueError(path, problems);
  }
  const { schema: _schema, ...writeOptions } = options;
  await writeFileAtomic(path, text, writeOptions);
}
