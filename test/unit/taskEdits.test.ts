import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  applyTaskEdit,
  neighbourAnchor,
  type TaskEdit,
  TaskEditQueue,
  type TaskEditSink,
  type TaskSaveOutcome,
  withTaskEdits,
} from '../../src/state/taskEdits';
import type { Task, TasksDocument } from '../../src/state/tasksSchema';
import { TaskNotFoundError, TasksDocumentError, TasksStore } from '../../src/state/tasksStore';

const T0 = '2024-05-01T10:00:00.000Z';
const T1 = '2024-05-01T11:00:00.000Z';

function task(id: string, title = id.toUpperCase()): Task {
  return { id, title, done: false, createdAt: T0, updatedAt: T0 };
}

function doc(...ids: string[]): TasksDocument {
  return { version: 1, tasks: ids.map((id) => task(id)) };
}

const ids = (document: TasksDocument) => document.tasks.map((t) => t.id);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

suite('task edits: applying intents', () => {
  test('add appends; replaying the same add is a no-op', () => {
    const document = doc('a');
    const add: TaskEdit = { kind: 'add', task: task('b') };
    applyTaskEdit(document, add, true);
    applyTaskEdit(document, add, true);
    assert.deepEqual(ids(document), ['a', 'b']);
  });

  test('an add whose random id another writer already used keeps both tasks', () => {
    const document = doc('a');
    applyTaskEdit(document, { kind: 'add', task: { ...task('a', 'Mine'), createdAt: T1 } }, true);
    assert.deepEqual(ids(document), ['a', 'a-2']);
    assert.equal(document.tasks[1]!.title, 'Mine');
  });

  test('update sets fields, stamps updatedAt only on a real change, and removes empty notes', () => {
    const document = doc('a');
    applyTaskEdit(document, { kind: 'update', id: 'a', title: 'A', at: T1 }, true);
    assert.equal(document.tasks[0]!.updatedAt, T0, 'the same title is no change');
    applyTaskEdit(document, { kind: 'update', id: 'a', notes: 'n', done: true, at: T1 }, true);
    assert.deepEqual(document.tasks[0], { ...task('a'), notes: 'n', done: true, updatedAt: T1 });
    applyTaskEdit(document, { kind: 'update', id: 'a', notes: '', at: T1 }, true);
    assert.equal('notes' in document.tasks[0]!, false);
  });

  test('updating a missing task throws when saving and is skipped when only showing', () => {
    const document = doc('a');
    const edit: TaskEdit = { kind: 'update', id: 'gone', done: true, at: T1 };
    assert.throws(() => applyTaskEdit(document, edit, true, '/w/tasks.json'), TaskNotFoundError);
    applyTaskEdit(document, edit, false);
    assert.deepEqual(document, doc('a'));
  });

  test('remove is idempotent', () => {
    const document = doc('a', 'b');
    applyTaskEdit(document, { kind: 'remove', id: 'a' }, true);
    applyTaskEdit(document, { kind: 'remove', id: 'a' }, true);
    assert.deepEqual(ids(document), ['b']);
  });

  test('move places before an anchor or last, and ignores a vanished anchor', () => {
    const document = doc('a', 'b', 'c', 'd');
    applyTaskEdit(document, { kind: 'move', id: 'd', beforeId: 'b' }, true);
    assert.deepEqual(ids(document), ['a', 'd', 'b', 'c']);
    applyTaskEdit(document, { kind: 'move', id: 'd', beforeId: 'b' }, true);
    assert.deepEqual(ids(document), ['a', 'd', 'b', 'c'], 'replaying a move changes nothing');
    applyTaskEdit(document, { kind: 'move', id: 'a', beforeId: null }, true);
    assert.deepEqual(ids(document), ['d', 'b', 'c', 'a']);
    applyTaskEdit(document, { kind: 'move', id: 'b', beforeId: 'zz' }, true);
    assert.deepEqual(ids(document), ['d', 'b', 'c', 'a']);
  });

  test('neighbourAnchor turns up/down into anchors, undefined at the ends', () => {
    const list = doc('a', 'b', 'c').tasks;
    assert.equal(neighbourAnchor(list, 'a', -1), undefined);
    assert.equal(neighbourAnchor(list, 'b', -1), 'a');
    assert.equal(neighbourAnchor(list, 'a', 1), 'c');
    assert.equal(neighbourAnchor(list, 'b', 1), null);
    assert.equal(neighbourAnchor(list, 'c', 1), undefined);
    const moved = doc('a', 'b', 'c');
    applyTaskEdit(moved, { kind: 'move', id: 'a', beforeId: neighbourAnchor(moved.tasks, 'a', 1)! }, true);
    assert.deepEqual(ids(moved), ['b', 'a', 'c']);
  });

  test('withTaskEdits shows edits on a copy and leaves the input alone', () => {
    const base = doc('a', 'b');
    const shown = withTaskEdits(base, [
      { kind: 'add', task: task('c') },
      { kind: 'remove', id: 'a' },
      { kind: 'update', id: 'gone', done: true, at: T1 },
    ]);
    assert.deepEqual(ids(shown), ['b', 'c']);
    assert.deepEqual(ids(base), ['a', 'b']);
  });
});

/** An in-memory sink that records each mutate call and can fail on demand. */
class FakeSink implements TaskEditSink {
  readonly path = '/fake/tasks.json';
  document = doc();
  mutateCalls = 0;
  fail: (() => Error) | undefined;

  async mutate<R>(mutate: (document: TasksDocument) => R): Promise<R> {
    this.mutateCalls += 1;
    await sleep(1);
    if (this.fail) throw this.fail();
    const draft = structuredClone(this.document);
    const result = mutate(draft);
    this.document = draft;
    return result;
  }
}

suite('task edits: the save queue', () => {
  test('edits are saved once the delay after the first one has passed, not pushed back by later ones', async () => {
    const sink = new FakeSink();
    const outcomes: TaskSaveOutcome[] = [];
    const queue = new TaskEditQueue(sink, { delayMs: 400, onSaved: (o) => outcomes.push(o) });
    queue.push({ kind: 'add', task: task('a') });
    await sleep(300);
    queue.push({ kind: 'add', task: task('b') });
    const secondPushAt = Date.now();
    assert.equal(sink.mutateCalls, 0, 'nothing is written before the delay');
    while (outcomes.length === 0) await sleep(5);
    // A debounce that restarted would save 400 ms after the second edit; this one saves ~100 ms after it.
    const gap = Date.now() - secondPushAt;
    assert.ok(gap < 400, `saved ${gap} ms after the second edit: the second edit restarted the delay`);
    assert.deepEqual(ids(sink.document), ['a', 'b']);
    assert.deepEqual(outcomes, [{ saved: 2, savedEdits: [{ kind: 'add', task: task('a') }, { kind: 'add', task: task('b') }], dropped: [] }]);
    assert.equal(queue.edits.length, 0);
    queue.dispose();
  });

  test('an edit that can never apply is dropped alone', async () => {
    const sink = new FakeSink();
    sink.document = doc('a');
    const outcomes: TaskSaveOutcome[] = [];
    const queue = new TaskEditQueue(sink, { delayMs: 0, onSaved: (o) => outcomes.push(o) });
    queue.push({ kind: 'update', id: 'gone', done: true, at: T1 });
    queue.push({ kind: 'update', id: 'a', done: true, at: T1 });
    await queue.flush();
    assert.equal(sink.document.tasks[0]!.done, true);
    assert.equal(outcomes[0]!.saved, 1);
    assert.equal(outcomes[0]!.dropped.length, 1);
    assert.ok(outcomes[0]!.dropped[0]!.error instanceof TaskNotFoundError);
    queue.dispose();
  });

  test('an unusable file blocks the queue, keeps the edits in order, and resume() saves them', async () => {
    const sink = new FakeSink();
    const problem = { path: sink.path, kind: 'corrupt' as const, message: 'corrupt at 1:2', details: [] };
    sink.fail = () => new TasksDocumentError(problem);
    const outcomes: TaskSaveOutcome[] = [];
    const queue = new TaskEditQueue(sink, { delayMs: 0, onSaved: (o) => outcomes.push(o) });
    queue.push({ kind: 'add', task: task('a') });
    queue.push({ kind: 'add', task: task('b') });
    await queue.flush();
    assert.ok(outcomes[0]!.blocked instanceof TasksDocumentError);
    assert.equal(queue.isBlocked, true);
    queue.push({ kind: 'add', task: task('c') });
    const callsWhileBlocked = sink.mutateCalls;
    await sleep(30);
    await queue.flush();
    assert.equal(sink.mutateCalls, callsWhileBlocked, 'nothing is attempted while blocked');
    assert.deepEqual(
      queue.edits.map((e) => (e.kind === 'add' ? e.task.id : '?')),
      ['a', 'b', 'c'],
    );
    sink.fail = undefined;
    queue.resume();
    while (queue.edits.length > 0) await sleep(5);
    await queue.flush();
    assert.deepEqual(ids(sink.document), ['a', 'b', 'c']);
    queue.dispose();
  });

  test('a transient failure is retried after a back-off', async () => {
    const sink = new FakeSink();
    let failures = 2;
    sink.fail = () => {
      if (--failures === 0) sink.fail = undefined;
      return Object.assign(new Error('ENOSPC: injected'), { code: 'ENOSPC' });
    };
    const outcomes: TaskSaveOutcome[] = [];
    const queue = new TaskEditQueue(sink, { delayMs: 0, retryDelayMs: 10, onSaved: (o) => outcomes.push(o) });
    queue.push({ kind: 'add', task: task('a') });
    const deadline = Date.now() + 2000;
    while (ids(sink.document).length === 0 && Date.now() < deadline) await sleep(5);
    assert.deepEqual(ids(sink.document), ['a']);
    assert.equal(outcomes.filter((o) => o.failed).length, 2);
    assert.equal(outcomes.at(-1)!.saved, 1);
    queue.dispose();
  });

  test('with the real store, queued edits land in one locked write and merge with an outside add', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cs-task-edits-'));
    try {
      const path = join(dir, 'tasks.json');
      const store = new TasksStore(path, { durability: 'fast' });
      const outside = new TasksStore(path, { durability: 'fast' });
      const queue = new TaskEditQueue(store, { delayMs: 20 });
      queue.push({ kind: 'add', task: task('a') });
      queue.push({ kind: 'add', task: task('b') });
      queue.push({ kind: 'move', id: 'b', beforeId: 'a' });
      queue.push({ kind: 'update', id: 'a', done: true, at: T1 });
      await outside.add('From the CLI');
      await queue.flush();
      const saved = JSON.parse(readFileSync(path, 'utf8')) as TasksDocument;
      assert.equal(saved.tasks.length, 3);
      assert.ok(saved.tasks.some((t) => t.title === 'From the CLI'));
      assert.deepEqual(
        saved.tasks.filter((t) => t.id !== saved.tasks.find((x) => x.title === 'From the CLI')!.id).map((t) => [t.id, t.done]),
        [
          ['b', false],
          ['a', true],
        ],
      );
      assert.equal(store.stats.saves, 1, 'four edits, one write');
      queue.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('with the real store, a corrupt file blocks the queue and is left byte for byte', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cs-task-edits-'));
    try {
      const path = join(dir, 'tasks.json');
      writeFileSync(path, '{"version": 1, "tasks": [');
      const store = new TasksStore(path, { durability: 'fast' });
      const outcomes: TaskSaveOutcome[] = [];
      const queue = new TaskEditQueue(store, { delayMs: 0, onSaved: (o) => outcomes.push(o) });
      queue.push({ kind: 'add', task: task('a') });
      await queue.flush();
      assert.equal(outcomes[0]!.blocked?.problem.kind, 'corrupt');
      assert.equal(readFileSync(path, 'utf8'), '{"version": 1, "tasks": [');
      assert.equal(queue.edits.length, 1);
      queue.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
