import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { openNpz } from '../../src/io/npzFile.js';
import { connectedComponents8, fillHolesInMaskScores } from '../../src/predictor/sam2/fillHoles.js';
import { framesFromU8, medsam2NormalizationLut } from '../../src/predictor/sam2/frameSource.js';
import { selectClosestCondFrames, selectObjectPointers, selectRecentMemories } from '../../src/predictor/sam2/memorySelection.js';
import { SelfSortingMemoryBank } from '../../src/predictor/sam2/selfSortingMemory.js';
import { pilResizeBicubicU8 } from '../../src/preprocess/pilResize.js';
import { resizeBilinear, resizeBilinearAntialias } from '../../src/preprocess/torchInterpolate.js';
import { fixtureDir, inputsIndex } from '../helpers/sam2Fixtures.js';

/** Unit tests of the SAM2 predictor's building blocks (memory rules, hole filling, resizes, frames). */

const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);
const mapOf = (frames: number[]) => new Map(frames.map((f) => [f, `out${f}`]));

test('select_closest_cond_frames: closest before, closest at/after, then nearest others', () => {
  const cond = mapOf([0, 3, 8, 12]);
  assert.equal(selectClosestCondFrames(7, cond, -1).selected, cond);
  const two = selectClosestCondFrames(7, cond, 2);
  assert.deepEqual([...two.selected.keys()], [3, 8]);
  assert.deepEqual([...two.unselected.keys()], [0, 12]);
  assert.deepEqual([...selectClosestCondFrames(7, cond, 3).selected.keys()], [3, 8, 12]);
  assert.deepEqual([...selectClosestCondFrames(8, cond, 2).selected.keys()], [3, 8], 'a cond frame at the current index counts as "after"');
});

test('recent memories: adjacent frame plus every r-th frame, forward and reverse', () => {
  const nonCond = mapOf(range(0, 30));
  const cond = { selected: mapOf([20]), unselected: new Map<number, string>() };
  const fwd = selectRecentMemories({ frameIdx: 10, cond, nonCond, numMaskmem: 7, stride: 2, reverse: false });
  assert.deepEqual(
    fwd.map((r) => r.frameIdx),
    [20, 0, 2, 4, 6, 8, 9],
  );
  assert.deepEqual(
    fwd.map((r) => r.tposIndex),
    [6, 5, 4, 3, 2, 1, 0],
  );
  const rev = selectRecentMemories({ frameIdx: 3, cond, nonCond, numMaskmem: 7, stride: 2, reverse: true });
  assert.deepEqual(
    rev.map((r) => r.frameIdx),
    [20, 14, 12, 10, 8, 6, 4],
  );
  const s1 = selectRecentMemories({ frameIdx: 2, cond, nonCond: mapOf([0, 1]), numMaskmem: 7, stride: 1, reverse: false });
  assert.deepEqual(
    s1.map((r) => [r.frameIdx, r.tposIndex]),
    [
      [20, 6],
      [0, 1],
      [1, 0],
    ],
    'missing frames are skipped',
  );
});

test('object pointers: past-only conditioning frames, signed positions, stop at the video edge', () => {
  const cond = { selected: mapOf([2, 9]), unselected: new Map<number, string>() };
  const nonCond = mapOf([3, 4]);
  const fwd = selectObjectPointers({
    frameIdx: 5,
    cond,
    nonCond,
    numFrames: 6,
    maxObjPtrsInEncoder: 16,
    reverse: false,
    onlyPast: true,
    signed: true,
  });
  assert.deepEqual(
    fwd.refs.map((r) => [r.frameIdx, r.pos]),
    [
      [2, 3],
      [4, 1],
      [3, 2],
    ],
  );
  assert.equal(fwd.tDiffMax, 5, 'min(num_frames, 16) − 1');
  const rev = selectObjectPointers({
    frameIdx: 5,
    cond,
    nonCond,
    numFrames: 12,
    maxObjPtrsInEncoder: 16,
    reverse: true,
    onlyPast: true,
    signed: true,
  });
  assert.deepEqual(
    rev.refs.map((r) => [r.frameIdx, r.pos]),
    [[9, 4]],
  );
  const all = selectObjectPointers({
    frameIdx: 5,
    cond,
    nonCond,
    numFrames: 12,
    maxObjPtrsInEncoder: 16,
    reverse: true,
    onlyPast: false,
    signed: false,
  });
  assert.deepEqual(
    all.refs.map((r) => [r.frameIdx, r.pos]),
    [
      [2, 3],
      [9, 4],
    ],
  );
  const few = selectObjectPointers({
    frameIdx: 5,
    cond,
    nonCond,
    numFrames: 12,
    maxObjPtrsInEncoder: 2,
    reverse: false,
    onlyPast: true,
    signed: true,
  });
  assert.deepEqual(
    few.refs.map((r) => r.frameIdx),
    [2, 4],
    'max_obj_ptrs_in_encoder limits the previous frames',
  );
});

function unit(dim: number, hot: Record<number, number>): Float32Array {
  const v = new Float32Array(dim);
  for (const [i, x] of Object.entries(hot)) v[Number(i)] = x;
  return v;
}

test('self-sorting bank (Medical-SAM2 rule): replaces a redundant entry with a diverse, confident memory', () => {
  const b = new SelfSortingMemoryBank(3);
  assert.equal(b.offer(1, unit(4, { 0: 1 }), 0.8), null);
  assert.equal(b.offer(2, unit(4, { 0: 1, 1: 0.05 }), 0.8), null); // nearly the same as frame 1
  assert.equal(b.offer(3, unit(4, { 2: 1 }), 0.8), null);
  // a memory similar to what is stored adds no diversity: rejected
  assert.equal(b.offer(4, unit(4, { 0: 1, 1: 0.02 }), 0.9), undefined);
  // a new direction with too little confidence: rejected
  assert.equal(b.offer(5, unit(4, { 3: 1 }), 0.6), undefined);
  // a new direction, confident enough (> 0.8 − 0.1): replaces the entry most similar to the least similar one
  const replaced = b.offer(6, unit(4, { 3: 1 }), 0.75);
  assert.ok(replaced === 1 || replaced === 2, `replaced ${replaced}`);
  assert.deepEqual(
    b
      .list()
      .map((e) => e.frameIdx)
      .sort(),
    [1, 2, 3, 6].filter((f) => f !== replaced),
  );
  assert.equal(b.size, 3);
});

test('hole filling: 8-connected background components up to max area become 0.1', () => {
  const W = 8;
  const H = 6;
  const m = new Float32Array(W * H).fill(2);
  const set = (x: number, y: number) => {
    m[y * W + x] = -1;
  };
  set(2, 2);
  set(3, 3); // diagonal neighbours: one 8-connected hole of area 2
  set(6, 1);
  set(6, 2);
  set(6, 3); // area-3 hole
  set(0, 5); // border background pixel (upstream fills these too)
  const cc = connectedComponents8(m, H, W, (v) => v <= 0);
  assert.equal(cc.count, 3);
  const f2 = fillHolesInMaskScores(m, H, W, 2);
  assert.equal(f2[2 * W + 2], Math.fround(0.1));
  assert.equal(f2[3 * W + 3], Math.fround(0.1));
  assert.equal(f2[1 * W + 6], -1, 'area 3 > 2 is kept');
  assert.equal(f2[5 * W], Math.fround(0.1));
  assert.ok(
    fillHolesInMaskScores(m, H, W, 3).every((v) => v > 0),
    'everything filled at max area 3',
  );
  assert.equal(m[2 * W + 2], -1, 'input untouched');
});

test('torch bilinear (align_corners=False) and antialiased bilinear on known values', () => {
  const up = resizeBilinear(Float32Array.of(1, 2, 3, 4), 2, 2, 4, 4);
  assert.deepEqual([...up], [1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4]);
  const aa = resizeBilinearAntialias(Float32Array.of(0, 1, 2, 3), 1, 4, 1, 2);
  assert.ok(Math.abs(aa[0]! - 5 / 7) < 1e-6 && Math.abs(aa[1]! - 16 / 7) < 1e-6, `antialiased 4→2 gives [5/7, 16/7], got [${aa}]`);
  // upsampling with antialias equals plain bilinear
  const src = Float32Array.from({ length: 12 }, (_, i) => (i * 7) % 5);
  const a = resizeBilinearAntialias(src, 3, 4, 7, 9);
  const b = resizeBilinear(src, 3, 4, 7, 9);
  assert.ok(
    a.every((v, i) => Math.abs(v - b[i]!) < 1e-5),
    'aa upsampling = bilinear',
  );
});

const fx = fixtureDir();
test('MedSAM2 frames: Pillow bicubic resize and normalisation are bit-exact against the fixtures', {
  skip: !existsSync(fx) && `needs ${fx}`,
}, () => {
  let checkedResize = false;
  for (const [name, info] of Object.entries(inputsIndex(fx))) {
    const npz = openNpz(join(fx, info.file));
    const lut = npz.get('frames_lut').data as Float32Array;
    assert.deepEqual([...medsam2NormalizationLut()], [...lut], `${name}: normalisation table`);
    const u8 = npz.get('frames_u8');
    const [N, H, W] = u8.shape as [number, number, number];
    const S = (npz.get('frames_mid').shape as number[])[3]!;
    if (npz.has('resized_u8')) {
      const rz = npz.get('resized_u8').data as Uint8Array;
      for (let i = 0; i < N; i++) {
        const mine = pilResizeBicubicU8((u8.data as Uint8Array).subarray(i * H * W, (i + 1) * H * W), W, H, S, S);
        assert.deepEqual(mine, rz.subarray(i * S * S, (i + 1) * S * S), `${name}: slice ${i} Pillow resize`);
      }
      checkedResize = true;
    }
    const mid = Number((npz.get('frames_mid_idx').data as BigInt64Array)[0]);
    const frame = framesFromU8(u8.data as Uint8Array, N, H, W, S).frame(mid) as Float32Array;
    assert.deepEqual(frame, npz.get('frames_mid').data as Float32Array, `${name}: model input of frame ${mid}`);
  }
  assert.ok(checkedResize, 'no fixture input exercises the resize path');
});
