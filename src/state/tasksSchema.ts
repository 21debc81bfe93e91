import { decodeUtf8Exactly, describeParseFailure, type ParsePosition, parseJson } from '../core/json/json';
import { type JsonSchema, schemaProblems } from '../core/json/jsonStore';
import type { TasksProblem } from './taskErrors';

/** The format version this build reads and writes. Older documents are migrated on read; newer ones are refused. */
export const TASKS_FORMAT_VERSION = 1;

export interface Task {
  id: string;
  title: string;
  done: boolean;
  notes?: string;
  /** ISO 8601 timestamps. */
  createdAt: string;
  updatedAt: string;
}

export interface TasksDocument {
  version: typeof TASKS_FORMAT_VERSION;
  tasks: Task[];
}

/** The document of an empty list: what a missing file reads as. */
export function emptyTasksDocument(): TasksDocument {
  return { version: TASKS_FORMAT_VERSION, tasks: [] };
}

/** Ids are short and shell-friendly; the store generates 8 hex digits. */
export const TASK_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$';
const ISO_TIME_PATTERN = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:\\d{2})$';

/**
 * Version 1. Unknown extra properties are allowed and kept on rewrite, so a newer minor addition
 * survives an edit made by an older build.
 */
export const tasksDocumentSchemaV1: JsonSchema = {
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
          id: { type: 'string', pattern: TASK_ID_PATTERN },
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
 * Version 0: the unversioned form, a bare array of tasks (or `{ "tasks": [...] }` without a version),
 * where only the title is required.
 */
const legacyTaskSchema = {
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
export const tasksDocumentSchemaV0: JsonSchema = {
  oneOf: [
    { type: 'array', items: legacyTaskSchema },
    {
      type: 'object',
      required: ['tasks'],
      not: { required: ['version'] },
      properties: { tasks: { type: 'array', items: legacyTaskSchema } },
    },
  ],
};

/** Semantic checks JSON Schema cannot express: ids are unique. */
function uniqueIdProblems(document: TasksDocument): string[] {
  const seen = new Set<string>();
  const problems: string[] = [];
  document.tasks.forEach((task, index) => {
    if (seen.has(task.id)) problems.push(`/tasks/${index}/id "${task.id}" is used by an earlier task`);
    seen.add(task.id);
  });
  return problems;
}

/** Every problem with a version-1 document (schema and unique ids); empty when it is valid. */
export function tasksDocumentProblems(value: unknown): string[] {
  const problems = schemaProblems(tasksDocumentSchemaV1, value);
  if (problems.length > 0) return problems;
  return uniqueIdProblems(value as TasksDocument);
}

export type TasksDecodeResult =
  | { ok: true; document: TasksDocument; migratedFrom: number | undefined }
  | { ok: false; kind: 'invalid' | 'unsupported-version'; problems: string[] };

/** What a migration may use besides the document: the time to stamp on tasks that have none. */
export interface MigrationContext {
  /** ISO time for missing createdAt/updatedAt; the store passes the file's mtime so repeated reads agree. */
  fallbackTime: string;
}

type Migration = (value: unknown, context: MigrationContext) => unknown;

interface LegacyTask {
  id?: string;
  title: string;
  done?: boolean;
  notes?: string;
  createdAt?: string;
  updatedAt?: string;
}

const isoTime = new RegExp(ISO_TIME_PATTERN);
const taskId = new RegExp(TASK_ID_PATTERN);

/**
 * v0 → v1. Ids are kept where usable, otherwise `legacy-<n>` by position, so two reads of the same
 * unmigrated file (say `list` then `done ID`) agree on every id. Members v1 does not define are kept, in the
 * document and in each task, as the migration of the text keeps them (tasksText.ts).
 */
function migrateV0ToV1(value: unknown, context: MigrationContext): TasksDocument {
  const legacy = (Array.isArray(value) ? value : (value as { tasks: unknown[] }).tasks) as LegacyTask[];
  const others = Array.isArray(value) ? {} : (value as object);
  const taken = new Set<string>();
  const keptIds = legacy.map((task) => {
    const usable = task.id !== undefined && taskId.test(task.id) && !taken.has(task.id);
    if (usable) taken.add(task.id!);
    return usable ? task.id : undefined;
  });
  const tasks = legacy.map((task, index): Task => {
    let id = keptIds[index];
    if (id === undefined) {
      let candidate = `legacy-${index + 1}`;
      for (let n = 2; taken.has(candidate); n++) candidate = `legacy-${index + 1}-${n}`;
      id = candidate;
      taken.add(id);
    }
    const createdAt = task.createdAt && isoTime.test(task.createdAt) ? task.createdAt : context.fallbackTime;
    const updatedAt = task.updatedAt && isoTime.test(task.updatedAt) ? task.updatedAt : createdAt;
    return { ...task, id, title: task.title, done: task.done ?? false, createdAt, updatedAt };
  });
  return { version: 1, ...others, tasks };
}

/** Migration `n` turns a valid version-n document into version n + 1. */
const MIGRATIONS: Record<number, Migration> = { 0: migrateV0ToV1 };
/** The schema each older version is checked against before it is migrated. */
const SCHEMAS_BY_VERSION: Record<number, JsonSchema> = { 0: tasksDocumentSchemaV0, 1: tasksDocumentSchemaV1 };

/** The format version of a parsed document: 0 for the unversioned forms, undefined when it cannot tell. */
export function tasksFormatVersionOf(value: unknown): number | undefined {
  if (Array.isArray(value)) return 0;
  if (typeof value !== 'object' || value === null) return undefined;
  if (!('version' in value)) return 'tasks' in value ? 0 : undefined;
  const version = (value as { version: unknown }).version;
  return typeof version === 'number' && Number.isInteger(version) && version >= 0 ? version : undefined;
}

/**
 * Validates a parsed tasks document and migrates older versions to the current one.
 * A newer version is refused rather than guessed at, so an older build never rewrites (and truncates) it.
 */
export function decodeTasksDocument(value: unknown, context: MigrationContext): TasksDecodeResult {
  const version = tasksFormatVersionOf(value);
  if (version === undefined) {
    return {
      ok: false,
      kind: 'invalid',
      problems: schemaProblems(tasksDocumentSchemaV1, value).concat(
        typeof value === 'object' && value !== null && !Array.isArray(value) && 'version' in value
          ? ['/version must be a non-negative integer']
          : [],
      ),
    };
  }
  if (version > TASKS_FORMAT_VERSION) {
    return {
      ok: false,
      kind: 'unsupported-version',
      problems: [
        `format version ${version} was written by a newer Crash-Safe State (this one reads up to ${TASKS_FORMAT_VERSION}); update the extension or CLI`,
      ],
    };
  }
  let current = value;
  for (let from = version; from < TASKS_FORMAT_VERSION; from++) {
    const problems = schemaProblems(SCHEMAS_BY_VERSION[from]!, current);
    if (problems.length > 0) return { ok: false, kind: 'invalid', problems: problems.map((p) => `(v${from}) ${p}`) };
    current = MIGRATIONS[from]!(current, context);
  }
  const problems = tasksDocumentProblems(current);
  if (problems.length > 0) return { ok: false, kind: 'invalid', problems };
  return {
    ok: true,
    document: current as TasksDocument,
    migratedFrom: version < TASKS_FORMAT_VERSION ? version : undefined,
  };
}

/**
 * Parses, validates and migrates the content of `path`: the document, or the problem that makes it unusable.
 * Given bytes, they must be well-formed UTF-8; a task list that names a member twice is corrupt too, since reading
 * it would silently drop the first one (both with line:column). `fallbackTime` is asked only for valid JSON:
 * migrated tasks without timestamps get it (the store passes the file's mtime, so repeated reads of one file agree).
 */
export async function decodeTasksText(
  path: string,
  content: string | Uint8Array,
  fallbackTime: () => Promise<Date>,
): Promise<{ document: TasksDocument; migratedFrom: number | undefined; text: string } | { problem: TasksProblem }> {
  const corrupt = (position: ParsePosition): { problem: TasksProblem } => ({
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
  const decoded = decodeTasksDocument(parsed.value, { fallbackTime: (await fallbackTime()).toISOString() });
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
