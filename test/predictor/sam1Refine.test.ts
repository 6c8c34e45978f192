import '../helpers/nodePlatform.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Sam1Decoded, Sam1Embedding, Sam1Prompt } from '../../src/engine/sam1Engine.js';
import { samFrame } from '../../src/preprocess/samImage.js';
import { SliceEmbeddings } from '../../src/predictor/sam1/embeddingCache.js';
import { maskArea, maskDice } from '../../src/predictor/sam1/maskOps.js';
import { refineDecoded, refiningDecoder } from '../../src/predictor/sam1/refiningDecoder.js';
import { correctObject, propagateObject } from '../../src/predictor/sam1Propagator.js';

/**
 * A decoder that hedges like SAM's first pass: handed a prompt without its own earlier answer on this
 * slice as the mask prompt, it answers the slice's disc grown by 2 px (clipped to the box); handed its
 * own answer back (SAM's iterative refinement), the disc itself. Its low-res logits carry a tag: [0] =
 * 1, [1] = the slice they were made on, [2] = the call's number.
 */
const W = 64,
  H = 64;
const encoder = {
  encode: async (s: Uint8Array, h: number, w: number): Promise<Sam1Embedding> => ({
    data: new Float32Array([s[0]!]),
    dims: [1],
    frame: samFrame(h, w, 1024),
  }),
};

function world(radii: number[]) {
  const disc = (k: number, grow = 0) => {
    const m = new Uint8Array(W * H);
    const r = radii[k]! + (radii[k]! ? grow : 0);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if ((x - 32) ** 2 + (y - 32) ** 2 <= r * r) m[y * W + x] = 1;
    return m;
  };
  const pixels = (k: number) => {
    const img = Uint8Array.from(disc(k), (v) => (v ? 200 : 50));
    img[0] = k;
    return img;
  };
  const calls: { slice: number; prompt: Sam1Prompt; maskInput?: Float32Array; out: Float32Array }[] = [];
  const decoder = {
    async decode(emb: Sam1Embedding, prompt: Sam1Prompt, maskInput?: Float32Array): Promise<Sam1Decoded> {
      const k = emb.data[0]!;
      const own = !!maskInput && maskInput[0] === 1 && maskInput[1] === k;
      const d = disc(k, own ? 0 : 2);
      const [x0, y0, x1, y1] = prompt.box ?? [0, 0, W - 1, H - 1];
      const logits = new Float32Array(W * H).fill(-5);
      for (let y = Math.ceil(y0); y <= Math.floor(y1); y++)
        for (let x = Math.ceil(x0); x <= Math.floor(x1); x++) if (d[y * W + x]) logits[y * W + x] = 5;
      const lowRes = new Float32Array(256 * 256);
      lowRes.set([1, k, calls.length]);
      calls.push({ slice: k, prompt, maskInput, out: lowRes });
      return { logits, lowRes, iou: 0.9 };
    },
  };
  return { disc, decoder, calls, slices: () => new SliceEmbeddings(encoder, pixels, W, H, radii.length) };
}

test('refineDecoded / refiningDecoder: the same prompt again with the previous answer as the mask prompt', async () => {
  const wld = world([10]);
  const emb = await wld.slices().get(0);
  const prompt: Sam1Prompt = { box: [10, 10, 54, 54] };
  const first = await wld.decoder.decode(emb, prompt);
  assert.equal(maskArea(Uint8Array.from(first.logits, (v) => (v > 0 ? 1 : 0))), maskArea(wld.disc(0, 2)));
  const refined = await refineDecoded(wld.decoder, emb, prompt, first, 2);
  assert.equal(wld.calls.length, 3);
  assert.equal(wld.calls[1]!.maskInput, first.lowRes);
  assert.equal(wld.calls[2]!.maskInput, wld.calls[1]!.out);
  assert.ok(wld.calls.every((c) => c.prompt === prompt));
  assert.equal(
    maskDice(
      Uint8Array.from(refined.logits, (v) => (v > 0 ? 1 : 0)),
      wld.disc(0),
    ),
    1,
  );
  // Zero steps: the decoder itself, no extra decode.
  assert.equal(refiningDecoder(wld.decoder, 0), wld.decoder);
  await refiningDecoder(wld.decoder, 1).decode(emb, prompt);
  assert.equal(wld.calls.length, 5);
});

test('refineSteps: each propagated slice keeps its chosen proposal decoded again from its own logits', async () => {
  const radii = [0, 6, 9, 12, 12, 9, 6, 0];
  const run = async (refineSteps: number, refineMode: 'stops' | 'output' = 'stops') => {
    const wld = world(radii);
    const r = await propagateObject(wld.decoder, wld.slices(), [{ slice: 3, box: [20, 20, 44, 44] }], {
      intensityModel: false,
      refineSteps,
      refineMode,
    });
    return { r, wld };
  };
  const off = await run(0);
  const on = await run(1);
  for (const k of [1, 2, 4, 5, 6]) {
    // Without refinement the hedged rim stays; with it the slice is the object exactly.
    assert.ok(maskDice(off.r.masks.get(k)!, on.wld.disc(k)) < 0.95, `slice ${k} off`);
    assert.equal(maskDice(on.r.masks.get(k)!, on.wld.disc(k)), 1, `slice ${k} on`);
  }
  // The refinement decode repeats the chosen proposal's prompt with that proposal's own logits, and
  // the next slice is seeded with the refined logits.
  const c = on.wld.calls;
  const refine = c.findIndex((x, i) => i > 0 && x.slice === 4 && x.maskInput?.[1] === 4);
  assert.ok(refine > 0);
  assert.equal(c[refine]!.maskInput, c[refine - 1]!.out);
  assert.deepEqual(c[refine]!.prompt, c[refine - 1]!.prompt);
  assert.equal(c.find((x) => x.slice === 5)!.maskInput, c[refine]!.out);
  // Cost: one more decode per propagated slice that had a proposal (1, 2, 4, 5, 6, and the tips 0 and 7
  // where the 1-px disc stops it by the tip rule).
  assert.equal(c.length - off.wld.calls.length, 7);
  // 'output' (the default): the slices handed out are refined, but the next slice is seeded with the
  // proposal's logits, so propagation decodes exactly what it decodes without refinement.
  const out = await run(1, 'output');
  for (const k of [1, 2, 4, 5, 6]) assert.equal(maskDice(out.r.masks.get(k)!, out.wld.disc(k)), 1, `slice ${k} output`);
  const carried = out.wld.calls.filter((x) => !(x.maskInput?.[0] === 1 && x.maskInput[1] === x.slice));
  assert.deepEqual(
    carried.map((x) => [x.slice, x.prompt]),
    off.wld.calls.map((x) => [x.slice, x.prompt]),
  );
});

test("clickLogits 'stored': a clicked slice is decoded with the logits it had, not its mask decoded again", async () => {
  const radii = [0, 6, 9, 12, 12, 9, 6, 0];
  for (const clickLogits of ['stored', 'redecode'] as const) {
    const wld = world(radii);
    const slices = wld.slices();
    const prompts = [{ slice: 3, box: [20, 20, 44, 44] as [number, number, number, number] }];
    const opts = { intensityModel: false, clickLogits };
    const first = await propagateObject(wld.decoder, slices, prompts, opts);
    assert.equal(!!first.lowRes?.get(5), clickLogits === 'stored', 'logits are kept only when they are used');
    const before = wld.calls.length;
    await correctObject(wld.decoder, slices, prompts, first, { slice: 5, x: 32, y: 32, label: 1 }, opts);
    const onSlice5 = wld.calls.slice(before).filter((x) => x.slice === 5);
    if (clickLogits === 'stored') assert.equal(onSlice5[0]!.maskInput, first.lowRes!.get(5));
    // 'redecode': the prior mask's box is decoded first (no mask input), its logits then go with the click.
    else assert.equal(onSlice5[0]!.maskInput, undefined);
  }
});
