import { MedsamError } from '../../../common/errors.js';
import type { GraphBuilder, T } from '../../onnx/graphBuilder.js';
import { conv2d } from '../../onnx/torchLayers.js';
import type { WeightStore } from '../../onnx/weightStore.js';
import type { FpnNeckConfig } from './hieraConfig.js';
import { sinePositionEncoding } from './hieraPosEmbed.js';
import { ROWS, toLayout, type TokenMap } from './hieraTokens.js';

export interface FpnLevel {
  x: T;
  /** Sine position encoding of this level [P,h,w] (a constant: it depends only on the level's size). */
  pos: Float32Array;
  h: number;
  w: number;
}

/**
 * FpnNeck.forward: lateral convs on every trunk stage, top-down (×2 upsampling) only into
 * `topDownLevels`, fused by sum (or avg). Returns levels highest resolution first, as upstream.
 */
export function fpnNeck(
  g: GraphBuilder,
  ws: WeightStore,
  prefix: string,
  cfg: FpnNeckConfig,
  xs: readonly { x: T; c: number; h: number; w: number }[],
): FpnLevel[] {
  const n = cfg.backboneChannelList.length - 1;
  if (xs.length !== n + 1) {
    throw new MedsamError(
      `FPN neck has ${n + 1} lateral convs but the trunk gives ${xs.length} stages`,
      'the neck backbone_channel_list must match the trunk stages',
    );
  }
  const out: FpnLevel[] = new Array(n + 1);
  let prev: { x: T; h: number; w: number } | undefined;
  for (let i = n; i >= 0; i--) {
    const xi = xs[i]!;
    if (xi.c !== cfg.backboneChannelList[n - i]) {
      throw new MedsamError(
        `FPN neck conv ${n - i} expects ${cfg.backboneChannelList[n - i]} channels, the trunk stage gives ${xi.c}`,
        'the neck backbone_channel_list must match the trunk stage dims',
      );
    }
    const lat = g.scope(`convs.${n - i}`, () =>
      conv2d(g, ws, `${prefix}.convs.${n - i}.conv`, xi.x, { stride: cfg.stride, padding: cfg.padding }),
    );
    const h = Math.floor((xi.h + 2 * cfg.padding - cfg.kernelSize) / cfg.stride) + 1;
    const w = Math.floor((xi.w + 2 * cfg.padding - cfg.kernelSize) / cfg.stride) + 1;
    if (prev && cfg.topDownLevels.includes(i)) {
      if (prev.h * 2 !== h || prev.w * 2 !== w) {
        throw new MedsamError(
          `FPN top-down from ${prev.h}x${prev.w} does not fit level ${i} (${h}x${w})`,
          'use an image_size that is a multiple of 32',
        );
      }
      const up =
        cfg.interpMode === 'nearest'
          ? g.resize(prev.x, [1, cfg.dModel, h, w], { mode: 'nearest', coord: 'asymmetric', nearestMode: 'floor' })
          : g.resize(prev.x, [1, cfg.dModel, h, w], { mode: 'linear', coord: 'half_pixel' });
      let fused = g.add(lat, up);
      if (cfg.fuseType === 'avg') fused = g.div(fused, g.constF(2));
      prev = { x: fused, h, w };
    } else {
      prev = { x: lat, h, w };
    }
    out[i] = { x: prev.x, pos: sinePositionEncoding(cfg.positionEncoding, h, w), h, w };
  }
  return out;
}

/** A 1x1 conv's weight as a [in, out] matrix (float64 for folding) and its bias. */
export interface Pointwise {
  w: Float64Array;
  b: Float64Array;
  cin: number;
  cout: number;
}

export function pointwiseWeights(ws: WeightStore, prefix: string): Pointwise {
  const w = ws.get(`${prefix}.weight`);
  const [cout, cin, kh, kw] = w.shape as [number, number, number, number];
  if (kh !== 1 || kw !== 1) throw new Error(`${prefix} is not a 1x1 conv`);
  const b = ws.has(`${prefix}.bias`) ? ws.get(`${prefix}.bias`, [cout]).data : new Float32Array(cout);
  const wt = new Float64Array(cin * cout);
  for (let o = 0; o < cout; o++) for (let i = 0; i < cin; i++) wt[i * cout + o] = w.data[o * cin + i]!;
  return { w: wt, b: Float64Array.from(b), cin, cout };
}

/** `second ∘ first` as one 1x1 conv: W = W1·W2 (as [in, out] matrices), b = b1·W2 + b2, in float64. */
export function composePointwise(first: Pointwise, second: Pointwise): Pointwise {
  const { cin, cout: mid } = first;
  const cout = second.cout;
  if (second.cin !== mid) throw new Error(`cannot compose 1x1 convs ${cin}->${mid} and ${second.cin}->${cout}`);
  const w = new Float64Array(cin * cout);
  for (let i = 0; i < cin; i++)
    for (let m = 0; m < mid; m++) {
      const a = first.w[i * mid + m]!;
      for (let o = 0; o < cout; o++) w[i * cout + o] += a * second.w[m * cout + o]!;
    }
  const b = Float64Array.from(second.b);
  for (let m = 0; m < mid; m++) for (let o = 0; o < cout; o++) b[o] += first.b[m]! * second.w[m * cout + o]!;
  return { w, b, cin, cout };
}

/** A 1x1 conv on a token map: one MatMul + bias over the channels, in the map's own token order. */
export function pointwiseTokens(g: GraphBuilder, p: Pointwise, m: TokenMap, name: string): TokenMap {
  const y = g.matmul(m.x, g.initializer(Float32Array.from(p.w), [p.cin, p.cout], `${name}.weight`));
  return { ...m, x: g.add(y, g.initializer(Float32Array.from(p.b), [p.cout], `${name}.bias`)), c: p.cout };
}

/** Whether fpnNeckTokens can run this neck (1x1 lateral convs, nearest top-down). */
export function tokenNeckSupported(cfg: FpnNeckConfig): boolean {
  return cfg.kernelSize === 1 && cfg.stride === 1 && cfg.padding === 0 && cfg.interpMode === 'nearest';
}

/**
 * FpnNeck.forward on token maps (see tokenNeckSupported): lateral 1x1 convs as MatMuls on the trunk
 * tokens, top-down ×2 nearest upsampling as a broadcast add on row-major maps. Only the levels
 * `wanted` asks for (and those their top-down path reads) are built; others are left undefined.
 */
export function fpnNeckTokens(
  g: GraphBuilder,
  ws: WeightStore,
  prefix: string,
  cfg: FpnNeckConfig,
  xs: readonly TokenMap[],
  wanted: (level: number) => boolean,
): (TokenMap | undefined)[] {
  const n = cfg.backboneChannelList.length - 1;
  if (xs.length !== n + 1) {
    throw new MedsamError(
      `FPN neck has ${n + 1} lateral convs but the trunk gives ${xs.length} stages`,
      'the neck backbone_channel_list must match the trunk stages',
    );
  }
  const memo = new Map<number, TokenMap>();
  const level = (i: number): TokenMap => {
    const hit = memo.get(i);
    if (hit) return hit;
    const xi = xs[i]!;
    if (xi.c !== cfg.backboneChannelList[n - i]) {
      throw new MedsamError(
        `FPN neck conv ${n - i} expects ${cfg.backboneChannelList[n - i]} channels, the trunk stage gives ${xi.c}`,
        'the neck backbone_channel_list must match the trunk stage dims',
      );
    }
    let out = g.scope(`convs.${n - i}`, () =>
      pointwiseTokens(g, pointwiseWeights(ws, `${prefix}.convs.${n - i}.conv`), xi, `${prefix}.convs.${n - i}.conv`),
    );
    if (i < n && cfg.topDownLevels.includes(i)) {
      const prev = toLayout(g, level(i + 1), ROWS);
      const lat = toLayout(g, out, ROWS);
      const { h, w } = lat;
      if (prev.h * 2 !== h || prev.w * 2 !== w) {
        throw new MedsamError(
          `FPN top-down from ${prev.h}x${prev.w} does not fit level ${i} (${h}x${w})`,
          'use an image_size that is a multiple of 32',
        );
      }
      // nearest ×2: output (y, x) reads input (⌊y/2⌋, ⌊x/2⌋), i.e. a broadcast over the (2, 2) sub-grid
      const d = cfg.dModel;
      let fused = g.add(g.reshape(lat.x, [prev.h, 2, prev.w, 2, d]), g.reshape(prev.x, [prev.h, 1, prev.w, 1, d]));
      if (cfg.fuseType === 'avg') fused = g.div(fused, g.constF(2));
      out = { ...lat, x: g.reshape(fused, [h * w, d]) };
    }
    memo.set(i, out);
    return out;
  };
  return xs.map((_, i) => (wanted(i) ? level(i) : undefined));
}
