// The core's reasons and parse problems are codes; the CLI words them in English (core/reasons.ts), the extension in
// the display language (src/ui/reasonWords.ts). Here the extension's wording runs against the real German bundle
// through a stand-in for `vscode.l10n.t` that fails on a missing key, so an English fallback cannot pass.
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import Module from 'node:module';
import { join } from 'node:path';
import { printParseErrorCode } from 'jsonc-parser';
import {
  type ParseProblem,
  parseJson,
  parseProblemText,
  SYNTAX_ERROR_NAMES,
  type SyntaxErrorName,
} from '../../src/core/json/json';
import { type Reason, reasonText } from '../../src/core/reasons';

type Bundle = Record<string, string>;
const root = join(__dirname, '..', '..');
const bundles: Record<'en' | 'de', Bundle | undefined> = {
  en: undefined,
  de: JSON.parse(readFileSync(join(root, 'l10n', 'bundle.l10n.de.json'), 'utf8')) as Bundle,
};
let language: 'en' | 'de' = 'en';
const missing: string[] = [];

/** vscode.l10n.t as VS Code runs it: the key is the message, plus "/" and the comment when there is one. */
function t(message: string | { message: string; args?: unknown[]; comment?: string[] }, ...rest: unknown[]): string {
  const call = typeof message === 'string' ? { message, args: rest } : message;
  const key = call.comment?.length ? `${call.message}/${call.comment.join('')}` : call.message;
  const bundle = bundles[language];
  let text = call.message;
  if (bundle) {
    if (!(key in bundle)) missing.push(key);
    text = bundle[key] ?? call.message;
  }
  return text.replace(/\{(\d+)\}/g, (whole, index: string) => String(call.args?.[Number(index)] ?? whole));
}

const fakeVscode = { l10n: { t } };
const loader = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
const originalLoad = loader._load;
loader._load = function load(this: unknown, request: string, ...rest: unknown[]) {
  return request === 'vscode' ? fakeVscode : originalLoad.call(this, request, ...rest);
};
// Loaded after the stand-in is in place.
const { parseFailureLabel, parseProblemLabel, reasonLabel } =
  require('../../src/ui/reasonWords') as typeof import('../../src/ui/reasonWords');

function inGerman<T>(run: () => T): T {
  language = 'de';
  missing.length = 0;
  try {
    const result = run();
    assert.deepEqual(missing, [], 'every text has a German translation');
    return result;
  } finally {
    language = 'en';
  }
}

/** A parser identifier (CamelCase such as UnexpectedEndOfString) where people should read words. */
const PARSER_CODE = /\b[A-Z][a-z]+(?:[A-Z][a-z]+)+\b/;
/** English words that must not survive in a German text. */
const ENGLISH = /\b(the|is|and|this|not|at|line|column|could|target|copy|valid|file)\b/;

/** One example of every reason code; a new code without an example does not compile. */
const everyReason: { [C in Reason['code']]: Extract<Reason, { code: C }> } = {
  'parse-error': {
    code: 'parse-error',
    problem: { code: 'syntax', error: 'UnexpectedEndOfString' },
    line: 4,
    column: 16,
  },
  'schema-mismatch': { code: 'schema-mismatch', problems: ['/tasks must be array'] },
  unreadable: { code: 'unreadable', errno: 'EACCES', message: "EACCES: permission denied, open '/w/a.json'" },
  disappeared: { code: 'disappeared' },
  'target-unchecked': {
    code: 'target-unchecked',
    because: { code: 'unreadable', errno: 'EFBIG', message: '/w/a.json: larger than the 256.0 MiB limit' },
  },
  'target-broken-valid-copy': { code: 'target-broken-valid-copy', state: 'corrupt' },
  'target-broken-temp-unchecked': {
    code: 'target-broken-temp-unchecked',
    state: 'missing',
    because: { code: 'unreadable', errno: 'ENOTREG', message: '/w/a.json.tmp: not a regular file (a FIFO)' },
  },
  'target-broken-temp-unjudged': { code: 'target-broken-temp-unjudged', state: 'empty' },
  'outside-roots': { code: 'outside-roots' },
  'group-file': { code: 'group-file' },
  'orphaned-group-file': { code: 'orphaned-group-file' },
  'through-symlink': { code: 'through-symlink' },
  'already-gone': { code: 'already-gone' },
  'not-regular-file': { code: 'not-regular-file' },
  'changed-since-scan': { code: 'changed-since-scan' },
  'undecodable-twin': { code: 'undecodable-twin' },
  'not-recognised': { code: 'not-recognised' },
  'writing-now': { code: 'writing-now' },
  'writer-running': { code: 'writer-running', pid: 4242, ageMs: 60_000 },
  'too-young': { code: 'too-young', minimumMs: 600_000, ageMs: 120_000 },
  'git-tracked': { code: 'git-tracked' },
  'git-unknown': { code: 'git-unknown' },
  'changed-before-removal': { code: 'changed-before-removal', message: '/w/a.tmp: changed since it was checked' },
  'folder-replaced': { code: 'folder-replaced' },
  busy: { code: 'busy' },
  'busy-or-denied': { code: 'busy-or-denied' },
  'trash-unavailable': { code: 'trash-unavailable' },
};

const everyProblem: ParseProblem[] = [
  ...SYNTAX_ERROR_NAMES.map((error): ParseProblem => ({ code: 'syntax', error })),
  { code: 'empty' },
  { code: 'too-deep', limit: 512 },
  { code: 'duplicate-key', name: 'tasks' },
  { code: 'invalid-utf8', byte: 0xe9 },
  { code: 'string-breaks-line' },
  { code: 'not-json' },
];

suite('reason wording: parser errors as sentences, reasons in the display language', () => {
  test('every jsonc-parser ParseErrorCode has a sentence, in English and in German, and none is the code', () => {
    const names = Array.from({ length: 16 }, (_, index) => printParseErrorCode(index + 1)) as SyntaxErrorName[];
    assert.deepEqual([...SYNTAX_ERROR_NAMES].sort(), [...names].sort(), 'the wording knows exactly the parser codes');
    const english = new Set<string>();
    const german = new Set<string>();
    for (const problem of everyProblem) {
      const en = parseProblemText(problem);
      assert.equal(parseProblemLabel(problem), en, 'the extension in English says what the CLI says');
      const de = inGerman(() => parseProblemLabel(problem));
      for (const text of [en, de]) {
        assert.doesNotMatch(text, PARSER_CODE, `${JSON.stringify(problem)} reads as words: ${text}`);
        assert.match(text, /\s/, `${JSON.stringify(problem)} is a phrase: ${text}`);
      }
      assert.notEqual(de, en, `${JSON.stringify(problem)} is translated`);
      english.add(en);
      german.add(de);
    }
    assert.equal(english.size, everyProblem.length, 'no two problems read the same in English');
    assert.equal(german.size, everyProblem.length, 'no two problems read the same in German');
  });

  test('the issue\'s example: a file cut off inside a string reads "the file ends inside a string, line 4, column 16"', () => {
    const text = '{\n  "items": [\n    { "title": "buy milk", "done": false },\n    { "title": "write rep';
    const parsed = parseJson(text, 'json');
    assert.equal(parsed.ok, false);
    const position = parsed.ok ? undefined : parsed.position;
    assert.deepEqual(position?.problem, { code: 'syntax', error: 'UnexpectedEndOfString' });
    assert.equal(parseFailureLabel(position!), 'the file ends inside a string, line 4, column 16');
    assert.equal(
      inGerman(() => parseFailureLabel(position!)),
      'die Datei endet innerhalb einer Zeichenfolge, Zeile 4, Spalte 16',
    );
    // A line break, not the end of the file, cut this string: the one parser code covers both, the words do not.
    const broken = parseJson('{"a": "b\n}', 'json');
    assert.deepEqual(broken.ok ? undefined : broken.position.problem, { code: 'string-breaks-line' });
  });

  test('every reason code reads in German with no English word and no parser code', () => {
    for (const reason of Object.values(everyReason) as Reason[]) {
      const de = inGerman(() => reasonLabel(reason));
      assert.doesNotMatch(de, ENGLISH, `${reason.code} in German: ${de}`);
      assert.doesNotMatch(de, PARSER_CODE, `${reason.code} in German: ${de}`);
      assert.doesNotMatch(de, /--[a-z]|recover --groups/, `${reason.code} names no CLI flag: ${de}`);
    }
    assert.equal(
      inGerman(() => reasonLabel(everyReason['target-broken-valid-copy'])),
      'die Zieldatei ist beschädigt und dies ist eine gültige Kopie',
    );
  });

  test('one German spelling per term: the compound "Temporärdatei(en)", which a capitalised header keeps as it is', () => {
    // code-server capitalises every word of a view header: an adjective "temporäre" showed as "Temporäre" there.
    // The whole rule is in germanTerms.test.ts.
    const german = [
      ...Object.values(JSON.parse(readFileSync(join(root, 'package.nls.de.json'), 'utf8')) as Record<string, string>),
      ...Object.values(bundles.de!),
    ];
    assert.deepEqual(
      german.filter((text) => /temporär(?:e|en|er)?\s+Datei/i.test(text)),
      [],
      'no "temporäre Datei" beside "Temporärdatei"',
    );
    const view = (JSON.parse(readFileSync(join(root, 'package.nls.de.json'), 'utf8')) as Record<string, string>)[
      'view.orphans.name'
    ];
    assert.equal(view, 'Verwaiste Temporärdateien');
    assert.ok(german.filter((text) => text.includes('verwaiste Temporärdateien')).length > 5, 'the commands agree');
  });

  test("the CLI's English stays as it was, byte for byte, for reasons that are not parse errors", () => {
    const cli = (code: Reason['code']) => reasonText(everyReason[code]);
    assert.equal(cli('target-broken-valid-copy'), 'the target is corrupt and this is a valid copy');
    assert.equal(cli('group-file'), 'part of an interrupted group commit; recover it with recover --groups');
    assert.equal(
      cli('target-unchecked'),
      'its target could not be checked (/w/a.json: larger than the 256.0 MiB limit), so this may be the only good copy',
    );
    assert.equal(cli('too-young'), 'younger than 10 min (2 min old)');
    assert.equal(cli('writer-running'), 'its writer (pid 4242) is still running and touched it 1 min ago');
    assert.equal(cli('changed-before-removal'), '/w/a.tmp: changed since it was checked; left in place');
    assert.equal(cli('parse-error'), 'not valid JSON: the file ends inside a string at line 4, column 16');
  });
});
