/**
 * A UTC time usable in a file name on every platform (no `:`), sorting like the ISO string:
 * `2025-01-02T03-04-05-678Z`. Snapshot ids and damaged to-do-list copies have always kept the `.` before the
 * milliseconds (`2025-01-02T03-04-05.678Z`); `millisSeparator: '.'` keeps their names, which are on disk already.
 */
export function fileSafeTime(date: Date | number, options: { millisSeparator?: '-' | '.' } = {}): string {
  const stamp = new Date(date).toISOString().replace(/:/g, '-');
  return options.millisSeparator === '.' ? stamp : stamp.replace('.', '-');
}
