// What a crash state must satisfy: the versions of a document a caller may see after a restart,
// and the restart itself (readJson, then orphan recovery when the target is not valid).
import { messageOf } from '../../../src/core/errors';
import { errnoOf, type FsLike } from '../../../src/core/fs';
import { describeParseFailure, parseJson } from '../../../src/core/json/json';
import { classifyJsonText, describeReadProblem, type JsonSchema } from '../../../src/core/json/jsonStore';
import type { Mark } from './checker';
import type { RecordingFs } from './recordingFs';

/** A caller's request, noted when it was made; its acknowledgement refers back to it. */
export interface Ticket {
  readonly id: number;
}

/**
 * The versions of one document over a scenario, as trace marks:
 * - `submit`: a caller asked for a value to be stored;
 * - `begin`: a write of a complete version started (the writer may carry several callers' values in one);
 * - `ack`: the caller was told its value (or a newer one) is durable.
 * After a crash, the document must hold a version begun no earlier than the oldest one that can satisfy
 * the latest acknowledgement — or, before any acknowledgement, the initial content.
 */
export class DocumentHistory {
  /** undefined: begun, text not supplied yet (see `define`). */
  private readonly versions: Array<string | null | undefined>;
  private tickets = 0;

  constructor(
    private readonly fs: RecordingFs,
    readonly target: string,
    initial: string | null,
  ) {
    this.versions = [initial];
  }

  /** Every complete version ever begun (the initial one included). */
  get complete(): ReadonlyArray<string | null> {
    const pending = this.versions.indexOf(undefined);
    if (pending >= 0) throw new Error(`version ${pending} of ${this.target} was begun but never defined`);
    return this.versions as Array<string | null>;
  }

  /** Notes a caller's request; pass the ticket to `ack` when the caller is told it is durable. */
  submit(): Ticket {
    this.tickets += 1;
    this.fs.mark(`submit ${this.target}`, String(this.tickets));
    return { id: this.tickets };
  }

  /** Notes that a write of a complete version started; the text may be supplied later with `define` (when
   * the code under test computes it). Returns the version number. */
  begin(text?: string): number {
    this.versions.push(text);
    const version = this.versions.length - 1;
    this.fs.mark(`begin ${this.target}`, String(version));
    return version;
  }

  /** Supplies the text of a version begun without it (read back once the write was acknowledged). */
  define(version: number, text: string): void {
    this.versions[version] = text;
  }

  /** Notes that the caller holding `ticket` was told its value (or a newer one) is durable. */
  ack(ticket: Ticket): void {
    this.fs.mark(`ack ${this.target}`, String(ticket.id));
  }

  /** Submit, begin and (once `write` resolves) acknowledge one version: the shape of a plain awaited write. */
  async write(text: string, write: () => Promise<void>): Promise<void> {
    const ticket = this.submit();
    this.begin(text);
    await write();
    this.ack(ticket);
  }

  /** The versions the target may hold after a crash at a point where `marks` had been issued. */
  allowedAt(marks: readonly Mark[]): { allowed: Array<string | null>; oldestAllowed: number; premature: number[] } {
    const premature: number[] = [];
    const submittedAt = new Map<string, number>();
    const begun: number[] = [0];
    let oldestAllowed = 0;
    marks.forEach((mark, position) => {
      if (mark.label === `submit ${this.target}`) submittedAt.set(mark.detail, position);
      else if (mark.label === `begin ${this.target}`) begun.push(Number(mark.detail));
      else if (mark.label === `ack ${this.target}`) {
        const since = submittedAt.get(mark.detail) ?? -1;
        // The first version begun after the request is the oldest that can carry it.
        const carrier = marks.findIndex((m, i) => i > since && m.label === `begin ${this.target}`);
        if (carrier < 0) premature.push(Number(mark.detail));
        const required = carrier < 0 ? this.versions.length : Number(marks[carrier]!.detail);
        oldestAllowed = Math.max(oldestAllowed, required);
      }
    });
    const complete = this.complete;
    return {
      allowed: begun.filter((v) => v >= oldestAllowed).map((v) => complete[v] as string | null),
      oldestAllowed,
      premature,
    };
  }
}

/** Promotes a valid orphan over a bad target; returns the path it promoted from, or undefined. */
export type RecoverFn = (fs: FsLike, target: string) => Promise<string | undefined>;

/** Tells whether the bytes of a target are a usable document; returns the problem, or undefined when usable. */
export type ValidityCheck = (text: string) => string | undefined;

/** readJson's verdict (strict JSON, optional schema), as what a reader of our own documents accepts. */
export function strictJson(schema?: JsonSchema): ValidityCheck {
  return (text) => {
    const result = classifyJsonText('target', text, schema);
    return result.state === 'valid' ? undefined : describeReadProblem(result).replace(/^target /, '');
  };
}

/** VS Code's own files (settings.json) are JSONC: comments and trailing commas are fine. */
export const jsoncDocument: ValidityCheck = (text) => {
  const parsed = parseJson(text, 'jsonc');
  return parsed.ok ? undefined : parsed.empty ? 'it is empty' : describeParseFailure(parsed.position);
};

export interface RestartOutcome {
  /** The usable text after the restart, null when the target is missing, undefined when it is unusable. */
  finalText: string | null | undefined;
  /** Why the final target is unusable, with a description of its bytes. */
  finalProblem: string | undefined;
  promotedFrom: string | undefined;
  recoveryError: string | undefined;
}

async function readTarget(
  fs: FsLike,
  target: string,
  valid: ValidityCheck,
): Promise<Omit<RestartOutcome, 'promotedFrom' | 'recoveryError'>> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(target);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return { finalText: null, finalProblem: undefined };
    return { finalText: undefined, finalProblem: `cannot be read: ${String(error)}` };
  }
  const text = bytes.toString('utf8');
  const problem = valid(text);
  return problem
    ? { finalText: undefined, finalProblem: `${problem} (${describeBytes(bytes)})` }
    : { finalText: text, finalProblem: undefined };
}

/** What a restart runs: read the target (readJson for our documents); if it is missing or unusable, run orphan recovery and read again. */
export async function restart(
  fs: FsLike,
  target: string,
  options: { valid?: ValidityCheck; recover?: RecoverFn } = {},
): Promise<RestartOutcome> {
  const valid = options.valid ?? strictJson();
  const atBoot = await readTarget(fs, target, valid);
  let promotedFrom: string | undefined;
  let recoveryError: string | undefined;
  if (atBoot.finalText == null && options.recover) {
    try {
      promotedFrom = await options.recover(fs, target);
    } catch (error) {
      recoveryError = messageOf(error);
    }
  }
  const final = promotedFrom === undefined ? atBoot : await readTarget(fs, target, valid);
  return { ...final, promotedFrom, recoveryError };
}

/** A short description of bytes on disk, for reports. */
export function describeBytes(bytes: Buffer): string {
  const zeros = bytes.filter((b) => b === 0).length;
  const head = bytes.subarray(0, 24).toString('utf8').replace(/\0/g, '\\0').replace(/\n/g, '\\n');
  return `${bytes.length} bytes${zeros ? `, ${zeros} NUL` : ''}, starting "${head}"`;
}

/**
 * The document checks of issue 6: the target is a complete version the caller may see (old or new, never older
 * than acknowledged), and a recovery never promoted anything that is not a complete version.
 */
export function judgeDocument(history: DocumentHistory, marks: readonly Mark[], outcome: RestartOutcome): string[] {
  const { allowed, oldestAllowed, premature } = history.allowedAt(marks);
  const problems: string[] = premature.map(
    (ticket) => `request ${ticket} to ${history.target} was acknowledged before any write carrying it had begun`,
  );
  const text = outcome.finalText;
  const name = (v: string | null) => (v === null ? 'missing' : `version ${history.complete.indexOf(v)}`);
  if (outcome.promotedFrom !== undefined && (text === undefined || text === null || !history.complete.includes(text))) {
    problems.push(`recovery promoted a torn or foreign temp (${outcome.promotedFrom}) over ${history.target}`);
  }
  if (premature.length > 0 || (text !== undefined && allowed.includes(text))) return problems;
  if (text !== undefined && history.complete.includes(text)) {
    const version = history.complete.indexOf(text);
    problems.push(
      version < oldestAllowed
        ? `${history.target} is ${name(text)}, but version ${oldestAllowed} was acknowledged as durable: an acknowledged write was lost`
        : `${history.target} is ${name(text)}, which had not been written yet`,
    );
    return problems;
  }
  const found =
    text === undefined
      ? outcome.finalProblem
      : text === null
        ? 'missing'
        : `an unknown document (${text.length} bytes)`;
  const recovery = outcome.recoveryError ? `; recovery: ${outcome.recoveryError}` : '';
  problems.push(`${history.target} is ${found}; expected ${allowed.map(name).join(' or ')}${recovery}`);
  return problems;
}
