import { MedsamError } from '../common/errors.js';
import { validatePrompts, type Box, type PointPrompt, type VolumePrompt } from '../predictor/prompts.js';

/**
 * A prompt on one video frame, in frame pixel coordinates (x = column, y = row, 0-based).
 * Give a mask, or a box and/or points.
 */
export interface FramePrompt {
  frame: number;
  /** Label written into the output maps, 1..255; default 1. */
  objId?: number;
  box?: Box;
  points?: PointPrompt[];
  /** Row-major frame-sized mask (non-zero = object). */
  mask?: Uint8Array;
}

export type ValidFramePrompt = FramePrompt & { objId: number };

/**
 * Checks prompts against the video's size and length; errors name the prompt, the bad value and
 * the valid range. Coordinates and masks are checked by the volume rules (a frame is a slice).
 */
export function validateFramePrompts(
  prompts: readonly FramePrompt[],
  width: number,
  height: number,
  frameCount: number,
): ValidFramePrompt[] {
  if (!Array.isArray(prompts) || prompts.length === 0) {
    throw new MedsamError('no prompts given', 'give a box, points or a mask on one frame');
  }
  const seen = new Set<string>();
  for (const [i, p] of prompts.entries()) {
    if (!Number.isInteger(p.frame) || p.frame < 0 || p.frame >= frameCount) {
      throw new MedsamError(
        `prompt ${i + 1}: frame ${p.frame} is outside the video (0..${frameCount - 1}, ${frameCount} frames)`,
        'give a 0-based frame index inside the video',
      );
    }
    const key = `${p.objId ?? 1}@${p.frame}`;
    if (seen.has(key)) {
      throw new MedsamError(
        `prompt ${i + 1}: object ${p.objId ?? 1} already has a prompt on frame ${p.frame}`,
        'merge them into one prompt (box + points) or give them different object ids',
      );
    }
    seen.add(key);
    if (p.mask && (p.box || p.points?.length)) {
      throw new MedsamError(`prompt ${i + 1}: has a mask and also a box or points`, 'give either a mask or a box/points on a frame');
    }
    // Coordinates are checked here too, so their errors speak of frames and pixels, not slices and voxels.
    const where = `prompt ${i + 1}`;
    if (p.box && Array.isArray(p.box) && p.box.length === 4) {
      checkPixel(where, 'box x0', p.box[0], width, 'width');
      checkPixel(where, 'box y0', p.box[1], height, 'height');
      checkPixel(where, 'box x1', p.box[2], width, 'width');
      checkPixel(where, 'box y1', p.box[3], height, 'height');
    }
    for (const [j, pt] of (p.points ?? []).entries()) {
      checkPixel(where, `point ${j + 1} x`, pt.x, width, 'width');
      checkPixel(where, `point ${j + 1} y`, pt.y, height, 'height');
    }
  }
  const asSlices: VolumePrompt[] = prompts.map((p) => ({ objId: p.objId, slice: p.frame, box: p.box, points: p.points, mask: p.mask }));
  return validatePrompts(asSlices, { width, height, count: frameCount }).map((p, i) => ({ ...prompts[i]!, objId: p.objId }));
}

function checkPixel(where: string, what: string, v: number, size: number, side: 'width' | 'height'): void {
  if (!Number.isFinite(v)) throw new MedsamError(`${where}: ${what}=${v} is not a number`, 'give pixel coordinates as numbers');
  if (v < 0 || v > size - 1) {
    throw new MedsamError(
      `${where}: ${what}=${v} is outside the frame ${side} ${size} (0..${size - 1})`,
      'give pixel coordinates inside the frame (x = column, y = row)',
    );
  }
}

/** Prompts grouped by object id, ascending. */
export function promptsByObject(prompts: readonly ValidFramePrompt[]): Map<number, ValidFramePrompt[]> {
  const by = new Map<number, ValidFramePrompt[]>();
  for (const p of [...prompts].sort((a, b) => a.objId - b.objId || a.frame - b.frame)) by.set(p.objId, [...(by.get(p.objId) ?? []), p]);
  return by;
}
