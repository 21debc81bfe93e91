// crashSafeSave.files' reopen layer in the real host: a matching JSON file opened as VS Code opens files becomes its
// crash-safe editor (same group, selection and scroll, no second tab), and what a user relies on in a JSON editor is
// still there ("nothing lost", issue #24): schema validation and completions, formatting, folding, the name and the
// relative path, saves that replace the file atomically, "Reopen normally" that the glob respects.
import * as assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CrashSafeStateApi } from '../../../src/ui/api';
import { integrationEnvironment } from './environment';

const EXTENSION_ID = 'crash-safe-state.crash-safe-state';

async function waitFor<T>(what: string, probe: () => T | undefined | false, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function tabsOf(fsPath: string): vscode.Tab[] {
  return vscode.window.tabGroups.all
    .flatMap((group) => group.tabs)
    .filter((tab) => {
      if (!(tab.input instanceof vscode.TabInputText)) return false;
      const uri = tab.input.uri;
      return uri.scheme === 'file' ? uri.fsPath === fsPath : tab.label === path.basename(fsPath);
    });
}

/** Waits until the reopen has read the crash-safe document of `glob/<name>`: from then on it is ready to swap. */
async function untilCrashSafeDocumentRead(name: string): Promise<void> {
  await waitFor(`the crash-safe document of ${name}`, () =>
    vscode.workspace.textDocuments.some(
      (document) => document.uri.scheme === 'crashsafe' && document.uri.path === `/glob/${name}`,
    ),
  );
}

/** The crash-safe editor of `fsPath` once the glob has reopened it (the only tab of that file, in `column`). */
async function crashSafeEditorOf(fsPath: string, column = vscode.ViewColumn.One): Promise<vscode.TextEditor> {
  return waitFor(`${path.basename(fsPath)} to be reopened crash-safe`, () => {
    const editor = vscode.window.activeTextEditor;
    const tabs = tabsOf(fsPath);
    return (
      editor?.document.uri.scheme === 'crashsafe' &&
      editor.document.uri.path.endsWith(`/${path.basename(fsPath)}`) &&
      editor.viewColumn === column &&
      tabs.length === 1 &&
      (tabs[0].input as vscode.TabInputText).uri.scheme === 'crashsafe' &&
      editor
    );
  });
}

const labelsOf = (list: vscode.CompletionList | undefined) =>
  (list?.items ?? []).map((item) => (typeof item.label === 'string' ? item.label : item.label.label)).sort();

/** Completions at `position` of `uri`, once the JSON server has the document (it answers empty before). */
async function completionsAt(uri: vscode.Uri, position: vscode.Position): Promise<string[]> {
  let labels: string[] = [];
  for (let attempt = 0; attempt < 40 && labels.length === 0; attempt++) {
    labels = labelsOf(
      await vscode.commands.executeCommand<vscode.CompletionList>(
        'vscode.executeCompletionItemProvider',
        uri,
        position,
      ),
    );
    if (labels.length === 0) await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return labels;
}

/** The JSON language server's diagnostics of `uri` (not our save guard's), once there are at least `atLeast`. */
async function diagnosticsOf(uri: vscode.Uri, atLeast = 1): Promise<string[]> {
  const found = await waitFor(
    `diagnostics in ${uri.toString()}`,
    () => {
      const list = vscode.languages
        .getDiagnostics(uri)
        .filter((diagnostic) => diagnostic.source !== 'Crash-Safe State');
      return list.length >= atLeast && list;
    },
    20_000,
  );
  return found.map((diagnostic) => `${diagnostic.range.start.line}:${diagnostic.message}`).sort();
}

suite('crash-safe save by glob: the reopen layer', () => {
  const workspace = integrationEnvironment().workspace;
  const folder = path.join(workspace, 'glob');
  const config = () => vscode.workspace.getConfiguration('crashSafeState');
  let api: CrashSafeStateApi;

  const file = (name: string, text: string) => {
    const full = path.join(folder, name);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, text);
    return full;
  };

  suiteSetup(async () => {
    api = (await vscode.extensions.getExtension(EXTENSION_ID)!.activate()) as CrashSafeStateApi;
    mkdirSync(folder, { recursive: true });
    await vscode.extensions.getExtension('vscode.json-language-features')?.activate();
    await config().update('crashSafeSave.files', ['glob/**/*.json'], vscode.ConfigurationTarget.Workspace);
  });
  suiteTeardown(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await config().update('crashSafeSave.files', undefined, vscode.ConfigurationTarget.Workspace);
    await vscode.workspace.getConfiguration('json').update('schemas', undefined, vscode.ConfigurationTarget.Workspace);
    rmSync(folder, { recursive: true, force: true });
  });
  teardown(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  test('package.json opened as the Explorer opens it becomes its crash-safe editor: one tab, same group, scroll kept', async () => {
    const lines = ['{', '  "name": "glob-demo",', '  "version": "1.0.0",'];
    for (let i = 0; i < 80; i++) lines.push(`  "key${i}": ${i},`);
    lines.push('  "last": true', '}', '');
    const manifest = file('package.json', lines.join('\n'));
    const before = api.diagnostics.crashSafeSave().reopen.reopened;
    // The Explorer, Quick Open, links and search all end in the editor service's open, as vscode.open does.
    await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(manifest), {
      selection: new vscode.Range(60, 4, 60, 9),
      preview: false,
    } satisfies vscode.TextDocumentShowOptions);
    const editor = await crashSafeEditorOf(manifest);
    assert.equal(api.diagnostics.crashSafeSave().reopen.reopened, before + 1);
    await waitFor('line 60 to be visible', () =>
      editor.visibleRanges.some((range) => range.start.line <= 60 && range.end.line >= 60),
    );
    const tab = tabsOf(manifest)[0];
    assert.equal(tab.label, 'package.json', 'the tab shows the file name');
    assert.equal(tab.isPreview, false);
    assert.equal(editor.document.uri.path, '/glob/package.json', 'the relative path (breadcrumb) is in the URI');
    assert.equal(editor.document.languageId, 'json');
    assert.equal(editor.document.getText(), readFileSync(manifest, 'utf8'));
  });

  test('the selection an open asks for (a search hit, a link) is kept across the reopen', async () => {
    const lines = ['{'];
    for (let i = 0; i < 80; i++) lines.push(`  "key${i}": ${i},`);
    lines.push('  "last": true', '}', '');
    const manifest = file('selection/package.json', lines.join('\n'));
    await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(manifest), {
      selection: new vscode.Range(60, 4, 60, 9),
    } satisfies vscode.TextDocumentShowOptions);
    const editor = await crashSafeEditorOf(manifest);
    assert.deepEqual(
      [editor.selection.start.line, editor.selection.start.character, editor.selection.end.character],
      [60, 4, 9],
    );
  });

  test('a selection that reaches the plain editor after it appears (an open under load) is kept across the reopen', async () => {
    const lines = ['{'];
    for (let i = 0; i < 80; i++) lines.push(`  "key${i}": ${i},`);
    lines.push('  "last": true', '}', '');
    const manifest = file('late/package.json', lines.join('\n'));
    // Holds the swap, so the selection below reaches the plain editor after it appeared and before it is closed.
    api.diagnostics.crashSafeReopenTiming.holdSwapMs = 800;
    try {
      const plain = await vscode.window.showTextDocument(vscode.Uri.file(manifest), { preview: false });
      assert.equal(plain.document.uri.scheme, 'file');
      // Once the reopen has its crash-safe document it is ready to swap (and has read the plain editor, if it reads once).
      await untilCrashSafeDocumentRead('late/package.json');
      await new Promise((resolve) => setTimeout(resolve, 100));
      // As an open with a selection does: select, then reveal.
      plain.selection = new vscode.Selection(60, 4, 60, 9);
      plain.revealRange(plain.selection, vscode.TextEditorRevealType.InCenter);
      const editor = await crashSafeEditorOf(manifest);
      const at = () => [editor.selection.start.line, editor.selection.start.character, editor.selection.end.character];
      await waitFor('the late selection in the crash-safe editor', () => at()[0] === 60, 3000).catch(() => undefined);
      assert.deepEqual(at(), [60, 4, 9]);
      await waitFor('line 60 to be visible', () =>
        editor.visibleRanges.some((range) => range.start.line <= 60 && range.end.line >= 60),
      );
    } finally {
      api.diagnostics.crashSafeReopenTiming.holdSwapMs = 0;
    }
  });

  test('a matching file the user leaves for another before its reopen: the crash-safe editor opens behind, the other keeps the focus', async () => {
    const settings = file('left/settings.json', '{"left": true}\n');
    const notes = file('left/notes.txt', 'elsewhere\n');
    // Holds the swap, so the user turns to another file after the plain editor appeared and before it is replaced.
    api.diagnostics.crashSafeReopenTiming.holdSwapMs = 800;
    try {
      await vscode.window.showTextDocument(vscode.Uri.file(settings), { preview: false });
      await untilCrashSafeDocumentRead('left/settings.json');
      await vscode.window.showTextDocument(vscode.Uri.file(notes), { preview: false });
      const schemes = () => tabsOf(settings).map((tab) => (tab.input as vscode.TabInputText).uri.scheme);
      await waitFor('the reopen', () => schemes().join() === 'crashsafe', 5_000).catch(() => undefined);
      assert.deepEqual(schemes(), ['crashsafe'], 'one crash-safe tab, no plain tab');
      assert.equal(tabsOf(settings)[0]?.isActive, false, 'the crash-safe tab came to the front');
      assert.equal(vscode.window.activeTextEditor?.document.uri.fsPath, notes, 'the reopen covered the other file');
    } finally {
      api.diagnostics.crashSafeReopenTiming.holdSwapMs = 0;
    }
  });

  test('a matching file the user leaves for another group before its reopen: reopened in its group, the focus stays', async () => {
    const settings = file('moved/settings.json', '{"moved": true}\n');
    const notes = file('moved/notes.txt', 'beside\n');
    await vscode.window.showTextDocument(vscode.Uri.file(notes), { viewColumn: vscode.ViewColumn.Two, preview: false });
    api.diagnostics.crashSafeReopenTiming.holdSwapMs = 800;
    try {
      await vscode.window.showTextDocument(vscode.Uri.file(settings), { viewColumn: vscode.ViewColumn.One });
      await untilCrashSafeDocumentRead('moved/settings.json');
      await vscode.window.showTextDocument(vscode.Uri.file(notes), { viewColumn: vscode.ViewColumn.Two });
      const shownInOne = () =>
        vscode.window.visibleTextEditors.find((editor) => editor.viewColumn === vscode.ViewColumn.One);
      await waitFor('the reopen', () => shownInOne()?.document.uri.scheme === 'crashsafe', 5_000).catch(
        () => undefined,
      );
      assert.equal(shownInOne()?.document.uri.scheme, 'crashsafe', 'not reopened in its group');
      assert.equal(vscode.window.activeTextEditor?.document.uri.fsPath, notes, 'the reopen took the focus back');
    } finally {
      api.diagnostics.crashSafeReopenTiming.holdSwapMs = 0;
      await vscode.commands.executeCommand('workbench.action.joinAllGroups');
    }
  });

  test('outside a git repository a crash-safe editor adds no Source Control entry (git’s gutter diff needs one)', async () => {
    assert.ok(vscode.extensions.getExtension('vscode.git'), 'the built-in git extension is in the host');
    const target = file('nogit.json', '{"g": 1}\n');
    await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(target));
    await crashSafeEditorOf(target);
    // git is looked up once a crash-safe tab is open (and started if it was not): give it time to answer.
    await vscode.extensions.getExtension('vscode.git')!.activate();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.deepEqual(api.diagnostics.crashSafeSave().gitGutter, { sourceControl: false, originals: 0 });
  });

  test('the same file opened in two groups while the first reopen is under way: both reopened, each with its selection', async () => {
    const lines = ['{'];
    for (let i = 0; i < 80; i++) lines.push(`  "key${i}": ${i},`);
    lines.push('  "last": true', '}', '');
    const manifest = file('two/package.json', lines.join('\n'));
    api.diagnostics.crashSafeReopenTiming.holdSwapMs = 800;
    try {
      const uri = vscode.Uri.file(manifest);
      const one = await vscode.window.showTextDocument(uri, { preview: false, viewColumn: vscode.ViewColumn.One });
      const two = await vscode.window.showTextDocument(uri, { preview: false, viewColumn: vscode.ViewColumn.Two });
      one.selection = new vscode.Selection(10, 1, 10, 2);
      two.selection = new vscode.Selection(50, 1, 50, 2);
      const shown = () =>
        vscode.window.visibleTextEditors
          .filter((editor) => editor.document.uri.path === '/glob/two/package.json')
          .map((editor) => `${editor.viewColumn} ${editor.document.uri.scheme} ${editor.selection.start.line}`)
          .sort();
      const tabs = () =>
        tabsOf(manifest)
          .map((tab) => `${tab.group.viewColumn} ${(tab.input as vscode.TabInputText).uri.scheme}`)
          .sort();
      await waitFor('both groups crash-safe, one tab each', () => shown().length === 2 && tabs().length === 2).catch(
        () => undefined,
      );
      assert.deepEqual(shown(), ['1 crashsafe 10', '2 crashsafe 50']);
      assert.deepEqual(tabs(), ['1 crashsafe', '2 crashsafe'], 'no plain tab is left');
    } finally {
      api.diagnostics.crashSafeReopenTiming.holdSwapMs = 0;
    }
  });

  test('opened to the side, it is reopened in that group; a file the globs miss stays plain', async () => {
    const settings = file('sub/settings.json', '{"a": 1}\n');
    const notes = file('notes.txt', 'plain\n');
    await vscode.window.showTextDocument(vscode.Uri.file(notes));
    await vscode.window.showTextDocument(vscode.Uri.file(settings), { viewColumn: vscode.ViewColumn.Two });
    await crashSafeEditorOf(settings, vscode.ViewColumn.Two);
    assert.equal(tabsOf(notes).length, 1);
    assert.equal((tabsOf(notes)[0].input as vscode.TabInputText).uri.scheme, 'file', 'notes.txt is no match');
  });

  test('a save in the crash-safe editor replaces the file (new inode) and leaves no temp', async () => {
    const target = file('saved.json', '{"n": 1}\n');
    await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(target));
    const editor = await crashSafeEditorOf(target);
    const inode = statSync(target).ino;
    const all = new vscode.Range(0, 0, editor.document.lineCount, 0);
    assert.ok(await editor.edit((edit) => edit.replace(all, '{"n": 2}\n')));
    assert.ok(await editor.document.save(), 'saved');
    assert.equal(readFileSync(target, 'utf8'), '{"n": 2}\n');
    assert.notEqual(statSync(target).ino, inode, 'an atomic replace gives the file a new inode');
    assert.deepEqual(
      readdirSync(folder).filter((name) => name.startsWith('saved.json') && name !== 'saved.json'),
      [],
      'no temp is left beside the file',
    );
  });

  test('Reopen normally keeps the file plain for the session, and the glob does not reopen it at once', async () => {
    const target = file('kept.json', '{"k": 1}\n');
    await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(target));
    const editor = await crashSafeEditorOf(target);
    const reopened = await vscode.commands.executeCommand<vscode.Uri>(
      'crashSafeState.reopenWithoutCrashSafeSave',
      editor.document.uri,
    );
    assert.equal(reopened?.scheme, 'file');
    await new Promise((resolve) => setTimeout(resolve, 800));
    assert.equal(vscode.window.activeTextEditor?.document.uri.scheme, 'file', 'still plain after the glob had time');
    assert.equal(tabsOf(target).length, 1);
    // Closed and opened again in the same session: still the user's choice.
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(target));
    await new Promise((resolve) => setTimeout(resolve, 800));
    assert.equal(vscode.window.activeTextEditor?.document.uri.scheme, 'file', 'the choice is kept for the session');
    // Reopen With Crash-Safe Save ends the choice.
    await vscode.commands.executeCommand('crashSafeState.reopenWithCrashSafeSave', vscode.Uri.file(target));
    await crashSafeEditorOf(target);
  });

  test('turning the setting off reopens the crash-safe editors normally, and on again reopens them crash-safe', async () => {
    const target = file('toggle.json', '{"t": 1}\n');
    await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(target));
    const editor = await crashSafeEditorOf(target);
    editor.selection = new vscode.Selection(0, 2, 0, 5);
    try {
      await config().update('crashSafeSave.files', [], vscode.ConfigurationTarget.Workspace);
      const plain = await waitFor('the plain editor', () => {
        const active = vscode.window.activeTextEditor;
        return active?.document.uri.scheme === 'file' && tabsOf(target).length === 1 && active;
      });
      assert.equal(plain.document.uri.fsPath, target);
      await waitFor('the selection to be carried over', () =>
        plain.selection.isEqual(new vscode.Selection(0, 2, 0, 5)),
      );
    } finally {
      await config().update('crashSafeSave.files', ['glob/**/*.json'], vscode.ConfigurationTarget.Workspace);
    }
    await crashSafeEditorOf(target);
  });

  test('nothing lost: package.json schema validation and completions are the same as in a plain editor', async () => {
    // Not matched by the glob (it lives outside glob/), so the plain editor stays plain: the reference.
    const plainFolder = path.join(workspace, 'globref');
    mkdirSync(plainFolder, { recursive: true });
    const text = '{\n  "name": "demo",\n  "version": 1,\n  "": 0\n}\n';
    const plainFile = path.join(plainFolder, 'package.json');
    writeFileSync(plainFile, text);
    const manifest = file('package.json', text);
    try {
      await vscode.window.showTextDocument(vscode.Uri.file(plainFile));
      const plainDiagnostics = await diagnosticsOf(vscode.Uri.file(plainFile));
      const plainCompletions = await completionsAt(vscode.Uri.file(plainFile), new vscode.Position(3, 3));
      // Offline, the manifest schema is VS Code's own (extension manifests); schemastore's adds npm's keys online.
      assert.ok(plainCompletions.includes('contributes'), `reference completions: ${plainCompletions.join(' ')}`);

      await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(manifest));
      const editor = await crashSafeEditorOf(manifest);
      assert.deepEqual(await diagnosticsOf(editor.document.uri, plainDiagnostics.length), plainDiagnostics);
      assert.deepEqual(await completionsAt(editor.document.uri, new vscode.Position(3, 3)), plainCompletions);
    } finally {
      rmSync(plainFolder, { recursive: true, force: true });
    }
  });

  test('nothing lost: tsconfig.json is JSON with comments and gets the tsconfig schema association', async () => {
    const tsconfig = file('tsconfig.json', '{\n  // comment\n  "compilerOptions": {\n    "strict": true\n  }\n}\n');
    await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(tsconfig));
    const editor = await crashSafeEditorOf(tsconfig);
    assert.equal(editor.document.languageId, 'jsonc', 'comments are allowed');
    // The tsconfig schema is schemastore's, not reachable offline: the server saying it cannot load it for this
    // document proves the association (fileMatch tsconfig*.json) reaches the crash-safe editor.
    const problems = await diagnosticsOf(editor.document.uri);
    assert.ok(
      problems.some((problem) => problem.includes('schemastore.org/tsconfig')),
      `the tsconfig schema is associated: ${problems.join('; ')}`,
    );
    assert.ok(!problems.some((problem) => /comment/i.test(problem)), `no complaint about the comment: ${problems}`);
  });

  test('nothing lost: .vscode/settings.json keeps the settings schema', async () => {
    await config().update(
      'crashSafeSave.files',
      ['glob/**/*.json', '.vscode/settings.json'],
      vscode.ConfigurationTarget.Workspace,
    );
    try {
      const settingsFile = path.join(workspace, '.vscode', 'settings.json');
      await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(settingsFile));
      const editor = await crashSafeEditorOf(settingsFile);
      assert.equal(editor.document.languageId, 'jsonc');
      const end = editor.document.positionAt(editor.document.getText().lastIndexOf('}'));
      // A new key at the end of the object: settings completions name VS Code's own settings.
      const completions = await completionsAt(editor.document.uri, end);
      assert.ok(
        completions.some((label) => label.includes('editor.fontSize')),
        `settings completions: ${completions.slice(0, 20).join(' ')}`,
      );
    } finally {
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      await config().update('crashSafeSave.files', ['glob/**/*.json'], vscode.ConfigurationTarget.Workspace);
    }
  });

  test('nothing lost: a json.schemas association by fileMatch validates and completes the crash-safe editor', async () => {
    await vscode.workspace.getConfiguration('json').update(
      'schemas',
      [
        {
          fileMatch: ['**/glob/custom-*.json'],
          schema: {
            type: 'object',
            properties: { colour: { enum: ['red', 'green'] }, size: { type: 'number' } },
          },
        },
      ],
      vscode.ConfigurationTarget.Workspace,
    );
    const custom = file('custom-a.json', '{\n  "colour": "blue",\n  "": 1\n}\n');
    await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(custom));
    const editor = await crashSafeEditorOf(custom);
    const problems = await diagnosticsOf(editor.document.uri);
    assert.ok(
      problems.some((problem) => problem.startsWith('1:')),
      `"blue" is not in the enum: ${problems.join('; ')}`,
    );
    const completions = await completionsAt(editor.document.uri, new vscode.Position(2, 3));
    assert.ok(completions.includes('size'), `schema completions: ${completions.join(' ')}`);
  });

  test('nothing lost: Reveal in Explorer View on a crash-safe tab reveals the file it edits', async () => {
    const target = file('reveal.json', '{}\n');
    await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(target));
    const editor = await crashSafeEditorOf(target);
    const menus = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON.contributes.menus as Record<
      string,
      { command: string; when?: string }[]
    >;
    assert.ok(
      menus['editor/title/context'].some(
        (item) =>
          item.command === 'crashSafeState.revealCrashSafeInExplorer' &&
          /^resourceScheme == '?crashsafe'?$/.test(item.when ?? ''),
      ),
      `the tab context menu of a crash-safe editor offers it: ${JSON.stringify(menus['editor/title/context'])}`,
    );
    const revealed = await vscode.commands.executeCommand<vscode.Uri>(
      'crashSafeState.revealCrashSafeInExplorer',
      editor.document.uri,
    );
    assert.equal(revealed?.toString(), vscode.Uri.file(target).toString(), 'the Explorer is given the file: URI');
  });

  test('nothing lost: formatting and folding', async () => {
    const messy = file('messy.json', '{"a":{"b":[1,2,\n3]},\n"c":true}\n');
    await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(messy));
    const editor = await crashSafeEditorOf(messy);
    let formatted: vscode.TextEdit[] | undefined;
    for (let attempt = 0; attempt < 40 && !formatted?.length; attempt++) {
      formatted = await vscode.commands.executeCommand<vscode.TextEdit[]>(
        'vscode.executeFormatDocumentProvider',
        editor.document.uri,
        { tabSize: 2, insertSpaces: true },
      );
      if (!formatted?.length) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    assert.ok(formatted && formatted.length > 0, 'the JSON formatter answers for the crash-safe document');
    const applied = new vscode.WorkspaceEdit();
    applied.set(editor.document.uri, formatted);
    assert.ok(await vscode.workspace.applyEdit(applied));
    assert.equal(
      editor.document.getText().trimEnd(),
      '{\n  "a": {\n    "b": [\n      1,\n      2,\n      3\n    ]\n  },\n  "c": true\n}',
    );
    const folds = await vscode.commands.executeCommand<vscode.FoldingRange[]>(
      'vscode.executeFoldingRangeProvider',
      editor.document.uri,
    );
    assert.ok(
      folds?.some((fold) => fold.start === 0) && folds.some((fold) => fold.start === 1),
      `folding ranges: ${JSON.stringify(folds)}`,
    );
    await vscode.commands.executeCommand('workbench.action.files.revert');
  });
});
