import { parseArgs } from 'node:util';
import { type Orphan, sweepOptionsFrom, sweepOrphans } from '../core/orphans/orphans';
import { type CliIo, EXIT_FAILURE, EXIT_OK, printable, printJson, UsageError, type Verb } from './io';
import { WALK_OPTIONS } from './options';
import { prepareWalk } from './scan';

/** package.json's `orphanAgeMinutes` default; the CLI cannot read VS Code's settings (a unit test keeps them equal). */
export const DEFAULT_OLDER_THAN_MINUTES = 10;

function parseMinutes(text: string): number {
  const minutes = Number(text);
  if (text.trim() === '' || !Number.isFinite(minutes) || minutes < 0) {
    throw new UsageError(`--older-than takes a number of minutes ≥ 0, not "${text}"`);
  }
  return minutes;
}

export const sweepVerb: Verb = {
  usage:
    'crash-safe sweep [ROOT...] [--older-than MINUTES] [--dry-run] [--json] [--exclude GLOB]... [--skip-node-modules]\n' +
    '      [--pattern "{target}.SUFFIX"]... [--include-recoverable]',
  summary: `Delete recognised orphaned temp files older than ${DEFAULT_OLDER_THAN_MINUTES} minutes (or --older-than). Exit 1 if any removal failed.`,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        ...WALK_OPTIONS,
        'older-than': { type: 'string', default: String(DEFAULT_OLDER_THAN_MINUTES) },
        'dry-run': { type: 'boolean', default: false },
        'include-recoverable': { type: 'boolean', default: false },
      },
    });
    const olderThanMinutes = parseMinutes(values['older-than']);
    const walk = await prepareWalk(values, positionals, io, 'sweep');
    if (!walk) return EXIT_FAILURE;
    const orphans: Orphan[] = [];
    for await (const orphan of walk.orphans()) orphans.push(orphan);
    walk.progress.clear();
    const options = sweepOptionsFrom({
      roots: walk.roots,
      olderThanMinutes,
      tempPatterns: walk.extraPatterns,
      includeRecoverable: values['include-recoverable'],
    });
    const result = await sweepOrphans(orphans, { ...options, dryRun: values['dry-run'] });
    if (values.json) printJson(io, result);
    else {
      const verb = values['dry-run'] ? 'would remove' : 'removed';
      for (const path of result.removed) io.stdout.write(`${verb}  ${printable(path)}\n`);
      for (const { path, reason } of result.kept) io.stdout.write(`kept     ${printable(path)}: ${reason}\n`);
      for (const { path, error } of result.failed)
        io.stderr.write(`crash-safe sweep: cannot remove ${printable(path)}: ${error}\n`);
      io.stdout.write(
        `${values['dry-run'] ? 'Would remove' : 'Removed'} ${result.removed.length}, kept ${result.kept.length}, failed ${result.failed.length}.\n`,
      );
    }
    return result.failed.length > 0 ? EXIT_FAILURE : EXIT_OK;
  },
};
