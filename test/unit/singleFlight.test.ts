import * as assert from 'node:assert/strict';
import { SingleFlight } from '../../src/core/singleFlight';

suite('SingleFlight', () => {
  test('a burst during a run shares one follow-up run, whose result every caller of the burst gets', async () => {
    let runs = 0;
    let release!: () => void;
    const flight = new SingleFlight(async () => {
      runs += 1;
      if (runs === 1) await new Promise<void>((resolve) => (release = resolve));
      return runs;
    });
    const first = flight.run();
    const during = [flight.run(), flight.run(), flight.run()];
    release();
    // A caller during run 1 asked after run 1 read its state: it must get run 2, never run 1's stale result.
    assert.deepEqual(await Promise.all([first, ...during]), [1, 2, 2, 2]);
    assert.equal(runs, 2);
    assert.equal(await flight.run(), 3);
  });

  test('runs never overlap, even when a call arrives between a run and its follow-up', async () => {
    let active = 0;
    let most = 0;
    const flight = new SingleFlight(async () => {
      active += 1;
      most = Math.max(most, active);
      await new Promise((r) => setTimeout(r, 5));
      active -= 1;
      return active;
    });
    const calls = [flight.run(), flight.run()];
    await calls[0];
    calls.push(flight.run(), flight.run());
    await Promise.all(calls);
    assert.equal(most, 1);
  });

  test('a failed run rejects its callers and does not block later runs', async () => {
    let fail = true;
    const flight = new SingleFlight(async () => {
      if (fail) throw new Error('EACCES');
      return 'ok';
    });
    await assert.rejects(flight.run(), /EACCES/);
    fail = false;
    assert.equal(await flight.run(), 'ok');
  });
});
