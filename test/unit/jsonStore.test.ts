import * as assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeReadProblem, JsonValueError, readJson, writeJson } from '../../src/core/json/jsonStore';

const schema = {
  type: 'object',
  required: ['version', 'items'],
  properties: { version: { const: 1 }, items: { type: 'array', items: { type: 'string' } } },
  additionalProperties: false,
};

suite('jsonStore', () => {
  let dir: string;
  setup(() => {
    dir = mkdtempSync(join(tmpdir(), 'cs-json-'));
  });
  teardown(() => rmSync(dir, { recursive: true, force: true }));

  test('writeJson serialises deterministically: 2-space indent and a trailing newline', async () => {
    const file = join(dir, 'a.json');
    await writeJson(file, { b: [1, { c: 'ü' }] });
    assert.equal(readFileSync(file, 'utf8'), '{\n  "b": [\n    1,\n    {\n      "c": "ü"\n    }\n  ]\n}\n');
  });

  test('readJson tells apart missing, empty, corrupt (with line:column) and valid', async () => {
    const file = join(dir, 'doc.json');
    assert.equal((await readJson(file)).state, 'missing');
    writeFileSync(file, '  \n');
    assert.equal((await readJson(file)).state, 'empty');
    writeFileSync(file, '{\n  "a": 1,\n  "b": tru\n}\n');
    const corrupt = await readJson(file);
    assert.equal(corrupt.state, 'corrupt');
    if (corrupt.state === 'corrupt') {
      assert.equal(corrupt.error.line, 3);
      assert.equal(corrupt.error.column, 8);
      assert.match(describeReadProblem(corrupt), /doc\.json is not valid JSON: .* at line 3, column 8/);
    }
    writeFileSync(file, '{"a":[1,2]}');
    const valid = await readJson(file);
    assert.equal(valid.state, 'valid');
    if (valid.state === 'valid') assert.deepEqual(valid.value, { a: [1, 2] });
  });

  test('a truncated document is corrupt at its end', async () => {
    const file = join(dir, 'cut.json');
    writeFileSync(file, '{\n  "a": [1, 2');
    const result = await readJson(file);
    assert.equal(result.state, 'corrupt');
    if (result.state === 'corrupt') assert.deepEqual([result.error.line, result.error.offset], [2, 14]);
  });

  test('readJson checks the schema when given', async () => {
    const file = join(dir, 's.json');
    writeFileSync(file, '{"version":1,"items":[3]}');
    const result = await readJson(file, { schema });
    assert.equal(result.state, 'invalid');
    if (result.state === 'invalid') assert.match(result.errors.join(), /\/items\/0 must be string/);
  });

  test('a value that fails the schema is rejected and nothing is written', async () => {
    const file = join(dir, 's.json');
    writeFileSync(file, '{"version":1,"items":[]}\n');
    await assert.rejects(writeJson(file, { version: 2, items: [] }, { schema }), (e: unknown) => {
      assert.ok(e instanceof JsonValueError);
      assert.match(e.message, /s\.json.*\/version must be equal to constant/);
      return true;
    });
    assert.equal(readFileSync(file, 'utf8'), '{"version":1,"items":[]}\n');
    assert.deepEqual(readdirSync(dir), ['s.json']);
  });

  test('cyclic values, BigInt and undefined are rejected and nothing is written', async () => {
    const file = join(dir, 'c.json');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await assert.rejects(
      writeJson(file, cyclic),
      /Refusing to write .*c\.json: cannot serialise the value: .*circular/i,
    );
    await assert.rejects(writeJson(file, { n: 10n }), /cannot serialise the value: .*BigInt/);
    await assert.rejects(writeJson(file, undefined), /has no JSON form/);
    assert.deepEqual(readdirSync(dir), []);
  });

  test('writeJson does not mutate the options object', async () => {
    const options = Object.freeze({ schema, durability: 'fast' as const });
    await writeJson(join(dir, 'o.json'), { version: 1, items: ['a'] }, options);
    assert.deepEqual(Object.keys(options), ['schema', 'durability']);
  });
});
