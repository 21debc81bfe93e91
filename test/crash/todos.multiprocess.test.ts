import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { lockPathFor } from '../../src/core/lock/fileLock';
import { OUR_TEMP_PATTERN } from '../../src/core/names/tempNames';
import { todosDocumentProblems } from '../../src/state/todosSchema';
import { todosPathFor } from '../../src/state/todosStore';
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
  assert.deepEqual(todosDocumentProblems(document), []);
  return document;
}

interface AddFailure {
  title: string;
  code: number | null;
  stderr: string;
}

/**
 * The file holds each acknowledged add exactly once and nothing else: no duplicate, no title this test did not
 * add, nothing of a failed add. Each kind of difference is named with the titles behind it.
 */
function assertExactlyTheseAdds(
  document: { tasks: Array<{ id: string; title: string }> },
  acknowledged: ReadonlyArray<{ title: string; id: string }>,
  failed: readonly AddFailure[] = [],
): void {
  const counts = new Map<string, number>();
  for (const todo of document.tasks) counts.set(todo.title, (counts.get(todo.title) ?? 0) + 1);
  const expected = new Set(acknowledged.map((add) => add.title));
  const failedTitles = new Set(failed.map((failure) => failure.title));
  const duplicated = [...counts].filter(([, count]) => count > 1).map(([title, count]) => `${title} ×${count}`);
  const written = [...counts.keys()].filter((title) => failedTitles.has(title));
  const unexpected = [...counts.keys()].filter((title) => !expected.has(title) && !failedTitles.has(title));
  const missing = [...expected].filter((title) => !counts.has(title));
  assert.deepEqual(duplicated, [], `${duplicated.length} titles are in the file more than once`);
  assert.deepEqual(written, [], 'adds that exited non-zero were written anyway');
  assert.deepEqual(unexpected, [], 'titles this test never added are in the file');
  assert.deepEqual(missing, [], 'acknowledged adds are missing');
  const ids = new Set(document.tasks.map((todo) => todo.id));
  assert.equal(ids.size, document.tasks.length, 'ids are unique');
  for (const { id, title } of acknowledged) assert.ok(ids.has(id), `acknowledged ${id} (${title}) is missing`);
  assert.equal(document.tasks.length, acknowledged.length);
}

/** The id `tasks add --json` printed, or undefined when it printed no task. */
function idIn(stdout: string): string | undefined {
  try {
    const { id } = JSON.parse(stdout) as { id?: unknown };
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
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
    const probe = existsSync(cli)
      ? spawnSync(process.execPath, [cli, 'tasks', '--help'], { encoding: 'utf8' })
      : undefined;
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
    // This test's own folder: `workspace` is reassigned by the next test's setup.
    const dir = workspace;
    const started = performance.now();
    const acknowledged: Array<{ title: string; id: string }> = [];
    const failed: AddFailure[] = [];
    // Every worker runs to its end (after a failure, without starting new adds) before anything is judged: a worker
    // left running once wrote into the next test's folder, which then held 405–413 tasks.
    await Promise.all(
      Array.from({ length: PROCESSES }, async (_, worker) => {
        for (let n = 0; n < ADDS_EACH && failed.length === 0; n++) {
          const title = `w${worker} #${n}`;
          const result = await run(process.execPath, [cli, 'tasks', 'add', title, '--dir', dir, '--json']).catch(
            (error: unknown) => ({ code: null, stdout: '', stderr: `could not run: ${String(error)}` }),
          );
          const id = result.code === 0 ? idIn(result.stdout) : undefined;
          if (id !== undefined) acknowledged.push({ title, id });
          else failed.push({ title, code: result.code, stderr: result.stderr.trim() || `stdout: ${result.stdout}` });
        }
      }),
    );
    const wallMs = performance.now() - started;
    const path = todosPathFor(dir);
    assertExactlyTheseAdds(readValidDocument(path), acknowledged, failed);
    // A failed add (a lock timeout under heavy load) wrote nothing, as checked above, but it is no success.
    assert.deepEqual(
      failed.map((failure) => `${failure.title}: exit ${failure.code}: ${failure.stderr}`),
      [],
      `${failed.length} adds failed; ${acknowledged.length} succeeded, and the file holds exactly those`,
    );
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
      `import { addTodoEdit } from ${JSON.stringify(join(root, 'src', 'state', 'todoEdits.ts'))};
       import { TodosStore } from ${JSON.stringify(join(root, 'src', 'state', 'todosStore.ts'))};
       const [path, worker, count] = process.argv.slice(2);
       const store = new TodosStore(path!);
       Promise.all(Array.from({ length: Number(count) }, (_, n) => store.apply([addTodoEdit(\`p\${worker} #\${n}\`)]))).then(
         (added) => process.stdout.write(JSON.stringify({ ids: added.map(([t]) => t!.id), stats: store.stats })),
         (error) => { process.stderr.write(String(error)); process.exitCode = 1; },
       );`,
    );
    await bundleChild(childEntry, childBundle);
    const path = todosPathFor(workspace);
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: PROCESSES }, (_, worker) =>
        run(process.execPath, [childBundle, path, String(worker), String(ADDS_EACH)]),
      ),
    );
    const wallMs = performance.now() - started;
    let saves = 0;
    const acknowledged: Array<{ title: string; id: string }> = [];
    results.forEach((result, worker) => {
      assert.equal(result.code, 0, result.stderr);
      const report = JSON.parse(result.stdout) as { ids: string[]; stats: { saves: number } };
      acknowledged.push(...report.ids.map((id, n) => ({ title: `p${worker} #${n}`, id })));
      saves += report.stats.saves;
    });
    assertExactlyTheseAdds(readValidDocument(path), acknowledged);
    assert.ok(
      saves < PROCESSES * ADDS_EACH,
      `${saves} writes for ${PROCESSES * ADDS_EACH} adds: nothing was coalesced`,
    );
    assertNoLeftovers(path);
    console.log(
      `      ${PROCESSES} processes × ${ADDS_EACH} queued adds: ${(wallMs / 1000).toFixed(1)} s wall, ${saves} writes in all`,
    );
  });
});
