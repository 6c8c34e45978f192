import { MedsamError } from '../../common/errors.js';
import type { DType, NdArray } from '../../io/ndarray.js';
import { isZip } from '../../io/zip.js';
import { getPlatform, sha256Hex } from '../../platform/platform.js';
import { looksLikeSafetensors, readSafetensors } from './safetensors.js';
import { readTorchZip } from './torchZip.js';

export interface Checkpoint {
  /** State-dict tensors by key; float16/bfloat16 data is upcast to Float32Array (dtype keeps the stored type). */
  tensors: Map<string, NdArray>;
  /** SHA-256 of the whole file, lowercase hex (identifies official checkpoints, keys caches). */
  sha256: string;
  /** File size in bytes. */
  size: number;
  format: 'pt' | 'safetensors';
  /** The stored dtype of every tensor. */
  sourceDtypes: Map<string, DType>;
}

/** Parse checkpoint bytes already in memory (`label` names the file in errors). */
export async function parseCheckpoint(bytes: Uint8Array, label: string): Promise<Checkpoint> {
  const sha256 = await sha256Hex(bytes);
  if (isZip(bytes)) {
    return { ...readTorchZip(bytes, label), sha256, size: bytes.length, format: 'pt' };
  }
  if (looksLikeSafetensors(bytes)) {
    return { ...readSafetensors(bytes, label), sha256, size: bytes.length, format: 'safetensors' };
  }
  if (bytes[0] === 0x80 && bytes[1] <= 5) {
    throw new MedsamError(
      `${label} is a legacy (pre-1.6, non-zip) PyTorch checkpoint, which is not supported`,
      're-save it with a current torch: torch.save(torch.load(path), path)',
    );
  }
  throw new MedsamError(
    `${label} is neither a PyTorch .pt (zip) checkpoint nor a .safetensors file`,
    'pass a SAM2/MedSAM2 checkpoint such as MedSAM2_latest.pt',
  );
}

/**
 * Load a SAM2/MedSAM2 checkpoint (.pt zip or .safetensors) into float-ready tensors; `path` is a
 * platform resource (a file path in Node, a URL or added File on the web).
 */
export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  return parseCheckpoint(await getPlatform().readResource(path, 'checkpoint'), path);
}
