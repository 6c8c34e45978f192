import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PRIORITY, WorkQueue } from '../../src/server/workQueue.js';

/** A promise and the function that settles it. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => {
    open = r;
  });
  return { wait, open };
}

describe('WorkQueue', () => {
  it('a click runs while a long propagation is in flight (the propagation waits on the click here)', async () => {
    const q = new WorkQueue();
    const clicked = gate();
    const order: string[] = [];
    const long = q.run('m', 'long', PRIORITY.propagation, async () => {
      order.push('propagation starts');
      await clicked.wait; // would deadlock if the click queued behind it
      order.push('propagation ends');
    });
    await q.run('m', 'interactive', PRIORITY.interactive, async () => {
      order.push('click');
    });
    clicked.open();
    await long;
    assert.deepEqual(order, ['propagation starts', 'click', 'propagation ends']);
  });

  it('runs as many clicks at once as the lane allows, never more, in arrival order', async () => {
    const q = new WorkQueue(
      () => {},
      (model, lane) => (lane === 'interactive' && model === 'workers' ? 2 : 1),
    );
    for (const [model, width] of [
      ['workers', 2],
      ['main-thread', 1],
    ] as const) {
      let running = 0,
        peak = 0;
      const started: number[] = [];
      const gates = Array.from({ length: 5 }, gate);
      const tasks = gates.map((g, i) =>
        q.run(model, 'interactive', PRIORITY.interactive, async () => {
          started.push(i);
          peak = Math.max(peak, ++running);
          await g.wait;
          running--;
        }),
      );
      await new Promise((r) => setImmediate(r));
      assert.equal(q.depth(model, 'interactive'), 5);
      for (const g of gates) {
        g.open();
        await new Promise((r) => setImmediate(r));
      }
      await Promise.all(tasks);
      assert.equal(peak, width, model);
      assert.deepEqual(started, [0, 1, 2, 3, 4], model);
      assert.equal(q.depth(model, 'interactive'), 0);
    }
  });

  it('the long lane runs one at a time, propagations before batch jobs', async () => {
    const q = new WorkQueue();
    const first = gate();
    const order: string[] = [];
    const a = q.run('m', 'long', PRIORITY.job, async () => {
      order.push('job 1');
      await first.wait;
    });
    const b = q.run('m', 'long', PRIORITY.job, async () => void order.push('job 2'));
    const c = q.run('m', 'long', PRIORITY.propagation, async () => void order.push('propagation'));
    first.open();
    await Promise.all([a, b, c]);
    assert.deepEqual(order, ['job 1', 'propagation', 'job 2']);
  });
});
