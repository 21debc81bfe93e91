import * as assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import {
  decodeUtf8Exactly,
  firstInvalidUtf8Byte,
  isJsonFileName,
  type JsonValueSpan,
  jsonFlavourOf,
  jsonSpans,
  jsonTextProblem,
  MAX_NESTING_DEPTH,
  parseJson,
  withBomOf,
} from '../../src/core/json/json';

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
    assert.deepEqual(
      [broken?.line, broken?.column, broken?.problem, broken?.message],
      [3, 3, { code: 'syntax', error: 'CommaExpected' }, 'a comma is missing'],
    );
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

suite('opt-in strictness: duplicate keys', () => {
  const twoLists = '{\n  "version": 1,\n  "tasks": [],\n  "tasks": [1]\n}';

  test('refused on request, at the second name, with line:column, in both flavours and behind a BOM', () => {
    for (const flavour of ['json', 'jsonc'] as const) {
      const problem = jsonTextProblem(twoLists, flavour, { duplicateKeys: 'refuse' });
      assert.deepEqual([problem?.message, problem?.line, problem?.column], ['duplicate key "tasks"', 4, 3], flavour);
    }
    const bom = jsonTextProblem(`\ufeff{"a": 1, "a": 2}`, 'json', { duplicateKeys: 'refuse' });
    assert.deepEqual([bom?.line, bom?.column], [1, 11], 'the BOM counts as a column');
  });

  test('names are compared unescaped, per object, at every depth', () => {
    const refuse = { duplicateKeys: 'refuse' } as const;
    assert.equal(jsonTextProblem('{"tasks": 1, "t\\u0061sks": 2}', 'json', refuse)?.message, 'duplicate key "tasks"');
    assert.equal(
      jsonTextProblem('{"a": [{"id": 1, "done": true, "done": false}]}', 'json', refuse)?.message,
      'duplicate key "done"',
    );
    assert.equal(
      jsonTextProblem('{"__proto__": 1, "__proto__": 2}', 'json', refuse)?.message,
      'duplicate key "__proto__"',
    );
    assert.equal(
      jsonTextProblem('{"a": {"b": 1}, "b": {"a": 1}, "c": [{"a": 1}, {"a": 2}]}', 'json', refuse),
      undefined,
      'same name in different objects',
    );
    assert.equal(jsonTextProblem('{"a": "\\"a\\": 1", "b": 1}', 'json', refuse), undefined, 'a name inside a string');
  });

  test('allowed by default: scan, recover and the save guard judge user files, where they are legal JSON', () => {
    assert.equal(jsonTextProblem(twoLists, 'json'), undefined);
    assert.equal(jsonTextProblem(twoLists, 'jsonc'), undefined);
    const parsed = parseJson(twoLists, 'json');
    assert.ok(parsed.ok);
  });
});

suite('exact UTF-8', () => {
  test('well-formed bytes decode to their text, a BOM included', () => {
    const bytes = Buffer.from('\ufeff{"title": "caf\u00e9 \u{1F600}"}', 'utf8');
    assert.deepEqual(decodeUtf8Exactly(bytes), { ok: true, text: bytes.toString('utf8') });
  });

  test('a byte that is not UTF-8 is refused at its line and column instead of becoming U+FFFD', () => {
    const bytes = Buffer.concat([Buffer.from('{\n  "title": "caf'), Buffer.from([0xe9]), Buffer.from('"\n}')]);
    const decoded = decodeUtf8Exactly(bytes);
    assert.ok(!decoded.ok);
    assert.deepEqual(
      [decoded.position.line, decoded.position.column, decoded.position.message],
      [2, 16, 'invalid UTF-8 (byte 0xE9)'],
    );
  });

  test('the first bad byte agrees with Node and the WHATWG decoder on every edge of Table 3-7', () => {
    const cases: number[][] = [
      [0x80],
      [0xc0, 0x80],
      [0xc1, 0xbf],
      [0xc2],
      [0xe0, 0x80, 0x80],
      [0xe0, 0x9f, 0xbf],
      [0xed, 0xa0, 0x80],
      [0xed, 0xbf, 0xbf],
      [0xef, 0xbf],
      [0xf0, 0x8f, 0xbf, 0xbf],
      [0xf4, 0x90, 0x80, 0x80],
      [0xf5, 0x80, 0x80, 0x80],
      [0xff],
      [0xfe, 0xff],
      [0xc2, 0x80],
      [0xe0, 0xa0, 0x80],
      [0xed, 0x9f, 0xbf],
      [0xee, 0x80, 0x80],
      [0xf0, 0x90, 0x80, 0x80],
      [0xf4, 0x8f, 0xbf, 0xbf],
    ];
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let n = 0; n < 3000; n++)
      cases.push(Array.from({ length: 1 + Math.floor(random() * 6) }, () => Math.floor(random() * 256)));
    for (const bytesOfCase of cases) {
      const bytes = Buffer.from([0x61, ...bytesOfCase, 0x62]);
      const bad = firstInvalidUtf8Byte(bytes);
      assert.equal(bad === -1, isUtf8(bytes), bytes.toString('hex'));
      if (bad >= 0) {
        // Everything before the bad byte is well-formed; the decoder's first replacement is there.
        assert.ok(isUtf8(bytes.subarray(0, bad)), bytes.toString('hex'));
        assert.equal(
          bytes.toString('utf8').indexOf('\ufffd'),
          bytes.subarray(0, bad).toString('utf8').length,
          bytes.toString('hex'),
        );
      }
    }
  });
});

suite('JSON spans', () => {
  test('every value and member span holds exactly its source text, escapes and huge numbers included', () => {
    const text =
      ' {"a\\"b": [1e400, -0.50, 12345678901234567890, "x\\\\", "\\"", {}], "t\\u0061sks" : { "n" :null , "e": [ ] }, "": true}\r\n';
    const root = jsonSpans(text);
    const check = (node: JsonValueSpan, value: unknown) => {
      assert.deepEqual(JSON.parse(text.slice(node.start, node.end)), value);
      node.children.forEach((child, index) => {
        const key = child.name ?? index;
        const childValue = (value as Record<string | number, unknown>)[key];
        if (child.name !== undefined) {
          assert.equal(JSON.parse(text.slice(child.start, child.nameEnd)), child.name);
          assert.match(text.slice(child.nameEnd, child.valueStart), /^\s*:\s*$/);
        }
        assert.equal(child.end, child.value.end);
        check(child.value, childValue);
      });
    };
    check(root, JSON.parse(text));
    assert.deepEqual(
      root.children.map((child) => child.name),
      ['a"b', 'tasks', ''],
    );
    assert.equal(
      text.slice(root.children[0]!.value.children[2]!.start, root.children[0]!.value.children[2]!.end),
      '12345678901234567890',
    );
  });
});
