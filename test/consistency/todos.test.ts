// Task updates under the cross-process lock (src/state/todosStore.ts): the document write goes through the model
// (the store's `fs` option); the lock itself is proper-lockfile's directory on the real disk, beside a scratch path.
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { serializeJson } from '../../src/core/json/jsonStore';
import type { Durability } from '../../src/core/write/atomicWrite';
import { addTodoEdit, type TodoEdit, updateTodoEdit } from '../../src/state/todoEdits';
import { recoverTodos } from '../../src/state/todosRecovery';
import { todosDocumentSchemaV1 } from '../../src/state/todosSchema';
import { TodosStore, type TodosStoreOptions } from '../../src/state/todosStore';
import { checkCrashStates, describeViolations, summarize } from './model/checker';
import { DocumentHistory, type RecoverFn, restart, strictJson } from './model/expectations';
import { checkDocument } from './model/fixtures';
import { listFiles } from './model/image';
import { ImageBuilder, RecordingFs } from './model/recordingFs';

const INITIAL = serializeJson('tasks', {
  version: 1,
  tasks: [
    {
      id: 'aaaa0001',
      title: 'Write the model',
      done: true,
      createdAt: '2024-01-01T00:00:00.000Z',
      updatedAt: '2024-01-01T00:00:00.000Z',
    },
    {
      id: 'aaaa0002',
      title: 'Check every state',
      done: false,
      createdAt: '2024-01-01T00:00:00.000Z',
      updatedAt: '2024-01-01T00:00:00.000Z',
    },
  ],
});

let workspace: string;
let todosPath: string;

function storeOptions(
  fs: RecordingFs,
  durability: Durability,
  now: () => Date = clockFrom(Date.UTC(2024, 0, 2)),
): TodosStoreOptions {
  return { fs, durability, now, lock: { staleMs: 10_000, acquireTimeoutMs: 20_000 } };
}

/** A clock that advances one second per reading, so stamps and names are the same on every run. */
function clockFrom(start: number): () => Date {
  let clock = start;
  return () => {
    clock += 1000;
    return new Date(clock);
  };
}

/** The tasks store's own recovery (backup generations and temps), as a restart offers it. */
const storeRecovery: RecoverFn = async (fs, target) => {
  const store = new TodosStore(target, { fs, lock: { acquireTimeoutMs: 20_000 } });
  return (await recoverTodos(store)).restoredFrom.path;
};

/**
 * Three acknowledged edits: add, mark done, remove. Each version is read back from the live view once acknowledged.
 * In a fresh workspace the document and its folders (.vscode/crash-safe) do not exist yet.
 */
async function todoUpdates(durability: Durability, stopAfter?: number, fresh = false, initial = INITIAL) {
  const workspaceRoot = dirname(dirname(dirname(todosPath)));
  const image = fresh ? new ImageBuilder().dir(workspaceRoot).image : new ImageBuilder().file(todosPath, initial).image;
  const fs = new RecordingFs(image);
  const history = new DocumentHistory(fs, todosPath, fresh ? null : initial);
  const now = clockFrom(Date.UTC(2024, 0, 2));
  const store = new TodosStore(todosPath, storeOptions(fs, durability, now));
  let ids = 0;
  const newId = () => `bbbb${String(++ids).padStart(4, '0')}`;
  const edits: Array<() => TodoEdit> = [
    () => addTodoEdit('Buy milk', { now: now(), newId }),
    () => updateTodoEdit('bbbb0001', { done: true }, now()),
    () => (fresh ? addTodoEdit('Walk the dog', { now: now(), newId }) : { kind: 'remove', id: 'aaaa0001' }),
  ];
  for (const edit of edits) {
    const ticket = history.submit();
    const version = history.begin();
    await store.apply([edit()]);
    history.define(version, fs.liveContent(todosPath)!.toString('utf8'));
    history.ack(ticket);
  }
  assert.equal(JSON.parse(fs.liveContent(todosPath)!.toString('utf8')).tasks.length, 2);
  if (initial !== INITIAL) {
    // Every acknowledged version is an edit of the one before: members we do not own keep their bytes.
    for (const version of history.complete)
      assert.ok(version?.includes('"rev": 12345678901234567890'), version ?? 'missing');
  }
  return checkDocument(
    `task updates under the lock${fresh ? ', fresh workspace' : ''}${initial === INITIAL ? '' : ', lossless'} (${durability})`,
    fs,
    history,
    {
      schema: todosDocumentSchemaV1,
      recover: storeRecovery,
      stopAfter,
    },
  );
}

const NEWER = serializeJson('tasks', {
  ...JSON.parse(INITIAL),
  tasks: [
    ...JSON.parse(INITIAL).tasks,
    {
      id: 'aaaa0003',
      title: 'Recover',
      done: false,
      createdAt: '2024-01-01T00:00:00.000Z',
      updatedAt: '2024-01-01T00:00:00.000Z',
    },
  ],
});

/** A damaged tasks.json with two backup generations; the store's recover() is recorded and crashed part-way. */
async function storeRecoveryScenario() {
  const backups = join(dirname(todosPath), 'backups');
  const damaged = Buffer.from(NEWER).subarray(0, 100);
  const fs = new RecordingFs(
    new ImageBuilder()
      .file(todosPath, damaged)
      .file(join(backups, 'tasks.json.bak-1'), INITIAL, Date.UTC(2023, 11, 1))
      .file(join(backups, 'tasks.json.bak-2'), NEWER, Date.UTC(2023, 11, 2)).image,
  );
  const result = await recoverTodos(new TodosStore(todosPath, storeOptions(fs, 'full')));
  assert.equal(basename(result.restoredFrom.path), 'tasks.json.bak-2');
  const report = await checkCrashStates('tasks store recover(), crashed part-way', fs, async ({ fs: crashed }) => {
    const problems: string[] = [];
    const files = [...listFiles(crashed.live)];
    if (!files.some(([, file]) => file.data.toString('utf8') === NEWER))
      problems.push('no file holds the newest valid list');
    const keepsDamaged = files.some(
      ([path, file]) =>
        (path === todosPath || basename(path).startsWith('tasks.json.damaged-')) && file.data.equals(damaged),
    );
    if (!keepsDamaged) problems.push('the damaged tasks.json is neither in place nor preserved');
    const after = await restart(crashed, todosPath, {
      valid: strictJson(todosDocumentSchemaV1),
      recover: storeRecovery,
    });
    if (after.finalText !== NEWER)
      problems.push(`after restart tasks.json is ${after.finalProblem ?? 'not the newest list'}`);
    return problems;
  });
  console.log(summarize(report));
  return report;
}

suite('consistency: task updates under the lock', () => {
  suiteSetup(() => {
    workspace = mkdtempSync(join(tmpdir(), 'cs-consistency-'));
    todosPath = join(workspace, '.vscode/crash-safe/tasks.json');
    // Only the lock directory lives on the real disk; it needs the real parent.
    mkdirSync(dirname(todosPath), { recursive: true });
  });
  suiteTeardown(() => rmSync(workspace, { recursive: true, force: true }));

  test('full: tasks.json is always the old or the new list, and never older than acknowledged', async () => {
    const report = await todoUpdates('full');
    assert.ok(report.statesChecked >= 20, `too few states: ${report.statesChecked}`);
    assert.equal(report.violationCount, 0, describeViolations(report));
  });

  test('full, lossless edits of a CRLF file with numbers JSON.parse cannot hold: every crash state is one exact version', async () => {
    const initial = INITIAL.replace(
      '"version": 1,',
      '"version": 1,\n  "sync": { "rev": 12345678901234567890, "limit": 1e400 },',
    ).replace(/\n/g, '\r\n');
    const report = await todoUpdates('full', undefined, false, initial);
    assert.ok(report.statesChecked >= 20, `too few states: ${report.statesChecked}`);
    assert.equal(report.violationCount, 0, describeViolations(report));
  });

  test('full: the first tasks in a fresh workspace (new .vscode/crash-safe folders) survive every crash state', async () => {
    const report = await todoUpdates('full', undefined, true);
    assert.equal(report.violationCount, 0, describeViolations(report));
  });

  test('fast: the model finds crash states that lose or tear the task list', async () => {
    const report = await todoUpdates('fast', 20);
    assert.ok(report.violationCount > 0, 'fast was expected to lose data in some power-loss state');
  });

  test("the store's recover(), crashed part-way, keeps the newest valid list and the damaged file", async () => {
    const report = await storeRecoveryScenario();
    // 9 since the restored bytes are no longer copied into a second, identical backup generation.
    assert.ok(report.statesChecked >= 8, `too few states: ${report.statesChecked}`);
    assert.equal(report.violationCount, 0, describeViolations(report));
  });
});
