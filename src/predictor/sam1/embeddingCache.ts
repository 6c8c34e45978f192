import type { Sam1Embedding } from '../../engine/sam1Engine.js';
import { cropPixels, type CropRect } from './zoomedSlices.js';

/** Anything that can embed one uint8 slice (Sam1Engine does). */
export interface Sam1Encoder {
  encode(slice: Uint8Array, h: number, w: number): Promise<Sam1Embedding>;
}

/**
 * Slices of one volume, embedded on first use and kept in a bounded LRU cache so several objects
 * (and both propagation directions) share the encoder work, which dominates the run time.
 */
export class SliceEmbeddings {
  private readonly cache = new Map<number, Promise<Sam1Embedding>>();
  private readonly mirroredCache = new Map<number, Promise<Sam1Embedding>>();
  private readonly cropCache = new Map<string, Promise<Sam1Embedding>>();
  /** How many distinct slices were encoded (cache misses). */
  encoded = 0;
  /** How many of them were crops (zoomed decoding). */
  cropsEncoded = 0;

  constructor(
    private readonly encoder: Sam1Encoder,
    /** Returns slice k as row-major uint8 (height × width). */
    private readonly slice: (k: number) => Uint8Array,
    readonly width: number,
    readonly height: number,
    readonly count: number,
    /** Max embeddings kept (each is 4 MiB for SAM1 at 1024 px). */
    private readonly capacity = 256,
    private readonly onEncoded?: (k: number) => void,
    /** Max crop embeddings kept (zoomed decoding, src/predictor/sam1/zoomedSlices.ts; 4 MiB each too). */
    private readonly cropCapacity = 32,
  ) {}

  /** The uint8 pixels of slice k (row-major height × width). */
  pixels(k: number): Uint8Array {
    return this.slice(k);
  }

  get(k: number): Promise<Sam1Embedding> {
    const hit = this.cache.get(k);
    if (hit) {
      // Refresh recency: Map iteration order is insertion order.
      this.cache.delete(k);
      this.cache.set(k, hit);
      return hit;
    }
    const p = this.encoder.encode(this.slice(k), this.height, this.width).then((e) => {
      this.encoded++;
      this.onEncoded?.(k);
      return e;
    });
    // A failed encode must not stay cached.
    p.catch(() => this.cache.delete(k));
    this.cache.set(k, p);
    while (this.cache.size > this.capacity) this.cache.delete(this.cache.keys().next().value as number);
    return p;
  }

  /**
   * Embedding of slice k mirrored left-right (the flip test-time ensemble: src/predictor/sam1/testTimeEnsemble.ts).
   * Kept apart from the plain ones, at most a few (only key slices ask for it).
   */
  mirrored(k: number): Promise<Sam1Embedding> {
    const hit = this.mirroredCache.get(k);
    if (hit) return hit;
    const src = this.slice(k);
    const out = new Uint8Array(src.length);
    const w = this.width;
    for (let y = 0; y < this.height; y++) for (let x = 0; x < w; x++) out[y * w + x] = src[y * w + w - 1 - x]!;
    const p = this.encoder.encode(out, this.height, this.width).then((e) => {
      this.encoded++;
      return e;
    });
    p.catch(() => this.mirroredCache.delete(k));
    this.mirroredCache.set(k, p);
    while (this.mirroredCache.size > 8) this.mirroredCache.delete(this.mirroredCache.keys().next().value as number);
    return p;
  }

  /**
   * Embedding of the crop `r` of slice k alone (zoomed decoding: src/predictor/sam1/zoomedSlices.ts).
   * Kept apart from the whole slices' in their own bounded LRU.
   */
  crop(k: number, r: CropRect): Promise<Sam1Embedding> {
    const key = `${k}:${r.x0},${r.y0},${r.w},${r.h}`;
    const hit = this.cropCache.get(key);
    if (hit) {
      this.cropCache.delete(key);
      this.cropCache.set(key, hit);
      return hit;
    }
    const p = this.encoder.encode(cropPixels(this.pixels(k), this.width, this.height, r), r.h, r.w).then((e) => {
      this.encoded++;
      this.cropsEncoded++;
      return e;
    });
    p.catch(() => this.cropCache.delete(key));
    this.cropCache.set(key, p);
    while (this.cropCache.size > Math.max(1, this.cropCapacity)) this.cropCache.delete(this.cropCache.keys().next().value as string);
    return p;
  }
}
