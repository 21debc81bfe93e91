// SIGKILL `write-group` of three files at random points; after each kill, recoverGroups must leave all three files
// of one generation (the old one or the new one) and nothing of the group behind.
import * as assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recoverGroups } from '../../src/core/groups/groupRecovery';
import { recogniseGroupFile } from '../../src/core/names/tempPatterns';
import { bundleChild } from '../support/bundleChild';

const root = join(__dirname, '..', '..');
const iterations = Number(process.env.CRASH_ITERATIONS ?? 200);
const NAMES = ['a.json', 'b.json', 'c.json'] as const;

/** The verb is not registered in main.ts yet: the child runs it directly, as `crash-safe write-group` would. */
const CHILD_SOURCE = (verbModule: string) => `
import { writeGroupVerb } from ${JSON.stringify(verbModule)};
const io = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, cwd: process.cwd() };
writeGroupVerb.run(process.argv.slice(2), io).then(
  (code) => { process.exitCode = code; },
  (error) => { process.stderr.write(String(error) + '\\n'); process.exitCode = 1; },
);
`;

/** About 256 KiB of JSON that says which file and which generation it is. */
function documentFor(name: string, generation: number): string {
  return `${JSON.stringify({ name, generation, rows: Array.from({ length: 4096 }, (_, i) => `row ${i} of ${name} generation ${generation} ${'•'.repeat(16)}`) })}\n`;
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;

suite('crash: SIGKILL during `crash-safe write-group`', () => {
  let dir: string;
  let child: string;
  suiteSetup(async function () {
    this.timeout(60_000);
    dir = mkdtempSync(join(tmpdir(), 'cs-group-crash-'));
    const entry = join(dir, 'child.ts');
    child = join(dir, 'child.cjs');
    writeFileSync(entry, CHILD_SOURCE(join(root, 'src', 'cli', 'writeGroup.ts')));
    await bundleChild(entry, child);
  });
  suiteTeardown(() => rmSync(dir, { recursive: true, force: true }));

  test(`after each of ${iterations} kills, recovery leaves all three files of one generation`, async function () {
    this.timeout(Math.max(600_000, iterations * 3000));
    const work = join(dir, 'work');
    const next = join(work, 'next');
    mkdirSync(next, { recursive: true });
    for (const name of NAMES) writeFileSync(join(work, name), documentFor(name, 0));
    writeFileSync(
      join(work, 'manifest.json'),
      JSON.stringify({ files: NAMES.map((name) => ({ target: name, source: `next/${name}` })) }),
    );
    const prepareGeneration = (generation: number) => {
      for (const name of NAMES) writeFileSync(join(next, name), documentFor(name, generation));
    };
    const run = () =>
      spawn(process.execPath, [child, join(work, 'manifest.json')], { cwd: work, stdio: ['ignore', 'ignore', 'pipe'] });
    // Kills aimed at the commit wait (fs.watch, inotify) for its first temp, or for its journal, rather than Node
    // booting: a third land anywhere, a third while preparing, a third between the journal and the end.
    const watchGroup = (): { temp: Promise<number>; journal: Promise<number>; stop: () => void } => {
      let onTemp: (at: number) => void = () => undefined;
      let onJournal: (at: number) => void = () => undefined;
      const temp = new Promise<number>((resolve) => (onTemp = resolve));
      const journal = new Promise<number>((resolve) => (onJournal = resolve));
      const watcher = watch(work, (_event, name) => {
        const role = name ? recogniseGroupFile(name)?.role : undefined;
        if (role === 'temp') onTemp(performance.now());
        else if (role === 'journal') onJournal(performance.now());
      });
      return { temp, journal, stop: () => watcher.close() };
    };

    // Calibrate: how long a whole run takes, from its first temp, and from its journal.
    const lifetimes: number[] = [];
    const fromTemp: number[] = [];
    const fromJournal: number[] = [];
    let current = 0;
    for (let i = 0; i < 3; i++) {
      prepareGeneration(current + 1);
      const watched = watchGroup();
      const begun = performance.now();
      const { code } = await exited(run());
      const ended = performance.now();
      assert.equal(code, 0);
      current += 1;
      lifetimes.push(ended - begun);
      fromTemp.push(ended - (await watched.temp));
      fromJournal.push(ended - (await watched.journal));
      watched.stop();
    }

    const counts = {
      killed: 0,
      killedInCommit: 0,
      finished: 0,
      old: 0,
      new: 0,
      forward: 0,
      back: 0,
      leftoversRemoved: 0,
    };
    for (let i = 0; i < iterations; i++) {
      prepareGeneration(current + 1);
      const aim = (['anywhere', 'preparing', 'applying'] as const)[i % 3]!;
      const watched = watchGroup();
      const process = run();
      let stderr = '';
      process.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
      const exit = exited(process);
      const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
      if (aim === 'preparing') {
        await Promise.race([watched.temp, exit]);
        await sleep(Math.random() * median(fromTemp));
      } else if (aim === 'applying') {
        await Promise.race([watched.journal, exit]);
        await sleep(Math.random() * median(fromJournal));
      } else {
        await sleep(Math.random() * median(lifetimes) * 1.1);
      }
      process.kill('SIGKILL');
      const { code, signal } = await exit;
      watched.stop();
      if (signal === 'SIGKILL') {
        counts.killed += 1;
        if (aim !== 'anywhere') counts.killedInCommit += 1;
      } else {
        assert.equal(code, 0, `iteration ${i}: write-group failed: ${stderr}`);
        counts.finished += 1;
      }

      const report = await recoverGroups(work);
      assert.deepEqual(report.problems, [], `iteration ${i}`);
      counts.forward += report.recovered.filter((r) => r.state === 'rolled-forward').length;
      counts.back += report.recovered.filter((r) => r.state === 'rolled-back').length;
      counts.leftoversRemoved += report.removed.length;

      const generations = NAMES.map((name) => {
        const text = readFileSync(join(work, name), 'utf8');
        let generation: number;
        try {
          generation = (JSON.parse(text) as { generation: number }).generation;
        } catch {
          assert.fail(`iteration ${i}: ${name} is torn (${text.length} bytes)`);
        }
        assert.equal(
          text,
          documentFor(name, generation),
          `iteration ${i}: ${name} differs from generation ${generation}`,
        );
        return generation;
      });
      assert.ok(
        generations.every((g) => g === generations[0]) &&
          (generations[0] === current || generations[0] === current + 1),
        `iteration ${i}: generations ${generations.join(', ')} after generation ${current}`,
      );
      if (generations[0] === current) counts.old += 1;
      else {
        counts.new += 1;
        current += 1;
      }
      const left = readdirSync(work).filter((name) => recogniseGroupFile(name));
      assert.deepEqual(left, [], `iteration ${i}: group files left after recovery`);
    }
    console.log(
      `      ${iterations} runs: ${counts.killed} SIGKILLed (${counts.killedInCommit} aimed at the commit), ${counts.finished} finished first; ` +
        `all three files old ${counts.old}, new ${counts.new}; recovery rolled forward ${counts.forward}, back ${counts.back}, ` +
        `removed ${counts.leftoversRemoved} leftovers of unjournalled groups; median run ${median(lifetimes).toFixed(0)} ms, ` +
        `${median(fromTemp).toFixed(1)} ms from the first temp, ${median(fromJournal).toFixed(1)} ms from the journal`,
    );
    assert.ok(counts.killedInCommit > iterations / 4, 'a quarter of the runs should be killed while committing');
    assert.ok(counts.old > 0 && counts.new > 0, 'kills should land both before and after the commit point');
    assert.ok(counts.forward > 0, 'some kills should land between the journal and the end, and be rolled forward');
  });
});
