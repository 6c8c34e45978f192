import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildIntensityModel } from '../../src/predictor/sam1/intensityModel.js';
import { followModel } from '../../src/predictor/sam1/followingIntensity.js';
import { discMask } from '../helpers/discMask.js';

const W = 64,
  H = 64;
const disc = (r: number) => discMask(W, H, r);

test('followModel: the vote moves towards the slices it is taught by, at its rate', () => {
  const mask = disc(10);
  // Key slice: object at grey 100, surroundings 40 with a bright patch (160) in the ring.
  const key = Uint8Array.from(mask, (v, i) => (v ? 100 : i % W > 44 && i % W < 48 ? 160 : 40));
  const model = buildIntensityModel(key, mask, W, H);
  assert.equal(model.objectLike[100], 1);
  assert.equal(model.objectLike[160], 0, 'the key model calls grey 160 surroundings');
  // Further along (a bias field): the object is brighter, 160; its surroundings still 40.
  const later = Uint8Array.from(mask, (v) => (v ? 160 : 40));
  const followed = followModel(model, later, mask, W, H, 0.5);
  assert.equal(followed.objectLike[160], 1, 'taught by the brighter slice, 160 is object-like');
  assert.equal(followed.objectLike[100], 1, 'half the key model is kept');
  assert.equal(followed.objectLike[40], 0);
  assert.equal(followed.separability, model.separability);
  assert.equal(followed.ringRadius, model.ringRadius);
  // Rate 0 keeps the key's vote; a model without histograms is returned as it is.
  assert.deepEqual(followModel(model, later, mask, W, H, 0).objectLike, model.objectLike);
  const bare = { objectLike: model.objectLike, separability: 1, ringRadius: 5 };
  assert.equal(followModel(bare, later, mask, W, H, 0.5), bare);
});
