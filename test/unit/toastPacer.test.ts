// The pace of our notifications against the workbench's spam protection (code-server 4.139: a notification that is
// the 4th to start within 800 ms of the first of a burst gets no toast). The workbench's counter is modelled as it
// is written there; a burst of our results, plus a toast of another source now and then, never loses one.
import * as assert from 'node:assert/strict';
import { OURS_PER_WINDOW, PACE_WINDOW_MS, ToastPacer } from '../../src/ui/toastPacer';

/** The workbench's counter: reset when more than `interval` passed since the burst's first toast; > limit drops. */
class WorkbenchSpamCounter {
  private first = Number.NEGATIVE_INFINITY;
  private value = 0;
  increment(now: number): number {
    if (now - this.first > 800) {
      this.first = now;
      this.value = 0;
    }
    return ++this.value;
  }
}

/** A fake clock: sleeping moves time on. */
function fakeClock() {
  let now = 0;
  return {
    now: () => now,
    sleep: async (ms: number) => {
      now += Math.max(0, ms);
    },
    advance: (ms: number) => {
      now += ms;
    },
  };
}

suite('toast pacer: results are never the 4th toast of a burst', () => {
  test('ten results asked for at once each get a toast, even with another source adding one per window', async () => {
    const clock = fakeClock();
    const pacer = new ToastPacer(clock.now, clock.sleep);
    const counter = new WorkbenchSpamCounter();
    const dropped: number[] = [];
    for (let result = 0; result < 10; result++) {
      await pacer.slot();
      // Another extension's toast just before ours, in the same window.
      if (result % OURS_PER_WINDOW === 0) counter.increment(clock.now());
      if (counter.increment(clock.now()) > 3) dropped.push(result);
    }
    assert.deepEqual(dropped, []);
  });

  test('unpaced, the same burst loses toasts (the model is not vacuous)', () => {
    const counter = new WorkbenchSpamCounter();
    const dropped = [0, 1, 2, 3, 4].filter(() => counter.increment(0) > 3);
    assert.deepEqual(dropped, [3, 4]);
  });

  test('two results start at once; the third waits for the first to leave the window, in call order', async () => {
    const clock = fakeClock();
    const pacer = new ToastPacer(clock.now, clock.sleep);
    const started: number[] = [];
    await Promise.all([0, 1, 2].map(() => pacer.slot().then(() => started.push(clock.now()))));
    assert.deepEqual(started, [0, 0, PACE_WINDOW_MS]);
    clock.advance(2 * PACE_WINDOW_MS);
    const before = clock.now();
    await pacer.slot();
    assert.equal(clock.now(), before, 'a result after a quiet spell waits for nothing');
  });
});
