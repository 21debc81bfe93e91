// Shared pieces of the consistency scenarios: documents of a chosen size and the restart every state runs.

import type { JsonSchema } from '../../../src/core/json/jsonStore';
import { serializeJson } from '../../../src/core/json/jsonStore';
import { recoverTarget } from '../../../src/core/orphans/recovery';
import { type CheckOptions, type CheckReport, checkCrashStates, summarize } from './checker';
import {
  type DocumentHistory,
  judgeDocument,
  type RecoverFn,
  restart,
  strictJson,
  type ValidityCheck,
} from './expectations';
import type { RecordingFs } from './recordingFs';

export interface SampleDocument {
  version: number;
  items: Array<{ index: number; note: string }>;
}

/** A document tagged with `version` whose serialised form is at least `minBytes` (several 4 KiB blocks if asked). */
export function documentValue(version: number, minBytes = 0): SampleDocument {
  const value: SampleDocument = { version, items: [] };
  while (serializeJson('doc', value).length < minBytes) {
    value.items.push({
      index: value.items.length,
      note: `version ${version} item ${value.items.length} ${'x'.repeat(40)}`,
    });
  }
  return value;
}

/** The serialised text writeJson stores for `documentValue(version, minBytes)`. */
export function documentText(version: number, minBytes = 0): string {
  return serializeJson('doc', documentValue(version, minBytes));
}

/** Orphan recovery as a restart runs it: promote the newest valid temp over a bad target (src/core/orphans/recovery.ts). */
export function coreRecovery(schema?: JsonSchema): RecoverFn {
  return async (fs, target) => (await recoverTarget(target, { fs, schema })).from;
}

/** Checks every crash state of a single-document scenario with readJson + recovery, and logs the figure. */
export async function checkDocument(
  name: string,
  fs: RecordingFs,
  history: DocumentHistory,
  options: CheckOptions & { recover?: RecoverFn; schema?: JsonSchema; valid?: ValidityCheck } = {},
): Promise<CheckReport> {
  const recover = options.recover ?? coreRecovery(options.schema);
  const valid = options.valid ?? strictJson(options.schema);
  const report = await checkCrashStates(
    name,
    fs,
    async ({ fs: crashed, marks }) =>
      judgeDocument(history, marks, await restart(crashed, history.target, { valid, recover })),
    options,
  );
  console.log(summarize(report));
  return report;
}
