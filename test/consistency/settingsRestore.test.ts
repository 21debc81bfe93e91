// Restoring a settings snapshot (src/state/snapshots.ts) writes the "before-restore" snapshot of the current settings
// and the restored settings.json as one group commit (docs/group-commits.md). In every crash state, after the recovery
// the product runs (recoverGroups on .vscode, as `recover --groups` and the extension's start-up do, or the next
// take's finishInterruptedRestores): settings.json holds the old or the restored text, the before-restore snapshot
// exists if and only if it holds the restored text, nothing of the group is left behind, and every snapshot that
// existed before is intact (the one the restore prunes may only be gone once the group has committed).
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { recoverGroups } from '../../src/core/groups/groupRecovery';
import { classifyJsonText, serializeJson } from '../../src/core/json/jsonStore';
import { recogniseGroupFile, recogniseTemp } from '../../src/core/names/tempPatterns';
import { type Durability, writeFileAtomic } from '../../src/core/write/atomicWrite';
import { settingsFields } from '../../src/state/snapshotFolder';
import {
  type SettingsSnapshotDocument,
  SettingsSnapshots,
  sameSettingsBytes,
  settingsSnapshotSchema,
  settingsValuesFromText,
  snapshotBytes,
  snapshotIdFor,
} from '../../src/state/snapshots';
import { type CheckOptions, type CheckReport, checkCrashStates, describeViolations, summarize } from './model/checker';
import { DocumentHistory, describeBytes, jsoncDocument, judgeDocument, restart } from './model/expectations';
import { listFiles } from './model/image';
import { ImageBuilder, RecordingFs } from './model/recordingFs';

const CURRENT = '{\n  // edited by hand\n  "editor.tabSize": 8,\n  "files.autoSave": "off",\n}\n';
const RESTORED = '{\n  // the good old days\n  "editor.tabSize": 2,\n}\n';
const OLDEST = '{ "editor.tabSize": 4 }\n';
/** The same restore with files that are not UTF-8 (a Latin-1 é, 0xFF 0xFE mid-file): a snapshot is a byte copy. */
const CURRENT_LATIN1 = Buffer.from('{\r\n  // edited by hand, caf\xe9\r\n  "editor.tabSize": 8,\r\n}\r\n', 'latin1');
const RESTORED_LATIN1 = Buffer.from('{\n  // the good old days \xff\xfe\n  "editor.tabSize": 2,\n}\n', 'latin1');

/** The clock of the restore (its before-restore snapshot is named after it) and of the take that follows a crash. */
const RESTORE_AT = new Date(Date.UTC(2024, 0, 1));
const NEXT_TAKE_AT = new Date(Date.UTC(2030, 0, 1));
const NEXT_TAKE_REASON = 'next take, after the crash';
const LOCK = { acquireTimeoutMs: 20_000 };

let workspace: string;

function snapshotFile(content: string | Buffer, at: Date, reason: string): [string, string] {
  const { version, settingsText, settingsBytes } = settingsFields(Buffer.from(content));
  const document: SettingsSnapshotDocument = {
    version,
    takenAt: at.toISOString(),
    reason,
    settingsText,
    ...(settingsBytes === undefined ? {} : { settingsBytes }),
    values: settingsValuesFromText(settingsText).values,
  };
  return [`${snapshotIdFor(at)}.json`, serializeJson('snapshot', document)];
}

/** How the restore is run: the real one, or a broken copy of it. */
type Restore = (snapshots: SettingsSnapshots, id: string, fs: RecordingFs) => Promise<void>;

const realRestore: Restore = async (snapshots, id) => {
  const result = await snapshots.restore(id);
  assert.equal(result.before.taken, true, 'the restore was expected to record the current settings');
};

/**
 * The old two-step restore: take the before-restore snapshot (a durable single write), then replace settings.json.
 * Each step is durable and the end state is right, but a crash between the steps leaves the snapshot without the
 * restore. (The test this file replaced accepted it: it only asked that the replaced settings be kept somewhere.)
 */
const snapshotThenRestore: Restore = async (snapshots, _id, fs) => {
  await snapshots.take({ reason: 'before-restore' });
  await writeFileAtomic(snapshots.settingsPath, RESTORED, { fs });
};

/** The two steps the other way round: a crash between them loses the settings the restore replaced. */
const restoreThenSnapshot: Restore = async (snapshots, _id, fs) => {
  const current = (await fs.readFile(snapshots.settingsPath)).toString('utf8');
  const [name, text] = snapshotFile(current, RESTORE_AT, 'before-restore');
  await writeFileAtomic(snapshots.settingsPath, RESTORED, { fs });
  await writeFileAtomic(join(snapshots.snapshotsDir, name), text, { fs });
};

/**
 * What runs after the crash, before the state is judged: recoverGroups on .vscode (`recover --groups`; the
 * extension's start-up finishes the same groups from its scan), the next take (it first finishes interrupted
 * restores, then records the state it finds), or nothing (to show that the recovery is what makes the states whole).
 */
type Recovery = 'recover --groups' | 'next take' | 'none';

interface Scenario {
  label: string;
  durability: Durability;
  /** Snapshots to keep: 2 makes the restore prune the oldest, after the commit; 20 prunes nothing. */
  keep: number;
  restore: Restore;
  recovery: Recovery;
  stopAfter?: number;
  /** settings.json before and after the restore; default CURRENT and RESTORED (UTF-8). */
  files?: { current: Buffer; restored: Buffer };
}

/** Where the files of the scenario live, on the model's disk. */
function layout() {
  const vscodeDir = join(workspace, '.vscode');
  const snapshotsDir = join(vscodeDir, 'crash-safe/settings-snapshots');
  return { vscodeDir, snapshotsDir, settingsPath: join(vscodeDir, 'settings.json') };
}

/** A parsed snapshot file, or why it is not one. */
function readSnapshot(bytes: Buffer): SettingsSnapshotDocument | string {
  const read = classifyJsonText<SettingsSnapshotDocument>('snapshot', bytes.toString('utf8'), settingsSnapshotSchema);
  return read.state === 'valid' ? read.value : `damaged (${describeBytes(bytes)})`;
}

/** Group files (journals, temps, backups) under the workspace, by role. */
function groupFiles(fs: RecordingFs): { journals: string[]; members: string[] } {
  const found = { journals: [] as string[], members: [] as string[] };
  for (const [path] of listFiles(fs.live)) {
    const named = path.startsWith(`${workspace}/`) ? recogniseGroupFile(basename(path)) : undefined;
    if (named) (named.role === 'journal' ? found.journals : found.members).push(path);
  }
  return found;
}

const relative = (path: string) => path.slice(workspace.length + 1);

/** What happened in the checked states of one scenario, for the log. */
const tallies = { journalled: 0, forward: 0, back: 0, leftAfterTake: 0, old: 0, restored: 0 };

async function recoverGroupsIn(fs: RecordingFs): Promise<string[]> {
  const report = await recoverGroups(layout().vscodeDir, { fs, lock: false });
  for (const { state } of report.recovered) tallies[state === 'rolled-forward' ? 'forward' : 'back'] += 1;
  return [
    ...report.problems.map((p) => `recovery left ${relative(p.journal)} as it was: ${p.reason}`),
    ...report.kept.map((k) => `recovery kept ${relative(k.path)}: ${k.reason}`),
    ...report.errors.map((e) => `recovery could not read ${e.path}: ${e.error}`),
  ];
}

async function runRecovery(recovery: Recovery, fs: RecordingFs, keep: number): Promise<string[]> {
  if (groupFiles(fs).journals.length > 0) tallies.journalled += 1;
  if (recovery === 'recover --groups') return recoverGroupsIn(fs);
  if (recovery === 'none') return [];
  // A later session: same folder, a later clock, and a keep large enough that the take prunes nothing.
  const next = new SettingsSnapshots(workspace, {
    fs,
    durability: 'full',
    keep: Math.max(keep, 100),
    now: () => NEXT_TAKE_AT,
    lock: LOCK,
  });
  try {
    await next.take({ reason: NEXT_TAKE_REASON });
  } catch (error) {
    return [`the next take failed: ${error instanceof Error ? error.message : String(error)}`];
  }
  // The take finishes every interrupted restore: no journal may survive it. Temps and backups of a group whose
  // journal is gone (never applied, or already finished) are not its business: they are debris that the start-up
  // recovery (recoverGroupFiles on the scan's files, the same code as recoverGroups) removes, which runs next.
  const { journals, members } = groupFiles(fs);
  if (journals.length > 0)
    return [`the next take left interrupted groups unfinished: ${journals.map(relative).join(', ')}`];
  if (members.length > 0) tallies.leftAfterTake += 1;
  return recoverGroupsIn(fs);
}

async function checkRestore(scenario: Scenario, options: CheckOptions = {}): Promise<CheckReport> {
  const { snapshotsDir, settingsPath } = layout();
  const [oldestName, oldestText] = snapshotFile(OLDEST, new Date(Date.UTC(2023, 0, 1)), 'command');
  const { current, restored: restoredBytes } = scenario.files ?? {
    current: Buffer.from(CURRENT),
    restored: Buffer.from(RESTORED),
  };
  const [restoreName, restoreText] = snapshotFile(restoredBytes, new Date(Date.UTC(2023, 5, 1)), 'command');
  const earlier = new Map([
    [join(snapshotsDir, oldestName), oldestText],
    [join(snapshotsDir, restoreName), restoreText],
  ]);
  const builder = new ImageBuilder().file(settingsPath, current);
  for (const [path, text] of earlier) builder.file(path, text);
  const fs = new RecordingFs(builder.image);
  const history = new DocumentHistory(fs, settingsPath, current.toString('utf8'));
  const snapshots = new SettingsSnapshots(workspace, {
    fs,
    durability: scenario.durability,
    keep: scenario.keep,
    now: () => RESTORE_AT,
    lock: LOCK,
  });
  const restoreId = restoreName.slice(0, -'.json'.length);
  for (const key of Object.keys(tallies) as Array<keyof typeof tallies>) tallies[key] = 0;
  await history.write(restoredBytes.toString('utf8'), () => scenario.restore(snapshots, restoreId, fs));

  // Snapshots the finished restore pruned: they may be gone only once the group has committed.
  const pruned = new Set([...earlier.keys()].filter((path) => !fs.liveContent(path)));
  const beforeRestorePath = join(snapshotsDir, snapshotFile(current, RESTORE_AT, 'before-restore')[0]);
  assert.ok(fs.liveContent(settingsPath)?.equals(restoredBytes), 'the restore did not restore settings.json');
  assert.ok(fs.liveContent(beforeRestorePath), 'the restore did not record the before-restore snapshot');

  const report = await checkCrashStates(
    `${scenario.label} (${scenario.durability}, keep ${scenario.keep}), then ${scenario.recovery === 'none' ? 'no recovery' : scenario.recovery}`,
    fs,
    async ({ fs: crashed, marks }) => {
      const problems = await runRecovery(scenario.recovery, crashed, scenario.keep);
      const files = [...listFiles(crashed.live)].filter(([path]) => path.startsWith(`${workspace}/`));

      // settings.json: the old or the restored bytes, and the restored ones once the restore has returned.
      const settings = crashed.liveContent(settingsPath);
      const restored = settings?.equals(restoredBytes) === true;
      const old = settings?.equals(current) === true;
      if (restored) tallies.restored += 1;
      else if (old) tallies.old += 1;
      if (!old && !restored) {
        problems.push(
          `settings.json is ${settings ? describeBytes(settings) : 'missing'}: neither the old nor the restored bytes`,
        );
      }
      problems.push(...judgeDocument(history, marks, await restart(crashed, settingsPath, { valid: jsoncDocument })));

      // The before-restore snapshot of the old settings: present exactly when settings.json is restored.
      const before = crashed.liveContent(beforeRestorePath);
      const beforeDocument = before ? readSnapshot(before) : undefined;
      if (typeof beforeDocument === 'string') problems.push(`the before-restore snapshot is ${beforeDocument}`);
      else if (
        beforeDocument &&
        (!snapshotBytes(beforeDocument)?.equals(current) || beforeDocument.reason !== 'before-restore')
      ) {
        problems.push(
          `the before-restore snapshot holds ${JSON.stringify(beforeDocument.settingsText)} (${beforeDocument.reason}), not the old bytes`,
        );
      }
      const recorded = beforeDocument !== undefined;
      if (restored && !recorded) {
        problems.push(
          'settings.json holds the restored text, but no before-restore snapshot keeps the settings it replaced',
        );
      }
      if (!restored && recorded) {
        problems.push(
          'the before-restore snapshot exists, but settings.json still holds the old text: the restore is half done',
        );
      }

      // Every earlier snapshot intact; the one the restore prunes is gone only after the commit.
      for (const [path, text] of earlier) {
        const bytes = crashed.liveContent(path);
        if (bytes?.toString('utf8') === text) continue;
        if (bytes) problems.push(`the earlier snapshot ${basename(path)} changed: it is ${describeBytes(bytes)}`);
        else if (!pruned.has(path)) problems.push(`the earlier snapshot ${basename(path)} was lost`);
        else if (!(restored && recorded))
          problems.push(`the earlier snapshot ${basename(path)} was pruned before the restore had committed`);
      }

      // Nothing of the group left behind, and no other snapshot in the folder but the next take's. (The orphan temp
      // of a single-file write is for orphan recovery and sweep, not part of this promise.)
      const { journals, members } = groupFiles(crashed);
      const leftovers = [...journals, ...members];
      if (leftovers.length > 0) problems.push(`group files left behind: ${leftovers.map(relative).join(', ')}`);
      for (const [path, file] of files) {
        if (
          dirname(path) !== snapshotsDir ||
          earlier.has(path) ||
          path === beforeRestorePath ||
          leftovers.includes(path)
        )
          continue;
        if (recogniseTemp(basename(path))) continue;
        const document = readSnapshot(file.data);
        if (typeof document === 'string' || document.reason !== NEXT_TAKE_REASON) {
          problems.push(`an unexpected file in the snapshot folder: ${basename(path)}`);
        } else if (!sameSettingsBytes(snapshotBytes(document), settings ?? null)) {
          // The next take must have seen the finished state, not a half-recovered one.
          problems.push(
            `the next take recorded ${JSON.stringify(document.settingsText)}, but settings.json holds ${settings ? describeBytes(settings) : 'nothing'}`,
          );
        }
      }
      return problems;
    },
    { stopAfter: scenario.stopAfter, ...options },
  );
  console.log(summarize(report));
  if (!report.stoppedEarly) {
    const { journalled, forward, back, leftAfterTake, old, restored } = tallies;
    const finished = scenario.recovery === 'recover --groups' ? ` (${forward} rolled forward, ${back} back)` : '';
    const debris =
      scenario.recovery === 'next take'
        ? `; the take left debris of a finished or never-applied group in ${leftAfterTake}, for recoverGroups`
        : '';
    console.log(
      `[consistency]   a journal in ${journalled} states${finished}; afterwards settings.json old in ${old}, restored in ${restored}${debris}`,
    );
  }
  return report;
}

const totals = { states: 0, scenarios: 0 };
function tally(report: CheckReport): CheckReport {
  totals.states += report.statesChecked;
  totals.scenarios += 1;
  return report;
}

suite('consistency: settings-snapshot restore', () => {
  suiteSetup(() => {
    workspace = mkdtempSync(join(tmpdir(), 'cs-consistency-'));
    // The locks (settings-snapshots.lock, .vscode/.cs-group.lock) live on the real disk and need their real parents.
    mkdirSync(join(workspace, '.vscode/crash-safe'), { recursive: true });
  });
  suiteTeardown(() => {
    rmSync(workspace, { recursive: true, force: true });
    console.log(
      `[consistency] settings-snapshot restore: ${totals.states} crash states checked in ${totals.scenarios} scenarios`,
    );
  });

  for (const recovery of ['recover --groups', 'next take'] as const) {
    for (const keep of [20, 2]) {
      test(`full, keep ${keep}, then ${recovery}: settings.json old with no before-restore snapshot, or restored with it`, async () => {
        const report = tally(
          await checkRestore({
            label: 'settings-snapshot restore',
            durability: 'full',
            keep,
            restore: realRestore,
            recovery,
          }),
        );
        assert.equal(report.violationCount, 0, describeViolations(report));
        assert.ok(report.statesChecked >= 20, `too few states: ${report.statesChecked}`);
      });
    }
  }

  test('full, files that are not UTF-8, then recover --groups: settings.json holds the old or the restored bytes exactly', async () => {
    const files = { current: CURRENT_LATIN1, restored: RESTORED_LATIN1 };
    const report = tally(
      await checkRestore({
        label: 'settings-snapshot restore (Latin-1)',
        durability: 'full',
        keep: 2,
        restore: realRestore,
        recovery: 'recover --groups',
        files,
      }),
    );
    assert.equal(report.violationCount, 0, describeViolations(report));
    assert.ok(report.statesChecked >= 20, `too few states: ${report.statesChecked}`);
  });

  test('fast, process crashes only (kill -9): every state recovers to both or neither', async () => {
    const report = tally(
      await checkRestore(
        {
          label: 'settings-snapshot restore',
          durability: 'fast',
          keep: 2,
          restore: realRestore,
          recovery: 'recover --groups',
        },
        { processCrashOnly: true },
      ),
    );
    assert.equal(report.violationCount, 0, describeViolations(report));
    assert.ok(report.statesChecked >= 10, `too few states: ${report.statesChecked}`);
  });

  test('fast: the model finds power-loss states that break the promise (fast only covers process crashes)', async () => {
    const report = await checkRestore({
      label: 'settings-snapshot restore',
      durability: 'fast',
      keep: 2,
      restore: realRestore,
      recovery: 'recover --groups',
      stopAfter: 20,
    });
    assert.ok(report.violationCount > 0, 'fast was expected to break the promise in some power-loss state');
  });
});

suite('consistency: the restore checker catches broken restores', () => {
  suiteSetup(() => {
    workspace = mkdtempSync(join(tmpdir(), 'cs-consistency-'));
    mkdirSync(join(workspace, '.vscode/crash-safe'), { recursive: true });
  });
  suiteTeardown(() => rmSync(workspace, { recursive: true, force: true }));

  test('the old two-step order (snapshot, then settings.json): a crash between leaves the snapshot alone', async () => {
    const report = await checkRestore({
      label: 'buggy copy: snapshot, then settings',
      durability: 'full',
      keep: 20,
      restore: snapshotThenRestore,
      recovery: 'recover --groups',
    });
    assert.ok(report.violationCount > 0, 'the checker missed the two-step restore');
    assert.match(
      describeViolations(report),
      /the before-restore snapshot exists, but settings\.json still holds the old text/,
    );
  });

  test('the two steps the other way round: a crash between loses the replaced settings', async () => {
    const report = await checkRestore({
      label: 'buggy copy: settings, then snapshot',
      durability: 'full',
      keep: 20,
      restore: restoreThenSnapshot,
      recovery: 'recover --groups',
    });
    assert.ok(report.violationCount > 0, 'the checker missed a restore that snapshots too late');
    assert.match(describeViolations(report), /no before-restore snapshot keeps the settings it replaced/);
  });

  test('the real restore without recovery: crash states are half done and leave group files behind', async () => {
    const report = await checkRestore(
      { label: 'settings-snapshot restore', durability: 'full', keep: 20, restore: realRestore, recovery: 'none' },
      { keepViolations: Number.POSITIVE_INFINITY },
    );
    assert.ok(report.violationCount > 0, 'the checker found nothing to recover');
    const found = describeViolations(report);
    assert.match(found, /group files left behind/);
    // Both halves of a group that recovery finishes: one rolled back, the other rolled forward.
    assert.match(found, /the before-restore snapshot exists, but settings\.json still holds the old text/);
    assert.match(
      found,
      /settings\.json holds the restored text, but no before-restore snapshot keeps the settings it replaced/,
    );
  });
});
