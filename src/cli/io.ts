import { messageOf } from '../core/errors';

/** The streams and working directory a CLI verb uses; tests pass their own. */
export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  stdin: AsyncIterable<Buffer | string>;
  cwd: string;
  /**
   * The arguments' exact bytes as the kernel passed them (on Linux from /proc/self/cmdline), one per argv entry;
   * 'unverifiable' when they cannot be read. Node decodes argv lossily, so runCli compares them before any verb runs.
   * Left out by in-process callers, whose strings are exact.
   */
  argvBytes?: Buffer[] | 'unverifiable';
  /** The working directory's exact bytes (on Linux from /proc/self/cwd), compared with `cwd` the same way. */
  cwdBytes?: Buffer | 'unverifiable';
  /** True once stdout's reader has gone: a verb whose only product is its output (scan) may stop early. */
  outputGone?(): boolean;
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Bad arguments: reported with the verb's usage and exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A CLI verb: parses its own arguments and returns the exit code. */
export interface Verb {
  usage: string;
  summary: string;
  /** `typed` is the verb's name as the user typed it (an old alias too), for messages in the user's own words. */
  run(args: string[], io: CliIo, typed?: string): Promise<number>;
}

/** Input refused by readAll for passing `limit` bytes; nothing beyond the limit was kept. */
export class InputTooLargeError extends Error {
  override readonly name = 'InputTooLargeError';
  constructor(readonly limit: number) {
    super(`the input is larger than ${limit} bytes`);
  }
}

/** Reads a whole stream; past `maxBytes` it stops and throws InputTooLargeError before joining anything. */
export async function readAll(
  stream: AsyncIterable<Buffer | string>,
  maxBytes = Number.POSITIVE_INFINITY,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    length += bytes.length;
    if (length > maxBytes) throw new InputTooLargeError(maxBytes);
    chunks.push(bytes);
  }
  return Buffer.concat(chunks, length);
}

/** A raw system error as Node words it: "ENOENT: no such file or directory, open '/x'". */
const SYSTEM_ERROR = /^(?<code>[A-Z][A-Z0-9_]*): (?<what>.*?)(?:, [a-z_]+(?: '.*')?)?$/su;

/**
 * One line naming the file and the cause. Node's system errors become "path: what (CODE)"; those that carry no
 * path (a read on an open file) take `fallbackPath`, the file the verb was working on. Other messages are kept.
 */
export function describeError(error: unknown, fallbackPath?: string): string {
  let text = messageOf(error);
  const { code, path } = (error ?? {}) as { code?: unknown; path?: unknown };
  const system = typeof code === 'string' ? SYSTEM_ERROR.exec(text)?.groups : undefined;
  const where = typeof path === 'string' ? path : fallbackPath;
  if (system !== undefined && system.code === code && where !== undefined) text = `${where}: ${system.what} (${code})`;
  return oneLine(text);
}

/** A message in one line with no control characters: line breaks become "; ", the rest JSON-style escapes. */
export function oneLine(text: string): string {
  return escapeTerminalControls(text.replace(/\s*[\r\n]+\s*/g, '; '));
}

/**
 * What a terminal would act on instead of showing: C0 and C1 controls, DEL, the bidi overrides and marks that reorder
 * a line, U+2028/U+2029, and lone surrogates (a stream would write them as U+FFFD, a different name).
 */
const UNSAFE_CLASS = '\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u2028-\\u202e\\u2066-\\u2069\\ud800-\\udfff';
const TERMINAL_UNSAFE = new RegExp(`[${UNSAFE_CLASS}]`, 'u');
const TERMINAL_UNSAFE_ALL = new RegExp(`[${UNSAFE_CLASS}]`, 'gu');
const TERMINAL_UNSAFE_BUT_NEWLINE = new RegExp(`(?!\\n)[${UNSAFE_CLASS}]`, 'gu');
const SHORT_ESCAPES: Record<string, string> = { '\b': '\\b', '\t': '\\t', '\n': '\\n', '\f': '\\f', '\r': '\\r' };

/** A JSON-style escape of one character: `\n`, `\t`… or `\u001b`; valid inside a JSON string too. */
function escapeChar(char: string): string {
  return SHORT_ESCAPES[char] ?? `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/**
 * A path or name as it may be shown in a message: unchanged when it holds nothing a terminal would act on,
 * otherwise quoted as a JSON string (`"/w/a\nb\u001b.json"`), so a name can neither forge a line nor send escapes.
 */
export function printable(text: string): string {
  if (!TERMINAL_UNSAFE.test(text)) return text;
  const body = text.replace(/["\\]/g, (char) => `\\${char}`).replace(TERMINAL_UNSAFE_ALL, escapeChar);
  return `"${body}"`;
}

/**
 * The last guard before a terminal, applied by runCli to everything a verb prints: every control character but the
 * line break becomes a JSON-style escape. JSON output stays valid JSON with the same values (those characters occur
 * only inside its strings). Paths are also passed through `printable`, which escapes line breaks as well.
 */
export function escapeTerminalControls(text: string): string {
  return text.replace(TERMINAL_UNSAFE_BUT_NEWLINE, escapeChar);
}

/** Prints a value as pretty JSON with a trailing newline: what `--json` prints on every verb. */
export function printJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Carriage return and erase-line: the one control sequence the CLI sends on purpose (the progress line). */
export const ERASE_LINE = '\r\x1b[K';

/** A "N files scanned…" line on an interactive stderr, redrawn at most every 200 ms; `clear` erases it. */
export function walkProgress(io: CliIo, verb: string): { update(files: number): void; clear(): void } {
  if (!io.stderr.isTTY) return { update: () => undefined, clear: () => undefined };
  let drawnAt = 0;
  let shown = false;
  return {
    update(files) {
      const now = Date.now();
      if (now - drawnAt < 200) return;
      drawnAt = now;
      shown = true;
      io.stderr.write(`${ERASE_LINE}crash-safe ${verb}: ${files.toLocaleString('en')} files scanned…`);
    },
    clear() {
      if (shown) io.stderr.write(ERASE_LINE);
      shown = false;
    },
  };
}
