import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clicksToReach, deepestPixel, nextClick } from '../../src/pipelines/clicks.js';
import type { Sam1Embedding, Sam1Prompt } from '../../src/engine/sam1Engine.js';
import { keyWithClicks, promptsWithClick } from '../../src/predictor/sam1/correction.js';
import { MemoDecoder } from '../../src/predictor/sam1/decodeMemo.js';
import { anchoredNegativePrompt, cutNegativeClick } from '../../src/predictor/sam1/negativeClick.js';
import { addPositiveClick } from '../../src/predictor/sam1/positiveClick.js';
import { addCarried, settleClickCarries } from '../../src/predictor/sam1/clickReach.js';
import type { VolumePrompt } from '../../src/predictor/prompts.js';

/** x-fastest volume with rectangles [x0, y0, x1, y1, z] set. */
function vol(dims: [number, number, number], rects: [number, number, number, number, number][]): Uint8Array {
  const m = new Uint8Array(dims[0] * dims[1] * dims[2]);
  for (const [x0, y0, x1, y1, z] of rects)
    for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) m[x + dims[0] * (y + dims[1] * z)] = 1;
  return m;
}

test('a click lands at the centre of the largest error region, on the slice with the most error', () => {
  const dims: [number, number, number] = [40, 40, 4];
  // Reference: a 21x21 square on slices 1-3. Prediction: right on slice 1, misses a 9x9 block on
  // slice 2 (81 voxels) and adds a 6x6 false block on slice 3 (36 voxels) plus a 3x3 miss there.
  const ref = vol(dims, [
    [10, 10, 30, 30, 1],
    [10, 10, 30, 30, 2],
    [10, 10, 30, 30, 3],
  ]);
  const pred = vol(dims, [
    [10, 10, 30, 30, 1],
    [10, 10, 30, 30, 2],
    [10, 10, 30, 30, 3],
    [32, 0, 37, 5, 3],
  ]);
  for (let y = 20; y <= 28; y++) for (let x = 20; x <= 28; x++) pred[x + 40 * (y + 40 * 2)] = 0; // the 9x9 miss
  for (let y = 10; y <= 12; y++) for (let x = 10; x <= 12; x++) pred[x + 40 * (y + 40 * 3)] = 0; // a 3x3 miss on slice 3
  const c = nextClick(pred, ref, dims)!;
  assert.deepEqual(c, { slice: 2, x: 24, y: 24, label: 1, region: 81 }); // 81 > 36 + 9; the 9x9 block's centre; positive
  // Fix slice 2: now slice 3 has the most error; its largest region is the false 6x6 block → negative, inside it.
  for (let y = 20; y <= 28; y++) for (let x = 20; x <= 28; x++) pred[x + 40 * (y + 40 * 2)] = 1;
  const n = nextClick(pred, ref, dims)!;
  assert.equal(n.slice, 3);
  assert.equal(n.label, 0);
  assert.ok(n.x >= 34 && n.x <= 35 && n.y >= 2 && n.y <= 3, JSON.stringify(n));
  assert.equal(nextClick(ref, ref, dims), undefined);
  // The slice border is outside the region: a region touching the border is centred away from it.
  const r = new Uint8Array(10 * 10);
  for (let y = 0; y < 10; y++) for (let x = 0; x < 5; x++) r[y * 10 + x] = 1;
  const d = deepestPixel(r, 10, 10);
  assert.ok(d.x === 2 && d.y >= 2 && d.y <= 7, JSON.stringify(d)); // 3 px from the border and the region's edge
});

test('NoC: 0 when the box suffices, K+1 when never reached', () => {
  assert.equal(clicksToReach(0.9, [0.95], 0.85), 0);
  assert.equal(clicksToReach(0.5, [0.7, 0.86, 0.91], 0.85), 2);
  assert.equal(clicksToReach(0.5, [0.7, 0.8, 0.84], 0.85), 4);
});

test("correction prompts: a click joins its slice's prompt or makes a key with the previous box", () => {
  const w = 50,
    h = 50;
  const sliceMask = (x0: number, y0: number, x1: number, y1: number) => {
    const m = new Uint8Array(w * h);
    for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) m[y * w + x] = 1;
    return m;
  };
  const current = new Map([
    [4, sliceMask(10, 10, 30, 30)],
    [6, sliceMask(12, 12, 20, 20)],
  ]);
  const base: VolumePrompt[] = [{ objId: 3, slice: 4, box: [10, 10, 30, 30] }];
  // On the key slice: the click is added to its points, the box kept.
  assert.deepEqual(promptsWithClick(base, { slice: 4, x: 15, y: 15, label: 0 }, current, w, h), [
    { objId: 3, slice: 4, box: [10, 10, 30, 30], points: [{ x: 15, y: 15, label: 0 }] },
  ]);
  // On a slice with a mask: a new key with that slice's box; a positive click outside it grows the box.
  assert.deepEqual(promptsWithClick(base, { slice: 6, x: 25, y: 16, label: 1 }, current, w, h)[1], {
    objId: 3,
    slice: 6,
    box: [12, 12, 29, 20],
    points: [{ x: 25, y: 16, label: 1 }],
  });
  // On a slice the object never reached: the nearest slice's box, centred on a click outside it.
  assert.deepEqual(promptsWithClick(base, { slice: 9, x: 15, y: 15, label: 1 }, current, w, h)[1]!.box, [12, 12, 20, 20]);
  assert.deepEqual(promptsWithClick(base, { slice: 9, x: 30, y: 40, label: 1 }, current, w, h)[1]!.box, [26, 36, 34, 44]);
  assert.equal(base[0]!.points, undefined, 'the input prompts are not modified');
});

test('keyWithClicks: the correction key and the mask it refines (one function for eval and sessions)', () => {
  const w = 50,
    h = 50;
  const sliceMask = (x0: number, y0: number, x1: number, y1: number) => {
    const m = new Uint8Array(w * h);
    for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) m[y * w + x] = 1;
    return m;
  };
  const current = new Map([
    [4, sliceMask(10, 10, 30, 30)],
    [6, sliceMask(12, 12, 20, 20)],
  ]);
  const neg = { x: 15, y: 15, label: 0 as const };
  // A propagated slice: its box, the click, and its mask as the prior.
  const a = keyWithClicks(undefined, [neg], 6, current, w, h);
  assert.deepEqual(a.key, { box: [12, 12, 20, 20], points: [neg] });
  assert.deepEqual(a.prior, current.get(6));
  // A mask key (an edit): the box of the slice's mask, the clicks, the mask as the prior; the mask prompt is gone.
  const b = keyWithClicks({ mask: sliceMask(0, 0, 5, 5) }, [neg], 4, current, w, h);
  assert.deepEqual(b.key, { box: [10, 10, 30, 30], points: [neg] });
  assert.ok(b.prior);
  // A slice without the object: the nearest slice's box centred on a positive click outside it, no prior.
  const c = keyWithClicks(undefined, [{ x: 40, y: 16, label: 1 }], 8, current, w, h);
  assert.deepEqual(c.key.box, [36, 12, 44, 20]);
  assert.equal(c.prior, undefined);
  // A key with a box: the clicks join it.
  const d = keyWithClicks({ box: [10, 10, 30, 30], points: [neg] }, [{ x: 20, y: 20, label: 1 }], 4, current, w, h);
  assert.deepEqual(d.key, { box: [10, 10, 30, 30], points: [neg, { x: 20, y: 20, label: 1 }] });
});

test('MemoDecoder answers a repeated (embedding, prompt, mask input) from memory, and only that', async () => {
  let calls = 0;
  const inner = {
    decode: async (_e: Sam1Embedding, p: Sam1Prompt, m?: Float32Array) => {
      calls++;
      return { logits: new Float32Array([p.box?.[0] ?? 0, m?.[0] ?? -1]), lowRes: new Float32Array(4), iou: calls };
    },
  };
  const memo = new MemoDecoder(inner);
  const e1 = { data: new Float32Array(1), dims: [1], frame: {} } as unknown as Sam1Embedding;
  const e2 = { data: new Float32Array(1), dims: [1], frame: {} } as unknown as Sam1Embedding;
  const m = new Float32Array([1, 2, 3]);
  const first = await memo.decode(e1, { box: [1, 2, 3, 4] }, m);
  assert.equal(await memo.decode(e1, { box: [1, 2, 3, 4] }, new Float32Array([1, 2, 3])), first);
  assert.notEqual(await memo.decode(e1, { box: [1, 2, 3, 5] }, m), first);
  assert.notEqual(await memo.decode(e1, { box: [1, 2, 3, 4] }, new Float32Array([1, 2, 4])), first);
  assert.notEqual(await memo.decode(e1, { box: [1, 2, 3, 4] }), first);
  assert.notEqual(await memo.decode(e2, { box: [1, 2, 3, 4] }, m), first);
  assert.equal(calls, 5);
  assert.deepEqual([memo.hits, memo.misses], [1, 5]);
});

test('a negative click only removes: it cuts the clicked blob up to the mask edge and pins what is left', () => {
  const w = 40,
    h = 20;
  // The object (a 12x12 square) with a blob leaked onto its right (a 10x10 square touching it).
  const prior = new Uint8Array(w * h);
  for (let y = 4; y < 16; y++) for (let x = 2; x < 14; x++) prior[y * w + x] = 1;
  for (let y = 5; y < 15; y++) for (let x = 14; x < 24; x++) prior[y * w + x] = 1;
  const click = { x: 19, y: 9, label: 0 as const };
  // What the decoder returned: the prior plus something outside it (a negative click never adds).
  const decoded = Uint8Array.from(prior);
  for (let x = 30; x < 35; x++) decoded[2 * w + x] = 1;
  const cut = cutNegativeClick(decoded, prior, click, w, h);
  assert.equal(cut[9 * w + 19], 0, 'the clicked pixel is off');
  assert.equal(cut[2 * w + 31], 0, 'nothing outside the corrected mask is added');
  for (let y = 4; y < 16; y++) for (let x = 2; x < 13; x++) assert.equal(cut[y * w + x], 1, `object pixel ${x},${y} kept`);
  assert.ok(cut.reduce((s, v) => s + v, 0) < prior.reduce((s, v) => s + v, 0) - 40);
  // The decoder is pinned inside what is left: a positive click on the object, away from the blob.
  const p = anchoredNegativePrompt({ box: [2, 4, 23, 15], points: [click] }, prior, click, w, h);
  const pin = p.points![1]!;
  assert.equal(pin.label, 1);
  assert.ok(pin.x < 14 && prior[pin.y * w + pin.x], JSON.stringify(pin));
  // A click off the mask cuts nothing (the result is still kept inside it).
  assert.deepEqual(cutNegativeClick(prior, prior, { x: 35, y: 2, label: 0 }, w, h), prior);
});

test('a positive click only adds: the part of the answer at the click, near the mask being corrected', () => {
  const w = 60,
    h = 30;
  const area = (m: Uint8Array) => m.reduce((s, v) => s + v, 0);
  // The mask being corrected: a 10x10 square; the missed part: a 6-px band on its right.
  const prior = new Uint8Array(w * h);
  for (let y = 10; y < 20; y++) for (let x = 10; x < 20; x++) prior[y * w + x] = 1;
  // The decoder's answer: the band, a leak running on from it to the right edge, a ring all round
  // the square (a band around the whole mask would take it), and an island; it also drops a corner
  // of the square.
  const decoded = new Uint8Array(w * h);
  for (let y = 10; y < 20; y++) for (let x = 20; x < w; x++) decoded[y * w + x] = 1;
  for (let y = 6; y < 24; y++) for (let x = 6; x < 24; x++) if (!prior[y * w + x]) decoded[y * w + x] = 1;
  for (let y = 0; y < 3; y++) for (let x = 0; x < 3; x++) decoded[y * w + x] = 1;
  for (let y = 10; y < 20; y++) for (let x = 12; x < 20; x++) decoded[y * w + x] = 1;
  const click = { x: 22, y: 15, label: 1 as const }; // 3 px from the square: the disc (reach 2) is 6 px
  const out = addPositiveClick(decoded, prior, click, w, h);
  for (let i = 0; i < prior.length; i++) if (prior[i]) assert.equal(out[i], 1, 'the mask being corrected is kept whole');
  assert.equal(out[15 * w + 22], 1, 'the clicked pixel is added');
  assert.equal(out[15 * w + 26], 1, 'the missed region within reach is added');
  assert.equal(out[15 * w + 40], 0, 'the leak beyond reach is not');
  assert.equal(out[7 * w + 7] + out[1 * w + 1], 0, 'neither the far side of the ring nor the island');
  // Within the disc: the near part of the band and of the ring, not the rest.
  const added = area(out) - area(prior);
  assert.ok(added > 40 && added < Math.PI * 36, `added ${added} px`);
  // An answer without the click adds nothing; a click on the mask leaves the decoder's answer.
  assert.deepEqual(addPositiveClick(new Uint8Array(w * h), prior, click, w, h), prior);
  assert.deepEqual(addPositiveClick(decoded, prior, { x: 15, y: 15, label: 1 }, w, h), decoded);
});

test('a slice carried from a positive correction keeps what it had and gains the carry', () => {
  const had = Uint8Array.from([1, 1, 1, 0, 0, 0]),
    carried = Uint8Array.from([0, 1, 1, 1, 0, 0]);
  assert.deepEqual([...addCarried(carried, had)], [1, 1, 1, 1, 0, 0]);
  assert.deepEqual([...addCarried(carried, undefined)], [...carried], 'a slice that had nothing gains the carry');
  const masks = new Map([
    [3, carried],
    [4, Uint8Array.from(carried)],
  ]);
  settleClickCarries(
    masks,
    new Set([3]),
    new Map([
      [3, had],
      [4, had],
    ]),
  );
  assert.deepEqual([...masks.get(3)!], [1, 1, 1, 1, 0, 0]);
  assert.deepEqual([...masks.get(4)!], [...carried], 'only the slices carried from a positive correction change');
});

test('a positive click adds the missed rim along the mask (band ∩ disc), and only a part, never a second object', () => {
  const w = 60,
    h = 30;
  // The mask being corrected: a 20x20 square (400 px); missed: an 8-px rim on its right (160 px), and
  // the decoder's answer also leaks on to the slice's edge along rows 13–16.
  const prior = new Uint8Array(w * h);
  for (let y = 5; y < 25; y++) for (let x = 10; x < 30; x++) prior[y * w + x] = 1;
  const decoded = new Uint8Array(w * h);
  for (let y = 5; y < 25; y++) for (let x = 30; x < 38; x++) decoded[y * w + x] = 1;
  for (let y = 13; y < 17; y++) for (let x = 38; x < w; x++) decoded[y * w + x] = 1;
  const click = { x: 33, y: 15, label: 1 as const }; // 4 px from the square: band 8 px, disc 16 px
  const out = addPositiveClick(decoded, prior, click, w, h);
  assert.equal(out[6 * w + 35], 1, 'the rim 9 px from the click (beyond the old 2x disc) is added');
  assert.equal(out[15 * w + 38], 0, 'the leak beyond the band is not');
  assert.equal(
    addPositiveClick(decoded, prior, click, w, h, 2, Infinity)[6 * w + 35],
    0,
    'the session-6 rule (disc 2x alone) stopped short',
  );
  // An answer that would add more than the mask holds (a 6x6 mask, the whole slice answered): only
  // the 2x disc (8 px) round the click is added, not the rest of band ∩ disc.
  const small = new Uint8Array(w * h);
  for (let y = 12; y < 18; y++) for (let x = 24; x < 30; x++) small[y * w + x] = 1;
  const all = new Uint8Array(w * h).fill(1);
  const capped = addPositiveClick(all, small, click, w, h);
  const added = capped.reduce((s, v) => s + v, 0) - 36;
  assert.ok(added > 0 && added <= Math.PI * 64 + 1, `capped: added ${added} px`);
  assert.equal(capped[24 * w + 30], 0, 'in band and disc, but beyond the 2x disc');
});
