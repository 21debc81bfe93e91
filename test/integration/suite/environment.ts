// What runTest.ts tells the in-host suite, through runTests' extensionTestsEnv (code-server's extension host
// inherits the launcher's environment, verified): where the seeded workspace is and where the counts go.

/** What the runner outside the host hands to the suite inside it. */
export interface IntegrationEnvironment {
  /** The seeded temporary workspace folder the host opened (CS_TEST_WORKSPACE). */
  workspace: string;
  /** Where the in-host runner writes `{"passed":N,"failed":N,"skipped":N}` (CS_RESULTS_FILE). */
  resultsFile: string;
  /** Only tests whose full title matches this regular expression run (CS_INTEGRATION_GREP; for development). */
  grep: string | undefined;
}

/** Reads CS_TEST_WORKSPACE and CS_RESULTS_FILE, naming whichever is missing. */
export function integrationEnvironment(): IntegrationEnvironment {
  const workspace = process.env.CS_TEST_WORKSPACE;
  const resultsFile = process.env.CS_RESULTS_FILE;
  const missing = [!workspace && 'CS_TEST_WORKSPACE', !resultsFile && 'CS_RESULTS_FILE'].filter(Boolean);
  if (!workspace || !resultsFile) {
    throw new Error(
      `${missing.join(' and ')} not set in the extension host: run it through test/integration/runTest.ts`,
    );
  }
  return { workspace, resultsFile, grep: process.env.CS_INTEGRATION_GREP || undefined };
}

/**
 * Invisible prefix that marks a line as the suite's own output. The code-server launcher streams marked lines and
 * keeps the rest (the workbench's chatter) for when a run fails; test/integration/launcher/launcher.mjs has the same.
 */
export const HOST_OUTPUT_MARK = '\u2063cs\u2063';

/** Prints a line from inside the host that the code-server launcher always shows (plain console.log is kept for failures). */
export function hostLog(message: string): void {
  console.log(`${HOST_OUTPUT_MARK}%s`, message);
}
