// Node-free: MedSAM2 .npz cases from bytes and prediction masks to bytes; path forms in npzFile.ts.
import { MedsamError } from '../common/errors.js';
import type { Image2D } from './image2d.js';
import { toLabelArray, checkMaskShape } from './maskLabels.js';
import type { NdArray } from './ndarray.js';
import { encodeNpz, readNpzBytes } from './npz.js';
import { warnerOf, type ParseOptions } from './readOptions.js';
import { checkVolumeValues } from './volumeChecks.js';
import { IDENTITY_DIRECTION, type Volume } from './volume.js';

/**
 * Order of the three `spacing` values in a MedSAM2 .npz. The RECIST/DeepLesion files store them
 * as SimpleITK's GetSpacing() (x,y,z) — e.g. (0.31, 0.31, 5.0) for 16 slices — while some challenge
 * files store (z,y,x). 'auto' decides from which pair is equal (in-plane x = y); ties → 'xyz'.
 */
export type NpzSpacingOrder = 'auto' | 'xyz' | 'zyx';

export interface NpzHeader {
  kind: 'npz';
  spacingOrder: 'xyz' | 'zyx';
  keys: string[];
}

export interface NpzCase {
  image: Volume;
  /** `gts`, on the image grid. */
  label?: Volume;
  /** `recist` (RECIST diameter lines), on the image grid. */
  recist?: Volume;
  /** The colour picture of a 2D (H,W,3) case; `image` holds its luminance. */
  rgb?: Image2D;
}

export interface NpzCaseOptions extends ParseOptions {
  spacingOrder?: NpzSpacingOrder;
  imageKey?: string;
}

/** Parse a MedSAM2 case from bytes: `imgs` (D,H,W) or (H,W) or (H,W,3), optional `gts`/`recist`, `spacing`, `direction`, `origin`. */
export function parseNpzCase(bytes: Uint8Array, name: string, opts: NpzCaseOptions = {}): NpzCase {
  return npzCaseFromArrays(readNpzBytes(bytes, name, opts), name, opts);
}

function npzCaseFromArrays(arrays: Record<string, NdArray>, name: string, opts: NpzCaseOptions): NpzCase {
  const path = name;
  const keys = Object.keys(arrays);
  const imageKey = opts.imageKey ?? 'imgs';
  const imgs = arrays[imageKey];
  if (!imgs)
    throw new MedsamError(
      `${path} has no "${imageKey}" array (keys: ${keys.join(', ') || 'none'})`,
      'pass a MedSAM2 .npz case with imgs (D,H,W)',
    );
  const shape = imgs.shape;
  if (shape.some((d) => d === 0))
    throw new MedsamError(`${path}: "imgs" has a zero-size dimension (${shape.join('x')})`, 'the case is empty; re-export it');
  let dims: [number, number, number];
  let rgb: Image2D | undefined;
  let imageData = imgs.data;
  if (shape.length === 3 && shape[2] === 3 && isRgbCandidate(shape)) {
    dims = [shape[1], shape[0], 1];
    rgb = {
      width: shape[1],
      height: shape[0],
      channels: 3,
      data: Uint8Array.from(imgs.data as ArrayLike<number>, Number),
      source: { format: 'png', path },
    };
    imageData = luminance(rgb.data);
  } else if (shape.length === 3) dims = [shape[2], shape[1], shape[0]];
  else if (shape.length === 2) dims = [shape[1], shape[0], 1];
  else throw new MedsamError(`${path}: "imgs" has shape (${shape.join(', ')})`, 'expected (D,H,W), (H,W) or (H,W,3)');

  const spacingOrder = resolveOrder(arrays.spacing, opts.spacingOrder ?? 'auto');
  const spacing = readSpacing(arrays.spacing, spacingOrder, path, warnerOf(opts));
  const direction = readVector(arrays.direction, 9, 'direction', path) ?? [...IDENTITY_DIRECTION];
  const origin = readVector(arrays.origin, 3, 'origin', path) ?? [0, 0, 0];
  const header: NpzHeader = { kind: 'npz', spacingOrder, keys };
  const base = { dims, spacing, origin, direction, source: { format: 'npz' as const, path }, header };
  const image: Volume = checkVolumeValues({ ...base, data: imageData }, path, warnerOf(opts));

  const onGrid = (key: string): Volume | undefined => {
    const a = arrays[key];
    if (!a) return undefined;
    const want = rgb ? shape.slice(0, 2) : shape;
    if (a.shape.length !== want.length || a.shape.some((d, i) => d !== want[i])) {
      throw new MedsamError(
        `${path}: "${key}" has shape (${a.shape.join(', ')}) but "imgs" needs (${want.join(', ')})`,
        `re-export the case with ${key} on the image grid`,
      );
    }
    return { ...base, data: a.data };
  };
  return { image, label: onGrid('gts'), recist: onGrid('recist'), rgb };
}

/**
 * Any label array of a MedSAM2 npz (bytes) as a Volume: `segs` (a prediction) if present, else `gts`.
 * This is how a written mask is read back.
 */
export function parseNpzMask(bytes: Uint8Array, name: string, opts: NpzCaseOptions = {}): Volume {
  const arrays = readNpzBytes(bytes, name, opts);
  const keys = Object.keys(arrays);
  const key = ['segs', 'gts'].find((k) => keys.includes(k));
  if (!key)
    throw new MedsamError(
      `${name} has no "segs" or "gts" array (keys: ${keys.join(', ') || 'none'})`,
      'pass a MedSAM2 prediction or case .npz',
    );
  return npzCaseFromArrays(arrays, name, { ...opts, imageKey: key }).image;
}

/** A 2D colour picture is (H,W,3) with H,W > 3; a 3-slice volume would be (3,H,W). */
function isRgbCandidate(shape: number[]): boolean {
  return shape[0] > 3 && shape[1] > 3;
}

function luminance(rgb: Uint8Array): Uint8Array {
  const out = new Uint8Array(rgb.length / 3);
  for (let i = 0; i < out.length; i++) out[i] = Math.round((rgb[3 * i] * 299 + rgb[3 * i + 1] * 587 + rgb[3 * i + 2] * 114) / 1000);
  return out;
}

function resolveOrder(a: NdArray | undefined, order: NpzSpacingOrder): 'xyz' | 'zyx' {
  if (order !== 'auto') return order;
  if (!a || a.data.length !== 3) return 'xyz';
  const [s0, s1, s2] = Array.from(a.data as ArrayLike<number>, Number);
  const eq = (x: number, y: number): boolean => Math.abs(x - y) <= 1e-6 * Math.max(1, Math.abs(x));
  return eq(s1, s2) && !eq(s0, s1) ? 'zyx' : 'xyz';
}

function readSpacing(a: NdArray | undefined, order: 'xyz' | 'zyx', path: string, warn: (m: string) => void): [number, number, number] {
  if (!a) return [1, 1, 1];
  const v = Array.from(a.data as ArrayLike<number>, Number);
  if (v.length !== 2 && v.length !== 3) {
    throw new MedsamError(`${path}: "spacing" is (${v.join(', ')})`, 'spacing must hold 3 positive numbers');
  }
  if (v.some((x) => !(x > 0) || !Number.isFinite(x))) {
    warn(`${path} has zero, negative or invalid "spacing" (${v.join(', ')}); assuming 1 mm there`);
  }
  const u = v.map((x) => (x > 0 && Number.isFinite(x) ? x : 1));
  if (u.length === 2) return order === 'zyx' ? [u[1], u[0], 1] : [u[0], u[1], 1];
  return order === 'zyx' ? [u[2], u[1], u[0]] : [u[0], u[1], u[2]];
}

function readVector<N extends 3 | 9>(
  a: NdArray | undefined,
  n: N,
  key: string,
  path: string,
): (N extends 3 ? [number, number, number] : Volume['direction']) | undefined {
  if (!a) return undefined;
  const v = Array.from(a.data as ArrayLike<number>, (x) => Number(x) + 0);
  if (v.length !== n || v.some((x) => !Number.isFinite(x)))
    throw new MedsamError(`${path}: "${key}" has ${v.length} values, expected ${n}`, 're-export the case');
  return v as never;
}

/**
 * Encode `segs` (D,H,W) uint8 with the case's `spacing` (same order as the source npz, else x,y,z),
 * `direction` (ITK row-major) and `origin`, as MedSAM2's inference scripts save predictions.
 * `path` names the output in messages.
 */
export function encodeNpzMask(segs: Volume, path: string, extra: Record<string, NdArray> = {}): Uint8Array {
  checkMaskShape(segs, path);
  const labels = toLabelArray(segs, path);
  if (!(labels instanceof Uint8Array))
    throw new MedsamError(
      `cannot write ${path}: MedSAM2 npz masks are uint8 and a label exceeds 255`,
      'renumber the labels or write .nii.gz',
    );
  const order = (segs.header as NpzHeader | undefined)?.kind === 'npz' ? (segs.header as NpzHeader).spacingOrder : 'xyz';
  const [nx, ny, nz] = segs.dims;
  const s = segs.spacing;
  const arrays: Record<string, NdArray> = {
    segs: { dtype: 'uint8', shape: [nz, ny, nx], data: labels },
    spacing: { dtype: 'float64', shape: [3], data: Float64Array.from(order === 'zyx' ? [s[2], s[1], s[0]] : s) },
    direction: { dtype: 'float64', shape: [9], data: Float64Array.from(segs.direction) },
    origin: { dtype: 'float64', shape: [3], data: Float64Array.from(segs.origin) },
    ...extra,
  };
  // Deflated, as MedSAM2's scripts save with numpy.savez_compressed.
  return encodeNpz(arrays, { compress: true });
}
