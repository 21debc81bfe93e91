// The copies model (src/core/copies): every source on real files, real git in a temp repository, and every safety
// rule attacked the way a hostile History folder or repository would.
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CopyChangedError } from '../../src/core/copies/copyModel';
import { bestCopy, findCopies, recoverFromCopy, selectCopy } from '../../src/core/copies/findCopies';
import { checkFilesHistoryKnows, LARGEST_CHECKED } from '../../src/core/copies/historyCheck';
import {
  defaultHistoryDirs,
  isCodeServerHistory,
  isPlainEntryName,
  MAX_ENTRIES_JSON_BYTES,
  readHistoryIndex,
  resourceToPath,
} from '../../src/core/copies/historyCopies';
import { judgeBroken, judgeContent } from '../../src/core/copies/judgeBroken';
import { nodeFs } from '../../src/core/fs';
import type { RecoveryError } from '../../src/core/orphans/recovery';
import { SettingsSnapshots } from '../../src/state/snapshots';
import { stateCopyFinders } from '../../src/state/stateCopies';
import { delegateTo } from '../support/delegatingFs';

const HOUR = 3_600_000;
const isRoot = process.getuid?.() === 0;
const hasGit = spawnSync('git', ['--version']).status === 0;

suite('copies', () => {
  let dir: string;
  let history: string;
  let target: string;

  setup(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'cs-copies-')));
    history = join(dir, 'History');
    mkdirSync(history, { mode: 0o700 });
    mkdirSync(join(dir, 'ws'));
    target = join(dir, 'ws', 'state.json');
  });
  teardown(() => rmSync(dir, { recursive: true, force: true }));

  /** A `<hash>` folder with entries.json for `resource` and one file per entry. */
  const historyFolder = (
    hash: string,
    resource: string,
    entries: { id: string; content?: string | Buffer; timestamp: number; source?: string }[],
  ) => {
    const folder = join(history, hash);
    mkdirSync(folder, { recursive: true });
    for (const entry of entries) if (entry.content !== undefined) writeFileSync(join(folder, entry.id), entry.content);
    writeFileSync(
      join(folder, 'entries.json'),
      JSON.stringify({ version: 1, resource, entries: entries.map(({ content: _c, ...rest }) => rest) }),
    );
    return folder;
  };
  const uri = (path: string) => pathToFileURL(path).href;

  suite('judgeContent / judgeBroken: one meaning of broken', () => {
    test('missing, empty, all NUL, invalid JSON and a schema miss are broken; JSONC and text never are', async () => {
      assert.deepEqual((await judgeBroken(target)).state, 'missing');
      const cases: [string, string | Buffer, string][] = [
        ['a.json', '', 'empty'],
        ['a.json', '  \n', 'empty'],
        ['a.json', Buffer.alloc(4096), 'nul'],
        ['notes.txt', Buffer.alloc(10), 'nul'],
        ['a.json', '{"a":', 'invalid-json'],
      ];
      for (const [name, content, reason] of cases) {
        const path = join(dir, 'ws', name);
        writeFileSync(path, content);
        const verdict = await judgeBroken(path);
        assert.equal(verdict.broken, true, `${name} ${JSON.stringify(content.toString())}`);
        assert.equal(verdict.state === 'broken' && verdict.reason, reason);
      }
      assert.match(judgeContent(Buffer.alloc(4096), 'x.json').problem!, /only NUL bytes \(4,096 bytes\)/);
      assert.equal(judgeContent(Buffer.from('{"a":1}'), '/w/package.json').judgement, 'json');
      assert.equal(judgeContent(Buffer.from('{"a":1,} // c'), '/w/package.json').judgement, 'jsonc');
      assert.equal(judgeContent(Buffer.from('{"a":1}'), '/w/.vscode/settings.json').judgement, 'jsonc');
      assert.equal(judgeContent(Buffer.from('plain words\n'), '/w/a.md').judgement, 'text');
      const schema = { type: 'object', required: ['tasks'] };
      assert.equal(judgeContent(Buffer.from('{"a":1}'), '/w/t.json', { schema }).reason, 'schema');
    });

    test('bytes that are not UTF-8 are broken only where the history is text; otherwise binary', () => {
      const latin1 = Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]);
      assert.equal(judgeContent(latin1, '/w/a.md').judgement, 'binary');
      const verdict = judgeContent(latin1, '/w/a.md', { textExpected: true });
      assert.equal(verdict.reason, 'invalid-utf8');
      assert.match(verdict.problem!, /0xE9.*line 1, column 4/);
    });

    test('a FIFO target is unknown (never broken), at once, not a hang', async function () {
      if (process.platform === 'win32') this.skip();
      const fifo = join(dir, 'ws', 'pipe.json');
      execFileSync('mkfifo', [fifo]);
      const verdict = await judgeBroken(fifo);
      assert.equal(verdict.state, 'unknown');
      assert.equal(verdict.broken, false);
    });
  });

  suite('Local History', () => {
    test('entries of exactly this file, newest first, with time, size, source and judgement', async () => {
      writeFileSync(target, Buffer.alloc(64));
      const now = Date.now();
      historyFolder('1a2b', uri(target), [
        { id: 'AAAA.json', content: '{"v":1}', timestamp: now - 2 * HOUR },
        { id: 'BBBB.json', content: '{"v":2}', timestamp: now - HOUR, source: 'undoRedo.source' },
        { id: 'CCCC.json', content: '{"v":', timestamp: now - 3 * HOUR },
      ]);
      historyFolder('ffff', uri(join(dir, 'ws', 'other.json')), [{ id: 'DDDD.json', content: '{}', timestamp: now }]);
      const result = await findCopies(target, { historyDir: history, git: false });
      const copies = result.copies.filter((c) => c.source === 'history');
      assert.deepEqual(
        copies.map((c) => [c.index, c.path.slice(history.length), c.judgement, c.time]),
        [
          [0, '/1a2b/BBBB.json', 'json', now - HOUR],
          [1, '/1a2b/AAAA.json', 'json', now - 2 * HOUR],
          [2, '/1a2b/CCCC.json', 'broken', now - 3 * HOUR],
        ],
      );
      assert.equal(copies[0]!.detail, 'undoRedo.source');
      assert.equal(copies[0]!.size, 7);
      assert.equal(result.targetState.broken, true);
      assert.equal(bestCopy(result.copies)?.path, join(history, '1a2b', 'BBBB.json'));
      assert.deepEqual(result.notes, []);
    });

    test('resources are mapped exactly or not at all: host, query, fragment, bad escapes, dot segments', () => {
      assert.equal(resourceToPath('file:///home/u/a%20b.json'), '/home/u/a b.json');
      assert.equal(resourceToPath('file:///home/u/caf%C3%A9.json'), '/home/u/café.json');
      for (const bad of [
        'file://server/share/a.json',
        'file:///home/u/a.json?x=1',
        'file:///home/u/a.json#frag',
        'file:///home/u/caf%E9.json', // Latin-1: not UTF-8
        'file:///home/u/%ED%A0%80.json', // a lone surrogate
        'file:///home/u/../u/a.json',
        'file:///home/u//a.json',
        'file:///home/u/a%00.json',
        'vscode-remote://localhost:8080/home/u/a.json',
        'untitled:Untitled-1',
        'https://example.com/a.json',
      ]) {
        assert.equal(resourceToPath(bad), undefined, bad);
      }
      assert.equal(
        resourceToPath('vscode-remote://localhost:8080/home/u/a.json', { remoteAuthorities: ['localhost:8080'] }),
        '/home/u/a.json',
      );
      assert.equal(resourceToPath('file:///c%3A/Users/u/a.json', { platform: 'win32' }), 'c:\\Users\\u\\a.json');
      assert.equal(
        resourceToPath('vscode-remote://127.0.0.1:9999/home/u/a.json', { remoteAuthorities: 'any' }),
        '/home/u/a.json',
      );
      assert.equal(resourceToPath('vscode-remote://h/home/u/../a.json', { remoteAuthorities: 'any' }), undefined);
      assert.equal(isCodeServerHistory('/home/u/.local/share/code-server/User/History'), true);
      assert.equal(isCodeServerHistory('/home/u/.config/Code/User/History'), false);
      assert.equal(resourceToPath('file:///home/u/a.json', { platform: 'win32' }), undefined);
    });

    test('entries.json naming another file (or a near miss of this one) gives no copies of this one', async () => {
      writeFileSync(target, '');
      const now = Date.now();
      historyFolder('a1', uri(`${target}.bak`), [{ id: 'A.json', content: '{}', timestamp: now }]);
      historyFolder('a2', uri(target.toUpperCase()), [{ id: 'B.json', content: '{}', timestamp: now }]);
      historyFolder('a3', `${uri(target)}?query`, [{ id: 'C.json', content: '{}', timestamp: now }]);
      historyFolder('a4', uri(target).replace('file://', 'file://evil.example'), [
        { id: 'D.json', content: '{}', timestamp: now },
      ]);
      const result = await findCopies(target, { historyDir: history, git: false });
      assert.deepEqual(result.copies, []);
    });

    test('ids that are not plain file names are skipped and never read; noted', async () => {
      writeFileSync(target, '');
      writeFileSync(join(dir, 'secret.json'), '{"secret":1}');
      const now = Date.now();
      const folder = historyFolder('b1', uri(target), [
        { id: '../../secret.json', timestamp: now },
        { id: '/etc/passwd', timestamp: now },
        { id: 'entries.json', timestamp: now },
        { id: '..', timestamp: now },
        { id: 'ok.json', content: '{"v":1}', timestamp: now - 1 },
      ]);
      // Entries with no id, no timestamp or one no Date can hold, and a non-object, among good ones.
      const entries = JSON.parse(readFileSync(join(folder, 'entries.json'), 'utf8'));
      writeFileSync(join(folder, 'far.json'), '{}');
      entries.entries.push({ timestamp: now }, { id: 'x.json' }, { id: 'far.json', timestamp: 1e300 }, 'junk', null);
      writeFileSync(join(folder, 'entries.json'), JSON.stringify(entries));
      const result = await findCopies(target, { historyDir: history, git: false });
      assert.deepEqual(
        result.copies.map((c) => c.path),
        [join(folder, 'ok.json')],
      );
      assert.equal(result.notes.length, 1);
      assert.match(result.notes[0]!, /skipped .*not a plain file name/);
      assert.match(result.notes[0]!, /far\.json: no usable timestamp/);
      for (const id of ['../x', 'a/b', 'a\\b', '.', '..', '', 'entries.json', 'a\nb', 'c:x']) {
        assert.equal(isPlainEntryName(id), false, JSON.stringify(id));
      }
      assert.equal(isPlainEntryName('AbC1.json'), true);
    });

    test('a symlinked entry or a symlinked <hash> folder is never followed out of History', async () => {
      writeFileSync(target, '');
      const outside = join(dir, 'outside');
      mkdirSync(outside);
      writeFileSync(join(outside, 'leak.json'), '{"leaked":true}');
      const now = Date.now();
      const folder = historyFolder('c1', uri(target), [{ id: 'link.json', timestamp: now }]);
      symlinkSync(join(outside, 'leak.json'), join(folder, 'link.json'));
      // A whole <hash> folder that is a symlink to a folder outside with its own entries.json.
      writeFileSync(
        join(outside, 'entries.json'),
        JSON.stringify({ version: 1, resource: uri(target), entries: [{ id: 'leak.json', timestamp: now }] }),
      );
      symlinkSync(outside, join(history, 'c2'));
      const result = await findCopies(target, { historyDir: history, git: false });
      assert.equal(result.copies.length, 1);
      const [copy] = result.copies;
      assert.equal(copy!.path, join(folder, 'link.json'));
      assert.equal(copy!.judgement, 'unknown');
      assert.match(copy!.problem!, /symbolic link/);
      await assert.rejects(copy!.read(), CopyChangedError);
    });

    test('huge, non-JSON or schema-less entries.json never throws out of findCopies; noted once', async () => {
      writeFileSync(target, '');
      mkdirSync(join(history, 'd1'));
      writeFileSync(join(history, 'd1', 'entries.json'), Buffer.alloc(MAX_ENTRIES_JSON_BYTES + 1, 0x20));
      mkdirSync(join(history, 'd2'));
      writeFileSync(join(history, 'd2', 'entries.json'), 'not json');
      mkdirSync(join(history, 'd3'));
      writeFileSync(join(history, 'd3', 'entries.json'), '{"resource":42,"entries":{}}');
      mkdirSync(join(history, 'd4'));
      writeFileSync(join(history, 'd4', 'entries.json'), `{"resource":"${uri(target)}","entries":${'['.repeat(5000)}`);
      mkdirSync(join(history, 'd5')); // no entries.json at all
      const result = await findCopies(target, { historyDir: history, git: false });
      assert.deepEqual(result.copies, []);
      assert.equal(result.notes.length, 1);
      assert.match(result.notes[0]!, /5 Local History folder\(s\) .* could not be used/);
    });

    test('a FIFO or a folder as an entry is unknown, not a hang', async function () {
      if (process.platform === 'win32') this.skip();
      writeFileSync(target, '');
      const folder = historyFolder('e1', uri(target), [
        { id: 'pipe.json', timestamp: 2 },
        { id: 'dir.json', timestamp: 1 },
      ]);
      execFileSync('mkfifo', [join(folder, 'pipe.json')]);
      mkdirSync(join(folder, 'dir.json'));
      const result = await findCopies(target, { historyDir: history, git: false });
      assert.deepEqual(
        result.copies.map((c) => c.judgement),
        ['unknown', 'unknown'],
      );
    });

    test('a History folder another user owns is reported, not read, not an error (as root)', async function () {
      if (!isRoot) this.skip();
      writeFileSync(target, '');
      historyFolder('f1', uri(target), [{ id: 'A.json', content: '{"v":1}', timestamp: 1 }]);
      chownSync(history, 12345, 12345);
      const result = await findCopies(target, { historyDir: history, git: false });
      assert.deepEqual(result.copies, []);
      assert.equal(result.notes.length, 1);
      assert.match(result.notes[0]!, /not read: it belongs to another user \(uid 12345\)/);
    });

    test('a <hash> folder or an entry another user owns inside our History is not read (as root)', async function () {
      if (!isRoot) this.skip();
      writeFileSync(target, '');
      const foreignFolder = historyFolder('g1', uri(target), [{ id: 'A.json', content: '{"v":1}', timestamp: 2 }]);
      chownSync(foreignFolder, 12345, 12345);
      const folder = historyFolder('g2', uri(target), [{ id: 'B.json', content: '{"v":2}', timestamp: 1 }]);
      chownSync(join(folder, 'B.json'), 12345, 12345);
      const result = await findCopies(target, { historyDir: history, git: false });
      assert.deepEqual(
        result.copies.map((c) => [c.path, c.judgement]),
        [[join(folder, 'B.json'), 'unknown']],
      );
      assert.match(result.copies[0]!.problem!, /another user/);
      assert.match(result.notes.join('\n'), /g1: it belongs to another user/);
    });

    test('a History folder others may write to, or one that is missing, is reported, not an error', async function () {
      if (process.platform === 'win32') this.skip();
      writeFileSync(target, '');
      chmodSync(history, 0o777);
      const open = await findCopies(target, { historyDir: history, git: false });
      assert.match(open.notes.join('\n'), /other users may write to it/);
      const missing = await findCopies(target, { historyDir: join(dir, 'nope'), git: false });
      assert.match(missing.notes.join('\n'), /there is no such folder/);
    });

    test('a cancelled search throws AbortError and reads no further; readHistoryIndex maps every folder', async () => {
      writeFileSync(target, '');
      for (let i = 0; i < 40; i++) {
        historyFolder(`k${i}`, uri(join(dir, 'ws', `f${i}.json`)), [{ id: 'A.json', content: '{}', timestamp: 1 }]);
      }
      const index = await readHistoryIndex(nodeFs, history);
      assert.equal(index.folders.length, 40);
      assert.ok(index.folders.every((folder) => folder.path?.startsWith(join(dir, 'ws', 'f'))));
      const controller = new AbortController();
      controller.abort();
      await assert.rejects(findCopies(target, { historyDir: history, git: false, signal: controller.signal }), {
        name: 'AbortError',
      });
    });

    test('defaults per platform, code-server too', () => {
      assert.deepEqual(defaultHistoryDirs('linux', {}, '/home/u'), [
        '/home/u/.config/Code/User/History',
        '/home/u/.local/share/code-server/User/History',
      ]);
      assert.equal(
        defaultHistoryDirs('darwin', {}, '/Users/u')[0],
        '/Users/u/Library/Application Support/Code/User/History',
      );
      assert.deepEqual(defaultHistoryDirs('win32', { APPDATA: 'C:\\Users\\u\\AppData\\Roaming' }, 'C:\\Users\\u'), [
        'C:\\Users\\u\\AppData\\Roaming\\Code\\User\\History',
      ]);
    });
  });

  suite('git', () => {
    let repo: string;
    const git = (...args: string[]) =>
      execFileSync('git', ['-C', repo, ...args], {
        env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' },
      });
    setup(function () {
      if (!hasGit) this.skip();
      repo = join(dir, 'ws');
      git('init', '-q');
      git('config', 'user.email', 't@example.com');
      git('config', 'user.name', 't');
    });

    test('the index and HEAD of a committed file, with the commit time; no repository means no copies', async () => {
      writeFileSync(target, '{"v":1}\n');
      git('add', 'state.json');
      git('commit', '-qm', 'one', '--date', '2020-01-01T00:00:00Z');
      writeFileSync(target, '{"v":2}\n');
      git('add', 'state.json');
      writeFileSync(target, '{"v":'); // truncated
      const result = await findCopies(target, {});
      const gitCopies = result.copies.filter((c) => c.source === 'git');
      assert.deepEqual(
        gitCopies.map((c) => [c.index, c.kind, c.where, c.judgement, c.size]),
        [
          [0, 'index', 'git :state.json', 'json', 8],
          [1, 'HEAD', 'git HEAD:state.json', 'json', 8],
        ],
      );
      assert.equal((await gitCopies[1]!.read()).toString(), '{"v":1}\n');
      assert.equal((await gitCopies[0]!.read()).toString(), '{"v":2}\n');
      assert.ok(gitCopies[1]!.time! > Date.UTC(2020, 0, 1) - 1);
      const outside = join(dir, 'loose.json');
      writeFileSync(outside, '{');
      const none = await findCopies(outside, {});
      assert.deepEqual(none.copies, []);
      assert.deepEqual(none.notes, []);
    });

    test('a file in a subfolder; a symlink committed in its place is never taken for content', async () => {
      mkdirSync(join(repo, 'sub'));
      const nested = join(repo, 'sub', 'n.json');
      writeFileSync(nested, '{"n":1}');
      symlinkSync('/etc/passwd', join(repo, 'sub', 'link.json'));
      git('add', '.');
      git('commit', '-qm', 'one');
      const result = await findCopies(nested, {});
      assert.deepEqual(
        result.copies.map((c) => c.where),
        ['git :sub/n.json', 'git HEAD:sub/n.json'],
      );
      // The symlink is replaced on disk by a regular file: git still holds the link (mode 120000), whose blob is
      // the link text "/etc/passwd", never the file's content.
      rmSync(join(repo, 'sub', 'link.json'));
      writeFileSync(join(repo, 'sub', 'link.json'), '{');
      const link = await findCopies(join(repo, 'sub', 'link.json'), {});
      assert.deepEqual(
        link.copies.filter((c) => c.source === 'git'),
        [],
        'the link text would be written as content',
      );
    });

    test('git not installed (a PATH without git) means no git copies, never an error', async () => {
      writeFileSync(target, '{"v":1}');
      git('add', 'state.json');
      git('commit', '-qm', 'one');
      const empty = join(dir, 'empty-bin');
      mkdirSync(empty);
      const result = await findCopies(target, { git: { env: { PATH: empty } } });
      assert.deepEqual(
        result.copies.filter((c) => c.source === 'git'),
        [],
      );
      assert.deepEqual(result.notes, []);
    });

    test("the repository's own config runs nothing (core.fsmonitor), and GIT_DIR from the caller is ignored", async () => {
      writeFileSync(target, '{"v":1}');
      git('add', 'state.json');
      git('commit', '-qm', 'one');
      const marker = join(dir, 'ran');
      const hook = join(dir, 'hook.sh');
      writeFileSync(hook, `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
      git('config', 'core.fsmonitor', hook);
      git('config', 'core.pager', hook);
      git('config', 'log.showSignature', 'true');
      const otherRepo = join(dir, 'other');
      mkdirSync(otherRepo);
      execFileSync('git', ['-C', otherRepo, 'init', '-q']);
      const result = await findCopies(target, {
        git: { env: { ...process.env, GIT_DIR: join(otherRepo, '.git'), GIT_WORK_TREE: otherRepo } },
      });
      assert.deepEqual(
        result.copies.filter((c) => c.source === 'git').map((c) => c.kind),
        ['index', 'HEAD'],
      );
      assert.equal(existsSync(marker), false, 'a program from the repository config ran');
    });

    test('a repository another user owns is refused by git: no copies, one note (as root)', async function () {
      if (!isRoot) this.skip();
      writeFileSync(target, '{"v":1}');
      git('add', 'state.json');
      git('commit', '-qm', 'one');
      execFileSync('chown', ['-R', '12345:12345', repo]);
      const result = await findCopies(target, {});
      assert.deepEqual(
        result.copies.filter((c) => c.source === 'git'),
        [],
      );
      assert.match(result.notes.join('\n'), /dubious ownership/);
    });
  });

  suite('temps and backups', () => {
    test("temps (valid or not), recover's backups, to-do backups and settings snapshots, each newest first", async () => {
      writeFileSync(target, Buffer.alloc(16));
      const aged = (path: string, content: string, hoursAgo: number) => {
        writeFileSync(path, content);
        const time = new Date(Date.now() - hoursAgo * HOUR);
        utimesSync(path, time, time);
      };
      aged(`${target}.vsctmp`, '{"t":1}', 1);
      aged(`${target}.tmp-1234567890abcdef`, '{"t":', 2);
      aged(`${target}.corrupt-2025-01-02T03-04-05-678Z`, '{"c":', 3);
      aged(`${target}.replaced-2025-01-02T03-04-05-678Z-1`, '{"r":1}', 4);
      aged(`${target}.corrupt-notatime`, '{}', 1); // not our name
      mkdirSync(join(dir, 'ws', 'backups'));
      aged(join(dir, 'ws', 'backups', 'state.json.bak-1'), '{"b":1}', 6);
      aged(join(dir, 'ws', 'backups', 'state.json.bak-2'), '{"b":2}', 5);
      aged(join(dir, 'ws', 'backups', 'state.json.damaged-2025-01-02T03-04-05.678Z'), 'x', 7);
      symlinkSync('/etc/hostname', join(dir, 'ws', 'backups', 'state.json.bak-3'));
      const result = await findCopies(target, { git: false, extraFinders: stateCopyFinders() });
      assert.deepEqual(
        result.copies.map((c) => `${c.source}:${c.index} ${c.kind} ${c.judgement}`),
        [
          'temp:0 vscode json',
          'temp:1 atomically broken',
          'backup:0 corrupt broken',
          'backup:1 replaced json',
          'backup:2 todos-backup json',
          'backup:3 todos-backup json',
          'backup:4 todos-damaged broken',
        ],
      );
      assert.equal(selectCopy(result.copies, 'backup', 2)?.path, join(dir, 'ws', 'backups', 'state.json.bak-2'));
    });

    test('settings snapshots of .vscode/settings.json are copies with their exact bytes', async () => {
      const ws = join(dir, 'ws');
      mkdirSync(join(ws, '.vscode'));
      const settings = join(ws, '.vscode', 'settings.json');
      writeFileSync(settings, '{\n  // mine\n  "a": 1\n}\n');
      await new SettingsSnapshots(ws).take({ reason: 'cli' });
      writeFileSync(settings, Buffer.alloc(100));
      const result = await findCopies(settings, { git: false, extraFinders: stateCopyFinders() });
      const snapshot = result.copies.find((c) => c.kind === 'settings-snapshot');
      assert.ok(snapshot);
      assert.equal(snapshot.judgement, 'jsonc');
      assert.equal((await snapshot.read()).toString(), '{\n  // mine\n  "a": 1\n}\n');
      const recovered = await recoverFromCopy(settings, snapshot);
      assert.equal(readFileSync(settings, 'utf8'), '{\n  // mine\n  "a": 1\n}\n');
      assert.deepEqual(readFileSync(recovered.backup!), Buffer.alloc(100));
    });
  });

  suite('recoverFromCopy', () => {
    test('restores the exact bytes of a History copy over a NUL-filled file and keeps the old one', async () => {
      const original = Buffer.from('{\r\n  "v": "caf\u00e9"\r\n}\r\n');
      writeFileSync(target, Buffer.alloc(4096));
      historyFolder('h1', uri(target), [{ id: 'A.json', content: original, timestamp: Date.now() }]);
      const { copies } = await findCopies(target, { historyDir: history, git: false });
      const result = await recoverFromCopy(target, copies[0]!, { now: Date.UTC(2026, 0, 1) });
      assert.deepEqual(readFileSync(target), original);
      assert.equal(result.backup, `${target}.corrupt-2026-01-01T00-00-00-000Z`);
      assert.deepEqual(readFileSync(result.backup!), Buffer.alloc(4096));
      assert.equal(result.from, join(history, 'h1', 'A.json'));
    });

    test('a valid target is not-needed unless forced (then kept as .replaced-); a broken copy is refused', async () => {
      writeFileSync(target, '{"now":1}');
      historyFolder('h2', uri(target), [
        { id: 'A.json', content: '{"old":1}', timestamp: 2 },
        { id: 'B.json', content: '{"old":', timestamp: 1 },
      ]);
      const { copies } = await findCopies(target, { historyDir: history, git: false });
      await assert.rejects(recoverFromCopy(target, copies[0]!), (e: RecoveryError) => e.code === 'not-needed');
      assert.equal(readFileSync(target, 'utf8'), '{"now":1}');
      await assert.rejects(recoverFromCopy(target, copies[1]!, { force: true }), /Unexpected|not valid JSON/);
      const forced = await recoverFromCopy(target, copies[0]!, { force: true });
      assert.match(forced.backup!, /\.replaced-/);
      assert.equal(readFileSync(target, 'utf8'), '{"old":1}');
    });

    test('a copy that changed since it was listed is refused; nothing is replaced', async () => {
      writeFileSync(target, '');
      const folder = historyFolder('h3', uri(target), [{ id: 'A.json', content: '{"v":1}', timestamp: 1 }]);
      const { copies } = await findCopies(target, { historyDir: history, git: false });
      writeFileSync(join(folder, 'A.json'), '{"v":666}');
      await assert.rejects(recoverFromCopy(target, copies[0]!), (e: RecoveryError) => e.code === 'changed');
      assert.equal(readFileSync(target, 'utf8'), '');
      assert.deepEqual(
        readdirSync(join(dir, 'ws')),
        ['state.json'],
        'no backup either: the copy was refused before anything was written',
      );
    });

    test('a target written after it was judged is not replaced (the re-check before the rename)', async () => {
      writeFileSync(target, '{"v":');
      historyFolder('h4', uri(target), [{ id: 'A.json', content: '{"v":1}', timestamp: 1 }]);
      const { copies } = await findCopies(target, { historyDir: history, git: false });
      let landed = false;
      const fs = delegateTo(nodeFs, {
        rename: async (from, to) => {
          // Another writer saves the target right after our backup is in place.
          if (!landed && to !== target) {
            await nodeFs.rename(from, to);
            landed = true;
            writeFileSync(target, '{"newer":true}');
            return;
          }
          await nodeFs.rename(from, to);
        },
      });
      await assert.rejects(recoverFromCopy(target, copies[0]!, { fs }), (e: RecoveryError) => e.code === 'changed');
      assert.equal(readFileSync(target, 'utf8'), '{"newer":true}');
    });

    test('a target that cannot be judged (a FIFO) is never replaced', async function () {
      if (process.platform === 'win32') this.skip();
      const fifo = join(dir, 'ws', 'p.json');
      execFileSync('mkfifo', [fifo]);
      historyFolder('h5', uri(fifo), [{ id: 'A.json', content: '{"v":1}', timestamp: 1 }]);
      const { copies, targetState } = await findCopies(fifo, { historyDir: history, git: false });
      assert.equal(targetState.state, 'unknown');
      await assert.rejects(
        recoverFromCopy(fifo, copies[0]!, { force: true }),
        (e: RecoveryError) => e.code === 'unreadable',
      );
    });
  });
  suite('the start-up check of files Local History knows', () => {
    const best = (target: string) =>
      findCopies(target, { historyDir: history }).then((found) => bestCopy(found.copies));

    test('NUL-filled and empty files inside the folders, with a good copy, are found; the rest is no claim', async () => {
      const ws = join(dir, 'ws');
      const files = {
        nul: join(ws, 'nul.json'),
        empty: join(ws, 'empty.json'),
        fine: join(ws, 'fine.json'),
        corrupt: join(ws, 'corrupt.json'),
        noCopy: join(ws, 'nocopy.json'),
        outside: join(dir, 'outside.json'),
      };
      writeFileSync(files.nul, Buffer.alloc(512));
      writeFileSync(files.empty, '');
      writeFileSync(files.fine, '{"ok": true}\n');
      writeFileSync(files.corrupt, '{"cut": ');
      writeFileSync(files.noCopy, Buffer.alloc(64));
      writeFileSync(files.outside, Buffer.alloc(64));
      const now = Date.now();
      let hash = 0;
      for (const [name, path] of Object.entries(files)) {
        const content = name === 'noCopy' ? Buffer.alloc(64) : '{"good": 1}\n';
        historyFolder(`h${hash++}`, uri(path), [{ id: 'a.json', content, timestamp: now - HOUR }]);
      }
      const { known, found } = await checkFilesHistoryKnows(history, [ws], { bestCopyOf: best });
      assert.deepEqual([...known].sort(), [files.corrupt, files.empty, files.fine, files.noCopy, files.nul].sort());
      const broken = found.filter((file) => file !== undefined);
      assert.deepEqual(broken.map((file) => [file.target, file.reason, file.best.source]).sort(), [
        [files.empty, 'empty', 'history'],
        [files.nul, 'nul', 'history'],
      ]);
    });

    test('a FIFO or an over-large file known to History is not read and no claim', async function () {
      if (process.platform === 'win32') this.skip();
      const fifo = join(dir, 'ws', 'pipe.json');
      execFileSync('mkfifo', [fifo]);
      const large = join(dir, 'ws', 'large.json');
      writeFileSync(large, '');
      execFileSync('truncate', ['-s', String(LARGEST_CHECKED + 1), large]); // sparse: all NUL, never read
      historyFolder('f1', uri(fifo), [{ id: 'a.json', content: '{}', timestamp: Date.now() }]);
      historyFolder('f2', uri(large), [{ id: 'a.json', content: '{}', timestamp: Date.now() }]);
      const { known, found } = await checkFilesHistoryKnows(history, [join(dir, 'ws')], { bestCopyOf: best });
      assert.equal(known.length, 2);
      assert.deepEqual(found, [undefined, undefined]);
    });

    test('the History index is read once for the whole check, not again for each broken file', async () => {
      const ws = join(dir, 'ws');
      for (let i = 0; i < 5; i++) {
        const file = join(ws, `nul${i}.json`);
        writeFileSync(file, Buffer.alloc(32));
        historyFolder(`n${i}`, uri(file), [{ id: 'a.json', content: '{"good": 1}\n', timestamp: Date.now() - HOUR }]);
      }
      let listings = 0;
      const fs = delegateTo(nodeFs, {
        readdir: (path) => {
          if (path === history) listings++;
          return nodeFs.readdir(path);
        },
      });
      const { found } = await checkFilesHistoryKnows(history, [ws], {
        fs,
        bestCopyOf: (file, _signal, index) =>
          findCopies(file, { fs, historyDir: history, history: { index }, git: false }).then((copies) =>
            bestCopy(copies.copies),
          ),
      });
      assert.equal(found.filter((file) => file?.best.source === 'history').length, 5);
      assert.equal(listings, 1, 'History folder listings');
    });

    test('a cancelled check throws instead of claiming anything', async () => {
      const ws = join(dir, 'ws');
      writeFileSync(join(ws, 'nul.json'), Buffer.alloc(16));
      historyFolder('c1', uri(join(ws, 'nul.json')), [{ id: 'a.json', content: '{}', timestamp: Date.now() }]);
      const abort = new AbortController();
      abort.abort();
      await assert.rejects(
        checkFilesHistoryKnows(history, [ws], { bestCopyOf: best, signal: abort.signal }),
        (error: Error) => error.name === 'AbortError',
      );
    });
  });
});
