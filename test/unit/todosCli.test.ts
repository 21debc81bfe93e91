import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { todosPathFor } from '../../src/state/todosStore';
import { runCliCaptured } from '../support/cliRun';

const cli = (cwd: string, ...argv: string[]) => runCliCaptured(argv, cwd);

suite('cli: crash-safe tasks', () => {
  let workspace: string;
  let elsewhere: string;
  setup(() => {
    workspace = mkdtempSync(join(tmpdir(), 'cs-cli-tasks-'));
    elsewhere = mkdtempSync(join(tmpdir(), 'cs-cli-cwd-'));
  });
  teardown(() => {
    rmSync(workspace, { recursive: true, force: true });
    rmSync(elsewhere, { recursive: true, force: true });
  });

  test('add --json prints the new task; list --json prints an array of { id, title, done, ... }', async () => {
    const added = await cli(elsewhere, 'tasks', 'add', 'Write', 'the', 'docs', '--dir', workspace, '--json');
    assert.equal(added.code, 0, added.stderr);
    const todo = JSON.parse(added.stdout);
    assert.equal(todo.title, 'Write the docs', 'the remaining words form the title');
    assert.equal(todo.done, false);
    const listed = await cli(elsewhere, 'tasks', 'list', '--dir', workspace, '--json');
    assert.equal(listed.code, 0);
    const todos = JSON.parse(listed.stdout);
    assert.ok(Array.isArray(todos));
    assert.deepEqual(todos, [todo]);
    for (const key of ['id', 'title', 'done', 'createdAt', 'updatedAt']) assert.ok(key in todos[0], key);
    assert.equal(JSON.parse(readFileSync(todosPathFor(workspace), 'utf8')).tasks.length, 1);
  });

  test('--dir defaults to the working directory; plain output is one line per task', async () => {
    assert.equal((await cli(workspace, 'tasks', 'add', 'first')).code, 0);
    const second = await cli(workspace, 'tasks', 'add', 'second', '--notes', 'with notes');
    assert.match(second.stdout, /^Added [0-9a-f]{8}: second\n$/);
    const id = second.stdout.split(' ')[1]!.replace(':', '');
    assert.equal((await cli(workspace, 'tasks', 'done', id)).code, 0);
    const listed = await cli(workspace, 'tasks', 'list');
    assert.match(listed.stdout, /^\[ \] [0-9a-f]{8} {2}first\n\[x\] [0-9a-f]{8} {2}second {2}— with notes\n$/);
    assert.equal(
      (await cli(workspace, 'tasks', 'done', id, '--undo', '--json')).stdout.includes('"done": false'),
      true,
    );
    const removed = await cli(workspace, 'tasks', 'remove', id);
    assert.match(removed.stdout, /^Removed .*: second/);
    assert.equal(JSON.parse((await cli(workspace, 'tasks', 'list', '--json')).stdout).length, 1);
  });

  test('list on a workspace without tasks says so and creates nothing', async () => {
    const listed = await cli(workspace, 'tasks', 'list');
    assert.equal(listed.code, 0);
    assert.match(listed.stdout, /^No to-dos in /);
    assert.deepEqual(readdirSync(workspace), []);
    assert.equal((await cli(workspace, 'tasks', 'list', '--json')).stdout, '[]\n');
  });

  test('--file points at another document', async () => {
    const file = join(workspace, 'todo.json');
    assert.equal((await cli(elsewhere, 'tasks', 'add', 'x', '--file', file)).code, 0);
    assert.equal(JSON.parse(readFileSync(file, 'utf8')).tasks[0].title, 'x');
  });

  test('an unknown id fails with exit 1 and names it', async () => {
    await cli(workspace, 'tasks', 'add', 'only');
    for (const action of ['done', 'remove']) {
      const result = await cli(workspace, 'tasks', action, 'deadbeef');
      assert.equal(result.code, 1);
      assert.match(result.stderr, /No task with id "deadbeef"/);
    }
  });

  test('usage errors exit 2', async () => {
    for (const argv of [
      ['tasks'],
      ['tasks', 'frobnicate'],
      ['tasks', 'add'],
      ['tasks', 'add', '  '],
      ['tasks', 'done'],
      ['tasks', 'done', 'a', 'b'],
      ['tasks', 'remove'],
      ['tasks', 'list', 'extra'],
      ['tasks', 'list', '--bogus'],
      ['tasks', 'add', 'x', '--durability', 'slow'],
    ]) {
      const result = await cli(workspace, ...argv);
      assert.equal(result.code, 2, `${argv.join(' ')} → ${result.code} ${result.stderr}`);
      assert.match(result.stderr, /Usage: crash-safe tasks/);
    }
  });

  test('a corrupt document: exit 1 naming the file and line:column, untouched, with a recovery hint', async () => {
    await cli(workspace, 'tasks', 'add', 'saved');
    const path = todosPathFor(workspace);
    const corrupt = '{\n  "version": 1,\n  "tasks": [\n    { "id": "a", }\n';
    writeFileSync(path, corrupt);
    for (const argv of [['add', 'more'], ['list'], ['done', 'a'], ['remove', 'a']]) {
      const result = await cli(workspace, 'tasks', ...argv, '--dir', workspace);
      assert.equal(result.code, 1, argv.join(' '));
      assert.ok(result.stderr.includes(path), result.stderr);
      assert.match(result.stderr, /line 4, column 18/);
      assert.match(result.stderr, /crash-safe tasks recover --dir/);
    }
    assert.equal(readFileSync(path, 'utf8'), corrupt);

    const candidates = await cli(workspace, 'tasks', 'recover', '--list', '--json');
    assert.equal(JSON.parse(candidates.stdout)[0].id, 'tasks.json.bak-1');
    const recovered = await cli(workspace, 'tasks', 'recover');
    assert.equal(recovered.code, 0, recovered.stderr);
    assert.match(recovered.stdout, /Restored .* from tasks\.json\.bak-1/);
    assert.match(recovered.stdout, /kept as .*tasks\.json\.damaged-/);
    assert.equal(JSON.parse((await cli(workspace, 'tasks', 'list', '--json')).stdout)[0].title, 'saved');
  });

  test('add, done and remove keep 12345678901234567890, 9007199254740993 and 1e400 in members we do not own', async () => {
    const path = todosPathFor(workspace);
    mkdirSync(dirname(path), { recursive: true });
    const original =
      '{\n  "version": 1,\n  "sync": {"revision": 12345678901234567890, "cursor": 9007199254740993, "limit": 1e400},\n  "tasks": []\n}\n';
    writeFileSync(path, original);
    const added = JSON.parse((await cli(workspace, 'tasks', 'add', 'keep', 'the', 'numbers', '--json')).stdout);
    assert.equal((await cli(workspace, 'tasks', 'done', added.id)).code, 0);
    const second = JSON.parse((await cli(workspace, 'tasks', 'add', 'second', '--json')).stdout);
    assert.equal((await cli(workspace, 'tasks', 'remove', added.id)).code, 0);
    const text = readFileSync(path, 'utf8');
    assert.ok(
      text.startsWith(
        '{\n  "version": 1,\n  "sync": {"revision": 12345678901234567890, "cursor": 9007199254740993, "limit": 1e400},\n',
      ),
      text,
    );
    assert.deepEqual(
      JSON.parse(text).tasks.map((todo: { id: string }) => todo.id),
      [second.id],
    );
    assert.equal(
      readFileSync(join(dirname(path), 'backups', 'tasks.json.bak-1'), 'utf8'),
      original,
      'the original is kept',
    );
  });

  test('two "tasks" keys: exit 1 naming the duplicate key with line:column; the file stays; recover restores a backup byte for byte', async () => {
    await cli(workspace, 'tasks', 'add', 'saved');
    const path = todosPathFor(workspace);
    const saved = readFileSync(path);
    const twoLists = '{\n  "version": 1,\n  "tasks": [],\n  "tasks": []\n}\n';
    writeFileSync(path, twoLists);
    for (const argv of [['add', 'more'], ['list']]) {
      const result = await cli(workspace, 'tasks', ...argv);
      assert.equal(result.code, 1, argv.join(' '));
      assert.match(result.stderr, /duplicate key "tasks" at line 4, column 3/);
    }
    assert.equal(readFileSync(path, 'utf8'), twoLists);
    assert.equal((await cli(workspace, 'tasks', 'recover')).code, 0);
    assert.deepEqual(readFileSync(path), saved);
  });

  test('--file naming a folder fails in one line naming it and the cause', async () => {
    const result = await cli(workspace, 'tasks', 'list', '--file', elsewhere);
    assert.equal(result.code, 1);
    assert.equal(result.stderr, `crash-safe tasks: ${elsewhere}: not a regular file (a folder)\n`);
  });

  test('messages name the verb the user typed (todos, or its old name tasks) and speak of to-dos', async () => {
    const path = todosPathFor(workspace);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, '{"version": 1, "tasks": [');
    for (const verb of ['todos', 'tasks']) {
      const listed = await cli(workspace, verb, 'list');
      assert.equal(listed.code, 1);
      assert.match(listed.stderr, new RegExp(`^crash-safe ${verb}: `));
      assert.match(listed.stderr, /no backup generation or temp file holds a usable to-do list/i);
      assert.doesNotMatch(listed.stderr, new RegExp(`crash-safe ${verb === 'todos' ? 'tasks' : 'todos'}\\b`));
      const usage = await cli(workspace, verb);
      assert.match(usage.stderr, new RegExp(`^crash-safe ${verb}: ${verb} needs an action`));
    }
  });

  test('a corrupt document with no backup says it must be fixed by hand', async () => {
    const path = todosPathFor(workspace);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, '[');
    const result = await cli(workspace, 'tasks', 'list');
    assert.equal(result.code, 1);
    assert.match(result.stderr, /fix the file by hand/);
    assert.equal((await cli(workspace, 'tasks', 'recover')).code, 1);
  });
});

suite('cli: crash-safe snapshot', () => {
  let workspace: string;
  setup(() => {
    workspace = mkdtempSync(join(tmpdir(), 'cs-cli-snap-'));
    mkdirSync(join(workspace, '.vscode'));
  });
  teardown(() => rmSync(workspace, { recursive: true, force: true }));

  test('take, list, restore with --json', async () => {
    const settings = join(workspace, '.vscode', 'settings.json');
    writeFileSync(settings, '{ // mine\n  "editor.fontSize": 14 }\n');
    const first = await cli(workspace, 'snapshot', 'take', '--json');
    assert.equal(first.code, 0, first.stderr);
    const firstId = JSON.parse(first.stdout).snapshot.id;
    const again = await cli(workspace, 'snapshot', 'take');
    assert.match(again.stdout, /Unchanged since/);
    writeFileSync(settings, '{ "editor.fontSize": 20, "files.eol": "\\n" }\n');
    await cli(workspace, 'snapshot', 'take', '--dir', workspace);
    const listed = JSON.parse((await cli(workspace, 'snapshot', 'list', '--json')).stdout);
    assert.equal(listed.length, 2);
    assert.deepEqual(listed[0].changedKeys, ['editor.fontSize', 'files.eol']);
    const plain = await cli(workspace, 'snapshot', 'list');
    assert.match(plain.stdout, /editor\.fontSize, files\.eol/);

    const restored = await cli(workspace, 'snapshot', 'restore', firstId);
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(restored.stdout, /Restored .*settings\.json/);
    assert.equal(readFileSync(settings, 'utf8'), '{ // mine\n  "editor.fontSize": 14 }\n');
  });

  test('restore --keep 1 keeps the snapshot of the current settings it reports', async () => {
    const settings = join(workspace, '.vscode', 'settings.json');
    writeFileSync(settings, '{ "n": 1 }');
    const first = JSON.parse((await cli(workspace, 'snapshot', 'take', '--json')).stdout).snapshot.id;
    writeFileSync(settings, '{ "n": 2 }');
    const restored = await cli(workspace, 'snapshot', 'restore', first, '--keep', '1');
    assert.equal(restored.code, 0, restored.stderr);
    const saved = /Saved the current settings as (\S+)/.exec(restored.stdout)?.[1];
    const listed = JSON.parse((await cli(workspace, 'snapshot', 'list', '--json')).stdout) as { id: string }[];
    assert.deepEqual(
      listed.map((snapshot) => snapshot.id),
      [saved, first],
    );
    assert.equal(readFileSync(settings, 'utf8'), '{ "n": 1 }');
  });

  test('--keep prunes; bad ids exit 1; usage errors exit 2', async () => {
    const settings = join(workspace, '.vscode', 'settings.json');
    for (let i = 0; i < 4; i++) {
      writeFileSync(settings, `{ "n": ${i} }`);
      assert.equal((await cli(workspace, 'snapshot', 'take', '--keep', '2')).code, 0);
    }
    assert.equal(JSON.parse((await cli(workspace, 'snapshot', 'list', '--json')).stdout).length, 2);
    assert.equal((await cli(workspace, 'snapshot', 'restore', 'nope')).code, 1);
    assert.equal((await cli(workspace, 'snapshot', 'restore', '1999-01-01T00-00-00.000Z')).code, 1);
    for (const argv of [
      ['snapshot'],
      ['snapshot', 'restore'],
      ['snapshot', 'take', '--keep', '0'],
      ['snapshot', 'wat'],
    ]) {
      assert.equal((await cli(workspace, ...argv)).code, 2, argv.join(' '));
    }
  });
});
