// Runs a verifier in every distinct crash state of a recorded trace and reports what it found.
import {
  assignments,
  combinationCount,
  type EnumerationOptions,
  forcingBarriers,
  replay,
  unforcedUnits,
} from './crashStates';
import { describeOperation, fingerprint } from './image';
import { RecordingFs } from './recordingFs';

export interface Mark {
  label: string;
  detail: string;
}

/** What a verifier gets: a writable file system whose durable base is one crash state, and the scenario's marks so far. */
export interface CrashCheck {
  point: number;
  marks: readonly Mark[];
  fs: RecordingFs;
  deviations: readonly string[];
}

/** Returns the broken promises it finds in one crash state; an empty list means the state is fine. */
export type Verifier = (check: CrashCheck) => Promise<string[]>;

export interface Violation {
  point: number;
  /** The call the crash came after, for reading the report. */
  after: string;
  deviations: readonly string[];
  problems: string[];
}

export interface CheckReport {
  scenario: string;
  traceLength: number;
  crashPoints: number;
  /** Fate assignments replayed, duplicates included. */
  statesEnumerated: number;
  /** Distinct (on-disk state, scenario progress) pairs the verifier ran in. */
  statesChecked: number;
  /** Crash points with too many combinations to enumerate, where a seeded sample was checked instead. */
  sampledPoints: number;
  violationCount: number;
  /** True when the run stopped at `stopAfter` violations (a scenario that only has to show that it fails). */
  stoppedEarly: boolean;
  /** The first few violations, for the failure message. */
  violations: Violation[];
}

export interface CheckOptions extends Partial<EnumerationOptions> {
  /**
   * Only the states a crash of the process (kill -9) leaves: every call it made reaches the disk, because the
   * kernel already has it. This is what durability 'fast' promises, and all it promises.
   */
  processCrashOnly?: boolean;
  keepViolations?: number;
  /** Stop after this many violations (a buggy copy only needs to be caught, not catalogued). */
  stopAfter?: number;
}

const DEFAULTS: EnumerationOptions = { exhaustiveLimit: 4096, samplesPerPoint: 384, seed: 0x5eed };

/** A seed derived from the scenario name, so each scenario samples its own deterministic states. */
function seedFor(name: string, base: number): number {
  let hash = base >>> 0;
  for (const char of name) hash = Math.imul(hash ^ char.charCodeAt(0), 16777619) >>> 0;
  return hash;
}

/** Enumerates the crash states of `recorded` (at every prefix of its trace) and runs `verify` in each distinct one. */
export async function checkCrashStates(
  scenario: string,
  recorded: RecordingFs,
  verify: Verifier,
  options: CheckOptions = {},
): Promise<CheckReport> {
  const settings: EnumerationOptions = {
    exhaustiveLimit: options.exhaustiveLimit ?? DEFAULTS.exhaustiveLimit,
    samplesPerPoint: options.samplesPerPoint ?? DEFAULTS.samplesPerPoint,
    seed: seedFor(scenario, options.seed ?? DEFAULTS.seed),
  };
  const keep = options.keepViolations ?? 5;
  const stopAfter = options.stopAfter ?? Number.POSITIVE_INFINITY;
  const { base, trace } = recorded;
  const forcedAt = forcingBarriers(trace);
  const checked = new Set<string>();
  const report: CheckReport = {
    scenario,
    traceLength: trace.length,
    crashPoints: trace.length + 1,
    statesEnumerated: 0,
    statesChecked: 0,
    sampledPoints: 0,
    violationCount: 0,
    stoppedEarly: false,
    violations: [],
  };
  const marks: Mark[] = [];
  for (let point = 0; point <= trace.length; point++) {
    const previous = trace[point - 1]?.op;
    if (previous?.kind === 'mark') marks.push({ label: previous.label, detail: previous.detail });
    const units = unforcedUnits(base, trace, point, forcedAt);
    if (!options.processCrashOnly && combinationCount(units) > settings.exhaustiveLimit) report.sampledPoints++;
    const candidates = options.processCrashOnly ? [units.map(() => 0)] : assignments(units, settings, point);
    for (const assignment of candidates) {
      report.statesEnumerated++;
      const state = replay(base, trace, point, units, assignment);
      const key = `${fingerprint(state.image)}#${marks.length}`;
      if (checked.has(key)) continue;
      checked.add(key);
      report.statesChecked++;
      const problems = await verify({
        point,
        marks: [...marks],
        fs: new RecordingFs(state.image),
        deviations: state.deviations,
      });
      if (problems.length === 0) continue;
      report.violationCount++;
      if (report.violations.length < keep) {
        report.violations.push({
          point,
          after: previous ? describeOperation(previous) : '(start)',
          deviations: state.deviations,
          problems,
        });
      }
      if (report.violationCount >= stopAfter) {
        report.stoppedEarly = true;
        return report;
      }
    }
  }
  return report;
}

/** One line for the test log: the states-checked figure the README quotes. */
export function summarize(report: CheckReport): string {
  const sampled = report.sampledPoints > 0 ? `, ${report.sampledPoints} of them sampled` : '';
  return (
    `[consistency] ${report.scenario}: ${report.statesChecked} crash states checked ` +
    `(${report.statesEnumerated} enumerated at ${report.crashPoints} crash points of a ${report.traceLength}-call trace${sampled}); ` +
    `${report.violationCount} violations${report.stoppedEarly ? ' (stopped there: enough to show it fails)' : ''}`
  );
}

/** The violations, readable, for an assertion message. */
export function describeViolations(report: CheckReport): string {
  return report.violations
    .map(
      (v) =>
        `  crash after ${v.point} calls (the last: ${v.after})\n` +
        `    on disk: ${v.deviations.length ? v.deviations.join('; ') : 'everything issued persisted'}\n` +
        `    broken: ${v.problems.join('; ')}`,
    )
    .join('\n');
}
