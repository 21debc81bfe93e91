import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../core/atomicWrite';
import { classifyJsonText, describeReadProblem } from '../core/jsonStore';
import { type CliIo, DURABILITY_OPTION, EXIT_FAILURE, EXIT_OK, parseDurability, readAll, UsageError, type Verb } from './io';

export const writeVerb: Verb = {
  usage: 'crash-safe write TARGET [--json] [--durability full|fast] [--create-parents]',
  summary: 'Read stdin and write it to TARGET atomically (temp, fsync, rename, fsync dir).',
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        json: { type: 'boolean', default: false },
        durability: DURABILITY_OPTION,
        'create-parents': { type: 'boolean', default: false },
      },
    });
    if (positionals.length !== 1) throw new UsageError('write takes exactly one TARGET');
    const durability = parseDurability(values.durability);
    const target = resolve(io.cwd, positionals[0]!);
    const data = await readAll(io.stdin);
    if (values.json) {
      const checked = classifyJsonText(`stdin for ${target}`, data.toString('utf8'));
      if (checked.state !== 'valid') {
        io.stderr.write(`crash-safe write: refusing to write ${target}: ${describeReadProblem(checked)}\n`);
        return EXIT_FAILURE;
      }
    }
    await writeFileAtomic(target, data, {
      durability,
      createParents: values['create-parents'],
    });
    return EXIT_OK;
  },
};
