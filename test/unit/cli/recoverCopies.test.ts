// `crash-safe recover TARGET --list [--json]` and `--from SOURCE[:N]` on real files, a real git repository and a
// Local History folder laid out as VS Code writes it.
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseFrom } from '../../../src/cli/recoverCopies';
import { runCliCaptured } from '../../support/cliRun';

const hasGit = spawnSync('git', ['--version']).status === 0;

suite('CLI: recover --list / --from (every copy)', () => {
  let root: string;
  let repo: string;
  let history: string;
  let target: string;
  const git = (...args: string[]) =>
    execFileSync('git', ['-C', repo, ...args], {
      env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' },
    });

  setup(function () {
    if (!hasGit) this.skip();
    root = realpathSync(mkdtempSync(join(tmpdir(), 'cs-cli-copies-')));
    repo = join(root, 'repo');
    history = join(root, 'History');
    mkdirSync(repo);
    mkdirSync(history, { mode: 0o700 });
    target = join(repo, 'config.json');
    git('init', '-q');
    git('config', 'user.email', 't@example.com');
    git('config', 'user.name', 't');
    writeFileSync(target, '{"v":"head"}\n');
    git('add', 'config.json');
    git('commit', '-qm', 'one');
    // Local History: two saves, the newest one hour ago.
    const folder = join(history, '-5f3a');
    mkdirSync(folder);
    writeFileSync(join(folder, 'aaaa.json'), '{"v":"history-old"}\n');
    writeFileSync(join(folder, 'bbbb.json'), '{"v":"history-new"}\n');
    const now = Date.now();
    writeFileSync(
      join(folder, 'entries.json'),
      JSON.stringify({
        version: 1,
        resource: pathToFileURL(target).href,
        entries: [
          { id: 'aaaa.json', timestamp: now - 7_200_000 },
          { id: 'bbbb.json', timestamp: now - 3_600_000, source: 'Workspace Edit' },
        ],
      }),
    );
    // The power-loss damage: the file is all NUL bytes.
    writeFileSync(target, Buffer.alloc(13));
  });
  teardown(() => rmSync(root, { recursive: true, force: true }));

  const run = (...argv: string[]) => runCliCaptured(['recover', ...argv], root);

  test('--list names the damage and every copy from every source; exit 0; nothing written', async () => {
    const { code, stdout, stderr } = await run(target, '--list', '--history', history);
    assert.equal(code, 0, stderr);
    const lines = stdout.trimEnd().split('\n');
    assert.equal(lines[0], `${target} holds only NUL bytes (13 bytes)`);
    assert.match(stdout, /^git:0 .* json {2}git index {2}git :config\.json$/m);
    assert.match(stdout, /^git:1 .* json {2}git HEAD {2}git HEAD:config\.json$/m);
    assert.match(stdout, /^history:0 .* json {2}Local History {2}.*bbbb\.json$/m);
    assert.match(stdout, /^history:1 .* json {2}Local History {2}.*aaaa\.json$/m);
    assert.deepEqual(readdirSync(repo).sort(), ['.git', 'config.json']);
    assert.deepEqual(readFileSync(target), Buffer.alloc(13));
  });

  test('--list --json: the documented shape, newest first, no read function', async () => {
    const { code, stdout, stderr } = await run(target, '--list', '--json', '--history', history);
    assert.equal(code, 0, stderr);
    const parsed = JSON.parse(stdout);
    assert.deepEqual(Object.keys(parsed), ['target', 'targetState', 'copies', 'notes', 'textExpected']);
    assert.equal(parsed.target, target);
    assert.deepEqual(parsed.targetState, {
      state: 'broken',
      broken: true,
      judgement: 'broken',
      reason: 'nul',
      problem: 'holds only NUL bytes (13 bytes)',
      size: 13,
    });
    const history0 = parsed.copies.find(
      (c: { source: string; index: number }) => c.source === 'history' && c.index === 0,
    );
    assert.deepEqual(Object.keys(history0), [
      'source',
      'index',
      'kind',
      'label',
      'time',
      'size',
      'judgement',
      'path',
      'where',
      'detail',
      'digest',
    ]);
    assert.equal(history0.detail, 'Workspace Edit');
    const times = parsed.copies.map((c: { time: number }) => c.time);
    assert.deepEqual(
      times,
      [...times].sort((a: number, b: number) => b - a),
    );
  });

  test('--from git restores HEAD or the index; --from history:1 the older save; the old file kept', async () => {
    const fromHead = await run(target, '--from', 'git:1', '--history', history);
    assert.equal(fromHead.code, 0, fromHead.stderr);
    assert.equal(readFileSync(target, 'utf8'), '{"v":"head"}\n');
    assert.match(
      fromHead.stdout,
      /^recovered .*config\.json from git HEAD:config\.json \(git:1\); the previous file was kept as .*config\.json\.corrupt-/,
    );
    const backup = readdirSync(repo).find((name) => name.startsWith('config.json.corrupt-'))!;
    assert.deepEqual(readFileSync(join(repo, backup)), Buffer.alloc(13));

    // Valid now: without --force nothing is replaced (exit 0), with --force the old save replaces it.
    const notNeeded = await run(target, '--from', 'history:1', '--history', history);
    assert.equal(notNeeded.code, 0);
    assert.match(notNeeded.stdout, /^nothing to recover: .* is valid/);
    const forced = await run(target, '--from', 'history:1', '--force', '--json', '--history', history);
    assert.equal(forced.code, 0, forced.stderr);
    const result = JSON.parse(forced.stdout);
    assert.equal(result.target, target);
    assert.match(result.backup, /\.replaced-/);
    assert.equal(result.copy.source, 'history');
    assert.equal(readFileSync(target, 'utf8'), '{"v":"history-old"}\n');
  });

  test('--from git (index by default) after a truncation; --dry-run writes nothing', async () => {
    writeFileSync(target, '{"v":"he');
    const dry = await run(target, '--from', 'git', '--dry-run', '--history', history);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^would recover .* from git :config\.json \(git:0\)/);
    assert.equal(readFileSync(target, 'utf8'), '{"v":"he');
    const real = await run(target, '--from', 'git', '--history', history);
    assert.equal(real.code, 0, real.stderr);
    assert.equal(readFileSync(target, 'utf8'), '{"v":"head"}\n');
  });

  test('a copy that does not exist is exit 1; bad usage is exit 2', async () => {
    const missing = await run(target, '--from', 'temp', '--history', history);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no copy temp:0 of .* \(temp has 0; see --list\)/);
    const tooFar = await run(target, '--from', 'history:2', '--history', history);
    assert.equal(tooFar.code, 1);
    assert.match(tooFar.stderr, /history has 2/);
    for (const argv of [
      [target, '--from', 'cloud'],
      [target, '--from', 'git:-1'],
      [target, '--from', 'git:x'],
      [target, '--list', '--from', 'git'],
      [target, target, '--list'],
      ['--list'],
      [target, '--list', '--force'],
      [target, '--list', '--history', ''],
      ['--groups', root, '--list'],
    ]) {
      const { code } = await run(...argv);
      assert.equal(code, 2, argv.join(' '));
    }
    assert.deepEqual(readFileSync(target), Buffer.alloc(13));
  });

  test('a History folder that is missing is a note on stderr, not an error', async () => {
    const { code, stderr, stdout } = await run(target, '--list', '--history', join(root, 'nowhere'));
    assert.equal(code, 0);
    assert.match(stderr, /note: Local History .*nowhere not read: there is no such folder/);
    assert.match(stdout, /git:0/);
  });

  test('parseFrom', () => {
    assert.deepEqual(parseFrom('backup:3'), { source: 'backup', index: 3 });
    assert.deepEqual(parseFrom('temp'), { source: 'temp', index: 0 });
  });
});
