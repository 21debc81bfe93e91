import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeFs } from '../../src/core/fs';
import { ensureDirectory } from '../../src/core/write/ensureDirectory';
import { FaultyFs } from '../support/faultyFs';

suite('ensureDirectory', () => {
  let dir: string;
  setup(() => {
    dir = mkdtempSync(join(tmpdir(), 'cs-mkdir-'));
  });
  teardown(() => {
    spawnSync('umount', [join(dir, 'ro')], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  });

  test('creates every missing level and fsyncs the parent of each new folder', async () => {
    const fs = new FaultyFs([]);
    const synced: string[] = [];
    const recording = {
      ...nodeFs,
      mkdir: (path: string) => fs.mkdir(path),
      fsyncDir: async (path: string) => void synced.push(path),
    };
    await ensureDirectory(join(dir, 'a', 'b', 'c'), recording);
    assert.ok(existsSync(join(dir, 'a', 'b', 'c')));
    assert.deepEqual(synced, [dir, join(dir, 'a'), join(dir, 'a', 'b')]);
  });

  test('a file in the way is ENOTDIR, naming it', async () => {
    writeFileSync(join(dir, 'file'), '');
    await assert.rejects(ensureDirectory(join(dir, 'file')), { code: 'ENOTDIR', path: join(dir, 'file') });
    await assert.rejects(ensureDirectory(join(dir, 'file', 'x')), { code: 'ENOTDIR', path: join(dir, 'file', 'x') });
  });

  test('on a read-only mount the error is EROFS, not the ENOENT of a recursive mkdir', async function () {
    const mountPoint = join(dir, 'ro');
    mkdirSync(mountPoint);
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'ro', 'tmpfs', mountPoint], { encoding: 'utf8' });
    if (mounted.status !== 0) {
      console.log(
        `      (skipped: cannot mount a read-only tmpfs here: ${mounted.stderr.trim() || mounted.error?.message})`,
      );
      this.skip();
    }
    await assert.rejects(ensureDirectory(join(mountPoint, 'a', 'b')), { code: 'EROFS', path: join(mountPoint, 'a') });
  });
});
