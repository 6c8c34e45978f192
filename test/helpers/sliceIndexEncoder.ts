// The fake SAM1 encoder of the propagator tests: a slice's "embedding" is its first pixel, where the
// tests write the slice index, so a fake decoder knows which slice it is decoding.
import type { Sam1Embedding } from '../../src/engine/sam1Engine.js';
import { samFrame } from '../../src/preprocess/samImage.js';

export const sliceIndexEncoder = {
  encode: async (s: Uint8Array, h: number, w: number): Promise<Sam1Embedding> => ({
    data: new Float32Array([s[0]!]),
    dims: [1],
    frame: samFrame(h, w, 1024),
  }),
};

/** A uniform w×h slice of grey `grey` carrying its index `k` in the first pixel (far from the object). */
export function markedSlice(k: number, w: number, h: number, grey = 50): Uint8Array {
  const img = new Uint8Array(w * h).fill(grey);
  img[0] = k;
  return img;
}
