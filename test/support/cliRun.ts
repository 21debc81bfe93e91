import type { CliIo } from '../../src/cli/io';
import { runCli } from '../../src/cli/main';

/** Runs the CLI in-process with empty stdin and captured output; `isTTY` marks stderr as a terminal. */
export async function runCliCaptured(
  argv: string[],
  cwd: string,
  options: { isTTY?: boolean } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text), isTTY: options.isTTY },
    stdin: (async function* () {})(),
    cwd,
  };
  const code = await runCli(argv, io);
  return { code, stdout, stderr };
}
