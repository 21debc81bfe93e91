// The production .vsix, built once per run of the tooling tier (scripts/packageVsix.mjs: production bundles in a
// staging folder, then vsce) and shared by the tests that inspect it; the tier's last hook removes it again.
import * as assert from 'node:assert/strict';
import { existsSync } from 'node:fs';

type BuiltVsix = ReturnType<
  typeof import('../../scripts/packageVsix.mjs', { with: { 'resolution-mode': 'import' }}).buildVsix
>;

let built: BuiltVsix | undefined;

/** Builds the .vsix on first use; later calls return the same one. */
export async function productionVsix(): Promise<BuiltVsix> {
  if (!built) {
    const { buildVsix } = await import('../../scripts/packageVsix.mjs');
    built = buildVsix();
  }
  return built;
}

suiteTeardown(() => {
  if (!built) return;
  const { stage } = built;
  built.dispose();
  built = undefined;
  assert.equal(existsSync(stage), false, 'dispose() removes the staging folder');
});
