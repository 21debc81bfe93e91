import { isUtf8 } from 'node:buffer';
import { basename, dirname } from 'node:path';
import { type ParseError, parse as parseJsonc, printParseErrorCode, visit } from 'jsonc-parser';

/** `jsonc` allows comments and trailing commas (VS Code's own config files); `json` is strict RFC 8259. */
export type JsonFlavour = 'json' | 'jsonc';

/** jsonc-parser's names of its ParseErrorCodes (printParseErrorCode), each worded by parseProblemText. */
export type SyntaxErrorName = Exclude<ReturnType<typeof printParseErrorCode>, '<unknown ParseErrorCode>'>;

/**
 * What is wrong with a document, as a code with arguments: the CLI words it in English (parseProblemText), the
 * extension in the display language. Never a parser's identifier shown to people.
 */
export type ParseProblem =
  | { code: 'empty' }
  | { code: 'too-deep'; limit: number }
  | { code: 'duplicate-key'; name: string }
  | { code: 'invalid-utf8'; byte: number }
  | { code: 'syntax'; error: SyntaxErrorName }
  /** jsonc-parser's UnexpectedEndOfString where a line break, not the end of the file, cut the string. */
  | { code: 'string-breaks-line' }
  /** JSON.parse refused text in which jsonc-parser found no error. */
  | { code: 'not-json' };

/** Where a document failed to parse, 1-based like an editor shows it; `message` is parseProblemText(problem). */
export interface ParsePosition {
  offset: number;
  line: number;
  column: number;
  problem: ParseProblem;
  message: string;
}

/** Every jsonc-parser error, worded as a clause (English, for the CLI and logs; the extension has its own). */
const SYNTAX_ERROR_TEXT: Record<SyntaxErrorName, string> = {
  InvalidSymbol: 'there is a character that does not belong here',
  InvalidNumberFormat: 'a number is written wrongly',
  PropertyNameExpected: 'a property name in double quotes is missing',
  ValueExpected: 'a value is missing',
  ColonExpected: 'a colon is missing after a property name',
  CommaExpected: 'a comma is missing',
  CloseBraceExpected: 'a closing brace } is missing',
  CloseBracketExpected: 'a closing bracket ] is missing',
  EndOfFileExpected: 'more text follows the end of the JSON value',
  InvalidCommentToken: 'comments are not allowed in JSON',
  UnexpectedEndOfComment: 'the file ends inside a comment',
  UnexpectedEndOfString: 'the file ends inside a string',
  UnexpectedEndOfNumber: 'a number ends too early',
  InvalidUnicode: 'a \\u escape needs four hex digits',
  InvalidEscapeCharacter: 'a backslash escapes a character that cannot be escaped',
  InvalidCharacter: 'a string holds a control character that must be escaped',
};

/** The names of every jsonc-parser error, in ParseErrorCode order. */
export const SYNTAX_ERROR_NAMES = Object.keys(SYNTAX_ERROR_TEXT) as SyntaxErrorName[];

/** A parse problem as an English clause: "the file ends inside a string". */
export function parseProblemText(problem: ParseProblem): string {
  switch (problem.code) {
    case 'empty':
      return 'the document is empty';
    case 'too-deep':
      return `nested too deeply (over ${problem.limit} levels)`;
    case 'duplicate-key':
      return `duplicate key ${JSON.stringify(problem.name)}`;
    case 'invalid-utf8':
      return `invalid UTF-8 (byte 0x${hexByte(problem.byte)})`;
    case 'syntax':
      return SYNTAX_ERROR_TEXT[problem.error];
    case 'string-breaks-line':
      return 'a string runs past the end of its line';
    case 'not-json':
      return 'the JSON text is incomplete or malformed';
  }
}

/** A byte as two upper-case hex digits: E9. */
export function hexByte(byte: number): string {
  return byte.toString(16).toUpperCase().padStart(2, '0');
}

/** The problem jsonc-parser's error is, told apart where its one code covers two cases. */
function syntaxProblem(error: SyntaxErrorName, body: string, offset: number): ParseProblem {
  if (error === 'UnexpectedEndOfString' && /[\r\n]/.test(body.slice(offset))) return { code: 'string-breaks-line' };
  return { code: 'syntax', error };
}

/**
 * Stricter than RFC 8259 requires, opt-in per caller. `duplicateKeys: 'refuse'` fails a document in which one object
 * names a member twice: JSON.parse keeps only the last, so a rewrite would drop the first silently. Only documents
 * we own and rewrite refuse them (the to-do list); scan, recover and the save guard judge user files, where duplicate
 * keys are legal JSON and VS Code only warns, and must never call such a file corrupt.
 */
export interface ParseOptions {
  duplicateKeys?: 'allow' | 'refuse';
}

export type ParsedJson =
  | { ok: true; value: unknown; bom: boolean }
  | { ok: false; empty: boolean; position: ParsePosition; bom: boolean };

/**
 * Deeper documents are refused as corrupt. Real JSON nests a few dozen levels; thousands of `[` are an attack
 * that would overflow the stack of every recursive consumer (error location, schema checks, stringify).
 */
export const MAX_NESTING_DEPTH = 512;

const BOM = 0xfeff;

/** True when the text starts with a byte-order mark. A BOM is allowed and kept on rewrite (see withBomOf). */
export function hasBom(text: string): boolean {
  return text.charCodeAt(0) === BOM;
}

/** `text` with the BOM of `original` put back, so rewriting a user's file keeps its encoding mark. */
export function withBomOf(original: string, text: string): string {
  return hasBom(original) && !hasBom(text) ? `\ufeff${text}` : text;
}

/** 1-based line and column of `offset`, counting `\n` as the line break. */
export function positionAt(text: string, offset: number, problem: ParseProblem): ParsePosition {
  let line = 1;
  let lineStart = 0;
  for (let index = text.indexOf('\n'); index !== -1 && index < offset; index = text.indexOf('\n', index + 1)) {
    line += 1;
    lineStart = index + 1;
  }
  return { offset, line, column: offset - lineStart + 1, problem, message: parseProblemText(problem) };
}

/** The offset of the first bracket past MAX_NESTING_DEPTH, skipping strings and comments; -1 when within it. */
function tooDeepAt(text: string, start: number): number {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x2f /* / */ && text.charCodeAt(i + 1) === 0x2f) {
      const end = text.indexOf('\n', i);
      i = end === -1 ? text.length : end;
    } else if (c === 0x2f && text.charCodeAt(i + 1) === 0x2a /* * */) {
      const end = text.indexOf('*/', i + 2);
      i = end === -1 ? text.length : end + 1;
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      depth += 1;
      if (depth > MAX_NESTING_DEPTH) return i;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth -= 1;
    }
  }
  return -1;
}

/**
 * Parses a whole document. A leading BOM is allowed in both flavours. Empty or blank text is a problem: saving it over
 * a file is the classic way to lose one. Failures carry the first error's line and column; nesting deeper than
 * MAX_NESTING_DEPTH is "nested too deeply" at the offending bracket, never a stack overflow.
 */
export function parseJson(text: string, flavour: JsonFlavour, options: ParseOptions = {}): ParsedJson {
  const bom = hasBom(text);
  const start = bom ? 1 : 0;
  const fail = (offset: number, problem: ParseProblem): ParsedJson => ({
    ok: false,
    empty: problem.code === 'empty',
    bom,
    position: positionAt(text, offset, problem),
  });
  if (text.slice(start).trim().length === 0) return fail(start, { code: 'empty' });
  const deep = tooDeepAt(text, start);
  if (deep !== -1) return fail(deep, { code: 'too-deep', limit: MAX_NESTING_DEPTH });
  const body = bom ? text.slice(1) : text;
  const parsed = (value: unknown): ParsedJson => {
    const duplicate = options.duplicateKeys === 'refuse' ? duplicateKeyIn(body, strict) : undefined;
    if (duplicate) return fail(start + duplicate.offset, { code: 'duplicate-key', name: duplicate.name });
    return { ok: true, value, bom };
  };
  let strict = true;
  try {
    return parsed(JSON.parse(body));
  } catch {
    strict = false;
    // JSON.parse does not say where; jsonc-parser does, and is safe to recurse now that the depth is bounded.
  }
  const errors: ParseError[] = [];
  const value: unknown = parseJsonc(body, errors, {
    disallowComments: flavour === 'json',
    allowTrailingComma: flavour === 'jsonc',
    allowEmptyContent: false,
  });
  const first = errors[0];
  if (flavour === 'jsonc' && !first) return parsed(value);
  if (!first) return fail(start + body.length, { code: 'not-json' });
  const name = printParseErrorCode(first.error);
  return fail(
    start + first.offset,
    name === '<unknown ParseErrorCode>' ? { code: 'not-json' } : syntaxProblem(name, body, first.offset),
  );
}

/**
 * The second member of the first object that names one twice (names compared after unescaping, so `"t\u0061sks"`
 * repeats `"tasks"`), or undefined. Run only on text that parsed, so its depth is bounded. Strict JSON goes through
 * the span scanner; jsonc-parser's visitor, which also knows comments, is several times slower.
 */
function duplicateKeyIn(body: string, strict: boolean): { name: string; offset: number } | undefined {
  if (strict) return duplicateMemberIn(jsonSpans(body));
  const open: Array<Set<string>> = [];
  let found: { name: string; offset: number } | undefined;
  visit(
    body,
    {
      onObjectBegin: () => {
        open.push(new Set());
      },
      onObjectEnd: () => {
        open.pop();
      },
      onObjectProperty: (name, offset) => {
        const names = open.at(-1);
        if (!names || found) return;
        if (names.has(name)) found = { name, offset };
        names.add(name);
      },
    },
    { allowTrailingComma: true },
  );
  return found;
}

/** The first member, in text order, whose object already named it. */
function duplicateMemberIn(node: JsonValueSpan): { name: string; offset: number } | undefined {
  const names = new Set<string>();
  for (const child of node.children) {
    if (child.name !== undefined) {
      if (names.has(child.name)) return { name: child.name, offset: child.start };
      names.add(child.name);
    }
    const inner = duplicateMemberIn(child.value);
    if (inner) return inner;
  }
  return undefined;
}

/** Where a value stands in the text: `start` inclusive, `end` exclusive. */
export interface JsonSpan {
  start: number;
  end: number;
}

export interface JsonValueSpan extends JsonSpan {
  kind: 'object' | 'array' | 'scalar';
  /** Members (from the name to the end of the value) or elements, in text order; none for a scalar. */
  children: JsonChildSpan[];
}

export interface JsonChildSpan extends JsonSpan {
  /** The member name, unescaped, and where its quoted text ends; undefined for an array element. */
  name?: string;
  nameEnd?: number;
  /** Where the value starts (after `"name": ` for a member). */
  valueStart: number;
  value: JsonValueSpan;
}

const isJsonSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
/** Ends a number or literal: white space, `,`, `]` or `}`. */
const endsScalar = (c: number): boolean => isJsonSpace(c) || c === 0x2c || c === 0x5d || c === 0x7d;
const NO_CHILDREN: JsonChildSpan[] = [];

/**
 * The tree of text already known to be strict JSON (JSON.parse took it): spans only, in one linear pass, many times
 * faster than jsonc-parser's tree. For surgical edits (jsonEdits.ts) and the duplicate-key check.
 */
export function jsonSpans(text: string): JsonValueSpan {
  let at = 0;
  const truncated = () => new Error('the JSON text ends early');
  const skipSpace = () => {
    while (isJsonSpace(text.charCodeAt(at))) at++;
  };
  /** The offset after the string starting at `from`: the first quote not escaped by an odd run of backslashes. */
  const stringEnd = (from: number): number => {
    for (let quote = text.indexOf('"', from + 1); quote !== -1; quote = text.indexOf('"', quote + 1)) {
      let backslashes = 0;
      while (text.charCodeAt(quote - 1 - backslashes) === 0x5c) backslashes++;
      if (backslashes % 2 === 0) return quote + 1;
    }
    throw truncated();
  };
  const value = (depth: number): JsonValueSpan => {
    if (depth > MAX_NESTING_DEPTH) throw new Error(`nested too deeply (over ${MAX_NESTING_DEPTH} levels)`);
    skipSpace();
    const start = at;
    const c = text.charCodeAt(at);
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      const object = c === 0x7b;
      const close = object ? 0x7d : 0x5d;
      const children: JsonChildSpan[] = [];
      at++;
      skipSpace();
      while (text.charCodeAt(at) !== close) {
        if (at >= text.length) throw truncated();
        if (children.length > 0) {
          at++; // the comma
          skipSpace();
        }
        const childStart = at;
        let name: string | undefined;
        let nameEnd: number | undefined;
        if (object) {
          at = nameEnd = stringEnd(at);
          const quoted = text.slice(childStart + 1, at - 1);
          name = quoted.includes('\\') ? (JSON.parse(`"${quoted}"`) as string) : quoted;
          skipSpace();
          at++; // the colon
          skipSpace();
        }
        const valueStart = at;
        const child = value(depth + 1);
        children.push({ start: childStart, end: child.end, name, nameEnd, valueStart, value: child });
        skipSpace();
      }
      at++;
      return { kind: object ? 'object' : 'array', start, end: at, children };
    }
    if (c === 0x22) at = stringEnd(at);
    else while (at < text.length && !endsScalar(text.charCodeAt(at))) at++;
    return { kind: 'scalar', start, end: at, children: NO_CHILDREN };
  };
  return value(0);
}

export type DecodedText = { ok: true; text: string } | { ok: false; position: ParsePosition };

/**
 * The bytes as text, only when they are well-formed UTF-8. Node's decoder would turn every bad byte into U+FFFD,
 * and writing that text back would destroy the byte for good; a caller that rewrites a file refuses instead.
 * The position (1-based, counted in the text before it) names the first bad byte.
 */
export function decodeUtf8Exactly(bytes: Uint8Array): DecodedText {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (isUtf8(buffer)) return { ok: true, text: buffer.toString('utf8') };
  const bad = firstInvalidUtf8Byte(buffer);
  const before = buffer.subarray(0, bad).toString('utf8');
  return { ok: false, position: positionAt(before, before.length, { code: 'invalid-utf8', byte: buffer[bad]! }) };
}

/** The offset of the first byte that does not start a well-formed UTF-8 sequence (Unicode Table 3-7); -1 if none. */
export function firstInvalidUtf8Byte(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; ) {
    const lead = bytes[i]!;
    if (lead < 0x80) {
      i += 1;
      continue;
    }
    let trailing: number;
    let low = 0x80;
    let high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) trailing = 1;
    else if (lead === 0xe0) [trailing, low] = [2, 0xa0];
    else if (lead === 0xed) [trailing, high] = [2, 0x9f];
    else if (lead >= 0xe1 && lead <= 0xef) trailing = 2;
    else if (lead === 0xf0) [trailing, low] = [3, 0x90];
    else if (lead === 0xf4) [trailing, high] = [3, 0x8f];
    else if (lead >= 0xf1 && lead <= 0xf3) trailing = 3;
    else return i;
    for (let k = 1; k <= trailing; k++) {
      const next = bytes[i + k];
      if (next === undefined || next < (k === 1 ? low : 0x80) || next > (k === 1 ? high : 0xbf)) return i;
    }
    i += trailing + 1;
  }
  return -1;
}

/** "not valid JSON: <what> at line L, column C", the one English wording every message uses (reasonText's too). */
export function describeParseFailure(position: Pick<ParsePosition, 'problem' | 'line' | 'column'>): string {
  return `not valid JSON: ${parseProblemText(position.problem)} at line ${position.line}, column ${position.column}`;
}

/** Files VS Code reads as JSON with comments wherever they are. */
const JSONC_ANYWHERE =
  /^(?:tsconfig.*|jsconfig.*|\.?devcontainer|keybindings|argv|language-configuration|\.eslintrc|\.babelrc|\.swcrc)\.json$/i;
/** VS Code's workspace config files, JSONC only directly inside `.vscode/`. */
const JSONC_IN_DOT_VSCODE = /^(?:settings|launch|tasks|extensions|mcp)\.json$/i;

/**
 * Whether a file is JSONC or strict JSON, judged by its path alone: `*.jsonc`, tsconfig*.json, jsconfig*.json,
 * devcontainer.json…, and settings/launch/tasks/extensions.json directly inside `.vscode/`. Everything else
 * (package.json, our own `.vscode/crash-safe/tasks.json`) is strict JSON.
 */
export function jsonFlavourOf(path: string): JsonFlavour {
  const name = basename(path);
  if (/\.jsonc$/i.test(name) || JSONC_ANYWHERE.test(name)) return 'jsonc';
  if (JSONC_IN_DOT_VSCODE.test(name) && basename(dirname(path)) === '.vscode') return 'jsonc';
  return 'json';
}

/** True for names the crash-safe editor accepts: `*.json` and `*.jsonc`. */
export function isJsonFileName(path: string): boolean {
  return /\.jsonc?$/i.test(basename(path));
}

/** Targets whose content (and whose temps' content) the orphan rules judge as JSON. */
export function isJsonTarget(target: string): boolean {
  return /\.(json|jsonc|code-workspace)$/i.test(target);
}

/** The first problem of `text` read as `flavour`; undefined when it parses. */
export function jsonTextProblem(
  text: string,
  flavour: JsonFlavour,
  options: ParseOptions = {},
): ParsePosition | undefined {
  const parsed = parseJson(text, flavour, options);
  return parsed.ok ? undefined : parsed.position;
}
