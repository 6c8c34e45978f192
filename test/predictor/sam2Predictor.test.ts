import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MedsamError } from '../../src/common/errors.js';
import { Sam2VideoPredictor, type Sam2FrameResult } from '../../src/predictor/sam2/videoPredictor.js';
import { FAKE, FakeSam2Modules, fakeConfig, fakeFrames, memoryFrames, memoryTposRows } from '../helpers/fakeSam2Modules.js';

/** Control-flow tests of the SAM2 video predictor over recording fake modules (no model needed). */

const m = 4 * (FAKE.S / FAKE.stride); // low-res mask side

async function collect(g: AsyncGenerator<Sam2FrameResult>): Promise<Sam2FrameResult[]> {
  const out: Sam2FrameResult[] = [];
  for await (const r of g) out.push(r);
  return out;
}

async function setup(n = 10, opts: ConstructorParameters<typeof Sam2VideoPredictor>[2] = {}, cfg = fakeConfig()) {
  const mods = new FakeSam2Modules();
  const p = new Sam2VideoPredictor(mods, cfg, { fillHoleArea: 0, ...opts });
  const frames = fakeFrames(n);
  const state = await p.initState(frames, 40, 50);
  return { mods, p, frames, state };
}

test('box prompt: coordinates, box labels, no-memory embedding, temp storage', async () => {
  const { mods, p, state } = await setup();
  const r = await p.addNewPointsOrBox(state, { frameIdx: 4, objId: 1, box: [10, 20, 30, 40] });
  assert.equal(r.storage, 'temp');
  assert.deepEqual(r.objIds, [1]);
  assert.equal(r.videoResMasks[0]!.length, 40 * 50);
  const h = mods.calls.heads[0]!;
  const f = Math.fround;
  // x / W * S and y / H * S in float32; box corners carry labels 2 and 3
  assert.deepEqual(
    [...h.pointCoords!],
    [10, 20, 30, 40].map((v, i) => f(f(v / (i % 2 ? 40 : 50)) * FAKE.S)),
  );
  assert.deepEqual([...h.pointLabels!], [2, 3]);
  assert.equal(h.multimaskOutput, false, 'a box (two points) gives a single mask');
  assert.equal(h.pixFeat[0], 4.5, 'initial conditioning frame adds no_mem_embed (0.5) to frame 4 features');
  assert.equal(h.maskInputs, undefined);
  assert.equal(mods.calls.memEnc.length, 0, 'memory is encoded only when propagation starts');
  await assert.rejects(p.addNewPointsOrBox(state, { frameIdx: 4, objId: 1, box: [1, 2, 3, 4], clearOldPoints: false }), MedsamError);
  await assert.rejects(p.addNewPointsOrBox(state, { frameIdx: 4, objId: 1, points: [[1, 2]] }), MedsamError);
  await assert.rejects(p.addNewPointsOrBox(state, { frameIdx: 10, objId: 1, box: [1, 2, 3, 4] }), MedsamError);
});

test('forward propagation: memory bank order, temporal rows, signed pointers, one encode per frame', async () => {
  const { mods, p, frames, state } = await setup();
  await p.addNewPointsOrBox(state, { frameIdx: 4, objId: 1, box: [10, 20, 30, 40] });
  const out = await collect(p.propagateInVideo(state));
  assert.deepEqual(
    out.map((o) => o.frameIdx),
    [4, 5, 6, 7, 8, 9],
  );
  assert.deepEqual(
    out.map((o) => o.recomputed),
    [false, true, true, true, true, true],
  );
  assert.deepEqual(
    out.map((o) => o.storage),
    ['cond', 'nonCond', 'nonCond', 'nonCond', 'nonCond', 'nonCond'],
  );
  // preflight encodes the prompted frame with binarised masks, tracked frames use sigmoid
  assert.deepEqual(
    mods.calls.memEnc.map((c) => c.binarize),
    [true, false, false, false, false, false],
  );
  const a5 = mods.calls.attend[0]!;
  assert.deepEqual(memoryFrames(a5), [4]);
  assert.deepEqual(memoryTposRows(a5), [6], 'conditioning memories use the last tpos row');
  const a9 = mods.calls.attend[4]!;
  assert.deepEqual(memoryFrames(a9), [4, 5, 6, 7, 8]);
  assert.deepEqual(memoryTposRows(a9), [6, 3, 2, 1, 0]);
  assert.equal(a9.numObjPtrTokens, 5 * (FAKE.C / FAKE.Cm), 'each pointer is split into C/Cm tokens');
  assert.deepEqual(mods.calls.tpos[4], { relPos: [5, 1, 2, 3, 4], tDiffMax: 9 });
  // tracked frames: multimask with no points, no mask input
  const h = mods.calls.heads.at(-1)!;
  assert.equal(h.multimaskOutput, true);
  assert.equal(h.pointCoords, undefined);
  assert.deepEqual(mods.calls.encode, [4, 5, 6, 7, 8, 9], 'each frame encoded once (no frame-0 warm-up)');
  assert.deepEqual(frames.reads, [4, 5, 6, 7, 8, 9]);
  await assert.rejects(p.addNewPointsOrBox(state, { frameIdx: 2, objId: 2, box: [1, 2, 3, 4] }), /after tracking starts/);
});

test('reverse propagation after a forward pass attends to forward memories (frame+1..) with signed pointers', async () => {
  const { mods, p, state } = await setup();
  await p.addNewPointsOrBox(state, { frameIdx: 4, objId: 1, points: [[5, 5]], labels: [1] });
  await collect(p.propagateInVideo(state));
  const n = mods.calls.attend.length;
  const out = await collect(p.propagateInVideo(state, { startFrameIdx: 4, reverse: true }));
  assert.deepEqual(
    out.map((o) => o.frameIdx),
    [4, 3, 2, 1, 0],
  );
  const a3 = mods.calls.attend[n]!;
  assert.deepEqual(memoryFrames(a3), [4, 9, 8, 7, 6, 5]);
  assert.deepEqual(memoryTposRows(a3), [6, 5, 4, 3, 2, 1]);
  assert.deepEqual(mods.calls.tpos[n]!.relPos, [1, 2, 3, 4, 5, 6], 'cond frame 4 seen from 3 in reverse is +1');
  assert.deepEqual(mods.calls.encode, [4, 5, 6, 7, 8, 9, 3, 2, 1, 0]);
  // reverse from frame 0 tracks nothing
  assert.deepEqual(await collect(p.propagateInVideo(state, { startFrameIdx: 0, reverse: true })), []);
  // max_frame_num_to_track bounds the range (inclusive of start, like upstream)
  assert.deepEqual(
    (await collect(p.propagateInVideo(state, { startFrameIdx: 4, maxFrameNumToTrack: 2 }))).map((o) => o.frameIdx),
    [4, 5, 6],
  );
});

test('correction click on a tracked frame: non-cond storage, memory-conditioned, clamped previous logits as mask input', async () => {
  const { mods, p, state } = await setup();
  mods.masks = () => Float32Array.from({ length: m * m }, (_, i) => (i % 2 ? 100 : -100));
  await p.addNewPointsOrBox(state, { frameIdx: 4, objId: 1, box: [10, 20, 30, 40] });
  await collect(p.propagateInVideo(state));
  const nAttend = mods.calls.attend.length;
  const r = await p.addNewPointsOrBox(state, { frameIdx: 7, objId: 1, points: [[3, 4]], labels: [0], clearOldPoints: false });
  assert.equal(r.storage, 'temp');
  const h = mods.calls.heads.at(-1)!;
  assert.equal(h.multimaskOutput, true, 'one click on a tracked frame: multimask via multimask_output_for_tracking');
  assert.equal(mods.calls.attend.length, nAttend + 1, 'correction is conditioned on memory');
  assert.ok(h.maskInputs, 'previous logits are fed back');
  assert.equal(Math.max(...h.maskInputs!), 32);
  assert.equal(Math.min(...h.maskInputs!), -32);
  // a second click concatenates points
  await p.addNewPointsOrBox(state, { frameIdx: 7, objId: 1, points: [[6, 8]], labels: [1], clearOldPoints: false });
  assert.deepEqual([...mods.calls.heads.at(-1)!.pointLabels!], [0, 1]);
  const out = await collect(p.propagateInVideo(state, { startFrameIdx: 4 }));
  const f7 = out.find((o) => o.frameIdx === 7)!;
  assert.equal(f7.storage, 'nonCond');
  assert.equal(f7.recomputed, false, 'the corrected frame is served from its consolidated output');
  assert.deepEqual(
    out.map((o) => o.recomputed),
    [false, true, true, false, true, true],
  );
});

test('multimask rule follows the config (0–1 points) on initial frames', async () => {
  const { mods, p, state } = await setup();
  await p.addNewPointsOrBox(state, { frameIdx: 1, objId: 1, points: [[3, 4]], labels: [1] });
  assert.equal(mods.calls.heads.at(-1)!.multimaskOutput, true);
  await p.addNewPointsOrBox(state, {
    frameIdx: 1,
    objId: 1,
    points: [
      [3, 4],
      [5, 6],
    ],
    labels: [1, 0],
  });
  assert.equal(mods.calls.heads.at(-1)!.multimaskOutput, false);
});

test('two objects on different frames: placeholders, empty-mask pointers, per-object memories', async () => {
  const { mods, p, state } = await setup();
  await p.addNewPointsOrBox(state, { frameIdx: 2, objId: 1, box: [10, 20, 30, 40] });
  const r = await p.addNewPointsOrBox(state, { frameIdx: 5, objId: 7, box: [1, 2, 30, 30] });
  assert.deepEqual(r.objIds, [1, 7]);
  assert.ok(
    r.lowResMasks[0]!.every((v) => v === -1024),
    'object 1 has no output on frame 5',
  );
  assert.ok(
    r.videoResMasks[0]!.every((v) => v === -1024),
    'r.videoResMasks[0]!.every((v) => v === -1024)',
  );
  assert.ok(
    r.objPtrs[0]!.every((v) => v === -1024),
    'r.objPtrs[0]!.every((v) => v === -1024)',
  );
  assert.equal(r.objectScoreLogits[0], 10);
  assert.ok(Number.isNaN(r.bestIous[0]!), 'Number.isNaN(r.bestIous[0]!)');
  const out = await collect(p.propagateInVideo(state));
  assert.deepEqual(
    out.map((o) => o.frameIdx),
    [2, 3, 4, 5, 6, 7, 8, 9],
  );
  const f2 = out[0]!;
  // after preflight, object 7's missing output on frame 2 carries the empty-mask pointer = no_obj_ptr (fixed_no_obj_ptr)
  assert.ok(
    f2.objPtrs[1]!.every((v) => v === -7),
    'f2.objPtrs[1]!.every((v) => v === -7)',
  );
  assert.equal(mods.calls.downsample, 2, 'one empty-mask pointer per prompted frame with a missing object');
  // each tracked (not prompted) frame runs every object once: frames 3, 4, 6, 7, 8, 9
  assert.equal(mods.calls.attend.length, 2 * 6);
});

test('mask prompt: ±10 logits, object score from mask presence, pointer from the decoder on the downsampled mask', async () => {
  const { mods, p, state } = await setup();
  const mask = new Uint8Array(40 * 50);
  for (let y = 10; y < 30; y++) for (let x = 10; x < 40; x++) mask[y * 50 + x] = 1;
  const r = await p.addNewMask(state, { frameIdx: 3, objId: 1, mask });
  assert.equal(r.objectScoreLogits[0], 10);
  assert.equal(r.bestIous[0], 1);
  const low = r.lowResMasks[0]!;
  assert.ok(Math.max(...low) <= 10 && Math.min(...low) >= -10 && Math.max(...low) > 9 && Math.min(...low) < -9, 'low-res logits span ±10');
  const h = mods.calls.heads.at(-1)!;
  assert.equal(h.pixFeat[0], 3, 'mask-as-output uses raw frame features (no no_mem_embed)');
  assert.equal(h.multimaskOutput, false);
  assert.ok(
    h.maskInputs!.every((v) => v === 1),
    'h.maskInputs!.every((v) => v === 1)',
  );
  const empty = await p.addNewMask(state, { frameIdx: 6, objId: 1, mask: new Uint8Array(40 * 50) });
  assert.equal(empty.objectScoreLogits[0], -10);
  assert.ok(
    empty.objPtrs[0]!.every((v) => v === -7),
    'absent object: pointer replaced by no_obj_ptr',
  );
  assert.ok(
    empty.lowResMasks[0]!.every((v) => Math.abs(v + 10) < 1e-5),
    'empty mask → −10 logits',
  );
  await assert.rejects(p.addNewMask(state, { frameIdx: 3, objId: 1, mask: new Uint8Array(10) }), MedsamError);
});

test('clearing the only prompt resets tracking; remove_object re-indexes objects', async () => {
  const { p, state } = await setup();
  await p.addNewPointsOrBox(state, { frameIdx: 2, objId: 1, box: [10, 20, 30, 40] });
  await p.addNewPointsOrBox(state, { frameIdx: 2, objId: 2, box: [1, 2, 30, 30] });
  await collect(p.propagateInVideo(state));
  const removed = await p.removeObject(state, 1);
  assert.deepEqual(removed.objIds, [2]);
  assert.equal(removed.updatedFrames.length, 1);
  assert.deepEqual(state.outputDict.cond.get(2)!.objs.length, 1);
  assert.ok(state.outputDict.nonCond.get(5)!.objs.length === 1, 'state.outputDict.nonCond.get(5)!.objs.length === 1');
  const cleared = await p.clearAllPromptsInFrame(state, 2, 2);
  assert.equal(cleared!.frameIdx, 2);
  assert.equal(state.outputDict.cond.size, 0);
  assert.equal(state.outputDict.nonCond.size, 0, 'no conditioning frame left: tracking results reset');
  assert.equal(state.trackingHasStarted, false);
  await assert.rejects(collect(p.propagateInVideo(state)), /no prompts/);
  p.resetState(state);
  assert.deepEqual(state.objIds, []);
});

test('feature cache: LRU capacity re-encodes, a new state over the same frames reuses features', async () => {
  const { mods, p, frames, state } = await setup(10, { featureCacheFrames: 2 });
  await p.addNewPointsOrBox(state, { frameIdx: 0, objId: 1, box: [10, 20, 30, 40] });
  await collect(p.propagateInVideo(state, { maxFrameNumToTrack: 3 }));
  assert.deepEqual(mods.calls.encode, [0, 1, 2, 3]);
  p.resetState(state);
  const s2 = await p.initState(frames, 40, 50);
  await p.addNewPointsOrBox(s2, { frameIdx: 3, objId: 1, box: [10, 20, 30, 40] });
  await p.addNewPointsOrBox(s2, { frameIdx: 0, objId: 2, box: [10, 20, 30, 40] });
  assert.deepEqual(mods.calls.encode, [0, 1, 2, 3, 0], 'frame 3 still cached; frame 0 was evicted (capacity 2)');
});

test('hole filling and non-overlapping outputs are applied to outputs', async () => {
  const { mods, p, state } = await setup(4, { fillHoleArea: 8, nonOverlapMasks: true });
  mods.masks = (inp) => {
    const a = new Float32Array(m * m).fill(inp.pointCoords && inp.pointCoords[0]! > 10 ? 5 : 3);
    a[5 * m + 5] = -2; // a 1-pixel hole
    for (let i = 0; i < 3 * m; i++) a[8 * m + i] = -1; // a 48-pixel background band
    return a;
  };
  await p.addNewPointsOrBox(state, { frameIdx: 0, objId: 1, box: [1, 1, 2, 2] });
  const r = await p.addNewPointsOrBox(state, { frameIdx: 0, objId: 2, box: [20, 20, 30, 30] });
  assert.equal(r.lowResMasks[0]![5 * m + 5], Math.fround(0.1), 'hole filled with 0.1');
  assert.equal(r.lowResMasks[0]![8 * m], -1, 'large background kept');
  // object 2 scores 5 everywhere it is foreground, object 1 scores 3: object 1 is clamped to ≤ −10
  assert.ok(r.videoResMasks[0]!.filter((v) => v > 0).length === 0, 'r.videoResMasks[0]!.filter((v) => v > 0).length === 0');
  assert.ok(
    r.videoResMasks[1]!.some((v) => v > 0),
    'r.videoResMasks[1]!.some((v) => v > 0)',
  );
});

test('self-sorting memory keeps at most num_maskmem−1 tracked memories including the adjacent frame', async () => {
  const { mods, p, state } = await setup(14, { memory: 'self-sorting' });
  await p.addNewPointsOrBox(state, { frameIdx: 0, objId: 1, box: [10, 20, 30, 40] });
  await collect(p.propagateInVideo(state));
  for (const a of mods.calls.attend) {
    const frames = memoryFrames(a);
    assert.equal(frames[0], 0, 'conditioning frame first');
    const rest = frames.slice(1);
    assert.ok(rest.length <= FAKE.numMaskmem - 1, 'rest.length <= FAKE.numMaskmem - 1');
    const current = Math.max(...rest, 0) + 1;
    if (rest.length) assert.ok(rest.includes(current - 1), 'adjacent frame always attended');
    assert.deepEqual(
      memoryTposRows(a).slice(1),
      rest.map((_, i) => i),
      'rows by temporal rank',
    );
  }
  assert.ok(state.selfSortingBanks.get(0)!.size <= FAKE.numMaskmem - 2, 'state.selfSortingBanks.get(0)!.size <= FAKE.numMaskmem - 2');
});
