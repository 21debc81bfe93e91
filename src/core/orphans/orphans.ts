// The orphan model in one import: the walk finds temps (orphanWalk), one judge rules on them and their targets
// (orphanJudge), and sweep removes only what it has proven may go (orphanSweep).

export type { CustomPattern, OrphanKind, RecogniseContext, RecognisedTemp } from '../names/tempPatterns';
export { compileCustomPatterns, MIN_UINT32_DIGITS, recogniseTemp } from '../names/tempPatterns';
export type { TargetJudgement, TargetState, TempJudgement } from './orphanJudge';
export { OrphanJudge, onlyCopyReason } from './orphanJudge';
export type { SweepOptions, SweepResult, SweepSettings } from './orphanSweep';
export { isProcessAlive, LIVE_WRITER_WINDOW_MS, liveWriterReason, sweepOptionsFrom, sweepOrphans } from './orphanSweep';
export type { Orphan, ScanError, ScanOptions, ScanResult } from './orphanWalk';
export { isInside, scanOrphans, walkOrphans } from './orphanWalk';
