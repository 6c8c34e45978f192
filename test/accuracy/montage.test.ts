import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MONTAGE_PREDICTION, MONTAGE_PREDICTION_ALPHA, MONTAGE_REFERENCE, renderMontageRgba } from '../../src/pipelines/preview.js';

test('montage: one tile per slice with prediction or reference, prediction filled, reference outlined, slice numbers', () => {
  const dims: [number, number, number] = [32, 32, 8];
  const image8 = new Uint8Array(32 * 32 * 8).fill(100);
  const pred = new Uint8Array(image8.length),
    ref = new Uint8Array(image8.length);
  const set = (m: Uint8Array, z: number, x0: number, y0: number, x1: number, y1: number) => {
    for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) m[x + 32 * (y + 32 * z)] = 1;
  };
  set(ref, 2, 8, 8, 23, 23);
  set(ref, 3, 8, 8, 23, 23);
  set(pred, 3, 10, 10, 21, 21);
  set(pred, 5, 10, 10, 21, 21); // slice 5: predicted past the reference
  const { rgba, width, layout } = renderMontageRgba(image8, dims, pred, ref, { tile: 64, crop: false });
  assert.deepEqual(
    layout.tiles.map((t) => t.slice),
    [2, 3, 5],
  ); // slices 0, 1, 4, 6, 7 hold nothing
  assert.equal(layout.scale, 2);
  const px = (t: number, x: number, y: number) => {
    const tile = layout.tiles[t]!;
    const X = tile.x + x * layout.scale,
      Y = tile.y + y * layout.scale; // top-left of the pixel's 2x2 block
    return [...rgba.subarray((Y * width + X) * 4, (Y * width + X) * 4 + 3)];
  };
  const blend = MONTAGE_PREDICTION.map((c) => Math.round(100 * (1 - MONTAGE_PREDICTION_ALPHA) + c * MONTAGE_PREDICTION_ALPHA));
  assert.deepEqual(px(1, 15, 15), blend); // slice 3: prediction inside the reference
  assert.deepEqual(px(2, 15, 15), blend); // slice 5: the overshoot is visible
  assert.deepEqual(px(0, 15, 15), [100, 100, 100]); // slice 2: reference only, interior untouched
  assert.deepEqual(px(0, 8, 15), MONTAGE_REFERENCE); // its contour
  assert.deepEqual(px(1, 15, 8), MONTAGE_REFERENCE);
  assert.deepEqual(px(2, 8, 15), [100, 100, 100]); // no reference on slice 5
  // Every prediction pixel is coloured, nothing else is: count blended pixels per tile.
  for (const [t, expected] of [
    [0, 0],
    [1, 12 * 12],
    [2, 12 * 12],
  ] as const) {
    let n = 0;
    for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) if (px(t, x, y).join() === blend.join()) n++;
    assert.equal(n, expected, `tile ${t}`);
  }
  // The slice number is burned into the tile's corner: white digit pixels on the dark tag.
  const tile = layout.tiles[2]!;
  let white = 0;
  for (let y = 0; y < 14; y++)
    for (let x = 0; x < 10; x++) {
      const k = ((tile.y + y) * width + tile.x + x) * 4;
      if (rgba[k] === 255 && rgba[k + 1] === 255 && rgba[k + 2] === 255) white++;
    }
  assert.equal(white, 11 * 4); // the digit 5 has 11 lit cells of the 3x5 font, each 2x2 pixels
  // Cropping zooms on the object: region = union box grown by at least 16 px, clamped to the slice.
  const cropped = renderMontageRgba(image8, dims, pred, ref, { tile: 64 });
  assert.deepEqual(cropped.layout.region, [0, 0, 31, 31]);
  const big = new Uint8Array(200 * 200 * 2),
    bigRef = new Uint8Array(big.length);
  for (let y = 90; y < 100; y++) for (let x = 50; x < 60; x++) bigRef[x + 200 * y] = 1;
  const c2 = renderMontageRgba(big, [200, 200, 2], undefined, bigRef, { tile: 64 });
  assert.deepEqual(c2.layout.region, [34, 74, 75, 115]);
  assert.equal(c2.layout.tiles.length, 1);
});
