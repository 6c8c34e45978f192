import { MedsamError } from '../../common/errors.js';
import type { Sam2ImageFeatures } from '../../engine/sam2/types.js';

/**
 * Least-recently-used cache of per-frame image-encoder outputs, so each frame is encoded once per
 * session (upstream keeps only the last frame and re-encodes on every revisit: 19 encoder calls
 * for a 16-slice bidirectional run). The positional encoding is identical for every frame, so one
 * copy is shared. Cost per cached frame = C·h·w (vision features) + C/8·16hw (conv_s0) + C/4·4hw
 * (conv_s1) float32 values = 4·C·h·w·(1 + 2 + 1) bytes: 4 MiB for SAM2.1-tiny at 512 px
 * (C = 256, h = w = 32), 16 MiB at 1024 px.
 *
 * An encode, once started, lands in the cache whoever still waits for it: `wait` (a caller's cancel
 * gate) may stop a caller waiting, but not the store, so a propagation cancelled during an encode
 * leaves that frame's features for the next one (ORT cannot stop the run anyway, so dropping its
 * result would only pay it twice). A frame asked for again while its encode runs shares that run.
 */
/** How a caller waits for an encode it started: e.g. CancelGate.wrap, which stops waiting on a cancel. */
export type FeatureWait = <T>(run: () => Promise<T>) => Promise<T>;

export class FeatureCache {
  private readonly frames = new Map<number, Sam2ImageFeatures>();
  /** Encodes started and not landed yet, by frame. */
  private readonly pending = new Map<number, Promise<Sam2ImageFeatures>>();
  private sharedPosEnc: Float32Array | undefined;
  /** Number of encoder runs so far (cache misses). */
  encodeCount = 0;

  constructor(
    readonly capacity: number,
    private readonly encode: (frameIdx: number) => Promise<Sam2ImageFeatures>,
    private readonly wait: FeatureWait = (run) => run(),
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new MedsamError(`feature cache size ${capacity} must be a positive integer`, 'pass featureCacheFrames >= 1');
    }
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

  async get(frameIdx: number): Promise<Sam2ImageFeatures> {
    const hit = this.frames.get(frameIdx);
    if (hit) {
      // Map iteration order is insertion order: re-insert to mark as most recently used.
      this.frames.delete(frameIdx);
      this.frames.set(frameIdx, hit);
      return hit;
    }
    return this.wait(() => this.pending.get(frameIdx) ?? this.start(frameIdx));
  }

  /** Runs the encoder for a frame and stores its features when they arrive, waited for or not. */
  private start(frameIdx: number): Promise<Sam2ImageFeatures> {
    const run = this.encode(frameIdx).then((f) => {
      this.encodeCount++;
      if (!this.sharedPosEnc || this.sharedPosEnc.length !== f.visionPosEnc.length) this.sharedPosEnc = f.visionPosEnc;
      const entry: Sam2ImageFeatures = { ...f, visionPosEnc: this.sharedPosEnc };
      if (this.pending.get(frameIdx) === run) {
        this.frames.set(frameIdx, entry);
        while (this.frames.size > this.capacity) this.frames.delete(this.frames.keys().next().value!);
      }
      return entry;
    });
    this.pending.set(frameIdx, run);
    const settle = () => {
      if (this.pending.get(frameIdx) === run) this.pending.delete(frameIdx);
    };
    // A failure nobody waits for any more (its caller was cancelled) is not an unhandled rejection.
    run.then(settle, settle);
    return run;
  }

  /** Drops every cached frame; an encode still running is not stored when it lands. */
  clear(): void {
    this.frames.clear();
    this.pending.clear();
  }
}
