import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { Sam1Engine } from '../../src/engine/sam1Engine.js';
import { DiskCachedEncoder } from '../../src/pipelines/diskEmbeddingCache.js';

/*
 * Slice embeddings of the default model, encoded once where a test does not assert on the encoder:
 * the encoder is most of a model test's CPU time (seconds of CPU per slice), and several
 * tests encode the same slices more than once. test/parity and test/engine test the encoder itself.
 */

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

/**
 * From now until the returned function is called, every default-model (Sam1Engine) slice encode, and
 * every colour frame encode (encodeRgb: videos), goes through the disk cache at `dir`: a slice or
 * frame already encoded with the same model is read, not encoded again. For a Session replaying what an ObjectSegmenter or segmentVolume run did in the same test
 * (test/helpers/sessionClicks.ts, test/session/sam1Session.test.ts): the Session, its model pool and
 * tracker run as they do for a user; only the encoder's output comes from the cache. The returned
 * function puts the encoder back and prints how many slices were read and encoded.
 */
export function cacheSam1Encodes(dir: string): () => void {
  const { encode, encodeRgb } = Sam1Engine.prototype;
  const caches = new Map<Sam1Engine, DiskCachedEncoder>();
  const rgbCaches = new Map<Sam1Engine, DiskCachedEncoder>();
  // Gray slices (volumes, pictures) and colour frames (videos, encodeRgb) each through a cache of their own key.
  const cached = (own: Map<Sam1Engine, DiskCachedEncoder>, inner: typeof encode, rgb: boolean) =>
    function (this: Sam1Engine, pixels: Uint8Array, h: number, w: number) {
      let cache = own.get(this);
      if (!cache) {
        cache = new DiskCachedEncoder(
          { entry: this.entry, precision: this.precision, rgb, encode: (s, hh, ww) => inner.call(this, s, hh, ww) },
          dir,
        );
        own.set(this, cache);
      }
      return cache.encode(pixels, h, w);
    };
  Sam1Engine.prototype.encode = cached(caches, encode, false);
  Sam1Engine.prototype.encodeRgb = cached(rgbCaches, encodeRgb, true);
  return () => {
    Sam1Engine.prototype.encode = encode;
    Sam1Engine.prototype.encodeRgb = encodeRgb;
    const all = [...caches.values(), ...rgbCaches.values()];
    const read = all.reduce((n, c) => n + c.hits, 0),
      encoded = all.reduce((n, c) => n + c.misses, 0);
    process.stdout.write(`# embedding cache: ${read} slices read, ${encoded} encoded\n`);
  };
}

/** `fn` run with cacheSam1Encodes(dir) in force. */
export async function withCachedSam1Encodes<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const restore = cacheSam1Encodes(dir);
  try {
    return await fn();
  } finally {
    restore();
  }
}

/**
 * For a whole test file that asserts on what the decoder, the propagation, the server or the app make of
 * the default model's embeddings, not on the encoder or on how long it takes (no cancel or timing race):
 * every Sam1Engine encode of this file goes through the run's shared cache (runEmbeddingCache; a file run
 * on its own gets a temp folder of its own), put back after the file's last test. CI time: the encoder is
 * about a second of CPU per slice on 2 cores and the shared CT-lesion and DICOM slices are encoded by a
 * dozen files; with the cache each slice is encoded once per run. Call it at the file's top level.
 * `scope: 'file'`: always a fresh folder of this file's own, for a file that counts the encoder runs of
 * its first pass (e.g. the server's /metrics) and then encodes the same slices or frames again (a
 * library call it compares with, a second upload): the first pass really encodes, whatever earlier
 * files or runs left in the shared cache, and the later passes read what it wrote.
 */
export function cacheSam1EncodesInFile(scope: 'run' | 'file' = 'run'): void {
  const own = scope === 'run' && process.env.MEDSAM2_TEST_EMBEDDING_CACHE ? undefined : mkdtempSync(join(tmpdir(), 'medsam2-test-emb-'));
  const restore = cacheSam1Encodes(own ?? runEmbeddingCache(''));
  after(() => {
    restore();
    if (own) rmSync(own, { recursive: true, force: true });
  });
}
