import { randomUUID } from 'node:crypto';
import { MedsamError } from '../common/errors.js';
import { PropagationCancelled } from '../families/cancelled.js';
import type { FamilyTracker, FrameStack, SlicePrompt } from '../families/family.js';
import { videoStack, volumeStack } from '../families/frameStack.js';
import { startVolumeTracker } from '../families/planeTracker.js';
import { familyFor } from '../families/registry.js';
import { voxelCount, type Volume } from '../io/volume.js';
import { resolveModel } from '../models/registry.js';
import { extractSlice, insertSlice, sliceShape, type SliceAxis } from '../preprocess/slices.js';
import { validatePrompts } from '../predictor/prompts.js';
import { applyStroke, type BrushStroke } from './brushStroke.js';
import { buildLabelMap, labelMapVolume } from './labelMap.js';
import { ModelPool } from './modelPool.js';
import type {
  Interaction,
  LabelMapParts,
  ModelLease,
  ModelPoolApi,
  ObjectInfo,
  PropagateOptions,
  PropagationSummary,
  SessionApi,
  SessionInput,
  SessionOptions,
  SliceMask,
} from './types.js';

interface ObjectRecord {
  keys: ReadonlySet<number>;
  propagated: boolean;
  /** The axis its slices are cut along: the view it was first prompted or drawn on. */
  axis: SliceAxis;
}

interface Snapshot {
  /** Each tracker's state by axis. */
  trackers: Map<SliceAxis, unknown>;
  objects: Map<number, ObjectRecord>;
  edits: Map<number, Map<number, Uint8Array>>;
  pending: Set<string>;
}

/** What an edit may be given: the slice's new mask, or a brush/eraser stroke on its current one. */
export type MaskEdit = { mask: Uint8Array; stroke?: undefined } | { stroke: BrushStroke; mask?: undefined };

/**
 * A long-lived interactive segmentation of one volume or video with one model: prompts for any
 * object on any slice, propagation (all, a range, one direction), corrections that re-propagate
 * only what they affect, undo, cancel, masks readable at any time. Model-specific work goes to the
 * family's tracker (src/families); the Session validates, serialises calls (one at a time, in call
 * order), records a replayable history and keeps a snapshot per interaction for undo. A failed or
 * cancelled interaction leaves the Session exactly as before it.
 *
 * Redo: undo moves the interaction with the snapshots before and after it onto a redo stack, so
 * redo puts the later state back without running the model; any new interaction clears the stack.
 *
 * Manual edits (brush/eraser, edit()) are literal: the edited slice shows exactly the mask given,
 * no model runs. They live in an overlay over the tracker's masks; the model only hears of an edit
 * (as that slice's mask prompt, replacing its prompt) when the object is next propagated or the
 * same slice is prompted again, so re-propagation starts from the edited slice. A later prompt on
 * that slice hands it back to the model.
 *
 * Prompts on any of the three planes (volumes): an object lives on the axis of the view it was
 * first prompted (or drawn) on, and the Session re-slices the volume along that axis for it (a
 * second tracker from the same leased model, started on first use). Why re-slice rather than
 * convert, e.g. a coronal box into per-axial-slice prompts: a box on a coronal plane says where the
 * object is on that plane only; on each axial slice it fixes one row, not the object's extent, so
 * converted axial prompts would have to guess the other dimension. On its own plane the model sees
 * exactly what the person framed, and propagation across coronal slices is the same computation as
 * across axial ones. Corrections go on the object's own view; brush/eraser edits work on any view
 * (an edit is voxels, converted exactly onto the object's slices). Label maps, `objects[].slices`
 * and masks by slice of other objects stay on the session's axis.
 */
export class Session implements SessionApi {
  private objs = new Map<number, ObjectRecord>();
  private readonly done: { interaction: Interaction; before: Snapshot }[] = [];
  private readonly undone: { interaction: Interaction; before: Snapshot; after: Snapshot }[] = [];
  /** Literal masks from edit() by object, then slice (copied on write: snapshots share them). */
  private edits = new Map<number, Map<number, Uint8Array>>();
  /** Edits (`objId:slice`) not yet given to the tracker as mask prompts. */
  private pending = new Set<string>();
  private chain: Promise<unknown> = Promise.resolve();
  private running: AbortController | undefined;
  private closed = false;

  private constructor(
    readonly id: string,
    readonly modelId: string,
    readonly family: string,
    readonly kind: 'volume' | 'video',
    readonly numSlices: number,
    readonly rows: number,
    readonly cols: number,
    readonly axis: SliceAxis,
    private readonly volume: Volume | undefined,
    private readonly tracker: FamilyTracker,
    private readonly lease: ModelLease,
    private readonly ownPool: ModelPool | undefined,
    private readonly largestComponent: boolean,
    private readonly checkFamily: ((p: SlicePrompt, where: string) => void) | undefined,
    private readonly startOn: ((axis: SliceAxis) => FamilyTracker) | undefined,
  ) {
    this.trackers.set(axis, { tracker, empty: tracker.snapshot() });
  }

  /** The tracker per slicing axis (the session's own, and any started for objects on other views). */
  private readonly trackers = new Map<SliceAxis, { tracker: FamilyTracker; empty: unknown }>();

  private trackerOn(axis: SliceAxis): FamilyTracker {
    let t = this.trackers.get(axis);
    if (!t) {
      if (!this.startOn) throw new MedsamError('video frames have one plane only', 'prompt on the frame itself');
      const tracker = this.startOn(axis);
      this.trackers.set(axis, (t = { tracker, empty: tracker.snapshot() }));
    }
    return t.tracker;
  }

  private axisOf(objId: number): SliceAxis {
    return this.objs.get(objId)?.axis ?? this.axis;
  }

  private trackerOf(objId: number): FamilyTracker {
    return this.trackerOn(this.axisOf(objId));
  }

  /** rows, cols, count of the slices along `axis`. */
  private shape(axis: SliceAxis): { rows: number; cols: number; count: number } {
    return axis === this.axis || !this.volume
      ? { rows: this.rows, cols: this.cols, count: this.numSlices }
      : sliceShape(this.volume.dims, axis);
  }

  /** Refuses a prompt for an existing object on another view (its prompts live on its own axis). */
  private checkAxis(objId: number, axis: SliceAxis): void {
    const o = this.objs.get(objId);
    if (o && o.axis !== axis)
      throw new MedsamError(
        `object ${objId} was started on the ${VIEW_NAME[o.axis]} view; this prompt is on the ${VIEW_NAME[axis]} view`,
        `correct it on the ${VIEW_NAME[o.axis]} view (or with the brush on any view), or add a new object for this one`,
      );
    if (axis !== this.axis && !this.volume) throw new MedsamError('video frames have one plane only', 'prompt on the frame itself');
  }

  /** Open a Session: leases the model from `opts.pool` (or a private pool) and starts the family's tracker. */
  static async open(input: SessionInput, opts: SessionOptions = {}): Promise<Session> {
    const entry = typeof opts.model === 'object' ? opts.model : resolveModel(opts.model ?? 'default');
    const axis: SliceAxis = opts.axis ?? 2;
    const volume = 'dims' in input ? input : undefined;
    const stack = volume ? volumeStack(volume, axis, opts.intensity) : videoStack(input as Exclude<SessionInput, Volume>);
    const ownPool = opts.pool ? undefined : new ModelPool();
    const pool: ModelPoolApi = opts.pool ?? ownPool!;
    const lease = await pool.acquire(entry, { threads: opts.threads, precision: opts.precision, cacheDir: opts.cacheDir, log: opts.log });
    try {
      const trackerOpts = { ...opts.family, featureBudgetMiB: opts.featureBudgetMiB };
      const start = (st: FrameStack) => lease.model.startTracker(st, trackerOpts);
      // Volumes: each plane at square pixels (startVolumeTracker resamples thick-slice planes).
      const resample = opts.resamplePlanes !== false;
      const tracker = volume ? startVolumeTracker(stack, volume, axis, start, resample) : start(stack);
      const startOn = volume
        ? (a: SliceAxis) => startVolumeTracker(volumeStack(volume, a, opts.intensity), volume, a, start, resample)
        : undefined;
      return new Session(
        opts.id ?? randomUUID(),
        entry.id,
        lease.model.family,
        stack.kind,
        stack.numFrames,
        stack.rows,
        stack.cols,
        axis,
        volume,
        tracker,
        lease,
        ownPool,
        opts.largestComponent !== false,
        familyFor(entry).checkPrompt,
        startOn,
      );
    } catch (e) {
      lease.release();
      await ownPool?.drain();
      throw e;
    }
  }

  /**
   * Open a Session and replay a recorded history (crash recovery); the replay is deterministic.
   * `redo` (as redoable() gave it) rebuilds the redo stack: those interactions are replayed, then undone.
   */
  static async fromHistory(
    input: SessionInput,
    history: readonly Interaction[],
    opts: SessionOptions = {},
    redo: readonly Interaction[] = [],
  ): Promise<Session> {
    const s = await Session.open(input, opts);
    try {
      for (const i of [...history, ...redo]) await s.apply(i);
      for (let k = 0; k < redo.length; k++) await s.undo();
    } catch (e) {
      await s.close();
      throw e;
    }
    return s;
  }

  /** Run one recorded interaction. */
  async apply(i: Interaction): Promise<unknown> {
    switch (i.kind) {
      case 'prompt':
        return this.addPrompt(i.objId, i.slice, i.prompt, { replace: i.replace, axis: i.axis });
      case 'correct':
        return this.correct(i.objId, i.slice, i.prompt, { axis: i.axis });
      case 'propagate':
        return this.propagate({ objIds: i.objIds, range: i.range, direction: i.direction, full: i.full });
      case 'remove':
        return this.removeObject(i.objId);
      case 'edit':
        return this.edit(i.objId, i.slice, { mask: i.mask }, { axis: i.axis });
      default:
        throw new MedsamError(
          `unknown interaction kind '${String((i as { kind: unknown }).kind)}'`,
          "use 'prompt', 'correct', 'propagate', 'remove' or 'edit'",
        );
    }
  }

  get objects(): ObjectInfo[] {
    return [...this.objs].map(([objId, o]) => ({
      objId,
      keys: [...o.keys].sort((a, b) => a - b),
      slices: this.slicesAlongSessionAxis(objId, o.axis),
      propagated: o.propagated,
      axis: o.axis,
    }));
  }

  /** Distinct slices encoded so far (each slice at most once while the feature budget holds). */
  get slicesEncoded(): number {
    let n = 0;
    for (const t of this.trackers.values()) n += t.tracker.framesEncoded;
    return n;
  }

  /** Where an object has a mask, as slice indices along the session's axis (whatever its own axis). */
  private slicesAlongSessionAxis(objId: number, axis: SliceAxis): number[] {
    const out = new Set<number>();
    const { cols } = this.shape(axis);
    // The session axis is rows of the object's slices unless both are in-plane axes (x/y of an axial
    // slice): see src/preprocess/slices.ts for the row/column order of each axis.
    const inRows = axis === 2 ? this.axis === 1 : this.axis === 2;
    for (const [k, m] of this.masksOf(objId)) {
      if (axis === this.axis) {
        if (m.some((v) => v !== 0)) out.add(k);
        continue;
      }
      for (let i = 0; i < m.length; i++) if (m[i]) out.add(inRows ? Math.floor(i / cols) : i % cols);
    }
    return [...out].sort((a, b) => a - b);
  }

  /**
   * Prompt an object on a slice. `axis` (volumes): the axis the slice is cut along — the view it
   * was drawn on (default the session's); a new object lives on that axis from then on.
   */
  async addPrompt(
    objId: number,
    slice: number,
    prompt: SlicePrompt,
    opts: { replace?: boolean; axis?: SliceAxis; signal?: AbortSignal } = {},
  ): Promise<SliceMask> {
    const replace = opts.replace ?? false;
    const axis = opts.axis ?? this.axis;
    const p = this.checkPrompt(objId, slice, prompt, axis);
    const interaction: Interaction = { kind: 'prompt', objId, slice, prompt: p, replace };
    if (axis !== this.axis) interaction.axis = axis;
    return this.serial(() => {
      this.checkAxis(objId, axis);
      return this.record(interaction, async () => {
        this.touch(objId, slice, axis);
        await this.giveEdit(objId, slice);
        const mask = await this.trackerOn(axis).prompt(objId, slice, p, { replace, correction: false, signal: opts.signal });
        this.dropEdit(objId, slice);
        return sliceMask(objId, slice, mask);
      });
    });
  }

  async correct(objId: number, slice: number, prompt: SlicePrompt, opts: { axis?: SliceAxis } = {}): Promise<SliceMask> {
    const axis = opts.axis ?? this.axis;
    const p = this.checkPrompt(objId, slice, prompt, axis);
    const interaction: Interaction = { kind: 'correct', objId, slice, prompt: p };
    if (axis !== this.axis) interaction.axis = axis;
    return this.serial(() => {
      if (!this.objs.has(objId))
        throw new MedsamError(
          `object ${objId} does not exist`,
          `add a prompt for it first (objects: ${[...this.objs.keys()].join(', ') || 'none'})`,
        );
      this.checkAxis(objId, axis);
      return this.record(interaction, async () => {
        await this.giveEdit(objId, slice);
        const mask = await this.trackerOn(axis).prompt(objId, slice, p, { replace: false, correction: true });
        this.dropEdit(objId, slice);
        this.touch(objId, slice, axis);
        return sliceMask(objId, slice, mask);
      });
    });
  }

  propagate(opts: PropagateOptions = {}): Promise<PropagationSummary> {
    const n = this.numSlices;
    const range = opts.range ?? [0, n - 1];
    if (
      !Array.isArray(range) ||
      range.length !== 2 ||
      !range.every((v) => Number.isInteger(v)) ||
      range[0] < 0 ||
      range[1] > n - 1 ||
      range[0] > range[1]
    ) {
      return Promise.reject(
        new MedsamError(`range ${JSON.stringify(opts.range)} is not [from, to] inside 0..${n - 1}`, 'give two slice indices, from <= to'),
      );
    }
    const direction = opts.direction ?? 'both';
    if (direction !== 'both' && direction !== 'forward' && direction !== 'backward') {
      return Promise.reject(new MedsamError(`direction '${String(direction)}' is unknown`, "use 'both', 'forward' or 'backward'"));
    }
    const interaction: Interaction = { kind: 'propagate', direction, full: opts.full ?? false };
    if (opts.objIds) interaction.objIds = [...opts.objIds];
    if (opts.range) interaction.range = [range[0], range[1]];
    return this.serial(() =>
      this.record(interaction, async () => {
        const t0 = performance.now();
        const ids = opts.objIds ?? [...this.objs.keys()];
        for (const id of ids)
          if (!this.objs.has(id))
            throw new MedsamError(`object ${id} does not exist`, `objects: ${[...this.objs.keys()].join(', ') || 'none'}`);
        if (ids.length === 0) throw new MedsamError('there is nothing to propagate', 'add a prompt first');
        const ctl = new AbortController();
        const onAbort = () => ctl.abort();
        opts.signal?.addEventListener('abort', onAbort);
        if (opts.signal?.aborted) ctl.abort();
        this.running = ctl;
        // Objects on another view run across the whole of their own axis (a range is in the session axis's slices).
        const spanOf = (objId: number): [number, number] =>
          this.axisOf(objId) === this.axis ? [range[0], range[1]] : [0, this.shape(this.axisOf(objId)).count - 1];
        const total = ids.reduce((t, id) => t + spanOf(id)[1] - spanOf(id)[0] + 1, 0);
        let done = 0;
        try {
          const objects: PropagationSummary['objects'] = [];
          for (const objId of ids) {
            if (ctl.signal.aborted) throw new PropagationCancelled();
            const tracker = this.trackerOf(objId);
            const span = spanOf(objId);
            // Edits become that slice's mask prompt, so propagation starts from what the person drew.
            for (const slice of [...(this.edits.get(objId)?.keys() ?? [])]) await this.giveEdit(objId, slice);
            // What streams is what the Session shows: an edited slice keeps its literal mask.
            const edited = this.edits.get(objId);
            const onSlice =
              opts.onSlice && (edited ? (o: number, f: number, m: Uint8Array) => opts.onSlice!(o, f, edited.get(f) ?? m) : opts.onSlice);
            const before = onSlice ? new Map(tracker.masks(objId)) : undefined;
            const sent = new Map<number, Uint8Array>();
            const r = await tracker.propagate(objId, {
              range: span,
              direction,
              full: opts.full ?? false,
              signal: ctl.signal,
              onFrame: (frame, mask) => {
                opts.onProgress?.(Math.min(++done, total), total, objId);
                if (onSlice && mask) {
                  sent.set(frame, mask);
                  onSlice(objId, frame, mask);
                }
              },
            });
            // The committed state can differ from what was streamed (SAM1: slices past a new stop are
            // cleared; merging rules applied at commit): send each slice whose final value differs.
            if (onSlice && before) this.streamFinal(objId, before, sent, onSlice);
            objects.push({ objId, slicesRun: r.framesRun, stops: r.stops });
            const o = this.objs.get(objId)!;
            this.objs.set(objId, {
              ...o,
              propagated: o.propagated || (direction === 'both' && range[0] === 0 && range[1] === n - 1) || opts.full === true,
            });
          }
          if (ctl.signal.aborted) throw new PropagationCancelled();
          return { objects, slicesEncoded: this.slicesEncoded, seconds: (performance.now() - t0) / 1000 };
        } finally {
          opts.signal?.removeEventListener('abort', onAbort);
          this.running = undefined;
        }
      }),
    );
  }

  private streamFinal(
    objId: number,
    before: ReadonlyMap<number, Uint8Array>,
    sent: ReadonlyMap<number, Uint8Array>,
    onSlice: (objId: number, slice: number, mask: Uint8Array) => void,
  ): void {
    const after = this.trackerOf(objId).masks(objId);
    const frames = new Set(sent.keys());
    for (const f of new Set([...before.keys(), ...after.keys()])) if (before.get(f) !== after.get(f)) frames.add(f);
    const { rows, cols } = this.shape(this.axisOf(objId));
    for (const f of [...frames].sort((x, y) => x - y)) {
      const now = after.get(f);
      if (sameMask(now, sent.has(f) ? sent.get(f) : before.get(f))) continue;
      onSlice(objId, f, now ?? new Uint8Array(rows * cols));
    }
  }

  removeObject(objId: number): Promise<void> {
    return this.serial(() => {
      if (!this.objs.has(objId))
        throw new MedsamError(`object ${objId} does not exist`, `objects: ${[...this.objs.keys()].join(', ') || 'none'}`);
      return this.record({ kind: 'remove', objId }, async () => {
        this.trackerOf(objId).removeObject(objId);
        this.objs.delete(objId);
        this.edits = new Map(this.edits);
        this.edits.delete(objId);
        this.pending = new Set([...this.pending].filter((k) => !k.startsWith(`${objId}:`)));
      });
    });
  }

  /**
   * A literal edit of one object's mask on one slice: the new mask, or a brush/eraser stroke on
   * the current one (a new object id starts an object drawn by hand). No model runs; the history
   * records the resulting mask, so a replay is exact. Resolves to the slice's mask.
   */
  edit(objId: number, slice: number, e: MaskEdit, opts: { axis?: SliceAxis } = {}): Promise<SliceMask> {
    if (this.closed) return Promise.reject(new MedsamError('the session is closed', 'open a new session'));
    const axis = opts.axis ?? this.axis;
    if (axis !== this.axis && !this.volume)
      return Promise.reject(new MedsamError('video frames have one plane only', 'edit on the frame itself'));
    if (axis !== 0 && axis !== 1 && axis !== 2)
      return Promise.reject(new MedsamError(`axis ${String(axis)} is not 0, 1 or 2`, 'use 0, 1 or 2'));
    const { rows, cols, count } = this.shape(axis);
    if (!Number.isInteger(objId) || objId < 1 || objId > 255)
      return Promise.reject(new MedsamError(`object id ${objId} is not an integer 1..255`, 'give objId 1..255'));
    if (!Number.isInteger(slice) || slice < 0 || slice >= count)
      return Promise.reject(new MedsamError(`slice ${slice} is outside the stack (0..${count - 1})`, 'give a slice index along that axis'));
    if (e.mask && e.mask.length !== rows * cols)
      return Promise.reject(
        new MedsamError(`the edit's mask has ${e.mask.length} pixels, the slice ${rows}x${cols}`, 'send a rows x cols mask'),
      );
    if (e.stroke) {
      const st = e.stroke;
      const bad =
        !Array.isArray(st.points) ||
        st.points.length === 0 ||
        st.points.length > 10_000 ||
        !st.points.every((q) => Number.isFinite(q?.x) && Number.isFinite(q?.y)) ||
        !(st.radius >= 0 && st.radius <= 256) ||
        (st.mode !== 'paint' && st.mode !== 'erase');
      if (bad)
        return Promise.reject(
          new MedsamError('the brush stroke is not {points: [{x, y}, ...], radius 0..256, mode paint|erase}', 'send 1..10000 points'),
        );
    }
    return this.serial(() => {
      const own = this.objs.get(objId)?.axis ?? axis;
      // On the object's own axis the edit is one slice; on another view it is a plane of voxels,
      // written exactly into every slice of the object it crosses.
      const volume = own === axis ? undefined : this.objectVolume(objId, own);
      const current = volume ? extractSlice(volume, this.volume!.dims, axis, slice) : this.masksOf(objId).get(slice);
      const mask = e.mask ? Uint8Array.from(e.mask, (v) => (v ? 1 : 0)) : applyStroke(current, rows, cols, e.stroke!);
      const interaction: Interaction = { kind: 'edit', objId, slice, mask };
      if (axis !== this.axis) interaction.axis = axis;
      return this.record(interaction, async () => {
        const changed = new Map<number, Uint8Array>();
        if (!volume) changed.set(slice, mask);
        else {
          insertSlice(volume, this.volume!.dims, axis, slice, mask);
          const had = this.masksOf(objId);
          for (let k = 0; k < this.shape(own).count; k++) {
            const m = extractSlice(volume, this.volume!.dims, own, k);
            if (!sameMask(m, had.get(k))) changed.set(k, m);
          }
        }
        this.edits = new Map(this.edits);
        const mine = new Map(this.edits.get(objId));
        this.pending = new Set(this.pending);
        for (const [k, m] of changed) {
          mine.set(k, m);
          this.pending.add(`${objId}:${k}`);
          this.touch(objId, k, own);
        }
        this.edits.set(objId, mine);
        if (changed.size === 0 && !this.objs.has(objId)) this.touch(objId, slice, own);
        return sliceMask(objId, slice, mask);
      });
    });
  }

  /** One object's masks as a 0/1 volume (x fastest), from its slices along `axis`. */
  private objectVolume(objId: number, axis: SliceAxis): Uint8Array {
    const out = new Uint8Array(voxelCount(this.volume!));
    for (const [k, m] of this.masksOf(objId)) insertSlice(out, this.volume!.dims, axis, k, m);
    return out;
  }

  undo(): Promise<boolean> {
    return this.serial(async () => {
      const last = this.done.pop();
      if (!last) return false;
      const after = this.snapshot();
      this.restoreTo(last.before);
      this.undone.push({ ...last, after });
      return true;
    });
  }

  /** Redo the last undone interaction (its state comes back as it was); false when there is none. */
  redo(): Promise<boolean> {
    return this.serial(async () => {
      const next = this.undone.pop();
      if (!next) return false;
      this.restoreTo(next.after);
      this.done.push({ interaction: next.interaction, before: next.before });
      return true;
    });
  }

  history(): Interaction[] {
    return this.done.map((d) => d.interaction);
  }

  /** What redo() would bring back, in redo order (for fromHistory's `redo`). */
  redoable(): Interaction[] {
    return this.undone.map((d) => d.interaction).reverse();
  }

  mask(objId: number, slice: number): Uint8Array | undefined {
    return this.masksOf(objId).get(slice);
  }

  /** One object's masks by slice (only slices where it was reached). */
  objectMasks(objId: number): ReadonlyMap<number, Uint8Array> {
    return this.masksOf(objId);
  }

  labelMap(): Volume {
    return this.labelMapDetailed().mask;
  }

  /**
   * The label map on the input grid (objects in the order they were created, later ones win;
   * optionally each object's largest 3D component) and which slices each object occupies.
   */
  labelMapDetailed(): { mask: Volume; objects: { objId: number; slices: number }[]; slicesSegmented: number } {
    const { labels, objects, slicesSegmented } = buildLabelMap(this.labelMapParts());
    return { mask: labelMapVolume(labels, this.volume!), objects, slicesSegmented };
  }

  labelMapParts(): LabelMapParts {
    if (!this.volume) throw new MedsamError('labelMap() needs a volume session', 'use sliceLabels() for video');
    return {
      dims: [...this.volume.dims],
      largestComponent: this.largestComponent,
      objects: [...this.objs.keys()].map((objId) => ({
        objId,
        axis: this.axisOf(objId),
        masks: [...this.masksOf(objId)],
        literal: [...(this.edits.get(objId) ?? [])],
        keys: [...(this.objs.get(objId)?.keys ?? [])],
      })),
    };
  }

  sliceLabels(): Uint8Array[] {
    const px = this.rows * this.cols;
    const out = Array.from({ length: this.numSlices }, () => new Uint8Array(px));
    const ids = [...this.objs.keys()];
    if (this.tracker.overlap === 'highest-logit' && this.tracker.logits) {
      // Ascending ids, strictly higher logit wins (ties to the lower id, as upstream's argmax over objects).
      const best = new Map<number, Float32Array>();
      for (const objId of [...ids].sort((a, b) => a - b)) {
        for (let f = 0; f < this.numSlices; f++) {
          const l = this.tracker.logits(objId, f);
          if (!l) continue;
          let b = best.get(f);
          if (!b) best.set(f, (b = new Float32Array(px)));
          const lab = out[f]!;
          for (let i = 0; i < px; i++)
            if (l[i]! > b[i]!) {
              b[i] = l[i]!;
              lab[i] = objId;
            }
        }
      }
      // Manual edits are literal: they override the logit vote on their slices.
      for (const [objId, bySlice] of this.edits)
        for (const [f, m] of bySlice) {
          const lab = out[f]!;
          for (let i = 0; i < px; i++)
            if (m[i]) lab[i] = objId;
            else if (lab[i] === objId) lab[i] = 0;
        }
      return out;
    }
    const order = this.tracker.overlap === 'lower-id-wins' ? [...ids].sort((a, b) => b - a) : ids;
    for (const objId of order) {
      for (const [f, m] of this.masksOf(objId)) {
        const lab = out[f]!;
        for (let i = 0; i < px; i++) if (m[i]) lab[i] = objId;
      }
    }
    return out;
  }

  cancel(): void {
    this.running?.abort();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.cancel();
    this.closed = true;
    await this.chain;
    for (const t of this.trackers.values()) t.tracker.dispose();
    this.lease.release();
    await this.ownPool?.drain();
  }

  // ----------------------------------------------------------------------------------------------

  private checkPrompt(objId: number, slice: number, prompt: SlicePrompt, axis: SliceAxis = this.axis): SlicePrompt {
    if (this.closed) throw new MedsamError('the session is closed', 'open a new session');
    if (axis !== 0 && axis !== 1 && axis !== 2) throw new MedsamError(`axis ${String(axis)} is not 0, 1 or 2`, 'use 0, 1 or 2');
    if (axis !== this.axis && !this.volume) throw new MedsamError('video frames have one plane only', 'prompt on the frame itself');
    const sh = this.shape(axis);
    const [v] = validatePrompts([{ objId, slice, box: prompt?.box, points: prompt?.points, mask: prompt?.mask, recist: prompt?.recist }], {
      width: sh.cols,
      height: sh.rows,
      count: sh.count,
    });
    const p: SlicePrompt = {};
    this.checkFamily?.(prompt, `object ${objId}, slice ${slice}`);
    if (v!.box) p.box = [...v!.box];
    if (v!.points?.length) p.points = v!.points.map((q) => ({ x: q.x, y: q.y, label: q.label }));
    if (v!.mask) p.mask = Uint8Array.from(v!.mask);
    if (v!.recist) p.recist = [...v!.recist];
    return p;
  }

  /** The object's masks as shown: the tracker's, with manual edits laid over them. */
  private masksOf(objId: number): ReadonlyMap<number, Uint8Array> {
    const base = this.trackerOf(objId).masks(objId);
    const edited = this.edits.get(objId);
    if (!edited) return base;
    const out = new Map(base);
    for (const [f, m] of edited) {
      if (m.some((v) => v !== 0)) out.set(f, m);
      else out.delete(f);
    }
    return out;
  }

  /** Hands a pending edit to the tracker as that slice's mask prompt (before the model works near it). */
  private async giveEdit(objId: number, slice: number): Promise<void> {
    const k = `${objId}:${slice}`;
    if (!this.pending.has(k)) return;
    const mask = this.edits.get(objId)!.get(slice)!;
    const tracker = this.trackerOf(objId);
    const reached = tracker.masks(objId).has(slice);
    await tracker.prompt(objId, slice, { mask }, { replace: true, correction: reached });
    this.pending = new Set(this.pending);
    this.pending.delete(k);
  }

  /** A prompt on an edited slice hands that slice back to the model. */
  private dropEdit(objId: number, slice: number): void {
    if (!this.edits.get(objId)?.has(slice)) return;
    this.edits = new Map(this.edits);
    const m = new Map(this.edits.get(objId));
    m.delete(slice);
    if (m.size) this.edits.set(objId, m);
    else this.edits.delete(objId);
  }

  private snapshot(): Snapshot {
    const trackers = new Map<SliceAxis, unknown>();
    for (const [a, t] of this.trackers) trackers.set(a, t.tracker.snapshot());
    return { trackers, objects: new Map(this.objs), edits: this.edits, pending: this.pending };
  }

  private restoreTo(s: Snapshot): void {
    // A tracker started after the snapshot goes back to its empty state.
    for (const [a, t] of this.trackers) t.tracker.restore(s.trackers.has(a) ? s.trackers.get(a) : t.empty);
    this.objs = new Map(s.objects);
    this.edits = s.edits;
    this.pending = s.pending;
  }

  private touch(objId: number, slice: number, axis: SliceAxis = this.axisOf(objId)): void {
    const o = this.objs.get(objId);
    this.objs.set(objId, { keys: new Set([...(o?.keys ?? []), slice]), propagated: false, axis: o?.axis ?? axis });
  }

  /** One call at a time, in call order (a server may fire requests concurrently). */
  private serial<T>(fn: () => Promise<T> | T): Promise<T> {
    const r = this.chain.then(() => {
      if (this.closed) throw new MedsamError('the session is closed', 'open a new session');
      return fn();
    });
    this.chain = r.catch(() => undefined);
    return r;
  }

  /**
   * Runs an interaction; on success it joins the history (and the redo stack is cleared), on
   * failure the state before it is put back.
   */
  private async record<T>(interaction: Interaction, fn: () => Promise<T>): Promise<T> {
    const before = this.snapshot();
    try {
      const r = await fn();
      this.done.push({ interaction, before });
      this.undone.length = 0;
      return r;
    } catch (e) {
      this.restoreTo(before);
      throw e;
    }
  }
}

function sliceMask(objId: number, slice: number, mask: Uint8Array): SliceMask {
  let area = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) area++;
  return { objId, slice, mask, area };
}

const VIEW_NAME: Record<SliceAxis, string> = { 0: 'sagittal', 1: 'coronal', 2: 'axial' };

/** Binary masks equal by content; absent (undefined) equals all zero. */
function sameMask(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === b) return true;
  const n = a?.length ?? b?.length ?? 0;
  for (let i = 0; i < n; i++) if ((a ? a[i]! !== 0 : false) !== (b ? b[i]! !== 0 : false)) return false;
  return true;
}
