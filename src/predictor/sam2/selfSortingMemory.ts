import { MedsamError } from '../../common/errors.js';

/**
 * Self-sorting memory bank of Medical-SAM2 (MedicineToken/Medical-SAM2, func_2d/function.py):
 * a fixed-size bank of memories; once full, a new memory replaces the bank entry that is most
 * redundant, but only when that adds diversity and the new memory is confident enough:
 *
 *   s_i   = cos(bank_i, new)                 similarity of each entry to the candidate
 *   i*    = argmin_i s_i                      the entry least like the candidate
 *   j*    = argmax_{j≠i*} cos(bank_i*, bank_j) the entry most like i* (redundant with it)
 *   replace j* by the candidate  iff  s_i* < cos(bank_i*, bank_j*)  and  conf > conf_j* − 0.1
 *
 * Medical-SAM2 uses it for 2D training batches; here it picks which tracked frames a SAM2 video
 * frame attends to (see the predictor's `memory: 'self-sorting'` option). Features are compared
 * by cosine similarity of the flattened maskmem features, as upstream.
 */
export interface BankEntry {
  frameIdx: number;
  confidence: number;
}

export class SelfSortingMemoryBank {
  private readonly entries: { frameIdx: number; confidence: number; unit: Float32Array }[] = [];

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new MedsamError(
        `self-sorting memory bank capacity ${capacity} must be a positive integer`,
        'use a model with num_maskmem >= 3',
      );
    }
  }

  get size(): number {
    return this.entries.length;
  }

  /** Bank entries in insertion order. */
  list(): BankEntry[] {
    return this.entries.map(({ frameIdx, confidence }) => ({ frameIdx, confidence }));
  }

  has(frameIdx: number): boolean {
    return this.entries.some((e) => e.frameIdx === frameIdx);
  }

  /**
   * Offer a memory; returns the frame it replaced, `null` when it was appended to a non-full bank,
   * or `undefined` when it was rejected. A frame already in the bank is refreshed in place.
   */
  offer(frameIdx: number, features: Float32Array, confidence: number): number | null | undefined {
    const unit = normalise(features);
    const existing = this.entries.findIndex((e) => e.frameIdx === frameIdx);
    if (existing >= 0) {
      this.entries[existing] = { frameIdx, confidence, unit };
      return null;
    }
    if (this.entries.length < this.capacity) {
      this.entries.push({ frameIdx, confidence, unit });
      return null;
    }
    const n = this.entries.length;
    if (n < 2) {
      // One slot: no pair to compare, keep the more confident memory (the rule's confidence test).
      if (confidence > this.entries[0]!.confidence - 0.1) {
        const old = this.entries[0]!.frameIdx;
        this.entries[0] = { frameIdx, confidence, unit };
        return old;
      }
      return undefined;
    }
    const s = this.entries.map((e) => dot(e.unit, unit));
    let iMin = 0;
    for (let i = 1; i < n; i++) if (s[i]! < s[iMin]!) iMin = i;
    let jMax = -1;
    let best = -Infinity;
    for (let j = 0; j < n; j++) {
      if (j === iMin) continue;
      const v = dot(this.entries[iMin]!.unit, this.entries[j]!.unit);
      if (v > best) {
        best = v;
        jMax = j;
      }
    }
    if (s[iMin]! < best && confidence > this.entries[jMax]!.confidence - 0.1) {
      const old = this.entries[jMax]!.frameIdx;
      this.entries.splice(jMax, 1);
      this.entries.push({ frameIdx, confidence, unit });
      return old;
    }
    return undefined;
  }
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** F.normalize(p=2, eps=1e-12). */
function normalise(a: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * a[i]!;
  const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! * inv;
  return out;
}
