import { MedsamError } from '../common/errors.js';
import { sliceShape, type SliceAxis } from '../preprocess/slices.js';

/** A box [x0, y0, x1, y1] in slice pixel indices, corners inclusive. */
export type Box = [number, number, number, number];

export interface PointPrompt {
  x: number;
  y: number;
  /** 1 = foreground, 0 = background. */
  label: 0 | 1;
}

/**
 * A prompt on one slice of a volume, in voxel indices of the source volume: `slice` is the index
 * along the segmentation axis, x/y are the slice's column/row (for the usual axis 2: x = voxel i,
 * y = voxel j). Give at least one of box, points, mask, recist.
 */
export interface VolumePrompt {
  /** Label written into the output map, 1..255; default 1. */
  objId?: number;
  slice: number;
  box?: Box;
  points?: PointPrompt[];
  /** Row-major slice-sized mask (non-zero = object). */
  mask?: Uint8Array;
  /** RECIST long-axis line endpoints [x0, y0, x1, y1]; turned into a box by recistToBox. */
  recist?: Box;
}

export interface SliceGeometry {
  /** Slice width (columns) and height (rows). */
  width: number;
  height: number;
  /** Number of slices along the axis. */
  count: number;
}

export function sliceGeometry(dims: readonly [number, number, number], axis: SliceAxis): SliceGeometry {
  const s = sliceShape(dims, axis);
  return { width: s.cols, height: s.rows, count: s.count };
}

function checkCoord(what: string, v: number, size: number, dimName: 'width' | 'height', where: string): void {
  if (!Number.isFinite(v)) throw new MedsamError(`${where}: ${what}=${v} is not a number`, 'give pixel indices as numbers');
  if (v < 0 || v > size - 1) {
    throw new MedsamError(
      `${where}: ${what}=${v} is outside the image ${dimName} ${size} (0..${size - 1})`,
      'give voxel indices inside the slice',
    );
  }
}

/**
 * Checks prompts against the slice geometry and returns them with objId filled in (default 1).
 * Errors name the prompt, the bad value and the valid range.
 */
export function validatePrompts(prompts: readonly VolumePrompt[], geom: SliceGeometry): (VolumePrompt & { objId: number })[] {
  if (!Array.isArray(prompts) || prompts.length === 0) {
    throw new MedsamError('no prompts given', 'give at least one box, point, mask or RECIST prompt on a key slice');
  }
  const seen = new Set<string>();
  return prompts.map((p, i) => {
    const where = `prompt ${i + 1}`;
    const objId = p.objId ?? 1;
    if (!Number.isInteger(objId) || objId < 1 || objId > 255) {
      throw new MedsamError(`${where}: objId=${p.objId} must be an integer 1..255`, 'object ids become labels in a uint8 mask');
    }
    if (!Number.isInteger(p.slice) || p.slice < 0 || p.slice >= geom.count) {
      throw new MedsamError(
        `${where}: slice=${p.slice} is outside the volume (0..${geom.count - 1})`,
        'give the key slice index along the segmentation axis',
      );
    }
    const key = `${objId}@${p.slice}`;
    if (seen.has(key)) {
      throw new MedsamError(
        `${where}: object ${objId} already has a prompt on slice ${p.slice}`,
        'merge them into one prompt (box + points) or give them different objId',
      );
    }
    seen.add(key);
    if (!p.box && !(p.points && p.points.length) && !p.mask && !p.recist) {
      throw new MedsamError(`${where}: has no box, points, mask or recist`, 'give at least one of them');
    }
    for (const [name, b] of [
      ['box', p.box],
      ['recist', p.recist],
    ] as const) {
      if (!b) continue;
      if (!Array.isArray(b) || b.length !== 4)
        throw new MedsamError(`${where}: ${name} must be [x0, y0, x1, y1]`, 'give four pixel indices');
      checkCoord(`${name} x0`, b[0], geom.width, 'width', where);
      checkCoord(`${name} y0`, b[1], geom.height, 'height', where);
      checkCoord(`${name} x1`, b[2], geom.width, 'width', where);
      checkCoord(`${name} y1`, b[3], geom.height, 'height', where);
      if (name === 'box' && (b[2] < b[0] || b[3] < b[1])) {
        throw new MedsamError(`${where}: box [${b.join(', ')}] has x1 < x0 or y1 < y0`, 'give the top-left corner first: [x0, y0, x1, y1]');
      }
      // Zero area is as impossible as inverted: nothing can be inside it (the model returns an empty mask).
      if (name === 'box' && (b[2] === b[0] || b[3] === b[1])) {
        throw new MedsamError(
          `${where}: box [${b.join(', ')}] has zero ${b[2] === b[0] ? 'width (x1 = x0)' : 'height (y1 = y0)'}`,
          'draw the box around the object: [x0, y0, x1, y1] with x1 > x0 and y1 > y0',
        );
      }
      if (name === 'recist' && Math.trunc(Math.hypot(b[2] - b[0], b[3] - b[1]) / 2) === 0) {
        throw new MedsamError(
          `${where}: RECIST line [${b.join(', ')}] is ${+Math.hypot(b[2] - b[0], b[3] - b[1]).toFixed(2)} px long, too short to make a box`,
          "give the two ends of the lesion's long axis (at least 2 px apart)",
        );
      }
    }
    for (const [j, pt] of (p.points ?? []).entries()) {
      checkCoord(`point ${j + 1} x`, pt.x, geom.width, 'width', where);
      checkCoord(`point ${j + 1} y`, pt.y, geom.height, 'height', where);
      if (pt.label !== 0 && pt.label !== 1) {
        throw new MedsamError(`${where}: point ${j + 1} label=${String(pt.label)} must be 1 (object) or 0 (background)`, 'use 1 or 0');
      }
    }
    if (p.mask) {
      if (p.mask.length !== geom.width * geom.height) {
        throw new MedsamError(
          `${where}: mask has ${p.mask.length} pixels, the slice has ${geom.width}x${geom.height} = ${geom.width * geom.height}`,
          'give a mask of one slice, row-major',
        );
      }
      if (!p.mask.some((v: number) => v !== 0)) throw new MedsamError(`${where}: mask is empty`, 'draw the object on the key slice');
    }
    return { ...p, objId };
  });
}

/**
 * RECIST long axis → box, as MedSAM2's CT-lesion inference does it (get_diameter_bbox): a square
 * centred on the line's midpoint (truncated to integers) with half-side = floor(length / 2), grown
 * by `shift` pixels on each side, clamped to the image. A square, because the short axis is
 * unknown and bounded by the long one.
 */
export function recistToBox(recist: Box, width: number, height: number, shift = 0): Box {
  const [x0, y0, x1, y1] = recist;
  const cx = Math.trunc((x0 + x1) / 2);
  const cy = Math.trunc((y0 + y1) / 2);
  const half = Math.trunc(Math.hypot(x1 - x0, y1 - y0) / 2);
  return [
    Math.max(0, cx - half - shift),
    Math.max(0, cy - half - shift),
    Math.min(width - 1, cx + half + shift),
    Math.min(height - 1, cy + half + shift),
  ];
}

/**
 * Endpoints of a RECIST line drawn as a mask, as MedSAM2 takes them: the first and last non-zero
 * pixels in row-major order. Returns undefined for an empty mask.
 */
export function recistFromLineMask(line: ArrayLike<number>, width: number, height: number): Box | undefined {
  let first = -1,
    last = -1;
  for (let i = 0; i < width * height; i++) {
    if (line[i]) {
      if (first < 0) first = i;
      last = i;
    }
  }
  if (first < 0) return undefined;
  return [first % width, Math.floor(first / width), last % width, Math.floor(last / width)];
}

/** Tight bounding box [xmin, ymin, xmax, ymax] of the non-zero pixels; undefined when empty. */
export function boxFromMask(mask: ArrayLike<number>, width: number, height: number): Box | undefined {
  let x0 = width,
    y0 = height,
    x1 = -1,
    y1 = -1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      if (mask[row + x]) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  return x1 < 0 ? undefined : [x0, y0, x1, y1];
}

/** Grows a box by `margin` pixels per side (may be fractional of the size via the caller), clamped. */
export function expandBox(b: Box, margin: number, width: number, height: number): Box {
  return [
    Math.max(0, Math.floor(b[0] - margin)),
    Math.max(0, Math.floor(b[1] - margin)),
    Math.min(width - 1, Math.ceil(b[2] + margin)),
    Math.min(height - 1, Math.ceil(b[3] + margin)),
  ];
}
