import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { jsonTextProblem } from '../../../src/core/json/json';
import { AtomicWriteError } from '../../../src/core/write/atomicWrite';
import type { RestoreResult, SettingsSnapshotDocument, TakeResult } from '../../../src/state/snapshots';
import { type TodosRecoveryResult, todosRecoveryCandidates } from '../../../src/state/todosRecovery';
import type { Todo, TodosDocument } from '../../../src/state/todosSchema';
import { TodosStore } from '../../../src/state/todosStore';
import type { CrashSafeStateApi, TodosDiagnostics } from '../../../src/ui/api';
import { CRASH_SAFE_DECORATION, describeWriteFailure, saveFailure } from '../../../src/ui/crashSafeSave/crashSafeFs';
import { realFileUri } from '../../../src/ui/crashSafeSave/crashSafeUri';
import { recoveryPickItem } from '../../../src/ui/todos/todosRecovery';
import { hostLog, integrationEnvironment } from './environment';
import { waitFor } from './waiting';

const EXTENSION_ID = 'crash-safe-state.crash-safe-state';
/** Lock, fsync and a busy 2-core machine on top of the configured delay. */
const SAVE_SLACK_MS = 2500;

async function api(): Promise<CrashSafeStateApi> {
  const extension = vscode.extensions.getExtension<CrashSafeStateApi>(EXTENSION_ID);
  assert.ok(extension, 'extension not found');
  return extension.activate();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function readTodosFile(file: string): TodosDocument | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as TodosDocument;
  } catch {
    return undefined;
  }
}

/** Runs `node dist/cli.js …` with the host's own Node (ELECTRON_RUN_AS_NODE makes an Electron host act as Node). */
function cli(extensionPath: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [path.join(extensionPath, 'dist', 'cli.js'), ...args],
      { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, timeout: 60_000 },
      (error, stdout, stderr) =>
        error ? reject(new Error(`${args.join(' ')}: ${error.message}\n${stderr}`)) : resolve(stdout),
    );
  });
}

suite('workspace state in the workbench: the Crash-Safe To-Dos view', () => {
  let root: string;
  let todosFile: string;
  let saveDelayMs: number;
  let extensionPath: string;
  const diagnostics = async (): Promise<TodosDiagnostics> => (await api()).diagnostics.todos();

  suiteSetup(async function () {
    this.timeout(30_000);
    root = integrationEnvironment().workspace;
    todosFile = path.join(root, '.vscode', 'crash-safe', 'tasks.json');
    saveDelayMs = vscode.workspace.getConfiguration('crashSafeState').get<number>('tasks.saveDelayMs', 500);
    extensionPath = vscode.extensions.getExtension(EXTENSION_ID)!.extensionPath;
    await api();
    await waitFor('the To-Dos view to load', async () => (await diagnostics()).state.kind === 'ok');
  });

  test('an edit made through the view’s commands reaches the file within the save delay', async () => {
    const started = Date.now();
    const todo = await vscode.commands.executeCommand<Todo>('crashSafeState.addTodo', {
      title: '  Write the integration test ',
    });
    assert.ok(todo?.id, 'addTask returned no task');
    assert.equal(todo.title, 'Write the integration test');
    const shown = await diagnostics();
    assert.ok(
      shown.rows.some((row) => row.label === todo.title && row.checked === false),
      JSON.stringify(shown.rows),
    );
    await waitFor('the task in tasks.json', () => readTodosFile(todosFile)?.tasks.some((t) => t.id === todo.id));
    const elapsed = Date.now() - started;
    hostLog(`      add → durable in ${elapsed} ms (save delay ${saveDelayMs} ms)`);
    assert.ok(elapsed <= saveDelayMs + SAVE_SLACK_MS, `took ${elapsed} ms`);
  });

  test('edit, toggle, notes, reorder and delete are each saved; a burst of edits costs one write', async () => {
    const first = await vscode.commands.executeCommand<Todo>('crashSafeState.addTodo', { title: 'First' });
    const second = await vscode.commands.executeCommand<Todo>('crashSafeState.addTodo', { title: 'Second' });
    await waitFor(
      'both tasks saved',
      async () =>
        (await diagnostics()).unsavedEdits === 0 && readTodosFile(todosFile)?.tasks.some((t) => t.id === second.id),
    );

    const savesBefore = (await diagnostics()).saves;
    await vscode.commands.executeCommand('crashSafeState.editTodo', { id: first.id, title: 'First, renamed' });
    await vscode.commands.executeCommand('crashSafeState.editTodoNotes', { id: first.id, notes: 'line one\nline two' });
    await vscode.commands.executeCommand('crashSafeState.toggleTodo', { id: first.id });
    await vscode.commands.executeCommand('crashSafeState.moveTodoUp', { id: second.id });
    const started = Date.now();
    const saved = await waitFor('the burst in tasks.json', () => {
      const document = readTodosFile(todosFile);
      const renamed = document?.tasks.find((t) => t.id === first.id);
      return renamed?.title === 'First, renamed' && renamed.done && renamed.notes === 'line one\nline two' && document;
    });
    hostLog(`      burst of 4 edits → durable ${Date.now() - started} ms after the last`);
    const order = saved.tasks.map((t) => t.id);
    assert.equal(order.indexOf(second.id), order.indexOf(first.id) - 1, 'Second moved above First');
    await waitFor('the save to be counted', async () => (await diagnostics()).unsavedEdits === 0);
    assert.equal((await diagnostics()).saves - savesBefore, 1, 'four edits within the delay share one write');
    const row = (await diagnostics()).rows.find((r) => r.label === 'First, renamed');
    assert.deepEqual(
      row,
      { label: 'First, renamed', description: 'line one', checked: true },
      'a done to-do is checked, with no icon',
    );
    assert.equal(
      (await diagnostics()).rows.find((r) => r.label === 'Second')?.icon,
      undefined,
      'an open to-do has no icon either',
    );

    const removed = await vscode.commands.executeCommand<Todo[]>('crashSafeState.deleteTodo', { id: second.id });
    assert.deepEqual(
      removed.map((t) => t.id),
      [second.id],
    );
    await waitFor('the delete in tasks.json', () => readTodosFile(todosFile)?.tasks.every((t) => t.id !== second.id));
  });

  test('a task added by the CLI appears in the view through the watcher', async () => {
    const output = await cli(extensionPath, ['tasks', 'add', 'Added', 'from', 'the', 'CLI', '--dir', root, '--json']);
    const added = JSON.parse(output) as Todo;
    await waitFor('the CLI task in the view', async () => (await diagnostics()).tasks.some((t) => t.id === added.id));
    assert.ok((await diagnostics()).rows.some((row) => row.label === 'Added from the CLI'));
  });

  test('with concurrent CLI writers, nothing is lost', async function () {
    this.timeout(120_000);
    const before = readTodosFile(todosFile)!.tasks.length;
    const workers = 3;
    const addsPerWorker = 4;
    const cliRuns = Array.from({ length: workers }, async (_, worker) => {
      const ids: string[] = [];
      for (let n = 0; n < addsPerWorker; n++) {
        ids.push(
          (
            JSON.parse(
              await cli(extensionPath, ['tasks', 'add', `cli ${worker}.${n}`, '--dir', root, '--json']),
            ) as Todo
          ).id,
        );
      }
      return ids;
    });
    const viewIds: string[] = [];
    for (let n = 0; n < 12; n++) {
      const todo = await vscode.commands.executeCommand<Todo>('crashSafeState.addTodo', { title: `view ${n}` });
      viewIds.push(todo.id);
      // A toggle now and then, so the view also edits tasks while the CLI appends.
      if (n % 3 === 0) await vscode.commands.executeCommand('crashSafeState.toggleTodo', { id: todo.id });
      await sleep(60);
    }
    const cliIds = (await Promise.all(cliRuns)).flat();
    await waitFor('every view edit to be durable', async () => (await diagnostics()).unsavedEdits === 0, 30_000);
    const document = readTodosFile(todosFile)!;
    const onDisk = new Set(document.tasks.map((t) => t.id));
    const missing = [...viewIds, ...cliIds].filter((id) => !onDisk.has(id));
    assert.deepEqual(missing, [], 'every acknowledged add is in the file');
    assert.equal(document.tasks.length, before + viewIds.length + cliIds.length);
    assert.equal(onDisk.size, document.tasks.length, 'ids are unique');
    for (const [index, id] of viewIds.entries()) {
      assert.equal(document.tasks.find((t) => t.id === id)!.done, index % 3 === 0, `toggle of view ${index}`);
    }
    await waitFor(
      'the view to show every task',
      async () => (await diagnostics()).tasks.length === document.tasks.length,
    );
    hostLog(
      `      ${viewIds.length} view adds + ${cliIds.length} CLI adds at once: ${document.tasks.length - before} new tasks, none lost`,
    );
  });

  test('a corrupt task list is reported with line:column, edits are refused, nothing is written; Recover restores it', async function () {
    this.timeout(60_000);
    await waitFor('no unsaved edits', async () => (await diagnostics()).unsavedEdits === 0);
    const aTodo = (await diagnostics()).tasks[0]!;
    const corrupt = '{\n  "version": 1,\n  "tasks": [\n    { "id": "abcd1234", "title": "half-written"\n';
    writeFileSync(todosFile, corrupt);
    const crashSafeDir = path.dirname(todosFile);
    const treeBefore = readdirSync(crashSafeDir, { recursive: true, encoding: 'utf8' }).sort();
    const expected = jsonTextProblem(corrupt, 'json')!;
    const shown = await waitFor('the problem to be reported', async () => {
      const state = await diagnostics();
      return state.state.kind === 'problem' && state;
    });
    const where = `line ${expected.line}, column ${expected.column}`;
    assert.ok(shown.message?.includes('tasks.json'), `message: ${shown.message}`);
    assert.ok(shown.rows[0]?.label.includes(where), JSON.stringify(shown.rows));
    assert.equal(shown.rows[0]?.description, '.vscode/crash-safe/tasks.json');
    assert.ok(
      shown.rows.some((row) => row.label === 'Recover…'),
      'a Recover row is offered',
    );

    const refused = await vscode.commands.executeCommand<Todo | undefined>('crashSafeState.addTodo', {
      title: 'must not be written',
    });
    assert.equal(refused, undefined, 'the add was refused');
    assert.equal(await vscode.commands.executeCommand('crashSafeState.toggleTodo', { id: aTodo.id }), undefined);
    await sleep(saveDelayMs + 1000);
    assert.equal(readFileSync(todosFile, 'utf8'), corrupt, 'the corrupt file is left byte for byte');
    assert.deepEqual(
      readdirSync(crashSafeDir, { recursive: true, encoding: 'utf8' }).sort(),
      treeBefore,
      'no temp, backup or default was written',
    );

    const result = await vscode.commands.executeCommand<TodosRecoveryResult>('crashSafeState.recoverTodos', {
      confirm: true,
    });
    assert.ok(result, 'recover returned nothing');
    assert.equal(result.restoredFrom.kind, 'backup');
    assert.ok(result.preservedAs && readFileSync(result.preservedAs, 'utf8') === corrupt, 'the damaged file is kept');
    const recovered = await waitFor('the view to be usable again', async () => {
      const state = await diagnostics();
      return state.state.kind === 'ok' && state;
    });
    assert.equal(recovered.tasks.length, result.document.tasks.length);
    assert.equal(recovered.message, undefined);
    const after = await vscode.commands.executeCommand<Todo>('crashSafeState.addTodo', { title: 'after recovery' });
    await waitFor('the add after recovery in the file', () =>
      readTodosFile(todosFile)?.tasks.some((t) => t.id === after.id),
    );
  });

  test('Recover To-Do List… shows each backup’s titles and a diff while picking; the diff closes after; a second Recover says it is done', async function () {
    this.timeout(60_000);
    await waitFor('no unsaved edits', async () => (await diagnostics()).unsavedEdits === 0);
    const titles = (await diagnostics()).tasks.slice(0, 3).map((t) => t.title);
    writeFileSync(todosFile, '{ "version": 1, "tasks": [');
    await waitFor('the problem to be reported', async () => (await diagnostics()).state.kind === 'problem');

    // What the picker lists: counts and the first titles of each backup, read with the store's own listing.
    const candidates = (await todosRecoveryCandidates(new TodosStore(todosFile))).filter(
      (c) => c.problem === undefined,
    );
    // The store lists the newest first; the picker highlights it first.
    const newest = candidates[0]!;
    assert.equal(newest.kind, 'backup');
    const item = await recoveryPickItem(newest);
    hostLog(`      picker item: ${item.label} — ${item.description} — ${item.detail}`);
    for (const title of titles) assert.ok(item.detail?.includes(title), `"${title}" missing from ${item.detail}`);
    assert.match(item.detail ?? '', /^\d+ to-dos? \(\d+ done\): /);

    const backupDiffs = () =>
      vscode.window.tabGroups.all
        .flatMap((group) => group.tabs)
        .map((tab) => tab.input)
        .filter(
          (input): input is vscode.TabInputTextDiff =>
            input instanceof vscode.TabInputTextDiff && input.modified.scheme === 'crashsafe-todo-backup',
        );
    // Cancelled: the diff was open while picking and is gone after.
    const cancelled = vscode.commands.executeCommand('crashSafeState.recoverTodos');
    const first = await waitFor('the diff of the highlighted backup', () => backupDiffs()[0]);
    assert.equal(first.original.fsPath, todosFile, 'left: the damaged file');
    assert.ok(
      candidates.some((c) => c.path === first.modified.fsPath),
      `right: a candidate (${first.modified.fsPath})`,
    );
    assert.equal(first.modified.fsPath, newest.path, 'the newest backup is highlighted first');
    await vscode.commands.executeCommand('workbench.action.quickOpenSelectNext');
    if (candidates.length > 1)
      await waitFor('the diff to follow the highlight', () =>
        backupDiffs().some((d) => d.modified.fsPath !== newest.path),
      );
    await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
    assert.equal(await cancelled, undefined);
    assert.deepEqual(backupDiffs(), [], 'the diff closed with the picker');
    assert.equal((await diagnostics()).state.kind, 'problem', 'nothing was recovered');

    // Picked: recovered from the highlighted backup, and the diff closes.
    const picked = vscode.commands.executeCommand<TodosRecoveryResult>('crashSafeState.recoverTodos');
    await waitFor('the diff of the highlighted backup', () => backupDiffs()[0]);
    await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
    const result = await picked;
    assert.equal(result?.restoredFrom.path, newest.path);
    assert.deepEqual(backupDiffs(), [], 'the diff closed after the recovery');
    await waitFor('the view to be usable again', async () => (await diagnostics()).state.kind === 'ok');

    // The "not valid JSON" notification cannot be withdrawn; its Recover… button now says there is nothing to do.
    const again = await vscode.commands.executeCommand<{ alreadyUsable?: boolean; message?: string }>(
      'crashSafeState.recoverTodos',
    );
    assert.equal(again?.alreadyUsable, true);
    assert.match(again?.message ?? '', /already recovered/);
  });

  test('Delete and Clear Done To-Dos offer Undo, which puts the to-dos back at their place', async () => {
    const add = (title: string) => vscode.commands.executeCommand<Todo>('crashSafeState.addTodo', { title });
    const a = await add('undo A');
    const b = await add('undo B');
    const c = await add('undo C');
    const d = await add('undo D');
    const order = () =>
      readTodosFile(todosFile)
        ?.tasks.map((t) => t.id)
        .filter((id) => [a.id, b.id, c.id, d.id].includes(id)) ?? [];
    await waitFor('the four to-dos in the file', () => order().length === 4);

    const removed = await vscode.commands.executeCommand<Todo[]>('crashSafeState.deleteTodo', { id: b.id });
    assert.deepEqual(
      removed.map((t) => t.id),
      [b.id],
    );
    await waitFor('the delete in the file', () => order().join() === [a.id, c.id, d.id].join());
    const restored = await vscode.commands.executeCommand<Todo[]>('crashSafeState.undoTodoRemoval');
    assert.deepEqual(
      restored.map((t) => t.id),
      [b.id],
    );
    await waitFor('B back between A and C', () => order().join() === [a.id, b.id, c.id, d.id].join());

    await vscode.commands.executeCommand('crashSafeState.toggleTodo', { id: b.id, done: true });
    await vscode.commands.executeCommand('crashSafeState.toggleTodo', { id: c.id, done: true });
    const cleared = await vscode.commands.executeCommand<Todo[]>('crashSafeState.clearDoneTodos');
    assert.ok(cleared.some((t) => t.id === b.id) && cleared.some((t) => t.id === c.id), 'B and C were cleared');
    assert.ok(
      (await diagnostics()).tasks.every((t) => !t.done),
      'no done to-do is left',
    );
    await waitFor('the clear in the file', () => order().join() === [a.id, d.id].join());
    await vscode.commands.executeCommand('crashSafeState.undoTodoRemoval');
    await waitFor('B and C back between A and D', () => order().join() === [a.id, b.id, c.id, d.id].join());
    const back = readTodosFile(todosFile)!.tasks.find((t) => t.id === c.id)!;
    assert.equal(back.done, true, 'restored as it was, done');
    assert.equal(back.createdAt, c.createdAt);
  });

  test('the names cannot be taken for VS Code’s tasks, and the old command and setting ids still work', async function () {
    this.timeout(60_000);
    const manifest = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON as {
      contributes: {
        views: { explorer: { id: string; name: string }[] };
        commands: { command: string; title: string }[];
        configuration: {
          properties: Record<string, { deprecationMessage?: string; markdownDeprecationMessage?: string }>;
        };
      };
    };
    const view = manifest.contributes.views.explorer.find((v) => v.id === 'crashSafeState.todos');
    assert.equal(view?.name, 'Crash-Safe To-Dos');
    const titles = manifest.contributes.commands.map((c) => c.title);
    // The file may keep its name (tasks.json); no command may call a to-do a task.
    assert.deepEqual(
      titles.filter((t) => /\btasks?\b(?!\.json)/i.test(t)),
      [],
      'no command title says "task"',
    );
    for (const title of ['Add To-Do', 'Recover To-Do List…', 'Clear Done To-Dos'])
      assert.ok(titles.includes(title), title);
    for (const old of ['crashSafeState.tasks.path', 'crashSafeState.tasks.saveDelayMs']) {
      const setting = manifest.contributes.configuration.properties[old];
      assert.match(setting?.deprecationMessage ?? '', /Renamed to crashSafeState\.todos\./, old);
      assert.ok(setting?.markdownDeprecationMessage, old);
    }

    // An id from before the rename, in a user's keybinding, still adds a to-do.
    const legacy = await vscode.commands.executeCommand<Todo>('crashSafeState.addTask', {
      title: 'added by the old id',
    });
    await waitFor('the old id’s to-do in the file', () =>
      readTodosFile(todosFile)?.tasks.some((t) => t.id === legacy.id),
    );

    // Settings: the old id is read while the new one is not set; the new one wins.
    const config = () => vscode.workspace.getConfiguration('crashSafeState');
    const pathNow = async () => {
      const state = (await diagnostics()).state;
      return 'path' in state ? state.path : undefined;
    };
    try {
      await config().update('tasks.path', '.vscode/crash-safe/old-id.json', vscode.ConfigurationTarget.Workspace);
      await waitFor('the old setting id to be read', async () => (await pathNow())?.endsWith('old-id.json'));
      await config().update('todos.path', '.vscode/crash-safe/new-id.json', vscode.ConfigurationTarget.Workspace);
      await waitFor('the new setting id to win', async () => (await pathNow())?.endsWith('new-id.json'));
    } finally {
      await config().update('todos.path', undefined, vscode.ConfigurationTarget.Workspace);
      await config().update('tasks.path', undefined, vscode.ConfigurationTarget.Workspace);
    }
    await waitFor('the default file again', async () => (await pathNow()) === todosFile);
    await waitFor('the list to load', async () => (await diagnostics()).state.kind === 'ok');
  });
});

suite('workspace state in the workbench: settings snapshots', () => {
  let root: string;
  let snapshotsDir: string;
  const editorConfig = () => vscode.workspace.getConfiguration('editor');
  const snapshotDiffs = () =>
    vscode.window.tabGroups.all
      .flatMap((group) => group.tabs)
      .filter(
        (tab) => tab.input instanceof vscode.TabInputTextDiff && tab.input.modified.scheme === 'crashsafe-snapshot',
      )
      .map((tab) => tab.label);

  suiteSetup(() => {
    root = integrationEnvironment().workspace;
    snapshotsDir = path.join(root, '.vscode', 'crash-safe', 'settings-snapshots');
  });
  suiteTeardown(async () => {
    await editorConfig().update('tabSize', undefined, vscode.ConfigurationTarget.Workspace);
  });

  test('changing a setting produces a snapshot, and restoring an earlier one works', async function () {
    this.timeout(60_000);
    const exported = await api();
    await editorConfig().update('tabSize', 3, vscode.ConfigurationTarget.Workspace);
    const baseline = await vscode.commands.executeCommand<TakeResult>('crashSafeState.takeSettingsSnapshot');
    assert.ok(baseline, 'take returned nothing');
    const baselineId = baseline.taken ? baseline.snapshot.id : baseline.newest.id;
    const baselineDoc = JSON.parse(
      readFileSync(path.join(snapshotsDir, `${baselineId}.json`), 'utf8'),
    ) as SettingsSnapshotDocument;
    assert.equal(baselineDoc.values['editor.tabSize'], 3);

    const autoBefore = exported.diagnostics.settingsSnapshots().taken;
    const changedAt = Date.now();
    await editorConfig().update('tabSize', 7, vscode.ConfigurationTarget.Workspace);
    // On a loaded machine the automatic snapshot of the earlier change (to 3) can land after autoBefore was read;
    // the one this test waits for is the snapshot that holds 7.
    const autoId = await waitFor('an automatic snapshot after the change', () => {
      const stats = exported.diagnostics.settingsSnapshots();
      if (stats.taken <= autoBefore || !stats.lastId) return undefined;
      const doc = JSON.parse(readFileSync(path.join(snapshotsDir, `${stats.lastId}.json`), 'utf8'));
      return doc.values?.['editor.tabSize'] === 7 ? stats.lastId : undefined;
    });
    hostLog(`      automatic snapshot ${Date.now() - changedAt} ms after the change`);
    const autoDoc = JSON.parse(
      readFileSync(path.join(snapshotsDir, `${autoId}.json`), 'utf8'),
    ) as SettingsSnapshotDocument;
    assert.equal(autoDoc.reason, 'auto');
    assert.equal(autoDoc.values['editor.tabSize'], 7);
    assert.ok(autoDoc.settingsText?.includes('"editor.tabSize": 7'), autoDoc.settingsText ?? 'null');

    // Nothing changed since: an explicit take is skipped.
    const again = await vscode.commands.executeCommand<TakeResult>('crashSafeState.takeSettingsSnapshot');
    assert.equal(again.taken, false);

    // With `preview`, the diff opens as in an interactive restore; it must be gone once the restore is done.
    const previews: string[] = [];
    const watching = vscode.window.tabGroups.onDidChangeTabs(({ opened }) => {
      for (const tab of opened)
        if (tab.input instanceof vscode.TabInputTextDiff) previews.push(tab.input.modified.toString());
    });
    let restored: RestoreResult;
    try {
      restored = await vscode.commands.executeCommand<RestoreResult>('crashSafeState.restoreSettingsSnapshot', {
        id: baselineId,
        confirm: true,
        preview: true,
      });
    } finally {
      watching.dispose();
    }
    assert.ok(restored, 'restore returned nothing');
    assert.ok(
      previews.some((uri) => uri.startsWith('crashsafe-snapshot:')),
      `the diff was shown: ${previews.join(', ')}`,
    );
    assert.deepEqual(snapshotDiffs(), [], 'the diff closed after the restore');
    assert.deepEqual(restored.changedKeys, ['editor.tabSize']);
    assert.equal(readFileSync(path.join(root, '.vscode', 'settings.json'), 'utf8'), baselineDoc.settingsText);
    await waitFor(
      'VS Code to see the restored value',
      () => editorConfig().inspect<number>('tabSize')?.workspaceValue === 3,
    );
    const ids = readdirSync(snapshotsDir).filter((name) => name.endsWith('.json'));
    assert.ok(ids.includes(`${autoId}.json`), 'the state before the restore is still a snapshot');
  });

  test('restore without confirmation (the modal is cancelled in this host) changes nothing', async () => {
    const settingsFile = path.join(root, '.vscode', 'settings.json');
    const before = readFileSync(settingsFile, 'utf8');
    const listing = readdirSync(snapshotsDir)
      .filter((name) => name.endsWith('.json'))
      .sort();
    const oldest = listing[0]!.slice(0, -'.json'.length);
    const result = await vscode.commands.executeCommand('crashSafeState.restoreSettingsSnapshot', { id: oldest });
    assert.equal(result, undefined);
    assert.equal(readFileSync(settingsFile, 'utf8'), before);
    assert.deepEqual(snapshotDiffs(), [], 'the diff closed when the restore was cancelled');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });
});

suite('workspace state in the workbench: Open/Reopen With Crash-Safe Save', () => {
  let scratch: string;
  const opened: vscode.Uri[] = [];

  const filesConfig = () => vscode.workspace.getConfiguration('files');

  suiteSetup(async () => {
    scratch = path.join(integrationEnvironment().workspace, 'crash-safe-save');
    mkdirSync(scratch, { recursive: true });
    // VS Code's own auto-save would race ours; one test turns it on deliberately.
    hostLog(`      files.autoSave here defaults to "${filesConfig().inspect('autoSave')?.defaultValue}"`);
    await filesConfig().update('autoSave', 'off', vscode.ConfigurationTarget.Workspace);
  });
  suiteTeardown(async () => {
    await filesConfig().update('autoSave', undefined, vscode.ConfigurationTarget.Workspace);
    await filesConfig().update('autoSaveDelay', undefined, vscode.ConfigurationTarget.Workspace);
  });
  teardown(async () => {
    for (const uri of opened.splice(0)) {
      const document = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
      if (document?.isDirty) {
        await vscode.window.showTextDocument(document);
        await vscode.commands.executeCommand('workbench.action.files.revert');
      }
    }
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });
  suiteTeardown(() => rmSync(scratch, { recursive: true, force: true }));

  /**
   * Runs Reopen With Crash-Safe Save on the active editor and, while it holds its swap once the crash-safe document of
   * `name` is read (as a busy host takes a moment), lets the user act.
   */
  async function reopenWhileUserActs(name: string, act: () => Thenable<unknown>): Promise<vscode.Uri> {
    const exported = await api();
    exported.diagnostics.crashSafeReopenTiming.holdSwapMs = 800;
    try {
      const reopened = vscode.commands.executeCommand<vscode.Uri>('crashSafeState.reopenWithCrashSafeSave');
      await waitFor(`the crash-safe document of ${name}`, () =>
        vscode.workspace.textDocuments.some(
          (document) => document.uri.scheme === 'crashsafe' && document.uri.path.endsWith(`/${name}`),
        ),
      );
      await act();
      const uri = await reopened;
      assert.equal(uri?.scheme, 'crashsafe');
      return uri;
    } finally {
      exported.diagnostics.crashSafeReopenTiming.holdSwapMs = 0;
    }
  }

  async function reopen(file: string, content: string): Promise<vscode.TextDocument> {
    writeFileSync(file, content);
    await vscode.window.showTextDocument(vscode.Uri.file(file));
    const uri = await vscode.commands.executeCommand<vscode.Uri>('crashSafeState.reopenWithCrashSafeSave');
    assert.ok(uri, 'reopen returned nothing');
    assert.equal(uri.scheme, 'crashsafe');
    // Inside the workspace folder the URI is workspace-relative (what tab, breadcrumb and title show) and maps back exactly.
    const relative = path.relative(integrationEnvironment().workspace, file).split(path.sep).join('/');
    assert.equal(uri.authority, 'workspace');
    assert.equal(uri.path, `/${relative}`);
    assert.equal(realFileUri(uri)?.fsPath, file);
    opened.push(uri);
    const document = await vscode.workspace.openTextDocument(uri);
    assert.equal(document.getText(), content);
    assert.equal(
      vscode.window.activeTextEditor?.document.uri.toString(),
      uri.toString(),
      'the crash-safe editor is active',
    );
    const fileTabs = vscode.window.tabGroups.all
      .flatMap((group) => group.tabs)
      .filter(
        (tab) =>
          tab.input instanceof vscode.TabInputText && tab.input.uri.scheme === 'file' && tab.input.uri.fsPath === file,
      );
    assert.equal(fileTabs.length, 0, 'the plain editor was replaced');
    return document;
  }

  async function replaceAll(document: vscode.TextDocument, text: string): Promise<void> {
    const edit = new vscode.WorkspaceEdit();
    edit.replace(
      document.uri,
      new vscode.Range(document.positionAt(0), document.positionAt(document.getText().length)),
      text,
    );
    assert.equal(await vscode.workspace.applyEdit(edit), true);
  }

  test('a crashsafe: save is atomic: the inode changes and no temp is left', async () => {
    const exported = await api();
    const file = path.join(scratch, 'data.json');
    const document = await reopen(file, '{ "a": 1 }\n');
    const inodeBefore = statSync(file).ino;
    const writesBefore = exported.diagnostics.crashSafeSave().atomicWrites;
    await replaceAll(document, '{ "a": 2 }\n');
    assert.equal(await document.save(), true);
    assert.equal(readFileSync(file, 'utf8'), '{ "a": 2 }\n');
    assert.notEqual(statSync(file).ino, inodeBefore, 'a rename replaced the file');
    assert.deepEqual(readdirSync(scratch), ['data.json'], 'no temp file is left');
    assert.equal(exported.diagnostics.crashSafeSave().atomicWrites, writesBefore + 1);
  });

  test('a crashsafe: document auto-saves after an edit pause when it parses (JSONC where the file is JSONC)', async () => {
    const exported = await api();
    const delay = vscode.workspace
      .getConfiguration('crashSafeState')
      .get<number>('crashSafeSave.autoSaveDelayMs', 1000);
    const file = path.join(scratch, 'tsconfig.json');
    const document = await reopen(file, '{\n  // options\n  "compilerOptions": {}\n}\n');
    const inodeBefore = statSync(file).ino;
    const savedBefore = exported.diagnostics.crashSafeSave().autoSave.saved;
    const text = '{\n  // options\n  "compilerOptions": { "strict": true, },\n}\n';
    const editedAt = Date.now();
    await replaceAll(document, text);
    await waitFor('the auto-save', () => readFileSync(file, 'utf8') === text && !document.isDirty);
    const elapsed = Date.now() - editedAt;
    hostLog(`      auto-save ${elapsed} ms after the edit (pause setting ${delay} ms)`);
    assert.ok(elapsed >= delay - 50, `saved after ${elapsed} ms, before the pause ended`);
    assert.notEqual(statSync(file).ino, inodeBefore);
    assert.equal(exported.diagnostics.crashSafeSave().autoSave.saved, savedBefore + 1);
    assert.deepEqual(
      readdirSync(scratch).filter((name) => name.startsWith('tsconfig.json')),
      ['tsconfig.json'],
      'no temp is left',
    );
  });

  test('invalid JSON is not auto-saved, and a manual save of it is refused when the question is cancelled', async () => {
    const exported = await api();
    const file = path.join(scratch, 'strict.json');
    const original = '{ "keep": "me" }\n';
    const document = await reopen(file, original);
    const inodeBefore = statSync(file).ino;
    const skippedBefore = exported.diagnostics.crashSafeSave().autoSave.skippedInvalid;
    // Comments are fine in JSONC but not in a plain .json file.
    await replaceAll(document, '{ "keep": "me", // a comment\n  "more": \n');
    await waitFor(
      'the auto-save to skip the invalid content',
      () => exported.diagnostics.crashSafeSave().autoSave.skippedInvalid > skippedBefore,
    );
    await sleep(300);
    assert.equal(readFileSync(file, 'utf8'), original, 'nothing was written');
    assert.equal(statSync(file).ino, inodeBefore);
    assert.equal(document.isDirty, true, 'the edit stays in the editor');
    assert.match(exported.diagnostics.crashSafeSave().autoSave.lastSkipped ?? '', /^strict\.json 1:17 /);

    const refusedBefore = exported.diagnostics.crashSafeSave().refusedInvalid;
    assert.equal(await document.save(), false, 'the manual save did not happen');
    assert.equal(exported.diagnostics.crashSafeSave().refusedInvalid, refusedBefore + 1);
    assert.equal(readFileSync(file, 'utf8'), original);
    assert.deepEqual(
      readdirSync(scratch).filter((name) => name.startsWith('strict.json')),
      ['strict.json'],
      'no temp is left',
    );
  });

  test('VS Code’s own files.autoSave waits while the JSON does not parse: no write is even tried, the reason shows; valid content saves', async function () {
    this.timeout(60_000);
    const exported = await api();
    const file = path.join(scratch, 'vscode-autosave.json');
    const original = '[1, 2, 3]\n';
    const document = await reopen(file, original);
    // The extension's configuration default: VS Code's auto-save skips a JSON document with an error marker.
    const jsonFiles = vscode.workspace.getConfiguration('files', {
      uri: document.uri,
      languageId: document.languageId,
    });
    assert.equal(document.languageId, 'json');
    assert.equal(jsonFiles.get('autoSaveWhenNoErrors'), true, 'files.autoSaveWhenNoErrors is not on for JSON');
    const ourMarkers = () =>
      vscode.languages
        .getDiagnostics(document.uri)
        .filter(
          (marker) => marker.severity === vscode.DiagnosticSeverity.Error && marker.source === 'Crash-Safe State',
        );
    const tried = () => {
      const stats = exported.diagnostics.crashSafeSave();
      return { refused: stats.refusedInvalid, writes: stats.atomicWrites };
    };
    const before = tried();
    try {
      // 1. Invalid content, then auto-save is turned on: VS Code saves every dirty document at once unless its
      //    marker (on exactly this URI, in the workbench) says it has errors.
      await replaceAll(document, '[1, 2, 3');
      assert.equal(ourMarkers().length, 1, 'no "does not parse" error marker right after the edit');
      assert.match(exported.diagnostics.crashSafeSave().guard.statusText ?? '', /vscode-autosave\.json not auto-saved/);
      await sleep(500); // the marker travels to the workbench
      await filesConfig().update('autoSaveDelay', 1000, vscode.ConfigurationTarget.Workspace);
      await filesConfig().update('autoSave', 'afterDelay', vscode.ConfigurationTarget.Workspace);
      await sleep(1000 + SAVE_SLACK_MS);
      assert.deepEqual(tried(), before, 'a save of invalid JSON was tried when auto-save was turned on');
      // 2. Valid, then invalid again while auto-save is on (VS Code's delay is 1 s, the web default).
      await replaceAll(document, '[1, 2, 3, 4]\n');
      await waitFor('VS Code’s auto-save of valid content', () => readFileSync(file, 'utf8') === '[1, 2, 3, 4]\n');
      await waitFor('the document to be saved', () => !document.isDirty);
      assert.deepEqual(ourMarkers(), []);
      assert.equal(exported.diagnostics.crashSafeSave().guard.statusText, undefined, 'the reason still shows');
      const afterValid = tried();
      await replaceAll(document, '[1, 2, 3, 4');
      assert.equal(ourMarkers().length, 1);
      await sleep(1000 + SAVE_SLACK_MS);
      assert.deepEqual(tried(), afterValid, 'VS Code’s auto-save tried to write invalid JSON');
      assert.equal(readFileSync(file, 'utf8'), '[1, 2, 3, 4]\n');
      assert.equal(document.isDirty, true, 'the edit stays in the editor');
    } finally {
      await filesConfig().update('autoSave', 'off', vscode.ConfigurationTarget.Workspace);
    }
  });

  test('a crash-safe editor is marked (tab badge and tooltip), and Reopen Without Crash-Safe Save gives the plain editor back with the unsaved edit', async () => {
    const exported = await api();
    const file = path.join(scratch, 'marked.json');
    const document = await reopen(file, '{ "marked": true }\n');
    // The workbench asks for the decoration when it draws the tab.
    await waitFor('the tab’s decoration', () =>
      exported.diagnostics.crashSafeSave().decorated.includes(document.uri.toString()),
    );
    assert.equal(CRASH_SAFE_DECORATION.badge.length <= 2, true);
    assert.match(CRASH_SAFE_DECORATION.tooltip, /temp file.*renames it over the file/);

    // Invalid, so the crash-safe auto-save leaves it unsaved: the edit must move over as it is.
    const edited = '{ "marked": tru';
    await replaceAll(document, edited);
    const plain = await vscode.commands.executeCommand<vscode.Uri>('crashSafeState.reopenWithoutCrashSafeSave');
    assert.equal(plain?.scheme, 'file');
    assert.equal(plain?.fsPath, file);
    opened.push(plain);
    const active = vscode.window.activeTextEditor?.document;
    assert.equal(active?.uri.toString(), plain.toString(), 'the plain editor is active');
    assert.equal(active?.getText(), edited, 'the unsaved edit moved over');
    assert.equal(active?.isDirty, true);
    const crashSafeTabs = vscode.window.tabGroups.all
      .flatMap((group) => group.tabs)
      .filter((tab) => tab.input instanceof vscode.TabInputText && tab.input.uri.scheme === 'crashsafe');
    assert.deepEqual(crashSafeTabs, [], 'the crash-safe editor was closed');
    assert.equal(readFileSync(file, 'utf8'), '{ "marked": true }\n', 'nothing was saved on the way');
  });

  test('a file the user opens while Reopen With Crash-Safe Save is finishing keeps the focus', async () => {
    const file = path.join(scratch, 'moving-on.json');
    const elsewhere = path.join(scratch, 'elsewhere.md');
    writeFileSync(file, '{ "moving": "on" }\n');
    writeFileSync(elsewhere, '# elsewhere\n');
    // Already open in a tab, so going back to it is quick, as a click on its tab is.
    await vscode.window.showTextDocument(vscode.Uri.file(elsewhere), { preview: false });
    await vscode.window.showTextDocument(vscode.Uri.file(file));
    // The user clicks another file the moment the crash-safe editor shows, before the plain one is closed.
    let movedOn: Thenable<vscode.TextEditor> | undefined;
    const listener = vscode.window.onDidChangeActiveTextEditor((editor) => {
      if (editor?.document.uri.scheme === 'crashsafe' && !movedOn) {
        movedOn = vscode.window.showTextDocument(vscode.Uri.file(elsewhere), { preview: false });
      }
    });
    let uri: vscode.Uri | undefined;
    try {
      uri = await vscode.commands.executeCommand<vscode.Uri>('crashSafeState.reopenWithCrashSafeSave');
      await movedOn;
    } finally {
      listener.dispose();
    }
    assert.ok(movedOn, 'the crash-safe editor never became active');
    assert.equal(uri?.scheme, 'crashsafe');
    opened.push(uri);
    assert.equal(vscode.window.activeTextEditor?.document.uri.fsPath, elsewhere, 'the reopen took the focus back');
    const tabs = vscode.window.tabGroups.all.flatMap((group) => group.tabs);
    const showing = (scheme: string) =>
      tabs.filter(
        (tab) =>
          tab.input instanceof vscode.TabInputText && tab.input.uri.scheme === scheme && tab.label === 'moving-on.json',
      ).length;
    assert.equal(showing('file'), 0, 'the plain editor was not closed');
    assert.equal(showing('crashsafe'), 1, 'the crash-safe editor is gone');
  });

  test('a file the user opens before Reopen With Crash-Safe Save shows its editor stays in front: the crash-safe editor opens behind it', async () => {
    const file = path.join(scratch, 'opened-meanwhile.json');
    const elsewhere = path.join(scratch, 'meanwhile.md');
    writeFileSync(file, '{ "opened": "meanwhile" }\n');
    writeFileSync(elsewhere, '# meanwhile\n');
    await vscode.window.showTextDocument(vscode.Uri.file(file), { preview: false });
    // The user clicks another file while the reopen is still under way.
    const uri = await reopenWhileUserActs('opened-meanwhile.json', () =>
      vscode.window.showTextDocument(vscode.Uri.file(elsewhere), { preview: false }),
    );
    opened.push(uri);
    assert.equal(
      vscode.window.activeTextEditor?.document.uri.fsPath,
      elsewhere,
      'the reopen covered the file opened meanwhile',
    );
    const tabs = vscode.window.tabGroups.all
      .flatMap((group) => group.tabs)
      .filter((tab) => tab.input instanceof vscode.TabInputText && tab.label === 'opened-meanwhile.json');
    assert.deepEqual(
      tabs.map((tab) => `${(tab.input as vscode.TabInputText).uri.scheme} active=${tab.isActive}`),
      ['crashsafe active=false'],
      'one crash-safe tab behind the file opened meanwhile, no plain tab',
    );
  });

  test('the crash-safe editor opened behind is the text editor, whatever editor a user associated with .json files', async () => {
    const file = path.join(scratch, 'associated.json');
    const elsewhere = path.join(scratch, 'associated.md');
    writeFileSync(file, '{ "associated": true }\n');
    writeFileSync(elsewhere, '# associated\n');
    const workbench = vscode.workspace.getConfiguration('workbench');
    await workbench.update(
      'editorAssociations',
      { '*.json': 'vscode.markdown.preview.editor' },
      vscode.ConfigurationTarget.Workspace,
    );
    try {
      await vscode.window.showTextDocument(vscode.Uri.file(file), { preview: false });
      opened.push(
        await reopenWhileUserActs('associated.json', () =>
          vscode.window.showTextDocument(vscode.Uri.file(elsewhere), { preview: false }),
        ),
      );
    } finally {
      await workbench.update('editorAssociations', undefined, vscode.ConfigurationTarget.Workspace);
    }
    const tabs = vscode.window.tabGroups.all
      .flatMap((group) => group.tabs)
      .filter((tab) => tab.label.startsWith('associated.json'));
    assert.deepEqual(
      tabs.map((tab) => (tab.input instanceof vscode.TabInputText ? `text ${tab.input.uri.scheme}` : tab.label)),
      ['text crashsafe'],
    );
  });

  test('a user who moves to another group before Reopen With Crash-Safe Save shows its editor keeps the focus there', async () => {
    const file = path.join(scratch, 'other-group.json');
    const beside = path.join(scratch, 'beside.md');
    writeFileSync(file, '{ "other": "group" }\n');
    writeFileSync(beside, '# beside\n');
    await vscode.window.showTextDocument(vscode.Uri.file(beside), {
      viewColumn: vscode.ViewColumn.Two,
      preview: false,
    });
    await vscode.window.showTextDocument(vscode.Uri.file(file), { viewColumn: vscode.ViewColumn.One, preview: false });
    const uri = await reopenWhileUserActs('other-group.json', () =>
      vscode.window.showTextDocument(vscode.Uri.file(beside), { viewColumn: vscode.ViewColumn.Two }),
    );
    opened.push(uri);
    assert.equal(vscode.window.activeTextEditor?.document.uri.fsPath, beside, 'the reopen took the focus back');
    const shownInOne = vscode.window.visibleTextEditors.find((editor) => editor.viewColumn === vscode.ViewColumn.One);
    assert.equal(
      shownInOne?.document.uri.toString(),
      uri?.toString(),
      'the crash-safe editor is not shown in its group',
    );
    // Later tests open in one group.
    await vscode.commands.executeCommand('workbench.action.joinAllGroups');
  });

  test('Open With Crash-Safe Save opens a file that is not open; the Explorer shows Open or Reopen accordingly', async () => {
    const file = path.join(scratch, 'closed.json');
    writeFileSync(file, '[]\n');
    const uri = await vscode.commands.executeCommand<vscode.Uri>(
      'crashSafeState.openWithCrashSafeSave',
      vscode.Uri.file(file),
    );
    assert.equal(uri?.scheme, 'crashsafe');
    opened.push(uri);
    assert.equal(vscode.window.activeTextEditor?.document.uri.toString(), uri.toString());
    const menus = (
      vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON as {
        contributes: { menus: Record<string, { command: string; when: string }[]> };
      }
    ).contributes.menus['explorer/context']!;
    const when = (command: string) => menus.find((entry) => entry.command === command)?.when ?? '';
    // The host hands back the parsed clause (`in 'key'`); the screenshot check shows the menu itself.
    assert.match(when('crashSafeState.openWithCrashSafeSave'), /resourcePath not in '?crashSafeState\.openJsonFiles'?/);
    assert.match(when('crashSafeState.reopenWithCrashSafeSave'), /resourcePath in '?crashSafeState\.openJsonFiles'?/);
  });

  test('a refused or failed save reaches VS Code as our one-line reason, not "Unknown (FileSystemError)"', async () => {
    const file = path.join(scratch, 'refused.json');
    writeFileSync(file, '{}\n');
    const refused = await vscode.workspace.fs
      .writeFile(vscode.Uri.file(file).with({ scheme: 'crashsafe' }), Buffer.from('{ "a": '))
      .then(
        () => undefined,
        (error: unknown) => error as Error,
      );
    assert.ok(refused, 'the invalid content was refused');
    hostLog(`      refusal as VS Code gets it: name "${refused.name}", message "${refused.message}"`);
    // The workbench shows `name: message` inside its own "Unable to write file" text; an empty name leaves ours.
    assert.doesNotMatch(`${refused.name}: ${refused.message}`, /Unknown \(FileSystemError\)/);
    // The parse error as a sentence, never the parser's code (ValueExpected).
    assert.equal(refused.message, 'Not saved: refused.json is not valid JSON (a value is missing, line 1, column 8).');
    assert.equal(readFileSync(file, 'utf8'), '{}\n');
    const failure = describeWriteFailure(
      'data.json',
      new AtomicWriteError('/w/data.json', 'open', 'EACCES', new Error('EACCES: permission denied')),
    );
    assert.equal(
      failure,
      'Not saved: the crash-safe write of data.json failed with EACCES, permission denied (open step). data.json is unchanged; the log has the details.',
    );
    assert.equal(saveFailure(failure).name, '');
  });
});
