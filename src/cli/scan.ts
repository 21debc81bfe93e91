import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { compileCustomPatterns, formatAge, type Orphan, type ScanError, walkOrphans } from '../core/orphans';
import { type CliIo, EXIT_FAILURE, EXIT_OK, UsageError, type Verb, walkProgress } from './io';

/** Options shared by `scan` and `sweep`. */
export const WALK_OPTIONS = {
  json: { type: 'boolean' as const, default: false },
  exclude: { type: 'string' as const, multiple: true as const, default: [] as string[] },
  'skip-node-modules': { type: 'boolean' as const, default: false },
  pattern: { type: 'string' as const, multiple: true as const, default: [] as string[] },
};

/** An empty `--exclude` would silently exclude nothing (or, as a glob, everything): a usage error. */
export function checkExcludes(globs: string[]): string[] {
  if (globs.some((glob) => glob.trim() === '')) throw new UsageError('--exclude needs a glob, not an empty string');
  return globs;
}

/** Checks `--pattern` values up front so a bad one is a usage error (exit 2), not a failure. */
export function checkPatterns(patterns: string[]): string[] {
  try {
    compileCustomPatterns(patterns);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  return patterns;
}

/**
 * Absolute roots (default: the working directory), each checked to be a readable folder.
 * A root that does not exist or is not a folder is reported on stderr, and the result is undefined (exit 1).
 */
export async function resolveRootsArg(positionals: string[], io: CliIo, verb: string): Promise<string[] | undefined> {
  const roots = (positionals.length > 0 ? positionals : ['.']).map((root) => resolve(io.cwd, root));
  for (const root of roots) {
    let problem: string | undefined;
    try {
      if (!(await stat(root)).isDirectory()) problem = 'it is not a folder';
    } catch (error) {
      problem = error instanceof Error ? error.message : String(error);
    }
    if (problem) {
      io.stderr.write(`crash-safe ${verb}: cannot scan ${root}: ${problem}\n`);
      return undefined;
    }
  }
  return roots;
}

/** One human-readable line per orphan. */
export function describeOrphan(orphan: Orphan): string {
  const json = orphan.validJson === null ? '' : orphan.validJson ? ', valid JSON' : ', not valid JSON';
  const tracked = orphan.gitTracked ? '; tracked by git, never swept' : '';
  const note = orphan.note ? `; ${orphan.note}` : '';
  return `${orphan.kind.padEnd(17)} ${formatAge(orphan.ageMs).padStart(6)}  ${orphan.path}  (${orphan.size} B${json}; target ${orphan.targetState}${tracked}${note})`;
}

/** Writes an array element by element so the output equals `printJson` of the whole array while streaming. */
export class JsonArrayWriter {
  private count = 0;
  constructor(private readonly io: CliIo) {}
  add(value: unknown): void {
    const body = JSON.stringify(value, null, 2).replace(/\n/g, '\n  ');
    this.io.stdout.write(`${this.count === 0 ? '[\n' : ',\n'}  ${body}`);
    this.count += 1;
  }
  end(): void {
    this.io.stdout.write(this.count === 0 ? '[]\n' : '\n]\n');
  }
}

export function reportScanError(io: CliIo, verb: string): (error: ScanError) => void {
  return (error) =>
    io.stderr.write(
      error.skipped
        ? `crash-safe ${verb}: skipped ${error.path}: ${error.error}\n`
        : `crash-safe ${verb}: cannot read ${error.path}: ${error.error}\n`,
    );
}

export const scanVerb: Verb = {
  usage: 'crash-safe scan [ROOT...] [--json] [--exclude GLOB]... [--skip-node-modules] [--pattern "{target}.SUFFIX"]...',
  summary: 'List orphaned temp files (ours and other tools\') under the roots. Exit 0 whether or not any exist.',
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: WALK_OPTIONS });
    const extraPatterns = checkPatterns(values.pattern);
    checkExcludes(values.exclude);
    const roots = await resolveRootsArg(positionals, io, 'scan');
    if (!roots) return EXIT_FAILURE;
    const output = values.json ? new JsonArrayWriter(io) : undefined;
    let found = 0;
    let bytes = 0;
    let visited = 0;
    const progress = walkProgress(io, 'scan');
    for await (const orphan of walkOrphans(roots, {
      exclude: values.exclude,
      skipNodeModules: values['skip-node-modules'],
      extraPatterns,
      onError: reportScanError(io, 'scan'),
      onProgress: (files) => {
        visited = files;
        progress.update(files);
      },
    })) {
      found += 1;
      bytes += orphan.size;
      progress.clear();
      if (output) output.add(orphan);
      else io.stdout.write(`${describeOrphan(orphan)}\n`);
    }
    progress.clear();
    if (output) output.end();
    else io.stdout.write(`${found} orphaned temp file${found === 1 ? '' : 's'} (${bytes} bytes) among ${visited} files.\n`);
    return EXIT_OK;
  },
};
