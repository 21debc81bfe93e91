import { basename, join, resolve } from 'node:path';
import { errnoOf } from '../core/fs';
import { fileSafeTime } from '../core/names/fileTime';
import { derivedName } from '../core/names/tempNames';
import { findRecoveryCandidates } from '../core/orphans/recovery';
import { writeFileAtomic } from '../core/write/atomicWrite';
import { TodosDocumentError } from './todoErrors';
import { decodeTodosText, type TodosDocument, todosDocumentSchemaV1 } from './todosSchema';
import type { TodosStore } from './todosStore';

/** A file the document can be restored from. */
export interface TodosRecoveryCandidate {
  /** The file name, used to pick it: `tasks.json.bak-<n>` or one of our temp names. */
  id: string;
  kind: 'backup' | 'temp';
  /** For backups: the generation number (higher is newer). */
  generation?: number;
  path: string;
  /** ISO time of the file's last modification. */
  modifiedAt: string;
  /** Present when the file holds a usable document. */
  todoCount?: number;
  /** Why the file cannot be used; absent when it can. */
  problem?: string;
}

export interface TodosRecoveryResult {
  restoredFrom: TodosRecoveryCandidate;
  /** Where the unusable file was preserved before it was replaced (absent when there was no file). */
  preservedAs?: string;
  document: TodosDocument;
}

/** Backup generations and leftover temp files of the store's document, usable ones first, newest first. */
export async function todosRecoveryCandidates(store: TodosStore): Promise<TodosRecoveryCandidate[]> {
  const candidates = [...(await backupCandidates(store)), ...(await tempCandidates(store))];
  return candidates.sort((a, b) => {
    const usable = Number(a.problem !== undefined) - Number(b.problem !== undefined);
    if (usable !== 0) return usable;
    // Backups made within one mtime tick are told apart by their generation number.
    return b.modifiedAt.localeCompare(a.modifiedAt) || (b.generation ?? 0) - (a.generation ?? 0);
  });
}

/**
 * Replaces an unusable document with a candidate (by id; default the first usable one). Under the lock:
 * the unusable file is first preserved as `backups/tasks.json.damaged-<time>`, then the candidate's document
 * is written, byte for byte, through the atomic writer. Refuses when the current file is fine, unless `force`.
 */
export async function recoverTodos(
  store: TodosStore,
  candidateId?: string,
  options: { force?: boolean } = {},
): Promise<TodosRecoveryResult> {
  const { path, fs } = store;
  let result: TodosRecoveryResult | undefined;
  await store.replace(async (current) => {
    if (current.state === 'ok' && current.exists && !options.force) {
      throw new Error(`${path} is readable (${current.document.tasks.length} tasks); nothing to recover`);
    }
    const candidates = await todosRecoveryCandidates(store);
    const chosen =
      candidateId === undefined
        ? candidates.find((candidate) => candidate.problem === undefined)
        : candidates.find((candidate) => candidate.id === candidateId || candidate.path === resolve(candidateId));
    if (!chosen) {
      throw new Error(
        candidateId === undefined
          ? `No usable backup or temp file was found for ${path}`
          : `No recovery candidate "${candidateId}" for ${path}`,
      );
    }
    if (chosen.problem !== undefined) throw new Error(`Cannot recover from ${chosen.path}: ${chosen.problem}`);
    // Restored byte for byte: a backup is the file as it was, numbers and members we do not own included.
    const bytes = await fs.readFile(chosen.path);
    const decoded = await decodeTodosText(chosen.path, bytes, () => mtimeOf(store, chosen.path));
    if ('problem' in decoded) throw new TodosDocumentError(decoded.problem);

    let preservedAs: string | undefined;
    try {
      const damaged = await fs.readFile(path);
      // The time keeps its `.` before the milliseconds: the names these copies have always had.
      preservedAs = join(
        store.backups.dir,
        derivedName(basename(path), `.damaged-${fileSafeTime(store.now(), { millisSeparator: '.' })}`),
      );
      await writeFileAtomic(preservedAs, damaged, { durability: store.durability, createParents: true, fs });
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT' || preservedAs !== undefined) throw error;
    }
    result = { restoredFrom: chosen, preservedAs, document: decoded.document };
    return bytes;
  });
  return result!;
}

function mtimeOf(store: TodosStore, path: string): Promise<Date> {
  return store.fs.stat(path).then(
    (stats) => stats.mtime,
    () => store.now(),
  );
}

async function backupCandidates(store: TodosStore): Promise<TodosRecoveryCandidate[]> {
  const generations = await store.backups.generations();
  return Promise.all(
    generations.map(async ({ name, path, generation }) => ({
      ...(await describeCandidate(store, name, path, 'backup')),
      generation,
    })),
  );
}

/**
 * Temp files of the document that hold a complete, schema-valid version: ours (a write killed before its
 * rename) and other tools' (write-file-atomic, atomically, …), as recognised by src/core/orphans/recovery.ts.
 */
async function tempCandidates(store: TodosStore): Promise<TodosRecoveryCandidate[]> {
  const temps = await findRecoveryCandidates(store.path, { schema: todosDocumentSchemaV1, fs: store.fs });
  return Promise.all(temps.map((temp) => describeCandidate(store, basename(temp.path), temp.path, 'temp')));
}

async function describeCandidate(
  store: TodosStore,
  id: string,
  path: string,
  kind: TodosRecoveryCandidate['kind'],
): Promise<TodosRecoveryCandidate> {
  try {
    const [stats, bytes] = await Promise.all([store.fs.stat(path), store.fs.readFile(path)]);
    const candidate: TodosRecoveryCandidate = { id, kind, path, modifiedAt: stats.mtime.toISOString() };
    const decoded = await decodeTodosText(path, bytes, async () => stats.mtime);
    if ('problem' in decoded) candidate.problem = decoded.problem.message;
    else candidate.todoCount = decoded.document.tasks.length;
    return candidate;
  } catch (error) {
    return { id, kind, path, modifiedAt: new Date(0).toISOString(), problem: `cannot be read: ${String(error)}` };
  }
}
