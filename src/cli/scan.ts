import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { formatAge } from '../core/age';
import { DescriptorsExhaustedError } from '../core/boundedOpens';
import { messageOf } from '../core/errors';
import { type Orphan, type ScanError, walkOrphans } from '../core/orphans/orphans';
import { type CliIo, EXIT_FAILURE, EXIT_OK, oneLine, printable, type Verb, walkProgress } from './io';
import { checkExcludes, checkPatterns, WALK_OPTIONS } from './options';

/**
 * Absolute roots (default: the working directory), each checked to be a readable folder.
 * A root that does not exist or is not a folder is reported on stderr, and the result is undefined (exit 1).
 */
async function resolveRootsArg(positionals: string[], io: CliIo, verb: string): Promise<string[] | undefined> {
  const roots = (positionals.length > 0 ? positionals : ['.']).map((root) => resolve(io.cwd, root));
  for (const root of roots) {
    let problem: string | undefined;
    try {
      if (!(await stat(root)).isDirectory()) problem = 'it is not a folder';
    } catch (error) {
      problem = oneLine(messageOf(error));
    }
    if (problem) {
      io.stderr.write(`crash-safe ${verb}: cannot scan ${printable(root)}: ${problem}\n`);
      return undefined;
    }
  }
  return roots;
}

/** What `scan` and `sweep` walk, after their shared options were checked. */
export interface OrphanWalk {
  roots: string[];
  extraPatterns: string[];
  /** The `N files scanned…` line on a terminal; the walk updates it, the verb clears it before printing. */
  progress: ReturnType<typeof walkProgress>;
  /** Walks the roots, reporting unreadable folders on stderr; `onFiles` hears the running count of files. */
  orphans(onFiles?: (files: number) => void): AsyncIterable<Orphan>;
}

/** Checks the walk options (bad ones are usage errors) and the roots; undefined (exit 1) when a root cannot be scanned. */
export async function prepareWalk(
  values: { exclude: string[]; 'skip-node-modules': boolean; pattern: string[] },
  positionals: string[],
  io: CliIo,
  verb: string,
): Promise<OrphanWalk | undefined> {
  const extraPatterns = checkPatterns(values.pattern);
  const exclude = checkExcludes(values.exclude);
  const roots = await resolveRootsArg(positionals, io, verb);
  if (!roots) return undefined;
  const progress = walkProgress(io, verb);
  const orphans = (onFiles?: (files: number) => void) =>
    walkOrphans(roots, {
      exclude,
      skipNodeModules: values['skip-node-modules'],
      extraPatterns,
      onError: reportScanError(io, verb),
      onProgress: (files) => {
        onFiles?.(files);
        progress.update(files);
      },
    });
  return { roots, extraPatterns, progress, orphans };
}

/** One human-readable line per orphan. */
export function describeOrphan(orphan: Orphan): string {
  const json = orphan.validJson === null ? '' : orphan.validJson ? ', valid JSON' : ', not valid JSON';
  const tracked = orphan.gitTracked ? '; tracked by git, never swept' : '';
  const note = orphan.note ? `; ${orphan.note}` : '';
  return `${orphan.kind.padEnd(17)} ${formatAge(orphan.ageMs).padStart(6)}  ${printable(orphan.path)}  (${orphan.size} B${json}; target ${orphan.targetState}${tracked}${note})`;
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

function reportScanError(io: CliIo, verb: string): (error: ScanError) => void {
  return (error) =>
    io.stderr.write(
      error.skipped
        ? `crash-safe ${verb}: skipped ${printable(error.path)}: ${error.error}\n`
        : `crash-safe ${verb}: cannot read ${printable(error.path)}: ${error.error}\n`,
    );
}

export const scanVerb: Verb = {
  usage:
    'crash-safe scan [ROOT...] [--json] [--exclude GLOB]... [--skip-node-modules] [--pattern "{target}.SUFFIX"]...',
  summary: "List orphaned temp files (ours and other tools') under the roots. Exit 0 whether or not any exist.",
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: WALK_OPTIONS });
    const walk = await prepareWalk(values, positionals, io, 'scan');
    if (!walk) return EXIT_FAILURE;
    const output = values.json ? new JsonArrayWriter(io) : undefined;
    let found = 0;
    let bytes = 0;
    let visited = 0;
    try {
      for await (const orphan of walk.orphans((files) => (visited = files))) {
        // Scan's only product is its output: once the reader has gone (`scan | head -1`), the walk can stop.
        if (io.outputGone?.()) break;
        found += 1;
        bytes += orphan.size;
        walk.progress.clear();
        if (output) output.add(orphan);
        else io.stdout.write(`${describeOrphan(orphan)}\n`);
      }
    } catch (error) {
      if (!(error instanceof DescriptorsExhaustedError)) throw error;
      // A scan that could not judge everything is no answer: the list stays unterminated and the exit code says so.
      walk.progress.clear();
      io.stderr.write(`crash-safe scan: stopped after ${found} orphaned temp file(s): ${error.message}\n`);
      return EXIT_FAILURE;
    }
    walk.progress.clear();
    if (output) output.end();
    else
      io.stdout.write(
        `${found} orphaned temp file${found === 1 ? '' : 's'} (${bytes} bytes) among ${visited} files.\n`,
      );
    return EXIT_OK;
  },
};
