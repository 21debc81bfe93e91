import * as assert from 'node:assert/strict';
import { isJsonFileName, jsonFlavourOf, jsonTextProblem } from '../../src/state/jsonFlavour';

suite('JSON flavour of a file', () => {
  test('VS Code config files and tsconfig are JSONC; package.json and our tasks.json are strict', () => {
    assert.equal(jsonFlavourOf('/w/.vscode/settings.json'), 'jsonc');
    assert.equal(jsonFlavourOf('/w/.vscode/launch.json'), 'jsonc');
    assert.equal(jsonFlavourOf('/w/.vscode/tasks.json'), 'jsonc');
    assert.equal(jsonFlavourOf('/w/tsconfig.json'), 'jsonc');
    assert.equal(jsonFlavourOf('/w/packages/a/tsconfig.build.json'), 'jsonc');
    assert.equal(jsonFlavourOf('/w/.devcontainer/devcontainer.json'), 'jsonc');
    assert.equal(jsonFlavourOf('/w/notes.jsonc'), 'jsonc');
    assert.equal(jsonFlavourOf('/w/package.json'), 'json');
    assert.equal(jsonFlavourOf('/w/.vscode/crash-safe/tasks.json'), 'json');
    assert.equal(jsonFlavourOf('/w/config/settings.json'), 'json');
  });

  test('isJsonFileName accepts .json and .jsonc only', () => {
    assert.equal(isJsonFileName('/w/a.json'), true);
    assert.equal(isJsonFileName('/w/a.JSONC'), true);
    assert.equal(isJsonFileName('/w/a.json5'), false);
    assert.equal(isJsonFileName('/w/json'), false);
  });
});

suite('JSON text problems', () => {
  test('strict JSON refuses comments and trailing commas, with line:column', () => {
    assert.equal(jsonTextProblem('{"a": 1}', 'json'), undefined);
    const comment = jsonTextProblem('{\n  // hi\n  "a": 1\n}', 'json');
    assert.equal(comment?.line, 2);
    assert.equal(comment?.column, 3);
    assert.ok(jsonTextProblem('{"a": 1,}', 'json'));
  });

  test('JSONC accepts comments and trailing commas but not broken structure', () => {
    assert.equal(jsonTextProblem('{\n  // hi\n  "a": 1,\n}', 'jsonc'), undefined);
    const broken = jsonTextProblem('{\n  "a": 1\n  "b": 2\n}', 'jsonc');
    assert.deepEqual([broken?.line, broken?.column, broken?.message], [3, 3, 'CommaExpected']);
    assert.ok(jsonTextProblem('{"a": [1, 2', 'jsonc'));
  });

  test('empty or blank text is a problem in both flavours', () => {
    assert.equal(jsonTextProblem('', 'json')?.message, 'the document is empty');
    assert.equal(jsonTextProblem('  \n', 'jsonc')?.message, 'the document is empty');
  });
});
