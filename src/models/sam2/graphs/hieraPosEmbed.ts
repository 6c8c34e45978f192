import { MedsamError } from '../../../common/errors.js';
import type { SinePositionConfig } from './hieraConfig.js';

const f32 = Math.fround;

/**
 * torch's cubic convolution weights (A = -0.75) for fractional offset t, in float32 steps like
 * aten's get_cubic_upsample_coefficients.
 */
function cubicWeights(t: number, A: number): [number, number, number, number] {
  const cc1 = (x: number) => f32(f32(f32(f32(f32(f32(A + 2) * x) - f32(A + 3)) * x) * x) + 1);
  const cc2 = (x: number) => f32(f32(f32(f32(f32(f32(A * x) - f32(5 * A)) * x) + f32(8 * A)) * x) - f32(4 * A));
  const t2 = f32(1 - t);
  return [cc2(f32(t + 1)), cc1(t), cc1(t2), cc2(f32(t2 + 1))];
}

/** Source taps and weights of a 1-D torch bicubic resize (align_corners=False, border clamped). */
function cubicTaps(inSize: number, outSize: number, A: number): { idx: Int32Array; w: Float32Array } {
  const scale = f32(inSize / outSize);
  const idx = new Int32Array(outSize * 4);
  const w = new Float32Array(outSize * 4);
  for (let o = 0; o < outSize; o++) {
    // area_pixel_compute_source_index with cubic=true: no clamping of negative coordinates
    const real = f32(f32(scale * f32(o + 0.5)) - 0.5);
    const i0 = Math.floor(real);
    const t = f32(real - i0);
    const cw = cubicWeights(t, A);
    for (let k = 0; k < 4; k++) {
      idx[o * 4 + k] = Math.min(Math.max(i0 - 1 + k, 0), inSize - 1);
      w[o * 4 + k] = cw[k]!;
    }
  }
  return { idx, w };
}

/**
 * F.interpolate(x, size, mode="bicubic", align_corners=False) on a [C,inH,inW] array, as aten's CPU
 * kernel computes it (x taps combined first, then y). Done at build time because the input is a
 * weight (pos_embed), so the result is a constant of the graph.
 */
export function bicubicResize(src: Float32Array, C: number, inH: number, inW: number, outH: number, outW: number, A = -0.75): Float32Array {
  const ty = cubicTaps(inH, outH, A);
  const tx = cubicTaps(inW, outW, A);
  const out = new Float32Array(C * outH * outW);
  for (let c = 0; c < C; c++) {
    const base = c * inH * inW;
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        let acc = 0;
        for (let ky = 0; ky < 4; ky++) {
          const row = base + ty.idx[oy * 4 + ky]! * inW;
          let r = 0;
          for (let kx = 0; kx < 4; kx++) r = f32(r + f32(src[row + tx.idx[ox * 4 + kx]!]! * tx.w[ox * 4 + kx]!));
          acc = f32(acc + f32(r * ty.w[oy * 4 + ky]!));
        }
        out[(c * outH + oy) * outW + ox] = acc;
      }
    }
  }
  return out;
}

/**
 * Hiera._get_pos_embed for an (h, w) patch grid, channels first [C,h,w]: the background pos_embed
 * resized bicubically plus the window pos_embed tiled over the grid.
 */
export function hieraPosEmbed(
  posEmbed: Float32Array,
  bkg: readonly [number, number],
  windowEmbed: Float32Array,
  win: readonly [number, number],
  C: number,
  h: number,
  w: number,
): Float32Array {
  if (h % win[0] !== 0 || w % win[1] !== 0) {
    throw new MedsamError(
      `Hiera patch grid ${h}x${w} is not a multiple of the window pos-embed size ${win[0]}x${win[1]}`,
      'use an image_size that is a multiple of 4 x the first window size (e.g. 512 or 1024)',
    );
  }
  const out = bicubicResize(posEmbed, C, bkg[0], bkg[1], h, w);
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < h; y++) {
      const wrow = (c * win[0] + (y % win[0])) * win[1];
      const orow = (c * h + y) * w;
      for (let x = 0; x < w; x++) out[orow + x] = f32(out[orow + x]! + windowEmbed[wrow + (x % win[1])]!);
    }
  }
  return out;
}

/**
 * PositionEmbeddingSine.forward for a [*, *, h, w] map: [numPosFeats, h, w], first half from the
 * row (y) position, second half from the column (x); channel k is sin for even k, cos for odd k.
 * Image-independent, so it is a build-time constant; each step is rounded to float32 as torch does.
 */
export function sinePositionEncoding(cfg: SinePositionConfig, h: number, w: number): Float32Array {
  if (cfg.numPosFeats % 2 !== 0)
    throw new MedsamError(`sine position encoding num_pos_feats ${cfg.numPosFeats} is odd`, 'fix the model YAML');
  const half = cfg.numPosFeats / 2;
  const dimT = new Float32Array(half);
  for (let k = 0; k < half; k++) dimT[k] = f32(Math.pow(cfg.temperature, f32(f32(2 * Math.floor(k / 2)) / half)));
  const eps = 1e-6;
  const embed = (i: number, n: number): number => {
    const v = i + 1;
    return cfg.normalize ? f32(f32(v / f32(n + eps)) * f32(cfg.scale)) : v;
  };
  const out = new Float32Array(cfg.numPosFeats * h * w);
  for (let k = 0; k < half; k++) {
    const trig = k % 2 === 0 ? Math.sin : Math.cos;
    for (let y = 0; y < h; y++) {
      const py = f32(trig(f32(embed(y, h) / dimT[k]!)));
      for (let x = 0; x < w; x++) {
        out[(k * h + y) * w + x] = py;
        out[((half + k) * h + y) * w + x] = f32(trig(f32(embed(x, w) / dimT[k]!)));
      }
    }
  }
  return out;
}
