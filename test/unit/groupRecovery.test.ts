// Group recovery reads journals from disk: untrusted input (issue 20, item 1). And the debris of our own killed
// group commits is cleaned where it is made, only once its writer is dead (item 10).
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  chownSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { runRecoverGroups } from '../../src/cli/writeGroup';
import { commitGroup } from '../../src/core/groups/groupCommit';
import { removeDeadGroupDebris } from '../../src/core/groups/groupDebris';
import {
  type ContentDigest,
  digestOf,
  encodeJournal,
  type GroupJournalEntry,
  groupBackupName,
  groupJournalName,
  groupTempName,
  nodeGroupFs,
} from '../../src/core/groups/groupJournal';
import { recoverGroupFiles, recoverGroups } from '../../src/core/groups/groupRecovery';
import { setAge } from '../support/agedFiles';
import { captureIo } from '../support/cliRun';
import { delegateTo } from '../support/delegatingFs';

/** A pid no process has (above the kernel's pid_max): its group files are a dead writer's. */
const DEAD = '2147483646-0-1-0badf00d';
const OTHER_USER = 65534;
const isRoot = process.getuid?.() === 0;

const digest = (text: string): ContentDigest => digestOf(Buffer.from(text));

/** Writes a journal by hand, as an attacker (or a crash) could leave it. */
function plantJournal(dir: string, id: string, entries: Partial<GroupJournalEntry>[]): string {
  const path = join(dir, groupJournalName(id));
  const full = entries.map((entry) => ({
    target: entry.target!,
    temp: groupTempName(entry.target!, id),
    backup: entry.previous === 'absent' ? null : groupBackupName(entry.target!, id),
    previous: entry.previous ?? 'absent',
    next: entry.next ?? digest('new'),
  }));
  writeFileSync(
    path,
    encodeJournal({ format: 'crash-safe-group', version: 1, id, state: 'committing', entries: full }),
  );
  return path;
}

/** An interrupted group of a.json and b.json in `dir`: old targets, new temps, backups, and its journal (returned). */
function plantInterruptedGroup(dir: string): string {
  for (const name of ['a.json', 'b.json']) {
    writeFileSync(join(dir, name), `old ${name}`);
    writeFileSync(join(dir, groupTempName(name, DEAD)), `new ${name}`);
    writeFileSync(join(dir, groupBackupName(name, DEAD)), `old ${name}`);
  }
  return plantJournal(
    dir,
    DEAD,
    ['a.json', 'b.json'].map((name) => ({
      target: name,
      previous: digest(`old ${name}`),
      next: digest(`new ${name}`),
    })),
  );
}

/** Replaces `path` by a new file (a new inode) holding `text`, as another program saving it does. */
function replaceFile(path: string, text: string): void {
  writeFileSync(`${path}.swap`, text);
  renameSync(`${path}.swap`, path);
}

suite('group recovery: a journal is untrusted input', () => {
  let top: string;
  let root: string;
  let outside: string;
  const at = (...names: string[]) => join(root, ...names);

  setup(() => {
    top = mkdtempSync(join(tmpdir(), 'cs-grouprec-'));
    root = join(top, 'root');
    outside = join(top, 'outside');
    mkdirSync(root);
    mkdirSync(outside);
  });
  teardown(() => rmSync(top, { recursive: true, force: true }));

  /**
   * A group that can only roll back: `inside.json` holds its old content and has no temp. Rolling back removes each
   * target that did not exist before, so an entry that holds its "new" content is deleted.
   */
  const rollBackGroup = (extra: Partial<GroupJournalEntry>) => {
    writeFileSync(at('inside.json'), 'old inside');
    writeFileSync(at(groupBackupName('inside.json', DEAD)), 'old inside');
    return plantJournal(root, DEAD, [
      { target: 'inside.json', previous: digest('old inside'), next: digest('new inside') },
      extra,
    ]);
  };

  test('an entry through a symlinked folder never deletes the file outside the root (recover --groups and the extension path)', async () => {
    writeFileSync(join(outside, 'victim.json'), 'precious');
    symlinkSync(outside, at('link'));
    const journal = rollBackGroup({ target: 'link/victim.json', previous: 'absent', next: digest('precious') });
    const report = await recoverGroups(root);
    assert.equal(readFileSync(join(outside, 'victim.json'), 'utf8'), 'precious', 'the file outside the root is kept');
    assert.deepEqual(report.recovered, []);
    assert.equal(report.problems.length, 1);
    assert.match(report.problems[0]!.reason, /refused, nothing was changed: .*link is a symbolic link/);
    assert.ok(existsSync(journal), 'the journal is kept');
    assert.equal(readFileSync(at('inside.json'), 'utf8'), 'old inside');
    // The extension's start-up recovery goes through recoverGroupFiles: the same refusal.
    const fromScan = await recoverGroupFiles([journal], { within: [root] });
    assert.equal(fromScan.problems.length, 1);
    assert.match(fromScan.problems[0]!.reason, /symbolic link/);
    assert.equal(readFileSync(join(outside, 'victim.json'), 'utf8'), 'precious');
  });

  test('a symlinked target (the last name) is neither replaced nor removed, nor followed', async () => {
    writeFileSync(join(outside, 'victim.json'), 'precious');
    symlinkSync(join(outside, 'victim.json'), at('linked.json'));
    writeFileSync(at(groupTempName('linked.json', DEAD)), 'attacker');
    plantJournal(root, DEAD, [{ target: 'linked.json', previous: digest('precious'), next: digest('attacker') }]);
    writeFileSync(at(groupBackupName('linked.json', DEAD)), 'precious');
    const report = await recoverGroups(root);
    assert.equal(report.problems.length, 1);
    assert.match(report.problems[0]!.reason, /linked\.json is a symbolic link/);
    assert.ok(lstatSync(at('linked.json')).isSymbolicLink(), 'the link is kept');
    assert.equal(readFileSync(join(outside, 'victim.json'), 'utf8'), 'precious');
  });

  test('as root: a journal planted in a folder another user owns is refused, as scan and sweep refuse the folder', async function () {
    if (!isRoot) this.skip();
    const alice = at('alice');
    mkdirSync(alice);
    writeFileSync(join(alice, 'x.json'), 'alice');
    writeFileSync(join(alice, 'y.json'), 'old y');
    writeFileSync(join(alice, groupBackupName('y.json', DEAD)), 'old y');
    const journal = plantJournal(alice, DEAD, [
      { target: 'y.json', previous: digest('old y'), next: digest('new y') },
      { target: 'x.json', previous: 'absent', next: digest('alice') },
    ]);
    for (const name of readdirSync(alice)) chownSync(join(alice, name), OTHER_USER, OTHER_USER);
    chownSync(alice, OTHER_USER, OTHER_USER);
    const before = readdirSync(alice).sort();

    const report = await recoverGroups(root);
    assert.deepEqual(report.skipped, [
      { path: alice, reason: `not entered: it belongs to another user (uid ${OTHER_USER})` },
    ]);
    assert.deepEqual([report.recovered, report.problems, report.removed], [[], [], []]);
    // Listed directly (the extension hands over a scan's files): refused before its lock is made there.
    const direct = await recoverGroupFiles([journal]);
    assert.equal(direct.problems.length, 1);
    assert.match(direct.problems[0]!.reason, /not entered: it belongs to another user/);
    assert.deepEqual(readdirSync(alice).sort(), before, 'nothing was touched, no lock made there');
    assert.equal(readFileSync(join(alice, 'x.json'), 'utf8'), 'alice');
    // A journal in a folder of ours whose entry leads into alice's folder is refused as well.
    plantJournal(root, DEAD, [{ target: 'alice/x.json', previous: 'absent', next: digest('alice') }]);
    const through = await recoverGroups(root);
    assert.equal(through.problems.length, 1);
    assert.match(through.problems[0]!.reason, /alice is not entered: it belongs to another user/);
    assert.equal(readFileSync(join(alice, 'x.json'), 'utf8'), 'alice');
  });

  test('as root: a folder others may write to is refused too', async function () {
    if (!isRoot) this.skip();
    const shared = at('shared');
    mkdirSync(shared, { mode: 0o777 });
    execFileSync('chmod', ['0777', shared]);
    writeFileSync(join(shared, 'x.json'), 'x');
    const journal = plantJournal(shared, DEAD, [{ target: 'x.json', previous: 'absent', next: digest('x') }]);
    const report = await recoverGroupFiles([journal]);
    assert.match(report.problems[0]!.reason, /other users may write to it/);
    assert.equal(readFileSync(join(shared, 'x.json'), 'utf8'), 'x');
  });

  test('a target swapped between the judgement and the rename is kept, and so is the whole group', async () => {
    const journal = plantInterruptedGroup(root);
    let swapped = false;
    const fs = delegateTo(nodeGroupFs, {
      // a.json is judged first; while b.json's temp is read, an editor saves a.json.
      readFile: async (path, maxBytes) => {
        if (!swapped && path === at(groupTempName('b.json', DEAD))) {
          swapped = true;
          replaceFile(at('a.json'), 'saved by the editor');
        }
        return nodeGroupFs.readFile(path, maxBytes);
      },
    });
    const report = await recoverGroups(root, { fs });
    assert.ok(swapped);
    assert.equal(report.problems.length, 1);
    assert.match(report.problems[0]!.reason, /a\.json: changed since it was judged/);
    assert.equal(readFileSync(at('a.json'), 'utf8'), 'saved by the editor', 'the save is kept');
    assert.equal(readFileSync(at('b.json'), 'utf8'), 'old b.json', 'nothing of the group was applied');
    assert.ok(existsSync(journal));
    assert.ok(existsSync(at(groupTempName('a.json', DEAD))));
  });

  test('a target swapped while the renames run is kept; the journal stays for the next run', async () => {
    const journal = plantInterruptedGroup(root);
    let swapped = false;
    const fs = delegateTo(nodeGroupFs, {
      // After every check before the first change, during a.json's rename: an editor saves b.json.
      rename: async (from, to) => {
        if (!swapped && to === at('a.json')) {
          swapped = true;
          replaceFile(at('b.json'), 'saved by the editor');
        }
        return nodeGroupFs.rename(from, to);
      },
    });
    const report = await recoverGroups(root, { fs });
    assert.ok(swapped);
    assert.equal(report.problems.length, 1);
    assert.match(report.problems[0]!.reason, /recovery stopped part-way \(.*b\.json: changed since it was judged/);
    assert.equal(readFileSync(at('b.json'), 'utf8'), 'saved by the editor', 'the save is kept');
    assert.equal(readFileSync(at('a.json'), 'utf8'), 'new a.json');
    assert.ok(existsSync(journal), 'the journal is kept and names the group');
    assert.ok(existsSync(at(groupTempName('b.json', DEAD))));
  });

  test('a folder swapped for a symlink while the renames run: nothing is renamed through it', async () => {
    mkdirSync(at('sub'));
    // Two new files, neither there yet: the group goes forward.
    for (const name of ['b.json', 'sub/a.json']) writeFileSync(at(groupTempName(name, DEAD)), `new ${name}`);
    writeFileSync(join(outside, 'a.json'), 'precious');
    writeFileSync(join(outside, groupTempName('a.json', DEAD)), 'new sub/a.json');
    plantJournal(
      root,
      DEAD,
      ['b.json', 'sub/a.json'].map((name) => ({
        target: name,
        previous: 'absent' as const,
        next: digest(`new ${name}`),
      })),
    );
    let swapped = false;
    const fs = delegateTo(nodeGroupFs, {
      rename: async (from, to) => {
        if (!swapped && to === at('b.json')) {
          swapped = true;
          renameSync(at('sub'), at('sub.moved'));
          symlinkSync(outside, at('sub'));
        }
        return nodeGroupFs.rename(from, to);
      },
    });
    const report = await recoverGroups(root, { fs });
    assert.ok(swapped);
    assert.equal(report.problems.length, 1);
    assert.match(report.problems[0]!.reason, /recovery stopped part-way .*sub is a symbolic link/);
    assert.equal(readFileSync(join(outside, 'a.json'), 'utf8'), 'precious');
    assert.ok(existsSync(join(outside, groupTempName('a.json', DEAD))));
  });

  test('attacks: the journal or the lock named as a target, a FIFO, a folder or a hard link where a file is expected', async () => {
    const id = DEAD;
    // The journal naming itself, and the lock's owner record.
    for (const target of [groupJournalName(id), '.cs-group.lock/owner.json', `x.json.csg-${id}.bak`]) {
      const journal = plantJournal(root, id, [{ target, previous: 'absent', next: digest('x') }]);
      const report = await recoverGroups(root);
      assert.equal(report.problems.length, 1, target);
      assert.match(report.problems[0]!.reason, /a file of the group machinery/, target);
      rmSync(journal);
    }
    // A FIFO as the target: reported at once, never a hang.
    execFileSync('mkfifo', [at('fifo.json')]);
    let journal = plantJournal(root, id, [{ target: 'fifo.json', previous: 'absent', next: digest('x') }]);
    let report = await recoverGroups(root);
    assert.match(report.problems[0]!.reason, /fifo\.json is not a regular file \(a FIFO/);
    rmSync(journal);
    // A FIFO as the journal: the walk lists regular files only; listed directly, refused.
    execFileSync('mkfifo', [at(groupJournalName('1-0-1-0badf00d'))]);
    report = await recoverGroupFiles([at(groupJournalName('1-0-1-0badf00d'))]);
    assert.match(report.problems[0]!.reason, /not a regular file \(a FIFO/);
    rmSync(at(groupJournalName('1-0-1-0badf00d')));
    // A folder where the temp is expected.
    writeFileSync(at('d.json'), 'old d');
    mkdirSync(at(groupTempName('d.json', id)));
    journal = plantJournal(root, id, [{ target: 'd.json', previous: digest('old d'), next: digest('new d') }]);
    report = await recoverGroups(root);
    assert.match(report.problems[0]!.reason, /is not a regular file \(a folder\)/);
    assert.equal(readFileSync(at('d.json'), 'utf8'), 'old d');
    rmSync(journal);
    rmSync(at(groupTempName('d.json', id)), { recursive: true });
    // A temp hard-linked to a file outside: rolling it forward would make the target share that file.
    writeFileSync(join(outside, 'passwd'), 'root:x:0:0');
    linkSync(join(outside, 'passwd'), at(groupTempName('d.json', id)));
    journal = plantJournal(root, id, [{ target: 'd.json', previous: digest('old d'), next: digest('root:x:0:0') }]);
    report = await recoverGroups(root);
    assert.match(report.problems[0]!.reason, /has 2 hard links; a temp of ours has one/);
    assert.equal(readFileSync(at('d.json'), 'utf8'), 'old d');
    assert.equal(lstatSync(join(outside, 'passwd')).nlink, 2);
    // A journal that is a symlink to a journal elsewhere is not followed.
    rmSync(journal);
    plantJournal(outside, id, [{ target: 'd.json', previous: digest('old d'), next: digest('root:x:0:0') }]);
    symlinkSync(join(outside, groupJournalName(id)), at(groupJournalName(id)));
    report = await recoverGroupFiles([at(groupJournalName(id))]);
    assert.match(report.problems[0]!.reason, /is a symbolic link/);
    assert.equal(readFileSync(at('d.json'), 'utf8'), 'old d');
  });

  test('an honest interrupted group still finishes, through a symlinked path to the journal folder too', async () => {
    const real = at('real');
    mkdirSync(real);
    symlinkSync(real, at('via'));
    plantInterruptedGroup(real);
    const report = await recoverGroupFiles([join(at('via'), groupJournalName(DEAD))]);
    assert.deepEqual(report.problems, []);
    assert.equal(report.recovered[0]?.state, 'rolled-forward');
    assert.deepEqual(readdirSync(real).sort(), ['a.json', 'b.json']);
    assert.equal(readFileSync(join(real, 'b.json'), 'utf8'), 'new b.json');
  });
});

suite("group debris: our own dead writers' leftovers", () => {
  let dir: string;
  const at = (...names: string[]) => join(dir, ...names);

  setup(() => {
    dir = mkdtempSync(join(tmpdir(), 'cs-groupdebris-'));
  });
  teardown(() => rmSync(dir, { recursive: true, force: true }));

  test('the next group commit in the folder removes dead writers’ debris, says how much, and keeps the rest', async () => {
    const live = `${process.ppid}-0-1-0badf00d`;
    const named = '2147483645-0-1-0badf00d';
    mkdirSync(at('work'));
    writeFileSync(at('work', 'a.json'), '{"v":0}');
    writeFileSync(at('work', groupTempName('a.json', DEAD)), '{"v":1}'); // 7 bytes
    writeFileSync(at('work', groupBackupName('b.json', DEAD)), '{"old":true}'); // 12 bytes
    writeFileSync(at('work', groupTempName(groupJournalName(DEAD), DEAD)), '{}\n'); // the journal's own temp, 3 bytes
    writeFileSync(at('work', groupTempName('a.json', live)), 'live writer');
    // A group journalled above the commit's folder, not touching its files: its temp is not debris.
    writeFileSync(at('work', groupTempName('c.json', named)), 'named');
    plantJournal(dir, named, [{ target: 'work/c.json', previous: 'absent', next: digest('named') }]);
    // Not this commit's folders: left for recover --groups.
    mkdirSync(at('elsewhere'));
    writeFileSync(at('elsewhere', groupTempName('e.json', DEAD)), 'e');

    const result = await commitGroup([{ path: at('work', 'a.json'), data: '{"v":2}' }]);
    assert.deepEqual(result.debris.removed.map((r) => [basename(r.path), r.bytes]).sort(), [
      [groupTempName(groupJournalName(DEAD), DEAD), 3],
      [groupTempName('a.json', DEAD), 7],
      [groupBackupName('b.json', DEAD), 12],
    ]);
    assert.deepEqual(result.debris.kept.map((k) => basename(k.path)).sort(), [
      groupTempName('a.json', live),
      groupTempName('c.json', named),
    ]);
    assert.match(result.debris.kept.find((k) => k.path.includes(live))!.reason, /still running/);
    assert.match(result.debris.kept.find((k) => k.path.includes(named))!.reason, /journal .* names it/);
    assert.ok(existsSync(at('elsewhere', groupTempName('e.json', DEAD))));
    assert.ok(existsSync(at('work', groupTempName('c.json', named))), 'a file a journal names is not debris');
  });

  test('only regular files, re-checked before the unlink: a FIFO, a folder, a symlink and a file rewritten meanwhile stay', async () => {
    writeFileSync(at('outside.json'), 'keep me');
    symlinkSync(at('outside.json'), at(groupTempName('l.json', DEAD)));
    mkdirSync(at(groupTempName('d.json', DEAD)));
    execFileSync('mkfifo', [at(groupTempName('f.json', DEAD))]);
    writeFileSync(at(groupTempName('s.json', DEAD)), 'debris');
    // A hard link of a file elsewhere: removing the name leaves that file.
    linkSync(at('outside.json'), at(groupBackupName('h.json', DEAD)));
    let lstats = 0;
    const swapping = delegateTo(nodeGroupFs, {
      lstat: async (path) => {
        const stats = await nodeGroupFs.lstat(path);
        if (path === at(groupTempName('s.json', DEAD)) && ++lstats === 1) replaceFile(path, 'rewritten by someone');
        return stats;
      },
    });
    const report = await removeDeadGroupDebris(swapping, dir);
    assert.deepEqual(
      report.removed.map((r) => basename(r.path)),
      [groupBackupName('h.json', DEAD)],
    );
    const kept = new Map(report.kept.map((k) => [basename(k.path), k.reason]));
    assert.match(kept.get(groupTempName('l.json', DEAD))!, /symbolic link/);
    assert.match(kept.get(groupTempName('d.json', DEAD))!, /not a regular file \(a folder\)/);
    assert.match(kept.get(groupTempName('f.json', DEAD))!, /not a regular file \(a FIFO/);
    assert.match(kept.get(groupTempName('s.json', DEAD))!, /changed since it was judged/);
    assert.equal(readFileSync(at('outside.json'), 'utf8'), 'keep me');
    assert.equal(readFileSync(at(groupTempName('s.json', DEAD)), 'utf8'), 'rewritten by someone');
  });

  test('as root: debris in a folder another user owns is not touched', async function () {
    if (!isRoot) this.skip();
    mkdirSync(at('alice'));
    writeFileSync(at('alice', groupTempName('a.json', DEAD)), 'x');
    chownSync(at('alice'), OTHER_USER, OTHER_USER);
    const report = await removeDeadGroupDebris(nodeGroupFs, at('alice'));
    assert.deepEqual(report.removed, []);
    assert.match(report.kept[0]!.reason, /belongs to another user/);
    const walked = await recoverGroups(dir);
    assert.deepEqual(walked.removed, []);
    assert.ok(existsSync(at('alice', groupTempName('a.json', DEAD))));
  });

  test('recover --groups removes the debris of killed write-group runs and says how many files and bytes', async () => {
    writeFileSync(at(groupTempName('a.json', DEAD)), 'x'.repeat(999));
    writeFileSync(at(groupTempName('b.json', DEAD)), 'y'.repeat(24));
    setAge(at(groupTempName('a.json', DEAD)), 3_600_000);
    const io = captureIo(dir);
    assert.equal(await runRecoverGroups(dir, { json: false }, io), 0);
    assert.match(io.out(), /removed 2 leftover files \(1023 bytes\) of group commits whose writer has exited/);
    assert.deepEqual(readdirSync(dir), []);
  });
});
