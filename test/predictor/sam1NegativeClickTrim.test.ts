import '../helpers/nodePlatform.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SliceEmbeddings } from '../../src/predictor/sam1/embeddingCache.js';
import { maskArea, maskDice } from '../../src/predictor/sam1/maskOps.js';
import { trimFromCorrection } from '../../src/predictor/sam1/negativeClickTrim.js';
import { correctObject, propagateObject, type Sam1PropagationOptions } from '../../src/predictor/sam1Propagator.js';
import { discMask } from '../helpers/discMask.js';
import { radialBoxDecoder, radialLogits } from '../helpers/radialDecoder.js';
import { markedSlice, sliceIndexEncoder } from '../helpers/sliceIndexEncoder.js';

const W = 64,
  H = 64;
const disc = (r: number) => discMask(W, H, r);
/** Radial logits round the slice centre: 12 − r (the mask at logit 0 is the disc of radius 12). */
const radial = (shift: number) => radialLogits(W, H, shift);

test('trimFromCorrection: the logit threshold at which the answer before the click best gives the corrected mask', () => {
  const logits = radial(0);
  assert.equal(trimFromCorrection(logits, disc(12), disc(9)), 3);
  assert.equal(trimFromCorrection(logits, disc(12), disc(12)), 0, 'a click that changed nothing trims nothing');
  assert.equal(trimFromCorrection(logits, disc(12), new Uint8Array(W * H)), 0, 'a click that left nothing trims nothing');
});

test('propagateObject negativeClickTrim: the carry towards a negatively clicked key hands its masks out trimmed', async () => {
  // Every slice decodes as radial logits inside the prompt's box (the disc of radius 12); a prompt with
  // a negative click answers 3 logits lower (radius 9), as an over-segmented carry's click would (radialBoxDecoder).
  const encoder = sliceIndexEncoder;
  const pixels = (k: number) => markedSlice(k, W, H);
  const decoder = radialBoxDecoder(W, H);
  const opts: Sam1PropagationOptions = { intensityModel: false, refineSteps: 0, minAreaFraction: 0 };
  const prompts = [{ slice: 2, box: [19, 19, 45, 45] as [number, number, number, number] }];
  const emb = () => new SliceEmbeddings(encoder, pixels, W, H, 3);
  const first = await propagateObject(decoder, emb(), prompts, opts);
  for (const k of [0, 1, 2]) assert.ok(maskDice(first.masks.get(k)!, disc(12)) > 0.98, `slice ${k} holds the radius-12 disc`);
  // A negative click on slice 0, at the mask's rim: its slice becomes the radius-9 disc.
  const click = { slice: 0, x: W / 2 + 11, y: H / 2, label: 0 as const };
  const off = await correctObject(decoder, emb(), prompts, first, click, { ...opts, negativeClickTrim: 'off' });
  const on = await correctObject(decoder, emb(), prompts, first, click, { ...opts, negativeClickTrim: 'gated' });
  for (const r of [off, on]) assert.ok(maskDice(r.propagation.masks.get(0)!, disc(9)) > 0.95, 'the clicked slice is corrected');
  assert.equal(maskDice(off.propagation.masks.get(1)!, first.masks.get(1)!), 1, 'without the rule the slice between keeps the key’s carry');
  assert.ok(maskDice(on.propagation.masks.get(1)!, disc(9)) > 0.95, 'with it that slice is trimmed as the click trimmed its own');
  assert.equal(maskDice(on.propagation.masks.get(2)!, first.masks.get(2)!), 1, 'the user’s key is never trimmed');
  // 'area' (the default): never below the straight line between the keys' areas (slice 1: half-way between them).
  const area = await correctObject(decoder, emb(), prompts, first, click, opts);
  const [a0, a1, a2] = [0, 1, 2].map((k) => maskArea(area.propagation.masks.get(k)!));
  const floor = (a0! + a2!) / 2;
  assert.ok(
    a1! >= floor && a1! < maskArea(off.propagation.masks.get(1)!),
    `slice 1: ${a1} px, floor ${floor}, untrimmed ${maskArea(off.propagation.masks.get(1)!)}`,
  );
  assert.ok(maskDice(area.propagation.masks.get(1)!, disc(11)) > 0.95, 'trimmed at the highest threshold that keeps the floor (logit 1)');
});
