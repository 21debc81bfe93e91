import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../../src/core/write/atomicWrite';
import { parseStatusUmask, processUmask } from '../../src/core/write/umask';

suite('the umask, read without process.umask() (DEP0139)', () => {
  test('parses the Umask line of /proc/<pid>/status', () => {
    assert.equal(parseStatusUmask('Name:\tnode\nUmask:\t0022\nState:\tR (running)\n'), 0o022);
    assert.equal(parseStatusUmask('Umask:\t0077\n'), 0o077);
    assert.equal(parseStatusUmask('Name:\tnode\nState:\tR\n'), undefined);
    assert.equal(parseStatusUmask('Umask:\t0999\n'), undefined);
  });

  test('follows a change of the mask, as process.umask() does', () => {
    const old = process.umask(0o027);
    try {
      assert.equal(processUmask(), 0o027);
    } finally {
      process.umask(old);
    }
    assert.equal(processUmask(), old);
  });

  test('a write of a new file on Linux never calls process.umask() without a mask (it sets the mask to 0 and back)', async function () {
    if (process.platform !== 'linux') this.skip();
    const dir = mkdtempSync(join(tmpdir(), 'cs-umask-'));
    const real = process.umask;
    let racyCalls = 0;
    process.umask = ((mask?: number | string) => {
      if (mask === undefined) racyCalls++;
      return mask === undefined ? real() : real(mask);
    }) as typeof process.umask;
    try {
      await writeFileAtomic(join(dir, 'new.json'), '{}\n');
      await writeFileAtomic(join(dir, 'new.json'), '{"again": true}\n');
    } finally {
      process.umask = real;
    }
    try {
      assert.equal(racyCalls, 0);
      assert.equal(statSync(join(dir, 'new.json')).mode & 0o777, 0o666 & ~process.umask());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
