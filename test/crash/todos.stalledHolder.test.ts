import * as assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockPathFor } from '../../src/core/lock/fileLock';
import { addTodoEdit } from '../../src/state/todoEdits';
import { todosDocumentProblems } from '../../src/state/todosSchema';
import { TodosStore, todosPathFor } from '../../src/state/todosStore';
import { bundleChild } from '../support/bundleChild';
import { waitForLine } from '../support/lockContenders';

const root = join(__dirname, '..', '..');
const STALE_MS = 2000;

/**
 * One `tasks add` through the store. With a pause point it prints PAUSE there and then dawdles, so the test can
 * SIGSTOP it at that spot: `load` right after reading the document, `commit` right before the rename that commits.
 * Prints `ACK <id>` once the add has resolved; on failure `FAIL <name>: <message>` on stderr and exit code 2.
 */
const ADDER_SOURCE = (srcDir: string) => `
import { resolve } from 'node:path';
import { type FsLike, nodeFs } from ${JSON.stringify(join(srcDir, 'core', 'fs.ts'))};
import { addTodoEdit } from ${JSON.stringify(join(srcDir, 'state', 'todoEdits.ts'))};
import { TodosStore } from ${JSON.stringify(join(srcDir, 'state', 'todosStore.ts'))};
const [path, title, pauseAt, staleMs, acquireTimeoutMs] = process.argv.slice(2);
const target = resolve(path!);
let paused = false;
const pause = async () => {
  if (paused) return;
  paused = true;
  process.stdout.write('PAUSE\\n');
  await new Promise((r) => setTimeout(r, 1000));
};
const fs: FsLike = {
  ...nodeFs,
  async readFile(file) {
    const bytes = await nodeFs.readFile(file);
    if (pauseAt === 'load' && resolve(file) === target) await pause();
    return bytes;
  },
  async rename(from, to) {
    if (pauseAt === 'commit' && resolve(to) === target) await pause();
    return nodeFs.rename(from, to);
  },
};
const store = new TodosStore(target, {
  fs,
  lock: { staleMs: Number(staleMs), updateMs: 1000, acquireTimeoutMs: Number(acquireTimeoutMs) },
});
store.apply([addTodoEdit(title!)]).then(
  ([task]) => process.stdout.write(\`ACK \${task!.id}\\n\`),
  (error: Error) => {
    process.stderr.write(\`FAIL \${error.name}: \${error.message}\\n\`);
    process.exitCode = 2;
  },
);
`;

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function start(script: string, args: string[]): { child: ChildProcess; finished: Promise<Finished> } {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c));
  child.stderr!.on('data', (c: Buffer) => (stderr += c));
  const finished = new Promise<Finished>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, finished };
}

suite('several processes: a stalled lock holder', () => {
  let workspace: string;
  let adder: string;
  const started: ChildProcess[] = [];
  setup(async function () {
    this.timeout(60_000);
    workspace = mkdtempSync(join(tmpdir(), 'cs-stalled-'));
    const entry = join(workspace, 'adder.ts');
    adder = join(workspace, 'adder.cjs');
    writeFileSync(entry, ADDER_SOURCE(join(root, 'src')));
    await bundleChild(entry, adder);
  });
  teardown(() => {
    for (const child of started.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    rmSync(workspace, { recursive: true, force: true });
  });

  for (const pauseAt of ['load', 'commit'] as const) {
    test(`holder SIGSTOPped at ${pauseAt}: a waiter never takes its lock over; after SIGCONT every acknowledged add is kept`, async function () {
      this.timeout(60_000);
      const path = todosPathFor(workspace);
      await new TodosStore(path).apply([addTodoEdit('seed')]);

      const a = start(adder, [path, 'from A', pauseAt, String(STALE_MS), '30000']);
      started.push(a.child);
      await waitForLine(a.child, 'PAUSE', { exact: true });
      a.child.kill('SIGSTOP');

      // B waits well past the stale time of A's (no longer refreshed) lock, and must give up rather than take it.
      const b = start(adder, [path, 'from B', 'none', String(STALE_MS), String(STALE_MS * 2.5)]);
      started.push(b.child);
      const refused = await b.finished;
      assert.notEqual(refused.code, 0, `B got the lock of a live (stopped) holder: ${refused.stdout}`);
      assert.match(refused.stderr, /FAIL LockTimeoutError/);
      assert.ok(refused.stderr.includes(lockPathFor(path)), refused.stderr);
      assert.ok(refused.stderr.includes(`pid ${a.child.pid} `), `names the holder: ${refused.stderr}`);

      // A second B waits with room to spare and gets the lock once A is done.
      const patient = start(adder, [path, 'from B', 'none', String(STALE_MS), '30000']);
      started.push(patient.child);
      await new Promise((r) => setTimeout(r, STALE_MS + 500));
      assert.equal(patient.child.exitCode, null, 'B is still waiting while A is stopped');
      a.child.kill('SIGCONT');
      const [doneA, doneB] = await Promise.all([a.finished, patient.finished]);
      assert.equal(doneA.code, 0, doneA.stderr);
      assert.equal(doneB.code, 0, doneB.stderr);

      const document = JSON.parse(readFileSync(path, 'utf8'));
      assert.deepEqual(todosDocumentProblems(document), []);
      const byId = new Map<string, string>(document.tasks.map((t: { id: string; title: string }) => [t.id, t.title]));
      for (const [who, done] of [['A', doneA] as const, ['B', doneB] as const]) {
        const id = /^ACK (\S+)$/m.exec(done.stdout)?.[1];
        assert.ok(id, `${who} acknowledged its add`);
        assert.equal(byId.get(id), `from ${who}`, `${who}'s acknowledged task is in the file`);
      }
      assert.deepEqual([...byId.values()].sort(), ['from A', 'from B', 'seed']);
      assert.equal(existsSync(lockPathFor(path)), false, 'no lock left behind');
    });
  }
});
