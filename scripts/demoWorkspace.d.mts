/** A fresh copy of demo/ at `destination` (default: in the temp folder), its planted temp files aged one hour. */
export function prepareDemoWorkspace(destination?: string): string;
