import { dilate, maskArea } from './maskOps.js';

/**
 * What the object looks like on its key slice, as a per-grey-level vote "object or surroundings":
 * histograms of the (3×3-smoothed) key slice inside the key mask and in a ring around it, compared
 * bin by bin. Propagation uses it to pick, among the decoder's proposals, the one that agrees best
 * with the image, and to stop once a proposal is mostly background-like (the partial-volume
 * half-way rule: a cross-section that is more surroundings than object is past the object's end).
 */
export interface IntensityModel {
  /** 1 where a (smoothed) grey level is more typical of the object than of its surroundings. */
  objectLike: Uint8Array;
  /**
   * Balanced accuracy of that vote on the key slice itself (0.5 = chance, 1 = perfect). Low values
   * mean the object is not distinguishable from its surroundings by intensity alone.
   */
  separability: number;
  /** Width of the surroundings ring, also used as the search margin on the next slices. */
  ringRadius: number;
  /** The normalised histograms the vote came from (object, surroundings); followIntensity blends them. */
  fg?: Float64Array;
  bg?: Float64Array;
}

/** 32 bins of 8 grey levels: coarse enough to be well populated by a few hundred pixels. */
const BIN_SHIFT = 3;
const BINS = 256 >> BIN_SHIFT;

export function buildIntensityModel(smoothedKey: Uint8Array, keyMask: Uint8Array, w: number, h: number): IntensityModel {
  // The ring is half the object's equivalent radius wide (at least 3 px): wide enough to sample the
  // tissue a leaking mask would spill into, narrow enough to stay local.
  const ringRadius = Math.max(3, Math.round(0.5 * Math.sqrt(maskArea(keyMask) / Math.PI)));
  const { fg, bg, ring } = intensityHistograms(smoothedKey, keyMask, w, h, ringRadius);
  const objectLike = voteFromHistograms(fg, bg);
  let tp = 0,
    nf = 0,
    tn = 0,
    nb = 0;
  for (let i = 0; i < keyMask.length; i++) {
    if (keyMask[i]) {
      nf++;
      tp += objectLike[smoothedKey[i]!]!;
    } else if (ring[i]) {
      nb++;
      tn += 1 - objectLike[smoothedKey[i]!]!;
    }
  }
  const separability = nf && nb ? (tp / nf + tn / nb) / 2 : 0.5;
  return { objectLike, separability, ringRadius, fg, bg };
}

/**
 * Normalised grey-level histograms (BINS bins) of a smoothed slice inside `mask` and in the ring of
 * `ringRadius` px around it (returned too: the mask dilated by it). Laplace (+1) smoothing keeps
 * empty bins from voting with certainty.
 */
export function intensityHistograms(
  smoothed: Uint8Array,
  mask: Uint8Array,
  w: number,
  h: number,
  ringRadius: number,
): { fg: Float64Array; bg: Float64Array; ring: Uint8Array } {
  const ring = dilate(mask, w, h, ringRadius);
  const fg = new Float64Array(BINS).fill(1),
    bg = new Float64Array(BINS).fill(1);
  for (let i = 0; i < mask.length; i++) {
    if (mask[i]) fg[smoothed[i]! >> BIN_SHIFT]!++;
    else if (ring[i]) bg[smoothed[i]! >> BIN_SHIFT]!++;
  }
  const sf = fg.reduce((a, b) => a + b),
    sb = bg.reduce((a, b) => a + b);
  for (let b = 0; b < BINS; b++) {
    fg[b]! /= sf;
    bg[b]! /= sb;
  }
  return { fg, bg, ring };
}

/** Normalised grey-level histogram (BINS bins, Laplace-smoothed as above) of a smoothed slice inside `mask`. */
export function regionHistogram(smoothed: Uint8Array, mask: ArrayLike<number>): Float64Array {
  const hist = new Float64Array(BINS).fill(1);
  for (let i = 0; i < mask.length; i++) if (mask[i]) hist[smoothed[i]! >> BIN_SHIFT]!++;
  const s = hist.reduce((a, b) => a + b);
  for (let b = 0; b < BINS; b++) hist[b]! /= s;
  return hist;
}

/** Per grey level: 1 where the object's histogram beats the surroundings'. */
export function voteFromHistograms(fg: Float64Array, bg: Float64Array): Uint8Array {
  const objectLike = new Uint8Array(256);
  for (let v = 0; v < 256; v++) objectLike[v] = fg[v >> BIN_SHIFT]! > bg[v >> BIN_SHIFT]! ? 1 : 0;
  return objectLike;
}

/** 3×3 box mean: the vote is per pixel, so single-pixel noise should not flip it. */
export function smooth3x3(img: Uint8Array, w: number, h: number): Uint8Array {
  const out = new Uint8Array(img.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0,
        n = 0;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= h) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= w) continue;
          s += img[yy * w + xx]!;
          n++;
        }
      }
      out[y * w + x] = Math.round(s / n);
    }
  }
  return out;
}

/**
 * How well a proposal agrees with the intensity vote inside the search region: Dice between the
 * proposal and the object-like pixels of the region (proposal pixels outside the region count as
 * disagreement), and the fraction of the proposal that is object-like.
 */
export function agreement(
  proposal: Uint8Array,
  smoothed: Uint8Array,
  model: IntensityModel,
  region: Uint8Array,
): { dice: number; objectFraction: number } {
  let inter = 0,
    sizeP = 0,
    sizeL = 0;
  for (let i = 0; i < proposal.length; i++) {
    const p = proposal[i] ? 1 : 0;
    sizeP += p;
    if (!region[i]) continue;
    const l = model.objectLike[smoothed[i]!]!;
    sizeL += l;
    inter += p & l;
  }
  return { dice: sizeP + sizeL ? (2 * inter) / (sizeP + sizeL) : 0, objectFraction: sizeP ? inter / sizeP : 0 };
}
