import assert from 'node:assert/strict';
import { test } from 'node:test';
import { squaredDistanceTransform } from '../../src/metrics/edt.js';

/** Deterministic pseudo-random numbers so a failure is reproducible. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

function bruteForce(feature: Uint8Array, dims: [number, number, number], sp: [number, number, number]): Float64Array {
  const [nx, ny, nz] = dims;
  const feats: [number, number, number][] = [];
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++) if (feature[x + nx * (y + ny * z)]) feats.push([x, y, z]);
  const out = new Float64Array(nx * ny * nz).fill(Infinity);
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++) {
        let best = Infinity;
        for (const [fx, fy, fz] of feats)
          best = Math.min(best, ((x - fx) * sp[0]) ** 2 + ((y - fy) * sp[1]) ** 2 + ((z - fz) * sp[2]) ** 2);
        out[x + nx * (y + ny * z)] = best;
      }
  return out;
}

test('anisotropic 3D EDT equals brute force on random feature sets', () => {
  const rnd = lcg(7);
  for (const [dims, sp, density] of [
    [[9, 7, 5], [0.7, 1.3, 2.9], 0.03],
    [[12, 3, 8], [1, 1, 5], 0.1],
    [[6, 6, 1], [0.5, 2, 1], 0.05],
    [[1, 10, 10], [3, 0.8, 0.8], 0.02],
  ] as [[number, number, number], [number, number, number], number][]) {
    const n = dims[0] * dims[1] * dims[2];
    const f = new Uint8Array(n);
    for (let i = 0; i < n; i++) f[i] = rnd() < density ? 1 : 0;
    f[Math.floor(rnd() * n)] = 1; // at least one feature
    const got = squaredDistanceTransform(f, dims, sp);
    const want = bruteForce(f, dims, sp);
    for (let i = 0; i < n; i++) assert.ok(Math.abs(got[i]! - want[i]!) < 1e-9, `dims ${dims} voxel ${i}: ${got[i]} vs ${want[i]}`);
  }
});

test('EDT of a single feature is the exact anisotropic distance; no feature is Infinity', () => {
  const dims: [number, number, number] = [5, 5, 5];
  const f = new Uint8Array(125);
  f[0] = 1;
  const d = squaredDistanceTransform(f, dims, [1, 2, 3]);
  assert.equal(d[4 + 5 * (4 + 5 * 4)], 16 + 64 + 144);
  assert.ok(squaredDistanceTransform(new Uint8Array(125), dims, [1, 1, 1]).every((v) => v === Infinity));
});
