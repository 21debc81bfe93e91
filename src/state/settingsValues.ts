import { isDeepStrictEqual } from 'node:util';
import { type ParseError, parse as parseJsonc, printParseErrorCode } from 'jsonc-parser';
import { hasBom, parseJson } from '../core/json/json';

/** Setting id → value, as in settings.json (`"[lang]"` override keys included). */
export type SettingValues = Record<string, unknown>;

/** Parses settings.json as VS Code does (JSONC: comments and trailing commas allowed, a leading BOM ignored). */
export function settingsValuesFromText(text: string | null): { values: SettingValues; parseErrors: string[] } {
  // Positions are counted without the BOM, as editors show them.
  const body = text !== null && hasBom(text) ? text.slice(1) : text;
  if (body === null || body.trim().length === 0) return { values: {}, parseErrors: [] };
  const checked = parseJson(body, 'jsonc');
  if (!checked.ok) {
    // jsonc-parser recovers: it reports every problem and still yields the values it could read.
    const errors: ParseError[] = [];
    let parsed: unknown;
    let overflowed = false;
    try {
      parsed = parseJsonc(body, errors, { allowTrailingComma: true, disallowComments: false });
    } catch (error) {
      // It recurses: a document deep enough overflows the stack.
      if (!(error instanceof RangeError)) throw error;
      overflowed = true;
    }
    if (overflowed || errors.length === 0) {
      // Too deep (parseJson's limit); values that deep could not be read back from the snapshot file either.
      const { line, column, message } = checked.position;
      return { values: {}, parseErrors: [`${line}:${column} ${message}`] };
    }
    const parseErrors = errors.map((error) => {
      const before = body.slice(0, error.offset);
      const line = before.split('\n').length;
      const column = error.offset - before.lastIndexOf('\n');
      return `${line}:${column} ${printParseErrorCode(error.error)}`;
    });
    return settingsObject(parsed, parseErrors);
  }
  return settingsObject(checked.value, []);
}

function settingsObject(parsed: unknown, parseErrors: string[]): { values: SettingValues; parseErrors: string[] } {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return {
      values: {},
      parseErrors: parseErrors.length > 0 ? parseErrors : ['1:1 settings.json is not a JSON object'],
    };
  }
  return { values: parsed as SettingValues, parseErrors };
}

/** Setting ids whose values differ between two snapshots, sorted. */
export function changedSettingKeys(before: SettingValues, after: SettingValues): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((key) => !isDeepStrictEqual(before[key], after[key])).sort();
}
