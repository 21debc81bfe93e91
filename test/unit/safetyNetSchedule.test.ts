import * as assert from 'node:assert/strict';
import { SAFETY_NET_QUIET_MS, safetyNetIntervalMs, safetyNetWaitMs } from '../../src/ui/orphans/safetyNetSchedule';

suite('when the safety-net walk runs', () => {
  test('every scanIntervalMinutes, longer (up to an hour) only where one walk would take more than 1% of it; 0 stays off', () => {
    assert.equal(safetyNetIntervalMs(5, undefined), 300_000);
    assert.equal(safetyNetIntervalMs(5, 150), 300_000, '10,000 files: the setting');
    assert.equal(safetyNetIntervalMs(5, 3_000), 300_000, 'a walk of 1% of five minutes: still the setting');
    assert.equal(safetyNetIntervalMs(5, 4_200), 420_000, 'a million files walked in 4.2 s: every 7 minutes');
    assert.equal(safetyNetIntervalMs(30, 4_200), 1_800_000, 'a longer setting wins');
    assert.equal(safetyNetIntervalMs(5, 120_000), 3_600_000, 'a walk stretched to 2 min by load: hourly at most');
    assert.equal(safetyNetIntervalMs(90, 120_000), 5_400_000, 'unless the setting says longer');
    assert.equal(safetyNetIntervalMs(0, 4_200), 0);
    assert.equal(safetyNetIntervalMs(-1, 100), 0);
  });

  test('waits for file events to be quiet for 10 s, but never past its deadline', () => {
    const now = 1_000_000;
    const deadline = now + 300_000;
    assert.equal(safetyNetWaitMs(now, undefined, deadline), 0, 'no event yet: now');
    assert.equal(safetyNetWaitMs(now, now - SAFETY_NET_QUIET_MS, deadline), 0, 'quiet long enough: now');
    assert.equal(safetyNetWaitMs(now, now - 60_000, deadline), 0);
    assert.equal(safetyNetWaitMs(now, now - 2_000, deadline), 8_000, 'amid a storm: until 10 s after its last event');
    assert.equal(safetyNetWaitMs(now, now, now + 3_000), 3_000, 'a storm that never ends: the deadline');
    assert.equal(safetyNetWaitMs(now, now, now - 5), 0, 'past the deadline: now');
  });
});
