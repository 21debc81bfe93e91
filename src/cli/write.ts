import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../core/atomicWrite';
import { formatBytes, MAX_DOCUMENT_BYTES } from '../core/fs';
import { classifyJsonText, describeReadProblem } from '../core/jsonStore';
import { type CliIo, describeError, EXIT_FAILURE, EXIT_OK, InputTooLargeError, printJson, readAll, UsageError, type Verb } from './io';
import { DURABILITY_OPTION, JSON_OPTION, parseDurability } from './options';

export const writeVerb: Verb = {
  usage: 'crash-safe write TARGET [--validate-json] [--allow-empty] [--json] [--durability full|fast] [--create-parents]',
  summary:
    'Read stdin and write it to TARGET atomically (temp, fsync, rename, fsync dir). Empty stdin is refused. ' +
    '--validate-json refuses stdin that is not valid JSON; --json prints the result as JSON, as on every verb.',
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        'validate-json': { type: 'boolean', default: false },
        json: JSON_OPTION,
        'allow-empty': { type: 'boolean', default: false },
        durability: DURABILITY_OPTION,
        'create-parents': { type: 'boolean', default: false },
      },
    });
    if (positionals.length !== 1) throw new UsageError('write takes exactly one TARGET');
    const durability = parseDurability(values.durability);
    const target = resolve(io.cwd, positionals[0]!);
    const refuse = (why: string): number => {
      io.stderr.write(`crash-safe write: refusing to write ${target}: ${why}; nothing was written\n`);
      return EXIT_FAILURE;
    };
    let data: Buffer;
    try {
      // JSON is bounded like every document read, so a huge input is refused before it becomes a string.
      data = await readAll(io.stdin, values['validate-json'] ? MAX_DOCUMENT_BYTES : undefined);
    } catch (error) {
      if (error instanceof InputTooLargeError) return refuse(`stdin is larger than the ${formatBytes(error.limit)} limit for JSON documents`);
      return refuse(`cannot read stdin: ${describeError(error, 'stdin')}`);
    }
    if (values['validate-json']) {
      const checked = classifyJsonText('stdin', data.toString('utf8'));
      if (checked.state !== 'valid') return refuse(describeReadProblem(checked));
    } else if (data.length === 0 && !values['allow-empty']) {
      // A failed producer (`git show bad:ref | crash-safe write f`) leaves stdin empty; that must not wipe the file.
      return refuse('stdin is empty (pass --allow-empty to write an empty file)');
    }
    await writeFileAtomic(target, data, {
      durability,
      createParents: values['create-parents'],
    });
    if (values.json) printJson(io, { written: true, target, bytes: data.length, durability });
    return EXIT_OK;
  },
};
