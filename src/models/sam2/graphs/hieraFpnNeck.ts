import { MedsamError } from '../../../common/errors.js';
import type { GraphBuilder, T } from '../../onnx/graphBuilder.js';
import { conv2d } from '../../onnx/torchLayers.js';
import type { WeightStore } from '../../onnx/weightStore.js';
import type { FpnNeckConfig } from './hieraConfig.js';
import { sinePositionEncoding } from './hieraPosEmbed.js';

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
  g: GraphBuilder, ws: WeightStore, prefix: string, cfg: FpnNeckConfig,
  xs: readonly { x: T; c: number; h: number; w: number }[],
): FpnLevel[] {
  const n = cfg.backboneChannelList.length - 1;
  if (xs.length !== n + 1) {
    throw new MedsamError(`FPN neck has ${n + 1} lateral convs but the trunk gives ${xs.length} stages`, 'the neck backbone_channel_list must match the trunk stages');
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
    const lat = g.scope(`convs.${n - i}`, () => conv2d(g, ws, `${prefix}.convs.${n - i}.conv`, xi.x, { stride: cfg.stride, padding: cfg.padding }));
    const h = Math.floor((xi.h + 2 * cfg.padding - cfg.kernelSize) / cfg.stride) + 1;
    const w = Math.floor((xi.w + 2 * cfg.padding - cfg.kernelSize) / cfg.stride) + 1;
    if (prev && cfg.topDownLevels.includes(i)) {
      if (prev.h * 2 !== h || prev.w * 2 !== w) {
        throw new MedsamError(`FPN top-down from ${prev.h}x${prev.w} does not fit level ${i} (${h}x${w})`, 'use an image_size that is a multiple of 32');
      }
      const up = cfg.interpMode === 'nearest'
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
