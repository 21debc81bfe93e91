import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Orphan } from '../../../src/core/orphans/orphans';
import { plantTempPairs } from '../../support/agedFiles';

const cli = join(__dirname, '..', '..', '..', 'dist', 'cli.js');
const TEMPS = 1500;

/**
 * Runs the built CLI's scan under `ulimit -n LIMIT`; `preload` is a script run first in the same process (to hold
 * descriptors the way other code in the process might).
 */
function scanWithLimit(root: string, limit: number, preload?: string) {
  const node = [process.execPath, ...(preload ? ['--require', preload] : []), cli, 'scan', root, '--json'];
  const quoted = node.map((part) => `'${part}'`).join(' ');
  return spawnSync('bash', ['-c', `ulimit -n ${limit} && exec ${quoted}`], {
    encoding: 'utf8',
    timeout: 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
}

suite('cli scan: a low descriptor limit never turns into "target unknown" or exit 0 with nothing judged', () => {
  let root: string;
  suiteSetup(() => {
    root = realpathSync(mkdtempSync(join(tmpdir(), 'cs-scan-fds-')));
    plantTempPairs(root, TEMPS, 3_600_000);
  });
  suiteTeardown(() => rmSync(root, { recursive: true, force: true }));

  test(`${TEMPS} temps in one folder under ulimit -n 256: every one judged, nothing unknown, no EMFILE`, () => {
    const result = scanWithLimit(root, 256);
    assert.equal(result.status, 0, result.stderr);
    assert.doesNotMatch(result.stderr, /EMFILE|too many open files/);
    const orphans = JSON.parse(result.stdout) as Orphan[];
    assert.equal(orphans.length, TEMPS);
    const unjudged = orphans.filter((orphan) => orphan.targetState !== 'ok' || orphan.validJson !== true);
    assert.deepEqual(unjudged, []);
  });

  test('descriptors held by other code for a moment: the scan waits, then judges every temp (exit 0)', () => {
    const preload = join(root, '..', `${root.split('/').pop()}-hold-briefly.js`);
    writeFileSync(
      preload,
      `const fs = require('node:fs');
       setImmediate(() => {
         const held = [];
         try { for (;;) held.push(fs.openSync('/dev/null', 'r')); } catch {}
         setTimeout(() => held.forEach((fd) => fs.closeSync(fd)), 400);
       });`,
    );
    try {
      const result = scanWithLimit(root, 256, preload);
      assert.equal(result.status, 0, result.stderr);
      const orphans = JSON.parse(result.stdout) as Orphan[];
      assert.equal(orphans.length, TEMPS);
      assert.ok(orphans.every((orphan) => orphan.targetState === 'ok' && orphan.validJson === true));
    } finally {
      rmSync(preload, { force: true });
    }
  });

  test('descriptors held by other code for good: exit 1 and a message, never a list of "unknown" judgements', () => {
    const preload = join(root, '..', `${root.split('/').pop()}-hold.js`);
    writeFileSync(
      preload,
      `const fs = require('node:fs');
       setImmediate(() => { const held = []; try { for (;;) held.push(fs.openSync('/dev/null', 'r')); } catch {} globalThis.held = held; });`,
    );
    try {
      const result = scanWithLimit(root, 256, preload);
      assert.equal(result.status, 1, result.stdout.slice(0, 500));
      assert.match(result.stderr, /out of file descriptors/);
      assert.doesNotMatch(result.stdout, /"targetState": "unknown"/);
    } finally {
      rmSync(preload, { force: true });
    }
  });
});
