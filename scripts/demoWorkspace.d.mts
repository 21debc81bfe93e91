/** Prefix of the folders that hold the demo copies, one per run, in the temp folder. */
export const DEMO_FOLDER_PREFIX: string;
/**
 * A fresh copy of demo/ at `destination` (default: `demo/` in a new folder of its own in the temp folder), its
 * planted temp files aged one hour. A `destination` that exists is refused, never replaced.
 */
export function prepareDemoWorkspace(destination?: string): string;
