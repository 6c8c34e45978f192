import '../helpers/nodePlatform.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SliceEmbeddings } from '../../src/predictor/sam1/embeddingCache.js';
import { maskArea, maskDice } from '../../src/predictor/sam1/maskOps.js';
import { OUTWARD_MIN_RATIO, outwardTrimRatio } from '../../src/predictor/sam1/negativeClickTrimOutward.js';
import { correctObject, propagateObject, type Sam1PropagationOptions } from '../../src/predictor/sam1Propagator.js';
import { discMask } from '../helpers/discMask.js';
import { radialBoxDecoder } from '../helpers/radialDecoder.js';
import { markedSlice, sliceIndexEncoder } from '../helpers/sliceIndexEncoder.js';

const W = 64,
  H = 64;
const disc = (r: number) => discMask(W, H, r);

test('outwardTrimRatio: the share of its slice a negative click kept', () => {
  assert.equal(outwardTrimRatio(disc(6), disc(12)), maskArea(disc(6)) / maskArea(disc(12)));
  assert.equal(outwardTrimRatio(disc(12), undefined), undefined, 'no mask before the click: no ratio');
  assert.equal(outwardTrimRatio(disc(12), disc(6)), 1, 'a click that grew its slice trims nothing below the untrimmed mask');
});

test('propagateObject negativeClickTrimOutward: the carry beyond a negatively clicked key hands its masks out trimmed', async () => {
  // Radial logits inside the prompt's box; a negative click answers 3 lower (radialBoxDecoder).
  const decoder = radialBoxDecoder(W, H);
  const opts: Sam1PropagationOptions = { intensityModel: false, refineSteps: 0, minAreaFraction: 0 };
  const prompts = [{ slice: 3, box: [19, 19, 45, 45] as [number, number, number, number] }];
  const emb = () => new SliceEmbeddings(sliceIndexEncoder, (k) => markedSlice(k, W, H), W, H, 4);
  const first = await propagateObject(decoder, emb(), prompts, opts);
  for (const k of [0, 1, 2, 3]) assert.ok(maskDice(first.masks.get(k)!, disc(12)) > 0.98, `slice ${k} holds the radius-12 disc`);
  // A negative click on slice 1 (radius 9 after it, t 3); slice 0 lies beyond it, carried from it.
  const click = { slice: 1, x: W / 2 + 11, y: H / 2, label: 0 as const };
  const off = await correctObject(decoder, emb(), prompts, first, click, { ...opts, negativeClickTrimOutward: false });
  const on = await correctObject(decoder, emb(), prompts, first, click, { ...opts, negativeClickTrimOutward: true });
  for (const r of [off, on]) assert.ok(maskDice(r.propagation.masks.get(1)!, disc(9)) > 0.95, 'the clicked slice is corrected');
  const [o0, n0] = [off, on].map((r) => r.propagation.masks.get(0)!);
  // Carried from the radius-9 key, slice 0's answer is the radius-12 disc cut by that key's box (~357 px).
  assert.ok(maskArea(o0!) > maskArea(disc(9)) + 50, `without the rule slice 0 keeps the overshoot (${maskArea(o0!)} px)`);
  assert.ok(maskDice(n0!, disc(9)) > 0.95, `with it slice 0 is trimmed at the click's t (${maskArea(n0!)} px)`);
  for (const k of [2, 3])
    assert.equal(maskDice(on.propagation.masks.get(k)!, off.propagation.masks.get(k)!), 1, `slice ${k} is not touched`);
});

test("negativeClickTrimOutward 'once': a later click never trims the carry beyond an older key below the mask it had", async () => {
  const decoder = radialBoxDecoder(W, H);
  const opts: Sam1PropagationOptions = { intensityModel: false, refineSteps: 0, minAreaFraction: 0 };
  const prompts = [{ slice: 3, box: [19, 19, 45, 45] as [number, number, number, number] }];
  const emb = () => new SliceEmbeddings(sliceIndexEncoder, (k) => markedSlice(k, W, H), W, H, 4);
  const first = await propagateObject(decoder, emb(), prompts, opts);
  // Click 1: negative on slice 1 (radius 12 -> 9, t 3); slice 0 lies beyond that key and is trimmed.
  const older = { slice: 1, x: W / 2 + 11, y: H / 2, label: 0 as const };
  // Click 2: negative on the user's key 3; key 1 is the older key now.
  const later = { slice: 3, x: W / 2 + 11, y: H / 2, label: 0 as const };
  const slice0 = async (mode: boolean | 'once') => {
    const o = { ...opts, negativeClickTrimOutward: mode };
    const one = await correctObject(decoder, emb(), prompts, first, older, o);
    const a1 = maskArea(one.propagation.masks.get(0)!);
    // Say slice 0 had the radius-11 disc before click 2 (a carry that changed with the object's other
    // corrections: ct-organs label 2's slices beyond its first click, after a click on the user's key).
    const before = { ...one.propagation, masks: new Map(one.propagation.masks).set(0, disc(11)) };
    const two = await correctObject(decoder, emb(), one.prompts, before, later, o);
    return { a1, a2: maskArea(two.propagation.masks.get(0)!) };
  };
  const [off, again, once] = [await slice0(false), await slice0(true), await slice0('once')];
  for (const r of [again, once]) assert.ok(r.a1 < off.a1 - 20, `click 1 trims slice 0 (${r.a1} px, untrimmed ${off.a1})`);
  // The carry from key 1 (untrimmed, off.a2) is already under slice 0's 377 px before click 2.
  assert.ok(off.a2 < maskArea(disc(11)), `the untrimmed carry ${off.a2} px`);
  assert.ok(again.a2 < off.a2 - 40, `true: click 2 trims slice 0 again (${again.a2} px)`);
  assert.equal(once.a2, off.a2, `'once': click 2 hands slice 0 out untrimmed (${once.a2} px)`);
});

test("negativeClickTrimOutward 'once': a click that removed most of its slice trims nothing beyond it", async () => {
  // A negative click answers 6 lower: slice 1 goes from the radius-12 disc to radius 6 (a quarter of it kept).
  const decoder = radialBoxDecoder(W, H, 6);
  const opts: Sam1PropagationOptions = { intensityModel: false, refineSteps: 0, minAreaFraction: 0 };
  const prompts = [{ slice: 3, box: [19, 19, 45, 45] as [number, number, number, number] }];
  const emb = () => new SliceEmbeddings(sliceIndexEncoder, (k) => markedSlice(k, W, H), W, H, 4);
  const first = await propagateObject(decoder, emb(), prompts, opts);
  const click = { slice: 1, x: W / 2 + 11, y: H / 2, label: 0 as const };
  const slice0 = async (mode: boolean | 'once') =>
    (await correctObject(decoder, emb(), prompts, first, click, { ...opts, negativeClickTrimOutward: mode })).propagation.masks.get(0)!;
  const [off, again, once] = [await slice0(false), await slice0(true), await slice0('once')];
  const kept = outwardTrimRatio(disc(6), disc(12))!;
  assert.ok(kept < OUTWARD_MIN_RATIO, `the click kept ${kept.toFixed(2)} of its slice`);
  assert.ok(maskArea(again) < maskArea(off) - 20, `true trims slice 0 (${maskArea(again)} of ${maskArea(off)} px)`);
  assert.equal(maskDice(once, off), 1, `'once' leaves slice 0 as carried (${maskArea(once)} px)`);
});
