import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MedsamError } from '../../src/common/errors.js';
import { extractSlice, insertSlice, sliceShape, type SliceAxis } from '../../src/preprocess/slices.js';

const dims: [number, number, number] = [5, 4, 3];
/** Voxel value encodes its own (i, j, k), so every extracted pixel says where it came from. */
const vol = new Int16Array(5 * 4 * 3).map((_, idx) => {
  const i = idx % 5,
    j = Math.floor(idx / 5) % 4,
    k = Math.floor(idx / 20);
  return 100 * k + 10 * j + i;
});

test('slices along z, y and x: rows/cols are the slower/faster remaining axes, no flips', () => {
  const z = extractSlice(vol, dims, 2, 2);
  assert.ok(z instanceof Int16Array);
  assert.deepEqual(sliceShape(dims, 2), { rows: 4, cols: 5, count: 3 });
  assert.equal(z[1 * 5 + 3], 213); // row j=1, col i=3, k=2
  const y = extractSlice(vol, dims, 1, 3);
  assert.deepEqual(sliceShape(dims, 1), { rows: 3, cols: 5, count: 4 });
  assert.equal(y[2 * 5 + 4], 234); // row k=2, col i=4, j=3
  const x = extractSlice(vol, dims, 0, 1);
  assert.deepEqual(sliceShape(dims, 0), { rows: 3, cols: 4, count: 5 });
  assert.equal(x[1 * 4 + 2], 121); // row k=1, col j=2, i=1
});

test('extract → insert round trip rebuilds the volume on every axis', () => {
  for (const axis of [0, 1, 2] as SliceAxis[]) {
    const out = new Int16Array(vol.length);
    for (let s = 0; s < sliceShape(dims, axis).count; s++) insertSlice(out, dims, axis, s, extractSlice(vol, dims, axis, s));
    assert.deepEqual(out, vol, `axis ${axis}`);
  }
});

test('bad slice indices and sizes are MedsamErrors', () => {
  assert.throws(
    () => extractSlice(vol, dims, 2, 3),
    (e: unknown) => e instanceof MedsamError && /slice 3 is outside the volume along axis 2 \(0\.\.2\)/.test(e.message),
  );
  assert.throws(() => extractSlice(vol, dims, 0, -1), /slice -1 is outside/);
  assert.throws(
    () => insertSlice(new Int16Array(vol.length), dims, 2, 0, new Uint8Array(7)),
    /slice has 7 pixels but axis 2 slices are 5x4/,
  );
  assert.throws(() => extractSlice(new Uint8Array(10), dims, 2, 0), /buffer has 10 voxels/);
});
