// The in-host runner of the untrusted pass: runTest.ts opens a copy of the fixture workspace with workspace trust
// on (code-server then starts in Restricted Mode, since the host refuses the trust dialog). Same runner as suite/.
import { runTestsIn } from '../suite/index';

/** Runs every bundled *.test.js beside this bundle; rejects when any fails. */
export function run(): Promise<void> {
  return runTestsIn(__dirname);
}
