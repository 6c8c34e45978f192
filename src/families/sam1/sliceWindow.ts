import { SliceEmbeddings } from '../../predictor/sam1/embeddingCache.js';
import type { CancelGate } from '../cancelGate.js';

/**
 * Slices lo..lo+count-1 of a session's SliceEmbeddings seen as a stack of their own. The SAM1
 * propagator runs to the ends of the stack it is given, so handing it a window runs one key over
 * exactly the slices a change affects (its own region between the neighbouring keys), while the
 * embeddings stay shared with the whole session. Subclassing keeps propagateObject untouched.
 * Behind a CancelGate, a cancelled run asks for no more embeddings and stops waiting for the one
 * being computed; that one still lands in the shared cache, so the next run does not encode it again.
 */
export class SliceWindow extends SliceEmbeddings {
  constructor(
    private readonly base: SliceEmbeddings,
    readonly lo: number,
    count: number,
    private readonly gate?: CancelGate,
  ) {
    super(
      { encode: () => Promise.reject(new Error('SliceWindow encodes through its base')) },
      (k) => base.pixels(lo + k),
      base.width,
      base.height,
      count,
    );
  }

  override get(k: number) {
    return this.gated(() => this.base.get(this.lo + k));
  }

  override mirrored(k: number) {
    return this.gated(() => this.base.mirrored(this.lo + k));
  }

  override crop(k: number, r: Parameters<SliceEmbeddings['crop']>[1]) {
    return this.gated(() => this.base.crop(this.lo + k, r));
  }

  private gated<T>(embed: () => Promise<T>): Promise<T> {
    return this.gate ? this.gate.wrap(embed)() : embed();
  }
}
