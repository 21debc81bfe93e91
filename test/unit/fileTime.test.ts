import * as assert from 'node:assert/strict';
import { fileSafeTime } from '../../src/core/names/fileTime';

suite('fileSafeTime', () => {
  const at = Date.UTC(2025, 0, 2, 3, 4, 5, 678);

  test('formats a Date or epoch milliseconds without colons or dots', () => {
    assert.equal(fileSafeTime(at), '2025-01-02T03-04-05-678Z');
    assert.equal(fileSafeTime(new Date(at)), '2025-01-02T03-04-05-678Z');
  });

  test('millisSeparator "." keeps the older names (snapshot ids, damaged task lists) byte for byte', () => {
    assert.equal(fileSafeTime(at, { millisSeparator: '.' }), '2025-01-02T03-04-05.678Z');
    assert.equal(fileSafeTime(at, { millisSeparator: '.' }), new Date(at).toISOString().replace(/:/g, '-'));
  });

  test('sorts like the time it names', () => {
    assert.ok(fileSafeTime(Date.UTC(2024, 4, 1, 9)) < fileSafeTime(Date.UTC(2024, 4, 1, 10)));
    assert.ok(fileSafeTime(Date.UTC(2024, 4, 1, 9, 0, 0, 999)) < fileSafeTime(Date.UTC(2024, 4, 1, 9, 0, 1)));
  });
});
