import * as assert from 'node:assert/strict';
import { isJsonFileName, jsonFlavourOf, jsonTextProblem, MAX_NESTING_DEPTH, parseJson, withBomOf } from '../../src/core/json';

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

suite('one JSON rule: nesting, BOM', () => {
  test('5,000 opening brackets are "nested too deeply" at a line and column, never a stack overflow', () => {
    for (const flavour of ['json', 'jsonc'] as const) {
      const parsed = parseJson(`\n${'['.repeat(5000)}`, flavour);
      assert.equal(parsed.ok, false);
      if (parsed.ok) continue;
      assert.match(parsed.position.message, /nested too deeply/);
      assert.deepEqual([parsed.position.line, parsed.position.column], [2, MAX_NESTING_DEPTH + 1]);
    }
  });

  test('nesting up to the limit parses; brackets inside strings and comments do not count', () => {
    const deep = `${'['.repeat(MAX_NESTING_DEPTH)}${']'.repeat(MAX_NESTING_DEPTH)}`;
    assert.equal(parseJson(deep, 'json').ok, true);
    assert.equal(parseJson(JSON.stringify({ s: '['.repeat(5000) }), 'json').ok, true);
    assert.equal(parseJson(`// ${'{'.repeat(5000)}\n{"a": 1}`, 'jsonc').ok, true);
  });

  test('a BOM is valid in both flavours and is kept on rewrite', () => {
    const withBom = '\ufeff{"a": 1}\n';
    for (const flavour of ['json', 'jsonc'] as const) {
      const parsed = parseJson(withBom, flavour);
      assert.ok(parsed.ok);
      assert.equal(parsed.bom, true);
      assert.deepEqual(parsed.value, { a: 1 });
    }
    assert.equal(withBomOf(withBom, '{"a": 2}\n'), '\ufeff{"a": 2}\n');
    assert.equal(withBomOf('{"a": 1}', '{"a": 2}'), '{"a": 2}');
    assert.equal(parseJson('\ufeff', 'json').ok, false);
  });

  test('error positions count the BOM as a column of the first line', () => {
    const parsed = parseJson('\ufeff{"a": }', 'json');
    assert.ok(!parsed.ok);
    assert.deepEqual([parsed.position.line, parsed.position.column], [1, 8]);
  });
});
