import '../helpers/nodePlatform.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Sam1Decoded, Sam1Embedding, Sam1Prompt } from '../../src/engine/sam1Engine.js';
import { SliceEmbeddings } from '../../src/predictor/sam1/embeddingCache.js';
import { maskArea, maskDice } from '../../src/predictor/sam1/maskOps.js';
import { correctObject, propagateObject, type StepSignals } from '../../src/predictor/sam1Propagator.js';
import { sliceIndexEncoder } from '../helpers/sliceIndexEncoder.js';

/**
 * A synthetic stack and a decoder that behaves like SAM where it matters for propagation: it
 * returns the bright disc of the slice clipped to the prompt box, and when there is no disc it
 * fills the box anyway (SAM always finds something in a box).
 */
const W = 64,
  H = 64;

function world(radii: number[], bright = 200, dark = 50) {
  const disc = (k: number) => {
    const m = new Uint8Array(W * H);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if ((x - 32) ** 2 + (y - 32) ** 2 <= radii[k]! ** 2) m[y * W + x] = 1;
    return m;
  };
  const pixels = (k: number) => {
    const img = Uint8Array.from(disc(k), (v) => (v ? bright : dark));
    img[0] = k; // slice marker for the fake encoder (a corner pixel, far from the object)
    return img;
  };
  const encoder = sliceIndexEncoder;
  const calls: { slice: number; prompt: Sam1Prompt; maskInput: boolean }[] = [];
  const decoder = {
    async decode(emb: Sam1Embedding, prompt: Sam1Prompt, maskInput?: Float32Array): Promise<Sam1Decoded> {
      const k = emb.data[0]!;
      calls.push({ slice: k, prompt, maskInput: !!maskInput });
      const d = disc(k);
      const [x0, y0, x1, y1] = prompt.box ?? [0, 0, W - 1, H - 1];
      const logits = new Float32Array(W * H).fill(-5);
      const empty = maskArea(d) === 0;
      for (let y = Math.ceil(y0); y <= Math.floor(y1); y++)
        for (let x = Math.ceil(x0); x <= Math.floor(x1); x++) {
          if (empty || d[y * W + x]) logits[y * W + x] = 5;
        }
      return { logits, lowRes: new Float32Array(256 * 256), iou: 0.9 };
    },
  };
  return { disc, pixels, encoder, decoder, calls, slices: () => new SliceEmbeddings(encoder, pixels, W, H, radii.length) };
}

test('propagates a shrinking object both ways and stops where the box holds only background', async () => {
  const radii = [0, 0, 4, 8, 12, 12, 8, 4, 0, 0];
  const wld = world(radii);
  const r = await propagateObject(wld.decoder, wld.slices(), [{ slice: 4, box: [20, 20, 44, 44] }]);
  assert.deepEqual(
    [...r.masks.keys()].sort((a, b) => a - b),
    [2, 3, 4, 5, 6, 7],
  );
  // 3×3 smoothing blurs the disc edge, so the intensity vote may trim a rim pixel or two.
  for (const [k, m] of r.masks) assert.ok(maskDice(m, wld.disc(k)) > 0.95, `slice ${k}: Dice ${maskDice(m, wld.disc(k))}`);
  assert.equal(r.stops.length, 1);
  assert.equal(r.stops[0]!.down, 'background');
  assert.equal(r.stops[0]!.up, 'background');
  assert.ok(r.stops[0]!.intensityModel && r.stops[0]!.separability > 0.95);
  // Every propagation decode carries the previous mask prompt and an interior click.
  const steps = wld.calls.filter((c) => c.slice !== 4);
  assert.ok(steps.every((c) => c.maskInput && c.prompt.points?.length === 1 && c.prompt.points[0]!.label === 1));
  // Never reads slices beyond the first background one on each side.
  assert.ok(wld.calls.every((c) => c.slice >= 1 && c.slice <= 8));
});

test('without intensity contrast only the tight box is used and the tip rule (area < 10% of key) stops', async () => {
  const radii = [12, 12, 12, 3, 12, 12, 12, 12];
  const wld = world(radii, 120, 120); // object and background look the same
  const r = await propagateObject(wld.decoder, wld.slices(), [{ slice: 6, box: [20, 20, 44, 44] }]);
  assert.equal(r.stops[0]!.intensityModel, false);
  assert.equal(r.stops[0]!.down, 'tip'); // slice 3: radius 3 → 29 px < 10% of 441
  assert.equal(r.stops[0]!.up, 'volume-end');
  assert.deepEqual(
    [...r.masks.keys()].sort((a, b) => a - b),
    [4, 5, 6, 7],
  );
  // One proposal per slice (no inset proposals without an intensity model), plus its refinement (refineSteps).
  assert.equal(wld.calls.filter((c) => c.slice === 5).length, 2);
});

test('several key slices of one object split the stack between them; a mask prompt is kept as given', async () => {
  const radii = [6, 8, 10, 12, 12, 10, 8, 6, 4, 0];
  const wld = world(radii);
  const keyMask = wld.disc(2);
  const r = await propagateObject(
    wld.decoder,
    wld.slices(),
    [
      { slice: 6, box: [23, 23, 41, 41] },
      { slice: 2, mask: keyMask },
    ],
    { maxSlices: 5 },
  );
  assert.deepEqual(
    r.stops.map((s) => s.key),
    [2, 6],
  );
  assert.equal(r.stops[0]!.up, 'next-key'); // key 2 owns slices 0..4 (the midway slice 4 goes to the lower key)
  assert.equal(r.stops[1]!.down, 'next-key'); // key 6 owns slices 5..9
  assert.equal(r.stops[0]!.down, 'volume-end');
  assert.deepEqual(r.masks.get(2), keyMask);
  const fromKey2 = wld.calls.filter((c) => c.slice === 4).length,
    fromKey6 = wld.calls.filter((c) => c.slice === 5).length;
  assert.ok(fromKey2 > 0 && fromKey6 > 0);
  assert.deepEqual(
    [...r.masks.keys()].sort((a, b) => a - b),
    [0, 1, 2, 3, 4, 5, 6, 7, 8],
  );
  const limited = await propagateObject(wld.decoder, wld.slices(), [{ slice: 4, box: [20, 20, 44, 44] }], { maxSlices: 1 });
  assert.deepEqual(
    [...limited.masks.keys()].sort((a, b) => a - b),
    [3, 4, 5],
  );
  assert.deepEqual([limited.stops[0]!.down, limited.stops[0]!.up], ['limit', 'limit']);
});

test('bad options are MedsamErrors', async () => {
  const wld = world([5, 5]);
  await assert.rejects(
    propagateObject(wld.decoder, wld.slices(), [{ slice: 0, box: [20, 20, 44, 44] }], { boxInsets: [0.6] }),
    /boxInsets \[0.6\] must be fractions in \(-0.5, 0.5\)/,
  );
});

test('SAM gets pixel-edge coordinates: a mask box [x0, x1] reaches the decoder as [x0, x1 + 1], a click as the pixel centre', async () => {
  const radii = [12, 12, 12];
  for (const pixelEdges of [true, false]) {
    const wld = world(radii);
    await propagateObject(wld.decoder, wld.slices(), [{ slice: 1, box: [19, 20, 44, 44], points: [{ x: 32, y: 30, label: 1 }] }], {
      pixelEdges,
    });
    const key = wld.calls.find((c) => c.slice === 1)!;
    const e = pixelEdges ? 1 : 0;
    assert.deepEqual(key.prompt.box, [19, 20, 44 + e, 44 + e]);
    assert.deepEqual(key.prompt.points, [{ x: 32 + e / 2, y: 30 + e / 2, label: 1 }]);
    // The next slice's box is the previous mask's tight box (the disc: pixels 20..44), widened the same way.
    const step = wld.calls.find((c) => c.slice === 2)!;
    assert.deepEqual(step.prompt.box, [20, 20, 44 + e, 44 + e]);
    assert.equal(step.prompt.points![0]!.x % 1, e / 2);
  }
});

test('a correction keeps the user key as the main key even when the corrected slice is larger', async () => {
  const radii = [0, 4, 8, 12, 12, 8, 4, 0];
  const wld = world(radii);
  const first = await propagateObject(wld.decoder, wld.slices(), [{ slice: 2, box: [24, 24, 40, 40] }]);
  assert.equal(first.main, 2);
  // Without the rule the largest key (slice 4's radius-12 disc) would describe the object.
  const two = await propagateObject(wld.decoder, wld.slices(), [
    { slice: 2, box: [24, 24, 40, 40] },
    { slice: 4, box: [20, 20, 44, 44] },
  ]);
  assert.equal(two.main, 4);
  const fixed = await correctObject(wld.decoder, wld.slices(), [{ slice: 2, box: [24, 24, 40, 40] }], first, {
    slice: 4,
    x: 32,
    y: 32,
    label: 1,
  });
  assert.deepEqual(
    fixed.prompts.map((p) => p.slice),
    [2, 4],
  );
  assert.ok(maskArea(fixed.propagation.masks.get(4)!) > maskArea(fixed.propagation.masks.get(2)!));
  assert.equal(fixed.propagation.main, 2);
});

test('opt-in stop rules: a cross-section collapsing below half the previous one stops (collapse, cycle); onStep reports the signals', async () => {
  const radii = [12, 12, 12, 12, 5, 12];
  const wld = world(radii);
  const key = [{ slice: 0, box: [20, 20, 44, 44] as [number, number, number, number] }];
  const plain = await propagateObject(wld.decoder, wld.slices(), key);
  assert.deepEqual([...plain.masks.keys()].sort(), [0, 1, 2, 3, 4, 5]); // off by default: slice 4 is kept
  const steps: StepSignals[] = [];
  const collapse = await propagateObject(wld.decoder, wld.slices(), key, { minAreaRatio: 0.5, onStep: (s) => steps.push(s) });
  assert.equal(collapse.stops[0]!.up, 'collapse');
  assert.deepEqual([...collapse.masks.keys()].sort(), [0, 1, 2, 3]);
  assert.deepEqual(
    steps.map((s) => [s.slice, s.stop]),
    [
      [1, undefined],
      [2, undefined],
      [3, undefined],
      [4, 'collapse'],
    ],
  );
  const last = steps.at(-1)!;
  assert.ok(last.area < 0.5 * last.prevArea && last.prevArea > 400, `${last.area} vs ${last.prevArea}`);
  assert.equal(last.predictedIoU, 0.9); // the fake decoder's estimate
  assert.equal(last.stability, 1); // logits ±5: the same mask at ±1
  // Carried back from slice 4's small disc, slice 3 comes out small: the cycle check stops there too.
  const cycle = await propagateObject(wld.decoder, wld.slices(), key, { minCycleIoU: 0.5 });
  assert.equal(cycle.stops[0]!.up, 'cycle');
  assert.deepEqual([...cycle.masks.keys()].sort(), [0, 1, 2, 3]);
});

test('maxGrownRatio: a grown-box proposal may not make the mask larger than the previous slice (no creeping leak)', async () => {
  // A disc with a bright bar leaving it to the right, the same on every slice: a box grown by 10% takes
  // a little more of the bar on every step, and the intensity vote (the bar is object-like) prefers it.
  const disc = new Uint8Array(W * H);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) if ((x - 32) ** 2 + (y - 32) ** 2 <= 64 || (x >= 32 && y >= 30 && y <= 34)) disc[y * W + x] = 1;
  const pixels = (k: number) => {
    const img = Uint8Array.from(disc, (v) => (v ? 200 : 50));
    img[0] = k;
    return img;
  };
  const encoder = sliceIndexEncoder;
  const decoder = {
    async decode(_e: Sam1Embedding, prompt: Sam1Prompt): Promise<Sam1Decoded> {
      const [x0, y0, x1, y1] = prompt.box!;
      const logits = new Float32Array(W * H).fill(-5);
      for (let y = Math.ceil(y0); y <= Math.floor(y1); y++)
        for (let x = Math.ceil(x0); x <= Math.floor(x1); x++) if (disc[y * W + x]) logits[y * W + x] = 5;
      return { logits, lowRes: new Float32Array(256 * 256), iou: 0.9 };
    },
  };
  const run = (opts: object) =>
    propagateObject(decoder, new SliceEmbeddings(encoder, pixels, W, H, 10), [{ slice: 0, box: [24, 24, 40, 40] }], {
      boxInsets: [-0.1, 0, 0.1, 0.2, 0.3],
      pixelEdges: false, // the fake decoder reads boxes literally: a pixel-edge box would itself creep one column a step
      ...opts,
    });
  const free = await run({}),
    capped = await run({ maxGrownRatio: 1 });
  const key = maskArea(free.masks.get(0)!);
  assert.ok(maskArea(free.masks.get(9)!) > key * 1.3, `uncapped: ${maskArea(free.masks.get(9)!)} vs key ${key}`);
  for (const [k, m] of capped.masks) assert.ok(maskArea(m) <= key, `capped slice ${k}: ${maskArea(m)} > key ${key}`);
  assert.equal(capped.masks.size, 10);
});

test('intensityBox: re-anchoring the box on the object-like pixels stops a decoder that fills each box a pixel short from drifting', async () => {
  // The same disc on every slice; the decoder returns the disc inside the box shrunk by one pixel per
  // side, so a box built from the previous mask loses a pixel ring per slice (the organs' drift).
  const disc = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if ((x - 32) ** 2 + (y - 32) ** 2 <= 100) disc[y * W + x] = 1;
  const pixels = (k: number) => {
    const img = Uint8Array.from(disc, (v) => (v ? 200 : 50));
    img[0] = k;
    return img;
  };
  const encoder = sliceIndexEncoder;
  const decoder = {
    async decode(_e: Sam1Embedding, prompt: Sam1Prompt): Promise<Sam1Decoded> {
      const [x0, y0, x1, y1] = prompt.box!;
      const logits = new Float32Array(W * H).fill(-5);
      for (let y = Math.ceil(y0) + 1; y <= Math.floor(y1) - 1; y++)
        for (let x = Math.ceil(x0) + 1; x <= Math.floor(x1) - 1; x++) if (disc[y * W + x]) logits[y * W + x] = 5;
      return { logits, lowRes: new Float32Array(256 * 256), iou: 0.9 };
    },
  };
  const run = (opts: object) =>
    propagateObject(decoder, new SliceEmbeddings(encoder, pixels, W, H, 12), [{ slice: 0, box: [21, 21, 43, 43] }], {
      pixelEdges: false,
      ...opts,
    });
  const drift = await run({ intensityBox: 'off' }),
    anchored = await run({ intensityBox: 'propose' });
  const full = maskArea(disc);
  assert.ok(drift.masks.size < 12 || maskArea(drift.masks.get(11)!) < 0.5 * full, 'without re-anchoring the mask shrinks away');
  assert.equal(anchored.masks.size, 12);
  for (const [k, m] of anchored.masks) assert.ok(maskDice(m, disc) > 0.85, `slice ${k}: Dice ${maskDice(m, disc).toFixed(2)}`);
});

test('intensityBox rescue: on a thick step where the decoder spills over the shrunken object, the object-like box carries on; capped at the previous area', async () => {
  // A bright tumour (radius by slice) inside a dark halo of radius 12 (like the glioma's oedema on
  // 6.5 mm MR slices). The fake decoder segments the tumour when the box frames it tightly (within
  // 1.5 px a side) and otherwise spills over the halo around the box: handed the previous slice's box,
  // every inset proposal is mostly background-like where the tumour shrinks, and the background stop fires.
  // Where the tumour shrinks it also sits off the halo's centre, as the glioma's end does.
  const tumour = [12, 12, 5, 5, 0, 0],
    centre = [32, 32, 36, 36, 32, 32];
  const disc = (r: number, c = 32) => {
    const m = new Uint8Array(W * H);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if ((x - c) ** 2 + (y - c) ** 2 <= r * r) m[y * W + x] = 1;
    return m;
  };
  const halo = disc(12);
  const pixels = (k: number) => {
    const img = Uint8Array.from(disc(tumour[k]!, centre[k]), (v) => (v ? 200 : 50));
    img[0] = k;
    return img;
  };
  const encoder = sliceIndexEncoder;
  const decoder = {
    async decode(e: Sam1Embedding, prompt: Sam1Prompt): Promise<Sam1Decoded> {
      const r = tumour[e.data[0]!]!,
        c = centre[e.data[0]!]!;
      const t = disc(r, c);
      const box = prompt.box!;
      const tight = r > 0 && box.every((v, i) => Math.abs(v - (i < 2 ? c - r : c + r)) <= 1.5);
      const [x0, y0, x1, y1] = tight ? box : [box[0] - 4, box[1] - 4, box[2] + 4, box[3] + 4];
      const logits = new Float32Array(W * H).fill(-5);
      for (let y = Math.max(0, Math.ceil(y0)); y <= Math.min(H - 1, Math.floor(y1)); y++)
        for (let x = Math.max(0, Math.ceil(x0)); x <= Math.min(W - 1, Math.floor(x1)); x++)
          if (t[y * W + x] || (!tight && halo[y * W + x])) logits[y * W + x] = 5;
      return { logits, lowRes: new Float32Array(256 * 256), iou: 0.9 };
    },
  };
  const run = (opts: object) =>
    propagateObject(decoder, new SliceEmbeddings(encoder, pixels, W, H, tumour.length), [{ slice: 0, box: [20, 20, 44, 44] }], {
      pixelEdges: false,
      ...opts,
    });
  const sorted = (r: { masks: Map<number, Uint8Array> }) => [...r.masks.keys()].sort((a, b) => a - b);
  const plain = await run({ intensityBox: 'off' });
  assert.deepEqual(sorted(plain), [0, 1]);
  assert.equal(plain.stops[0]!.up, 'background');
  // The default (session 15): rescue, capped at the previous area, IoU estimate >= 0.7.
  assert.deepEqual(sorted(await run({})), [0, 1, 2, 3]);
  const rescued = await run({ intensityBox: 'rescue', intensityBoxMaxRatio: 1 });
  assert.deepEqual(sorted(rescued), [0, 1, 2, 3]); // and no further: slice 4 has nothing object-like
  for (const k of [2, 3]) assert.ok(maskDice(rescued.masks.get(k)!, disc(5, 36)) > 0.6, `slice ${k}`);
  // The decoder's IoU estimate (0.9 here) below the demanded one refuses the rescue (intensityBoxMinIoU).
  assert.deepEqual(sorted(await run({ intensityBox: 'rescue', intensityBoxMaxRatio: 1, intensityBoxMinIoU: 0.95 })), [0, 1]);
  assert.deepEqual(sorted(await run({ intensityBox: 'rescue', intensityBoxMaxRatio: 1, intensityBoxMinIoU: 0.85 })), [0, 1, 2, 3]);
  // The cap: a rescued mask may not be larger than the previous slice's.
  assert.deepEqual(sorted(await run({ intensityBox: 'rescue', intensityBoxMaxRatio: 0.1 })), [0, 1]);
  // The cycle check on re-anchored steps: carried back to slice 1, the rescued mask gives only part of
  // slice 1's disc; a demand for near-identity refuses the rescue, a loose one keeps it.
  const strict = await run({ intensityBox: 'rescue', intensityBoxMaxRatio: 1, intensityBoxMinCycleIoU: 0.99 });
  assert.deepEqual(sorted(strict), [0, 1]);
  assert.equal(strict.stops[0]!.up, 'background');
  assert.deepEqual(sorted(await run({ intensityBox: 'rescue', intensityBoxMaxRatio: 1, intensityBoxMinCycleIoU: 0.1 })), [0, 1, 2, 3]);
});

test('outputThreshold trims the soft rim of the masks handed out but carries the untrimmed masks (no drift)', async () => {
  // Every slice: a disc of radius 10 whose outer 2 px the fake decoder is unsure of (logit 0.5).
  const ring = (r: number) => {
    const m = new Uint8Array(W * H);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if ((x - 32) ** 2 + (y - 32) ** 2 <= r * r) m[y * W + x] = 1;
    return m;
  };
  const outer = ring(10),
    inner = ring(8);
  const pixels = (k: number) => {
    const img = Uint8Array.from(outer, (v) => (v ? 200 : 50));
    img[0] = k;
    return img;
  };
  const encoder = sliceIndexEncoder;
  const decoder = {
    async decode(_e: Sam1Embedding, prompt: Sam1Prompt): Promise<Sam1Decoded> {
      const [x0, y0, x1, y1] = prompt.box!;
      const logits = new Float32Array(W * H).fill(-5);
      for (let y = Math.ceil(y0); y <= Math.floor(y1); y++)
        for (let x = Math.ceil(x0); x <= Math.floor(x1); x++) if (outer[y * W + x]) logits[y * W + x] = inner[y * W + x] ? 5 : 0.5;
      return { logits, lowRes: new Float32Array(256 * 256), iou: 0.9 };
    },
  };
  const run = (opts: object) =>
    propagateObject(decoder, new SliceEmbeddings(encoder, pixels, W, H, 8), [{ slice: 0, box: [22, 22, 42, 42] }], {
      pixelEdges: false,
      ...opts,
    });
  const plain = await run({}),
    trimmedRun = await run({ outputThreshold: 1 });
  assert.equal(plain.masks.size, 8);
  assert.equal(trimmedRun.masks.size, 8);
  for (let k = 0; k < 8; k++) {
    assert.equal(maskDice(plain.masks.get(k)!, outer), 1, `plain slice ${k}`);
    assert.equal(maskDice(trimmedRun.masks.get(k)!, inner), 1, `trimmed slice ${k}`);
  }
});
