import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NotReadableError, nodeFs, readRegularFile } from '../../src/core/fs';

suite('bounded reads of regular files only', () => {
  let dir: string;
  setup(() => {
    dir = mkdtempSync(join(tmpdir(), 'cs-fs-'));
  });
  teardown(() => rmSync(dir, { recursive: true, force: true }));

  test('a FIFO is refused at once, naming the file, instead of blocking', async () => {
    const fifo = join(dir, 'tasks.json');
    execFileSync('mkfifo', [fifo]);
    await assert.rejects(nodeFs.readFile(fifo), (error: unknown) => {
      assert.ok(error instanceof NotReadableError);
      assert.equal(error.code, 'ENOTREG');
      assert.equal(error.message, `${fifo}: not a regular file (a FIFO (named pipe))`);
      return true;
    });
  });

  test('a symlink to /dev/zero is refused, not read until memory runs out', async () => {
    const link = join(dir, 'data.json');
    symlinkSync('/dev/zero', link);
    await assert.rejects(nodeFs.readFile(link), /data\.json: not a regular file \(a character device\)/);
  });

  test('a folder is refused with its path', async () => {
    await assert.rejects(nodeFs.readFile(dir), new RegExp(`${dir}: not a regular file \\(a folder\\)`));
  });

  test('a file over the limit is refused as EFBIG; one at the limit is read whole', async () => {
    const file = join(dir, 'big.json');
    writeFileSync(file, 'x'.repeat(1000));
    await assert.rejects(readRegularFile(file, 999), { code: 'EFBIG' });
    assert.equal((await readRegularFile(file, 1000)).length, 1000);
    writeFileSync(file, '');
    assert.equal((await readRegularFile(file, 0)).length, 0);
  });
});
