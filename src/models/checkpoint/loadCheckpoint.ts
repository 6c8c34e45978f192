import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { MedsamError } from '../../common/errors.js';
import { readFileBytes } from '../../io/fileBytes.js';
import type { DType, NdArray } from '../../io/ndarray.js';
import { isZip } from '../../io/zip.js';
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

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    const b = await readFile(path);
    if (b.length > 0) return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch {
    // fall through: the synchronous reader turns ENOENT / EISDIR / EACCES into one-line errors
  }
  return readFileBytes(path, 'checkpoint');
}

/** Parse checkpoint bytes already in memory (`label` names the file in errors). */
export function parseCheckpoint(bytes: Uint8Array, label: string): Checkpoint {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (isZip(bytes)) {
    return { ...readTorchZip(bytes, label), sha256, size: bytes.length, format: 'pt' };
  }
  if (looksLikeSafetensors(bytes)) {
    return { ...readSafetensors(bytes, label), sha256, size: bytes.length, format: 'safetensors' };
  }
  if (bytes[0] === 0x80 && bytes[1] <= 5) {
    throw new MedsamError(`${label} is a legacy (pre-1.6, non-zip) PyTorch checkpoint, which is not supported`, 're-save it with a current torch: torch.save(torch.load(path), path)');
  }
  throw new MedsamError(`${label} is neither a PyTorch .pt (zip) checkpoint nor a .safetensors file`, 'pass a SAM2/MedSAM2 checkpoint such as MedSAM2_latest.pt');
}

/** Load a SAM2/MedSAM2 checkpoint (.pt zip or .safetensors) into float-ready tensors. */
export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  return parseCheckpoint(await readBytes(path), path);
}
