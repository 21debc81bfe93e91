// When the orphan model's safety-net walk runs (no vscode here, so plain-Node tests reach it).

/** The share of the host's time a safety-net walk may take: a walk of 4 s runs at most every 400 s. */
export const SAFETY_NET_TIME_SHARE = 0.01;

/** However long a walk takes (a loaded machine stretches it), the safety net runs at least hourly, or as set. */
export const SAFETY_NET_LONGEST_SCALED_MS = 60 * 60_000;

/** File events must have been quiet this long before the safety net walks: a walk amid a build re-reads a moving tree. */
export const SAFETY_NET_QUIET_MS = 10_000;

/**
 * The time between safety-net walks: `scanIntervalMinutes`, or longer where one walk takes more than
 * SAFETY_NET_TIME_SHARE of it (a workspace of a million files), up to an hour. 0 when the setting turns the safety
 * net off.
 */
export function safetyNetIntervalMs(scanIntervalMinutes: number, lastWalkMs: number | undefined): number {
  if (!(scanIntervalMinutes > 0)) return 0;
  const scaled = Math.min((lastWalkMs ?? 0) / SAFETY_NET_TIME_SHARE, SAFETY_NET_LONGEST_SCALED_MS);
  return Math.max(scanIntervalMinutes * 60_000, scaled);
}

/**
 * How long a due safety net waits before it walks: 0 to walk now, else until file events have been quiet for
 * SAFETY_NET_QUIET_MS, but never past `deadline`, so a build that never stops still gets its walk.
 */
export function safetyNetWaitMs(now: number, lastEventAt: number | undefined, deadline: number): number {
  if (lastEventAt === undefined) return 0;
  return Math.max(0, Math.min(lastEventAt + SAFETY_NET_QUIET_MS, deadline) - now);
}
