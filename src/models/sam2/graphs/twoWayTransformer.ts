import type { GraphBuilder, T } from '../../onnx/graphBuilder.js';
import type { WeightStore } from '../../onnx/weightStore.js';
import { layerNorm, linear, mlp } from '../../onnx/torchLayers.js';

/**
 * Graph fragments for upstream sam2/modeling/sam/transformer.py: Attention (with the
 * internal-dim downsample rate), TwoWayAttentionBlock and TwoWayTransformer. Tensors are
 * batch-first [B, N, C] like upstream; token counts may be dynamic.
 */

/**
 * SAM `Attention`: project q/k/v to internal_dim = out_features of q_proj (embedding_dim /
 * downsample_rate), split heads, softmax(q·kᵀ/√d)·v, recombine, out_proj. The head width comes
 * from the projection weights, so the downsample rate needs no separate argument.
 */
export function samAttention(g: GraphBuilder, ws: WeightStore, prefix: string, q: T, k: T, v: T, numHeads: number): T {
  return g.scope(prefix, () => {
    const internal = ws.get(`${prefix}.q_proj.weight`).shape[0]!;
    if (internal % numHeads !== 0) throw new Error(`${prefix}: internal dim ${internal} is not divisible by ${numHeads} heads`);
    const dh = internal / numHeads;
    const qp = linear(g, ws, `${prefix}.q_proj`, q);
    const kp = linear(g, ws, `${prefix}.k_proj`, k);
    const vp = linear(g, ws, `${prefix}.v_proj`, v);
    // [B,N,I] → [B,H,N,dh] (keys straight to [B,H,dh,N] for the score matmul)
    const qh = g.transpose(g.reshape(qp, [0, -1, numHeads, dh]), [0, 2, 1, 3]);
    const khT = g.transpose(g.reshape(kp, [0, -1, numHeads, dh]), [0, 2, 3, 1]);
    const vh = g.transpose(g.reshape(vp, [0, -1, numHeads, dh]), [0, 2, 1, 3]);
    // Reference (math SDPA): softmax(q @ kᵀ / sqrt(d)) @ v.
    const scores = g.div(g.matmul(qh, khT), g.constF(Math.sqrt(dh)));
    const out = g.matmul(g.softmax(scores, -1), vh);
    const merged = g.reshape(g.transpose(out, [0, 2, 1, 3]), [0, -1, internal]);
    return linear(g, ws, `${prefix}.out_proj`, merged);
  });
}

/** TwoWayAttentionBlock: token self-attn, token→image, MLP, image→token (post-norm residuals). */
export function twoWayAttentionBlock(
  g: GraphBuilder,
  ws: WeightStore,
  prefix: string,
  x: { queries: T; keys: T; queryPe: T; keyPe: T },
  o: { numHeads: number; skipFirstLayerPe: boolean; mlpLayers?: number },
): { queries: T; keys: T } {
  return g.scope(prefix, () => {
    let { queries, keys } = x;
    if (o.skipFirstLayerPe) {
      queries = samAttention(g, ws, `${prefix}.self_attn`, queries, queries, queries, o.numHeads);
    } else {
      const q = g.add(queries, x.queryPe);
      queries = g.add(queries, samAttention(g, ws, `${prefix}.self_attn`, q, q, queries, o.numHeads));
    }
    queries = layerNorm(g, ws, `${prefix}.norm1`, queries);

    let q = g.add(queries, x.queryPe);
    // keys are unchanged until the image→token attention below, so keys + PE is computed once
    const k = g.add(keys, x.keyPe);
    queries = g.add(queries, samAttention(g, ws, `${prefix}.cross_attn_token_to_image`, q, k, keys, o.numHeads));
    queries = layerNorm(g, ws, `${prefix}.norm2`, queries);

    queries = g.add(queries, mlp(g, ws, `${prefix}.mlp`, queries, o.mlpLayers ?? 2, { act: 'relu' }));
    queries = layerNorm(g, ws, `${prefix}.norm3`, queries);

    q = g.add(queries, x.queryPe);
    keys = g.add(keys, samAttention(g, ws, `${prefix}.cross_attn_image_to_token`, k, q, queries, o.numHeads));
    keys = layerNorm(g, ws, `${prefix}.norm4`, keys);
    return { queries, keys };
  });
}

/**
 * TwoWayTransformer on an NCHW image embedding [1,C,h,w] and its PE, with point tokens [1,N,C].
 * Returns (queries [1,N,C], keys [1,hw,C]).
 */
export function twoWayTransformer(
  g: GraphBuilder,
  ws: WeightStore,
  prefix: string,
  image: T,
  imagePe: T,
  points: T,
  o: { depth: number; numHeads: number; channels: number },
): { queries: T; keys: T } {
  return g.scope(prefix, () => {
    const flat = (t: T) => g.transpose(g.reshape(t, [0, o.channels, -1]), [0, 2, 1]);
    const keyPe = flat(imagePe);
    let queries = points;
    let keys = flat(image);
    for (let i = 0; i < o.depth; i++) {
      ({ queries, keys } = twoWayAttentionBlock(
        g,
        ws,
        `${prefix}.layers.${i}`,
        { queries, keys, queryPe: points, keyPe },
        {
          numHeads: o.numHeads,
          skipFirstLayerPe: i === 0,
        },
      ));
    }
    const q = g.add(queries, points);
    const k = g.add(keys, keyPe);
    queries = g.add(queries, samAttention(g, ws, `${prefix}.final_attn_token_to_image`, q, k, keys, o.numHeads));
    queries = layerNorm(g, ws, `${prefix}.norm_final_attn`, queries);
    return { queries, keys };
  });
}
