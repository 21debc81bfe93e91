import { readFileSync } from 'node:fs';

/**
 * The process's file mode creation mask, read without `process.umask()` where the system allows: that call sets the
 * mask to 0 and back (DEP0139), and a file another thread creates in between (any pool thread of the extension host,
 * another extension's write included) is made with no mask at all. Linux (4.7 on) reports the mask in
 * /proc/self/status (~30 µs, so only writes of new files ask); elsewhere, or when that fails, `process.umask()`.
 */
export function processUmask(): number {
  return (process.platform === 'linux' ? umaskFromProc() : undefined) ?? process.umask();
}

function umaskFromProc(): number | undefined {
  try {
    return parseStatusUmask(readFileSync('/proc/self/status', 'latin1'));
  } catch {
    return undefined;
  }
}

/** The `Umask:` line of a /proc/<pid>/status text, or undefined. */
export function parseStatusUmask(status: string): number | undefined {
  const match = /^Umask:\s*([0-7]{1,4})\s*$/m.exec(status);
  return match ? Number.parseInt(match[1]!, 8) : undefined;
}
