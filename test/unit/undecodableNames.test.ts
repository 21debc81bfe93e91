import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeNameBytes } from '../../src/core/fs';
import { scanOrphans, sweepOrphans } from '../../src/core/orphans/orphans';
import { RecoveryError, recoverTarget } from '../../src/core/orphans/recovery';
import { setAge } from '../support/agedFiles';

const TEMP_SUFFIX = '.json.cs-4242-0-1-0123abcd.tmp';
const FFFD = '\ufffd';
const HOUR = 3_600_000;

suite('names on disk that are not valid UTF-8: reported, never merged with the name they decode to', () => {
  let root: string;
  /** A path under root whose name holds the byte 0xFE where `{}` stands; Node would decode it as U+FFFD. */
  const badPath = (pattern: string) => {
    const [before, after] = pattern.split('{}');
    return Buffer.concat([Buffer.from(`${root}/${before}`), Buffer.from([0xfe]), Buffer.from(after ?? '')]);
  };
  const plant = (path: string | Buffer, content: string) => {
    writeFileSync(path, content);
    setAge(path, HOUR);
  };

  setup(() => {
    root = realpathSync(mkdtempSync(join(tmpdir(), 'cs-names-')));
  });
  teardown(() => rmSync(root, { recursive: true, force: true }));

  test('a temp `d\\xfe…` beside its valid twin `d\\uFFFD…`: the twin is listed once, the other reported by its bytes', async () => {
    plant(join(root, `d${FFFD}.json`), '{"broken":');
    plant(join(root, `d${FFFD}${TEMP_SUFFIX}`), '{"also broken":');
    // The only good copy, under a name no string path reaches.
    plant(badPath(`d{}${TEMP_SUFFIX}`), '{"good":true}');
    const { orphans, errors } = await scanOrphans([root]);
    assert.deepEqual(
      orphans.map((orphan) => [orphan.path, orphan.validJson]),
      [[join(root, `d${FFFD}${TEMP_SUFFIX}`), false]],
    );
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.path, join(root, `d\\xfe${TEMP_SUFFIX}`));
    assert.match(errors[0]!.error, /not valid UTF-8/);
  });

  test('a folder `sub\\xfe` beside `sub\\uFFFD` is not entered (reported), and `sub\\uFFFD` is walked once', async () => {
    mkdirSync(join(root, `sub${FFFD}`));
    mkdirSync(badPath('sub{}'));
    plant(join(root, `sub${FFFD}`, 'a.json'), '{}');
    plant(join(root, `sub${FFFD}`, `a${TEMP_SUFFIX}`), '{}');
    const { orphans, errors } = await scanOrphans([root]);
    assert.deepEqual(
      orphans.map((orphan) => orphan.path),
      [join(root, `sub${FFFD}`, `a${TEMP_SUFFIX}`)],
    );
    assert.deepEqual(
      errors.map((error) => [error.path, error.skipped]),
      [[join(root, 'sub\\xfe'), true]],
    );
  });

  test('a target `t\\xfe.json` is no sibling for a weak temp `t\\uFFFD.json.<n>`: not taken for its temp, so never swept', async () => {
    plant(badPath('t{}.json'), '{"target":true}');
    const weak = join(root, `t${FFFD}.json.3000000001`);
    plant(weak, 'not json');
    const { orphans } = await scanOrphans([root]);
    assert.deepEqual(orphans, []);
    const swept = await sweepOrphans(
      [
        {
          path: weak,
          target: join(root, `t${FFFD}.json`),
          kind: 'write-file-atomic',
          size: 8,
          mtimeMs: 0,
          ageMs: HOUR,
          validJson: false,
          targetState: 'missing',
        },
      ],
      { roots: [root], olderThanMs: 0 },
    );
    assert.deepEqual(swept.removed, []);
  });

  test('sweep keeps a path whose name another (undecodable) name in its folder reads as', async () => {
    plant(join(root, `e${FFFD}.json`), '{}');
    plant(join(root, `e${FFFD}${TEMP_SUFFIX}`), '{"x":1}');
    plant(badPath(`e{}${TEMP_SUFFIX}`), '{"x":2}');
    const { orphans } = await scanOrphans([root]);
    assert.equal(orphans.length, 1);
    const result = await sweepOrphans(orphans, { roots: [root], olderThanMs: 0 });
    assert.deepEqual(result.removed, []);
    assert.match(result.kept.map((kept) => kept.reason).join('\n'), /not valid UTF-8/);
  });

  test('recover never weighs a temp by its decoded name: it is rejected as undecodable, by its bytes', async () => {
    const target = join(root, `r${FFFD}.json`);
    plant(target, '{"broken":');
    plant(badPath(`r{}${TEMP_SUFFIX}`), '{"good":true}');
    await assert.rejects(recoverTarget(target), (error: unknown) => {
      assert.ok(error instanceof RecoveryError);
      assert.equal(error.code, 'no-candidate');
      assert.match(error.message, /r\\xfe\.json\.cs-.*not valid UTF-8/);
      return true;
    });
  });

  test('describeNameBytes: text stays text, bad bytes and control characters become \\xNN', () => {
    assert.equal(describeNameBytes(Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x2e, 0x6a])), 'caf\\xe9.j');
    assert.equal(describeNameBytes(Buffer.from('é\ufffd\n', 'utf8')), 'é\ufffd\\x0a');
    assert.equal(describeNameBytes(Buffer.from([0xe2, 0x82, 0x41])), '\\xe2\\x82A');
  });
});
