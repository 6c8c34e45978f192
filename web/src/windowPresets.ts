/**
 * Display windows: the CLI's CT presets (width, level), "auto" and "custom" (a Navigate drag).
 * Display only: the model's input window is the server's preprocessing, never these.
 */
import { CT_WINDOW_PRESETS } from '../../src/preprocess/intensity.js';

export interface WindowLevel {
  width: number;
  level: number;
}

/** "auto" (decided per scan: see CT_AUTO) and the CLI's own CT presets (src/preprocess/intensity.ts). */
export const WINDOW_PRESETS: Record<string, WindowLevel | null> = { auto: null, ...CT_WINDOW_PRESETS };

/**
 * What "auto" shows on a CT in Hounsfield units: the soft-tissue window (W 400, L 40; Slicer's
 * CT-abdomen and OHIF's soft-tissue preset). NiiVue's own auto range is the 2–98 % percentiles of
 * all voxels, and a CT is mostly air: on the shared abdomen CT that is −1008..115 HU, where fat,
 * organs and muscle share one flat grey. A percentile window of the body voxels only (> −500 HU)
 * was tried on paper: −347..156 HU there, still washed out and shifted by how much bone and gas
 * a scan holds; the fixed soft-tissue window is what a radiologist opens a CT with.
 */
export const CT_AUTO: WindowLevel = CT_WINDOW_PRESETS.abdomen;

/**
 * Whether a scan's values read as CT Hounsfield units: air at about −1000 (the minimum between
 * −3100 and −900, allowing the −1024/−2048 outside-the-field fills) and tissue above 0. A MedSAM2
 * .npz (0–255, already windowed), an MR or a video frame is not.
 */
export function looksLikeHounsfield(min: number, max: number): boolean {
  return min >= -3100 && min <= -900 && max > 0;
}

/** "W 400 L 40" (rounded: what the list and the view's corner show). */
export function describeWindow(w: WindowLevel): string {
  return `W ${Math.round(w.width)} L ${Math.round(w.level)}`;
}
