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

test('largest 3D component also keeps a component on a prompted slice (a click that starts the object elsewhere)', () => {
  const dims: [number, number, number] = [6, 6, 3];
  const m = new Uint8Array(108);
  const set = (x: number, y: number, z: number) => {
    m[x + 6 * (y + 6 * z)] = 1;
  };
  set(0, 0, 0);
  set(1, 1, 1);
  set(2, 2, 2); // the propagated object, 3 voxels
  set(5, 5, 0); // a blob on slice 0, not connected
  set(5, 5, 2); // and one on slice 2
  assert.equal(maskArea(largestComponent3d(m, dims)), 3, 'without keys only the largest stays');
  const onZ0 = largestComponent3d(m, dims, { axis: 2, slices: [0] });
  assert.equal(maskArea(onZ0), 4);
  assert.equal(onZ0[5 + 6 * 5], 1, 'the blob on the prompted slice stays');
  assert.equal(onZ0[5 + 6 * (5 + 6 * 2)], 0, 'a blob on an unprompted slice still goes');
  // Along x: the blobs at x = 5 sit on prompted column-slice 5.
  assert.equal(maskArea(largestComponent3d(m, dims, { axis: 0, slices: [5] })), 5);
  assert.equal(maskArea(largestComponent3d(m, dims, { axis: 2, slices: [7, -1] })), 3, 'out-of-range keys are ignored');
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

test('3D largest component inside the bounding box equals the whole-volume search (ties included)', () => {
  // The search over the whole volume, as it was before the bounding-box restriction.
  const whole = (m: Uint8Array, [nx, ny, nz]: [number, number, number]): Uint8Array => {
    const n = nx * ny * nz;
    const label = new Int32Array(n);
    const sizes: number[] = [0];
    for (let s = 0; s < n; s++) {
      if (!m[s] || label[s]) continue;
      const id = sizes.length;
      const stack = [s];
      label[s] = id;
      let size = 0;
      while (stack.length) {
        const i = stack.pop()!;
        size++;
        const x = i % nx,
          y = Math.floor(i / nx) % ny,
          z = Math.floor(i / (nx * ny));
        for (let dz = -1; dz <= 1; dz++)
          for (let dy = -1; dy <= 1; dy++)
            for (let dx = -1; dx <= 1; dx++) {
              const [xx, yy, zz] = [x + dx, y + dy, z + dz];
              if (xx < 0 || yy < 0 || zz < 0 || xx >= nx || yy >= ny || zz >= nz) continue;
              const j = xx + nx * (yy + ny * zz);
              if (m[j] && !label[j]) {
                label[j] = id;
                stack.push(j);
              }
            }
      }
      sizes.push(size);
    }
    const best = sizes.indexOf(Math.max(...sizes)); // first largest in voxel order
    return Uint8Array.from(label, (l) => (best > 0 && l === best ? 1 : 0));
  };
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const dims: [number, number, number] = [23, 17, 9];
  for (let t = 0; t < 30; t++) {
    const m = new Uint8Array(dims[0] * dims[1] * dims[2]);
    const density = 0.02 + 0.1 * (t % 5);
    // foreground only inside a random sub-box, so the bounding box is a real restriction
    const [ax, ay, az] = [Math.floor(rand() * 10), Math.floor(rand() * 8), Math.floor(rand() * 4)];
    for (let z = az; z < dims[2] - (t % 3); z++)
      for (let y = ay; y < dims[1] - 1; y++)
        for (let x = ax; x < dims[0] - (t % 4); x++) if (rand() < density) m[x + dims[0] * (y + dims[1] * z)] = 1;
    assert.deepEqual(largestComponent3d(m, dims), whole(m, dims), `case ${t}`);
  }
  // two equal components: the first in voxel order wins
  const two = new Uint8Array(dims[0] * dims[1] * dims[2]);
  two[3 + dims[0] * (4 + dims[1] * 5)] = 1;
  two[20 + dims[0] * (2 + dims[1] * 1)] = 1;
  assert.deepEqual(largestComponent3d(two, dims), whole(two, dims));
  assert.equal(largestComponent3d(two, dims)[20 + dims[0] * (2 + dims[1] * 1)], 1);
});
