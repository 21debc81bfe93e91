import { basename, dirname } from 'node:path';
import { type ParseError, parse as parseJsonc, printParseErrorCode } from 'jsonc-parser';
import { locateParseError, type ParsePosition } from '../core/jsonStore';

/** `jsonc` allows comments and trailing commas (VS Code's own config files); `json` is strict RFC 8259. */
export type JsonFlavour = 'json' | 'jsonc';

/** Files VS Code reads as JSON with comments wherever they are. */
const JSONC_ANYWHERE = /^(?:tsconfig.*|jsconfig.*|\.?devcontainer|keybindings|argv|language-configuration|\.eslintrc|\.babelrc|\.swcrc)\.json$/i;
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

/**
 * The first syntax problem of `text` read as `flavour`, 1-based like an editor shows it; undefined when it parses.
 * Empty or blank text is a problem in both flavours: saving it over a file is the classic way to lose one.
 */
export function jsonTextProblem(text: string, flavour: JsonFlavour): ParsePosition | undefined {
  if (text.trim().length === 0) return { offset: 0, line: 1, column: 1, message: 'the document is empty' };
  if (flavour === 'json') {
    try {
      JSON.parse(text);
      return undefined;
    } catch {
      return locateParseError(text);
    }
  }
  const errors: ParseError[] = [];
  parseJsonc(text, errors, { allowTrailingComma: true, disallowComments: false, allowEmptyContent: false });
  const first = errors[0];
  if (!first) return undefined;
  const before = text.slice(0, first.offset);
  const line = before.split('\n').length;
  return { offset: first.offset, line, column: first.offset - before.lastIndexOf('\n'), message: printParseErrorCode(first.error) };
}
