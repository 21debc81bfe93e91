import * as assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = join(__dirname, '..', '..');
const cli = join(root, 'dist', 'cli.js');
/** CRASH_ITERATIONS scales every crash loop; this one kills a fifth as many writers (each kill is a fresh process). */
const kills = Math.max(8, Math.round(Number(process.env.CRASH_ITERATIONS ?? 200) / 5));

type Peer = 'crash-safe' | 'write-file-atomic' | 'atomically' | 'steno';
const PEERS: Peer[] = ['crash-safe', 'write-file-atomic', 'atomically', 'steno'];

/** A child that writes ever newer versions of TARGET through one library until it is killed. */
const WRITER = `
const [peer, target] = process.argv.slice(2);
const root = ${JSON.stringify(root)};
const url = (p) => ${JSON.stringify(pathToFileURL(root).href)} + '/' + p;
let write;
if (peer === 'crash-safe') {
  const { writeFileAtomic } = await import(url('src/core/write/atomicWrite.ts'));
  write = (text) => writeFileAtomic(target, text);
} else if (peer === 'write-file-atomic') {
  const { default: wfa } = await import(url('node_modules/write-file-atomic/lib/index.js'));
  write = (text) => wfa(target, text);
} else if (peer === 'atomically') {
  const { writeFile } = await import(url('node_modules/atomically/dist/index.js'));
  write = (text) => writeFile(target, text);
} else {
  const { Writer } = await import(url('node_modules/steno/lib/index.js'));
  const writer = new Writer(target);
  write = (text) => writer.write(text);
}
const pad = 'x'.repeat(256 * 1024);
process.stdout.write('go\\n');
for (let version = 1; ; version++) await write(JSON.stringify({ peer, version, pad }) + '\\n');
`;

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Starts a writer and SIGKILLs it a random moment (up to `windowMs`) after it starts writing. */
async function killMidWrite(script: string, peer: Peer, target: string, windowMs: number): Promise<void> {
  // Only our writer is TypeScript; the peers start faster without the tsx loader.
  const loader = peer === 'crash-safe' ? ['--import', 'tsx'] : [];
  const child = spawn(process.execPath, [...loader, script, peer, target], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exit = exited(child);
  await new Promise<void>((resolve) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', () => resolve());
  });
  await new Promise((resolve) => setTimeout(resolve, Math.random() * windowMs));
  child.kill('SIGKILL');
  await exit;
}

function crashSafe(args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
}

/** The kind our rule gives a leftover, or null where the documented rule deliberately declines it. */
function expectedKind(peer: Peer, name: string, targetName: string, mtimeMs: number): Peer | null {
  if (peer !== 'write-file-atomic') return peer;
  const digits = name.slice(targetName.length + 1);
  const value = Number(digits);
  // Fewer than 8 digits: could be a numbered backup. Near the file's own time: could be a Unix-time backup name.
  if (digits.length < 8) return null;
  if (value * 1000 > mtimeMs - 8 * 86_400_000 && value * 1000 < Date.now() + 86_400_000) return null;
  return peer;
}

function isValidJson(path: string): boolean {
  try {
    JSON.parse(readFileSync(path, 'utf8'));
    return true;
  } catch {
    return false;
  }
}

suite('crash: peers killed mid-write, then scan, recover, sweep', function () {
  this.timeout(600_000);
  let dir: string;
  let script: string;

  suiteSetup(function () {
    if (!existsSync(cli)) this.skip();
  });
  setup(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'cs-peers-')));
    script = join(dir, '..', `${dir.split('/').pop()}-writer.mjs`);
    writeFileSync(script, WRITER);
  });
  teardown(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(script, { force: true });
  });

  test(`${kills} kills across write-file-atomic, atomically, steno and ours`, async () => {
    const expected = new Map<string, Peer>();
    const declined: string[] = [];
    const targets: string[] = [];
    const known = new Set<string>();
    const collect = (peer: Peer, targetName: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (known.has(path)) continue;
        known.add(path);
        const kind = expectedKind(peer, name, targetName, statSync(path).mtimeMs);
        if (kind) expected.set(path, kind);
        else declined.push(path);
      }
    };

    const killOnce = async (peer: Peer, i: number) => {
      const targetName = `t${i}-${peer}.json`;
      const target = join(dir, targetName);
      writeFileSync(target, `${JSON.stringify({ peer, version: 0 })}\n`);
      targets.push(target);
      known.add(target);
      await killMidWrite(script, peer, target, 40);
      collect(peer, targetName);
    };
    const leftoversOf = (peer: Peer) => [...expected.values()].filter((k) => k === peer).length;
    for (let i = 0; i < kills; i++) await killOnce(PEERS[i % PEERS.length]!, i);
    // A kill can land between two writes and leave nothing; top up so every peer has left at least one temp.
    let extra = kills;
    for (const peer of PEERS) {
      for (let tries = 0; tries < 100 && leftoversOf(peer) === 0; tries++) await killOnce(peer, extra++);
    }
    const perPeer = Object.fromEntries(PEERS.map((p) => [p, leftoversOf(p)]));
    console.log(`      ${extra} kills, leftovers: ${JSON.stringify(perPeer)}, declined by rule: ${declined.length}`);
    for (const peer of PEERS) assert.ok(perPeer[peer]! > 0, `no ${peer} leftover in ${kills} kills`);
    for (const target of targets) assert.ok(isValidJson(target), `${target} was torn`);

    // Scan finds every leftover with the right kind, and nothing else.
    const scan = crashSafe(['scan', dir, '--json']);
    assert.equal(scan.status, 0, scan.stderr);
    const found = new Map<string, string>(
      (JSON.parse(scan.stdout) as { path: string; kind: string }[]).map((o) => [o.path, o.kind]),
    );
    assert.deepEqual([...found].sort(), [...expected].sort());

    // Recover: truncate a target by hand; it comes back as its newest valid leftover.
    const recoverName = 'recover-me.json';
    const recoverTarget = join(dir, recoverName);
    writeFileSync(recoverTarget, `${JSON.stringify({ version: 0 })}\n`);
    known.add(recoverTarget);
    let candidates: { path: string; mtimeMs: number }[] = [];
    for (let i = 0; i < 400 && candidates.length === 0; i++) {
      const peer = PEERS[i % PEERS.length]!;
      await killMidWrite(script, peer, recoverTarget, 40);
      collect(peer, recoverName);
      candidates = [...expected.keys()]
        .filter((p) => p.startsWith(`${recoverTarget}.`) || p === join(dir, `.${recoverName}.tmp`))
        .filter(isValidJson)
        .map((path) => ({ path, mtimeMs: statSync(path).mtimeMs }));
    }
    assert.ok(candidates.length > 0, 'no kill left a complete temp of recover-me.json');
    const newest = Math.max(...candidates.map((c) => c.mtimeMs));
    const acceptable = candidates.filter((c) => c.mtimeMs === newest).map((c) => readFileSync(c.path, 'utf8'));
    truncateSync(recoverTarget, 100);
    const torn = readFileSync(recoverTarget);
    const recovered = crashSafe(['recover', recoverTarget, '--json']);
    assert.equal(recovered.status, 0, recovered.stderr);
    const { from, backup } = JSON.parse(recovered.stdout) as { from: string; backup: string };
    assert.ok(acceptable.includes(readFileSync(recoverTarget, 'utf8')), `recovered from ${from}, not the newest valid`);
    assert.deepEqual(readFileSync(backup), torn);

    // Sweep --older-than 0 removes exactly the recognised leftovers; targets, the backup and declined names stay.
    const sweep = crashSafe(['sweep', dir, '--older-than', '0', '--json']);
    assert.equal(sweep.status, 0, sweep.stderr);
    const swept = JSON.parse(sweep.stdout) as { removed: string[]; kept: unknown[]; failed: unknown[] };
    assert.deepEqual(swept.removed.sort(), [...expected.keys()].sort());
    assert.deepEqual(swept.kept, []);
    assert.deepEqual(swept.failed, []);
    assert.deepEqual(
      readdirSync(dir)
        .map((n) => join(dir, n))
        .sort(),
      [...targets, recoverTarget, backup, ...declined].sort(),
    );
  });

  test('SIGKILL during `crash-safe recover` never loses both the old target and the candidate', async () => {
    const target = join(dir, 'state.json');
    const candidate = join(dir, 'state.json.vsctmp');
    const good = `${JSON.stringify({ good: true, pad: 'g'.repeat(2 * 1024 * 1024) })}\n`;
    const broken = `{"broken": "${'b'.repeat(1024 * 1024)}`;
    const recoverOnce = () => spawn(process.execPath, [cli, 'recover', target], { stdio: 'ignore' });
    // Calibrate: kills land between the end of Node's start-up and a little after a whole recovery (medians of 3).
    const median = (values: number[]) => values.sort((a, b) => a - b)[1]!;
    const timed = async (start: () => ChildProcess) => {
      const started = performance.now();
      await exited(start());
      return performance.now() - started;
    };
    const startups: number[] = [];
    const totals: number[] = [];
    for (let i = 0; i < 3; i++) {
      startups.push(await timed(() => spawn(process.execPath, [cli, '--help'], { stdio: 'ignore' })));
      writeFileSync(target, broken);
      writeFileSync(candidate, good);
      totals.push(await timed(recoverOnce));
      assert.equal(readFileSync(target, 'utf8'), good);
    }
    const earliest = median(startups) * 0.8;
    const windowMs = Math.max(1, median(totals) * 1.1 - earliest);
    for (const name of readdirSync(dir)) rmSync(join(dir, name));

    const outcomes = { untouched: 0, backedUp: 0, recovered: 0 };
    for (let i = 0; i < kills; i++) {
      for (const name of readdirSync(dir)) rmSync(join(dir, name));
      writeFileSync(target, broken);
      writeFileSync(candidate, good);
      const child = recoverOnce();
      const exit = exited(child);
      await new Promise((resolve) => setTimeout(resolve, earliest + Math.random() * windowMs));
      child.kill('SIGKILL');
      await exit;

      assert.equal(readFileSync(candidate, 'utf8'), good, `iteration ${i}: the candidate changed`);
      const now = readFileSync(target, 'utf8');
      assert.ok(now === broken || now === good, `iteration ${i}: the target is torn (${now.length} bytes)`);
      const backups = readdirSync(dir).filter((n) => n.startsWith('state.json.corrupt-'));
      const oldKept = now === broken || backups.some((n) => readFileSync(join(dir, n), 'utf8') === broken);
      assert.ok(oldKept, `iteration ${i}: the old target is lost`);
      if (now === good) outcomes.recovered += 1;
      else if (backups.length > 0) outcomes.backedUp += 1;
      else outcomes.untouched += 1;
    }
    console.log(
      `      recover kills (${Math.round(earliest)}–${Math.round(earliest + windowMs)} ms): ${JSON.stringify(outcomes)}`,
    );
  });
});
