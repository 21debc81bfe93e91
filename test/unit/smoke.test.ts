import * as assert from 'node:assert/strict';
import { ourTempPath, parseOurTempName } from '../../src/core/tempNames';

suite('tempNames', () => {
  test('our temp names parse back to their target', () => {
    const name = ourTempPath('/x/state.json').split('/').pop()!;
    assert.equal(parseOurTempName(name)?.target, 'state.json');
  });
});
