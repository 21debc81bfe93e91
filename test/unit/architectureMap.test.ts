// docs/architecture.md's folder map stays true: one row per src/**/*.ts file, no row for a file that is gone, and
// every `src/…` path the page names (in the data-path tables too) exists.
import * as assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';

const root = join(__dirname, '..', '..');
const mapPath = join(root, 'docs', 'architecture.md');

/** Every .ts file under `dir`, as a path from the repository root with forward slashes. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [relative(root, path).split(sep).join('/')] : [];
  });
}

/**
 * The rows of the "Folder map" section: the first cell of each table row, resolved against the folder its `###`
 * heading names in backticks (`src/core/`), or the repository root under a heading that names none.
 */
function mapRows(markdown: string): string[] {
  const start = markdown.indexOf('\n## Folder map');
  assert.ok(start >= 0, 'docs/architecture.md has a "## Folder map" section');
  const end = markdown.indexOf('\n## ', start + 1);
  const section = markdown.slice(start, end < 0 ? undefined : end);
  const rows: string[] = [];
  let base = '';
  for (const line of section.split('\n')) {
    if (line.startsWith('### ')) base = /`([^`]+\/)`/.exec(line)?.[1] ?? '';
    const row = /^\| `([^`]+)` \|/.exec(line);
    if (row) rows.push(posix.join(base, row[1]));
  }
  return rows;
}

/** What is wrong between the map's rows and the files: missing rows, rows of no file, rows named twice. */
function mapProblems(rows: readonly string[], files: readonly string[], exists: (path: string) => boolean): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const row of rows) {
    if (seen.has(row)) problems.push(`${row}: two rows`);
    seen.add(row);
    if (!exists(row)) problems.push(`${row}: a row for a file or folder that does not exist`);
  }
  for (const file of files) if (!seen.has(file)) problems.push(`${file}: no row in the folder map`);
  return problems;
}

/** Every backticked path the page names that starts with src/ (folder map and data paths alike). */
function namedSourcePaths(markdown: string): string[] {
  return [...markdown.matchAll(/`(src\/[^`\s]*)`/g)].map((match) => match[1]);
}

suite('docs/architecture.md: a map that cannot drift', () => {
  const markdown = readFileSync(mapPath, 'utf8');
  const existsInRepo = (path: string) => existsSync(join(root, path));

  test('every src/**/*.ts file has exactly one row, and every row names a file or folder that exists', () => {
    const rows = mapRows(markdown);
    assert.ok(rows.length > 50, `the map parses into rows (${rows.length})`);
    assert.deepEqual(mapProblems(rows, sourceFiles(join(root, 'src')), existsInRepo), []);
  });

  test('every src/ path the page names (the three data paths too) exists', () => {
    const missing = namedSourcePaths(markdown).filter((path) => !existsInRepo(path));
    assert.deepEqual(missing, []);
  });

  test('every folder of src/core/ says what it owns in a README.md', () => {
    const core = join(root, 'src', 'core');
    const folders = readdirSync(core).filter((name) => statSync(join(core, name)).isDirectory());
    assert.ok(folders.length > 0);
    assert.deepEqual(
      folders.filter((name) => !existsSync(join(core, name, 'README.md'))),
      [],
    );
  });

  test('the check finds a missing row, a stale row and a doubled row (self-check)', () => {
    const sample = [
      '# Sample',
      '## Folder map',
      '### `src/core/` — core',
      '| file | what it is |',
      '|---|---|',
      '| `fs.ts` | the seam |',
      '| `gone.ts` | moved away |',
      '| `fs.ts` | again |',
      '## Next',
      '| `notInMap.ts` | after the section |',
    ].join('\n');
    const rows = mapRows(sample);
    assert.deepEqual(rows, ['src/core/fs.ts', 'src/core/gone.ts', 'src/core/fs.ts']);
    const files = ['src/core/fs.ts', 'src/core/new.ts'];
    assert.deepEqual(
      mapProblems(rows, files, (path) => files.includes(path)),
      [
        'src/core/gone.ts: a row for a file or folder that does not exist',
        'src/core/fs.ts: two rows',
        'src/core/new.ts: no row in the folder map',
      ],
    );
  });
});
