// Diagnostic (issue 13, session 15): the uint8 picture the default model sees for a non-CT volume, under
// other intensity normalisations than the default (MedSAM2's 0.5–99.5 percentiles of the voxels > 0), so
// ruleSweep / oracleBoxes can ask whether the MR answers change with the normalisation. CT volumes keep
// the default window (their HU window is a physical scale, not a choice of this experiment).
// NORM=p0.5 (the default rule, with NORM_UINT8=1 for uint8 volumes), p2 (2–98 % of the voxels > 0), p5, p0.5-98 (any LOW-HIGH pair), slice (0.5–99.5 % of each slice's voxels > 0).
import type { Volume } from '../../src/io/volume.js';
import { percentileSorted } from '../../src/common/percentile.js';
import { chooseWindow, toUint8 } from '../../src/preprocess/intensity.js';

function positiveSorted(data: ArrayLike<number>, from = 0, to = data.length): Float64Array {
  const vals: number[] = [];
  for (let i = from; i < to; i++) {
    const v = Number(data[i]);
    if (v > 0 && Number.isFinite(v)) vals.push(v);
  }
  return Float64Array.from(vals).sort();
}

function rescale(data: ArrayLike<number>, lo: number, hi: number, out: Uint8Array, from = 0, to = data.length): void {
  const range = hi - lo;
  if (!(range > 0)) return;
  for (let i = from; i < to; i++) {
    const raw = Number(data[i]);
    if (!(raw > 0)) continue;
    const v = Math.min(hi, Math.max(lo, raw));
    out[i] = Math.trunc(((v - lo) / range) * 255);
  }
}

/** The volume as uint8 under NORM (unset: the pipeline's own toUint8). */
export function normalisedUint8(volume: Volume, norm = process.env.NORM): Uint8Array {
  const which = chooseWindow(volume).window;
  // NORM_UINT8=1: a volume stored as uint8 (the FLAIR scan, used as is by default) is renormalised too.
  if (!norm || !(which === 'percentile' || (which === 'identity' && process.env.NORM_UINT8))) return toUint8(volume);
  const out = new Uint8Array(volume.data.length);
  const data = volume.data as ArrayLike<number>;
  if (norm === 'slice') {
    const [w, h, d] = volume.dims;
    for (let k = 0; k < d; k++) {
      const s = positiveSorted(data, k * w * h, (k + 1) * w * h);
      if (s.length) rescale(data, percentileSorted(s, 0.5), percentileSorted(s, 99.5), out, k * w * h, (k + 1) * w * h);
    }
    return out;
  }
  const m = /^p([\d.]+)(?:-([\d.]+))?$/.exec(norm);
  if (!m) throw new Error(`NORM=${norm}: use p2, p5, p0.5-98 or slice`);
  const low = Number(m[1]);
  const high = m[2] ? Number(m[2]) : 100 - low;
  const s = positiveSorted(data);
  rescale(data, percentileSorted(s, low), percentileSorted(s, high), out);
  return out;
}
