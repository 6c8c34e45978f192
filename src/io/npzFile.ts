// Node layer: .npz files by path (the parsing is npz.ts / npzCase.ts, node-free).
import { writeFileAtomic } from './atomicWrite.js';
import { limitsFromEnv, readFileBytes } from './fileBytes.js';
import type { NdArray } from './ndarray.js';
import { encodeNpz, openNpzBytes, readNpzBytes, type NpzFile } from './npz.js';
import { encodeNpzMask, parseNpzCase, parseNpzMask, type NpzCase, type NpzCaseOptions } from './npzCase.js';
import type { ReadLimits } from './readLimits.js';
import type { Volume } from './volume.js';

/** Open a .npz file (synchronous read; arrays decoded on demand). */
export function openNpz(path: string, limits?: ReadLimits): NpzFile {
  const l = limitsFromEnv(limits);
  return openNpzBytes(readFileBytes(path, '.npz file', l), path, l);
}

/** Read every array of a .npz file (or bytes); keys have no `.npy` suffix. */
export async function readNpz(pathOrBytes: string | Uint8Array, limits?: ReadLimits): Promise<Record<string, NdArray>> {
  const l = limitsFromEnv(limits);
  if (typeof pathOrBytes !== 'string') return readNpzBytes(pathOrBytes, '.npz data', l);
  return readNpzBytes(readFileBytes(pathOrBytes, '.npz file', l), pathOrBytes, l);
}

/** Write a .npz atomically (temp file + rename). */
export async function writeNpz(
  path: string,
  arrays: Record<string, NdArray>,
  opts: { compress?: boolean; text?: Record<string, readonly string[]> } = {},
): Promise<void> {
  writeFileAtomic(path, encodeNpz(arrays, opts));
}

/** Read a MedSAM2 case .npz by path (see parseNpzCase). */
export async function readNpzCase(path: string, opts: NpzCaseOptions = {}): Promise<NpzCase> {
  const o = { ...opts, ...limitsFromEnv(opts) };
  return parseNpzCase(readFileBytes(path, '.npz file', o), path, o);
}

/** `segs` (or `gts`) of a MedSAM2 .npz by path as a Volume (see parseNpzMask). */
export async function readNpzMask(path: string, opts: NpzCaseOptions = {}): Promise<Volume> {
  const o = { ...opts, ...limitsFromEnv(opts) };
  return parseNpzMask(readFileBytes(path, '.npz file', o), path, o);
}

/** Write a MedSAM2 prediction .npz atomically (see encodeNpzMask). */
export async function writeNpzMask(path: string, segs: Volume, extra: Record<string, NdArray> = {}): Promise<void> {
  writeFileAtomic(path, encodeNpzMask(segs, path, extra));
}

export * from './npz.js';
export * from './npzCase.js';
