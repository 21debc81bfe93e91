import * as assert from 'node:assert/strict';
import { findNodeAtLocation, parseTree } from 'jsonc-parser';
import {
  addTodoEdit,
  applyTodoEdit,
  cleanTitle,
  newTodoId,
  type TodoEdit,
  updateTodoEdit,
  withTodoEdits,
} from '../../src/state/todoEdits';
import { InvalidTodoError, TodoNotFoundError } from '../../src/state/todoErrors';
import type { Todo, TodosDocument } from '../../src/state/todosSchema';
import { editTodosText } from '../../src/state/todosText';
import { doc, ids, T0, T1, todo } from '../support/todoFixtures';

suite('task edits: applying intents', () => {
  test('add appends; replaying the same add is a no-op', () => {
    const document = doc('a');
    const add: TodoEdit = { kind: 'add', todo: todo('b') };
    applyTodoEdit(document, add, true);
    applyTodoEdit(document, add, true);
    assert.deepEqual(ids(document), ['a', 'b']);
  });

  test('an add whose random id another writer already used keeps both tasks', () => {
    const document = doc('a');
    applyTodoEdit(document, { kind: 'add', todo: { ...todo('a', 'Mine'), createdAt: T1 } }, true);
    assert.deepEqual(ids(document), ['a', 'a-2']);
    assert.equal(document.tasks[1]!.title, 'Mine');
  });

  test('update sets fields, stamps updatedAt only on a real change, and removes empty notes', () => {
    const document = doc('a');
    applyTodoEdit(document, { kind: 'update', id: 'a', title: 'A', at: T1 }, true);
    assert.equal(document.tasks[0]!.updatedAt, T0, 'the same title is no change');
    applyTodoEdit(document, { kind: 'update', id: 'a', notes: 'n', done: true, at: T1 }, true);
    assert.deepEqual(document.tasks[0], { ...todo('a'), notes: 'n', done: true, updatedAt: T1 });
    applyTodoEdit(document, { kind: 'update', id: 'a', notes: '', at: T1 }, true);
    assert.equal('notes' in document.tasks[0]!, false);
  });

  test('each edit returns the task it touched, as it is now (undefined when the task is not there)', () => {
    const document = doc('a', 'b');
    assert.deepEqual(applyTodoEdit(document, { kind: 'add', todo: todo('c') }, true), todo('c'));
    assert.equal(applyTodoEdit(document, { kind: 'update', id: 'a', done: true, at: T1 }, true)?.done, true);
    assert.equal(applyTodoEdit(document, { kind: 'move', id: 'c', beforeId: 'a' }, true)?.id, 'c');
    assert.equal(applyTodoEdit(document, { kind: 'remove', id: 'b' }, true)?.id, 'b');
    assert.equal(applyTodoEdit(document, { kind: 'remove', id: 'b' }, true), undefined);
    assert.deepEqual(ids(document), ['c', 'a']);
  });

  test('when saving, an edit that would make a task invalid throws InvalidTodoError and changes nothing', () => {
    const document = doc('a');
    assert.throws(
      () => applyTodoEdit(document, { kind: 'update', id: 'a', title: '', at: T1 }, true),
      InvalidTodoError,
    );
    assert.throws(() => applyTodoEdit(document, { kind: 'add', todo: todo('bad id!') }, true), InvalidTodoError);
    assert.deepEqual(document, doc('a'));
  });

  test('updating a missing task throws when saving and is skipped when only showing', () => {
    const document = doc('a');
    const edit: TodoEdit = { kind: 'update', id: 'gone', done: true, at: T1 };
    assert.throws(() => applyTodoEdit(document, edit, true, '/w/tasks.json'), TodoNotFoundError);
    applyTodoEdit(document, edit, false);
    assert.deepEqual(document, doc('a'));
  });

  test('remove is idempotent', () => {
    const document = doc('a', 'b');
    applyTodoEdit(document, { kind: 'remove', id: 'a' }, true);
    applyTodoEdit(document, { kind: 'remove', id: 'a' }, true);
    assert.deepEqual(ids(document), ['b']);
  });

  test('move places before an anchor or last, and ignores a vanished anchor', () => {
    const document = doc('a', 'b', 'c', 'd');
    applyTodoEdit(document, { kind: 'move', id: 'd', beforeId: 'b' }, true);
    assert.deepEqual(ids(document), ['a', 'd', 'b', 'c']);
    applyTodoEdit(document, { kind: 'move', id: 'd', beforeId: 'b' }, true);
    assert.deepEqual(ids(document), ['a', 'd', 'b', 'c'], 'replaying a move changes nothing');
    applyTodoEdit(document, { kind: 'move', id: 'a', beforeId: null }, true);
    assert.deepEqual(ids(document), ['d', 'b', 'c', 'a']);
    applyTodoEdit(document, { kind: 'move', id: 'b', beforeId: 'zz' }, true);
    assert.deepEqual(ids(document), ['d', 'b', 'c', 'a']);
  });

  test('withTaskEdits shows edits on a copy and leaves the input alone', () => {
    const base = doc('a', 'b');
    const shown = withTodoEdits(base, [
      { kind: 'add', todo: todo('c') },
      { kind: 'remove', id: 'a' },
      { kind: 'update', id: 'gone', done: true, at: T1 },
    ]);
    assert.deepEqual(ids(shown), ['b', 'c']);
    assert.deepEqual(ids(base), ['a', 'b']);
  });
});

suite('task edits: building them (the CLI and the view share these)', () => {
  test('titles are trimmed; an empty one is an InvalidTodoError, not a RangeError', () => {
    assert.equal(cleanTitle('  Ship it \n'), 'Ship it');
    assert.throws(
      () => cleanTitle(' \t '),
      (e: unknown) => e instanceof InvalidTodoError && !(e instanceof RangeError),
    );
  });

  test('a new id is 8 hex digits, drawn again while it is taken', () => {
    assert.match(newTodoId(), /^[0-9a-f]{8}$/);
    const draws = ['same0000', 'same0000', 'other000'];
    let next = 0;
    assert.equal(
      newTodoId(['same0000'], () => draws[next++]!),
      'other000',
    );
    assert.equal(next, 3);
  });

  test('addTodoEdit makes a new, not-done task stamped now; empty notes are left out', () => {
    const now = new Date(T1);
    const edit = addTodoEdit(' Write ', { notes: '', now, newId: () => 'abcd0001' });
    assert.deepEqual(edit, {
      kind: 'add',
      todo: { id: 'abcd0001', title: 'Write', done: false, createdAt: T1, updatedAt: T1 },
    });
    assert.equal(addTodoEdit('x', { notes: 'n' }).todo.notes, 'n');
    const draws = ['abcd0001', 'abcd0002'];
    assert.equal(addTodoEdit('x', { taken: ['abcd0001'], newId: () => draws.shift()! }).todo.id, 'abcd0002');
  });

  test('updateTodoEdit carries only what changes, with the time', () => {
    assert.deepEqual(updateTodoEdit('a', { done: true }, new Date(T1)), {
      kind: 'update',
      id: 'a',
      done: true,
      at: T1,
    });
    assert.deepEqual(updateTodoEdit('a', { title: ' A ', notes: null }, new Date(T1)), {
      kind: 'update',
      id: 'a',
      title: 'A',
      notes: null,
      at: T1,
    });
  });
});

suite('task edits: written surgically into the text', () => {
  /** A small deterministic generator, so a failure names a seed that reproduces it. */
  function generator(seed: number) {
    let state = seed;
    const next = () => {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      return state / 2 ** 31;
    };
    return { next, pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]! };
  }

  const layouts = [
    { eol: '\n', indent: '  ', pretty: true },
    { eol: '\r\n', indent: '\t', pretty: true },
    { eol: '\n', indent: '    ', pretty: true },
    { eol: '\n', indent: '', pretty: false },
  ];

  /** A task list as text in one layout, each task with members we do not own (numbers JSON.parse cannot hold). */
  function documentText(random: ReturnType<typeof generator>, count: number): string {
    const layout = random.pick(layouts);
    const { eol, indent } = layout;
    const todos = Array.from({ length: count }, (_, n) => {
      const members = [
        `"id": "t${n}"`,
        `"title": "T${n} \\u00e9"`,
        `"done": ${random.next() < 0.5}`,
        `"createdAt": "${T0}"`,
        `"updatedAt": "${T0}"`,
      ];
      if (random.next() < 0.5) members.push(`"ref": 1234567890123456789${n}`, `"x": 1e40${n}`);
      if (random.next() < 0.3) members.push(`"notes": "n${n}"`);
      return random.next() < 0.5 || !layout.pretty
        ? `{${members.join(', ')}}`
        : `{${eol}${indent}${indent}${indent}${members.join(`,${eol}${indent}${indent}${indent}`)}${eol}${indent}${indent}}`;
    });
    if (!layout.pretty) return `{"version":1,"big":9007199254740993,"tasks":[${todos.join(',')}]}`;
    const list =
      todos.length === 0 ? '[]' : `[${eol}${indent}${indent}${todos.join(`,${eol}${indent}${indent}`)}${eol}${indent}]`;
    return `{${eol}${indent}"version": 1,${eol}${indent}"big": 9007199254740993,${eol}${indent}"tasks": ${list}${eol}}${eol}`;
  }

  function randomEdit(random: ReturnType<typeof generator>, document: TodosDocument, serial: number): TodoEdit {
    const existing = document.tasks.map((t) => t.id);
    const some = () => (existing.length > 0 && random.next() < 0.9 ? random.pick(existing) : 'gone');
    switch (random.pick(['add', 'update', 'remove', 'move'] as const)) {
      case 'add':
        return addTodoEdit(`new ${serial} \ud800 "q"`, { now: new Date(T1), newId: () => `n${serial}` });
      case 'update':
        return updateTodoEdit(
          some(),
          { done: random.next() < 0.5, notes: random.pick([undefined, null, `note ${serial}`]) },
          new Date(T1),
        );
      case 'remove':
        return { kind: 'remove', id: some() };
      case 'move':
        return { kind: 'move', id: some(), beforeId: random.next() < 0.3 ? null : some() };
    }
  }

  const rawTodo = (text: string, index: number) => {
    const node = findNodeAtLocation(parseTree(text)!, ['tasks', index])!;
    return text.slice(node.offset, node.offset + node.length);
  };

  test('500 random edit batches on random layouts: the text reads back as the edited list, untouched tasks keep their bytes', () => {
    for (let seed = 1; seed <= 500; seed++) {
      const random = generator(seed);
      const text = documentText(random, Math.floor(random.next() * 6));
      const before = JSON.parse(text) as TodosDocument;
      const after = structuredClone(before);
      for (let n = 0; n < 1 + Math.floor(random.next() * 5); n++)
        applyTodoEdit(after, randomEdit(random, after, n), false);
      const edited = editTodosText(text, before, after);
      assert.deepEqual(JSON.parse(edited), after, `seed ${seed}`);
      assert.ok(edited.includes('9007199254740993'), `seed ${seed}: a member we do not own`);
      assert.equal(edited.includes('\r\n'), text.includes('\r\n'), `seed ${seed}: line endings`);
      if (text.includes('\r\n')) assert.ok(!/[^\r]\n/.test(edited), `seed ${seed}: a bare LF in a CRLF file`);
      after.tasks.forEach((todo: Todo, index: number) => {
        const was = before.tasks.findIndex((old) => old.id === todo.id);
        if (was >= 0 && JSON.stringify(before.tasks[was]) === JSON.stringify(todo)) {
          assert.equal(rawTodo(edited, index), rawTodo(text, was), `seed ${seed}: task ${todo.id} untouched`);
        }
      });
    }
  });
});
