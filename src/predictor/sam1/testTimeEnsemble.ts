import type { Sam1Decoded, Sam1Embedding, Sam1Prompt } from '../../engine/sam1Engine.js';
import type { Box } from '../prompts.js';

/**
 * Cheap test-time ensembles for SAM1 decodes (issue 13, session 7; measured in
 * docs/propagation-experiments.md). SAM is sensitive to where a box's edges sit, so averaging the
 * logits of a few slightly moved boxes, or of the mirrored image, smooths that out. Hand-written:
 * it is logit averaging over the engine's own decodes; no library applies to it.
 */

/** Anything that decodes a prompt on an embedded slice (the propagator's Sam1Decoder, restated to keep imports one-way). */
interface Decoder {
  decode(emb: Sam1Embedding, prompt: Sam1Prompt, maskInput?: Float32Array): Promise<Sam1Decoded>;
}

/**
 * The box and `px`-pixel variants of it: moved left/right/up/down, grown and shrunk on every side
 * (7 boxes). Clamped to the slice; a shrunk box never inverts.
 */
export function jitteredBoxes(b: Box, px: number, w: number, h: number): Box[] {
  const clamp = (x: Box): Box => [
    Math.max(0, Math.min(w - 1, x[0])),
    Math.max(0, Math.min(h - 1, x[1])),
    Math.max(0, Math.min(w - 1, x[2])),
    Math.max(0, Math.min(h - 1, x[3])),
  ];
  const [x0, y0, x1, y1] = b;
  const out: Box[] = [
    b,
    [x0 - px, y0, x1 - px, y1],
    [x0 + px, y0, x1 + px, y1],
    [x0, y0 - px, x1, y1 - px],
    [x0, y0 + px, x1, y1 + px],
    [x0 - px, y0 - px, x1 + px, y1 + px],
  ];
  if (x1 - x0 > 2 * px && y1 - y0 > 2 * px) out.push([x0 + px, y0 + px, x1 - px, y1 - px]);
  return out.map(clamp);
}

/** Element-wise mean of the decodes' logits, low-res logits and IoU estimates. */
export function meanDecoded(ds: readonly Sam1Decoded[]): Sam1Decoded {
  if (ds.length === 1) return ds[0]!;
  const mean = (arrs: Float32Array[]) => {
    const out = new Float32Array(arrs[0]!.length);
    for (const a of arrs) for (let i = 0; i < out.length; i++) out[i]! += a[i]!;
    for (let i = 0; i < out.length; i++) out[i]! /= arrs.length;
    return out;
  };
  return {
    logits: mean(ds.map((d) => d.logits)),
    lowRes: mean(ds.map((d) => d.lowRes)),
    iou: ds.reduce((s, d) => s + d.iou, 0) / ds.length,
  };
}

/**
 * A decoder whose box prompts are decoded as the mean of jitteredBoxes(box, px) (same embedding, same
 * clicks and mask input: decoder-only, 7 decodes instead of 1). Prompts without a box pass through.
 */
export function boxJitterDecoder(inner: Decoder, px: number): Decoder {
  return {
    decode: async (emb, prompt, maskInput) => {
      if (!prompt.box || !(px > 0)) return inner.decode(emb, prompt, maskInput);
      const { srcW: w, srcH: h } = emb.frame;
      const ds: Sam1Decoded[] = [];
      for (const box of jitteredBoxes(prompt.box, px, w, h)) ds.push(await inner.decode(emb, { ...prompt, box }, maskInput));
      return meanDecoded(ds);
    },
  };
}

/** A prompt in inclusive pixel coordinates mirrored left-right on a slice `w` pixels wide. */
export function mirrorPrompt(p: Sam1Prompt, w: number): Sam1Prompt {
  return {
    ...(p.box ? { box: [w - 1 - p.box[2], p.box[1], w - 1 - p.box[0], p.box[3]] as Box } : {}),
    ...(p.points ? { points: p.points.map((q) => ({ ...q, x: w - 1 - q.x })) } : {}),
  };
}

/** Row-major h×w values mirrored left-right. */
export function mirrorRows(a: Float32Array, w: number, h: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) out[row + x] = a[row + w - 1 - x]!;
  }
  return out;
}

/**
 * The decode of `prompt` averaged with the decode of the mirrored prompt on the mirrored slice's
 * embedding (flip test-time augmentation; one extra encoder run). The low-res logits stay the plain
 * decode's: they live in SAM's padded frame, where the image does not span the whole width, so they
 * cannot be mirrored back exactly; they only seed the next slice's mask prompt.
 */
export async function flipAveraged(
  decoder: Decoder,
  emb: Sam1Embedding,
  mirroredEmb: Sam1Embedding,
  prompt: Sam1Prompt,
  w: number,
  h: number,
): Promise<Sam1Decoded> {
  const plain = await decoder.decode(emb, prompt);
  const m = await decoder.decode(mirroredEmb, mirrorPrompt(prompt, w));
  const back = mirrorRows(m.logits, w, h);
  const logits = new Float32Array(back.length);
  for (let i = 0; i < logits.length; i++) logits[i] = (plain.logits[i]! + back[i]!) / 2;
  return { logits, lowRes: plain.lowRes, iou: (plain.iou + m.iou) / 2 };
}
