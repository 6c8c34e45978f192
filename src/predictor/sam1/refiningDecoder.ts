import type { Sam1Decoded, Sam1Embedding, Sam1Prompt } from '../../engine/sam1Engine.js';
import type { Sam1Decoder } from '../sam1Propagator.js';

/**
 * SAM's iterative refinement: the same prompt decoded again with the decoder's own low-res logits
 * as the mask prompt. SAM was trained this way (its interactive loop feeds each answer back), and
 * one more pass sharpens a box's answer where the first pass hedged: measured with the reference's
 * own box on every slice (scripts/accuracy/oracleBoxes.ts REFINE=1), CT lesions 0.8911 → 0.9070
 * (docs/propagation-experiments.md, "Issue 13, session 8"). Each step is one more decode.
 */

/** `first` (the answer to `prompt`) refined `steps` times. */
export async function refineDecoded(
  decoder: Sam1Decoder,
  emb: Sam1Embedding,
  prompt: Sam1Prompt,
  first: Sam1Decoded,
  steps: number,
): Promise<Sam1Decoded> {
  let d = first;
  for (let i = 0; i < steps; i++) d = await decoder.decode(emb, prompt, d.lowRes);
  return d;
}

/** A decoder whose every answer is refined `steps` times (each decode costs 1 + steps decodes). */
export function refiningDecoder(decoder: Sam1Decoder, steps: number): Sam1Decoder {
  if (!(steps > 0)) return decoder;
  return {
    decode: async (emb, prompt, maskInput) => refineDecoded(decoder, emb, prompt, await decoder.decode(emb, prompt, maskInput), steps),
  };
}
