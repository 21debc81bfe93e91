import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { formatBytes, MAX_DOCUMENT_BYTES } from '../core/fs';
import {
  decodeUtf8Exactly,
  describeParseFailure,
  isJsonFileName,
  type JsonFlavour,
  jsonFlavourOf,
  parseJson,
} from '../core/json/json';
import { writeFileAtomic } from '../core/write/atomicWrite';
import {
  type CliIo,
  describeError,
  EXIT_FAILURE,
  EXIT_OK,
  InputTooLargeError,
  printable,
  printJson,
  readAll,
  UsageError,
  type Verb,
} from './io';
import { DURABILITY_OPTION, JSON_OPTION, parseDurability } from './options';

/** Why `data` is not a document of `flavour`, in the wording every message uses; undefined when it is one. */
function jsonInputProblem(data: Buffer, flavour: JsonFlavour): string | undefined {
  // JSON is UTF-8 (RFC 8259); a byte that is not would be read back as U+FFFD by every consumer.
  const decoded = decodeUtf8Exactly(data);
  if (!decoded.ok) return `stdin is ${describeParseFailure(decoded.position)}`;
  const parsed = parseJson(decoded.text, flavour);
  if (parsed.ok) return undefined;
  if (parsed.empty) return 'stdin is empty';
  return `stdin is ${describeParseFailure(parsed.position)}${flavour === 'jsonc' ? ' (read as JSONC: comments and trailing commas allowed)' : ''}`;
}

export const writeVerb: Verb = {
  usage:
    'crash-safe write TARGET [--raw | --validate-json] [--allow-empty] [--json] [--durability full|fast] [--create-parents]',
  summary:
    'Read stdin and write it to TARGET atomically (temp, fsync, rename, fsync dir). Empty stdin is refused. ' +
    'A .json/.jsonc TARGET must get valid JSON (JSONC where VS Code reads the file as JSONC); --raw writes any bytes, ' +
    '--validate-json checks any TARGET. --json prints the result as JSON, as on every verb.',
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        'validate-json': { type: 'boolean', default: false },
        raw: { type: 'boolean', default: false },
        json: JSON_OPTION,
        'allow-empty': { type: 'boolean', default: false },
        durability: DURABILITY_OPTION,
        'create-parents': { type: 'boolean', default: false },
      },
    });
    if (positionals.length !== 1) throw new UsageError('write takes exactly one TARGET');
    if (values.raw && values['validate-json']) throw new UsageError('--raw and --validate-json exclude each other');
    const durability = parseDurability(values.durability);
    const target = resolve(io.cwd, positionals[0]!);
    // A JSON file gets JSON unless the caller says --raw: a torn or half-produced document must never replace it.
    const validate = values['validate-json'] || (!values.raw && isJsonFileName(target));
    const refuse = (why: string): number => {
      io.stderr.write(`crash-safe write: refusing to write ${printable(target)}: ${why}; nothing was written\n`);
      return EXIT_FAILURE;
    };
    let data: Buffer;
    try {
      // JSON is bounded like every document read, so a huge input is refused before it becomes a string.
      data = await readAll(io.stdin, validate ? MAX_DOCUMENT_BYTES : undefined);
    } catch (error) {
      if (error instanceof InputTooLargeError)
        return refuse(`stdin is larger than the ${formatBytes(error.limit)} limit for JSON documents`);
      return refuse(`cannot read stdin: ${describeError(error, 'stdin')}`);
    }
    if (data.length === 0 && (validate || !values['allow-empty'])) {
      // A failed producer (`git show bad:ref | crash-safe write f`) leaves stdin empty; that must not wipe the file.
      return refuse(
        `stdin is empty (pass ${validate ? '--raw --allow-empty' : '--allow-empty'} to write an empty file)`,
      );
    }
    if (validate) {
      const problem = jsonInputProblem(data, jsonFlavourOf(target));
      if (problem !== undefined)
        return refuse(values['validate-json'] ? problem : `${problem} (--raw writes it as given)`);
    }
    await writeFileAtomic(target, data, {
      durability,
      createParents: values['create-parents'],
    });
    if (values.json) printJson(io, { written: true, target, bytes: data.length, durability });
    return EXIT_OK;
  },
};
