import * as assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { type FsLike, nodeFs } from '../../src/core/fs';
import { DocumentChangedError, lockPathFor } from '../../src/core/lock/fileLock';
import { LOCK_OWNER_FILE, ownerRecordFor } from '../../src/core/lock/lockOwner';
import { OUR_TEMP_PATTERN, ourTempPath } from '../../src/core/names/tempNames';
import { recogniseTemp } from '../../src/core/names/tempPatterns';
import { AtomicWriteError } from '../../src/core/write/atomicWrite';
import { addTodoEdit, type NewTodoOptions, type TodoEdit, updateTodoEdit } from '../../src/state/todoEdits';
import { InvalidTodoError, TodoNotFoundError, TodosDocumentError } from '../../src/state/todoErrors';
import { recoverTodos, todosRecoveryCandidates } from '../../src/state/todosRecovery';
import { type Todo, todosDocumentProblems } from '../../src/state/todosSchema';
import { DEFAULT_TODOS_RELATIVE_PATH, TodosStore, todosPathFor } from '../../src/state/todosStore';

const T0 = '2024-05-01T10:00:00.000Z';
const T1 = '2024-05-01T11:00:00.000Z';

function errno(code: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected, open '${path}'`), { code });
}

/** The real fs, counting renames onto `target` (one per completed atomic write) and failing opens on demand. */
function instrumentedFs(target: string) {
  const counts = { targetWrites: 0, fsyncDirs: 0 };
  const failures = { openMatching: undefined as RegExp | undefined };
  const fs: FsLike = {
    ...nodeFs,
    async open(path, flags, mode) {
      if (failures.openMatching?.test(path)) throw errno('ENOSPC', path);
      return nodeFs.open(path, flags, mode);
    },
    async rename(from, to) {
      await nodeFs.rename(from, to);
      if (resolve(to) === target) counts.targetWrites += 1;
    },
    async fsyncDir(path) {
      counts.fsyncDirs += 1;
      await nodeFs.fsyncDir(path);
    },
  };
  return { fs, counts, failures };
}

/** One edit through the store's single entry point; resolves with its task as saved. */
async function applyOne(store: TodosStore, edit: TodoEdit): Promise<Todo | undefined> {
  const [todo] = await store.apply([edit]);
  return todo;
}

/** Adds a task as the CLI does. */
async function add(store: TodosStore, title: string, options?: NewTodoOptions): Promise<Todo> {
  return (await applyOne(store, addTodoEdit(title, options)))!;
}

/** A clock that advances one second per reading. */
function clockFrom(start: string): () => Date {
  let clock = Date.parse(start);
  return () => {
    clock += 1000;
    return new Date(clock);
  };
}

/** Every file under `dir`, relative, sorted — to prove a refused write touched nothing. */
function listTree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

suite('tasks store', () => {
  let workspace: string;
  let path: string;
  setup(() => {
    workspace = mkdtempSync(join(tmpdir(), 'cs-tasks-'));
    path = todosPathFor(workspace);
  });
  teardown(() => rmSync(workspace, { recursive: true, force: true }));

  test('the default location is .vscode/crash-safe/tasks.json; a custom relative path is honoured', () => {
    assert.equal(path, join(workspace, '.vscode', 'crash-safe', 'tasks.json'));
    assert.equal(DEFAULT_TODOS_RELATIVE_PATH, '.vscode/crash-safe/tasks.json');
    assert.equal(todosPathFor(workspace, 'notes/todo.json'), join(workspace, 'notes', 'todo.json'));
  });

  test('a task list with a byte-order mark is read, and an edit keeps the BOM (one BOM rule with scan and recover)', async () => {
    const store = new TodosStore(path);
    await add(store, 'first');
    writeFileSync(path, `\ufeff${readFileSync(path, 'utf8')}`);
    assert.deepEqual(
      (await store.list()).map((todo) => todo.title),
      ['first'],
    );
    await add(store, 'second');
    const text = readFileSync(path, 'utf8');
    assert.equal(text.charCodeAt(0), 0xfeff, 'the BOM is kept');
    assert.deepEqual(
      JSON.parse(text.slice(1)).tasks.map((todo: Todo) => todo.title),
      ['first', 'second'],
    );
    await store.flush();
    writeFileSync(path, text.slice(1));
    await add(store, 'third');
    assert.notEqual(readFileSync(path, 'utf8').charCodeAt(0), 0xfeff, 'no BOM is added to a file without one');
  });

  test('a missing document reads as an empty list and reading creates nothing', async () => {
    const store = new TodosStore(path);
    const result = await store.read();
    assert.equal(result.state, 'ok');
    assert.ok(result.state === 'ok' && !result.exists && result.document.tasks.length === 0);
    assert.deepEqual(await store.list(), []);
    assert.equal(existsSync(join(workspace, '.vscode')), false);
  });

  test('add creates the folder and a valid v1 document; list returns tasks in order', async () => {
    const store = new TodosStore(path);
    const clock = clockFrom(T0);
    const first = await add(store, '  Write the README  ', { now: clock() });
    const second = await add(store, 'Ship it', { notes: 'after review' });
    assert.equal(first.title, 'Write the README', 'titles are trimmed');
    assert.match(first.id, /^[0-9a-f]{8}$/);
    assert.equal(first.done, false);
    assert.equal(first.createdAt, '2024-05-01T10:00:01.000Z');
    assert.equal(second.notes, 'after review');
    const onDisk = JSON.parse(readFileSync(path, 'utf8'));
    assert.equal(onDisk.version, 1);
    assert.deepEqual(todosDocumentProblems(onDisk), []);
    assert.deepEqual(
      (await store.list()).map((t) => t.title),
      ['Write the README', 'Ship it'],
    );
    assert.equal(existsSync(lockPathFor(path)), false, 'the lock is released');
  });

  test('an empty title is refused (InvalidTodoError) before anything is queued, and by apply itself', async () => {
    const store = new TodosStore(path);
    assert.throws(() => addTodoEdit('   '), InvalidTodoError);
    assert.throws(() => updateTodoEdit('abcd1234', { title: ' ' }), InvalidTodoError);
    const bad = { id: 'abcd1234', title: '', done: false, createdAt: T0, updatedAt: T0 };
    await assert.rejects(store.apply([{ kind: 'add', todo: bad }]), InvalidTodoError);
    assert.equal(existsSync(path), false);
  });

  test('update, move and remove; updatedAt moves only on a real change', async () => {
    const store = new TodosStore(path);
    const clock = clockFrom(T0);
    const a = await add(store, 'a', { now: clock() });
    const b = await add(store, 'b', { now: clock() });
    const c = await add(store, 'c', { now: clock() });
    const doneA = (await applyOne(store, updateTodoEdit(a.id, { done: true }, clock())))!;
    assert.equal(doneA.done, true);
    assert.notEqual(doneA.updatedAt, a.updatedAt);
    const unchanged = (await applyOne(store, updateTodoEdit(a.id, { done: true }, clock())))!;
    assert.equal(unchanged.updatedAt, doneA.updatedAt);
    const renamed = (await applyOne(store, updateTodoEdit(b.id, { title: 'bee', notes: 'buzz' })))!;
    assert.deepEqual([renamed.title, renamed.notes], ['bee', 'buzz']);
    const cleared = (await applyOne(store, updateTodoEdit(b.id, { notes: null })))!;
    assert.equal('notes' in cleared, false);
    await applyOne(store, { kind: 'move', id: c.id, beforeId: a.id });
    assert.deepEqual(
      (await store.list()).map((t) => t.id),
      [c.id, a.id, b.id],
    );
    await applyOne(store, { kind: 'move', id: c.id, beforeId: null });
    assert.deepEqual(
      (await store.list()).map((t) => t.id),
      [a.id, b.id, c.id],
    );
    const removed = await applyOne(store, { kind: 'remove', id: a.id });
    assert.equal(removed?.id, a.id);
    assert.deepEqual(
      (await store.list()).map((t) => t.title),
      ['bee', 'c'],
    );
    assert.equal((await applyOne(store, updateTodoEdit(c.id, { done: false })))!.done, false);
  });

  test('apply takes several edits all or nothing, in one write', async () => {
    const store = new TodosStore(path);
    const [x, y] = await store.apply([addTodoEdit('x'), addTodoEdit('y')]);
    assert.deepEqual(store.stats, { batches: 1, saves: 1 });
    const before = readFileSync(path, 'utf8');
    await assert.rejects(
      store.apply([{ kind: 'remove', id: x!.id }, updateTodoEdit('missing1', { done: true })]),
      TodoNotFoundError,
    );
    assert.equal(readFileSync(path, 'utf8'), before, 'the remove before the failing edit was not written');
    await store.apply([{ kind: 'move', id: y!.id, beforeId: x!.id }, updateTodoEdit(x!.id, { done: true })]);
    assert.deepEqual(
      (await store.list()).map((t) => [t.title, t.done]),
      [
        ['y', false],
        ['x', true],
      ],
    );
  });

  test('find: exact id, or a unique prefix of at least 4 characters; otherwise TodoNotFoundError', async () => {
    const store = new TodosStore(path);
    for (const id of ['abcd1111', 'abcd2222', 'ffff0000']) await add(store, `task ${id}`, { newId: () => id });
    assert.equal((await store.find('ffff')).id, 'ffff0000');
    assert.equal((await store.find('abcd2')).id, 'abcd2222');
    assert.equal((await store.find('abcd1111')).id, 'abcd1111');
    await assert.rejects(
      store.find('abcd'),
      (e: TodoNotFoundError) => e.matches.length === 2 && /several/.test(e.message),
    );
    await assert.rejects(store.find('fff'), TodoNotFoundError, 'three characters are too few for a prefix');
    await assert.rejects(
      store.find('nope'),
      (e: unknown) => e instanceof TodoNotFoundError && e.message.includes(path),
    );
    assert.equal((await store.list()).length, 3);
  });

  test('an add whose id another writer took meanwhile is kept under a distinct id, which apply returns', async () => {
    const store = new TodosStore(path);
    await add(store, 'first', { newId: () => 'same0000' });
    const second = await add(store, 'second', { newId: () => 'same0000' });
    assert.equal(second.id, 'same0000-2');
    assert.deepEqual(
      (await store.list()).map((t) => [t.id, t.title]),
      [
        ['same0000', 'first'],
        ['same0000-2', 'second'],
      ],
    );
  });

  test('coalescing: 30 edits queued at once cost one write and all resolve', async () => {
    const { fs, counts } = instrumentedFs(path);
    const store = new TodosStore(path, { fs });
    const added = await Promise.all(Array.from({ length: 30 }, (_, i) => add(store, `task ${i}`)));
    assert.equal(new Set(added.map((t) => t.id)).size, 30);
    assert.equal(counts.targetWrites, 1);
    assert.deepEqual(store.stats, { batches: 1, saves: 1 });
    assert.equal((await store.list()).length, 30);
  });

  test('coalescing: edits arriving while a write is in flight share the next write', async () => {
    const { fs, counts } = instrumentedFs(path);
    const store = new TodosStore(path, { fs });
    const first = add(store, 'first');
    await new Promise((r) => setTimeout(r, 1)); // The first batch is under way (waiting for or holding the lock).
    const more = Array.from({ length: 10 }, (_, i) => add(store, `more ${i}`));
    await Promise.all([first, ...more]);
    assert.ok(counts.targetWrites <= 2, `${counts.targetWrites} writes for 11 edits`);
    assert.equal((await store.list()).length, 11);
  });

  test('a failing edit inside a batch rejects alone; the others are written', async () => {
    const store = new TodosStore(path);
    const outcomes = await Promise.allSettled([
      add(store, 'kept'),
      applyOne(store, updateTodoEdit('missing1', { done: true })),
      add(store, 'also kept'),
    ]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.deepEqual(
      (await store.list()).map((t) => t.title),
      ['kept', 'also kept'],
    );
  });

  test('two stores (two queues) on one file in one process lose nothing: the lock serialises them', async () => {
    const one = new TodosStore(path);
    const two = new TodosStore(path);
    await Promise.all(Array.from({ length: 20 }, (_, i) => [add(one, `one ${i}`), add(two, `two ${i}`)]).flat());
    const titles = (await one.list()).map((t) => t.title);
    assert.equal(titles.length, 40);
    for (let i = 0; i < 20; i++) assert.ok(titles.includes(`one ${i}`) && titles.includes(`two ${i}`));
  });

  suite('compare-before-rename: a file changed after the load is never overwritten', () => {
    /** A task written by a writer that ignores the lock (a hand edit, an old build, a git checkout). */
    function outsideTodo(id: string) {
      return { id, title: `outside ${id}`, done: false, createdAt: T0, updatedAt: T0 };
    }

    /** The real fs; after `times` loads of the document it rewrites the file behind the store's back. */
    function sneakyFs(times: number, how: 'replace' | 'in-place') {
      let left = times;
      let n = 0;
      const fs: FsLike = {
        ...nodeFs,
        async readFile(file) {
          const bytes = await nodeFs.readFile(file);
          if (left > 0 && resolve(file) === path) {
            left -= 1;
            const document = JSON.parse(bytes.toString('utf8'));
            document.tasks.push(outsideTodo(`sneak${++n}`));
            if (how === 'replace') {
              writeFileSync(`${path}.outside`, JSON.stringify(document));
              renameSync(`${path}.outside`, path);
            } else writeFileSync(path, JSON.stringify(document));
          }
          return bytes;
        },
      };
      return fs;
    }

    test('replaced between load and save: the edit is re-applied to the new file, both kept', async () => {
      await add(new TodosStore(path), 'first');
      const store = new TodosStore(path, { fs: sneakyFs(1, 'replace') });
      await add(store, 'mine');
      assert.deepEqual(
        (await store.list()).map((t) => t.title),
        ['first', 'outside sneak1', 'mine'],
      );
      assert.deepEqual(store.stats, { batches: 2, saves: 1 });
    });

    test('edited in place on every load: the edit fails naming the file, the outside edits stay', async () => {
      await add(new TodosStore(path), 'first');
      const store = new TodosStore(path, { fs: sneakyFs(Number.POSITIVE_INFINITY, 'in-place') });
      await assert.rejects(
        add(store, 'mine'),
        (e: unknown) => e instanceof DocumentChangedError && e.message.includes(path),
      );
      const titles = JSON.parse(readFileSync(path, 'utf8')).tasks.map((t: { title: string }) => t.title);
      assert.deepEqual(titles, ['first', 'outside sneak1', 'outside sneak2', 'outside sneak3']);
      assert.deepEqual(
        readdirSync(dirname(path)).filter((name) => OUR_TEMP_PATTERN.test(name)),
        [],
        'no temp left',
      );
    });

    test('created while the first write was under way (no file when loaded): not overwritten', async () => {
      let created = false;
      const fs: FsLike = {
        ...nodeFs,
        async open(file, flags, mode) {
          if (!created && OUR_TEMP_PATTERN.test(basename(file))) {
            created = true;
            writeFileSync(path, JSON.stringify({ version: 1, tasks: [outsideTodo('early1')] }));
          }
          return nodeFs.open(file, flags, mode);
        },
      };
      const store = new TodosStore(path, { fs });
      await add(store, 'mine');
      assert.deepEqual(
        (await store.list()).map((t) => t.title),
        ['outside early1', 'mine'],
      );
    });

    test('a lock lost while the write is under way (after the early check) stops the rename; the edit is redone', async () => {
      await add(new TodosStore(path), 'first');
      let stolen = false;
      const fs: FsLike = {
        ...nodeFs,
        async open(file, flags, mode) {
          if (!stolen && OUR_TEMP_PATTERN.test(basename(file))) {
            // Another holder replaces our lock while we write the temp; it releases a moment later.
            stolen = true;
            const lockPath = lockPathFor(path);
            rmSync(lockPath, { recursive: true });
            mkdirSync(lockPath);
            writeFileSync(join(lockPath, LOCK_OWNER_FILE), JSON.stringify(ownerRecordFor('thief')));
            setTimeout(() => rmSync(lockPath, { recursive: true, force: true }), 100);
          }
          return nodeFs.open(file, flags, mode);
        },
      };
      const store = new TodosStore(path, { fs });
      await add(store, 'mine');
      assert.equal(stolen, true);
      assert.deepEqual(store.stats, { batches: 2, saves: 1 });
      assert.deepEqual(
        (await store.list()).map((t) => t.title),
        ['first', 'mine'],
      );
    });
  });

  suite('an unusable document is never replaced', () => {
    const corruptText = '{\n  "version": 1,\n  "tasks": [ {"id": "x",, }\n';

    async function assertRefusedAndUntouched(
      text: string | Buffer,
      kind: string,
      check?: (e: TodosDocumentError) => void,
    ) {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, text);
      const before = listTree(workspace);
      const store = new TodosStore(path);
      const read = await store.read();
      assert.equal(read.state, 'problem');
      assert.equal(read.state === 'problem' && read.problem.kind, kind);
      const attempts = [
        () => add(store, 'new'),
        () => applyOne(store, updateTodoEdit('x', { done: true })),
        () => applyOne(store, { kind: 'remove', id: 'x' }),
        () => store.list(),
        () => store.find('x'),
      ];
      for (const attempt of attempts) {
        await assert.rejects(attempt(), (e: unknown) => {
          assert.ok(e instanceof TodosDocumentError, String(e));
          assert.equal(e.problem.kind, kind);
          assert.ok(e.message.includes(path), e.message);
          assert.match(e.message, /Nothing was written/);
          check?.(e);
          return true;
        });
      }
      assert.deepEqual(readFileSync(path), Buffer.from(text), 'the file is byte-identical');
      assert.deepEqual(listTree(workspace), before, 'no temp, backup or default was written');
    }

    test('corrupt JSON: refused with line:column, file untouched', async () => {
      await assertRefusedAndUntouched(corruptText, 'corrupt', (e) => {
        assert.deepEqual([e.problem.position?.line, e.problem.position?.column], [3, 25]);
        assert.match(e.message, /line 3, column 25/);
      });
    });

    test('two "tasks" keys: corrupt at the second one (JSON.parse would drop the first list), untouched', async () => {
      const twoLists = `{\n  "version": 1,\n  "tasks": [${JSON.stringify({ id: 'first', title: 'kept?', done: false, createdAt: T0, updatedAt: T0 })}],\n  "tasks": []\n}\n`;
      await assertRefusedAndUntouched(twoLists, 'corrupt', (e) => {
        assert.deepEqual([e.problem.position?.line, e.problem.position?.column], [4, 3]);
        assert.match(e.message, /duplicate key "tasks" at line 4, column 3/);
      });
    });

    test('a key twice inside a task, or spelled once escaped ("d\\u006fne"), is corrupt too', async () => {
      const todo = `"id": "x", "title": "t", "createdAt": "${T0}", "updatedAt": "${T0}"`;
      await assertRefusedAndUntouched(
        `{"version": 1, "tasks": [{${todo}, "done": true, "done": false}]}`,
        'corrupt',
        (e) => {
          assert.match(e.message, /duplicate key "done"/);
        },
      );
      await assertRefusedAndUntouched(
        `{"version": 1, "tasks": [{${todo}, "done": true, "d\\u006fne": false}]}`,
        'corrupt',
        (e) => {
          assert.match(e.message, /duplicate key "done"/);
        },
      );
    });

    test('a title holding a byte that is not UTF-8: corrupt at its line and column, never rewritten as U+FFFD', async () => {
      const bytes = Buffer.concat([
        Buffer.from(`{\n  "version": 1,\n  "tasks": [{"id": "x", "title": "caf`),
        Buffer.from([0xe9]),
        Buffer.from(`", "done": false, "createdAt": "${T0}", "updatedAt": "${T0}"}]\n}\n`),
      ]);
      await assertRefusedAndUntouched(bytes, 'corrupt', (e) => {
        assert.deepEqual([e.problem.position?.line, e.problem.position?.column], [3, 38]);
        assert.match(e.message, /invalid UTF-8 \(byte 0xE9\) at line 3, column 38/);
      });
    });

    test('comments and a trailing comma are not strict JSON: refused, untouched', async () => {
      await assertRefusedAndUntouched('{\n  // mine\n  "version": 1,\n  "tasks": []\n}\n', 'corrupt');
      await assertRefusedAndUntouched('{"version": 1, "tasks": [],}\n', 'corrupt');
    });

    test('an empty (truncated) file: refused, untouched', async () => {
      await assertRefusedAndUntouched('', 'empty');
    });

    test('valid JSON that fails the schema: refused with the schema problems', async () => {
      await assertRefusedAndUntouched('{"version": 1, "tasks": [{"id": "x", "title": ""}]}\n', 'invalid', (e) => {
        assert.ok(e.problem.details.some((d) => d.includes('/tasks/0')));
      });
    });

    test('a newer format version: refused, untouched', async () => {
      await assertRefusedAndUntouched('{"version": 9, "tasks": [], "future": true}\n', 'unsupported-version');
    });

    test('a document that turns corrupt between edits stops further writes', async () => {
      const store = new TodosStore(path);
      await add(store, 'before');
      writeFileSync(path, '{"version": 1, "tasks": [');
      await assert.rejects(add(store, 'after'), TodosDocumentError);
      assert.equal(readFileSync(path, 'utf8'), '{"version": 1, "tasks": [');
    });
  });

  test('an unversioned (v0) file is read migrated and written as v1 on the first edit, ids kept', async () => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(
      path,
      JSON.stringify([
        { title: 'old one', done: true },
        { id: 'kept', title: 'old two' },
      ]),
    );
    const store = new TodosStore(path);
    const read = await store.read();
    assert.ok(read.state === 'ok' && read.migratedFrom === 0);
    assert.ok(Array.isArray(JSON.parse(readFileSync(path, 'utf8'))), 'reading alone does not rewrite');
    const listed = await store.list();
    assert.deepEqual(
      listed.map((t) => t.id),
      ['legacy-1', 'kept'],
    );
    await applyOne(store, updateTodoEdit('legacy-1', { done: false }));
    const onDisk = JSON.parse(readFileSync(path, 'utf8'));
    assert.equal(onDisk.version, 1);
    assert.deepEqual(todosDocumentProblems(onDisk), []);
    assert.deepEqual(
      onDisk.tasks.map((t: { id: string; done: boolean }) => [t.id, t.done]),
      [
        ['legacy-1', false],
        ['kept', false],
      ],
    );
  });

  suite('lossless edits: only what an edit changes is rewritten', () => {
    const BIG = '12345678901234567890';
    const BEYOND_DOUBLE = '9007199254740993';
    const HUGE = '1e400';
    const todoText = (id: string, extra = '') =>
      `{"id": "${id}", "title": "${id.toUpperCase()}", "done": false, "createdAt": "${T0}", "updatedAt": "${T0}"${extra}}`;
    const newTodo = { now: new Date(T1), newId: () => 'nnnn0001' };

    function seed(text: string | Buffer): void {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, text);
    }

    test('tasks add keeps 12345678901234567890, 9007199254740993 and 1e400 in members we do not own, byte for byte', async () => {
      const original = [
        '{',
        '  "version": 1,',
        `  "sync": { "revision": ${BIG}, "cursor": ${BEYOND_DOUBLE}, "limit": ${HUGE}, "ratio": 1.50, "esc": "\\u00e9" },`,
        '  "tasks": [',
        `    ${todoText('a1', `, "estimate": ${HUGE}, "ref": ${BIG}`)}`,
        '  ]',
        '}',
        '',
      ].join('\n');
      seed(original);
      const store = new TodosStore(path);
      await add(store, 'new one', newTodo);
      const inserted = [
        ',',
        '    {',
        '      "id": "nnnn0001",',
        '      "title": "new one",',
        '      "done": false,',
        `      "createdAt": "${T1}",`,
        `      "updatedAt": "${T1}"`,
        '    }',
      ].join('\n');
      const afterFirstTodo = original.indexOf('\n  ]');
      assert.equal(
        readFileSync(path, 'utf8'),
        original.slice(0, afterFirstTodo) + inserted + original.slice(afterFirstTodo),
      );
    });

    test('an update of a task rewrites only the members it changes; its unknown members keep their bytes', async () => {
      seed(
        `{"version": 1, "tasks": [\n  ${todoText('a1', `, "estimate": ${HUGE}, "ref": ${BIG}`)},\n  ${todoText('b2')}\n]}\n`,
      );
      const store = new TodosStore(path);
      await applyOne(store, updateTodoEdit('a1', { done: true, notes: 'see ref' }, new Date(T1)));
      assert.equal(
        readFileSync(path, 'utf8'),
        `{"version": 1, "tasks": [\n  {"id": "a1", "title": "A1", "done": true, "createdAt": "${T0}", "updatedAt": "${T1}", "estimate": ${HUGE}, "ref": ${BIG}, "notes": "see ref"},\n  ${todoText('b2')}\n]}\n`,
      );
      await applyOne(store, updateTodoEdit('a1', { notes: null }, new Date(T1)));
      assert.equal(
        readFileSync(path, 'utf8'),
        `{"version": 1, "tasks": [\n  {"id": "a1", "title": "A1", "done": true, "createdAt": "${T0}", "updatedAt": "${T1}", "estimate": ${HUGE}, "ref": ${BIG}},\n  ${todoText('b2')}\n]}\n`,
      );
    });

    test("a move keeps the moved task's own bytes; a remove takes out only its task", async () => {
      const [a, b, c] = [todoText('a1', `, "n": ${BIG}`), todoText('b2'), todoText('c3', `, "n": ${BEYOND_DOUBLE}`)];
      seed(`{\n  "version": 1,\n  "tasks": [\n    ${a},\n    ${b},\n    ${c}\n  ]\n}\n`);
      const store = new TodosStore(path);
      await applyOne(store, { kind: 'move', id: 'a1', beforeId: null });
      assert.equal(
        readFileSync(path, 'utf8'),
        `{\n  "version": 1,\n  "tasks": [\n    ${b},\n    ${c},\n    ${a}\n  ]\n}\n`,
      );
      await applyOne(store, { kind: 'remove', id: 'c3' });
      assert.equal(readFileSync(path, 'utf8'), `{\n  "version": 1,\n  "tasks": [\n    ${b},\n    ${a}\n  ]\n}\n`);
    });

    test("CRLF, tab indentation and a BOM are kept; a new task takes the file's style", async () => {
      const lines = (...parts: string[]) => parts.join('\r\n');
      const a = lines(
        '\t\t{',
        '\t\t\t"id": "a1",',
        '\t\t\t"title": "A1",',
        '\t\t\t"done": false,',
        `\t\t\t"createdAt": "${T0}",`,
        `\t\t\t"updatedAt": "${T0}"`,
        '\t\t}',
      );
      const b = `\t\t${todoText('b2', `, "n": ${BIG}`)}`;
      seed(`\ufeff${lines('{', '\t"version": 1,', '\t"tasks": [', `${a},`, b, '\t]', '}', '')}`);
      const store = new TodosStore(path);
      await add(store, 'new', newTodo);
      await applyOne(store, { kind: 'remove', id: 'a1' });
      const added = lines(
        '\t\t{',
        '\t\t\t"id": "nnnn0001",',
        '\t\t\t"title": "new",',
        '\t\t\t"done": false,',
        `\t\t\t"createdAt": "${T1}",`,
        `\t\t\t"updatedAt": "${T1}"`,
        '\t\t}',
      );
      assert.equal(
        readFileSync(path, 'utf8'),
        `\ufeff${lines('{', '\t"version": 1,', '\t"tasks": [', `${b},`, added, '\t]', '}', '')}`,
      );
    });

    test('a file written by someone else is kept byte for byte as a backup generation before the first edit', async () => {
      const original = `{"version":1,"tasks":[${todoText('a1', `, "n": ${BIG}`)}],"x":${HUGE}}`;
      seed(original);
      const store = new TodosStore(path);
      await add(store, 'one', newTodo);
      const backupDir = join(dirname(path), 'backups');
      assert.deepEqual(readdirSync(backupDir).sort(), ['tasks.json.bak-1', 'tasks.json.bak-2']);
      assert.equal(readFileSync(join(backupDir, 'tasks.json.bak-1'), 'utf8'), original, 'the original');
      assert.equal(
        readFileSync(join(backupDir, 'tasks.json.bak-2'), 'utf8'),
        readFileSync(path, 'utf8'),
        'what was written',
      );
      await add(store, 'two', { now: new Date(T1), newId: () => 'nnnn0002' });
      assert.equal(readdirSync(backupDir).length, 3, 'a file we wrote ourselves is not kept twice');
    });

    test('a FIFO as the newest backup generation neither hangs an edit nor stops the original being kept', async () => {
      const original = `{"version": 1, "tasks": [${todoText('a1')}]}`;
      seed(original);
      const backupDir = join(dirname(path), 'backups');
      mkdirSync(backupDir);
      (await import('node:child_process')).execFileSync('mkfifo', [join(backupDir, 'tasks.json.bak-3')]);
      const store = new TodosStore(path);
      await add(store, 'one', newTodo);
      assert.equal(readFileSync(join(backupDir, 'tasks.json.bak-4'), 'utf8'), original);
      assert.equal(readFileSync(join(backupDir, 'tasks.json.bak-5'), 'utf8'), readFileSync(path, 'utf8'));
    });

    test('v0 migration is an edit too: members and numbers kept, "version" added first, the original kept as a backup', async () => {
      const original = `[\n  {"title": "old", "ref": ${BIG}},\n  {"id": "keep", "title": "two", "done": true, "createdAt": "${T0}", "size": ${HUGE}}\n]\n`;
      seed(original);
      const stamp = new Date('2024-04-01T00:00:00.000Z');
      (await import('node:fs')).utimesSync(path, stamp, stamp);
      const store = new TodosStore(path);
      await applyOne(store, updateTodoEdit('keep', { done: false }, new Date(T1)));
      const migratedOld = `{"title": "old", "ref": ${BIG}, "id": "legacy-1", "done": false, "createdAt": "${stamp.toISOString()}", "updatedAt": "${stamp.toISOString()}"}`;
      const migratedKeep = `{"id": "keep", "title": "two", "done": false, "createdAt": "${T0}", "size": ${HUGE}, "updatedAt": "${T1}"}`;
      assert.equal(
        readFileSync(path, 'utf8'),
        `{\n  "version": 1,\n  "tasks": [\n    ${migratedOld},\n    ${migratedKeep}\n  ]\n}\n`,
      );
      assert.equal(readFileSync(join(dirname(path), 'backups', 'tasks.json.bak-1'), 'utf8'), original);
      const objectForm = `{"owner": ${BIG}, "tasks": [{"id": "x1", "title": "t"}]}`;
      writeFileSync(path, objectForm);
      (await import('node:fs')).utimesSync(path, stamp, stamp);
      await applyOne(store, updateTodoEdit('x1', { done: true }, new Date(T1)));
      assert.equal(
        readFileSync(path, 'utf8'),
        `{"version": 1, "owner": ${BIG}, "tasks": [{"id": "x1", "title": "t", "done": true, "createdAt": "${stamp.toISOString()}", "updatedAt": "${T1}"}]}`,
      );
    });

    test("a removed to-do put back as the view's Undo does (its value re-added) gets its own bytes back", async () => {
      const original = `{\n  "version": 1,\n  "tasks": [\n    ${todoText('a1', `, "ref": ${BIG}, "size": ${HUGE}`)},\n    ${todoText('b2')}\n  ]\n}\n`;
      seed(original);
      const store = new TodosStore(path);
      const [removed] = await store.list();
      await applyOne(store, { kind: 'remove', id: 'a1' });
      await store.apply([
        { kind: 'add', todo: structuredClone(removed!) },
        { kind: 'move', id: 'a1', beforeId: 'b2' },
      ]);
      assert.equal(readFileSync(path, 'utf8'), original);
    });

    test('recovery puts a backup back byte for byte', async () => {
      const backup = `{ "version": 1, "tasks": [ ${todoText('a1', `, "n": ${BIG}`)} ], "x": ${HUGE} }`;
      mkdirSync(join(dirname(path), 'backups'), { recursive: true });
      writeFileSync(join(dirname(path), 'backups', 'tasks.json.bak-1'), backup);
      seed('{"version": 1, "tasks": [');
      const store = new TodosStore(path);
      await recoverTodos(store);
      assert.equal(readFileSync(path, 'utf8'), backup);
    });

    test('attacks: __proto__ members, escaped lone surrogates and a title that needs escapes survive every kind of edit', async () => {
      const odd = todoText('a1', ', "__proto__": {"done": true}, "s": "\\ud800\\udc00\\ud800"');
      const original = `{"version": 1, "__proto__": ${BIG}, "tasks": [${odd}, ${todoText('b2')}]}`;
      seed(original);
      const store = new TodosStore(path);
      await applyOne(store, { kind: 'move', id: 'a1', beforeId: null });
      await add(store, '\ud800 "quoted" \u2028 end', newTodo);
      await applyOne(store, { kind: 'remove', id: 'nnnn0001' });
      await applyOne(store, { kind: 'move', id: 'a1', beforeId: 'b2' });
      assert.equal(readFileSync(path, 'utf8'), original, 'every edit undone: the same bytes');
      await add(store, '\ud800 "quoted" \u2028 end', newTodo);
      const text = readFileSync(path, 'utf8');
      assert.ok(text.includes('"title":"\\ud800 \\"quoted\\" \u2028 end"'), text);
      assert.deepEqual(
        readFileSync(path),
        Buffer.from(text, 'utf8'),
        'valid UTF-8 on disk: the lone surrogate is escaped',
      );
      assert.equal((await store.list()).at(-1)!.title, '\ud800 "quoted" \u2028 end');
    });
  });

  test('every write keeps a backup generation of what was written; old generations are pruned', async () => {
    const store = new TodosStore(path, { backupsToKeep: 3 });
    for (let i = 0; i < 7; i++) await add(store, `task ${i}`);
    const backupDir = join(dirname(path), 'backups');
    assert.deepEqual(readdirSync(backupDir).sort(), ['tasks.json.bak-5', 'tasks.json.bak-6', 'tasks.json.bak-7']);
    assert.equal(readFileSync(join(backupDir, 'tasks.json.bak-7'), 'utf8'), readFileSync(path, 'utf8'));
    assert.equal(JSON.parse(readFileSync(join(backupDir, 'tasks.json.bak-5'), 'utf8')).tasks.length, 5);
    assert.equal(
      readdirSync(backupDir).some((name) => OUR_TEMP_PATTERN.test(name)),
      false,
    );
  });

  test('a backup that cannot be written warns but the edit still succeeds', async () => {
    const { fs, failures } = instrumentedFs(path);
    const warnings: string[] = [];
    const store = new TodosStore(path, { fs, onWarning: (m) => warnings.push(m) });
    failures.openMatching = /backups/;
    const todo = await add(store, 'durable anyway');
    assert.equal((await store.list())[0]!.id, todo.id);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /backup/);
  });

  test('a write that fails (ENOSPC) rejects, leaves the document as it was and no temp behind', async () => {
    const { fs, failures } = instrumentedFs(path);
    const store = new TodosStore(path, { fs });
    await add(store, 'safe');
    const before = readFileSync(path, 'utf8');
    failures.openMatching = /tasks\.json\.cs-/;
    await assert.rejects(
      add(store, 'lost to a full disk'),
      (e: unknown) => e instanceof AtomicWriteError && e.code === 'ENOSPC',
    );
    assert.equal(readFileSync(path, 'utf8'), before);
    assert.equal(
      readdirSync(dirname(path)).some((name) => OUR_TEMP_PATTERN.test(name)),
      false,
    );
    failures.openMatching = undefined;
    await add(store, 'after the disk was freed');
    assert.equal((await store.list()).length, 2);
  });

  test('durability "fast" skips directory fsyncs; "full" (default) makes them', async () => {
    const fast = instrumentedFs(path);
    const fastStore = new TodosStore(path, { fs: fast.fs, durability: 'fast' });
    await add(fastStore, 'creates the folders'); // New folders are always made durable by the atomic writer.
    fast.counts.fsyncDirs = 0;
    await add(fastStore, 'quick');
    assert.equal(fast.counts.fsyncDirs, 0);
    const full = instrumentedFs(path);
    await add(new TodosStore(path, { fs: full.fs }), 'safe');
    if (process.platform !== 'win32') assert.ok(full.counts.fsyncDirs > 0);
  });

  test('names the store writes beside its data are never taken for temp files by the orphan recogniser', () => {
    const names = [
      'tasks.json.bak-1',
      'tasks.json.bak-4294967295',
      'tasks.json.damaged-2026-11-21T23-17-30.996Z',
      'tasks.json.lock',
      'tasks.json.lock.reclaim-4242-0badf00d',
      LOCK_OWNER_FILE,
      'settings-snapshots.lock',
      '2024-05-01T12-30-05.123Z.json',
    ];
    const siblings = new Set(['tasks.json', 'tasks.json.lock', 'settings-snapshots', ...names]);
    for (const name of names) {
      assert.equal(recogniseTemp(name, siblings, [], { mtimeMs: Date.now() }), undefined, name);
    }
  });

  suite('recovery', () => {
    test('candidates: usable backups newest first, unusable ones last with their problem', async () => {
      const store = new TodosStore(path);
      for (const title of ['a', 'b', 'c']) await add(store, title);
      writeFileSync(join(dirname(path), 'backups', 'tasks.json.bak-4'), '{ broken');
      const candidates = await todosRecoveryCandidates(store);
      assert.deepEqual(
        candidates.map((c) => [c.id, c.todoCount ?? c.problem !== undefined]),
        [
          ['tasks.json.bak-3', 3],
          ['tasks.json.bak-2', 2],
          ['tasks.json.bak-1', 1],
          ['tasks.json.bak-4', true],
        ],
      );
    });

    test('recover restores the newest usable backup and keeps the damaged file', async () => {
      const store = new TodosStore(path);
      for (const title of ['a', 'b']) await add(store, title);
      const good = readFileSync(path, 'utf8');
      const damaged = '{"version": 1, "tasks": [ <<<<<<< HEAD';
      writeFileSync(path, damaged);
      const result = await recoverTodos(store);
      assert.equal(result.restoredFrom.id, 'tasks.json.bak-2');
      assert.equal(readFileSync(path, 'utf8'), good);
      assert.ok(result.preservedAs && basename(result.preservedAs).startsWith('tasks.json.damaged-'));
      assert.equal(readFileSync(result.preservedAs, 'utf8'), damaged);
      assert.deepEqual(
        (await store.list()).map((t) => t.title),
        ['a', 'b'],
      );
    });

    test('recover refuses a readable document unless forced, and names an unknown candidate', async () => {
      const store = new TodosStore(path);
      await add(store, 'a');
      await add(store, 'b');
      await assert.rejects(recoverTodos(store), /nothing to recover/);
      await assert.rejects(recoverTodos(store, 'tasks.json.bak-99', { force: true }), /No recovery candidate/);
      const result = await recoverTodos(store, 'tasks.json.bak-1', { force: true });
      assert.equal(result.document.tasks.length, 1);
      assert.equal((await store.list()).length, 1);
    });

    test('a valid temp left by a crashed write is offered and can be restored', async () => {
      const store = new TodosStore(path);
      await add(store, 'committed');
      const newer = JSON.parse(readFileSync(path, 'utf8'));
      newer.tasks.push({ id: 'fromtemp', title: 'never renamed', done: false, createdAt: T0, updatedAt: T0 });
      const temp = ourTempPath(path);
      writeFileSync(temp, JSON.stringify(newer));
      const future = new Date(Date.now() + 5000);
      (await import('node:fs')).utimesSync(temp, future, future);
      writeFileSync(path, '');
      const candidates = await todosRecoveryCandidates(store);
      assert.equal(candidates[0]!.kind, 'temp');
      assert.equal(candidates[0]!.id, basename(temp));
      const result = await recoverTodos(store, candidates[0]!.id);
      assert.equal(result.restoredFrom.kind, 'temp');
      assert.deepEqual((await store.list()).map((t) => t.id).at(-1), 'fromtemp');
    });

    test("another tool's valid temp (atomically's naming) is offered; a torn temp is not", async () => {
      const store = new TodosStore(path);
      await add(store, 'committed');
      const document = JSON.parse(readFileSync(path, 'utf8'));
      writeFileSync(join(dirname(path), 'tasks.json.tmp-1714560000abc123'), JSON.stringify(document));
      writeFileSync(join(dirname(path), 'tasks.json.tmp-1714560001abc124'), JSON.stringify(document).slice(0, 20));
      const temps = (await todosRecoveryCandidates(store)).filter((c) => c.kind === 'temp');
      assert.deepEqual(
        temps.map((c) => [c.id, c.todoCount]),
        [['tasks.json.tmp-1714560000abc123', 1]],
      );
    });

    test('with nothing usable, recover says so and writes nothing', async () => {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, '{');
      const store = new TodosStore(path);
      await assert.rejects(recoverTodos(store), /No usable backup or temp/);
      assert.equal(readFileSync(path, 'utf8'), '{');
    });
  });
});
