import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Sam2ImageFeatures } from '../../src/engine/sam2/types.js';
import { FeatureCache } from '../../src/predictor/sam2/featureCache.js';

/** Features whose values name the frame, so a mix-up between frames cannot go unnoticed. */
function feats(i: number): Sam2ImageFeatures {
  return { visionFeatures: Float32Array.of(i), visionPosEnc: Float32Array.of(0), highRes0: Float32Array.of(i), highRes1: Float32Array.of(i) };
}

/** An encoder whose runs finish only when the test says so, recording what ran where. */
function manualEncoder() {
  const started: number[] = [];
  const waiting = new Map<number, { resolve: (f: Sam2ImageFeatures) => void; reject: (e: Error) => void }>();
  const encode = (i: number) => {
    started.push(i);
    return new Promise<Sam2ImageFeatures>((resolve, reject) => waiting.set(i, { resolve, reject }));
  };
  const finish = (i: number) => {
    const w = waiting.get(i);
    assert.ok(w, `frame ${i} is not being encoded`);
    waiting.delete(i);
    w.resolve(feats(i));
  };
  const fail = (i: number) => {
    const w = waiting.get(i)!;
    waiting.delete(i);
    w.reject(new Error(`worker lost frame ${i}`));
  };
  return { encode, started, finish, fail, waiting };
}

const tick = () => new Promise((r) => setImmediate(r));

test('prefetch: the background encoder works through the plan, at most `lookahead` frames ahead', async () => {
  const fg: number[] = [];
  const bg = manualEncoder();
  const cache = new FeatureCache(16, async (i) => (fg.push(i), feats(i)), bg.encode, 2);
  cache.prefetch([5, 6, 7, 8, 9]);
  assert.deepEqual(bg.started, [5], 'one background encode at a time');
  bg.finish(5);
  await tick();
  assert.deepEqual(bg.started, [5, 6]);
  bg.finish(6);
  await tick();
  assert.deepEqual(bg.started, [5, 6], 'two frames ahead and none requested: the lookahead stops the worker');
  assert.equal((await cache.get(5)).visionFeatures[0], 5);
  await tick();
  assert.deepEqual(bg.started, [5, 6, 7], 'a request frees a lookahead slot');
  assert.deepEqual(fg, [], 'nothing was encoded in the foreground');
  // A frame nobody planned is encoded in the foreground.
  assert.equal((await cache.get(2)).visionFeatures[0], 2);
  assert.deepEqual(fg, [2]);
  assert.equal(cache.encodeCount, 3);
});

test('prefetch: while the requested frame is still encoding in the background, the caller encodes the next planned one', async () => {
  const fg = manualEncoder();
  const bg = manualEncoder();
  const cache = new FeatureCache(16, fg.encode, bg.encode, 4);
  cache.prefetch([0, 1, 2, 3]);
  assert.deepEqual(bg.started, [0]);
  const got0 = cache.get(0);
  await tick();
  assert.deepEqual(fg.started, [1], 'the caller took frame 1 instead of idling');
  bg.finish(0);
  await tick();
  assert.deepEqual(bg.started, [0, 2], 'the worker skips the frame the caller took');
  fg.finish(1);
  assert.equal((await got0).visionFeatures[0], 0);
  assert.equal((await cache.get(1)).visionFeatures[0], 1);
  bg.finish(2);
  await tick();
  assert.equal((await cache.get(2)).visionFeatures[0], 2);
  await tick();
  bg.finish(3);
  assert.equal((await cache.get(3)).visionFeatures[0], 3);
  assert.deepEqual([...fg.started, ...bg.started].sort(), [0, 1, 2, 3], 'every frame encoded exactly once');
});

test('prefetch: a failed background encode is redone in the foreground, whose error surfaces', async () => {
  const bg = manualEncoder();
  let fgCalls = 0;
  const cache = new FeatureCache(8, async (i) => {
    fgCalls++;
    if (i === 1) throw new Error('frame 1 is unreadable');
    return feats(i);
  }, bg.encode, 1);
  cache.prefetch([0, 1]);
  bg.fail(0);
  await tick();
  assert.equal((await cache.get(0)).visionFeatures[0], 0, 'redone in the foreground');
  assert.equal(fgCalls, 1);
  await tick();
  bg.fail(1);
  await tick();
  await assert.rejects(cache.get(1), /frame 1 is unreadable/);
});

test('prefetch: a new plan goes first; without a background encoder prefetch does nothing', async () => {
  const bg = manualEncoder();
  const cache = new FeatureCache(8, async (i) => feats(i), bg.encode, 3);
  cache.prefetch([0, 1, 2]);
  bg.finish(0);
  await tick();
  cache.prefetch([7, 6]);
  bg.finish(1);
  await tick();
  assert.deepEqual(bg.started, [0, 1, 7], 'the newer plan is served before the rest of the older one');
  assert.equal(new FeatureCache(1, async (i) => feats(i), bg.encode).lookahead, 0, 'no room to fetch ahead in a 1-frame cache');

  const fg: number[] = [];
  const plain = new FeatureCache(8, async (i) => (fg.push(i), feats(i)));
  plain.prefetch([0, 1, 2]);
  await tick();
  assert.deepEqual(fg, []);
});
