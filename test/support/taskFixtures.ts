// Task-list fixtures shared by the task-edit and edit-queue unit tests.
import type { Task, TasksDocument } from '../../src/state/tasksSchema';

export const T0 = '2024-05-01T10:00:00.000Z';
export const T1 = '2024-05-01T11:00:00.000Z';

export function task(id: string, title = id.toUpperCase()): Task {
  return { id, title, done: false, createdAt: T0, updatedAt: T0 };
}

export function doc(...ids: string[]): TasksDocument {
  return { version: 1, tasks: ids.map((id) => task(id)) };
}

export const ids = (document: TasksDocument) => document.tasks.map((t) => t.id);
