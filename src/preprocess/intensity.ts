import { MedsamError } from '../common/errors.js';
import { percentileSorted } from '../common/percentile.js';
import type { NumericArray } from '../io/ndarray.js';
import type { Volume } from '../io/volume.js';

/**
 * Intensity preprocessing to the uint8 0–255 range the models were trained on, done the way
 * MedSAM2's inference scripts do it (medsam2_infer_3D_CT.py, examples/infer_CT_LUNA25.py):
 * - CT: clip to [level - width/2, level + width/2], then min-max rescale THE CLIPPED VOLUME to
 *   0–255 (not the window bounds: a volume that never reaches a bound is stretched), then
 *   truncate to uint8.
 * - other modalities: clip to the 0.5 / 99.5 percentiles of the voxels > 0, min-max rescale,
 *   truncate, and keep voxels that were exactly 0 at 0 (background outside the body stays black).
 */

/** A CT window in Hounsfield units. */
export interface CtWindow {
  width: number;
  level: number;
  /** Preset name when it came from one ('abdomen', …), for messages. */
  name?: string;
}

export type WindowSpec =
  | CtWindow
  /** MedSAM2's non-CT rule: 0.5–99.5 percentiles of the non-zero voxels. */
  | 'percentile'
  /** Data is already 0–255: cast only. */
  | 'identity';

export const CT_WINDOW_PRESETS = {
  abdomen: { width: 400, level: 40 },
  lung: { width: 1500, level: -600 },
  brain: { width: 80, level: 40 },
  mediastinum: { width: 350, level: 50 },
  bone: { width: 1800, level: 400 },
} as const satisfies Record<string, { width: number; level: number }>;

export type CtWindowPreset = keyof typeof CT_WINDOW_PRESETS;

const PRESET_NAMES = Object.keys(CT_WINDOW_PRESETS) as CtWindowPreset[];

function isCtWindow(w: WindowSpec): w is CtWindow {
  return typeof w === 'object';
}

/**
 * Parses a user window: a preset name ('abdomen', 'lung', 'brain', 'mediastinum', 'bone'),
 * 'W,L' in HU (e.g. '400,40' or '1500,-600'), 'percentile', 'identity'/'none', or 'auto'.
 */
export function parseWindow(text: string): WindowSpec | 'auto' {
  const t = text.trim().toLowerCase();
  if (t === 'auto') return 'auto';
  if (t === 'percentile') return 'percentile';
  if (t === 'identity' || t === 'none') return 'identity';
  if (t in CT_WINDOW_PRESETS) {
    const p = CT_WINDOW_PRESETS[t as CtWindowPreset];
    return { width: p.width, level: p.level, name: t };
  }
  const m = /^\s*([-+]?\d+(?:\.\d+)?)\s*,\s*([-+]?\d+(?:\.\d+)?)\s*$/.exec(t);
  if (m) {
    const width = Number(m[1]);
    const level = Number(m[2]);
    if (!(width > 0))
      throw new MedsamError(`window width ${width} in '${text}' must be > 0`, "give the window as WIDTH,LEVEL in HU, e.g. '400,40'");
    return { width, level };
  }
  throw new MedsamError(
    `unknown intensity window '${text}'`,
    `use one of ${PRESET_NAMES.join(', ')}, WIDTH,LEVEL in HU (e.g. '400,40'), percentile, identity or auto`,
  );
}

/** Human-readable form of a window, for summaries. */
export function describeWindow(w: WindowSpec): string {
  if (w === 'percentile') return 'percentile 0.5–99.5 of non-zero voxels';
  if (w === 'identity') return 'identity (already 0–255)';
  const wl = `W ${w.width} / L ${w.level} HU`;
  return w.name ? `CT ${w.name} (${wl})` : `CT ${wl}`;
}

/**
 * Min and max of the finite values: NaN and ±Inf never drive a window (the readers already
 * replace them with a warning; volumes built in code may still carry them). NaN voxels end up
 * at the bottom of the window (0) in every rule below.
 */
function minMax(data: NumericArray): [number, number] {
  let lo = Infinity,
    hi = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = Number(data[i]);
    if (v === Infinity || v === -Infinity) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/**
 * Without a user choice: uint8 data is used as is; CT (by modality, or, when the file does not
 * say, by values reaching air at ≤ -500 HU, which no MR/PET intensity does) gets the abdomen
 * window MedSAM2's CT lesion model was run with; anything else gets the percentile rule.
 */
export function chooseWindow(volume: Pick<Volume, 'data' | 'modality'>): { window: WindowSpec; reason: string } {
  if (volume.data instanceof Uint8Array) return { window: 'identity', reason: 'data is already uint8' };
  const modality = volume.modality?.toUpperCase();
  const abdomen = { ...CT_WINDOW_PRESETS.abdomen, name: 'abdomen' };
  if (modality === 'CT') return { window: abdomen, reason: 'modality CT' };
  if (modality) return { window: 'percentile', reason: `modality ${modality}` };
  const [lo] = minMax(volume.data);
  if (lo <= -500) return { window: abdomen, reason: `no modality in the file; minimum ${lo} looks like CT air (HU)` };
  return { window: 'percentile', reason: 'no modality in the file and no negative HU values, treated as non-CT' };
}

/** Clip to [lo, hi], min-max rescale the clipped values to 0–255 and truncate, as numpy's uint8 cast does. */
function clipRescale(data: NumericArray, lo: number, hi: number, keepZero: boolean): Uint8Array {
  const n = data.length;
  // Min/max of the clipped volume = clip of the raw min/max.
  const [rawLo, rawHi] = minMax(data);
  const cLo = Math.min(Math.max(rawLo, lo), hi);
  const cHi = Math.min(Math.max(rawHi, lo), hi);
  const out = new Uint8Array(n);
  const range = cHi - cLo;
  if (!(range > 0)) return out; // constant after clipping: numpy would produce NaN; black is the useful answer
  for (let i = 0; i < n; i++) {
    const raw = Number(data[i]);
    if (keepZero && raw === 0) continue;
    const v = raw < cLo ? cLo : raw > cHi ? cHi : raw === raw ? raw : cLo; // NaN → bottom
    out[i] = Math.trunc(((v - cLo) / range) * 255); // numpy's operation order, so results match bit for bit
  }
  return out;
}

/** The 0.5 / 99.5 percentiles of the voxels > 0 (MedSAM2 takes `image_data[image_data > 0]`). */
export function positivePercentiles(data: NumericArray, low = 0.5, high = 99.5): [number, number] | undefined {
  let count = 0;
  for (let i = 0; i < data.length; i++) {
    const v = Number(data[i]);
    if (v > 0 && v !== Infinity) count++;
  }
  if (count === 0) return undefined;
  const vals = new Float64Array(count);
  let j = 0;
  for (let i = 0; i < data.length; i++) {
    const v = Number(data[i]);
    if (v > 0 && v !== Infinity) vals[j++] = v;
  }
  vals.sort();
  return [percentileSorted(vals, low), percentileSorted(vals, high)];
}

/** Applies a resolved window to raw voxel data. */
export function applyWindow(data: NumericArray, window: WindowSpec): Uint8Array {
  if (window === 'identity') {
    if (data instanceof Uint8Array) return data;
    const [lo, hi] = minMax(data);
    if (lo < 0 || hi > 255) {
      throw new MedsamError(
        `intensity window 'identity' needs values in 0..255, the data spans ${lo}..${hi}`,
        "choose a CT window (e.g. --window abdomen) or 'percentile'",
      );
    }
    const out = new Uint8Array(data.length);
    for (let i = 0; i < data.length; i++) out[i] = Math.trunc(Number(data[i]));
    return out;
  }
  if (window === 'percentile') {
    const p = positivePercentiles(data);
    if (!p) return new Uint8Array(data.length); // nothing above zero: all black
    return clipRescale(data, p[0], p[1], true);
  }
  if (!isCtWindow(window) || !(window.width > 0) || !Number.isFinite(window.level)) {
    throw new MedsamError(`invalid intensity window ${JSON.stringify(window)}`, 'give { width > 0, level } in HU');
  }
  return clipRescale(data, window.level - window.width / 2, window.level + window.width / 2, false);
}

/**
 * Volume → x-fastest uint8 of the same dims, ready for the models. `window` defaults to 'auto'
 * (see chooseWindow).
 */
export function toUint8(volume: Pick<Volume, 'data' | 'modality'>, opts: { window?: WindowSpec | 'auto' } = {}): Uint8Array {
  const w = opts.window === undefined || opts.window === 'auto' ? chooseWindow(volume).window : opts.window;
  return applyWindow(volume.data, w);
}

/**
 * The uint8 volume a pipeline segments: `fn(volume)` when the caller gives one, the data itself when
 * it is already uint8, else toUint8 with the automatic window. Checks what a custom `fn` returns.
 */
export function volumeToUint8(volume: Volume, fn?: (v: Volume) => Uint8Array): Uint8Array {
  const u8 = fn ? fn(volume) : volume.data instanceof Uint8Array ? volume.data : toUint8(volume);
  if (!(u8 instanceof Uint8Array) || u8.length !== volume.data.length) {
    throw new MedsamError(
      `the intensity function returned ${u8 instanceof Uint8Array ? `${u8.length} values` : 'a non-Uint8Array'} for a volume of ${volume.data.length} voxels`,
      'return an x-fastest Uint8Array of the same dims',
    );
  }
  return u8;
}
