import { isUtf8 } from 'node:buffer';
import { stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { formatBytes, readRegularFile } from '../core/fs';
import { commitGroup, type GroupFile, type JournalOutcome } from '../core/groups/groupCommit';
import { namesAFolder } from '../core/groups/groupPlan';
import { type GroupRecoveryReport, recoverGroups } from '../core/groups/groupRecovery';
import { parseJson } from '../core/json/json';
import { classifyJsonText, describeReadProblem } from '../core/json/jsonStore';
import { type CliIo, describeError, EXIT_FAILURE, EXIT_OK, printJson, UsageError, type Verb } from './io';
import { DURABILITY_OPTION, JSON_OPTION, parseDurability } from './options';

/** A manifest that cannot be used; nothing was read past it and nothing was written. */
class ManifestError extends Error {}

interface ManifestFile {
  target: string;
  source: string;
}

/** `{ "files": [ { "target": "a.json", "source": "a.new.json" }, ... ] }`; relative paths resolve against its folder. */
async function readManifest(path: string): Promise<ManifestFile[]> {
  let bytes: Buffer;
  try {
    bytes = await readRegularFile(path);
  } catch (error) {
    throw new ManifestError(`cannot read the manifest: ${describeError(error, path)}`);
  }
  // A path that is not exactly representable is refused, never approximated by U+FFFD (another file's name).
  if (!isUtf8(bytes))
    throw new ManifestError(`the manifest ${path} is not valid UTF-8, so its paths cannot be used exactly`);
  const text = bytes.toString('utf8');
  const parsed = parseJson(text, 'json');
  if (!parsed.ok) {
    throw new ManifestError(
      `the manifest ${path} is not valid JSON: ${parsed.position.message} at line ${parsed.position.line}, column ${parsed.position.column}`,
    );
  }
  const files = (parsed.value as { files?: unknown } | null)?.files;
  const shape = 'it must be { "files": [ { "target": "a.json", "source": "a.new.json" }, ... ] }';
  if (!Array.isArray(files) || files.length === 0)
    throw new ManifestError(`the manifest ${path} lists no files: ${shape}`);
  const folder = dirname(path);
  return files.map((entry: unknown, index) => {
    const { target, source } = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
    if (typeof target !== 'string' || typeof source !== 'string' || target === '' || source === '') {
      throw new ManifestError(
        `entry ${index + 1} of the manifest ${path} needs a "target" and a "source" string: ${shape}`,
      );
    }
    if ([target, source].some((p) => /[\ud800-\udfff]/u.test(p))) {
      throw new ManifestError(
        `entry ${index + 1} of the manifest ${path} holds a lone surrogate, which no file name can hold exactly`,
      );
    }
    // Checked as written: resolving would drop a trailing "/" and create a file where a folder was meant.
    const folderName = namesAFolder(target);
    if (folderName) throw new ManifestError(`entry ${index + 1} of the manifest ${path}: the target ${folderName}`);
    const at = (p: string) => (isAbsolute(p) ? p : resolve(folder, p));
    return { target: at(target), source: at(source) };
  });
}

/** Each source whole (bounded regular-file read), and valid JSON, before anything is prepared. */
async function readSources(files: ManifestFile[]): Promise<GroupFile[]> {
  const group: GroupFile[] = [];
  for (const { target, source } of files) {
    let data: Buffer;
    try {
      data = await readRegularFile(source);
    } catch (error) {
      throw new ManifestError(`cannot read the source for ${target}: ${describeError(error, source)}`);
    }
    const checked = classifyJsonText(source, data.toString('utf8'));
    if (checked.state !== 'valid') throw new ManifestError(`the source for ${target}: ${describeReadProblem(checked)}`);
    group.push({ path: target, data });
  }
  return group;
}

function describeOutcome(outcome: JournalOutcome): string {
  switch (outcome.state) {
    case 'rolled-forward':
    case 'rolled-back':
      return `${outcome.state.replace('-', ' ')} ${outcome.journal} (${outcome.targets.join(', ')})`;
    case 'problem':
      return `could not finish ${outcome.journal}: ${outcome.reason}`;
    case 'gone':
      return `${outcome.journal} was already finished`;
  }
}

export const writeGroupVerb: Verb = {
  usage: 'crash-safe write-group MANIFEST.json [--json] [--durability full|fast]',
  summary:
    'Replace every target the manifest lists with its source, all or none, even across a crash (temps, journal, renames). ' +
    'Sources must be valid JSON. An interrupted group is finished by the next write-group or by recover --groups.',
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { json: JSON_OPTION, durability: DURABILITY_OPTION },
    });
    if (positionals.length !== 1) throw new UsageError('write-group takes exactly one MANIFEST');
    const durability = parseDurability(values.durability);
    const manifest = resolve(io.cwd, positionals[0]!);
    let files: GroupFile[];
    try {
      files = await readSources(await readManifest(manifest));
    } catch (error) {
      if (!(error instanceof ManifestError)) throw error;
      io.stderr.write(`crash-safe write-group: refusing to commit the group: ${error.message}; nothing was written\n`);
      return EXIT_FAILURE;
    }
    let result: Awaited<ReturnType<typeof commitGroup>>;
    try {
      result = await commitGroup(files, { durability });
    } catch (error) {
      io.stderr.write(`crash-safe write-group: ${describeError(error)}\n`);
      return EXIT_FAILURE;
    }
    if (values.json) {
      printJson(io, { committed: true, targets: result.targets, recovered: result.recovered });
      return EXIT_OK;
    }
    for (const outcome of result.recovered)
      io.stdout.write(`first finished an interrupted group: ${describeOutcome(outcome)}\n`);
    const { removed } = result.debris;
    if (removed.length > 0)
      io.stdout.write(
        `first ${describeDebris(
          removed.length,
          removed.reduce((sum, file) => sum + file.bytes, 0),
        )}\n`,
      );
    io.stdout.write(`committed ${result.targets.length} files as one group: ${result.targets.join(', ')}\n`);
    return EXIT_OK;
  },
};

/** `removed 3 leftover files (1.2 MiB) of group commits whose writer has exited` */
function describeDebris(count: number, bytes: number): string {
  return `removed ${count} leftover file${count === 1 ? '' : 's'} (${formatBytes(bytes)}) of group commits whose writer has exited`;
}

/**
 * `crash-safe recover --groups ROOT [--json]`: finishes every interrupted group commit under ROOT.
 * Exit 0 when none is left unfinished, 1 when a journal could not be finished (it is reported and left as it was).
 */
export async function runRecoverGroups(root: string, options: { json: boolean }, io: CliIo): Promise<number> {
  try {
    if (!(await stat(root)).isDirectory()) throw new Error('it is not a folder');
  } catch (error) {
    io.stderr.write(`crash-safe recover: cannot recover groups under ${root}: ${describeError(error, root)}\n`);
    return EXIT_FAILURE;
  }
  const report: GroupRecoveryReport = await recoverGroups(root);
  const failed = report.problems.length > 0 || report.errors.length > 0;
  if (options.json) {
    printJson(io, report);
    return failed ? EXIT_FAILURE : EXIT_OK;
  }
  for (const outcome of report.recovered) io.stdout.write(`${describeOutcome(outcome)}\n`);
  for (const path of report.removed)
    io.stdout.write(`removed ${path} (left by a group commit whose journal is gone)\n`);
  for (const { path, reason } of report.kept) io.stdout.write(`kept ${path}: ${reason}\n`);
  for (const { path, reason } of report.skipped) io.stderr.write(`crash-safe recover: skipped ${path}: ${reason}\n`);
  if (report.removed.length > 0) io.stdout.write(`${describeDebris(report.removed.length, report.removedBytes)}\n`);
  for (const { journal, reason } of report.problems)
    io.stderr.write(`crash-safe recover: left ${journal} as it was: ${reason}\n`);
  for (const { path, error } of report.errors) io.stderr.write(`crash-safe recover: cannot read ${path}: ${error}\n`);
  const count = report.recovered.length;
  io.stdout.write(
    count === 0 && report.problems.length === 0
      ? `no interrupted group commits under ${root}\n`
      : `${count} interrupted group commit${count === 1 ? '' : 's'} finished under ${root}\n`,
  );
  return failed ? EXIT_FAILURE : EXIT_OK;
}
