import * as assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OUR_TEMP_PATTERN } from '../../src/core/names/tempNames';
import { writeFileAtomic } from '../../src/core/write/atomicWrite';
import { FuseLikeFs, SimulatedCrash } from '../support/fuseLikeFs';

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
  const child = spawn(process.execPath, [cli, 'write', target, '--validate-json'], {
    stdio: ['pipe', 'ignore', 'pipe'],
  });
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

    // Half the kills land at any moment of a run; the other half just after the temp appears, so they hit the
    // write, fsync and rename rather than Node booting. fs.watch (inotify) reports the temp's creation.
    const lifetimes: number[] = [];
    const writePhases: number[] = [];
    const tempCreated = (): { appeared: Promise<number>; stop: () => void } => {
      let stop: () => void = () => undefined;
      const appeared = new Promise<number>((resolve) => {
        const watcher = watch(dir, (_event, name) => {
          if (name && OUR_TEMP_PATTERN.test(name)) resolve(performance.now());
        });
        stop = () => watcher.close();
      });
      return { appeared, stop };
    };
    for (let i = 0; i < 3; i++) {
      const temp = tempCreated();
      const started = performance.now();
      const { code } = await exited(startWrite(target, documentVersion(0)));
      const ended = performance.now();
      assert.equal(code, 0);
      lifetimes.push(ended - started);
      writePhases.push(ended - (await temp.appeared));
      temp.stop();
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;

    let current = 0;
    const counts = { killed: 0, killedAfterTemp: 0, completedBeforeKill: 0, sawOld: 0, sawNew: 0, tempsLeft: 0 };
    for (let i = 0; i < iterations; i++) {
      const next = documentVersion(current + 1);
      const aimAtWrite = i % 2 === 1;
      const temp = tempCreated();
      const child = startWrite(target, next);
      const exit = exited(child);
      if (aimAtWrite) {
        await Promise.race([temp.appeared, exit]);
        await new Promise((r) => setTimeout(r, Math.random() * median(writePhases) * 1.5));
      } else {
        await new Promise((r) => setTimeout(r, Math.random() * median(lifetimes) * 1.1));
      }
      child.kill('SIGKILL');
      const { signal } = await exit;
      temp.stop();
      if (signal === 'SIGKILL') {
        counts.killed += 1;
        if (aimAtWrite) counts.killedAfterTemp += 1;
      } else counts.completedBeforeKill += 1;

      const text = readFileSync(target, 'utf8');
      let parsed: { version: number };
      try {
        parsed = JSON.parse(text);
      } catch {
        assert.fail(`iteration ${i}: the target is torn (${text.length} bytes)`);
      }
      assert.ok(
        parsed.version === current || parsed.version === current + 1,
        `iteration ${i}: version ${parsed.version}`,
      );
      assert.equal(
        text,
        documentVersion(parsed.version),
        `iteration ${i}: content differs from version ${parsed.version}`,
      );
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
        `${counts.killedAfterTemp} of them after the temp appeared; target old ${counts.sawOld}, new ${counts.sawNew}; ` +
        `${counts.tempsLeft} temps left by kills; median run ${median(lifetimes).toFixed(0)} ms, write phase ${median(writePhases).toFixed(1)} ms`,
    );
    // A loaded machine lets more runs finish first; a fifth still puts dozens of kills inside the write.
    assert.ok(counts.killedAfterTemp > iterations / 5, 'a fifth of the runs should be killed while writing');
    assert.ok(counts.sawOld > 0 && counts.sawNew > 0, 'kills should land both before and after the rename');
  });

  test('8 processes write one file while a reader polls: never torn, empty or invalid', async () => {
    const target = join(dir, 'shared.json');
    writeFileSync(target, `${JSON.stringify({ writer: -1, i: -1 })}\n`);
    const writesEach = 40;
    const children = Array.from({ length: 8 }, (_, id) =>
      spawn(
        process.execPath,
        ['--import', 'tsx', join(__dirname, 'fixtures', 'writerLoop.ts'), target, String(id), String(writesEach)],
        {
          cwd: root,
          stdio: ['ignore', 'ignore', 'inherit'],
        },
      ),
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

  // Found with a FUSE power-loss simulator: libfuse renames over an open file in two steps (target →
  // .fuse_hidden*, then temp → target), so a write path that held the old target open lost it in 5 of 50 crashes.
  test('FUSE/NFS: a crash after any step of a durable overwrite leaves the target old or new, never missing', async () => {
    const target = join(dir, 'state.json');
    const old = documentVersion(0);
    const next = documentVersion(1);
    writeFileSync(target, old);
    const dry = new FuseLikeFs();
    await writeFileAtomic(target, next, { fs: dry });
    const steps = dry.steps.length;
    assert.ok(steps >= 5, dry.steps.join('\n'));
    const seen = { old: 0, new: 0 };
    for (let crashAfter = 0; crashAfter <= steps; crashAfter++) {
      writeFileSync(target, old);
      for (const name of readdirSync(dir).filter((n) => n !== 'state.json')) unlinkSync(join(dir, name));
      const fs = new FuseLikeFs({ crashAfterSteps: crashAfter });
      await writeFileAtomic(target, next, { fs }).catch((error: unknown) => {
        if (!(error instanceof SimulatedCrash || (error instanceof Error && error.cause instanceof SimulatedCrash)))
          throw error;
      });
      const where = `crash after ${crashAfter} of ${steps} steps (${fs.steps.at(-1) ?? 'start'}); on disk: ${readdirSync(dir).join(', ')}`;
      assert.ok(existsSync(target), `the target is missing: ${where}`);
      const text = readFileSync(target, 'utf8');
      assert.ok(text === old || text === next, `the target is neither old nor new: ${where}`);
      assert.equal(fs.twoStepRenames, 0, `the target was held open across the rename: ${where}`);
      seen[text === old ? 'old' : 'new'] += 1;
    }
    assert.ok(seen.old > 0 && seen.new > 0, JSON.stringify(seen));
  });
});
