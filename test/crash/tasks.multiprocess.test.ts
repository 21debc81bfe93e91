import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { lockPathFor } from '../../src/core/fileLock';
import { OUR_TEMP_PATTERN } from '../../src/core/tempNames';
import { tasksDocumentProblems } from '../../src/state/tasksSchema';
import { tasksPathFor } from '../../src/state/tasksStore';
import { bundleChild } from '../support/bundleChild';

const root = join(__dirname, '..', '..');
const cli = join(root, 'dist', 'cli.js');
const PROCESSES = 8;
const ADDS_EACH = 50;

function run(command: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Reads the document back independently of the store and checks it. */
function readValidDocument(path: string): { tasks: Array<{ id: string; title: string }> } {
  const document = JSON.parse(readFileSync(path, 'utf8'));
  assert.deepEqual(tasksDocumentProblems(document), []);
  return document;
}

function assertNoLeftovers(path: string): void {
  assert.equal(existsSync(lockPathFor(path)), false, 'no lock left behind');
  const temps = readdirSync(dirname(path), { recursive: true, encoding: 'utf8' }).filter((name) =>
    OUR_TEMP_PATTERN.test(name.split('/').pop()!),
  );
  assert.deepEqual(temps, [], 'no temp left behind');
}

suite('several processes: tasks add at once', () => {
  let workspace: string;
  suiteSetup(function () {
    const probe = existsSync(cli) ? spawnSync(process.execPath, [cli, 'tasks', '--help'], { encoding: 'utf8' }) : undefined;
    if (probe?.status !== 0) {
      throw new Error(`${cli} is missing or predates the tasks verb: build it first with \`node esbuild.mjs\``);
    }
    this.timeout(60_000);
  });
  setup(() => {
    workspace = mkdtempSync(join(tmpdir(), 'cs-multi-'));
  });
  teardown(() => rmSync(workspace, { recursive: true, force: true }));

  test(`${PROCESSES} workers each run ${ADDS_EACH} \`crash-safe tasks add\` at once: exactly ${PROCESSES * ADDS_EACH} tasks, none lost`, async function () {
    this.timeout(600_000);
    const started = performance.now();
    const acknowledged: string[] = [];
    await Promise.all(
      Array.from({ length: PROCESSES }, async (_, worker) => {
        for (let n = 0; n < ADDS_EACH; n++) {
          const result = await run(process.execPath, [cli, 'tasks', 'add', `w${worker} #${n}`, '--dir', workspace, '--json']);
          assert.equal(result.code, 0, `w${worker} #${n}: ${result.stderr}`);
          acknowledged.push(JSON.parse(result.stdout).id);
        }
      }),
    );
    const wallMs = performance.now() - started;
    const path = tasksPathFor(workspace);
    const document = readValidDocument(path);
    assert.equal(document.tasks.length, PROCESSES * ADDS_EACH);
    const titles = new Set(document.tasks.map((t) => t.title));
    for (let worker = 0; worker < PROCESSES; worker++) {
      for (let n = 0; n < ADDS_EACH; n++) assert.ok(titles.has(`w${worker} #${n}`), `w${worker} #${n} is missing`);
    }
    const ids = new Set(document.tasks.map((t) => t.id));
    assert.equal(ids.size, PROCESSES * ADDS_EACH, 'ids are unique');
    for (const id of acknowledged) assert.ok(ids.has(id), `acknowledged ${id} is missing`);
    assertNoLeftovers(path);
    console.log(
      `      ${PROCESSES}×${ADDS_EACH} CLI adds: ${(wallMs / 1000).toFixed(1)} s wall, ` +
        `${(wallMs / (PROCESSES * ADDS_EACH)).toFixed(0)} ms per add overall`,
    );
  });

  test(`${PROCESSES} processes each queue ${ADDS_EACH} adds through the store at once: all kept, bursts coalesced`, async function () {
    this.timeout(300_000);
    const childEntry = join(workspace, 'adder.ts');
    const childBundle = join(workspace, 'adder.cjs');
    writeFileSync(
      childEntry,
      `import { addTaskEdit } from ${JSON.stringify(join(root, 'src', 'state', 'taskEdits.ts'))};
       import { TasksStore } from ${JSON.stringify(join(root, 'src', 'state', 'tasksStore.ts'))};
       const [path, worker, count] = process.argv.slice(2);
       const store = new TasksStore(path!);
       Promise.all(Array.from({ length: Number(count) }, (_, n) => store.apply([addTaskEdit(\`p\${worker} #\${n}\`)]))).then(
         (added) => process.stdout.write(JSON.stringify({ ids: added.map(([t]) => t!.id), stats: store.stats })),
         (error) => { process.stderr.write(String(error)); process.exitCode = 1; },
       );`,
    );
    await bundleChild(childEntry, childBundle);
    const path = tasksPathFor(workspace);
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: PROCESSES }, (_, worker) => run(process.execPath, [childBundle, path, String(worker), String(ADDS_EACH)])),
    );
    const wallMs = performance.now() - started;
    let saves = 0;
    const acknowledged: string[] = [];
    for (const result of results) {
      assert.equal(result.code, 0, result.stderr);
      const report = JSON.parse(result.stdout) as { ids: string[]; stats: { saves: number } };
      acknowledged.push(...report.ids);
      saves += report.stats.saves;
    }
    const document = readValidDocument(path);
    assert.equal(document.tasks.length, PROCESSES * ADDS_EACH);
    const ids = new Set(document.tasks.map((t) => t.id));
    for (const id of acknowledged) assert.ok(ids.has(id), `acknowledged ${id} is missing`);
    assert.ok(saves < PROCESSES * ADDS_EACH, `${saves} writes for ${PROCESSES * ADDS_EACH} adds: nothing was coalesced`);
    assertNoLeftovers(path);
    console.log(
      `      ${PROCESSES} processes × ${ADDS_EACH} queued adds: ${(wallMs / 1000).toFixed(1)} s wall, ${saves} writes in all`,
    );
  });
});
