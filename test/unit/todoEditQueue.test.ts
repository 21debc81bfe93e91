import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TodoEditQueue, type TodoEditSink, type TodoSaveOutcome } from '../../src/state/todoEditQueue';
import { addTodoEdit, applyTodoEdit, type TodoEdit } from '../../src/state/todoEdits';
import { InvalidTodoError, TodoNotFoundError, TodosDocumentError } from '../../src/state/todoErrors';
import type { Todo, TodosDocument } from '../../src/state/todosSchema';
import { TodosStore } from '../../src/state/todosStore';
import { doc, ids, T1, todo } from '../support/todoFixtures';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An in-memory sink that records each apply call and can fail on demand. */
class FakeSink implements TodoEditSink {
  readonly path = '/fake/tasks.json';
  document = doc();
  mutateCalls = 0;
  fail: (() => Error) | undefined;

  async apply(edits: readonly TodoEdit[]): Promise<Array<Todo | undefined>> {
    this.mutateCalls += 1;
    await sleep(1);
    if (this.fail) throw this.fail();
    const draft = structuredClone(this.document);
    const result = edits.map((edit) => applyTodoEdit(draft, edit, true, this.path));
    this.document = draft;
    return result;
  }
}

suite('task edits: the save queue', () => {
  test('edits are saved once the delay after the first one has passed, not pushed back by later ones', async () => {
    const sink = new FakeSink();
    const outcomes: TodoSaveOutcome[] = [];
    const queue = new TodoEditQueue(sink, { delayMs: 400, onSaved: (o) => outcomes.push(o) });
    queue.push({ kind: 'add', todo: todo('a') });
    await sleep(300);
    queue.push({ kind: 'add', todo: todo('b') });
    const secondPushAt = Date.now();
    assert.equal(sink.mutateCalls, 0, 'nothing is written before the delay');
    while (outcomes.length === 0) await sleep(5);
    // A debounce that restarted would save 400 ms after the second edit; this one saves ~100 ms after it.
    const gap = Date.now() - secondPushAt;
    assert.ok(gap < 400, `saved ${gap} ms after the second edit: the second edit restarted the delay`);
    assert.deepEqual(ids(sink.document), ['a', 'b']);
    assert.deepEqual(outcomes, [
      {
        saved: 2,
        savedEdits: [
          { kind: 'add', todo: todo('a') },
          { kind: 'add', todo: todo('b') },
        ],
        dropped: [],
      },
    ]);
    assert.equal(queue.edits.length, 0);
    queue.dispose();
  });

  test('an edit that can never apply is dropped alone', async () => {
    const sink = new FakeSink();
    sink.document = doc('a');
    const outcomes: TodoSaveOutcome[] = [];
    const queue = new TodoEditQueue(sink, { delayMs: 0, onSaved: (o) => outcomes.push(o) });
    queue.push({ kind: 'update', id: 'gone', done: true, at: T1 });
    queue.push({ kind: 'update', id: 'a', title: '', at: T1 });
    queue.push({ kind: 'update', id: 'a', done: true, at: T1 });
    await queue.flush();
    assert.equal(sink.document.tasks[0]!.done, true);
    assert.equal(sink.document.tasks[0]!.title, 'A');
    assert.equal(outcomes[0]!.saved, 1);
    assert.equal(outcomes[0]!.dropped.length, 2);
    assert.ok(outcomes[0]!.dropped[0]!.error instanceof TodoNotFoundError);
    assert.ok(outcomes[0]!.dropped[1]!.error instanceof InvalidTodoError);
    assert.equal(queue.edits.length, 0);
    queue.dispose();
  });

  test('an unusable file blocks the queue, keeps the edits in order, and resume() saves them', async () => {
    const sink = new FakeSink();
    const problem = { path: sink.path, kind: 'corrupt' as const, message: 'corrupt at 1:2', details: [] };
    sink.fail = () => new TodosDocumentError(problem);
    const outcomes: TodoSaveOutcome[] = [];
    const queue = new TodoEditQueue(sink, { delayMs: 0, onSaved: (o) => outcomes.push(o) });
    queue.push({ kind: 'add', todo: todo('a') });
    queue.push({ kind: 'add', todo: todo('b') });
    await queue.flush();
    assert.ok(outcomes[0]!.blocked instanceof TodosDocumentError);
    assert.equal(queue.isBlocked, true);
    queue.push({ kind: 'add', todo: todo('c') });
    const callsWhileBlocked = sink.mutateCalls;
    await sleep(30);
    await queue.flush();
    assert.equal(sink.mutateCalls, callsWhileBlocked, 'nothing is attempted while blocked');
    assert.deepEqual(
      queue.edits.map((e) => (e.kind === 'add' ? e.todo.id : '?')),
      ['a', 'b', 'c'],
    );
    sink.fail = undefined;
    queue.resume();
    while (queue.edits.length > 0) await sleep(5);
    await queue.flush();
    assert.deepEqual(ids(sink.document), ['a', 'b', 'c']);
    queue.dispose();
  });

  test('an unrelated RangeError is not taken for a bad edit: the edit is kept and retried', async () => {
    const sink = new FakeSink();
    let failures = 1;
    sink.fail = () => {
      if (--failures === 0) sink.fail = undefined;
      return new RangeError('Invalid time value (a bug, not the user)');
    };
    const outcomes: TodoSaveOutcome[] = [];
    const queue = new TodoEditQueue(sink, { delayMs: 0, retryDelayMs: 10, onSaved: (o) => outcomes.push(o) });
    queue.push({ kind: 'add', todo: todo('a') });
    const deadline = Date.now() + 2000;
    while (ids(sink.document).length === 0 && Date.now() < deadline) await sleep(5);
    assert.deepEqual(ids(sink.document), ['a']);
    assert.ok(outcomes[0]!.failed instanceof RangeError);
    assert.deepEqual(outcomes[0]!.dropped, []);
    queue.dispose();
  });

  test('a transient failure is retried after a back-off', async () => {
    const sink = new FakeSink();
    let failures = 2;
    sink.fail = () => {
      if (--failures === 0) sink.fail = undefined;
      return Object.assign(new Error('ENOSPC: injected'), { code: 'ENOSPC' });
    };
    const outcomes: TodoSaveOutcome[] = [];
    const queue = new TodoEditQueue(sink, { delayMs: 0, retryDelayMs: 10, onSaved: (o) => outcomes.push(o) });
    queue.push({ kind: 'add', todo: todo('a') });
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
      const store = new TodosStore(path, { durability: 'fast' });
      const outside = new TodosStore(path, { durability: 'fast' });
      const queue = new TodoEditQueue(store, { delayMs: 20 });
      queue.push({ kind: 'add', todo: todo('a') });
      queue.push({ kind: 'add', todo: todo('b') });
      queue.push({ kind: 'move', id: 'b', beforeId: 'a' });
      queue.push({ kind: 'update', id: 'a', done: true, at: T1 });
      await outside.apply([addTodoEdit('From the CLI')]);
      await queue.flush();
      const saved = JSON.parse(readFileSync(path, 'utf8')) as TodosDocument;
      assert.equal(saved.tasks.length, 3);
      assert.ok(saved.tasks.some((t) => t.title === 'From the CLI'));
      assert.deepEqual(
        saved.tasks
          .filter((t) => t.id !== saved.tasks.find((x) => x.title === 'From the CLI')!.id)
          .map((t) => [t.id, t.done]),
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
      const store = new TodosStore(path, { durability: 'fast' });
      const outcomes: TodoSaveOutcome[] = [];
      const queue = new TodoEditQueue(store, { delayMs: 0, onSaved: (o) => outcomes.push(o) });
      queue.push({ kind: 'add', todo: todo('a') });
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
