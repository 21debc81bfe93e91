import { describeError, EXIT_FAILURE, EXIT_OK } from './cli/io';
import { runCli } from './cli/main';
import { errnoOf } from './core/fs';

// `crash-safe scan | head -1`: once the reader has gone, stop at once and quietly, as `yes | head` does, instead of
// an unhandled 'error' event and its stack. Any other output error ends the run too: nothing more can be reported.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: unknown) => {
    if (errnoOf(error) === 'EPIPE') process.exit(EXIT_OK);
    if (stream === process.stdout) process.stderr.write(`crash-safe: cannot write the output: ${describeError(error)}\n`);
    process.exit(EXIT_FAILURE);
  });
}

runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, cwd: process.cwd() }).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`crash-safe: ${describeError(error)}\n`);
    process.exitCode = EXIT_FAILURE;
  },
);
