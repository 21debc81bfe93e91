// Restoring a settings snapshot (src/state/snapshots.ts): the restore first snapshots the current settings.json,
// then writes the snapshot's raw JSONC over it. In every crash state settings.json is the old or the restored text,
// and whenever the restored text is in place, the settings it replaced are kept in a valid snapshot.
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { type Durability, writeFileAtomic } from '../../src/core/atomicWrite';
import { classifyJsonText, serializeJson } from '../../src/core/jsonStore';
import {
  type SettingsSnapshotDocument,
  SettingsSnapshots,
  settingsSnapshotSchema,
  settingsValuesFromText,
  snapshotIdFor,
} from '../../src/state/snapshots';
import { checkCrashStates, describeViolations, summarize } from './model/checker';
import { DocumentHistory, jsoncDocument, judgeDocument, restart } from './model/expectations';
import { coreRecovery } from './model/fixtures';
import { listFiles } from './model/image';
import { ImageBuilder, RecordingFs } from './model/recordingFs';

const CURRENT = '{\n  // edited by hand\n  "editor.tabSize": 8,\n  "files.autoSave": "off",\n}\n';
const RESTORED = '{\n  // the good old days\n  "editor.tabSize": 2,\n}\n';
const OLDEST = '{ "editor.tabSize": 4 }\n';

let workspace: string;

function snapshotFile(text: string, at: Date, reason: string): [string, string] {
  const document: SettingsSnapshotDocument = {
    version: 1,
    takenAt: at.toISOString(),
    reason,
    settingsText: text,
    values: settingsValuesFromText(text).values,
  };
  return [`${snapshotIdFor(at)}.json`, serializeJson('snapshot', document)];
}

/** Valid snapshots on disk in one state, by the settings text they hold. */
function snapshotTexts(fs: RecordingFs, snapshotsDir: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const [path, file] of listFiles(fs.live)) {
    if (dirname(path) !== snapshotsDir) continue;
    const read = classifyJsonText<SettingsSnapshotDocument>(path, file.data.toString('utf8'), settingsSnapshotSchema);
    if (read.state === 'valid' && read.value.settingsText !== null) found.set(read.value.settingsText, path);
  }
  return found;
}

type Restore = (snapshots: SettingsSnapshots, id: string, fs: RecordingFs) => Promise<void>;

const realRestore: Restore = async (snapshots, id) => {
  const result = await snapshots.restore(id);
  assert.equal(result.before.taken, true);
};

/**
 * A buggy copy of restore with its two steps swapped: it reads the current settings, writes the restored text,
 * and only then writes the before-restore snapshot. Each step is durable and the end state is right; only a crash
 * between the steps loses the replaced settings.
 */
const restoreThenSnapshot: Restore = async (snapshots, _id, fs) => {
  const current = (await fs.readFile(snapshots.settingsPath)).toString('utf8');
  const [name, text] = snapshotFile(current, new Date(Date.UTC(2024, 0, 1)), 'before-restore');
  await writeFileAtomic(snapshots.settingsPath, RESTORED, { fs });
  await writeFileAtomic(join(snapshots.snapshotsDir, name), text, { fs });
};

async function restoreScenario(durability: Durability, stopAfter?: number, restore: Restore = realRestore) {
  const settingsPath = join(workspace, '.vscode/settings.json');
  const snapshotsDir = join(workspace, '.vscode/crash-safe/settings-snapshots');
  const [oldestName, oldestText] = snapshotFile(OLDEST, new Date(Date.UTC(2023, 0, 1)), 'command');
  const [restoreName, restoreText] = snapshotFile(RESTORED, new Date(Date.UTC(2023, 5, 1)), 'command');
  const fs = new RecordingFs(
    new ImageBuilder()
      .file(settingsPath, CURRENT)
      .file(join(snapshotsDir, oldestName), oldestText)
      .file(join(snapshotsDir, restoreName), restoreText).image,
  );
  const history = new DocumentHistory(fs, settingsPath, CURRENT);
  // keep: 2 makes the restore prune the oldest snapshot while it protects the one being restored.
  const snapshots = new SettingsSnapshots(workspace, {
    fs,
    durability,
    keep: 2,
    now: () => new Date(Date.UTC(2024, 0, 1)),
    lock: { acquireTimeoutMs: 20_000 },
  });
  const restoreId = restoreName.slice(0, -'.json'.length);
  await history.write(RESTORED, () => restore(snapshots, restoreId, fs));

  const report = await checkCrashStates(
    `${restore === realRestore ? 'settings-snapshot restore' : 'buggy copy: restore before snapshot'} (${durability})`,
    fs,
    async ({ fs: crashed, marks }) => {
      const kept = snapshotTexts(crashed, snapshotsDir);
      const problems: string[] = [];
      if (!kept.has(RESTORED)) problems.push('the snapshot being restored was lost');
      const onDisk = crashed.liveContent(settingsPath)?.toString('utf8');
      if (onDisk === RESTORED && !kept.has(CURRENT)) {
        problems.push('settings.json was replaced but no valid snapshot keeps the settings it replaced');
      }
      const outcome = await restart(crashed, settingsPath, { valid: jsoncDocument, recover: coreRecovery() });
      return [...problems, ...judgeDocument(history, marks, outcome)];
    },
    { stopAfter },
  );
  console.log(summarize(report));
  return report;
}

suite('consistency: settings-snapshot restore', () => {
  suiteSetup(() => {
    workspace = mkdtempSync(join(tmpdir(), 'cs-consistency-'));
    // The lock directory (settings-snapshots.lock) lives on the real disk and needs its real parent.
    mkdirSync(join(workspace, '.vscode/crash-safe'), { recursive: true });
  });
  suiteTeardown(() => rmSync(workspace, { recursive: true, force: true }));

  test('full: settings.json is the old or the restored text, and the replaced settings are always kept', async () => {
    const report = await restoreScenario('full');
    assert.ok(report.statesChecked >= 10, `too few states: ${report.statesChecked}`);
    assert.equal(report.violationCount, 0, describeViolations(report));
  });

  test('fast: the model finds crash states that lose settings', async () => {
    const report = await restoreScenario('fast', 20);
    assert.ok(report.violationCount > 0, 'fast was expected to lose data in some power-loss state');
  });

  test('catches a restore that overwrites settings.json before snapshotting it', async () => {
    const report = await restoreScenario('full', 5, restoreThenSnapshot);
    assert.ok(report.violationCount > 0, 'the checker missed a restore that snapshots too late');
    assert.match(describeViolations(report), /no valid snapshot keeps the settings it replaced/);
  });
});
