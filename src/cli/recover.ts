import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { JsonSchema } from '../core/jsonStore';
import { RecoveryError, type RecoveryResult, recoverTarget } from '../core/recovery';
import { type CliIo, EXIT_FAILURE, EXIT_OK, printJson, UsageError, type Verb } from './io';
import { checkPatterns } from './scan';

async function loadSchema(path: string | undefined, io: CliIo): Promise<JsonSchema | undefined> {
  if (path === undefined) return undefined;
  const absolute = resolve(io.cwd, path);
  let text: string;
  try {
    text = await readFile(absolute, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read the schema ${absolute}: ${error instanceof Error ? error.message : String(error)}`);
  }
  try {
    return JSON.parse(text) as JsonSchema;
  } catch (error) {
    throw new UsageError(`the schema ${absolute} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}

export const recoverVerb: Verb = {
  usage: 'crash-safe recover TARGET... [--dry-run] [--force] [--json] [--schema FILE] [--pattern "{target}.SUFFIX"]...',
  summary:
    'Replace a missing, empty or corrupt TARGET with its newest valid temp file, keeping the old one as TARGET.corrupt-<time>. Exit 1 if no valid candidate.',
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        'dry-run': { type: 'boolean', default: false },
        force: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        schema: { type: 'string' },
        pattern: { type: 'string', multiple: true, default: [] },
      },
    });
    if (positionals.length === 0) throw new UsageError('recover takes at least one TARGET');
    const extraPatterns = checkPatterns(values.pattern);
    const schema = await loadSchema(values.schema, io);
    const results: RecoveryResult[] = [];
    let failed = false;
    for (const target of positionals) {
      try {
        const result = await recoverTarget(resolve(io.cwd, target), {
          dryRun: values['dry-run'],
          force: values.force,
          schema,
          extraPatterns,
        });
        results.push(result);
        if (!values.json) {
          const verb = values['dry-run'] ? 'would recover' : 'recovered';
          const kept = result.backup ? `; the previous file ${values['dry-run'] ? 'would be' : 'was'} kept as ${result.backup}` : '';
          io.stdout.write(`${verb} ${result.target} from ${result.from}${kept}\n`);
        }
      } catch (error) {
        // One target's failure (no candidate, refused, a write error) must not stop the others.
        failed = true;
        const message = error instanceof RecoveryError || error instanceof Error ? error.message : String(error);
        io.stderr.write(`crash-safe recover: ${message}\n`);
      }
    }
    // One TARGET prints one object (nothing when it failed); several print an array of the ones recovered.
    if (values.json && positionals.length > 1) printJson(io, results);
    else if (values.json && results[0]) printJson(io, results[0]);
    return failed ? EXIT_FAILURE : EXIT_OK;
  },
};
