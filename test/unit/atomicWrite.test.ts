import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { FsLike } from '../../src/core/fs';
import { nodeFs } from '../../src/core/fs';
import { OUR_TEMP_PATTERN } from '../../src/core/names/tempNames';
import { AtomicWriteError, writeFileAtomic } from '../../src/core/write/atomicWrite';
import { type Fault, FaultyFs } from '../support/faultyFs';
import { FuseLikeFs, SimulatedCrash } from '../support/fuseLikeFs';
import { leftovers } from '../support/writtenFiles';

const OLD = '{"version":"old"}\n';
const NEW = `{"version":"new","padding":"${'x'.repeat(20_000)}"}\n`;
const FAST_RETRY = { renameRetryDelaysMs: [1, 1, 1] };
const repoRoot = join(__dirname, '..', '..');

suite('writeFileAtomic', () => {
  let dir: string;
  let target: string;

  setup(() => {
    dir = mkdtempSync(join(tmpdir(), 'cs-atomic-'));
    target = join(dir, 'state.json');
    writeFileSync(target, OLD);
  });
  teardown(() => {
    chmodSync(dir, 0o755);
    rmSync(dir, { recursive: true, force: true });
  });

  suite('an injected failure leaves the target byte-identical, no temp, and names path and errno', () => {
    const cases: Array<{ title: string; fault: Fault; step: string }> = [
      { title: 'ENOSPC at write', fault: { step: 'write', code: 'ENOSPC' }, step: 'write' },
      { title: 'ENOSPC at fsync', fault: { step: 'sync', code: 'ENOSPC' }, step: 'fsync' },
      { title: 'ENOSPC at close', fault: { step: 'close', code: 'ENOSPC' }, step: 'close' },
      { title: 'EACCES at open', fault: { step: 'open', code: 'EACCES' }, step: 'open' },
      { title: 'EROFS at open', fault: { step: 'open', code: 'EROFS' }, step: 'open' },
      { title: 'EMFILE at open', fault: { step: 'open', code: 'EMFILE' }, step: 'open' },
      { title: 'EIO at fsync', fault: { step: 'sync', code: 'EIO' }, step: 'fsync' },
      { title: 'EXDEV at rename', fault: { step: 'rename', code: 'EXDEV' }, step: 'rename' },
      { title: 'EPERM at rename (after retries)', fault: { step: 'rename', code: 'EPERM' }, step: 'rename' },
      { title: 'EBUSY at rename (after retries)', fault: { step: 'rename', code: 'EBUSY' }, step: 'rename' },
    ];
    for (const { title, fault, step } of cases) {
      test(title, async () => {
        const fs = new FaultyFs([fault]);
        const error = await writeFileAtomic(target, NEW, { fs, ...FAST_RETRY }).then(
          () => assert.fail('the write should have failed'),
          (e: unknown) => e,
        );
        assert.ok(error instanceof AtomicWriteError, String(error));
        assert.equal(error.code, fault.code);
        assert.equal(error.step, step);
        assert.match(error.message, new RegExp(target.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
        assert.match(error.message, new RegExp(fault.code));
        assert.equal(readFileSync(target, 'utf8'), OLD);
        assert.deepEqual(leftovers(dir), []);
      });
    }
  });

  test('EIO at the directory fsync after the rename: no rollback, the error names the file and says what may survive', async () => {
    const fs = new FaultyFs([{ step: 'fsyncDir', code: 'EIO' }]);
    const error = await writeFileAtomic(target, NEW, { fs }).then(
      () => assert.fail('the write should have failed'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof AtomicWriteError, String(error));
    assert.equal(error.step, 'fsync-dir');
    assert.equal(error.code, 'EIO');
    assert.ok(error.message.startsWith(`Cannot write ${target}: fsync-dir failed with EIO (`), error.message);
    assert.ok(
      error.message.endsWith(`not confirmed durable: after a power loss ${target} may hold the old or the new content`),
      error.message,
    );
    assert.equal(readFileSync(target, 'utf8'), NEW, 'the rename stands, as the kernel left it');
    assert.deepEqual(readdirSync(dir), ['state.json']);
  });

  test('a failed directory fsync on a new target leaves the new file and says it may be missing after a power loss', async () => {
    const fresh = join(dir, 'fresh.json');
    const fs = new FaultyFs([{ step: 'fsyncDir', code: 'EIO' }]);
    await assert.rejects(
      writeFileAtomic(fresh, NEW, { fs }),
      /fresh\.json: fsync-dir failed with EIO .*fresh\.json may be missing or hold the new content$/,
    );
    assert.equal(readFileSync(fresh, 'utf8'), NEW);
    assert.deepEqual(readdirSync(dir).sort(), ['fresh.json', 'state.json']);
  });

  suite('FUSE and NFS: a rename over a file held open takes two steps', () => {
    test('the seam: with the target held open, a crash between the two steps leaves the target missing', async () => {
      const fs = new FuseLikeFs({ crashAfterSteps: 2 });
      const temp = join(dir, 'state.json.tmp');
      writeFileSync(temp, NEW);
      const held = await fs.open(target, 'r');
      await assert.rejects(fs.rename(temp, target), SimulatedCrash);
      assert.deepEqual(fs.steps.slice(1), [`rename ${target} -> ${join(dir, fs.hiddenNames()[0]!)}`]);
      assert.deepEqual(readdirSync(dir).sort(), [...fs.hiddenNames(), 'state.json.tmp'].sort());
      await held.close().catch(() => undefined);
    });

    test('the seam: without a crash the old file goes to .fuse_hidden* and is removed on its last close', async () => {
      const fs = new FuseLikeFs();
      const temp = join(dir, 'state.json.tmp');
      writeFileSync(temp, NEW);
      const held = await fs.open(target, 'r');
      await fs.rename(temp, target);
      assert.equal(fs.twoStepRenames, 1);
      assert.equal(readFileSync(target, 'utf8'), NEW);
      await held.close();
      assert.deepEqual(readdirSync(dir), ['state.json']);
    });

    test('writeFileAtomic never holds the target open, so its rename is one step and leaves no hidden file', async () => {
      const fs = new FuseLikeFs();
      await writeFileAtomic(target, NEW, { fs });
      assert.equal(fs.twoStepRenames, 0, fs.steps.join('\n'));
      assert.ok(!fs.steps.some((step) => step.startsWith(`open ${target} `)), 'the target itself was opened');
      assert.equal(readFileSync(target, 'utf8'), NEW);
      assert.deepEqual(readdirSync(dir), ['state.json']);
    });
  });

  test('EPERM on rename is retried with backoff, then succeeds', async () => {
    const fs = new FaultyFs([{ step: 'rename', code: 'EPERM', times: 2 }]);
    await writeFileAtomic(target, NEW, { fs, ...FAST_RETRY });
    assert.equal(readFileSync(target, 'utf8'), NEW);
    assert.equal(fs.calls.filter((c) => c === 'rename').length, 3);
  });

  test('EXDEV on rename is not retried', async () => {
    const fs = new FaultyFs([{ step: 'rename', code: 'EXDEV' }]);
    await assert.rejects(writeFileAtomic(target, NEW, { fs, ...FAST_RETRY }));
    assert.equal(fs.calls.filter((c) => c === 'rename').length, 1);
  });

  test('short writes are looped until every byte is written', async () => {
    const fs = new FaultyFs([], { maxBytesPerWrite: 333 });
    await writeFileAtomic(target, NEW, { fs });
    assert.equal(readFileSync(target, 'utf8'), NEW);
    assert.ok(fs.calls.filter((c) => c === 'write').length > 50);
  });

  test('a disk that fills mid-write is reported and never renamed over the target', async () => {
    const fs = new FaultyFs([], { maxBytesPerWrite: 4096, failWriteAfterBytes: 10_000 });
    await assert.rejects(writeFileAtomic(target, NEW, { fs }), /write failed with ENOSPC/);
    assert.equal(readFileSync(target, 'utf8'), OLD);
    assert.deepEqual(leftovers(dir), []);
  });

  test('a write that makes no progress is an error, not an endless loop', async () => {
    const fs = new FaultyFs([], { maxBytesPerWrite: 0 });
    await assert.rejects(writeFileAtomic(target, NEW, { fs }), /short write: 0 of/);
    assert.equal(readFileSync(target, 'utf8'), OLD);
  });

  test('the temp is created exclusively with mode 0600 in the target directory, then fsynced, renamed and the directory fsynced', async () => {
    const opens: Array<{ path: string; flags: string | number; mode?: number }> = [];
    const order: string[] = [];
    const recording: FsLike = {
      ...nodeFs,
      open: async (path, flags, mode) => {
        opens.push({ path, flags, mode });
        const handle = await nodeFs.open(path, flags, mode);
        return {
          ...handle,
          write: (b, o, l, p) => handle.write(b, o, l, p),
          chmod: (m) => handle.chmod(m),
          chown: (u, g) => handle.chown(u, g),
          sync: async () => {
            order.push('fsync');
            await handle.sync();
          },
          close: async () => {
            order.push('close');
            await handle.close();
          },
        };
      },
      rename: async (from, to) => {
        order.push('rename');
        await nodeFs.rename(from, to);
      },
      fsyncDir: async (path) => {
        order.push(`fsyncDir ${path}`);
        await nodeFs.fsyncDir(path);
      },
    };
    await writeFileAtomic(target, NEW, { fs: recording });
    // Only the temp is opened: an open target would make the rename two steps on FUSE and NFS.
    assert.equal(opens.length, 1, JSON.stringify(opens));
    const created = opens;
    assert.equal(created[0]!.flags, 'wx');
    assert.equal(created[0]!.mode, 0o600);
    assert.equal(dirname(created[0]!.path), dir);
    assert.match(basename(created[0]!.path), OUR_TEMP_PATTERN);
    assert.deepEqual(order.slice(0, 4), ['fsync', 'close', 'rename', `fsyncDir ${dir}`]);
  });

  test('durability fast skips every fsync', async () => {
    const fs = new FaultyFs([
      { step: 'sync', code: 'EIO' },
      { step: 'fsyncDir', code: 'EIO' },
    ]);
    await writeFileAtomic(target, NEW, { fs, durability: 'fast' });
    assert.equal(readFileSync(target, 'utf8'), NEW);
    assert.ok(!fs.calls.includes('sync') && !fs.calls.includes('fsyncDir'));
    await writeFileAtomic(join(dir, 'new', 'folders', 'x.json'), NEW, { fs, durability: 'fast', createParents: true });
    assert.ok(!fs.calls.includes('fsyncDir'), 'new parent folders are not fsynced in fast mode either');
  });

  suite('fchmod only when the temp does not already have the mode', () => {
    /** The real disk, counting fchmod calls on the temp. */
    const countingChmods = (chmods: number[]): FsLike => ({
      ...nodeFs,
      open: async (path, flags, mode) => {
        const handle = await nodeFs.open(path, flags, mode);
        return {
          write: (...args) => handle.write(...args),
          sync: () => handle.sync(),
          chmod: (m) => {
            chmods.push(m);
            return handle.chmod(m);
          },
          chown: (uid, gid) => handle.chown(uid, gid),
          close: () => handle.close(),
        };
      },
    });

    test('a 0600 target: no fchmod, and it stays 0600', async function () {
      if ((0o600 & ~process.umask()) !== 0o600) this.skip();
      chmodSync(target, 0o600);
      const chmods: number[] = [];
      await writeFileAtomic(target, NEW, { fs: countingChmods(chmods) });
      assert.deepEqual(chmods, []);
      assert.equal(statSync(target).mode & 0o7777, 0o600);
      assert.equal(readFileSync(target, 'utf8'), NEW);
    });

    test('a new file asked for 0600: no fchmod either', async function () {
      if ((0o600 & ~process.umask()) !== 0o600) this.skip();
      const fresh = join(dir, 'secret.json');
      const chmods: number[] = [];
      await writeFileAtomic(fresh, NEW, { fs: countingChmods(chmods), mode: 0o600 });
      assert.deepEqual(chmods, []);
      assert.equal(statSync(fresh).mode & 0o7777, 0o600);
    });

    test('any other mode, wider or narrower, is still set: 0644, 0640, 0400, 0700', async () => {
      for (const mode of [0o644, 0o640, 0o400, 0o700]) {
        chmodSync(target, mode);
        const chmods: number[] = [];
        await writeFileAtomic(target, NEW, { fs: countingChmods(chmods) });
        assert.deepEqual(chmods, [mode], mode.toString(8));
        assert.equal(statSync(target).mode & 0o7777, mode, mode.toString(8));
      }
    });

    test('a umask that takes bits from 0600 makes the temp narrower: then the 0600 target still gets its fchmod', async () => {
      chmodSync(target, 0o600);
      const old = process.umask(0o277);
      try {
        const chmods: number[] = [];
        await writeFileAtomic(target, NEW, { fs: countingChmods(chmods) });
        assert.deepEqual(chmods, [0o600]);
        assert.equal(statSync(target).mode & 0o7777, 0o600);
      } finally {
        process.umask(old);
      }
    });
  });

  suite('real file system', () => {
    test('keeps the target mode', async () => {
      chmodSync(target, 0o640);
      await writeFileAtomic(target, NEW);
      assert.equal(statSync(target).mode & 0o777, 0o640);
    });

    test('a new file gets 0666 less the umask, not the temp mode 0600', async () => {
      const fresh = join(dir, 'fresh.json');
      await writeFileAtomic(fresh, NEW);
      assert.equal(statSync(fresh).mode & 0o777, 0o666 & ~process.umask());
    });

    test('keeps the owner when running as root', async function () {
      if (process.getuid?.() !== 0) this.skip();
      chownSync(target, 65534, 65534);
      await writeFileAtomic(target, NEW);
      assert.equal(statSync(target).uid, 65534);
      assert.equal(statSync(target).gid, 65534);
    });

    test('writes through a symlink and the link survives', async () => {
      const real = join(dir, 'real.json');
      const link = join(dir, 'link.json');
      writeFileSync(real, OLD);
      symlinkSync('real.json', link);
      await writeFileAtomic(link, NEW);
      assert.ok(lstatSync(link).isSymbolicLink());
      assert.equal(readlinkSync(link), 'real.json');
      assert.equal(readFileSync(real, 'utf8'), NEW);
      assert.deepEqual(leftovers(dir), []);
    });

    test('empty payload', async () => {
      await writeFileAtomic(target, '');
      assert.equal(readFileSync(target, 'utf8'), '');
    });

    test('a 12 MiB payload', async () => {
      const big = Buffer.alloc(12 * 1024 * 1024, 0x61);
      await writeFileAtomic(target, big);
      assert.ok(readFileSync(target).equals(big));
    });

    test('unicode and spaces in the name', async () => {
      const odd = join(dir, 'état des lieux 📄 ü.json');
      await writeFileAtomic(odd, NEW);
      assert.equal(readFileSync(odd, 'utf8'), NEW);
      assert.deepEqual(leftovers(dir), []);
    });

    test('a directory target is a clear error', async () => {
      const sub = join(dir, 'sub');
      mkdirSync(sub);
      await assert.rejects(writeFileAtomic(sub, NEW), (e: unknown) => {
        assert.ok(e instanceof AtomicWriteError);
        assert.equal(e.code, 'EISDIR');
        assert.match(e.message, /sub: resolve failed with EISDIR \(the target is a directory\)/);
        return true;
      });
    });

    test('a missing parent is a clear error, or is created with createParents', async () => {
      const deep = join(dir, 'a', 'b', 'c.json');
      await assert.rejects(writeFileAtomic(deep, NEW), /the parent directory .*a[/\\]b does not exist/);
      await writeFileAtomic(deep, NEW, { createParents: true });
      assert.equal(readFileSync(deep, 'utf8'), NEW);
    });

    test('a read-only directory fails with EACCES and leaves the target as it was', () => {
      // Root ignores directory permissions, so the write runs as an unprivileged user in a child. That user may
      // not be able to read the checkout (a clone under a 0700 folder), so it runs a copy of the bundled CLI.
      const cliDir = mkdtempSync(join(tmpdir(), 'cs-cli-'));
      chmodSync(cliDir, 0o755);
      const cli = join(cliDir, 'cli.js');
      copyFileSync(join(repoRoot, 'dist', 'cli.js'), cli);
      chmodSync(cli, 0o644);
      chmodSync(dir, 0o555);
      chmodSync(target, 0o666);
      const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
      const result = spawnSync(process.execPath, [cli, 'write', target], { input: NEW, encoding: 'utf8', ...asNobody });
      assert.equal(result.status, 1, result.stderr);
      assert.match(result.stderr, /state\.json: open failed with EACCES/);
      rmSync(cliDir, { recursive: true, force: true });
      assert.equal(readFileSync(target, 'utf8'), OLD);
      assert.deepEqual(leftovers(dir), []);
    });
  });

  suite('expected: the target is replaced only while it still holds the bytes the caller read', () => {
    const SAVED = '{"saved":"by an editor, meanwhile"}\n';
    /** The real disk, running `save` once, right after the temp is closed: just before the rename. */
    const savingBeforeRename = (save: () => void): FsLike => ({
      ...nodeFs,
      open: async (path, flags, mode) => {
        const handle = await nodeFs.open(path, flags, mode);
        return {
          write: (...args) => handle.write(...args),
          sync: () => handle.sync(),
          chmod: (m) => handle.chmod(m),
          chown: (uid, gid) => handle.chown(uid, gid),
          close: async () => {
            await handle.close();
            save();
          },
        };
      },
    });
    const refusal = async (write: Promise<void>): Promise<AtomicWriteError> => {
      const error = await write.then(
        () => assert.fail('the write should have been refused'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof AtomicWriteError, String(error));
      assert.deepEqual([error.step, error.code], ['confirm', 'ECHANGED']);
      return error;
    };

    test('still the bytes read: written', async () => {
      await writeFileAtomic(target, NEW, { expected: Buffer.from(OLD) });
      assert.equal(readFileSync(target, 'utf8'), NEW);
      await writeFileAtomic(join(dir, 'new.json'), NEW, { expected: null });
      assert.equal(readFileSync(join(dir, 'new.json'), 'utf8'), NEW);
    });

    test('a save between the read and the rename: refused naming the file, the save kept, no temp left', async () => {
      const error = await refusal(
        writeFileAtomic(target, NEW, {
          expected: Buffer.from(OLD),
          fs: savingBeforeRename(() => writeFileSync(target, SAVED)),
        }),
      );
      assert.ok(error.message.includes(target), error.message);
      assert.equal(readFileSync(target, 'utf8'), SAVED);
      assert.deepEqual(leftovers(dir), []);
    });

    test('a save already made before the write started: refused', async () => {
      writeFileSync(target, SAVED);
      await refusal(writeFileAtomic(target, NEW, { expected: Buffer.from(OLD) }));
      assert.equal(readFileSync(target, 'utf8'), SAVED);
    });

    test('the same bytes saved again (a new file in its place) after it was inspected: refused, not guessed', async () => {
      const fs = savingBeforeRename(() => {
        writeFileSync(`${target}.editor-tmp`, OLD);
        renameSync(`${target}.editor-tmp`, target);
      });
      await refusal(writeFileAtomic(target, NEW, { expected: Buffer.from(OLD), fs }));
      assert.equal(readFileSync(target, 'utf8'), OLD);
    });

    test('through a symlink: the real file is compared; a save to it is kept, and the message names link and file', async () => {
      const home = mkdtempSync(join(tmpdir(), 'cs-atomic-home-'));
      try {
        const real = join(home, 'settings.json');
        const link = join(dir, 'link.json');
        writeFileSync(real, OLD);
        symlinkSync(real, link);
        const error = await refusal(
          writeFileAtomic(link, NEW, {
            expected: Buffer.from(OLD),
            fs: savingBeforeRename(() => writeFileSync(real, SAVED)),
          }),
        );
        assert.ok(error.message.includes(link) && error.message.includes(real), error.message);
        assert.equal(readFileSync(real, 'utf8'), SAVED);
        assert.ok(lstatSync(link).isSymbolicLink());
        assert.deepEqual([...leftovers(dir), ...leftovers(home)], []);
      } finally {
        rmSync(home, { recursive: true, force: true });
      }
    });

    test('expected absent, but a file was created meanwhile: refused, the file kept', async () => {
      const fresh = join(dir, 'fresh.json');
      await refusal(
        writeFileAtomic(fresh, NEW, { expected: null, fs: savingBeforeRename(() => writeFileSync(fresh, SAVED)) }),
      );
      assert.equal(readFileSync(fresh, 'utf8'), SAVED);
    });

    test('expected bytes, but the file is gone: refused, nothing created', async () => {
      const gone = join(dir, 'gone.json');
      await refusal(writeFileAtomic(gone, NEW, { expected: Buffer.from(OLD) }));
      assert.equal(existsSync(gone), false);
      assert.deepEqual(leftovers(dir), []);
    });
  });

  suite("beforeRename: the caller's last check, between the durable temp and the rename", () => {
    /** The real disk, recording fsync, close, rename and directory fsync of the write in `order`. */
    const recordingFs = (order: string[]): FsLike => ({
      ...nodeFs,
      open: async (path, flags, mode) => {
        const handle = await nodeFs.open(path, flags, mode);
        return {
          write: (...args) => handle.write(...args),
          chmod: (m) => handle.chmod(m),
          chown: (uid, gid) => handle.chown(uid, gid),
          sync: async () => {
            order.push('fsync');
            await handle.sync();
          },
          close: async () => {
            order.push('close');
            await handle.close();
          },
        };
      },
      rename: async (from, to) => {
        order.push('rename');
        await nodeFs.rename(from, to);
      },
      fsyncDir: async (path) => {
        order.push('fsyncDir');
        await nodeFs.fsyncDir(path);
      },
    });

    test('runs once, after the temp is complete, fsynced and closed, and before the rename', async () => {
      const order: string[] = [];
      const seen: Array<{ temps: string[]; tempContent: string; target: string }> = [];
      await writeFileAtomic(target, NEW, {
        fs: recordingFs(order),
        beforeRename: async () => {
          order.push('beforeRename');
          const temps = leftovers(dir);
          seen.push({
            temps,
            tempContent: readFileSync(join(dir, temps[0]!), 'utf8'),
            target: readFileSync(target, 'utf8'),
          });
        },
      });
      assert.deepEqual(order, ['fsync', 'close', 'beforeRename', 'rename', 'fsyncDir']);
      assert.equal(seen.length, 1);
      assert.equal(seen[0]!.temps.length, 1);
      assert.equal(seen[0]!.tempContent, NEW);
      assert.equal(seen[0]!.target, OLD);
      assert.equal(readFileSync(target, 'utf8'), NEW);
      assert.deepEqual(leftovers(dir), []);
    });

    test('a throw aborts: nothing renamed, the target byte-identical, the temp gone, the error as cause', async () => {
      const order: string[] = [];
      const refused = new Error('the lock is no longer ours');
      const error = await writeFileAtomic(target, NEW, {
        fs: recordingFs(order),
        beforeRename: async () => {
          throw refused;
        },
      }).then(
        () => assert.fail('the write should have been aborted'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof AtomicWriteError, String(error));
      assert.deepEqual([error.step, error.code], ['confirm', 'ECANCELED']);
      assert.equal(error.cause, refused);
      assert.ok(!order.includes('rename'), order.join());
      assert.equal(readFileSync(target, 'utf8'), OLD);
      assert.deepEqual(leftovers(dir), []);
    });

    test('a throw on a new target: nothing created', async () => {
      const fresh = join(dir, 'fresh.json');
      await assert.rejects(
        writeFileAtomic(fresh, NEW, {
          beforeRename: async () => {
            throw Object.assign(new Error('refused'), { code: 'EACCES' });
          },
        }),
        (e: unknown) => e instanceof AtomicWriteError && e.step === 'confirm' && e.code === 'EACCES',
      );
      assert.equal(existsSync(fresh), false);
      assert.deepEqual(leftovers(dir), []);
    });

    test('a rename refused for a moment (EPERM) is checked again before each retry; a later refusal renames nothing', async () => {
      const fs = new FaultyFs([{ step: 'rename', code: 'EPERM', times: 2 }]);
      let asked = 0;
      await writeFileAtomic(target, NEW, {
        fs,
        ...FAST_RETRY,
        beforeRename: async () => {
          asked += 1;
        },
      });
      assert.equal(asked, 3);
      assert.equal(readFileSync(target, 'utf8'), NEW);

      writeFileSync(target, OLD);
      const retried = new FaultyFs([{ step: 'rename', code: 'EPERM', times: 1 }]);
      let tries = 0;
      const lost = new Error('the lock was lost while the rename was refused');
      await assert.rejects(
        writeFileAtomic(target, NEW, {
          fs: retried,
          ...FAST_RETRY,
          beforeRename: async () => {
            tries += 1;
            if (tries === 2) throw lost;
          },
        }),
        (e: unknown) => e instanceof AtomicWriteError && e.step === 'confirm' && e.cause === lost,
      );
      assert.equal(retried.calls.filter((c) => c === 'rename').length, 1);
      assert.equal(readFileSync(target, 'utf8'), OLD);
      assert.deepEqual(leftovers(dir), []);
    });

    test('runs after the expected check: a refused write never asks it', async () => {
      let asked = 0;
      writeFileSync(target, '{"saved":"meanwhile"}\n');
      await assert.rejects(
        writeFileAtomic(target, NEW, {
          expected: Buffer.from(OLD),
          beforeRename: async () => {
            asked += 1;
          },
        }),
        (e: unknown) => e instanceof AtomicWriteError && e.code === 'ECHANGED',
      );
      assert.equal(asked, 0);
    });
  });

  test('100 un-awaited writes to one file: the last submitted wins', async () => {
    const writes = Array.from({ length: 100 }, (_, i) =>
      writeFileAtomic(target, `{"n":${i}}\n`, { durability: 'fast' }),
    );
    await Promise.all(writes);
    assert.equal(readFileSync(target, 'utf8'), '{"n":99}\n');
    assert.deepEqual(leftovers(dir), []);
  });
});
