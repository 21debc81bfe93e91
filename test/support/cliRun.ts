import type { CliIo } from '../../src/cli/io';
import { runCli } from '../../src/cli/main';

/** An in-process CliIo with empty stdin whose output is captured; `isTTY` marks stderr as a terminal. */
export function captureIo(
  cwd: string,
  options: { isTTY?: boolean } = {},
): CliIo & { out: () => string; err: () => string } {
  let stdout = '';
  let stderr = '';
  return {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text), isTTY: options.isTTY },
    stdin: (async function* () {})(),
    cwd,
    out: () => stdout,
    err: () => stderr,
  };
}

/** Runs the CLI in-process with empty stdin and captured output; `isTTY` marks stderr as a terminal. */
export async function runCliCaptured(
  argv: string[],
  cwd: string,
  options: { isTTY?: boolean } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = captureIo(cwd, options);
  const code = await runCli(argv, io);
  return { code, stdout: io.out(), stderr: io.err() };
}
