// Ages in words, one set of thresholds for every feature: sweep's and the lock's messages, the CLI and the extension.

export type AgeUnit = 's' | 'min' | 'h' | 'd';

/** An age as a rounded count of its largest fitting unit: the one set of thresholds for the CLI and the extension. */
export function ageParts(ms: number): { count: number; unit: AgeUnit } {
  if (ms < 60_000) return { count: Math.round(ms / 1000), unit: 's' };
  if (ms < 3_600_000) return { count: Math.round(ms / 60_000), unit: 'min' };
  if (ms < 86_400_000) return { count: Math.round(ms / 3_600_000), unit: 'h' };
  return { count: Math.round(ms / 86_400_000), unit: 'd' };
}

/** A short human age: 45 s, 12 min, 3 h, 2 d. */
export function formatAge(ms: number): string {
  const { count, unit } = ageParts(ms);
  return `${count} ${unit}`;
}
