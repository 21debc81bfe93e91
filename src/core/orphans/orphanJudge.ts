import { messageOf } from '../errors';
import { errnoOf, type FsLike } from '../fs';
import { isJsonTarget } from '../json/json';
import { judgeJsonFile } from '../json/judgeFile';

/** The state of the file an orphan would have replaced. `unknown`: it could not be judged (unreadable, too large…). */
export type TargetState = 'ok' | 'missing' | 'empty' | 'corrupt' | 'unknown';

export interface TargetJudgement {
  state: TargetState;
  /** Why it is corrupt or unknown. */
  reason?: string;
}

export interface TempJudgement {
  /** Whether the whole temp is valid JSON; null when not a JSON target or not judged (see reason). */
  validJson: boolean | null;
  /** Why a JSON target's temp could not be judged. */
  reason?: string;
}

/**
 * Judges targets and temps the same way for scan, sweep and recover (see judgeJsonFile): one reading of validity,
 * one size limit. Each target is judged once per judge.
 */
export class OrphanJudge {
  private readonly targets = new Map<string, Promise<TargetJudgement>>();

  /** `onUnknown` hears once of each file that could not be judged, and why. */
  constructor(
    private readonly fs: FsLike,
    private readonly onUnknown: (path: string, reason: string) => void = () => undefined,
  ) {}

  target(target: string): Promise<TargetJudgement> {
    let judgement = this.targets.get(target);
    if (!judgement) {
      judgement = isJsonTarget(target) ? this.jsonTarget(target) : this.otherTarget(target);
      this.targets.set(target, judgement);
    }
    return judgement;
  }

  async temp(path: string, target: string): Promise<TempJudgement> {
    if (!isJsonTarget(target)) return { validJson: null };
    const judged = await judgeJsonFile(this.fs, path);
    switch (judged.state) {
      case 'valid':
        return { validJson: true };
      case 'empty':
      case 'corrupt':
        return { validJson: false };
      case 'missing':
        return { validJson: null, reason: 'it disappeared while being checked' };
      case 'unknown':
        this.onUnknown(path, judged.reason);
        return { validJson: null, reason: judged.reason };
    }
  }

  private async jsonTarget(target: string): Promise<TargetJudgement> {
    const judged = await judgeJsonFile(this.fs, target);
    if (judged.state === 'unknown') this.onUnknown(target, judged.reason);
    switch (judged.state) {
      case 'valid':
        return { state: 'ok' };
      case 'corrupt':
      case 'unknown':
        return { state: judged.state, reason: judged.reason };
      default:
        return { state: judged.state };
    }
  }

  /** Content of other targets is not judged: a regular non-empty file is ok. */
  private async otherTarget(target: string): Promise<TargetJudgement> {
    try {
      const stats = await this.fs.stat(target);
      if (!stats.isFile()) return this.unknownTarget(target, `${target}: not a regular file`);
      return { state: stats.size === 0 ? 'empty' : 'ok' };
    } catch (error) {
      const code = errnoOf(error);
      if (code === 'ENOENT' || code === 'ENOTDIR') return { state: 'missing' };
      return this.unknownTarget(target, messageOf(error));
    }
  }

  private unknownTarget(target: string, reason: string): TargetJudgement {
    this.onUnknown(target, reason);
    return { state: 'unknown', reason };
  }
}

/**
 * Why sweep must keep a temp as possibly the only good copy of its target's data; undefined when the temp is proven
 * useless (the target is fine, or the temp is empty or not valid). Unknown means keep.
 */
export function onlyCopyReason(target: TargetJudgement, temp: TempJudgement, tempSize: number): string | undefined {
  if (target.state === 'ok') return undefined;
  if (target.state === 'unknown') {
    return `its target could not be checked (${target.reason ?? 'unknown'}), so this may be the only good copy`;
  }
  if (temp.validJson === true) return `the target is ${target.state} and this is a valid copy`;
  if (temp.validJson === false || tempSize === 0) return undefined;
  if (temp.reason) return `the target is ${target.state} and this temp could not be checked (${temp.reason})`;
  return `the target is ${target.state} and this temp's content cannot be judged`;
}
