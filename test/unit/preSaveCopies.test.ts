// Pre-save copies (crashSafeSave.files): written durably before a save, pruned only when the disk holds the saved
// content, listed by the copies model, and refused wherever a hostile folder would redirect or replace them.
import * as assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { digestOf } from '../../src/core/copies/copyModel';
import { findCopies, recoverFromCopy } from '../../src/core/copies/findCopies';
import { MAX_DOCUMENT_BYTES, nodeFs } from '../../src/core/fs';
import { PRE_SAVE_RELATIVE_DIR, PreSaveCopies, type PreSaveCopy, preSaveCopyPath } from '../../src/state/preSaveCopies';
import { stateCopyFinders } from '../../src/state/stateCopies';
import { delegateTo } from '../support/delegatingFs';

suite('pre-save copies', () => {
  let dir: string;
  let ws: string;
  let target: string;
  const saved = Buffer.from('{\n  "name": "demo",\n  "version": "1.0.0"\n}\n');

  setup(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'cs-presave-')));
    ws = join(dir, 'ws');
    mkdirSync(join(ws, 'sub'), { recursive: true });
    target = join(ws, 'sub', 'package.json');
    writeFileSync(target, '{"name":"old"}\n');
  });
  teardown(() => rmSync(dir, { recursive: true, force: true }));

  const written = (result: Awaited<ReturnType<PreSaveCopies['write']>>): PreSaveCopy => {
    assert.ok('written' in result, `expected a copy, got: ${'skipped' in result ? result.skipped : ''}`);
    return result.written;
  };

  test('the copy holds the bytes being saved, fsynced before its rename, in .vscode/crash-safe/saves', async () => {
    const calls: string[] = [];
    const fs = delegateTo(nodeFs, {
      open: async (path, flags, mode) => {
        const handle = await nodeFs.open(path, flags, mode);
        return {
          write: (...args) => handle.write(...args),
          sync: async () => {
            calls.push(`fsync ${path.includes('.pre-save') ? 'temp' : path}`);
            await handle.sync();
          },
          chmod: (m) => handle.chmod(m),
          chown: (u, g) => handle.chown(u, g),
          close: () => handle.close(),
        };
      },
      rename: async (from, to) => {
        calls.push(`rename → ${to.endsWith('.pre-save') ? 'copy' : to}`);
        await nodeFs.rename(from, to);
      },
      fsyncDir: async (path) => {
        calls.push(`fsync-dir ${path.endsWith('saves') ? 'saves' : 'parent'}`);
        await nodeFs.fsyncDir(path);
      },
    });
    const copy = written(await new PreSaveCopies({ fs }).write(ws, target, saved));
    assert.equal(copy.path, preSaveCopyPath(ws, target));
    assert.ok(copy.path.startsWith(join(ws, ...PRE_SAVE_RELATIVE_DIR.split('/'))));
    assert.deepEqual(readFileSync(copy.path), saved);
    const copyWrite = calls.slice(calls.indexOf('fsync temp'));
    assert.deepEqual(copyWrite, ['fsync temp', 'rename → copy', 'fsync-dir saves'], calls.join('\n'));
    assert.ok(calls.indexOf('fsync temp') > 0, 'the new folders were fsynced into their parents first');
    assert.equal(readFileSync(target, 'utf8'), '{"name":"old"}\n', 'the file itself is not touched');
  });

  test('pruned once the file on disk holds the saved content', async () => {
    const copies = new PreSaveCopies();
    const copy = written(await copies.write(ws, target, saved));
    writeFileSync(target, saved);
    assert.deepEqual(await copies.pruneIfSaved(copy, target, [digestOf(saved)]), { pruned: true });
    assert.equal(existsSync(copy.path), false);
  });

  test('kept when the file on disk is not the saved content (a torn or emptied save), and recoverable', async () => {
    const copies = new PreSaveCopies();
    const copy = written(await copies.write(ws, target, saved));
    writeFileSync(target, ''); // VS Code truncated, then the host died
    const result = await copies.pruneIfSaved(copy, target, [digestOf(saved)]);
    assert.equal(result.pruned, false);
    assert.match(!result.pruned ? result.kept : '', /is not the content saved/);
    assert.deepEqual(readFileSync(copy.path), saved);

    const found = await findCopies(target, { git: false, extraFinders: stateCopyFinders() });
    assert.equal(found.targetState.broken, true);
    const preSave = found.copies.filter((c) => c.kind === 'pre-save');
    assert.deepEqual(
      preSave.map((c) => `${c.source} ${c.label} ${c.judgement} ${c.path}`),
      [`backup pre-save copy json ${copy.path}`],
    );
    await recoverFromCopy(target, preSave[0]!);
    assert.deepEqual(readFileSync(target), saved);
  });

  test('kept when the file cannot be read, or the copy was replaced since it was written', async () => {
    const copies = new PreSaveCopies();
    const copy = written(await copies.write(ws, target, saved));
    rmSync(target);
    assert.equal((await copies.pruneIfSaved(copy, target, [digestOf(saved)])).pruned, false);
    assert.ok(existsSync(copy.path));
    writeFileSync(target, saved);
    written(await copies.write(ws, target, Buffer.from('{"name":"newer save"}')));
    assert.equal(
      (await copies.pruneIfSaved(copy, target, [digestOf(saved)])).pruned,
      false,
      'another save owns it now',
    );
    assert.equal(readFileSync(copy.path, 'utf8'), '{"name":"newer save"}');
  });

  test('one copy per file: a new save replaces it, but broken content never replaces a copy that is not', async () => {
    const copies = new PreSaveCopies();
    const first = written(await copies.write(ws, target, saved));
    const second = written(await copies.write(ws, target, Buffer.from('{"v":2}')));
    assert.equal(second.path, first.path);
    const skipped = await copies.write(ws, target, Buffer.alloc(0)); // the emptied file, saved again
    assert.match('skipped' in skipped ? skipped.skipped : '', /is empty; the earlier copy .* is kept/);
    assert.equal(readFileSync(first.path, 'utf8'), '{"v":2}');
    const other = written(await copies.write(ws, join(ws, 'other.json'), saved));
    assert.notEqual(other.path, first.path);
  });

  test('refused: over the 256 MiB limit, outside the folder, our own files', async () => {
    const copies = new PreSaveCopies();
    const huge = { length: MAX_DOCUMENT_BYTES + 1 } as Uint8Array;
    assert.match(JSON.stringify(await copies.write(ws, target, huge)), /larger than the 256(\.0)? MiB limit/);
    assert.match(JSON.stringify(await copies.write(ws, join(dir, 'outside.json'), saved)), /not inside/);
    const ours = join(ws, '.vscode', 'crash-safe', 'saves', 'x.json');
    assert.match(JSON.stringify(await copies.write(ws, ours, saved)), /not inside/);
    assert.equal(existsSync(join(ws, '.vscode')), false, 'nothing was made');
  });

  test('attack: a planted symlink as the saves folder or as the copy is never written through', async () => {
    const elsewhere = join(dir, 'elsewhere');
    mkdirSync(elsewhere);
    mkdirSync(join(ws, '.vscode', 'crash-safe'), { recursive: true });
    symlinkSync(elsewhere, join(ws, '.vscode', 'crash-safe', 'saves'));
    const copies = new PreSaveCopies();
    assert.match(JSON.stringify(await copies.write(ws, target, saved)), /symbolic link/);
    rmSync(join(ws, '.vscode', 'crash-safe', 'saves'));

    mkdirSync(join(ws, '.vscode', 'crash-safe', 'saves'));
    const victim = join(elsewhere, 'victim');
    writeFileSync(victim, 'mine');
    symlinkSync(victim, preSaveCopyPath(ws, target)!);
    assert.match(JSON.stringify(await copies.write(ws, target, saved)), /not a regular file; left alone/);
    assert.equal(readFileSync(victim, 'utf8'), 'mine');
    const found = await findCopies(target, { git: false, extraFinders: stateCopyFinders() });
    assert.deepEqual(
      found.copies.filter((c) => c.kind === 'pre-save'),
      [],
    );
    assert.ok(found.notes.some((note) => /pre-save copy .* not a regular file/.test(note)));
  });

  test('attack: a saves folder reached through a symlink is not read by the finder', async () => {
    const elsewhere = join(dir, 'elsewhere');
    mkdirSync(join(elsewhere, 'saves'), { recursive: true });
    writeFileSync(join(elsewhere, 'saves', preSaveCopyPath(ws, target)!.split('/').pop()!), '{"planted":1}');
    mkdirSync(join(ws, '.vscode', 'crash-safe'), { recursive: true });
    symlinkSync(join(elsewhere, 'saves'), join(ws, '.vscode', 'crash-safe', 'saves'));
    const found = await findCopies(target, { git: false, extraFinders: stateCopyFinders() });
    assert.deepEqual(
      found.copies.filter((c) => c.kind === 'pre-save'),
      [],
    );
  });
});
