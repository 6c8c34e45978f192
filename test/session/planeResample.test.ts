import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { planeResampleFor } from '../../src/families/planeTracker.js';
import { readVolume } from '../../src/io/readVolume.js';
import { PlaneResample } from '../../src/preprocess/planeResample.js';
import { extractSlice } from '../../src/preprocess/slices.js';
import { ModelPool, Session } from '../../src/session/index.js';
import { busiestCoronalBox, GLIOMA, GLIOMA_LABEL } from '../helpers/glioma.js';

/**
 * Thick-slice planes at square pixels: the coronal plane of the 6.5 mm glioma MRI
 * (../shared/data/mr-brain, 256 × 256 × 25, 0.78 mm pixels) reaches the model upsampled to
 * 256 × 208 and its mask comes back on the voxel grid by the area rule. A box from the reference
 * tumour on that plane must give a mask inside the box's rows and columns (before: it spilled 1–2
 * rows past them), with a plane DSC vs the reference no worse than on the voxel grid (both measured).
 */
const skip = (!existsSync(GLIOMA) || !existsSync(GLIOMA_LABEL)) && `needs ../shared/data/mr-brain (${GLIOMA})`;

const pool = new ModelPool();
after(() => pool.drain());

describe('PlaneResample', () => {
  test('square pixels only where spacing differs; boxes keep their voxels; masks round-trip', () => {
    assert.equal(planeResampleFor({ dims: [256, 256, 25], spacing: [0.78, 0.78, 6.5] }, 2), undefined, 'axial plane: already square');
    const g = planeResampleFor({ dims: [256, 256, 25], spacing: [0.78125, 0.78125, 6.5] }, 1)!;
    assert.deepEqual([g.rows, g.cols, g.outRows, g.outCols], [25, 256, 208, 256]);
    // A box of voxel rows 3..5 covers exactly those voxels' resampled rows.
    const [, y0, , y1] = g.box([10, 3, 20, 5]);
    assert.deepEqual(
      [y0, y1].map((v) => v.toFixed(2)),
      ['24.96', '48.92'],
    );
    assert.deepEqual(
      [24, 25, 49, 50].map((j) => g.rowAxis.owner[j]),
      [2, 3, 5, 6],
    );
    // maskDown(maskUp(m)) = m, and a resampled mask spilling less than half a voxel stays inside.
    const m = new Uint8Array(25 * 256);
    for (let r = 3; r <= 5; r++) for (let c = 10; c <= 20; c++) m[r * 256 + c] = 1;
    assert.deepEqual(g.maskDown(g.maskUp(m)), m);
    const up = g.maskUp(m);
    const spill = 52; // rows 50..52: 3 of voxel 6's 8
    for (let c = 10; c <= 20; c++) up[spill * 256 + c] = up[(spill - 1) * 256 + c] = up[(spill - 2) * 256 + c] = 1;
    assert.deepEqual(g.maskDown(up), m);
    // Sagittal (rows z, cols y) and a coarse in-plane axis (cols upsampled).
    assert.deepEqual([planeResampleFor({ dims: [10, 20, 5], spacing: [1, 1, 3] }, 0)!.outRows], [15]);
    const wide = PlaneResample.forSpacing(4, 4, 1, 2)!;
    assert.deepEqual([wide.outRows, wide.outCols], [4, 8]);
    const img = wide.image(Uint8Array.from({ length: 16 }, (_, i) => (i % 4) * 10));
    assert.deepEqual([...img.subarray(0, 8)], [0, 3, 8, 13, 18, 23, 28, 30]);
  });
});

describe('a coronal box on the 6.5 mm glioma', { skip }, () => {
  test('the mask stays inside the box rows, plane DSC no worse than on the voxel grid', async () => {
    const image = await readVolume(GLIOMA);
    const label = await readVolume(GLIOMA_LABEL);
    const [W, , D] = label.dims;
    const tumour = label.data as ArrayLike<number>;
    // The coronal plane (fixed y) with the most tumour, and its box (x, z) there.
    const {
      y: Y,
      voxels: best,
      box: [x0, z0, x1, z1],
    } = busiestCoronalBox(label);
    const ref = extractSlice(
      Uint8Array.from(tumour, (v) => (v ? 1 : 0)),
      label.dims,
      1,
      Y,
    );
    const measure = async (resamplePlanes: boolean) => {
      const s = await Session.open(image, { pool, threads: 2, resamplePlanes });
      try {
        const m = await s.addPrompt(1, Y, { box: [x0, z0, x1, z1] }, { axis: 1 });
        assert.equal(m.mask.length, D * W, 'the mask is on the voxel grid (rows z, cols x)');
        let area = 0,
          inter = 0,
          outRows = 0,
          outCols = 0;
        for (let z = 0; z < D; z++)
          for (let x = 0; x < W; x++) {
            if (!m.mask[z * W + x]) continue;
            area++;
            if (ref[z * W + x]) inter++;
            if (z < z0 || z > z1) outRows++;
            if (x < x0 || x > x1) outCols++;
          }
        return { area, outRows, outCols, dsc: (2 * inter) / (area + best) };
      } finally {
        await s.close();
      }
    };
    const before = await measure(false);
    const after = await measure(true);
    process.stdout.write(
      `# glioma coronal y=${Y}, box x ${x0}..${x1} z ${z0}..${z1}: voxel grid ${before.area} px, ${before.outRows} outside the box rows, DSC ${before.dsc.toFixed(4)}; square pixels ${after.area} px, ${after.outRows} outside the rows, ${after.outCols} outside the columns, DSC ${after.dsc.toFixed(4)}\n`,
    );
    assert.ok(before.outRows > 0, 'on the voxel grid the mask spills past the box rows (what this fixes)');
    assert.equal(after.outRows, 0, 'no voxel outside the box rows');
    assert.equal(after.outCols, 0, 'no voxel outside the box columns');
    assert.ok(after.dsc >= before.dsc - 0.005, `plane DSC ${after.dsc.toFixed(4)} vs ${before.dsc.toFixed(4)} on the voxel grid`);
  });
});
