// Start-up Local History check benchmark: the pass the extension runs after its first scan (BrokenFiles.checkLocalHistory
// in src/ui/copies/brokenFiles.ts), over the files of the workspace that Local History knows, looking for NUL-filled
// or empty content. It calls the check itself (checkFilesHistoryKnows of src/core/copies/historyCheck.ts), with
// findCopies + bestCopy and the window's options (History, git, temps, src/state's finders) as its best-copy finder. Each run is a fresh Node process (warm disk cache);
// figures are medians over the runs; peak RSS is the child's maxRSS.
// Two workspaces: (a) the demo workspace (demo/, copied as `npm start` copies it) with a Local History of each of its
// files, and (b) a generated git repository of N files with a Local History for K of them, B of those NUL-filled.
// Left out (vscode calls): the window progress (shown only after 1 s), the Problems entries and the start-up toast the
// result feeds, the log line, and the orphan scan the pass runs after.
// Usage: node bench/historyCheck.mjs [--files N] [--known K] [--broken B] [--entries E] [--others O] [--runs R]
//        [--only demo|large] [--no-git]        (npm run bench:history; each run loads the TypeScript core with tsx)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    files: { type: 'string', default: '10000' },
    known: { type: 'string', default: '200' },
    broken: { type: 'string', default: '5' },
    entries: { type: 'string', default: '3' },
    // History folders of files outside the workspace (other projects): read too, then left aside.
    others: { type: 'string', default: '0' },
    runs: { type: 'string', default: '5' },
    only: { type: 'string' },
    'no-git': { type: 'boolean', default: false },
    child: { type: 'string' },
  },
});

/** One pass in this process, as the extension runs it; prints one JSON line. */
async function runChild({ historyDir, folders }) {
  const { bestCopy, findCopies } = await import('../src/core/copies/findCopies.ts');
  const { checkFilesHistoryKnows } = await import('../src/core/copies/historyCheck.ts');
  const { readHistoryIndex } = await import('../src/core/copies/historyCopies.ts');
  const { nodeFs } = await import('../src/core/fs.ts');
  const { stateCopyFinders } = await import('../src/state/stateCopies.ts');
  const rssBefore = process.memoryUsage().rss;
  const signal = new AbortController().signal;
  const history = { remoteAuthorities: [] };
  // copiesOptions() of src/ui/copies/recoverFromCommand.ts with the default settings (no extra temp patterns).
  const copiesOptions = { historyDir, history, extraPatterns: [], extraFinders: stateCopyFinders(), signal };
  const findMs = [];
  const bestCopyOf = async (path, _signal, index) => {
    const findStarted = performance.now();
    const options = index ? { ...copiesOptions, history: { ...history, index } } : copiesOptions;
    const best = bestCopy((await findCopies(path, options)).copies);
    findMs.push(performance.now() - findStarted);
    return best;
  };

  const started = performance.now();
  const { known: paths, found } = await checkFilesHistoryKnows(historyDir, folders, { history, bestCopyOf, signal });
  const ms = performance.now() - started;
  // The index alone, timed apart after the check (so the check met it cold, as at start-up).
  const indexStarted = performance.now();
  const index = await readHistoryIndex(nodeFs, historyDir, { ...history, signal });
  const indexMs = performance.now() - indexStarted;
  const broken = found.filter(Boolean);
  console.log(
    JSON.stringify({
      ms,
      indexMs,
      findCopiesMs: findMs,
      historyFolders: index.folders.length,
      known: paths.length,
      broken: broken.length,
      bestSources: [...new Set(broken.map((file) => file.best.source))],
      notes: index.notes,
      rssBeforeMb: rssBefore / 1024 / 1024,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
    }),
  );
}

/** VS Code's hash of a resource string (base/common/hash.ts), which names its `<hash>` folder in History. */
function historyFolderName(resource) {
  const numberHash = (value, initial) => ((initial << 5) - initial + value) | 0;
  let hash = numberHash(149417, 0);
  for (let i = 0; i < resource.length; i++) hash = numberHash(resource.charCodeAt(i), hash);
  return hash.toString(16);
}

const ID_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
let idSeed = 1;
/** VS Code names a copy with four random characters and the file's extension. */
function entryId(file) {
  let id = '';
  for (let i = 0; i < 4; i++) {
    idSeed = (idSeed * 1103515245 + 12345) % 2 ** 31;
    id += ID_CHARS[idSeed % ID_CHARS.length];
  }
  const dot = file.lastIndexOf('.');
  return dot > file.lastIndexOf('/') ? `${id}${file.slice(dot)}` : id;
}

/** A `<hash>/entries.json` with `count` copies of `file` (the older ones a little shorter), as VS Code writes it. */
function writeHistoryOf(historyDir, file, count, now) {
  const resource = pathToFileURL(file).href;
  const folder = join(historyDir, historyFolderName(resource));
  mkdirSync(folder, { recursive: true });
  const content = existsSync(file) ? readFileSync(file) : Buffer.from('{}\n');
  const entries = [];
  for (let i = 0; i < count; i++) {
    const id = entryId(file);
    const bytes = content.subarray(0, Math.max(1, content.length - (count - 1 - i) * 7));
    // A JSON file's older copies stay valid JSON: the file as it is.
    writeFileSync(join(folder, id), file.endsWith('.json') ? content : bytes);
    entries.push({ id, ...(i === 1 ? { source: 'Workspace Edit' } : {}), timestamp: now - (count - 1 - i) * 60_000 });
  }
  writeFileSync(join(folder, 'entries.json'), JSON.stringify({ version: 1, resource, entries }));
}

function regularFilesUnder(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...regularFilesUnder(path));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

const work = join(tmpdir(), 'crash-safe-bench', 'history');

/** (a) A fresh copy of demo/ with a Local History of each of its own files (not the planted temps). */
async function demoCase(entries) {
  const { prepareDemoWorkspace } = await import('../scripts/demoWorkspace.mjs');
  rmSync(join(work, 'demo'), { recursive: true, force: true });
  mkdirSync(join(work, 'demo'), { recursive: true });
  const workspace = prepareDemoWorkspace(join(work, 'demo', 'workspace'));
  const historyDir = join(work, 'demo', 'User', 'History');
  mkdirSync(historyDir, { recursive: true });
  const temp = /(\.\d{10}$|\.tmp-\d{10}[0-9a-z]{6}$|^\..+\.tmp$|\.vsctmp$|\.cs-.*\.tmp$|\.tmp\.[0-9a-f]+$|\.tmp$)/;
  const files = regularFilesUnder(workspace).filter((file) => !temp.test(file.slice(file.lastIndexOf('/') + 1)));
  for (const file of files) writeHistoryOf(historyDir, file, entries, Date.now());
  return {
    name: `demo workspace (${regularFilesUnder(workspace).length} files, History of ${files.length})`,
    workspace,
    historyDir,
  };
}

/** (b) N files in a git repository, History for K of them (B NUL-filled), and O History folders elsewhere. */
function largeCase({ files, known, broken, entries, others, git }) {
  const root = join(work, 'large');
  const workspace = join(root, 'workspace');
  const historyDir = join(root, 'User', 'History');
  const marker = join(root, 'shape.json');
  const shape = JSON.stringify({ files, known, broken, entries, others, git, v: 2 });
  const name = `${files.toLocaleString('en')}-file workspace (History of ${known}, ${broken} NUL-filled${git ? ', git' : ''}${others ? `, ${others} History folders of other projects` : ''})`;
  if (existsSync(marker) && readFileSync(marker, 'utf8') === shape) return { name, workspace, historyDir };
  rmSync(root, { recursive: true, force: true });
  console.log(`Generating ${name}…`);
  const perFolder = 50;
  const paths = [];
  for (let i = 0; i < files; i++) {
    const folder = join(workspace, `pkg${Math.floor(i / (perFolder * 20))}`, `mod${Math.floor(i / perFolder) % 20}`);
    if (i % perFolder === 0) mkdirSync(folder, { recursive: true });
    const kind = i % 4;
    const file = join(folder, `file${i}.${['ts', 'json', 'md', 'ts'][kind]}`);
    const body =
      kind === 1
        ? `${JSON.stringify({ name: `item-${i}`, version: '1.0.0', tags: ['a', 'b', 'c'], size: i }, null, 2)}\n`
        : `// file ${i}\n${'export const value = 42; // a line of source\n'.repeat(10 + (i % 40))}`;
    writeFileSync(file, body);
    paths.push(file);
  }
  if (git) {
    const run = (...args) =>
      execFileSync('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@example.com', ...args], {
        cwd: workspace,
        stdio: 'pipe',
      });
    run('init', '-q');
    run('add', '-A');
    run('commit', '-q', '-m', 'bench');
  }
  // Saved in the editor after the last commit, as usual: the newest copy is Local History's.
  mkdirSync(historyDir, { recursive: true });
  const step = Math.floor(files / known);
  const knownPaths = paths.filter((_, i) => i % step === 0).slice(0, known);
  const now = Date.now();
  for (const file of knownPaths) writeHistoryOf(historyDir, file, entries, now);
  // NUL-filled after a power loss: the size reached the disk, the data did not.
  const brokenEvery = Math.floor(knownPaths.length / Math.max(1, broken));
  for (let b = 0; b < broken; b++) {
    const file = knownPaths[b * brokenEvery];
    writeFileSync(file, Buffer.alloc(statSync(file).size));
  }
  for (let o = 0; o < others; o++)
    writeHistoryOf(historyDir, join(root, 'elsewhere', `project${o % 50}`, `f${o}.ts`), entries, now);
  writeFileSync(marker, shape);
  return { name, workspace, historyDir };
}

const median = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

function measure({ name, workspace, historyDir }, runs) {
  const results = [];
  // One warm-up run (disk cache, tsx's transform cache), then the measured runs.
  for (let run = 0; run <= runs; run++) {
    const child = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        fileURLToPath(import.meta.url),
        '--child',
        JSON.stringify({ historyDir, folders: [workspace] }),
      ],
      { cwd: join(here, '..'), encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 },
    );
    if (child.status !== 0) throw new Error(`the pass exited ${child.status}: ${child.stderr}`);
    if (run > 0) results.push(JSON.parse(child.stdout.trim().split('\n').at(-1)));
  }
  const last = results.at(-1);
  console.log(`\n${name}`);
  console.log(
    `  History folders read ${last.historyFolders}, inside the workspace ${last.known}, broken with a good copy ${last.broken}${last.bestSources.length ? ` (best copy from ${last.bestSources.join(', ')})` : ''}`,
  );
  if (last.notes.length) console.log(`  notes: ${last.notes.join('; ')}`);
  console.log(
    `  pass: median ${median(results.map((r) => r.ms)).toFixed(1)} ms (runs: ${results.map((r) => r.ms.toFixed(0)).join(', ')})`,
  );
  console.log(
    `  reading the History index alone (warm, after the pass): median ${median(results.map((r) => r.indexMs)).toFixed(1)} ms`,
  );
  const finds = results.flatMap((r) => r.findCopiesMs);
  if (finds.length > 0) {
    console.log(
      `  findCopies for each broken file (History, git, temps, backups): median ${median(finds).toFixed(1)} ms, ${last.findCopiesMs.length} per pass, a few at once`,
    );
  }
  console.log(
    `  RSS: ${median(results.map((r) => r.rssBeforeMb)).toFixed(0)} MB before the pass (Node + tsx + modules), peak ${Math.max(...results.map((r) => r.peakRssMb)).toFixed(0)} MB`,
  );
  return results;
}

async function main() {
  const runs = Number(values.runs);
  const entries = Number(values.entries);
  const load = loadavg()
    .map((x) => x.toFixed(2))
    .join(', ');
  console.log(
    `Start-up Local History check, ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, load average ${load}, ${runs} runs each (+1 warm-up)`,
  );
  if (values.only !== 'large') measure(await demoCase(entries), runs);
  if (values.only !== 'demo') {
    const large = largeCase({
      files: Number(values.files),
      known: Number(values.known),
      broken: Number(values.broken),
      entries,
      others: Number(values.others),
      git: !values['no-git'],
    });
    measure(large, runs);
  }
  console.log(
    `\nload average at the end: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(', ')}`,
  );
}

if (values.child) {
  await runChild(JSON.parse(values.child));
} else {
  await main();
}
