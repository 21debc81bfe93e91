import type { ParsePosition } from '../core/json/jsonStore';

/** Why the document on disk cannot be used. The store never writes over such a file. */
export interface TasksProblem {
  path: string;
  kind: 'empty' | 'corrupt' | 'invalid' | 'unsupported-version';
  /** One line naming the file and the cause (with line:column for 'corrupt'). */
  message: string;
  /** Where parsing failed, 1-based; only for 'corrupt'. */
  position?: ParsePosition;
  /** Schema problems, one per line; only for 'invalid' and 'unsupported-version'. */
  details: string[];
}

/** The tasks document is unusable (corrupt, empty, schema-invalid, newer version). Nothing was written. */
export class TasksDocumentError extends Error {
  override readonly name = 'TasksDocumentError';
  constructor(readonly problem: TasksProblem) {
    super(`${problem.message}. Nothing was written; the file is left exactly as it is.`);
  }
}

/** No task has that id (or unique id prefix). */
export class TaskNotFoundError extends Error {
  override readonly name = 'TaskNotFoundError';
  constructor(
    readonly path: string,
    readonly ref: string,
    readonly matches: string[] = [],
  ) {
    super(
      matches.length > 1
        ? `"${ref}" matches several tasks in ${path} (${matches.join(', ')}); give more of the id`
        : `No task with id "${ref}" in ${path}`,
    );
  }
}

/** An edit that would make a task invalid (an empty title, a malformed id…): it never applies, so it is not retried. */
export class InvalidTaskError extends Error {
  override readonly name = 'InvalidTaskError';
}
