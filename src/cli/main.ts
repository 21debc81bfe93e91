import { TempPatternError } from '../core/names/tempPatterns';
import { inexactArgumentProblem, inexactCwdProblem } from './exactArgv';
import {
  type CliIo,
  describeError,
  ERASE_LINE,
  EXIT_FAILURE,
  EXIT_USAGE,
  escapeTerminalControls,
  UsageError,
  type Verb,
} from './io';
import { recoverVerb } from './recover';
import { scanVerb } from './scan';
import { snapshotVerb } from './snapshot';
import { sweepVerb } from './sweep';
import { todosVerb } from './todos';
import { writeVerb } from './write';
import { writeGroupVerb } from './writeGroup';

/** Every CLI verb, by name. Each verb lives in its own module under src/cli. */
const verbs: Record<string, Verb> = {
  write: writeVerb,
  'write-group': writeGroupVerb,
  todos: todosVerb,
  snapshot: snapshotVerb,
  scan: scanVerb,
  sweep: sweepVerb,
  recover: recoverVerb,
};

/** Old verb names that still work: `tasks` was the to-do verb before the list was called To-Dos everywhere. */
const verbAliases: Record<string, string> = { tasks: 'todos' };

/** A verb's usage under the name the user typed, so `crash-safe tasks` answers in its own words. */
function usageAs(typed: string, verb: Verb): string {
  return verb.usage.replace(/^crash-safe \S+/, `crash-safe ${typed}`);
}

function usage(): string {
  const lines = Object.entries(verbs).map(([name, verb]) => {
    const aliases = Object.keys(verbAliases).filter((alias) => verbAliases[alias] === name);
    const alsoCalled = aliases.length > 0 ? ` (also: ${aliases.join(', ')})` : '';
    return `  ${name.padEnd(11)} ${verb.summary}${alsoCalled}\n      ${verb.usage}`;
  });
  return `Usage: crash-safe <verb> [options]\n\nVerbs:\n${lines.join('\n')}\n\nExit codes: 0 ok, 1 failure, 2 usage.\n`;
}

/** A stream's write that escapes every control character but line breaks (and the progress line's own erase sequence). */
function terminalSafe(stream: { write(text: string): unknown }): (text: string) => unknown {
  return (text) =>
    text.startsWith(ERASE_LINE)
      ? stream.write(ERASE_LINE + escapeTerminalControls(text.slice(ERASE_LINE.length)))
      : stream.write(escapeTerminalControls(text));
}

/** Runs one CLI invocation and returns its exit code: 0 ok, 1 failure, 2 usage. */
export async function runCli(argv: string[], rawIo: CliIo): Promise<number> {
  const io: CliIo = {
    ...rawIo,
    stdout: { write: terminalSafe(rawIo.stdout) },
    stderr: { write: terminalSafe(rawIo.stderr), isTTY: rawIo.stderr.isTTY },
  };
  // Before anything else: a path that is not exactly what the user typed must never reach a verb.
  const inexact = argv
    .map((arg, index) => inexactArgumentProblem(arg, index, io.argvBytes))
    .find((problem) => problem !== undefined);
  const cwdProblem = inexactCwdProblem(io.cwd, io.cwdBytes);
  if (inexact !== undefined || cwdProblem !== undefined) {
    io.stderr.write(`crash-safe: refusing to run: ${inexact ?? cwdProblem}; nothing was done\n`);
    return EXIT_USAGE;
  }
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(usage());
    return name ? 0 : EXIT_USAGE;
  }
  // Own properties only: "constructor" or "__proto__" is an unknown verb, not Object's.
  const verbName = Object.hasOwn(verbAliases, name) ? verbAliases[name]! : name;
  const verb = Object.hasOwn(verbs, verbName) ? verbs[verbName] : undefined;
  if (!verb) {
    io.stderr.write(`crash-safe: unknown verb "${name}"\n\n${usage()}`);
    return EXIT_USAGE;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(`Usage: ${usageAs(name, verb)}\n${verb.summary}\n`);
    return 0;
  }
  try {
    return await verb.run(rest, io, name);
  } catch (error) {
    // parseArgs reports unknown or malformed options with ERR_PARSE_ARGS_* codes.
    const code = (error as { code?: unknown }).code;
    // An over-broad --pattern is a bad argument like any other.
    const usageError = error instanceof UsageError || error instanceof TempPatternError;
    if (usageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))) {
      io.stderr.write(`crash-safe ${name}: ${describeError(error)}\nUsage: ${usageAs(name, verb)}\n`);
      return EXIT_USAGE;
    }
    io.stderr.write(`crash-safe ${name}: ${describeError(error)}\n`);
    return EXIT_FAILURE;
  }
}
