import type { Sam1Decoded, Sam1Embedding, Sam1Prompt } from '../../src/engine/sam1Engine.js';

/**
 * A stand-in SAM decoder for the click-trim tests: every slice answers radial logits round the slice
 * centre, 12 − r (so logit 0 is the disc of radius 12), inside the prompt's box (−5 outside it); a prompt
 * with a negative click answers `negativeShift` logits lower, as an over-segmented carry's click would.
 */
export function radialLogits(w: number, h: number, shift: number): Float32Array {
  return Float32Array.from({ length: w * h }, (_, i) => 12 - shift - Math.hypot((i % w) - w / 2, Math.floor(i / w) - h / 2));
}

export function radialBoxDecoder(w: number, h: number, negativeShift = 3) {
  return {
    async decode(_emb: Sam1Embedding, prompt: Sam1Prompt): Promise<Sam1Decoded> {
      const r = radialLogits(w, h, prompt.points?.some((p) => p.label === 0) ? negativeShift : 0);
      const [x0, y0, x1, y1] = prompt.box ?? [0, 0, w - 1, h - 1];
      const logits = r.map((v, i) => (i % w >= x0 && i % w <= x1 && Math.floor(i / w) >= y0 && Math.floor(i / w) <= y1 ? v : -5));
      return { logits, lowRes: new Float32Array(256 * 256), iou: 0.9 };
    },
  };
}
