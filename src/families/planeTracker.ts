import type { Volume } from '../io/volume.js';
import { PlaneResample } from '../preprocess/planeResample.js';
import type { SliceAxis } from '../preprocess/slices.js';
import type { FamilyTracker, FrameStack, SlicePrompt, TrackerPropagateArgs, TrackerPropagation } from './family.js';

/**
 * A volume's tracker along one axis (`stack`: its slices along `axis`, from volumeStack), at square pixels: where the plane's rows and columns have
 * different spacing (coronal/sagittal planes of a thick-slice scan), the family runs on the plane
 * upsampled to the fine spacing (src/preprocess/planeResample.ts) and this wrapper keeps the voxel
 * grid outside it: prompts are mapped onto the resampled grid, masks come back by the area rule.
 * Every family gets it (the Session calls this), so the model sees anatomy at its physical aspect
 * in any view, and a mask inside a box's voxel rows stays inside them.
 */
export function startVolumeTracker(
  stack: FrameStack,
  volume: Pick<Volume, 'dims' | 'spacing'>,
  axis: SliceAxis,
  start: (stack: FrameStack) => FamilyTracker,
  resample = true,
): FamilyTracker {
  const grid = resample ? planeResampleFor(volume, axis) : undefined;
  if (!grid) return start(stack);
  return new ResampledTracker(start(resampledStack(stack, grid)), grid);
}

/** The resampling a plane along `axis` needs for square pixels (undefined: it has them). */
export function planeResampleFor(volume: Pick<Volume, 'dims' | 'spacing'>, axis: SliceAxis): PlaneResample | undefined {
  const [nx, ny, nz] = volume.dims;
  const [sx, sy, sz] = volume.spacing.map(Math.abs) as [number, number, number];
  // Rows/cols of each axis as src/preprocess/slices.ts cuts them.
  if (axis === 2) return PlaneResample.forSpacing(ny, nx, sy, sx);
  if (axis === 1) return PlaneResample.forSpacing(nz, nx, sz, sx);
  return PlaneResample.forSpacing(nz, ny, sz, sy);
}

function resampledStack(stack: FrameStack, grid: PlaneResample): FrameStack {
  return {
    kind: stack.kind,
    numFrames: stack.numFrames,
    rows: grid.outRows,
    cols: grid.outCols,
    channels: stack.channels,
    frame: (i) => grid.image(stack.frame(i), stack.channels),
  };
}

/** A family tracker on a resampled stack, seen on the voxel grid. */
export class ResampledTracker implements FamilyTracker {
  /** Voxel-grid masks by the family's mask (same object → same array, as the Session compares them by identity). */
  private readonly down = new WeakMap<Uint8Array, Uint8Array>();
  readonly logits?: (objId: number, frame: number) => Float32Array | undefined;

  constructor(
    private readonly inner: FamilyTracker,
    readonly grid: PlaneResample,
  ) {
    if (inner.logits) {
      const l = inner.logits.bind(inner);
      this.logits = (objId, frame) => {
        const v = l(objId, frame);
        return v && grid.valuesDown(v);
      };
    }
  }

  get overlap() {
    return this.inner.overlap;
  }

  get framesEncoded(): number {
    return this.inner.framesEncoded;
  }

  private toVoxels(m: Uint8Array): Uint8Array {
    let d = this.down.get(m);
    if (!d) this.down.set(m, (d = this.grid.maskDown(m)));
    return d;
  }

  async prompt(
    objId: number,
    frame: number,
    p: SlicePrompt,
    opts: { replace: boolean; correction: boolean; signal?: AbortSignal },
  ): Promise<Uint8Array> {
    const g = this.grid;
    const q: SlicePrompt = {};
    if (p.box) q.box = g.box(p.box);
    if (p.points) q.points = p.points.map((pt) => g.point(pt));
    if (p.recist) q.recist = g.line(p.recist);
    if (p.mask) q.mask = g.maskUp(p.mask);
    return this.toVoxels(await this.inner.prompt(objId, frame, q, opts));
  }

  propagate(objId: number, a: TrackerPropagateArgs): Promise<TrackerPropagation> {
    const onFrame = a.onFrame;
    return this.inner.propagate(objId, {
      ...a,
      ...(onFrame ? { onFrame: (f: number, m?: Uint8Array) => onFrame(f, m && this.toVoxels(m)) } : {}),
    });
  }

  removeObject(objId: number): void {
    this.inner.removeObject(objId);
  }

  masks(objId: number): ReadonlyMap<number, Uint8Array> {
    const out = new Map<number, Uint8Array>();
    for (const [f, m] of this.inner.masks(objId)) out.set(f, this.toVoxels(m));
    return out;
  }

  snapshot(): unknown {
    return this.inner.snapshot();
  }

  restore(snapshot: unknown): void {
    this.inner.restore(snapshot);
  }

  dispose(): void {
    this.inner.dispose();
  }
}
