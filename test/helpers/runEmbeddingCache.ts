/**
 * One slice-embedding cache folder for a whole `npm test` run. scripts/runTests.sh sets
 * MEDSAM2_TEST_EMBEDDING_CACHE to a fresh temp folder and removes it when the run ends, so test files
 * that encode the same slices with the default model (the ct-organs label-20 crop of clicksOrgans and
 * negativeClickGuard) encode them once per run instead of once per file. A hit is the embedding the
 * encoder gave for the same model and the same uint8 slice (DiskCachedEncoder's key), and these tests
 * assert on what the decoder and the propagation make of it, not on the encoder (test/parity does).
 * A file run on its own (no variable set) gets `fallback`, its own temp folder, as before.
 */
export function runEmbeddingCache(fallback: string): string {
  return process.env.MEDSAM2_TEST_EMBEDDING_CACHE || fallback;
}
