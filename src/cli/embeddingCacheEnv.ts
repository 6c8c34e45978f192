import { checkOutputFolder } from './outputPaths.js';

/*
 * MEDSAM2_EMBEDDING_CACHE: a folder where `segment`, `video` and `eval` keep the slice (or frame)
 * embeddings of SAM1-family models (the default model) across runs, as eval's --embedding-cache does.
 * The image encoder is most of a run's time and its output for a given slice, model weights and
 * precision never changes (DiskCachedEncoder's key: the encoder file's sha256, not only the model id), so repeated runs over the same data, such as a test run
 * that segments the shared volumes from several files, encode each slice once. Opt-in; unset or
 * empty means no cache.
 */

export const EMBEDDING_CACHE_ENV = 'MEDSAM2_EMBEDDING_CACHE';

/** The folder MEDSAM2_EMBEDDING_CACHE names (checked to be a writable folder path), or undefined. */
export function embeddingCacheFromEnv(): string | undefined {
  const dir = process.env[EMBEDDING_CACHE_ENV];
  if (!dir) return undefined;
  checkOutputFolder(EMBEDDING_CACHE_ENV, dir);
  return dir;
}
