import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dice } from '../../src/metrics/dice.js';
import { hd95FromDistances, nsdFromDistances, segmentationMetrics, selectLabel } from '../../src/metrics/segmentationMetrics.js';
import { surfaceDistances, surfaceVoxels } from '../../src/metrics/surfaceDistance.js';

type V3 = [number, number, number];

/** A mask on an x-fastest grid with the inclusive box [lo, hi] set. */
function box(dims: V3, lo: V3, hi: V3): Uint8Array {
  const m = new Uint8Array(dims[0] * dims[1] * dims[2]);
  for (let z = lo[2]; z <= hi[2]; z++)
    for (let y = lo[1]; y <= hi[1]; y++) for (let x = lo[0]; x <= hi[0]; x++) m[x + dims[0] * (y + dims[1] * z)] = 1;
  return m;
}

const count = (m: Uint8Array) => m.reduce((s, v) => s + v, 0);

test('dice of offset cubes matches the overlap arithmetic', () => {
  const dims: V3 = [20, 20, 20];
  const a = box(dims, [3, 3, 3], [12, 12, 12]);
  assert.equal(dice(a, box(dims, [8, 3, 3], [17, 12, 12])), 0.5); // overlap 5·10·10 of 1000 + 1000
  assert.equal(dice(a, box(dims, [4, 3, 3], [13, 12, 12])), 0.9);
  assert.equal(dice(a, a), 1);
});

test('one-slice plates shifted by one 3 mm slice: every border distance is 3 mm', () => {
  const dims: V3 = [16, 16, 10];
  const sp: V3 = [1, 1, 3];
  const a = box(dims, [2, 2, 5], [11, 11, 5]);
  const b = box(dims, [2, 2, 6], [11, 11, 6]);
  const d = surfaceDistances(a, b, dims, sp);
  assert.equal(d.aToB.length, 100); // a one-voxel-thick plate is all border
  assert.ok(d.aToB.every((x) => x === 3) && d.bToA.every((x) => x === 3));
  assert.deepEqual(segmentationMetrics(a, b, dims, sp), { dsc: 0, nsd: 0, hd95: 3 }); // tolerance 2 mm < 3 mm
  assert.equal(segmentationMetrics(a, b, dims, sp, { toleranceMm: 3 }).nsd, 1);
  // At 1.5 mm slices the same shift is within the default 2 mm tolerance.
  assert.deepEqual(segmentationMetrics(a, b, dims, [1, 1, 1.5]), { dsc: 0, nsd: 1, hd95: 1.5 });
});

test('cube shifted by one 3 mm voxel along x: NSD at 2 mm = 372/488, HD95 = 3 mm', () => {
  // Border of a 10³ cube: 1000 − 8³ = 488 voxels. A's x = first face (100 voxels) is 3 mm from B's
  // border; on A's last x face, the 4×4 voxels ≥ 3 voxels from every side face are also 3 mm
  // away (B's far face); every other border voxel of A lies on B's border or ≤ 2 mm from it.
  // Symmetric for B, so NSD = 2·(488 − 116) / (2·488).
  const dims: V3 = [20, 16, 16];
  const sp: V3 = [3, 1, 1];
  const a = box(dims, [3, 3, 3], [12, 12, 12]);
  const b = box(dims, [4, 3, 3], [13, 12, 12]);
  assert.equal(count(surfaceVoxels(a, dims)), 488);
  const m = segmentationMetrics(a, b, dims, sp);
  assert.equal(m.dsc, 0.9);
  assert.ok(Math.abs(m.nsd - 372 / 488) < 1e-12, `nsd ${m.nsd}`);
  assert.equal(m.hd95, 3);
  assert.equal(segmentationMetrics(a, b, dims, sp, { toleranceMm: 3 }).nsd, 1);
  // With 1 mm voxels the shift is 1 mm: everything within tolerance, HD95 1 mm.
  assert.deepEqual(segmentationMetrics(a, b, dims, [1, 1, 1]), { dsc: 0.9, nsd: 1, hd95: 1 });
});

test('surface distances on the cropped grid equal brute force over the whole grid', () => {
  const dims: V3 = [14, 11, 9];
  const sp: V3 = [0.8, 1.1, 2.5];
  let s = 12345;
  const rnd = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const n = dims[0] * dims[1] * dims[2];
  const a = new Uint8Array(n),
    b = new Uint8Array(n);
  // Random blobs: union of a few small boxes each.
  for (const m of [a, b]) {
    for (let k = 0; k < 3; k++) {
      const lo: V3 = [Math.floor(rnd() * 10), Math.floor(rnd() * 8), Math.floor(rnd() * 6)];
      const hi: V3 = [lo[0] + Math.floor(rnd() * 4), lo[1] + Math.floor(rnd() * 3), lo[2] + Math.floor(rnd() * 3)];
      const bx = box(dims, lo, hi);
      for (let i = 0; i < n; i++) m[i] |= bx[i]!;
    }
  }
  const sa = surfaceVoxels(a, dims),
    sb = surfaceVoxels(b, dims);
  const pts = (m: Uint8Array) =>
    [...m.keys()].filter((i) => m[i]).map((i) => [i % dims[0], Math.floor(i / dims[0]) % dims[1], Math.floor(i / (dims[0] * dims[1]))]);
  const brute = (from: number[][], to: number[][]) =>
    from.map((p) => Math.min(...to.map((q) => Math.hypot((p[0]! - q[0]!) * sp[0], (p[1]! - q[1]!) * sp[1], (p[2]! - q[2]!) * sp[2]))));
  const d = surfaceDistances(a, b, dims, sp);
  const wantAB = brute(pts(sa), pts(sb)),
    wantBA = brute(pts(sb), pts(sa));
  assert.equal(d.aToB.length, wantAB.length);
  assert.equal(d.bToA.length, wantBA.length);
  wantAB.forEach((w, i) => assert.ok(Math.abs(d.aToB[i]! - w) < 1e-9));
  wantBA.forEach((w, i) => assert.ok(Math.abs(d.bToA[i]! - w) < 1e-9));
});

test('2D masks (nz = 1) use the in-plane contour', () => {
  const dims: V3 = [16, 16, 1];
  const a = box(dims, [2, 2, 0], [11, 11, 0]);
  assert.equal(count(surfaceVoxels(a, dims)), 36);
  assert.deepEqual(segmentationMetrics(a, a, dims, [0.5, 0.5, 1]), { dsc: 1, nsd: 1, hd95: 0 });
});

test('empty-mask conventions', () => {
  const dims: V3 = [8, 8, 8];
  const empty = new Uint8Array(512);
  const a = box(dims, [1, 1, 1], [3, 3, 3]);
  assert.deepEqual(segmentationMetrics(empty, empty, dims, [1, 1, 1]), { dsc: 1, nsd: 1, hd95: 0 });
  assert.deepEqual(segmentationMetrics(a, empty, dims, [1, 1, 1]), { dsc: 0, nsd: 0, hd95: Infinity });
  assert.deepEqual(segmentationMetrics(empty, a, dims, [1, 1, 1]), { dsc: 0, nsd: 0, hd95: Infinity });
  assert.equal(nsdFromDistances({ aToB: new Float64Array(0), bToA: new Float64Array(0) }), 1);
  assert.equal(hd95FromDistances({ aToB: new Float64Array(0), bToA: new Float64Array(0) }), 0);
});

test('HD95 uses numpy-linear percentiles and the larger direction', () => {
  const aToB = Float64Array.from({ length: 21 }, (_, i) => i); // p95 of 0..20 = 19
  const bToA = Float64Array.from([0, 0, 0, 0, 10]); // p95 = 8
  assert.equal(hd95FromDistances({ aToB, bToA }), 19);
  assert.equal(hd95FromDistances({ aToB: bToA, bToA: Float64Array.from([1, 2]) }), 7.999999999999998); // numpy gives exactly this
});

test('selectLabel picks one label or any non-zero', () => {
  const d = Int16Array.from([0, 1, 2, 2, 5]);
  assert.deepEqual([...selectLabel(d)], [0, 1, 1, 1, 1]);
  assert.deepEqual([...selectLabel(d, 2)], [0, 0, 1, 1, 0]);
});
