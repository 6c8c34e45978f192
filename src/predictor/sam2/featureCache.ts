import { MedsamError } from '../../common/errors.js';
import type { Sam2ImageFeatures } from '../../engine/sam2/types.js';

export type FrameEncoder = (frameIdx: number) => Promise<Sam2ImageFeatures>;

/**
 * Least-recently-used cache of per-frame image-encoder outputs, so each frame is encoded once per
 * session (upstream keeps only the last frame and re-encodes on every revisit: 19 encoder calls
 * for a 16-slice bidirectional run). The positional encoding is identical for every frame, so one
 * copy is shared. Cost per cached frame = C·h·w (vision features) + C/8·16hw (conv_s0) + C/4·4hw
 * (conv_s1) float32 values = 4·C·h·w·(1 + 2 + 1) bytes: 4 MiB for SAM2.1-tiny at 512 px
 * (C = 256, h = w = 32), 16 MiB at 1024 px.
 *
 * Prefetching (when a background encoder on another thread is given): `prefetch(order)` plans the
 * frames propagation will ask for; the background encoder works through the plan, at most
 * `lookahead` frames ahead of the requests, while the caller tracks. When a requested frame is
 * still being encoded in the background, the caller encodes the next planned frame itself
 * instead of idling, so both cores stay busy (the encoder is the larger half of the work).
 */
export class FeatureCache {
  private readonly frames = new Map<number, Sam2ImageFeatures>();
  private sharedPosEnc: Float32Array | undefined;
  /** Number of encoder runs so far (cache misses, foreground and background). */
  encodeCount = 0;
  private plan: number[] = [];
  private readonly inflight = new Map<number, Promise<void>>();
  /** Frames encoded or being encoded ahead of a request; bounded by `lookahead`. */
  private readonly ahead = new Set<number>();
  readonly lookahead: number;

  constructor(
    readonly capacity: number,
    private readonly encode: FrameEncoder,
    private readonly background?: FrameEncoder,
    lookahead = 4,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new MedsamError(`feature cache size ${capacity} must be a positive integer`, 'pass featureCacheFrames >= 1');
    }
    // Frames fetched ahead must not push the ones in use out of the cache.
    this.lookahead = background ? Math.max(0, Math.min(lookahead, capacity - 2)) : 0;
  }

  /** Bytes held by one cached frame of these features (documented cost, for sizing the cache). */
  static bytesPerFrame(f: Sam2ImageFeatures): number {
    return 4 * (f.visionFeatures.length + f.highRes0.length + f.highRes1.length);
  }

  get size(): number {
    return this.frames.size;
  }

  has(frameIdx: number): boolean {
    return this.frames.has(frameIdx);
  }

  /**
   * Plans `order` (frames in the order they will be requested) ahead of what was planned before,
   * and starts background encoding. Without a background encoder this does nothing.
   */
  prefetch(order: readonly number[]): void {
    if (this.lookahead === 0) return;
    const first = [...new Set(order)];
    const firstSet = new Set(first);
    this.plan = [...first, ...this.plan.filter((f) => !firstSet.has(f))].filter((f) => !this.frames.has(f) && !this.inflight.has(f));
    // Frames fetched ahead for an older plan no longer hold back the new one.
    for (const f of this.ahead) if (!this.inflight.has(f) && !firstSet.has(f)) this.ahead.delete(f);
    this.pump();
  }

  async get(frameIdx: number): Promise<Sam2ImageFeatures> {
    const hit = this.take(frameIdx);
    if (hit) return hit;
    const pending = this.inflight.get(frameIdx);
    if (pending) {
      // Encode what comes next here rather than wait for the background thread to finish this one.
      while (this.inflight.has(frameIdx)) {
        const next = this.ahead.size <= this.lookahead ? this.nextPlanned() : undefined;
        if (next === undefined) {
          await pending;
          break;
        }
        this.ahead.add(next);
        await this.encodeHere(next);
      }
      const done = this.take(frameIdx);
      if (done) return done;
      // The background encode failed (e.g. the worker died): do it here, where errors surface.
    }
    this.plan = this.plan.filter((f) => f !== frameIdx);
    const f = await this.encodeHere(frameIdx);
    this.pump();
    return f;
  }

  clear(): void {
    this.frames.clear();
    this.plan = [];
    this.ahead.clear();
  }

  /** A cached frame (marked most recently used and no longer ahead), or undefined. */
  private take(frameIdx: number): Sam2ImageFeatures | undefined {
    const hit = this.frames.get(frameIdx);
    if (!hit) return undefined;
    // Map iteration order is insertion order: re-insert to mark as most recently used.
    this.frames.delete(frameIdx);
    this.frames.set(frameIdx, hit);
    if (this.ahead.delete(frameIdx)) this.pump();
    return hit;
  }

  private async encodeHere(frameIdx: number): Promise<Sam2ImageFeatures> {
    try {
      return this.store(frameIdx, await this.encode(frameIdx));
    } catch (e) {
      this.ahead.delete(frameIdx);
      throw e;
    }
  }

  private store(frameIdx: number, f: Sam2ImageFeatures): Sam2ImageFeatures {
    this.encodeCount++;
    if (!this.sharedPosEnc || this.sharedPosEnc.length !== f.visionPosEnc.length) this.sharedPosEnc = f.visionPosEnc;
    const entry: Sam2ImageFeatures = { ...f, visionPosEnc: this.sharedPosEnc };
    this.frames.set(frameIdx, entry);
    while (this.frames.size > this.capacity) {
      const oldest = this.frames.keys().next().value!;
      this.frames.delete(oldest);
      this.ahead.delete(oldest);
    }
    return entry;
  }

  private nextPlanned(): number | undefined {
    while (this.plan.length > 0) {
      const f = this.plan.shift()!;
      if (!this.frames.has(f) && !this.inflight.has(f)) return f;
    }
    return undefined;
  }

  /** Keeps one background encode running while the plan has frames and the lookahead allows. */
  private pump(): void {
    const bg = this.background;
    if (!bg || this.inflight.size > 0 || this.ahead.size >= this.lookahead) return;
    const f = this.nextPlanned();
    if (f === undefined) return;
    this.ahead.add(f);
    const job = bg(f).then(
      (feat) => { this.store(f, feat); },
      // Not fatal: the request for this frame encodes it in the foreground and reports any error.
      () => { this.ahead.delete(f); },
    ).finally(() => {
      this.inflight.delete(f);
      this.pump();
    });
    this.inflight.set(f, job);
  }
}
