import { GraphBuilder, type T } from '../../onnx/graphBuilder.js';
import type { WeightStore } from '../../onnx/weightStore.js';
import { conv2d, layerNorm2d } from '../../onnx/torchLayers.js';
import { embeddingSize, type SamHeadsConfig } from './samHeadsConfig.js';

/**
 * Upstream sam2/modeling/sam/prompt_encoder.py (PromptEncoder) with its PositionEmbeddingRandom,
 * for the way SAM2Base calls it: points always given (boxes arrive as label-2/3 corner points, so
 * `boxes` is None and a padding point is always appended), masks optional.
 */

const P = 'sam_prompt_encoder';
const fr = Math.fround;
/** Upstream multiplies by `2 * np.pi`, a Python float the fp32 kernel rounds once. */
const TWO_PI_F32 = fr(2 * Math.PI);

/** The [2, C/2] random Fourier matrix (a buffer in the checkpoint). */
function gaussianMatrix(ws: WeightStore, cfg: SamHeadsConfig): Float32Array {
  return ws.get(`${P}.pe_layer.positional_encoding_gaussian_matrix`, [2, cfg.hiddenDim / 2]).data;
}

/**
 * get_dense_pe(): the random-Fourier encoding of the h×w embedding-grid cell centres,
 * [1,C,h,w]. Weight-only, so computed here once (fp32 rounding at each upstream step).
 */
export function denseImagePe(cfg: SamHeadsConfig, ws: WeightStore): Float32Array {
  const s = embeddingSize(cfg);
  const [h, w] = [s, s];
  const half = cfg.hiddenDim / 2;
  const gm = gaussianMatrix(ws, cfg);
  const out = new Float32Array(cfg.hiddenDim * h * w);
  for (let i = 0; i < h; i++) {
    const y = fr(2 * fr((i + 0.5) / h) - 1);
    for (let j = 0; j < w; j++) {
      const x = fr(2 * fr((j + 0.5) / w) - 1);
      for (let c = 0; c < half; c++) {
        const a = fr(TWO_PI_F32 * fr(x * gm[c]! + y * gm[half + c]!));
        out[(c * h + i) * w + j] = Math.sin(a);
        out[((c + half) * h + i) * w + j] = Math.cos(a);
      }
    }
  }
  return out;
}

/** PositionEmbeddingRandom._pe_encoding on coords already normalised to [0,1]: [..,2] → [..,C]. */
function peEncoding(g: GraphBuilder, ws: WeightStore, cfg: SamHeadsConfig, coords01: T): T {
  const gm = g.initializer(gaussianMatrix(ws, cfg), [2, cfg.hiddenDim / 2], `${P}.pe_layer.gaussian`);
  const c = g.sub(g.mulScalar(coords01, 2), g.constF(1));
  const a = g.mul(g.matmul(c, gm), g.constF(TWO_PI_F32));
  return g.concat([g.sin(a), g.cos(a)], -1);
}

/** A [1, C] embedding row as an initializer of shape [C]. */
function embedRow(g: GraphBuilder, ws: WeightStore, key: string, c: number): T {
  return g.initializer(ws.get(key, [1, c]).data, [c], key);
}

/**
 * Sparse point embeddings [1, N+1, C] from coords [1,N,2] (model-input pixels, before +0.5) and
 * int32 labels [1,N]: +0.5, append the padding point (0,0)/-1, Fourier PE, then per label:
 * -1 → not_a_point_embed (PE zeroed), 0..3 → PE + point_embeddings[label], others → PE.
 */
export function embedPoints(g: GraphBuilder, ws: WeightStore, cfg: SamHeadsConfig, coords: T, labels: T): T {
  return g.scope('prompt_points', () => {
    const C = cfg.hiddenDim;
    const shifted = g.addScalar(coords, 0.5);
    const pts = g.concat([shifted, g.constF([0, 0], [1, 1, 2])], 1);
    const lab = g.concat([labels, g.initializer(Int32Array.from([-1]), [1, 1], 'pad_label')], 1);
    // input_image_size is (S, S): x / S[1], y / S[0]
    const norm = g.div(pts, g.constF([cfg.imageSize, cfg.imageSize], [2]));
    let pe = peEncoding(g, ws, cfg, norm);
    const lab3 = g.unsqueeze(lab, [2]);
    const is = (v: number) => g.op1('Equal', [lab3, g.initializer(Int32Array.from([v]), [], `label_${v}`)]);
    pe = g.where(is(-1), embedRow(g, ws, `${P}.not_a_point_embed.weight`, C), pe);
    for (let v = 0; v < 4; v++) {
      pe = g.where(is(v), g.add(pe, embedRow(g, ws, `${P}.point_embeddings.${v}.weight`, C)), pe);
    }
    return pe;
  });
}

/** mask_downscaling: conv2×2 s2 → LN2d → GELU → conv2×2 s2 → LN2d → GELU → conv1×1: [1,1,4h,4w] → [1,C,h,w]. */
export function embedMask(g: GraphBuilder, ws: WeightStore, mask: T): T {
  return g.scope('prompt_mask', () => {
    const m = `${P}.mask_downscaling`;
    let x = conv2d(g, ws, `${m}.0`, mask, { stride: 2 });
    x = g.gelu(layerNorm2d(g, ws, `${m}.1`, x));
    x = conv2d(g, ws, `${m}.3`, x, { stride: 2 });
    x = g.gelu(layerNorm2d(g, ws, `${m}.4`, x));
    return conv2d(g, ws, `${m}.6`, x);
  });
}

/**
 * Dense prompt embedding [1,C,h,w]: mask_downscaling(mask) where `hasMask` (bool [1]) is true,
 * else no_mask_embed broadcast. Both branches are computed (the mask branch is tiny) and one is
 * selected exactly with Where.
 */
export function denseEmbedding(g: GraphBuilder, ws: WeightStore, cfg: SamHeadsConfig, mask: T, hasMask: T): T {
  const C = cfg.hiddenDim;
  const noMask = g.initializer(ws.get(`${P}.no_mask_embed.weight`, [1, C]).data, [1, C, 1, 1], `${P}.no_mask_embed`);
  const s = embeddingSize(cfg);
  const broadcast = g.expand(noMask, g.constI([1, C, s, s]));
  return g.where(hasMask, embedMask(g, ws, mask), broadcast);
}

export interface PromptGraphInputs {
  coords: T;
  labels: T;
  mask: T;
  hasMask: T;
}

/**
 * Declare the prompt inputs, all float32 so every runner feeds plain Float32Arrays:
 * point_coords [1,N,2], point_labels [1,N] (integers as floats, cast to int32 here),
 * mask_input [1,1,4h,4w], has_mask_input [1] (nonzero = use the mask).
 */
export function promptInputs(g: GraphBuilder, cfg: SamHeadsConfig): PromptGraphInputs {
  const m = 4 * embeddingSize(cfg);
  const coords = g.input('point_coords', 'float', [1, 'num_points', 2]);
  const labels = g.cast(g.input('point_labels', 'float', [1, 'num_points']), 'int32');
  const mask = g.input('mask_input', 'float', [1, 1, m, m]);
  const hasMask = g.cast(g.input('has_mask_input', 'float', [1]), 'bool');
  return { coords, labels, mask, hasMask };
}

/** Standalone prompt-encoder graph: outputs sparse_embeddings [1,N+1,C] and dense_embeddings [1,C,h,w]. */
export function buildPromptEncoderGraph(cfg: SamHeadsConfig, ws: WeightStore): Uint8Array {
  const g = new GraphBuilder('sam2_prompt_encoder');
  const inp = promptInputs(g, cfg);
  const s = embeddingSize(cfg);
  g.output(embedPoints(g, ws, cfg, inp.coords, inp.labels), 'sparse_embeddings', 'float', [1, 'num_tokens', cfg.hiddenDim]);
  g.output(denseEmbedding(g, ws, cfg, inp.mask, inp.hasMask), 'dense_embeddings', 'float', [1, cfg.hiddenDim, s, s]);
  return g.toBytes({ docString: 'SAM2 prompt encoder (medsam2.js graph builder)' });
}
