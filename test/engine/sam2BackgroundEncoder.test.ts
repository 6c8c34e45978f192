import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Sam2Engine } from '../../src/engine/sam2/sam2Engine.js';
import { loadCheckpoint } from '../../src/models/checkpoint/index.js';
import { compileSam2, sam2ConfigsFromYaml } from '../../src/models/sam2/compile.js';
import { maxAbsDiff, seededRandom, smallestModuleCase } from '../helpers/sam2Fixtures.js';

/**
 * The background image encoder (the same graph in an ORT session on a worker thread) must give the
 * features the foreground encoder gives, and fail clearly once released.
 */
const c = smallestModuleCase();

test('SAM2 background encoder: worker-thread features equal the foreground ones; released engine refuses', { skip: !c && 'needs the SAM2 fixtures (set MEDSAM2_SAM2_FIXTURES)' }, async () => {
  const model = compileSam2(await loadCheckpoint(c!.checkpointPath), sam2ConfigsFromYaml(readFileSync(c!.configPath, 'utf8')));
  const engine = await Sam2Engine.create(model, { threads: 2, backgroundEncoder: true });
  assert.ok(engine.hasBackgroundEncoder);
  const S = engine.imageSize;
  const image = seededRandom(3 * S * S, 7);
  const [bg, fg] = await Promise.all([engine.encodeImageInBackground(image), engine.encodeImage(image)]);
  for (const k of ['visionFeatures', 'visionPosEnc', 'highRes0', 'highRes1'] as const) {
    assert.equal(bg[k].length, fg[k].length, k);
    let ref = 0;
    for (const v of fg[k]) ref = Math.max(ref, Math.abs(v));
    assert.ok(ref > 0, `${k} is all zeros`);
    assert.ok(maxAbsDiff(bg[k], fg[k]) <= 1e-6 * ref, `${k}: background differs from foreground by ${maxAbsDiff(bg[k], fg[k])}`);
  }
  assert.equal(engine.stageTimes.imageEncoderBackground.calls, 1);
  assert.equal(engine.imageEncodeCount, 2);
  await engine.release();
  await assert.rejects(engine.encodeImageInBackground(image), /released/);

  const single = await Sam2Engine.create(model, { threads: 1, backgroundEncoder: true });
  assert.equal(single.hasBackgroundEncoder, false, 'one thread: no worker, background calls run in the foreground');
  await single.release();
});
