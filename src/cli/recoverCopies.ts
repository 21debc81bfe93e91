// `recover TARGET --list` and `recover TARGET --from SOURCE[:N]`: the copies model (src/core/copies) on the command line.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Copy, type CopySource, isCopySource } from '../core/copies/copyModel';
import { type CopiesResult, findCopies, recoverFromCopy, selectCopy } from '../core/copies/findCopies';
import { defaultHistoryDirs, isCodeServerHistory } from '../core/copies/historyCopies';
import { formatBytes } from '../core/fs';
import { RecoveryError } from '../core/orphans/recovery';
import { stateCopyFinders } from '../state/stateCopies';
import { type CliIo, describeError, EXIT_FAILURE, EXIT_OK, printable, printJson, UsageError } from './io';
import { checkPatterns, loadSchema } from './options';

interface CopiesValues {
  list: boolean;
  from?: string;
  history?: string;
  json: boolean;
  force: boolean;
  'dry-run': boolean;
  schema?: string;
  pattern: string[];
}

/** `SOURCE[:N]`: a source name and an index from 0 (newest); a usage error otherwise. */
export function parseFrom(text: string): { source: CopySource; index: number } {
  const match = /^(?<source>[a-z]+)(?::(?<index>\d{1,6}))?$/.exec(text)?.groups;
  if (!match || !isCopySource(match.source!)) {
    throw new UsageError(`--from must be history, git, temp or backup, optionally with :N (0 = newest), not "${text}"`);
  }
  return { source: match.source, index: Number(match.index ?? 0) };
}

/** The History folder: `--history DIR`, else the first default of this platform that exists, else none. */
function historyDirFor(value: string | undefined, io: CliIo): string | undefined {
  if (value !== undefined) {
    if (value.trim() === '') throw new UsageError('--history needs a folder');
    return resolve(io.cwd, value);
  }
  return defaultHistoryDirs().find((dir) => existsSync(dir));
}

/** A copy as `--list --json` prints it: every field but `read`. */
function copyJson(copy: Copy) {
  const { read: _read, ...fields } = copy;
  return fields;
}

const timeText = (time: number | undefined) => (time === undefined ? 'time unknown' : new Date(time).toISOString());

function printList(result: CopiesResult, io: CliIo): void {
  const { targetState: state } = result;
  const condition =
    state.state === 'ok' ? `is valid (${state.judgement})` : state.problem ? state.problem : `is ${state.state}`;
  io.stdout.write(`${printable(result.target)} ${condition}\n`);
  if (result.copies.length === 0) io.stdout.write('no copies found\n');
  for (const copy of result.copies) {
    const verdict = copy.problem ? `${copy.judgement}: ${copy.problem}` : copy.judgement;
    io.stdout.write(
      `${`${copy.source}:${copy.index}`.padEnd(10)} ${timeText(copy.time)}  ${formatBytes(copy.size).padStart(10)}  ${verdict}  ${copy.label}  ${printable(copy.where)}\n`,
    );
  }
}

export async function runCopies(positionals: string[], values: CopiesValues, io: CliIo): Promise<number> {
  if (positionals.length !== 1) throw new UsageError('--list and --from take exactly one TARGET');
  if (values.list === (values.from !== undefined)) throw new UsageError('give either --list or --from SOURCE[:N]');
  const chosen = values.from === undefined ? undefined : parseFrom(values.from);
  if (values.list && (values.force || values['dry-run']))
    throw new UsageError('--list writes nothing: no --force or --dry-run');
  const extraPatterns = checkPatterns(values.pattern);
  const schema = await loadSchema(values.schema, io);
  const historyDir = historyDirFor(values.history, io);
  const target = resolve(io.cwd, positionals[0]!);
  // code-server writes its workspace files' history as vscode-remote://HOST/path, HOST being the browser's.
  const history = historyDir && isCodeServerHistory(historyDir) ? { remoteAuthorities: 'any' as const } : {};
  const result = await findCopies(target, {
    historyDir,
    history,
    extraPatterns,
    schema,
    extraFinders: stateCopyFinders(),
  });
  for (const note of result.notes) io.stderr.write(`crash-safe recover: note: ${note}\n`);

  if (!chosen) {
    if (values.json) printJson(io, { ...result, copies: result.copies.map(copyJson) });
    else printList(result, io);
    return EXIT_OK;
  }
  const copy = selectCopy(result.copies, chosen.source, chosen.index);
  if (!copy) {
    const count = result.copies.filter((c) => c.source === chosen.source).length;
    io.stderr.write(
      `crash-safe recover: no copy ${chosen.source}:${chosen.index} of ${printable(target)} (${chosen.source} has ${count}; see --list)\n`,
    );
    return EXIT_FAILURE;
  }
  try {
    const recovered = await recoverFromCopy(target, copy, {
      force: values.force,
      dryRun: values['dry-run'],
      schema,
      textExpected: result.textExpected,
    });
    if (values.json) {
      printJson(io, { ...recovered, copy: copyJson(copy) });
    } else {
      const verb = values['dry-run'] ? 'would recover' : 'recovered';
      const kept = recovered.backup
        ? `; the previous file ${values['dry-run'] ? 'would be' : 'was'} kept as ${printable(recovered.backup)}`
        : '';
      io.stdout.write(
        `${verb} ${printable(target)} from ${printable(copy.where)} (${copy.source}:${copy.index})${kept}\n`,
      );
    }
    return EXIT_OK;
  } catch (error) {
    if (error instanceof RecoveryError && error.code === 'not-needed') {
      if (values.json) printJson(io, { target, nothingToRecover: true });
      else
        io.stdout.write(
          `nothing to recover: ${printable(target)} is valid (--force replaces it with the chosen copy)\n`,
        );
      return EXIT_OK;
    }
    io.stderr.write(`crash-safe recover: ${describeError(error)}\n`);
    return EXIT_FAILURE;
  }
}
