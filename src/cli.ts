import { argvBytesOfThisProcess, cwdBytesOfThisProcess } from './cli/exactArgv';
import { describeError, EXIT_FAILURE } from './cli/io';
import { runCli } from './cli/main';
import { errnoOf } from './core/fs';

// Losing the reader stops the printing, not the work: `crash-safe recover a b c | true` still recovers all three and
// exits with the code the work earned. After an output error nothing more is written to that stream; an error other
// than EPIPE (a full disk behind `> out.txt`) also makes the exit code at least 1, since output the user asked for is lost.
const gone = new Set<NodeJS.WriteStream>();
let outputFailed = false;
let earned: number | undefined;

function settle(): void {
  if (earned !== undefined) process.exitCode = outputFailed ? Math.max(earned, EXIT_FAILURE) : earned;
}

for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: unknown) => {
    if (gone.has(stream)) return;
    gone.add(stream);
    if (errnoOf(error) !== 'EPIPE') {
      outputFailed = true;
      if (stream === process.stdout && !gone.has(process.stderr)) {
        process.stderr.write(`crash-safe: cannot write the output: ${describeError(error)}; the work goes on\n`);
      }
    }
    settle();
  });
}

/** A write that is dropped once the stream has failed, so a lost reader never ends the run. */
function writeUnlessGone(stream: NodeJS.WriteStream): (text: string) => boolean {
  return (text) => (gone.has(stream) || stream.destroyed ? true : stream.write(text));
}

let cwd: string;
try {
  cwd = process.cwd();
} catch (error) {
  // The working directory was removed: relative paths have nothing to resolve against.
  process.stderr.write(`crash-safe: cannot use the working directory: ${describeError(error)}\n`);
  process.exit(EXIT_FAILURE);
}

const args = process.argv.slice(2);
runCli(args, {
  stdout: { write: writeUnlessGone(process.stdout) },
  stderr: { write: writeUnlessGone(process.stderr), isTTY: process.stderr.isTTY },
  stdin: process.stdin,
  cwd,
  // Only a U+FFFD can stand for bytes that were replaced; other strings are exact and need no look at /proc.
  argvBytes: args.some((arg) => arg.includes('\ufffd')) ? argvBytesOfThisProcess(args.length) : undefined,
  cwdBytes: cwd.includes('\ufffd') ? cwdBytesOfThisProcess() : undefined,
  outputGone: () => gone.has(process.stdout),
}).then(
  (code) => {
    earned = code;
    settle();
  },
  (error: unknown) => {
    writeUnlessGone(process.stderr)(`crash-safe: ${describeError(error)}\n`);
    earned = EXIT_FAILURE;
    settle();
  },
);
