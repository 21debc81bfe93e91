import * as assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OUR_TEMP_PATTERN } from '../../src/core/tempNames';

const root = join(__dirname, '..', '..');
const cli = join(root, 'dist', 'cli.js');
const iterations = Number(process.env.CRASH_ITERATIONS ?? 200);

/** A ≥ 1 MiB JSON document that says which version it is. */
function documentVersion(version: number): string {
  return `${JSON.stringify({ version, rows: Array.from({ length: 16_384 }, (_, i) => `row ${i} of version ${version} ${'•'.repeat(20)}`) })}\n`;
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

function startWrite(target: string, input: string): ChildProcess {
  const child = spawn(process.execPath, [cli, 'write', target, '--json'], { stdio: ['pipe', 'ignore', 'pipe'] });
  child.stdin!.on('error', () => undefined); // EPIPE when the kill lands before stdin is drained
  child.stdin!.end(input);
  return child;
}

suite('crash: SIGKILL during `crash-safe write`', () => {
  let dir: string;
  setup(() => {
    dir = mkdtempSync(join(tmpdir(), 'cs-crash-'));
  });
  teardown(() => rmSync(dir, { recursive: true, force: true }));

  test(`after each of ${iterations} kills the target parses and equals the old or the new version`, async () => {
    const target = join(dir, 'state.json');
    writeFileSync(target, documentVersion(0));
    assert.ok(Buffer.byteLength(documentVersion(0)) >= 1024 * 1024);

    // Calibrate: kills are spread over the later part of a run, where the write happens (the start is Node booting).
    const durations: number[] = [];
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      const { code } = await exited(startWrite(target, documentVersion(0)));
      assert.equal(code, 0);
      durations.push(performance.now() - started);
    }
    const window = Math.max(...durations);

    let current = 0;
    const counts = { killed: 0, completedBeforeKill: 0, sawOld: 0, sawNew: 0, tempsLeft: 0 };
    for (let i = 0; i < iterations; i++) {
      const next = documentVersion(current + 1);
      const child = startWrite(target, next);
      const exit = exited(child);
      await new Promise((r) => setTimeout(r, window * (0.3 + 0.75 * Math.random())));
      child.kill('SIGKILL');
      const { signal } = await exit;
      if (signal === 'SIGKILL') counts.killed += 1;
      else counts.completedBeforeKill += 1;

      const text = readFileSync(target, 'utf8');
      let parsed: { version: number };
      try {
        parsed = JSON.parse(text);
      } catch {
        assert.fail(`iteration ${i}: the target is torn (${text.length} bytes)`);
      }
      assert.ok(parsed.version === current || parsed.version === current + 1, `iteration ${i}: version ${parsed.version}`);
      assert.equal(text, documentVersion(parsed.version), `iteration ${i}: content differs from version ${parsed.version}`);
      if (parsed.version === current) counts.sawOld += 1;
      else {
        counts.sawNew += 1;
        current += 1;
      }
      for (const name of readdirSync(dir).filter((n) => OUR_TEMP_PATTERN.test(n))) {
        counts.tempsLeft += 1;
        unlinkSync(join(dir, name));
      }
    }
    console.log(
      `      ${iterations} runs: ${counts.killed} SIGKILLed, ${counts.completedBeforeKill} finished first; ` +
        `target old ${counts.sawOld}, new ${counts.sawNew}; ${counts.tempsLeft} temps left by kills; window ${window.toFixed(0)} ms`,
    );
    assert.ok(counts.killed > iterations / 2, 'most runs should be killed mid-flight');
    assert.ok(counts.sawOld > 0 && counts.sawNew > 0, 'kills should land both before and after the rename');
  });

  test('8 processes write one file while a reader polls: never torn, empty or invalid', async () => {
    const target = join(dir, 'shared.json');
    writeFileSync(target, `${JSON.stringify({ writer: -1, i: -1 })}\n`);
    const writesEach = 40;
    const children = Array.from({ length: 8 }, (_, id) =>
      spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'fixtures', 'writerLoop.ts'), target, String(id), String(writesEach)], {
        cwd: root,
        stdio: ['ignore', 'ignore', 'inherit'],
      }),
    );
    let running = children.length;
    const codes: Array<number | null> = [];
    for (const child of children) {
      child.once('exit', (code) => {
        codes.push(code);
        running -= 1;
      });
    }
    let reads = 0;
    const writersSeen = new Set<number>();
    while (running > 0) {
      const text = readFileSync(target, 'utf8');
      assert.ok(text.length > 0, 'the reader saw an empty file');
      const value = JSON.parse(text) as { writer: number };
      writersSeen.add(value.writer);
      reads += 1;
      await new Promise((r) => setImmediate(r));
    }
    assert.deepEqual(codes, Array(8).fill(0));
    console.log(`      ${reads} reads, all complete JSON; ${writersSeen.size - 1} of 8 writers observed`);
    assert.ok(reads > 100);
    assert.deepEqual(readdirSync(dir), ['shared.json']);
  });
});
