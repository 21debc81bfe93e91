import type { ParsePosition } from '../core/json/jsonStore';

/** Why the document on disk cannot be used. The store never writes over such a file. */
export interface TodosProblem {
  path: string;
  kind: 'empty' | 'corrupt' | 'invalid' | 'unsupported-version';
  /** One line naming the file and the cause (with line:column for 'corrupt'). */
  message: string;
  /** Where parsing failed, 1-based; only for 'corrupt'. */
  position?: ParsePosition;
  /** Schema problems, one per line; only for 'invalid' and 'unsupported-version'. */
  details: string[];
}

/** The to-do document is unusable (corrupt, empty, schema-invalid, newer version). Nothing was written. */
export class TodosDocumentError extends Error {
  override readonly name = 'TodosDocumentError';
  constructor(readonly problem: TodosProblem) {
    super(`${problem.message}. Nothing was written; the file is left exactly as it is.`);
  }
}

/** No to-do has that id (or unique id prefix). */
export class TodoNotFoundError extends Error {
  override readonly name = 'TodoNotFoundError';
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

/** An edit that would make a to-do invalid (an empty title, a malformed id…): it never applies, so it is not retried. */
export class InvalidTodoError extends Error {
  override readonly name = 'InvalidTodoError';
}
