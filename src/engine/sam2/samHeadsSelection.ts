import type { SamHeadsResult } from './types.js';

/**
 * The data-dependent tail of upstream MaskDecoder.forward and SAM2Base._forward_sam_heads, in JS
 * over the SAM-heads graph's all-token outputs:
 *  - decoder: multimask → tokens 1..; single → token 0, or with dynamic_multimask_via_stability
 *    the best multimask token when token 0's stability score is below the threshold;
 *    sam_tokens_out = tokens 1.. only for multimask with use_multimask_token_for_obj_ptr, else
 *    token 0 (even when the stability fallback picked another mask);
 *  - heads: NO_OBJ_SCORE masks when the object score ≤ 0, argmax-IoU mask (and token) for
 *    multimask, obj_ptr = proj(token) gated towards no_obj_ptr.
 * Float32 rounding is applied where upstream computes in fp32, so decisions match exactly.
 */

/** Upstream NO_OBJ_SCORE: mask logits for frames where the object is absent. */
export const NO_OBJ_SCORE = -1024.0;

export interface SamHeadsRawOutputs {
  /** [T, m, m] masks of all T mask tokens. */
  masks: Float32Array;
  /** [T]. */
  iouPred: Float32Array;
  /** [T, C] mask tokens after the transformer. */
  maskTokensOut: Float32Array;
  /** [T, C] obj_ptr_proj applied to each mask token. */
  objPtrTokens: Float32Array;
  objectScoreLogit: number;
  numTokens: number;
  /** Mask side m (= 4h). */
  maskSide: number;
  channels: number;
}

export interface SamHeadsSelectionParams {
  dynamicMultimaskViaStability: boolean;
  dynamicMultimaskStabilityDelta: number;
  dynamicMultimaskStabilityThresh: number;
  useMultimaskTokenForObjPtr: boolean;
  predObjScores: boolean;
  softNoObjPtr: boolean;
  fixedNoObjPtr: boolean;
  /** [C]; required when predObjScores and object pointers are used. */
  noObjPtr?: Float32Array;
}

/** First index of the maximum (torch.argmax tie rule) of a[from..to). */
function argmax(a: Float32Array, from: number, to: number): number {
  let best = from;
  for (let i = from + 1; i < to; i++) if (a[i]! > a[best]!) best = i;
  return best;
}

/** area(logits > δ) / area(logits > −δ) of one mask, 1 when the union is empty (fp32 like upstream). */
export function stabilityScore(logits: Float32Array, delta: number): number {
  const d = Math.fround(delta);
  let inter = 0;
  let union = 0;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i]!;
    if (v > d) inter++;
    if (v > -d) union++;
  }
  return union > 0 ? Math.fround(inter / union) : 1;
}

export interface SamHeadsSelection extends SamHeadsResult {
  /** MaskDecoder.forward outputs: masks [1,M,m,m], iou [1,M], sam_tokens_out [1,K,C]. */
  decoderMasks: Float32Array;
  decoderIous: Float32Array;
  samTokensOut: Float32Array;
  /** obj_ptr_proj input (the selected token) and output before no-object gating, [1,C]. */
  objPtrProjIn: Float32Array;
  objPtrProjOut: Float32Array;
  /** Stability score of token 0 when the dynamic fallback was evaluated. */
  stability?: number;
}

export function selectSamHeadsOutputs(raw: SamHeadsRawOutputs, multimaskOutput: boolean, p: SamHeadsSelectionParams): SamHeadsSelection {
  const { numTokens: T, channels: C } = raw;
  const px = raw.maskSide * raw.maskSide;
  const maskOf = (t: number) => raw.masks.subarray(t * px, (t + 1) * px);
  const tokenOf = (src: Float32Array, t: number) => src.subarray(t * C, (t + 1) * C);

  // ---- MaskDecoder.forward selection ----
  let decoderTokens: number[]; // which mask tokens' masks/ious are returned
  let stability: number | undefined;
  if (multimaskOutput) {
    decoderTokens = range(1, T);
  } else if (p.dynamicMultimaskViaStability) {
    stability = stabilityScore(maskOf(0), p.dynamicMultimaskStabilityDelta);
    const stable = stability >= Math.fround(p.dynamicMultimaskStabilityThresh);
    decoderTokens = [stable ? 0 : argmax(raw.iouPred, 1, T)];
  } else {
    decoderTokens = [0];
  }
  const samTokenIds = multimaskOutput && p.useMultimaskTokenForObjPtr ? range(1, T) : [0];

  const M = decoderTokens.length;
  const decoderMasks = new Float32Array(M * px);
  const decoderIous = new Float32Array(M);
  decoderTokens.forEach((t, i) => {
    decoderMasks.set(maskOf(t), i * px);
    decoderIous[i] = raw.iouPred[t]!;
  });
  const samTokensOut = new Float32Array(samTokenIds.length * C);
  samTokenIds.forEach((t, i) => samTokensOut.set(tokenOf(raw.maskTokensOut, t), i * C));

  // ---- SAM2Base._forward_sam_heads ----
  const score = Math.fround(raw.objectScoreLogit);
  const isObj = !p.predObjScores || score > 0;
  const lowResMultimasks = isObj ? decoderMasks.slice() : new Float32Array(M * px).fill(NO_OBJ_SCORE);

  let best = 0;
  let tokenId = samTokenIds[0]!;
  if (multimaskOutput) {
    best = argmax(decoderIous, 0, M);
    if (samTokenIds.length > 1) tokenId = samTokenIds[best]!;
  }
  const lowResMasks = multimaskOutput ? lowResMultimasks.slice(best * px, (best + 1) * px) : lowResMultimasks.slice(0, px);

  const objPtrProjIn = tokenOf(raw.maskTokensOut, tokenId).slice();
  const objPtrProjOut = tokenOf(raw.objPtrTokens, tokenId).slice();
  const objPtr = objPtrProjOut.slice();
  if (p.predObjScores && p.noObjPtr) {
    const lambda = p.softNoObjPtr ? Math.fround(1 / (1 + Math.exp(-score))) : isObj ? 1 : 0;
    const oneMinus = Math.fround(1 - lambda);
    for (let c = 0; c < C; c++) {
      let v = objPtr[c]!;
      if (p.fixedNoObjPtr) v = Math.fround(lambda * v);
      objPtr[c] = Math.fround(v + Math.fround(oneMinus * p.noObjPtr[c]!));
    }
  }

  return {
    lowResMultimasks,
    ious: decoderIous.slice(),
    lowResMasks,
    objPtr,
    objectScoreLogits: Float32Array.of(score),
    numMasks: M,
    bestIou: decoderIous[best]!,
    decoderMasks,
    decoderIous,
    samTokensOut,
    objPtrProjIn,
    objPtrProjOut,
    stability,
  };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}
