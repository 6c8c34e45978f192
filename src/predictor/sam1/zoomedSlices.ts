// Zoomed decoding (session 8): the encoder sees a crop around the object instead of the whole slice,
// so a small object covers many more of the 64 × 64 embedding tokens (a 40-px lesion on a 512-px
// slice covers ~5 of them). The propagator keeps working in slice coordinates: prompts are shifted
// into the crop, the decoder's logits are pasted back into the slice with a large negative logit
// outside the crop, and a low-res mask prompt made in one crop is resampled into another.
// Hand-written: crop geometry and the low-res resampling are a few lines of arithmetic on SAM's
// own frame (src/preprocess/samImage.ts); no library knows SAM's padded low-res frame.
import type { Sam1Decoded, Sam1Embedding, Sam1Prompt } from '../../engine/sam1Engine.js';
import { samFrame, type SamFrame } from '../../preprocess/samImage.js';
import type { Box } from '../prompts.js';
import type { SliceEmbeddings } from './embeddingCache.js';

/** Minimal decoder interface (the propagator's Sam1Decoder; repeated here so this file does not import its user). */
interface Decoder {
  decode(emb: Sam1Embedding, prompt: Sam1Prompt, maskInput?: Float32Array): Promise<Sam1Decoded>;
}

/** A crop of a slice in slice pixels: columns x0..x0+w-1, rows y0..y0+h-1. */
export interface CropRect {
  x0: number;
  y0: number;
  w: number;
  h: number;
}

/** Logit pasted outside the crop: background for any threshold the propagator uses. */
export const OUTSIDE_LOGIT = -1e4;
/** Low-res logit given to mask-prompt cells that fall outside the crop the prompt was made in. */
const LOW_RES_OUTSIDE = -20;
/**
 * The crop (and its frame) each low-res answer was made in. Shared by every ZoomedSlices: a
 * propagation's stored logits (ObjectPropagation.lowRes, clickLogits 'stored') are handed to the next
 * propagation's decoder, which must resample a crop's logits, not take them for the whole slice's.
 */
const madeIn = new WeakMap<Float32Array, { rect: CropRect; frame: SamFrame }>();

export function wholeSlice(w: number, h: number): CropRect {
  return { x0: 0, y0: 0, w, h };
}

export function isWholeSlice(r: CropRect, w: number, h: number): boolean {
  return r.x0 === 0 && r.y0 === 0 && r.w === w && r.h === h;
}

export function sameRect(a: CropRect, b: CropRect): boolean {
  return a.x0 === b.x0 && a.y0 === b.y0 && a.w === b.w && a.h === b.h;
}

/**
 * The crop for an object whose box (inclusive pixel indices) is `box`: a square of `zoom` × the box's
 * longer side (at least `minSide` px) centred on the box and moved inside the slice (cut to the
 * slice's size on a side shorter than the square). When the square would be at least the slice's
 * longer side, the whole slice (its ordinary embedding: large objects are unchanged, no extra encode).
 */
export function cropAround(box: Box, zoom: number, minSide: number, w: number, h: number): CropRect {
  const side = Math.max(minSide, Math.round(zoom * Math.max(box[2] - box[0] + 1, box[3] - box[1] + 1)));
  if (!(zoom > 0) || side >= Math.max(w, h)) return wholeSlice(w, h);
  const cw = Math.min(side, w),
    ch = Math.min(side, h);
  const x0 = Math.max(0, Math.min(w - cw, Math.round((box[0] + box[2] + 1) / 2 - cw / 2)));
  const y0 = Math.max(0, Math.min(h - ch, Math.round((box[1] + box[3] + 1) / 2 - ch / 2)));
  return { x0, y0, w: cw, h: ch };
}

/** Whether the mask's box reaches an edge of the crop that is not the slice's own edge (the object may go on outside). */
export function touchesCropEdge(box: Box, r: CropRect, w: number, h: number): boolean {
  return (
    (r.x0 > 0 && box[0] <= r.x0) ||
    (r.y0 > 0 && box[1] <= r.y0) ||
    (r.x0 + r.w < w && box[2] >= r.x0 + r.w - 1) ||
    (r.y0 + r.h < h && box[3] >= r.y0 + r.h - 1)
  );
}

/** The crop's pixels (row-major, `channels` interleaved values per pixel) out of the slice's. */
export function cropPixels(pixels: Uint8Array, w: number, h: number, r: CropRect): Uint8Array {
  const c = pixels.length / (w * h);
  const out = new Uint8Array(r.w * r.h * c);
  for (let y = 0; y < r.h; y++) {
    const from = ((r.y0 + y) * w + r.x0) * c;
    out.set(pixels.subarray(from, from + r.w * c), y * r.w * c);
  }
  return out;
}

/** Logits of a crop (row-major r.h × r.w) placed in a slice of w × h, OUTSIDE_LOGIT elsewhere. */
export function pasteLogits(crop: Float32Array, r: CropRect, w: number, h: number): Float32Array {
  const out = new Float32Array(w * h).fill(OUTSIDE_LOGIT);
  for (let y = 0; y < r.h; y++) out.set(crop.subarray(y * r.w, (y + 1) * r.w), (r.y0 + y) * w + r.x0);
  return out;
}

/**
 * A low-res mask prompt (SAM's 256 × 256 logits of the padded S frame) made on crop `from` (frame
 * `ff`) as the same prompt on crop `to` (frame `ft`): each cell's centre is taken to slice pixels and
 * back into the first crop's low-res grid, sampled bilinearly; cells outside the first crop's image are background.
 */
export function resampleLowRes(low: Float32Array, from: CropRect, ff: SamFrame, to: CropRect, ft: SamFrame): Float32Array {
  const n = Math.round(Math.sqrt(low.length));
  const out = new Float32Array(n * n);
  const cellT = ft.size / n,
    cellF = ff.size / n;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      // Model px of crop `to` → slice px → model px of crop `from` → low-res cell of `from`.
      const sx = ((j + 0.5) * cellT * ft.srcW) / ft.resizedW + to.x0 - from.x0;
      const sy = ((i + 0.5) * cellT * ft.srcH) / ft.resizedH + to.y0 - from.y0;
      const inside = (j + 0.5) * cellT < ft.resizedW && (i + 0.5) * cellT < ft.resizedH;
      if (!inside || sx < 0 || sy < 0 || sx >= from.w || sy >= from.h) {
        out[i * n + j] = LOW_RES_OUTSIDE;
        continue;
      }
      const u = Math.min(n - 1, Math.max(0, (sx * ff.resizedW) / ff.srcW / cellF - 0.5));
      const v = Math.min(n - 1, Math.max(0, (sy * ff.resizedH) / ff.srcH / cellF - 0.5));
      const u0 = Math.floor(u),
        v0 = Math.floor(v);
      const u1 = Math.min(n - 1, u0 + 1),
        v1 = Math.min(n - 1, v0 + 1);
      const fu = u - u0,
        fv = v - v0;
      const top = low[v0 * n + u0]! * (1 - fu) + low[v0 * n + u1]! * fu;
      const bottom = low[v1 * n + u0]! * (1 - fu) + low[v1 * n + u1]! * fu;
      out[i * n + j] = top * (1 - fv) + bottom * fv;
    }
  }
  return out;
}

/**
 * Slice embeddings seen through crops, and the decoder that goes with them. `embedding(k, rect)` is
 * the crop's embedding (SliceEmbeddings.crop: encoded once, kept in its bounded cache; the whole
 * slice's ordinary one when `rect` is the slice), and `decoder` decodes slice-coordinate prompts on
 * it, answering slice-sized logits. Decoders beneath see the crop's own embedding and prompt, so the
 * memo and disk caches (keyed by the embedding and by its pixels) keep working.
 */
export class ZoomedSlices {
  private readonly rects = new WeakMap<Sam1Embedding, CropRect>();
  readonly decoder: Decoder;

  constructor(
    private readonly slices: SliceEmbeddings,
    inner: Decoder,
  ) {
    this.decoder = { decode: (emb, prompt, maskInput) => this.decode(inner, emb, prompt, maskInput) };
  }

  async embedding(k: number, rect: CropRect): Promise<Sam1Embedding> {
    const { width: w, height: h } = this.slices;
    if (isWholeSlice(rect, w, h)) return this.slices.get(k);
    const e = await this.slices.crop(k, rect);
    this.rects.set(e, rect);
    return e;
  }

  private async decode(inner: Decoder, emb: Sam1Embedding, prompt: Sam1Prompt, maskInput?: Float32Array): Promise<Sam1Decoded> {
    const { width: w, height: h } = this.slices;
    const rect = this.rects.get(emb) ?? wholeSlice(w, h);
    // A mask prompt this decoder did not make (a whole-slice decode beneath it) was made on the whole slice.
    const made = maskInput && (madeIn.get(maskInput) ?? { rect: wholeSlice(w, h), frame: samFrame(h, w, emb.frame.size) });
    const whole = isWholeSlice(rect, w, h);
    if (whole && (!made || isWholeSlice(made.rect, w, h))) {
      // The ordinary path: nothing to shift, paste or resample.
      const d = await inner.decode(emb, prompt, maskInput);
      madeIn.set(d.lowRes, { rect, frame: emb.frame });
      return d;
    }
    const shifted: Sam1Prompt = {};
    if (prompt.box) {
      const [x0, y0, x1, y1] = prompt.box;
      // Kept within the crop (its far edge in pixel-edge coordinates is its size).
      const cx = (x: number) => Math.min(rect.w, Math.max(0, x - rect.x0)),
        cy = (y: number) => Math.min(rect.h, Math.max(0, y - rect.y0));
      shifted.box = [cx(x0), cy(y0), cx(x1), cy(y1)];
    }
    if (prompt.points) shifted.points = prompt.points.map((p) => ({ ...p, x: p.x - rect.x0, y: p.y - rect.y0 }));
    const input =
      maskInput && made && !sameRect(made.rect, rect) ? resampleLowRes(maskInput, made.rect, made.frame, rect, emb.frame) : maskInput;
    const d = await inner.decode(emb, shifted, input);
    madeIn.set(d.lowRes, { rect, frame: emb.frame });
    return { ...d, logits: whole ? d.logits : pasteLogits(d.logits, rect, w, h) };
  }
}
