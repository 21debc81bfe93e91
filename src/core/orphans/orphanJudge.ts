import { type FsLike, isAbsent } from '../fs';
import { isJsonTarget } from '../json/json';
import { judgeJsonFile } from '../json/judgeFile';
import { type Reason, reasonText, unreadableReason } from '../reasons';

/** The state of the file an orphan would have replaced. `unknown`: it could not be judged (unreadable, too large…). */
export type TargetState = 'ok' | 'missing' | 'empty' | 'corrupt' | 'unknown';

export interface TargetJudgement {
  state: TargetState;
  /** Why it is corrupt or unknown (English: reasonText(why)). */
  reason?: string;
  why?: Reason;
}

export interface TempJudgement {
  /** Whether the whole temp is valid JSON; null when not a JSON target or not judged (see reason). */
  validJson: boolean | null;
  /** Why a JSON target's temp could not be judged (English: reasonText(why)). */
  reason?: string;
  why?: Reason;
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
        return { validJson: null, reason: reasonText({ code: 'disappeared' }), why: { code: 'disappeared' } };
      case 'unknown':
        this.onUnknown(path, judged.reason);
        return { validJson: null, reason: judged.reason, why: judged.why };
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
        return { state: judged.state, reason: judged.reason, why: judged.why };
      default:
        return { state: judged.state };
    }
  }

  /** Content of other targets is not judged: a regular non-empty file is ok. */
  private async otherTarget(target: string): Promise<TargetJudgement> {
    try {
      const stats = await this.fs.stat(target);
      if (!stats.isFile()) {
        return this.unknownTarget(target, {
          code: 'unreadable',
          errno: 'ENOTREG',
          message: `${target}: not a regular file`,
        });
      }
      return { state: stats.size === 0 ? 'empty' : 'ok' };
    } catch (error) {
      if (isAbsent(error)) return { state: 'missing' };
      return this.unknownTarget(target, unreadableReason(error));
    }
  }

  private unknownTarget(target: string, why: Reason): TargetJudgement {
    const reason = reasonText(why);
    this.onUnknown(target, reason);
    return { state: 'unknown', reason, why };
  }
}

/**
 * Why sweep must keep a temp as possibly the only good copy of its target's data; undefined when the temp is proven
 * useless (the target is fine, or the temp is empty or not valid). Unknown means keep.
 */
export function onlyCopyReason(target: TargetJudgement, temp: TempJudgement, tempSize: number): Reason | undefined {
  if (target.state === 'ok') return undefined;
  if (target.state === 'unknown') return { code: 'target-unchecked', because: target.why };
  const state = target.state;
  if (temp.validJson === true) return { code: 'target-broken-valid-copy', state };
  if (temp.validJson === false || tempSize === 0) return undefined;
  if (temp.why) return { code: 'target-broken-temp-unchecked', state, because: temp.why };
  return { code: 'target-broken-temp-unjudged', state };
}
