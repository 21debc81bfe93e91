import { decodeUtf8Exactly, describeParseFailure, type ParsePosition, parseJson } from '../core/json/json';
import { type JsonSchema, schemaProblems } from '../core/json/jsonStore';
import type { TodosProblem } from './todoErrors';

/** The format version this build reads and writes. Older documents are migrated on read; newer ones are refused. */
export const TODOS_FORMAT_VERSION = 1;

export interface Todo {
  id: string;
  title: string;
  done: boolean;
  notes?: string;
  /** ISO 8601 timestamps. */
  createdAt: string;
  updatedAt: string;
}

export interface TodosDocument {
  version: typeof TODOS_FORMAT_VERSION;
  tasks: Todo[];
}

/** The document of an empty list: what a missing file reads as. */
export function emptyTodosDocument(): TodosDocument {
  return { version: TODOS_FORMAT_VERSION, tasks: [] };
}

/** Ids are short and shell-friendly; the store generates 8 hex digits. */
export const TODO_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$';
const ISO_TIME_PATTERN = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:\\d{2})$';

/**
 * Version 1. Unknown extra properties are allowed and kept on rewrite, so a newer minor addition
 * survives an edit made by an older build.
 */
export const todosDocumentSchemaV1: JsonSchema = {
  type: 'object',
  required: ['version', 'tasks'],
  properties: {
    version: { const: 1 },
    tasks: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'title', 'done', 'createdAt', 'updatedAt'],
        properties: {
          id: { type: 'string', pattern: TODO_ID_PATTERN },
          title: { type: 'string', minLength: 1 },
          done: { type: 'boolean' },
          notes: { type: 'string' },
          createdAt: { type: 'string', pattern: ISO_TIME_PATTERN },
          updatedAt: { type: 'string', pattern: ISO_TIME_PATTERN },
        },
      },
    },
  },
};

/**
 * Version 0: the unversioned form, a bare array of to-dos (or `{ "tasks": [...] }` without a version),
 * where only the title is required.
 */
const legacyTodoSchema = {
  type: 'object',
  required: ['title'],
  properties: {
    id: { type: 'string' },
    title: { type: 'string', minLength: 1 },
    done: { type: 'boolean' },
    notes: { type: 'string' },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
  },
};
export const todosDocumentSchemaV0: JsonSchema = {
  oneOf: [
    { type: 'array', items: legacyTodoSchema },
    {
      type: 'object',
      required: ['tasks'],
      not: { required: ['version'] },
      properties: { tasks: { type: 'array', items: legacyTodoSchema } },
    },
  ],
};

/** Semantic checks JSON Schema cannot express: ids are unique. */
function uniqueIdProblems(document: TodosDocument): string[] {
  const seen = new Set<string>();
  const problems: string[] = [];
  document.tasks.forEach((todo, index) => {
    if (seen.has(todo.id)) problems.push(`/tasks/${index}/id "${todo.id}" is used by an earlier task`);
    seen.add(todo.id);
  });
  return problems;
}

/** Every problem with a version-1 document (schema and unique ids); empty when it is valid. */
export function todosDocumentProblems(value: unknown): string[] {
  const problems = schemaProblems(todosDocumentSchemaV1, value);
  if (problems.length > 0) return problems;
  return uniqueIdProblems(value as TodosDocument);
}

export type TodosDecodeResult =
  | { ok: true; document: TodosDocument; migratedFrom: number | undefined }
  | { ok: false; kind: 'invalid' | 'unsupported-version'; problems: string[] };

/** What a migration may use besides the document: the time to stamp on to-dos that have none. */
export interface MigrationContext {
  /** ISO time for missing createdAt/updatedAt; the store passes the file's mtime so repeated reads agree. */
  fallbackTime: string;
}

type Migration = (value: unknown, context: MigrationContext) => unknown;

interface LegacyTodo {
  id?: string;
  title: string;
  done?: boolean;
  notes?: string;
  createdAt?: string;
  updatedAt?: string;
}

const isoTime = new RegExp(ISO_TIME_PATTERN);
const todoId = new RegExp(TODO_ID_PATTERN);

/**
 * v0 → v1. Ids are kept where usable, otherwise `legacy-<n>` by position, so two reads of the same
 * unmigrated file (say `list` then `done ID`) agree on every id. Members v1 does not define are kept, in the
 * document and in each to-do, as the migration of the text keeps them (todosText.ts).
 */
function migrateV0ToV1(value: unknown, context: MigrationContext): TodosDocument {
  const legacy = (Array.isArray(value) ? value : (value as { tasks: unknown[] }).tasks) as LegacyTodo[];
  const others = Array.isArray(value) ? {} : (value as object);
  const taken = new Set<string>();
  const keptIds = legacy.map((todo) => {
    const usable = todo.id !== undefined && todoId.test(todo.id) && !taken.has(todo.id);
    if (usable) taken.add(todo.id!);
    return usable ? todo.id : undefined;
  });
  const todos = legacy.map((todo, index): Todo => {
    let id = keptIds[index];
    if (id === undefined) {
      let candidate = `legacy-${index + 1}`;
      for (let n = 2; taken.has(candidate); n++) candidate = `legacy-${index + 1}-${n}`;
      id = candidate;
      taken.add(id);
    }
    const createdAt = todo.createdAt && isoTime.test(todo.createdAt) ? todo.createdAt : context.fallbackTime;
    const updatedAt = todo.updatedAt && isoTime.test(todo.updatedAt) ? todo.updatedAt : createdAt;
    return { ...todo, id, title: todo.title, done: todo.done ?? false, createdAt, updatedAt };
  });
  return { version: 1, ...others, tasks: todos };
}

/** Migration `n` turns a valid version-n document into version n + 1. */
const MIGRATIONS: Record<number, Migration> = { 0: migrateV0ToV1 };
/** The schema each older version is checked against before it is migrated. */
const SCHEMAS_BY_VERSION: Record<number, JsonSchema> = { 0: todosDocumentSchemaV0, 1: todosDocumentSchemaV1 };

/** The format version of a parsed document: 0 for the unversioned forms, undefined when it cannot tell. */
export function todosFormatVersionOf(value: unknown): number | undefined {
  if (Array.isArray(value)) return 0;
  if (typeof value !== 'object' || value === null) return undefined;
  if (!('version' in value)) return 'tasks' in value ? 0 : undefined;
  const version = (value as { version: unknown }).version;
  return typeof version === 'number' && Number.isInteger(version) && version >= 0 ? version : undefined;
}

/**
 * Validates a parsed to-do document and migrates older versions to the current one.
 * A newer version is refused rather than guessed at, so an older build never rewrites (and truncates) it.
 */
export function decodeTodosDocument(value: unknown, context: MigrationContext): TodosDecodeResult {
  const version = todosFormatVersionOf(value);
  if (version === undefined) {
    return {
      ok: false,
      kind: 'invalid',
      problems: schemaProblems(todosDocumentSchemaV1, value).concat(
        typeof value === 'object' && value !== null && !Array.isArray(value) && 'version' in value
          ? ['/version must be a non-negative integer']
          : [],
      ),
    };
  }
  if (version > TODOS_FORMAT_VERSION) {
    return {
      ok: false,
      kind: 'unsupported-version',
      problems: [
        `format version ${version} was written by a newer Crash-Safe State (this one reads up to ${TODOS_FORMAT_VERSION}); update the extension or CLI`,
      ],
    };
  }
  let current = value;
  for (let from = version; from < TODOS_FORMAT_VERSION; from++) {
    const problems = schemaProblems(SCHEMAS_BY_VERSION[from]!, current);
    if (problems.length > 0) return { ok: false, kind: 'invalid', problems: problems.map((p) => `(v${from}) ${p}`) };
    current = MIGRATIONS[from]!(current, context);
  }
  const problems = todosDocumentProblems(current);
  if (problems.length > 0) return { ok: false, kind: 'invalid', problems };
  return {
    ok: true,
    document: current as TodosDocument,
    migratedFrom: version < TODOS_FORMAT_VERSION ? version : undefined,
  };
}

/**
 * Parses, validates and migrates the content of `path`: the document, or the problem that makes it unusable.
 * Given bytes, they must be well-formed UTF-8; a to-do list that names a member twice is corrupt too, since reading
 * it would silently drop the first one (both with line:column). `fallbackTime` is asked only for valid JSON:
 * migrated to-dos without timestamps get it (the store passes the file's mtime, so repeated reads of one file agree).
 */
export async function decodeTodosText(
  path: string,
  content: string | Uint8Array,
  fallbackTime: () => Promise<Date>,
): Promise<{ document: TodosDocument; migratedFrom: number | undefined; text: string } | { problem: TodosProblem }> {
  const corrupt = (position: ParsePosition): { problem: TodosProblem } => ({
    problem: { path, kind: 'corrupt', message: `${path} is ${describeParseFailure(position)}`, position, details: [] },
  });
  let text: string;
  if (typeof content === 'string') text = content;
  else {
    const decodedText = decodeUtf8Exactly(content);
    if (!decodedText.ok) return corrupt(decodedText.position);
    text = decodedText.text;
  }
  const parsed = parseJson(text, 'json', { duplicateKeys: 'refuse' });
  if (!parsed.ok && parsed.empty) {
    return {
      problem: {
        path,
        kind: 'empty',
        message: `${path} is empty (a task list is never empty on disk, so it was probably truncated)`,
        details: [],
      },
    };
  }
  if (!parsed.ok) return corrupt(parsed.position);
  const decoded = decodeTodosDocument(parsed.value, { fallbackTime: (await fallbackTime()).toISOString() });
  if (decoded.ok) return { document: decoded.document, migratedFrom: decoded.migratedFrom, text };
  const what =
    decoded.kind === 'unsupported-version' ? 'has an unsupported format version' : 'does not match the tasks schema';
  return {
    problem: {
      path,
      kind: decoded.kind,
      message: `${path} ${what}: ${decoded.problems.join('; ')}`,
      details: decoded.problems,
    },
  };
}
