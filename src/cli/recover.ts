import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { RecoveryError, type RecoveryResult, recoverTarget } from '../core/orphans/recovery';
import { type CliIo, describeError, EXIT_FAILURE, EXIT_OK, printable, printJson, UsageError, type Verb } from './io';
import { checkPatterns, JSON_OPTION, loadSchema, PATTERN_OPTION, SCHEMA_OPTION } from './options';
import { runCopies } from './recoverCopies';
import { runRecoverGroups } from './writeGroup';

/** A target that needed nothing: it is valid (and `--force` was not given). */
interface NothingToRecover {
  target: string;
  nothingToRecover: true;
}

export const recoverVerb: Verb = {
  usage:
    'crash-safe recover TARGET... [--dry-run] [--force] [--json] [--schema FILE] [--pattern "{target}.SUFFIX"]...' +
    ' | crash-safe recover TARGET --list [--json] [--history DIR]' +
    ' | crash-safe recover TARGET --from history|git|temp|backup[:N] [--dry-run] [--force] [--json] [--history DIR]' +
    ' | crash-safe recover --groups ROOT [--json]',
  summary:
    'Replace a missing, empty or corrupt TARGET with its newest valid temp file, keeping the old one as TARGET.corrupt-<time>. ' +
    'A valid TARGET is left alone (exit 0) unless --force. Exit 1 if a TARGET needs recovery and has no valid candidate. ' +
    '--list shows every copy of TARGET (Local History, git index and HEAD, temps, backups) newest first; --from SOURCE[:N] ' +
    'recovers from the Nth copy of that source (0 = newest).',
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        'dry-run': { type: 'boolean', default: false },
        force: { type: 'boolean', default: false },
        json: JSON_OPTION,
        schema: SCHEMA_OPTION,
        pattern: PATTERN_OPTION,
        groups: { type: 'string' },
        list: { type: 'boolean', default: false },
        from: { type: 'string' },
        history: { type: 'string' },
      },
    });
    if (values.list || values.from !== undefined || values.history !== undefined) {
      if (values.groups !== undefined)
        throw new UsageError('--groups cannot be combined with --list, --from or --history');
      return runCopies(positionals, values, io);
    }
    if (values.groups !== undefined) {
      if (positionals.length > 0) throw new UsageError('recover --groups ROOT takes no TARGET');
      return runRecoverGroups(resolve(io.cwd, values.groups), { json: values.json }, io);
    }
    if (positionals.length === 0) throw new UsageError('recover takes at least one TARGET');
    const extraPatterns = checkPatterns(values.pattern);
    const schema = await loadSchema(values.schema, io);
    const results: (RecoveryResult | NothingToRecover)[] = [];
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
          const kept = result.backup
            ? `; the previous file ${values['dry-run'] ? 'would be' : 'was'} kept as ${printable(result.backup)}`
            : '';
          io.stdout.write(`${verb} ${printable(result.target)} from ${printable(result.from)}${kept}\n`);
        }
      } catch (error) {
        if (error instanceof RecoveryError && error.code === 'not-needed') {
          results.push({ target: error.target, nothingToRecover: true });
          if (!values.json)
            io.stdout.write(
              `nothing to recover: ${printable(error.target)} is valid (--force replaces it with its newest valid temp)\n`,
            );
          continue;
        }
        // One target's failure (no candidate, refused, a write error) must not stop the others.
        failed = true;
        io.stderr.write(`crash-safe recover: ${describeError(error)}\n`);
      }
    }
    // One TARGET prints one object (nothing when it failed); several print an array of the ones recovered.
    if (values.json && positionals.length > 1) printJson(io, results);
    else if (values.json && results[0]) printJson(io, results[0]);
    return failed ? EXIT_FAILURE : EXIT_OK;
  },
};
