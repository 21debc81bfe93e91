import * as assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { lockPathFor } from '../../src/core/lock/fileLock';
import { OUR_TEMP_PATTERN } from '../../src/core/names/tempNames';
import { addTodoEdit } from '../../src/state/todoEdits';
import { todosDocumentProblems } from '../../src/state/todosSchema';
import { TodosStore, todosPathFor } from '../../src/state/todosStore';
import { bundleChild } from '../support/bundleChild';

const root = join(__dirname, '..', '..');
const cli = join(root, 'dist', 'cli.js');
const iterations = Number(process.env.CRASH_ITERATIONS ?? 30);
/** Far longer than the wait after a left-behind lock, so getting past it proves the dead holder was recognised. */
const STALE_MS = 60_000;
/**
 * After a left-behind lock: how long the next writer may take to acknowledge its first add. A quarter of STALE_MS;
 * waiting for the ack (not a fixed 1.5 s) keeps a slow start on a loaded machine from looking like a refusal.
 */
const TAKEOVER_WAIT_MS = STALE_MS / 4;
/** Kills that leave a lock behind on which the next writer must take it over (the rest are cleared by the harness). */
const DEAD_HOLDER_RECOVERIES = Math.min(2, iterations);

/**
 * The writer: endless bursts of 1–6 concurrent adds through one store (so they coalesce), printing
 * `ACK <id> <title>` once each add has resolved, i.e. is durable. stdout is a pipe: synchronous on Linux,
 * so every ACK printed before the kill reaches us.
 */
const WRITER_SOURCE = (stateDir: string) => `
import { addTodoEdit } from ${JSON.stringify(join(stateDir, 'todoEdits.ts'))};
import { TodosStore } from ${JSON.stringify(join(stateDir, 'todosStore.ts'))};
const [path, prefix, staleMs] = process.argv.slice(2);
const store = new TodosStore(path!, { lock: { staleMs: Number(staleMs), updateMs: 1000 } });
let n = 0;
async function loop(): Promise<void> {
  for (;;) {
    const burst = 1 + Math.floor(Math.random() * 6);
    await Promise.all(
      Array.from({ length: burst }, () => {
        const title = \`\${prefix}-\${n++}\`;
        return store.apply([addTodoEdit(title)]).then(([task]) => process.stdout.write(\`ACK \${task!.id} \${task!.title}\\n\`));
      }),
    );
  }
}
process.stdout.write('READY\\n');
loop().catch((error) => { process.stderr.write(String(error) + '\\n'); process.exit(1); });
`;

interface Acked {
  id: string;
  title: string;
}

function collectAcks(child: ChildProcess, into: Acked[]): Promise<void> {
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      const match = /^ACK (\S+) (.+)$/.exec(line);
      if (match) into.push({ id: match[1]!, title: match[2]! });
    }
  });
  return new Promise((resolve) => child.once('close', () => resolve()));
}

/** Resolves once an add titled `prefix…` is acknowledged, or after `timeoutMs`. */
async function firstAck(acked: readonly Acked[], prefix: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !acked.some((ack) => ack.title.startsWith(prefix))) await delay(20);
}

suite('crash: SIGKILL during task updates', () => {
  let workspace: string;
  let writer: string;
  suiteSetup(async function () {
    this.timeout(60_000);
    const probe = existsSync(cli)
      ? spawnSync(process.execPath, [cli, 'tasks', '--help'], { encoding: 'utf8' })
      : undefined;
    if (probe?.status !== 0) {
      throw new Error(`${cli} is missing or predates the tasks verb: build it first with \`node esbuild.mjs\``);
    }
  });
  setup(async () => {
    workspace = mkdtempSync(join(tmpdir(), 'cs-tasks-crash-'));
    const entry = join(workspace, 'writer.ts');
    writer = join(workspace, 'writer.cjs');
    writeFileSync(entry, WRITER_SOURCE(join(root, 'src', 'state')));
    await bundleChild(entry, writer);
  });
  teardown(() => rmSync(workspace, { recursive: true, force: true }));

  test(`after each of ${iterations} kills the document is valid and holds every acknowledged add`, async function () {
    this.timeout(Math.max(600_000, iterations * 8000));
    const path = todosPathFor(workspace);
    const acked: Acked[] = [];
    const counts = { kills: 0, lockLeft: 0, deadHolderRecoveries: 0, cliAcked: 0, cliKilled: 0, tempsLeft: 0 };
    let leaveLockFor = 0;

    for (let i = 0; i < iterations; i++) {
      const child = spawn(process.execPath, [writer, path, `k${i}`, String(STALE_MS)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const done = collectAcks(child, acked);
      // A CLI writer races the store writer; it is killed too unless it finished first.
      const cliRun = spawn(process.execPath, [cli, 'tasks', 'add', `cli-${i}`, '--dir', workspace, '--json'], {
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      let cliOut = '';
      cliRun.stdout.on('data', (c: Buffer) => (cliOut += c));
      const cliDone = new Promise<number | null>((resolve) => cliRun.once('close', (code) => resolve(code)));

      // After a left-behind lock the writer must take it over at once (its holder is dead): kill it once it has acked.
      if (leaveLockFor > 0) await firstAck(acked, `k${i}-`, TAKEOVER_WAIT_MS);
      else await delay(100 + Math.random() * 500);
      child.kill('SIGKILL');
      cliRun.kill('SIGKILL');
      await done;
      const cliCode = await cliDone;
      counts.kills += 1;
      if (cliCode === 0) {
        const todo = JSON.parse(cliOut) as Acked;
        acked.push({ id: todo.id, title: todo.title });
        counts.cliAcked += 1;
      } else counts.cliKilled += 1;
      if (leaveLockFor > 0 && acked.some((a) => a.title.startsWith(`k${i}-`))) counts.deadHolderRecoveries += 1;
      leaveLockFor = 0;

      // The verdict after every kill: a valid document that holds every acknowledged add.
      if (acked.length > 0 || existsSync(path)) {
        const text = readFileSync(path, 'utf8');
        let document: { tasks: Acked[] };
        try {
          document = JSON.parse(text);
        } catch {
          assert.fail(`iteration ${i}: ${path} does not parse after the kill:\n${text.slice(0, 200)}`);
        }
        assert.deepEqual(todosDocumentProblems(document), [], `iteration ${i}`);
        const present = new Map(document.tasks.map((t) => [t.id, t.title]));
        for (const ack of acked) {
          assert.equal(
            present.get(ack.id),
            ack.title,
            `iteration ${i}: acknowledged ${ack.title} (${ack.id}) is missing`,
          );
        }
      }

      if (existsSync(lockPathFor(path))) {
        counts.lockLeft += 1;
        if (counts.lockLeft <= DEAD_HOLDER_RECOVERIES) leaveLockFor = 1;
        else rmSync(lockPathFor(path), { recursive: true, force: true }); // Every holder is dead: clear it to keep the loop quick.
      }
    }

    counts.tempsLeft = readdirSync(dirname(path), { recursive: true, encoding: 'utf8' }).filter((name) =>
      OUR_TEMP_PATTERN.test(name.split('/').pop()!),
    ).length;
    // Whatever the last kill left, a fresh writer (short stale time, for a lock killed before it named its holder) carries on.
    const store = new TodosStore(path, { lock: { staleMs: 2000 } });
    await store.apply([addTodoEdit('after the storm')]);
    const final = await store.list();
    assert.ok(final.length >= acked.length + 1);
    assert.ok(acked.length > 0, 'some adds were acknowledged');
    console.log(
      `      ${counts.kills} kills, ${acked.length} acknowledged adds kept (${counts.cliAcked} by CLI), ` +
        `${final.length - 1} tasks in all, lock left ${counts.lockLeft}× (taken over from the dead holder ${counts.deadHolderRecoveries}×), ` +
        `${counts.tempsLeft} temps left for the sweeper`,
    );
    if (DEAD_HOLDER_RECOVERIES > 0 && counts.lockLeft > 0) {
      assert.ok(
        counts.deadHolderRecoveries > 0,
        'a writer got past a lock left by a killed holder, without waiting for staleness',
      );
    }
  });
});
