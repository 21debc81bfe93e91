import { messageOf } from '../core/errors';

/** The streams and working directory a CLI verb uses; tests pass their own. */
export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  stdin: AsyncIterable<Buffer | string>;
  cwd: string;
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Bad arguments: reported with the verb's usage and exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

// Shared options live in ./options; this re-export only serves cli/tasks.ts until it imports them from there.
export { DURABILITY_OPTION, parseDurability } from './options';

/** A CLI verb: parses its own arguments and returns the exit code. */
export interface Verb {
  usage: string;
  summary: string;
  run(args: string[], io: CliIo): Promise<number>;
}

/** Input refused by readAll for passing `limit` bytes; nothing beyond the limit was kept. */
export class InputTooLargeError extends Error {
  override readonly name = 'InputTooLargeError';
  constructor(readonly limit: number) {
    super(`the input is larger than ${limit} bytes`);
  }
}

/** Reads a whole stream; past `maxBytes` it stops and throws InputTooLargeError before joining anything. */
export async function readAll(stream: AsyncIterable<Buffer | string>, maxBytes = Number.POSITIVE_INFINITY): Promise<Buffer> {
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
  return text.replace(/\s*[\r\n]+\s*/g, '; ');
}

/** Prints a value as pretty JSON with a trailing newline: what `--json` prints on every verb. */
export function printJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

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
      io.stderr.write(`\r\x1b[Kcrash-safe ${verb}: ${files.toLocaleString('en')} files scanned…`);
    },
    clear() {
      if (shown) io.stderr.write('\r\x1b[K');
      shown = false;
    },
  };
}
