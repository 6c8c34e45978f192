import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { readNpzCase } from '../../src/io/npzFile.js';
import { segmentationMetrics, selectLabel } from '../../src/metrics/segmentationMetrics.js';
import { surfaceVoxels } from '../../src/metrics/surfaceDistance.js';

const LESION = '../shared/data/ct-lesion/CT_Lesion_000001_02_01_008-023.npz';

test('real lesion mask vs itself shifted (1 slice, 7 columns): matches scipy', {
  skip: !existsSync(LESION) && 'needs ../shared/data/ct-lesion',
}, async () => {
  const c = await readNpzCase(LESION);
  const ref = selectLabel(c.label!.data);
  const [nx, ny, nz] = c.image.dims;
  const moved = new Uint8Array(ref.length);
  for (let z = 1; z < nz; z++)
    for (let y = 0; y < ny; y++) for (let x = 7; x < nx; x++) moved[x + nx * (y + ny * z)] = ref[x - 7 + nx * (y + ny * (z - 1))]!;
  // Reference values from an independent implementation: scipy.ndimage binary_erosion (6-connected,
  // border_value=0) for the borders and distance_transform_edt(sampling=(5, 0.3145, 0.3145)).
  let border = 0;
  for (const v of surfaceVoxels(ref, c.image.dims)) border += v;
  assert.equal(border, 5506);
  const m = segmentationMetrics(moved, ref, c.image.dims, c.image.spacing);
  assert.ok(Math.abs(m.dsc - 0.6817987518167051) < 1e-12, `dsc ${m.dsc}`);
  assert.ok(Math.abs(m.nsd - 0.57110424990919) < 1e-12, `nsd ${m.nsd}`);
  assert.equal(m.hd95, 5);
});
