import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { folderIdentity, NotReadableError, nodeFs, readRegularFile, sameFolder } from '../../src/core/fs';

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

suite("nodeFs.open: the write path's handle", () => {
  let dir: string;
  setup(() => {
    dir = mkdtempSync(join(tmpdir(), 'cs-fs-handle-'));
  });
  teardown(() => rmSync(dir, { recursive: true, force: true }));

  test('a close issued beside parallel writes and a chmod: every one of them completes, then the file is closed', async () => {
    const path = join(dir, 'parts.tmp');
    const part = 64 * 1024;
    const parts = 64; // more than the thread pool runs at once, so some are still queued when close is called
    const data = Buffer.alloc(part * parts, 0x62);
    const handle = await nodeFs.open(path, 'wx', 0o600);
    // As when one of several parallel calls fails and the write path closes the temp at once.
    const written = Array.from({ length: parts }, (_, i) => handle.write(data, i * part, part, i * part));
    const chmodded = handle.chmod(0o640);
    const closed = handle.close();
    for (const write of written) assert.equal((await write).bytesWritten, part);
    await chmodded;
    await closed;
    assert.ok(readFileSync(path).equals(data));
    assert.equal(statSync(path).mode & 0o777, 0o640);
  });

  test('a call after close is refused with EBADF, never sent to a descriptor number that may be reused', async () => {
    const handle = await nodeFs.open(join(dir, 'closed.tmp'), 'wx', 0o600);
    await handle.close();
    const other = openSync(join(dir, 'other'), 'w');
    try {
      await assert.rejects(handle.write(Buffer.from('x'), 0, 1, 0), { code: 'EBADF' });
      await assert.rejects(handle.sync(), { code: 'EBADF' });
      assert.equal(readFileSync(join(dir, 'other'), 'utf8'), '');
    } finally {
      closeSync(other);
    }
  });

  test('errors carry the errno, as the write path reports them', async () => {
    await assert.rejects(nodeFs.open(join(dir, 'missing', 'x.tmp'), 'wx', 0o600), { code: 'ENOENT' });
    writeFileSync(join(dir, 'taken'), '');
    await assert.rejects(nodeFs.open(join(dir, 'taken'), 'wx', 0o600), { code: 'EEXIST' });
  });

  test('fsyncDir leaves no descriptor behind once its close has run', async () => {
    const open = () => readdirSync('/proc/self/fd').length;
    const before = open();
    for (let i = 0; i < 50; i++) await nodeFs.fsyncDir(dir);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(open() <= before + 1, `${open()} descriptors open, ${before} before`);
  });
});

suite('folderIdentity: the same folder, or one made again at its path', () => {
  let dir: string;
  setup(() => {
    dir = mkdtempSync(join(tmpdir(), 'cs-fs-'));
  });
  teardown(() => rmSync(dir, { recursive: true, force: true }));

  test('a folder removed and made again at once is another folder, though ext4 gives it the same inode number', async () => {
    const folder = join(dir, 'workspace');
    mkdirSync(folder);
    const before = await folderIdentity(folder);
    assert.ok(before && before !== 'missing');
    writeFileSync(join(folder, 'a.json'), '{}');
    assert.equal(sameFolder(before, (await folderIdentity(folder))!), true, 'a new entry is no new folder');
    rmSync(folder, { recursive: true });
    mkdirSync(folder);
    const after = await folderIdentity(folder);
    assert.ok(after && after !== 'missing');
    assert.equal(sameFolder(before, after), false, `inode ${before.ino} → ${after.ino}`);
  });

  test('gone (or a file on its way) is missing; missing is the same only as missing', async () => {
    assert.equal(await folderIdentity(join(dir, 'none')), 'missing');
    writeFileSync(join(dir, 'file'), '');
    assert.equal(await folderIdentity(join(dir, 'file', 'below')), 'missing');
    const here = (await folderIdentity(dir))!;
    assert.equal(sameFolder('missing', 'missing'), true);
    assert.equal(sameFolder('missing', here), false);
    assert.equal(sameFolder(here, 'missing'), false);
  });
});
