import type { FamilyTracker, FrameStack, ModelFamily, OpenedModel, SlicePrompt, TrackerPropagateArgs } from '../../src/families/family.js';
import { registerFamily } from '../../src/families/registry.js';
import { IDENTITY_DIRECTION, type Volume } from '../../src/io/volume.js';
import type { ModelEntry } from '../../src/models/registry.js';

/**
 * A tiny fake family for redo / edit tests (Session and server) (no model): it
 * "segments" pixels brighter than 100 inside a box and propagates the first key's box to every
 * slice, except that a mask prompt is taken literally and carried as it is to the slices after it
 * (like a key slice), so the test can see what the tracker was given.
 */
export class EditTracker implements FamilyTracker {
  readonly overlap = 'later-object-wins' as const;
  framesEncoded = 0;
  readonly given: { objId: number; frame: number; mask: boolean; correction: boolean }[] = [];
  private objs = new Map<number, { keys: Map<number, SlicePrompt>; masks: Map<number, Uint8Array> }>();
  constructor(private readonly stack: FrameStack) {}
  private seg(frame: number, b: readonly number[]): Uint8Array {
    const px = this.stack.frame(frame);
    const m = new Uint8Array(this.stack.rows * this.stack.cols);
    for (let y = b[1]!; y <= b[3]!; y++)
      for (let x = b[0]!; x <= b[2]!; x++) if (px[y * this.stack.cols + x]! > 100) m[y * this.stack.cols + x] = 1;
    return m;
  }
  async prompt(objId: number, frame: number, p: SlicePrompt, opts: { replace: boolean; correction: boolean }): Promise<Uint8Array> {
    this.given.push({ objId, frame, mask: !!p.mask, correction: opts.correction });
    const o = this.objs.get(objId) ?? { keys: new Map(), masks: new Map() };
    const m = p.mask ? Uint8Array.from(p.mask) : this.seg(frame, p.box ?? [0, 0, this.stack.cols - 1, this.stack.rows - 1]);
    this.objs.set(objId, { keys: new Map(o.keys).set(frame, p), masks: new Map(o.masks).set(frame, m) });
    return m;
  }
  async propagate(objId: number, a: TrackerPropagateArgs) {
    const o = this.objs.get(objId)!;
    const masks = new Map(o.masks);
    const keys = [...o.keys].sort((x, y) => x[0] - y[0]);
    let framesRun = 0;
    for (let f = a.range[0]; f <= a.range[1]; f++) {
      // The nearest key at or before f (else the first): a mask key is copied, a box key re-thresholded.
      const key = [...keys].reverse().find(([k]) => k <= f) ?? keys[0]!;
      masks.set(f, key[1].mask ? Uint8Array.from(key[1].mask) : this.seg(f, key[1].box!));
      framesRun++;
      a.onFrame?.(f, masks.get(f));
    }
    this.objs.set(objId, { ...o, masks });
    return { framesRun, stops: [] };
  }
  removeObject(objId: number) {
    this.objs.delete(objId);
  }
  masks(objId: number) {
    return this.objs.get(objId)?.masks ?? new Map();
  }
  snapshot() {
    return new Map(this.objs);
  }
  restore(s: unknown) {
    this.objs = new Map(s as typeof this.objs);
  }
  dispose() {
    this.objs.clear();
  }
}

const family: ModelFamily = {
  id: 'fake-edit',
  async open(entry: ModelEntry): Promise<OpenedModel> {
    return {
      entry,
      family: 'fake-edit',
      startTracker: (stack) => {
        const t = new EditTracker(stack);
        trackers.push(t);
        return t;
      },
      release: async () => {},
    };
  },
};
registerFamily(family);
/** The tracker of the last Session opened on editEntry. */
export const trackers: EditTracker[] = [];
export const editEntry = { id: 'fake-edit-1', family: 'fake-edit', files: {}, inputSize: 64 } as unknown as ModelEntry;

/** 8×6×5: a bright 3×2 block on slices 1..3 at x 2..4, y 1..2. */
export function volume(): Volume {
  const data = new Uint8Array(8 * 6 * 5);
  for (let z = 1; z <= 3; z++) for (let y = 1; y <= 2; y++) for (let x = 2; x <= 4; x++) data[z * 48 + y * 8 + x] = 200;
  return {
    data,
    dims: [8, 6, 5],
    spacing: [1, 1, 1],
    origin: [0, 0, 0],
    direction: [...IDENTITY_DIRECTION],
    source: { format: 'nifti' },
  } as Volume;
}
