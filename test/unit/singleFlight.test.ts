import * as assert from 'node:assert/strict';
import { SingleFlight } from '../../src/core/singleFlight';

suite('SingleFlight', () => {
  test('a burst during a run shares it and causes exactly one more run', async () => {
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
    assert.deepEqual(await Promise.all([first, ...during]), [1, 1, 1, 1]);
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(runs, 2);
    assert.equal(await flight.run(), 3);
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
