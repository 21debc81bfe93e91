import { parseArgs } from 'node:util';
import { DEFAULT_SNAPSHOT_KEEP, SettingsSnapshots, SnapshotError, type SnapshotSummary } from '../state/snapshots';
import { type CliIo, EXIT_FAILURE, EXIT_OK, printJson, UsageError, type Verb } from './io';
import { DIR_OPTION, DURABILITY_OPTION, JSON_OPTION, parseDurability, workspaceDir } from './options';

const USAGE =
  'crash-safe snapshot take | list | restore ID [--dir WORKSPACE] [--keep N] [--json] [--durability full|fast]';

function describeKeys(keys: string[]): string {
  if (keys.length === 0) return 'no setting changed';
  const shown = keys.slice(0, 6).join(', ');
  return keys.length > 6 ? `${shown} and ${keys.length - 6} more` : shown;
}

function describeSnapshot(snapshot: SnapshotSummary): string {
  const missing = snapshot.settingsExisted ? '' : ' [no settings.json]';
  if (snapshot.previousId === undefined) {
    return `${snapshot.id}  ${snapshot.reason.padEnd(14)} oldest kept: ${snapshot.changedKeys.length} setting(s)${missing}`;
  }
  const textOnly = snapshot.changedKeys.length === 0 && snapshot.textChanged ? ' (text only)' : '';
  return `${snapshot.id}  ${snapshot.reason.padEnd(14)} ${describeKeys(snapshot.changedKeys)}${textOnly}${missing}`;
}

function parseKeep(value: string | undefined): number {
  if (value === undefined) return DEFAULT_SNAPSHOT_KEEP;
  const keep = Number(value);
  if (!Number.isInteger(keep) || keep < 1)
    throw new UsageError(`--keep must be a whole number of at least 1, not "${value}"`);
  return keep;
}

export const snapshotVerb: Verb = {
  usage: USAGE,
  summary: 'Take, list and restore snapshots of the workspace .vscode/settings.json (kept as written, JSONC and all).',
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        dir: DIR_OPTION,
        keep: { type: 'string' },
        json: JSON_OPTION,
        durability: DURABILITY_OPTION,
      },
    });
    const [action, ...rest] = positionals;
    if (!action) throw new UsageError('snapshot needs an action: take, list or restore');
    const durability = parseDurability(values.durability);
    const snapshots = new SettingsSnapshots(workspaceDir(values.dir, io), {
      keep: parseKeep(values.keep),
      durability,
    });

    try {
      switch (action) {
        case 'take': {
          if (rest.length > 0) throw new UsageError('snapshot take takes no arguments');
          const result = await snapshots.take({ reason: 'cli' });
          if (values.json) printJson(io, result);
          else if (result.taken) {
            io.stdout.write(`Took ${describeSnapshot(result.snapshot)}\n`);
            if (result.pruned.length > 0) io.stdout.write(`Pruned ${result.pruned.length} old snapshot(s)\n`);
          } else io.stdout.write(`Unchanged since ${result.newest.id}; no snapshot taken\n`);
          return EXIT_OK;
        }
        case 'list': {
          if (rest.length > 0) throw new UsageError('snapshot list takes no arguments');
          const listing = await snapshots.list();
          if (values.json) printJson(io, listing.snapshots);
          else if (listing.snapshots.length === 0) io.stdout.write(`No snapshots in ${snapshots.snapshotsDir}\n`);
          else for (const snapshot of listing.snapshots) io.stdout.write(`${describeSnapshot(snapshot)}\n`);
          for (const damaged of listing.damaged) io.stderr.write(`crash-safe snapshot: skipped ${damaged.problem}\n`);
          return EXIT_OK;
        }
        case 'restore': {
          if (rest.length !== 1) throw new UsageError('snapshot restore takes exactly one ID');
          const result = await snapshots.restore(rest[0]!);
          if (values.json) printJson(io, result);
          else {
            const before = result.before.taken ? result.before.snapshot.id : result.before.newest.id;
            io.stdout.write(`Saved the current settings as ${before}\n`);
            io.stdout.write(
              `Restored ${snapshots.settingsPath} from ${result.restored.id}: ${describeKeys(result.changedKeys)}\n`,
            );
          }
          return EXIT_OK;
        }
        default:
          throw new UsageError(`unknown snapshot action "${action}"`);
      }
    } catch (error) {
      if (error instanceof SnapshotError) {
        io.stderr.write(`crash-safe snapshot: ${error.message}\n`);
        return EXIT_FAILURE;
      }
      throw error;
    }
  },
};
