import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { jsonTextProblem } from '../../../src/core/json';
import type { RestoreResult, SettingsSnapshotDocument, TakeResult } from '../../../src/state/snapshots';
import type { Task, TasksDocument } from '../../../src/state/tasksSchema';
import type { TasksRecoveryResult } from '../../../src/state/tasksStore';
import type { CrashSafeStateApi, TasksDiagnostics } from '../../../src/ui/api';
import { hostLog, integrationEnvironment } from './environment';

const EXTENSION_ID = 'crash-safe-state.crash-safe-state';
/** Lock, fsync and a busy 2-core machine on top of the configured delay. */
const SAVE_SLACK_MS = 2500;

async function api(): Promise<CrashSafeStateApi> {
  const extension = vscode.extensions.getExtension<CrashSafeStateApi>(EXTENSION_ID);
  assert.ok(extension, 'extension not found');
  return extension.activate();
}

async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function readTasksFile(file: string): TasksDocument | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as TasksDocument;
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
      (error, stdout, stderr) => (error ? reject(new Error(`${args.join(' ')}: ${error.message}\n${stderr}`)) : resolve(stdout)),
    );
  });
}

suite('workspace state in the workbench: the Tasks view', () => {
  let root: string;
  let tasksFile: string;
  let saveDelayMs: number;
  let extensionPath: string;
  const diagnostics = async (): Promise<TasksDiagnostics> => (await api()).diagnostics.tasks();

  suiteSetup(async function () {
    this.timeout(30_000);
    root = integrationEnvironment().workspace;
    tasksFile = path.join(root, '.vscode', 'crash-safe', 'tasks.json');
    saveDelayMs = vscode.workspace.getConfiguration('crashSafeState').get<number>('tasks.saveDelayMs', 500);
    extensionPath = vscode.extensions.getExtension(EXTENSION_ID)!.extensionPath;
    await api();
    await waitFor('the Tasks view to load', async () => (await diagnostics()).state.kind === 'ok');
  });

  test('an edit made through the view’s commands reaches the file within the save delay', async () => {
    const started = Date.now();
    const task = await vscode.commands.executeCommand<Task>('crashSafeState.addTask', { title: '  Write the integration test ' });
    assert.ok(task?.id, 'addTask returned no task');
    assert.equal(task.title, 'Write the integration test');
    const shown = await diagnostics();
    assert.ok(shown.rows.some((row) => row.label === task.title && row.checked === false), JSON.stringify(shown.rows));
    await waitFor('the task in tasks.json', () => readTasksFile(tasksFile)?.tasks.some((t) => t.id === task.id));
    const elapsed = Date.now() - started;
    hostLog(`      add → durable in ${elapsed} ms (save delay ${saveDelayMs} ms)`);
    assert.ok(elapsed <= saveDelayMs + SAVE_SLACK_MS, `took ${elapsed} ms`);
  });

  test('edit, toggle, notes, reorder and delete are each saved; a burst of edits costs one write', async () => {
    const first = await vscode.commands.executeCommand<Task>('crashSafeState.addTask', { title: 'First' });
    const second = await vscode.commands.executeCommand<Task>('crashSafeState.addTask', { title: 'Second' });
    await waitFor('both tasks saved', async () => (await diagnostics()).unsavedEdits === 0 && readTasksFile(tasksFile)?.tasks.some((t) => t.id === second.id));

    const savesBefore = (await diagnostics()).saves;
    await vscode.commands.executeCommand('crashSafeState.editTask', { id: first.id, title: 'First, renamed' });
    await vscode.commands.executeCommand('crashSafeState.editTaskNotes', { id: first.id, notes: 'line one\nline two' });
    await vscode.commands.executeCommand('crashSafeState.toggleTask', { id: first.id });
    await vscode.commands.executeCommand('crashSafeState.moveTaskUp', { id: second.id });
    const started = Date.now();
    const saved = await waitFor('the burst in tasks.json', () => {
      const document = readTasksFile(tasksFile);
      const renamed = document?.tasks.find((t) => t.id === first.id);
      return renamed?.title === 'First, renamed' && renamed.done && renamed.notes === 'line one\nline two' && document;
    });
    hostLog(`      burst of 4 edits → durable ${Date.now() - started} ms after the last`);
    const order = saved.tasks.map((t) => t.id);
    assert.equal(order.indexOf(second.id), order.indexOf(first.id) - 1, 'Second moved above First');
    await waitFor('the save to be counted', async () => (await diagnostics()).unsavedEdits === 0);
    assert.equal((await diagnostics()).saves - savesBefore, 1, 'four edits within the delay share one write');
    const row = (await diagnostics()).rows.find((r) => r.label === 'First, renamed');
    assert.deepEqual(row, { label: 'First, renamed', description: 'line one', checked: true });

    const removed = await vscode.commands.executeCommand<Task[]>('crashSafeState.deleteTask', { id: second.id });
    assert.deepEqual(
      removed.map((t) => t.id),
      [second.id],
    );
    await waitFor('the delete in tasks.json', () => readTasksFile(tasksFile)?.tasks.every((t) => t.id !== second.id));
  });

  test('a task added by the CLI appears in the view through the watcher', async () => {
    const output = await cli(extensionPath, ['tasks', 'add', 'Added', 'from', 'the', 'CLI', '--dir', root, '--json']);
    const added = JSON.parse(output) as Task;
    await waitFor('the CLI task in the view', async () => (await diagnostics()).tasks.some((t) => t.id === added.id));
    assert.ok((await diagnostics()).rows.some((row) => row.label === 'Added from the CLI'));
  });

  test('with concurrent CLI writers, nothing is lost', async function () {
    this.timeout(120_000);
    const before = readTasksFile(tasksFile)!.tasks.length;
    const workers = 3;
    const addsPerWorker = 4;
    const cliRuns = Array.from({ length: workers }, async (_, worker) => {
      const ids: string[] = [];
      for (let n = 0; n < addsPerWorker; n++) {
        ids.push((JSON.parse(await cli(extensionPath, ['tasks', 'add', `cli ${worker}.${n}`, '--dir', root, '--json'])) as Task).id);
      }
      return ids;
    });
    const viewIds: string[] = [];
    for (let n = 0; n < 12; n++) {
      const task = await vscode.commands.executeCommand<Task>('crashSafeState.addTask', { title: `view ${n}` });
      viewIds.push(task.id);
      // A toggle now and then, so the view also edits tasks while the CLI appends.
      if (n % 3 === 0) await vscode.commands.executeCommand('crashSafeState.toggleTask', { id: task.id });
      await sleep(60);
    }
    const cliIds = (await Promise.all(cliRuns)).flat();
    await waitFor('every view edit to be durable', async () => (await diagnostics()).unsavedEdits === 0, 30_000);
    const document = readTasksFile(tasksFile)!;
    const onDisk = new Set(document.tasks.map((t) => t.id));
    const missing = [...viewIds, ...cliIds].filter((id) => !onDisk.has(id));
    assert.deepEqual(missing, [], 'every acknowledged add is in the file');
    assert.equal(document.tasks.length, before + viewIds.length + cliIds.length);
    assert.equal(onDisk.size, document.tasks.length, 'ids are unique');
    for (const [index, id] of viewIds.entries()) {
      assert.equal(document.tasks.find((t) => t.id === id)!.done, index % 3 === 0, `toggle of view ${index}`);
    }
    await waitFor('the view to show every task', async () => (await diagnostics()).tasks.length === document.tasks.length);
    hostLog(`      ${viewIds.length} view adds + ${cliIds.length} CLI adds at once: ${document.tasks.length - before} new tasks, none lost`);
  });

  test('a corrupt task list is reported with line:column, edits are refused, nothing is written; Recover restores it', async function () {
    this.timeout(60_000);
    await waitFor('no unsaved edits', async () => (await diagnostics()).unsavedEdits === 0);
    const aTask = (await diagnostics()).tasks[0]!;
    const corrupt = '{\n  "version": 1,\n  "tasks": [\n    { "id": "abcd1234", "title": "half-written"\n';
    writeFileSync(tasksFile, corrupt);
    const crashSafeDir = path.dirname(tasksFile);
    const treeBefore = readdirSync(crashSafeDir, { recursive: true, encoding: 'utf8' }).sort();
    const expected = jsonTextProblem(corrupt, 'json')!;
    const shown = await waitFor('the problem to be reported', async () => {
      const state = await diagnostics();
      return state.state.kind === 'problem' && state;
    });
    const where = `line ${expected.line}, column ${expected.column}`;
    assert.ok(shown.message?.includes('tasks.json') && shown.message.includes(where), `message: ${shown.message}`);
    assert.ok(shown.rows[0]?.label.includes(where), JSON.stringify(shown.rows));
    assert.equal(shown.rows[0]?.description, '.vscode/crash-safe/tasks.json');
    assert.ok(shown.rows.some((row) => row.label === 'Recover…'), 'a Recover row is offered');

    const refused = await vscode.commands.executeCommand<Task | undefined>('crashSafeState.addTask', { title: 'must not be written' });
    assert.equal(refused, undefined, 'the add was refused');
    assert.equal(await vscode.commands.executeCommand('crashSafeState.toggleTask', { id: aTask.id }), undefined);
    await sleep(saveDelayMs + 1000);
    assert.equal(readFileSync(tasksFile, 'utf8'), corrupt, 'the corrupt file is left byte for byte');
    assert.deepEqual(readdirSync(crashSafeDir, { recursive: true, encoding: 'utf8' }).sort(), treeBefore, 'no temp, backup or default was written');

    const result = await vscode.commands.executeCommand<TasksRecoveryResult>('crashSafeState.recoverTasks', { confirm: true });
    assert.ok(result, 'recover returned nothing');
    assert.equal(result.restoredFrom.kind, 'backup');
    assert.ok(result.preservedAs && readFileSync(result.preservedAs, 'utf8') === corrupt, 'the damaged file is kept');
    const recovered = await waitFor('the view to be usable again', async () => {
      const state = await diagnostics();
      return state.state.kind === 'ok' && state;
    });
    assert.equal(recovered.tasks.length, result.document.tasks.length);
    assert.equal(recovered.message, undefined);
    const after = await vscode.commands.executeCommand<Task>('crashSafeState.addTask', { title: 'after recovery' });
    await waitFor('the add after recovery in the file', () => readTasksFile(tasksFile)?.tasks.some((t) => t.id === after.id));
  });
});

suite('workspace state in the workbench: settings snapshots', () => {
  let root: string;
  let snapshotsDir: string;
  const editorConfig = () => vscode.workspace.getConfiguration('editor');

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
    const baselineDoc = JSON.parse(readFileSync(path.join(snapshotsDir, `${baselineId}.json`), 'utf8')) as SettingsSnapshotDocument;
    assert.equal(baselineDoc.values['editor.tabSize'], 3);

    const autoBefore = exported.diagnostics.settingsSnapshots().taken;
    const changedAt = Date.now();
    await editorConfig().update('tabSize', 7, vscode.ConfigurationTarget.Workspace);
    const autoId = await waitFor('an automatic snapshot after the change', () => {
      const stats = exported.diagnostics.settingsSnapshots();
      return stats.taken > autoBefore && stats.lastId;
    });
    hostLog(`      automatic snapshot ${Date.now() - changedAt} ms after the change`);
    const autoDoc = JSON.parse(readFileSync(path.join(snapshotsDir, `${autoId}.json`), 'utf8')) as SettingsSnapshotDocument;
    assert.equal(autoDoc.reason, 'auto');
    assert.equal(autoDoc.values['editor.tabSize'], 7);
    assert.ok(autoDoc.settingsText?.includes('"editor.tabSize": 7'), autoDoc.settingsText ?? 'null');

    // Nothing changed since: an explicit take is skipped.
    const again = await vscode.commands.executeCommand<TakeResult>('crashSafeState.takeSettingsSnapshot');
    assert.equal(again.taken, false);

    const restored = await vscode.commands.executeCommand<RestoreResult>('crashSafeState.restoreSettingsSnapshot', { id: baselineId, confirm: true });
    assert.ok(restored, 'restore returned nothing');
    assert.deepEqual(restored.changedKeys, ['editor.tabSize']);
    assert.equal(readFileSync(path.join(root, '.vscode', 'settings.json'), 'utf8'), baselineDoc.settingsText);
    await waitFor('VS Code to see the restored value', () => editorConfig().inspect<number>('tabSize')?.workspaceValue === 3);
    const ids = readdirSync(snapshotsDir).filter((name) => name.endsWith('.json'));
    assert.ok(ids.includes(`${autoId}.json`), 'the state before the restore is still a snapshot');
  });

  test('restore without confirmation (the modal is cancelled in this host) changes nothing', async () => {
    const settingsFile = path.join(root, '.vscode', 'settings.json');
    const before = readFileSync(settingsFile, 'utf8');
    const listing = readdirSync(snapshotsDir).filter((name) => name.endsWith('.json')).sort();
    const oldest = listing[0]!.slice(0, -'.json'.length);
    const result = await vscode.commands.executeCommand('crashSafeState.restoreSettingsSnapshot', { id: oldest });
    assert.equal(result, undefined);
    assert.equal(readFileSync(settingsFile, 'utf8'), before);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });
});

suite('workspace state in the workbench: Reopen With Crash-Safe Save', () => {
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

  async function reopen(file: string, content: string): Promise<vscode.TextDocument> {
    writeFileSync(file, content);
    await vscode.window.showTextDocument(vscode.Uri.file(file));
    const uri = await vscode.commands.executeCommand<vscode.Uri>('crashSafeState.reopenWithCrashSafeSave');
    assert.ok(uri, 'reopen returned nothing');
    assert.equal(uri.scheme, 'crashsafe');
    assert.equal(uri.fsPath, file);
    opened.push(uri);
    const document = await vscode.workspace.openTextDocument(uri);
    assert.equal(document.getText(), content);
    assert.equal(vscode.window.activeTextEditor?.document.uri.toString(), uri.toString(), 'the crash-safe editor is active');
    const fileTabs = vscode.window.tabGroups.all
      .flatMap((group) => group.tabs)
      .filter((tab) => tab.input instanceof vscode.TabInputText && tab.input.uri.scheme === 'file' && tab.input.uri.fsPath === file);
    assert.equal(fileTabs.length, 0, 'the plain editor was replaced');
    return document;
  }

  async function replaceAll(document: vscode.TextDocument, text: string): Promise<void> {
    const edit = new vscode.WorkspaceEdit();
    edit.replace(document.uri, new vscode.Range(document.positionAt(0), document.positionAt(document.getText().length)), text);
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
    const delay = vscode.workspace.getConfiguration('crashSafeState').get<number>('crashSafeSave.autoSaveDelayMs', 1000);
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
    await waitFor('the auto-save to skip the invalid content', () => exported.diagnostics.crashSafeSave().autoSave.skippedInvalid > skippedBefore);
    await sleep(300);
    assert.equal(readFileSync(file, 'utf8'), original, 'nothing was written');
    assert.equal(statSync(file).ino, inodeBefore);
    assert.equal(document.isDirty, true, 'the edit stays in the editor');
    assert.match(exported.diagnostics.crashSafeSave().autoSave.lastSkipped ?? '', /^strict\.json 1:17 /);

    const refusedBefore = exported.diagnostics.crashSafeSave().refusedInvalid;
    assert.equal(await document.save(), false, 'the manual save did not happen');
    assert.equal(exported.diagnostics.crashSafeSave().refusedInvalid, refusedBefore + 1);
    assert.equal(readFileSync(file, 'utf8'), original);
    assert.deepEqual(readdirSync(scratch).filter((name) => name.startsWith('strict.json')), ['strict.json'], 'no temp is left');
  });

  test('VS Code’s own files.autoSave never writes invalid JSON through crashsafe: either', async () => {
    const exported = await api();
    const file = path.join(scratch, 'vscode-autosave.json');
    const original = '[1, 2, 3]\n';
    const document = await reopen(file, original);
    await filesConfig().update('autoSaveDelay', 100, vscode.ConfigurationTarget.Workspace);
    await filesConfig().update('autoSave', 'afterDelay', vscode.ConfigurationTarget.Workspace);
    try {
      const refusedBefore = exported.diagnostics.crashSafeSave().refusedInvalid;
      await replaceAll(document, '[1, 2, 3');
      await waitFor('VS Code’s auto-save to be refused', () => exported.diagnostics.crashSafeSave().refusedInvalid > refusedBefore);
      assert.match(exported.diagnostics.crashSafeSave().lastRefusal ?? '', /never saved automatically/);
      assert.equal(readFileSync(file, 'utf8'), original);
      await replaceAll(document, '[1, 2, 3, 4]\n');
      await waitFor('VS Code’s auto-save of valid content', () => readFileSync(file, 'utf8') === '[1, 2, 3, 4]\n');
    } finally {
      await filesConfig().update('autoSave', 'off', vscode.ConfigurationTarget.Workspace);
    }
  });
});
