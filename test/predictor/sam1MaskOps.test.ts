import { test } from 'node:test';
import assert from 'node:assert/strict';
import { largestComponent3d } from '../../src/predictor/sam1/components3d.js';
import { agreement, buildIntensityModel, smooth3x3 } from '../../src/predictor/sam1/intensityModel.js';
import {
  dilate,
  distanceInside,
  interiorPoint,
  keepComponentsOverlapping,
  labelComponents2d,
  maskArea,
} from '../../src/predictor/sam1/maskOps.js';

function draw(w: number, h: number, rects: [number, number, number, number][]): Uint8Array {
  const m = new Uint8Array(w * h);
  for (const [x0, y0, x1, y1] of rects) for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) m[y * w + x] = 1;
  return m;
}

test('2D components are 8-connected; only those touching the reference are kept', () => {
  const w = 12,
    h = 8;
  const m = draw(w, h, [
    [0, 0, 2, 2],
    [3, 3, 4, 4],
    [8, 0, 10, 6],
  ]); // first two touch diagonally
  const { sizes } = labelComponents2d(m, w, h);
  assert.deepEqual(
    sizes.slice(1).sort((a, b) => a - b),
    [13, 21],
  );
  const ref = draw(w, h, [[9, 5, 9, 5]]);
  const kept = keepComponentsOverlapping(m, ref, w, h);
  assert.equal(maskArea(kept), 21);
  assert.equal(kept[0], 0);
  assert.equal(maskArea(keepComponentsOverlapping(m, new Uint8Array(w * h), w, h)), 0);
});

test('interior point is the pixel deepest inside; dilation grows by r in each direction', () => {
  const w = 20,
    h = 12;
  const m = draw(w, h, [[2, 2, 16, 8]]); // 15 x 7 rectangle, centre row 5
  const p = interiorPoint(m, w, h)!;
  assert.equal(p.y, 5);
  assert.ok(p.x >= 5 && p.x <= 13, `x=${p.x}`);
  assert.ok(Math.abs(p.depth - 4) < 1e-6, `depth ${p.depth}`);
  assert.equal(distanceInside(m, w, h)[2 * w + 2], 1);
  assert.equal(interiorPoint(new Uint8Array(w * h), w, h), undefined);
  const d = dilate(draw(w, h, [[10, 6, 10, 6]]), w, h, 2);
  assert.equal(maskArea(d), 25);
  assert.equal(d[4 * w + 8], 1);
  assert.equal(d[3 * w + 10], 0);
});

test('largest 3D component keeps the biggest 26-connected blob', () => {
  const dims: [number, number, number] = [6, 6, 3];
  const m = new Uint8Array(6 * 6 * 3);
  const set = (x: number, y: number, z: number) => {
    m[x + 6 * (y + 6 * z)] = 1;
  };
  set(0, 0, 0);
  set(1, 1, 1);
  set(2, 2, 2); // diagonal chain: one component of 3
  set(5, 5, 0);
  set(5, 4, 0);
  const out = largestComponent3d(m, dims);
  assert.equal(maskArea(out), 3);
  assert.equal(out[2 + 6 * (2 + 6 * 2)], 1);
  assert.equal(out[5 + 6 * 5], 0);
  assert.equal(maskArea(largestComponent3d(new Uint8Array(108), dims)), 0);
});

test('intensity model: a bright disc on a dark ring is separable; proposals that spill into the ring score lower', () => {
  const w = 64,
    h = 64;
  const img = new Uint8Array(w * h).fill(40);
  const disc = new Uint8Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      if ((x - 32) ** 2 + (y - 32) ** 2 <= 100) {
        disc[y * w + x] = 1;
        img[y * w + x] = 180;
      }
  const s = smooth3x3(img, w, h);
  const model = buildIntensityModel(s, disc, w, h);
  assert.ok(model.separability > 0.95, `separability ${model.separability}`);
  assert.equal(model.objectLike[180], 1);
  assert.equal(model.objectLike[40], 0);
  const region = dilate(disc, w, h, model.ringRadius);
  const exact = agreement(disc, s, model, region);
  const tooBig = agreement(dilate(disc, w, h, 6), s, model, region);
  assert.ok(exact.dice > 0.95 && exact.objectFraction > 0.95, JSON.stringify(exact));
  assert.ok(tooBig.dice < exact.dice && tooBig.objectFraction < 0.6, JSON.stringify(tooBig));
  // Same intensity inside and out: no better than chance.
  const flat = buildIntensityModel(new Uint8Array(w * h).fill(90), disc, w, h);
  assert.ok(flat.separability <= 0.5 + 1e-9, `flat separability ${flat.separability}`);
});
