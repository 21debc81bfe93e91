// Task-list fixtures shared by the task-edit and edit-queue unit tests.
import type { Todo, TodosDocument } from '../../src/state/todosSchema';

export const T0 = '2024-05-01T10:00:00.000Z';
export const T1 = '2024-05-01T11:00:00.000Z';

export function todo(id: string, title = id.toUpperCase()): Todo {
  return { id, title, done: false, createdAt: T0, updatedAt: T0 };
}

export function doc(...ids: string[]): TodosDocument {
  return { version: 1, tasks: ids.map((id) => todo(id)) };
}

export const ids = (document: TodosDocument) => document.tasks.map((t) => t.id);
