import { MedsamError } from '../common/errors.js';
import type { Volume } from './volume.js';

export type LabelArray = Uint8Array | Int16Array;

/**
 * Labels in the smallest type mask files use: uint8 when all values are 0..255, else int16.
 * Label maps must be integers; anything else is a caller bug worth a clear message.
 */
export function toLabelArray(mask: Pick<Volume, 'data'>, path: string): LabelArray {
  const d = mask.data;
  if (d instanceof Uint8Array) return d;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < d.length; i++) {
    const v = Number(d[i]);
    if (!Number.isInteger(v)) {
      throw new MedsamError(
        `cannot write ${path}: mask voxel ${i} is ${v}, not an integer label`,
        'threshold or round the mask before writing',
      );
    }
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (d.length === 0 || (min >= 0 && max <= 255)) return Uint8Array.from(d as ArrayLike<number>, Number);
  if (min >= -32768 && max <= 32767) {
    if (d instanceof Int16Array) return d;
    return Int16Array.from(d as ArrayLike<number>, Number);
  }
  throw new MedsamError(`cannot write ${path}: labels range ${min}..${max} does not fit int16`, 'renumber the labels');
}

/** A mask must be a well-formed grid before any writer touches it. */
export function checkMaskShape(mask: Pick<Volume, 'data' | 'dims'>, path: string): void {
  const [nx, ny, nz] = mask.dims;
  if (![nx, ny, nz].every((d) => Number.isInteger(d) && d > 0)) {
    throw new MedsamError(
      `cannot write ${path}: mask has a zero or invalid dimension (${mask.dims.join('x')})`,
      'the mask must cover at least one voxel',
    );
  }
  if (mask.data.length !== nx * ny * nz) {
    throw new MedsamError(
      `cannot write ${path}: mask has ${mask.data.length} voxels but dims ${mask.dims.join('x')} need ${nx * ny * nz}`,
      'build the mask on the image grid',
    );
  }
}
