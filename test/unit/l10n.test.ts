// Localisation stays complete: the manifest's strings come from package.nls.json (VS Code replaces each `%key%`),
// the code's from `vscode.l10n.t` through l10n/bundle.l10n.json (`npm run l10n` extracts it from src), and every
// other language has a translation of each, with the same placeholders, codicons, code and link targets.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const root = join(__dirname, '..', '..');
const l10nDir = join(root, 'l10n');
/** The npm script that writes l10n/bundle.l10n.json; the extraction check below runs the same command. */
const L10N_SCRIPT = 'vscode-l10n-dev export --outDir ./l10n ./src';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
/** A bundle entry as @vscode/l10n-dev writes it: the message, or (when the call has a comment) message and comment. */
type BundleEntry = string | { message: string; comment: string[] };

function readJson<T = Json>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** The languages `<prefix><language>.json` files in `dir` exist for (`package.nls.` → `de`, …). */
function languagesIn(dir: string, prefix: string): string[] {
  if (!existsSync(dir)) return [];
  const pattern = new RegExp(`^${prefix.replace(/\./g, '\\.')}([\\w-]+)\\.json$`);
  return readdirSync(dir)
    .map((name) => pattern.exec(name)?.[1])
    .filter((language): language is string => language !== undefined)
    .sort();
}

/**
 * What a translation must keep exactly: placeholders (`{0}`, `{name}`), codicons (`$(shield)`), code spans
 * (setting keys, command ids, file names) and markdown link targets (`](command:…)`), as a sorted list.
 */
function invariantsOf(text: string): string[] {
  const found = [
    ...(text.match(/\{[\w.-]+\}/g) ?? []),
    ...(text.match(/\$\([\w~-]+\)/g) ?? []),
    ...(text.match(/`[^`\n]+`/g) ?? []),
    ...(text.match(/\]\([^)\s]+\)/g) ?? []),
  ];
  return found.sort();
}

/** Differences between a translation and its English text, one line each (none when it is complete). */
function translationProblems(
  english: Record<string, string>,
  translated: Record<string, unknown>,
  file: string,
): string[] {
  const problems: string[] = [];
  for (const key of Object.keys(english)) {
    if (!(key in translated)) problems.push(`${file}: missing ${JSON.stringify(key)}`);
  }
  for (const [key, value] of Object.entries(translated)) {
    const source = english[key];
    if (source === undefined) {
      problems.push(`${file}: ${JSON.stringify(key)} is not an English key (renamed or removed?)`);
    } else if (typeof value !== 'string' || value.trim() === '') {
      problems.push(`${file}: ${JSON.stringify(key)} has no translation (${JSON.stringify(value)})`);
    } else {
      const expected = invariantsOf(source);
      const actual = invariantsOf(value);
      if (JSON.stringify(expected) !== JSON.stringify(actual)) {
        problems.push(
          `${file}: ${JSON.stringify(key)} must keep ${JSON.stringify(expected)} unchanged, has ${JSON.stringify(actual)}`,
        );
      }
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------------------
// The manifest

/** VS Code replaces a manifest string that is exactly `%key%` (its own pattern) with package.nls(.<lang>).json's value. */
const NLS_REF = /^%([\w.-]+)%$/;

/** Every `%key%` in the manifest, with where it is. */
function manifestRefs(value: Json, path: string, found: { key: string; path: string }[] = []) {
  if (typeof value === 'string') {
    const key = NLS_REF.exec(value)?.[1];
    if (key !== undefined) found.push({ key, path });
  } else if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) manifestRefs(item, `${path}[${index}]`, found);
  } else if (value && typeof value === 'object') {
    for (const [name, item] of Object.entries(value)) manifestRefs(item, `${path}.${name}`, found);
  }
  return found;
}

/** Fields of `contributes` whose strings VS Code shows (arrays of them for enumDescriptions). */
const SHOWN_FIELDS = new Set([
  'title',
  'shortTitle',
  'category',
  'name',
  'contextualTitle',
  'label',
  'contents',
  'description',
  'markdownDescription',
  'enumDescriptions',
  'markdownEnumDescriptions',
  'deprecationMessage',
  'markdownDeprecationMessage',
  'altText',
]);

/** Shown strings that are written out instead of being a `%key%`. */
function literalShownStrings(value: Json, path: string, found: string[] = []): string[] {
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) literalShownStrings(item, `${path}[${index}]`, found);
  } else if (value && typeof value === 'object') {
    for (const [name, item] of Object.entries(value)) {
      const strings =
        typeof item === 'string' ? [item] : Array.isArray(item) && name.endsWith('numDescriptions') ? item : [];
      // A resource label formatter's `label` is a template (`${path}`), not words.
      if (SHOWN_FIELDS.has(name) && strings.length > 0 && !path.includes('.resourceLabelFormatters[')) {
        for (const text of strings)
          if (typeof text === 'string' && !NLS_REF.test(text)) found.push(`${path}.${name}: ${JSON.stringify(text)}`);
      } else {
        literalShownStrings(item, `${path}.${name}`, found);
      }
    }
  }
  return found;
}

suite('l10n: the manifest (package.json, package.nls*.json)', () => {
  const manifest = readJson<{ [key: string]: Json }>(join(root, 'package.json'));
  const english = readJson<Record<string, string>>(join(root, 'package.nls.json'));

  test('every shown manifest string is a %key%', () => {
    const { displayName, description, contributes, capabilities } = manifest;
    const literal = literalShownStrings(
      { displayName: displayName ?? null, description: description ?? null } as Json,
      'package.json',
    ).concat(
      literalShownStrings(contributes ?? null, 'contributes'),
      literalShownStrings(capabilities ?? null, 'capabilities'),
    );
    assert.deepEqual(literal, [], 'move these strings into package.nls.json and refer to them as "%key%"');
  });

  test('every %key% in package.json is in package.nls.json, and package.nls.json has no unused key', () => {
    const refs = manifestRefs(manifest, 'package.json');
    assert.ok(refs.length > 0, 'package.json has no %key% at all');
    const missing = refs.filter(({ key }) => !(key in english)).map(({ key, path }) => `${path}: %${key}%`);
    assert.deepEqual(missing, [], 'these keys are not in package.nls.json');
    const used = new Set(refs.map(({ key }) => key));
    assert.deepEqual(
      Object.keys(english).filter((key) => !used.has(key)),
      [],
      'package.nls.json keys nothing in package.json refers to (remove them from every package.nls*.json)',
    );
    const empty = Object.entries(english).filter(([, value]) => typeof value !== 'string' || value.trim() === '');
    assert.deepEqual(empty, [], 'empty English strings');
  });

  test('every package.nls.<language>.json translates exactly the keys of package.nls.json, keeping placeholders, codicons, code and links', () => {
    const languages = languagesIn(root, 'package.nls.');
    assert.ok(languages.length > 0, 'no package.nls.<language>.json');
    const problems = languages.flatMap((language) => {
      const file = `package.nls.${language}.json`;
      return translationProblems(english, readJson<Record<string, unknown>>(join(root, file)), file);
    });
    assert.deepEqual(problems, []);
  });

  test('package.json points VS Code at l10n/, and `npm run l10n` writes the bundle there', () => {
    assert.equal(manifest.l10n, './l10n');
    assert.equal((manifest.scripts as Record<string, string>).l10n, L10N_SCRIPT);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The code's strings

/** The message of a bundle entry. */
function messageOf(entry: BundleEntry): string {
  return typeof entry === 'string' ? entry : entry.message;
}

/** What `npm run l10n` would write now, extracted into a temp folder ({} when src has no `l10n.t` string: no file). */
function extractBundle(): Record<string, BundleEntry> {
  const out = mkdtempSync(join(tmpdir(), 'cs-l10n-'));
  try {
    const tool = join(root, 'node_modules', '@vscode', 'l10n-dev');
    const bin = readJson<{ bin: Record<string, string> }>(join(tool, 'package.json')).bin['vscode-l10n-dev']!;
    const [command, ...args] = L10N_SCRIPT.split(' ');
    assert.equal(command, 'vscode-l10n-dev');
    const outDir = args.indexOf('--outDir') + 1;
    args[outDir] = out;
    const result = spawnSync(process.execPath, [join(tool, bin), ...args], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(result.status, 0, `${L10N_SCRIPT} failed:\n${result.stdout}${result.stderr}`);
    const bundle = join(out, 'bundle.l10n.json');
    return existsSync(bundle) ? readJson<Record<string, BundleEntry>>(bundle) : {};
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

function readBundle(language?: string): Record<string, BundleEntry> | undefined {
  const file = join(l10nDir, language ? `bundle.l10n.${language}.json` : 'bundle.l10n.json');
  return existsSync(file) ? readJson<Record<string, BundleEntry>>(file) : undefined;
}

suite('l10n: the code (vscode.l10n.t, l10n/bundle.l10n*.json)', () => {
  test('l10n/bundle.l10n.json holds exactly the strings src passes to vscode.l10n.t now', function () {
    this.timeout(60_000);
    const extracted = extractBundle();
    const committed = readBundle();
    const count = Object.keys(extracted).length;
    assert.ok(
      committed !== undefined || count === 0,
      `l10n/bundle.l10n.json is missing (src has ${count} strings): run \`npm run l10n\``,
    );
    const bundle = committed ?? {};
    const differences = {
      newInSrc: Object.keys(extracted).filter((key) => !(key in bundle)),
      goneFromSrc: Object.keys(bundle).filter((key) => !(key in extracted)),
      changed: Object.keys(extracted).filter(
        (key) => key in bundle && JSON.stringify(bundle[key]) !== JSON.stringify(extracted[key]),
      ),
    };
    assert.deepEqual(
      differences,
      { newInSrc: [], goneFromSrc: [], changed: [] },
      'l10n/bundle.l10n.json is out of date: run `npm run l10n`, then translate the new strings in every l10n/bundle.l10n.<language>.json',
    );
  });

  test('every l10n/bundle.l10n.<language>.json translates exactly the keys of bundle.l10n.json, keeping placeholders and codicons', () => {
    const english = readBundle();
    assert.ok(english, 'l10n/bundle.l10n.json is missing: run `npm run l10n`');
    // The key of an entry with a comment is `message/comment`; its English text is the message.
    const sources = Object.fromEntries(Object.entries(english).map(([key, entry]) => [key, messageOf(entry)]));
    const languages = languagesIn(l10nDir, 'bundle.l10n.');
    assert.ok(languages.length > 0, 'no l10n/bundle.l10n.<language>.json');
    const problems = languages.flatMap((language) => {
      const file = `l10n/bundle.l10n.${language}.json`;
      return translationProblems(sources, readJson<Record<string, unknown>>(join(root, file)), file);
    });
    assert.deepEqual(problems, []);
  });

  test('there is a second language, and the manifest and the code are translated into the same ones', () => {
    const manifest = languagesIn(root, 'package.nls.');
    const code = languagesIn(l10nDir, 'bundle.l10n.');
    assert.ok(manifest.length > 0, 'no package.nls.<language>.json');
    assert.deepEqual(code, manifest, 'languages of l10n/bundle.l10n.<language>.json vs package.nls.<language>.json');
  });
});

// ---------------------------------------------------------------------------------------------------------------
// English written straight into the UI code

interface Literal {
  start: number;
  end: number;
  text: string;
}

/**
 * Reads TypeScript just well enough for the scan below: returns the source with comments blanked and the contents
 * of string literals (and of regex literals) masked, so patterns match code only, plus the string literals.
 * Offsets and line breaks are kept, so positions in `code` are positions in the file.
 */
function lex(source: string): { code: string; literals: Literal[] } {
  const code = source.split('');
  const literals: Literal[] = [];
  const blank = (from: number, to: number) => {
    for (let i = from; i < to; i++) if (code[i] !== '\n') code[i] = ' ';
  };
  let i = 0;
  let previous = ''; // the last non-blank code character, to tell a regex literal from a division
  while (i < source.length) {
    const c = source[i]!;
    const next = source[i + 1];
    if (c === '/' && next === '/') {
      const end = source.indexOf('\n', i);
      const stop = end === -1 ? source.length : end;
      blank(i, stop);
      i = stop;
    } else if (c === '/' && next === '*') {
      const end = source.indexOf('*/', i + 2);
      const stop = end === -1 ? source.length : end + 2;
      blank(i, stop);
      i = stop;
    } else if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      let depth = 0; // of `${…}` in a template literal
      while (j < source.length) {
        const d = source[j]!;
        if (d === '\\') j += 2;
        else if (c === '`' && d === '$' && source[j + 1] === '{') {
          depth++;
          j += 2;
        } else if (c === '`' && depth > 0 && d === '}') {
          depth--;
          j++;
        } else if (d === c && depth === 0) break;
        else if (d === '\n' && c !== '`') break;
        else j++;
      }
      literals.push({ start: i, end: j + 1, text: source.slice(i + 1, j) });
      blank(i + 1, j);
      i = j + 1;
      previous = c;
    } else if (c === '/' && (previous === '' || '(,=:[!&|?{};'.includes(previous))) {
      let j = i + 1;
      let inClass = false;
      while (j < source.length && source[j] !== '\n') {
        const d = source[j]!;
        if (d === '\\') j++;
        else if (d === '[') inClass = true;
        else if (d === ']') inClass = false;
        else if (d === '/' && !inClass) break;
        j++;
      }
      blank(i + 1, j);
      i = j + 1;
      previous = '/';
    } else {
      if (!/\s/.test(c)) previous = c;
      i++;
    }
  }
  return { code: code.join(''), literals };
}

/** Names that stay as they are in every language. */
const UNTRANSLATED = new Set(['Crash-Safe State']);

/** `text` without its template interpolations (`${…}`, which may hold braces and strings of their own). */
function withoutInterpolations(text: string): string {
  let out = '';
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    if (depth === 0 && text[i] === '$' && text[i + 1] === '{') {
      depth = 1;
      i++;
      out += ' ';
    } else if (depth > 0) {
      if (text[i] === '{') depth++;
      else if (text[i] === '}') depth--;
    } else {
      out += text[i];
    }
  }
  return out;
}

/**
 * A literal that reads as English prose once placeholders and codicons are taken out: it starts with a capitalised
 * word or has two words in a row, or it is a template that puts a word next to a value (`${age} old`).
 * Ids, paths, context values and single lowercase words do not count.
 */
function looksEnglish(text: string): boolean {
  const interpolated = text.includes('${');
  const words = withoutInterpolations(text)
    .replace(/\$\([\w~-]+\)/g, ' ')
    .replace(/\{\w+\}/g, ' ')
    .trim();
  if (UNTRANSLATED.has(words) || !/[A-Za-z]{2}/.test(words) || /^[A-Za-z]+[A-Z][A-Za-z]*$/.test(words)) return false;
  return (
    /^[A-Z][a-z]/.test(words) ||
    /[A-Za-z]{2,}[^\S\n]+[A-Za-z]{2,}/.test(words) ||
    (interpolated && /(^|\s)[A-Za-z]{2,}(\s|$)/.test(words))
  );
}

/** Calls whose string arguments the user reads. */
const SHOWN_CALL =
  /\b(show(?:Information|Warning|Error)Message|new\s+vscode\.(?:TreeItem|CodeAction|MarkdownString|Diagnostic|QuickInputButtons)|append(?:Text|Markdown))\s*\(/g;
/** Properties and assignments whose string value the user reads (quick picks, input boxes, tree items, status bar, …). */
const SHOWN_PROPERTY =
  /\b(placeHolder|prompt|title|tooltip|label|description|detail|message|text|name|validationMessage)\s*(?::|\?\?=|=(?![=>]))\s*(?:[^,;{}()\n]*[?:]\s*)?$/;

/** The string literals that are top-level arguments of the call whose `(` is at `open`. */
function topLevelArguments(code: string, literals: Literal[], open: number): Literal[] {
  let depth = 0;
  let close = open;
  for (let i = open; i < code.length; i++) {
    const c = code[i];
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    if (depth === 0) {
      close = i;
      break;
    }
  }
  return literals.filter((literal) => {
    if (literal.start <= open || literal.end > close) return false;
    let level = 0;
    for (let i = open; i < literal.start; i++) {
      const c = code[i];
      if (c === '(' || c === '[' || c === '{') level++;
      else if (c === ')' || c === ']' || c === '}') level--;
    }
    return level === 1;
  });
}

/** Problems with one file: English shown without `vscode.l10n.t`, and `l10n.t` calls l10n-dev cannot extract. */
function scanForEnglish(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  const { code, literals } = lex(source);
  const lines = source.split('\n');
  const lineOf = (offset: number) => source.slice(0, offset).split('\n').length;
  const where = (offset: number) => `${relative(root, file).split('\\').join('/')}:${lineOf(offset)}`;
  const ignored = (offset: number) =>
    /l10n-ignore/.test(lines[lineOf(offset) - 1] ?? '') || /l10n-ignore/.test(lines[lineOf(offset) - 2] ?? '');
  const found = new Map<number, string>();
  // The arguments of vscode.l10n.t are the English source text: that is where it belongs.
  const localised = [...code.matchAll(/\bl10n\.t\s*\(/g)].map((call) => {
    const open = call.index! + call[0].length - 1;
    return [open, topLevelEnd(code, open)] as const;
  });
  const shown = (literal: Literal) =>
    looksEnglish(literal.text) &&
    !ignored(literal.start) &&
    !localised.some(([from, to]) => literal.start > from && literal.end <= to);

  for (const call of code.matchAll(SHOWN_CALL)) {
    const open = call.index! + call[0].length - 1;
    for (const literal of topLevelArguments(code, literals, open)) {
      if (shown(literal))
        found.set(literal.start, `${where(literal.start)}: ${call[1]}(… ${JSON.stringify(literal.text)} …)`);
    }
  }
  for (const literal of literals) {
    if (found.has(literal.start) || !shown(literal)) continue;
    const property = SHOWN_PROPERTY.exec(code.slice(Math.max(0, literal.start - 200), literal.start));
    if (property) found.set(literal.start, `${where(literal.start)}: ${property[1]}: ${JSON.stringify(literal.text)}`);
  }
  // l10n-dev extracts only a literal message, and an object only with a `comment` (0.0.35 skips `{ message, args }`).
  for (const call of code.matchAll(/\bl10n\.t\s*\(\s*/g)) {
    const at = call.index! + call[0].length;
    const literal = literals.find((l) => l.start === at);
    if (literal) {
      if (source[at] === '`' && literal.text.includes('${'))
        found.set(at, `${where(at)}: l10n.t with \${…} in its message: use {0} and arguments`);
    } else if (code[at] === '{') {
      const object = code.slice(at, topLevelEnd(code, at));
      if (!/\bmessage\s*:\s*['"`]/.test(object))
        found.set(at, `${where(at)}: l10n.t({ message }) needs a literal message`);
      else if (!/\bcomment\s*:/.test(object))
        found.set(
          at,
          `${where(at)}: l10n.t({ message, args }) without a comment is not extracted by l10n-dev: add a comment`,
        );
    } else {
      found.set(at, `${where(at)}: l10n.t needs a literal message, or l10n-dev cannot extract it`);
    }
  }
  return [...found.entries()].sort(([a], [b]) => a - b).map(([, problem]) => problem);
}

/** The offset just past the bracket that closes the one at `open`. */
function topLevelEnd(code: string, open: number): number {
  let depth = 0;
  for (let i = open; i < code.length; i++) {
    const c = code[i];
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    if (depth === 0) return i + 1;
  }
  return code.length;
}

function typeScriptFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return typeScriptFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

suite('l10n: no English written straight into the UI', () => {
  test('the scan finds shown literals, and passes localised ones and ids (self-check)', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'cs-l10n-scan-')), 'sample.ts');
    try {
      writeFileSync(
        file,
        [
          "void vscode.window.showWarningMessage('Recover the file?', { modal: true }, 'Recover');",
          "void vscode.window.showInformationMessage(vscode.l10n.t('Swept {0} files.', n), vscode.l10n.t('Undo'));",
          `const pick = { label: '$(trash) Sweep', description: \`\${age} old\`, detail: vscode.l10n.t('Kept') };`,
          "item.tooltip = done ? 'All clean' : vscode.l10n.t('Orphans');",
          `item.text = \`$(shield) \${count}\`; item.name = 'Crash-Safe State'; const id = { label: 'crashSafeState.scan' };`,
          "// showErrorMessage('Commented out')",
          "const re = /'/; const x = { title: 'Quoted \\' title' };",
          "vscode.l10n.t({ message: 'Deleted {0}.', args: [n] });",
          "vscode.l10n.t({ message: 'Deleted {0}.', args: [n], comment: ['{0} is a title'] });",
          `vscode.l10n.t(\`Saved \${name}\`);`,
          "return { label: 'Not shown' }; // l10n-ignore",
          `this.name = 'TasksUnavailableError'; const row = { label: \`task:\${id}\`, description: \`\${n} \${unit}\` };`,
        ].join('\n'),
      );
      assert.deepEqual(
        scanForEnglish(file).map((problem) => problem.replace(/^.*sample\.ts:/, '')),
        [
          '1: showWarningMessage(… "Recover the file?" …)',
          '1: showWarningMessage(… "Recover" …)',
          '3: label: "$(trash) Sweep"',
          `3: description: "\${age} old"`,
          '4: tooltip: "All clean"',
          '7: title: "Quoted \\\\\' title"',
          '8: l10n.t({ message, args }) without a comment is not extracted by l10n-dev: add a comment',
          `10: l10n.t with \${…} in its message: use {0} and arguments`,
        ],
      );
    } finally {
      rmSync(join(file, '..'), { recursive: true, force: true });
    }
  });

  test('src/ui and src/extension.ts show no English literal without vscode.l10n.t', () => {
    const files = [...typeScriptFiles(join(root, 'src', 'ui')), join(root, 'src', 'extension.ts')];
    const problems = files.flatMap(scanForEnglish);
    assert.deepEqual(
      problems,
      [],
      'wrap these in vscode.l10n.t(…), then run `npm run l10n` (a line or the one above it saying l10n-ignore skips a literal)',
    );
  });
});
