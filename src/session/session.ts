import { randomUUID } from 'node:crypto';
import { MedsamError } from '../common/errors.js';
import { PropagationCancelled } from '../families/cancelled.js';
import type { FamilyTracker, SlicePrompt } from '../families/family.js';
import { videoStack, volumeStack } from '../families/frameStack.js';
import { familyFor } from '../families/registry.js';
import { voxelCount, type Volume } from '../io/volume.js';
import { resolveModel } from '../models/registry.js';
import type { SliceAxis } from '../preprocess/slices.js';
import { validatePrompts } from '../predictor/prompts.js';
import { applyStroke, type BrushStroke } from './brushStroke.js';
import { addObjectToLabelMap, labelMapVolume } from './labelMap.js';
import { ModelPool } from './modelPool.js';
import type {
  Interaction,
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
}

interface Snapshot {
  tracker: unknown;
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
  ) {}

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
      const tracker = lease.model.startTracker(stack, { ...opts.family, featureBudgetMiB: opts.featureBudgetMiB });
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
        return this.addPrompt(i.objId, i.slice, i.prompt, { replace: i.replace });
      case 'correct':
        return this.correct(i.objId, i.slice, i.prompt);
      case 'propagate':
        return this.propagate({ objIds: i.objIds, range: i.range, direction: i.direction, full: i.full });
      case 'remove':
        return this.removeObject(i.objId);
      case 'edit':
        return this.edit(i.objId, i.slice, { mask: i.mask });
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
      slices: [...this.masksOf(objId)]
        .filter(([, m]) => m.some((v) => v !== 0))
        .map(([k]) => k)
        .sort((a, b) => a - b),
      propagated: o.propagated,
    }));
  }

  /** Distinct slices encoded so far (each slice at most once while the feature budget holds). */
  get slicesEncoded(): number {
    return this.tracker.framesEncoded;
  }

  async addPrompt(objId: number, slice: number, prompt: SlicePrompt, opts: { replace?: boolean } = {}): Promise<SliceMask> {
    const replace = opts.replace ?? false;
    const p = this.checkPrompt(objId, slice, prompt);
    return this.serial(() =>
      this.record({ kind: 'prompt', objId, slice, prompt: p, replace }, async () => {
        await this.giveEdit(objId, slice);
        const mask = await this.tracker.prompt(objId, slice, p, { replace, correction: false });
        this.dropEdit(objId, slice);
        this.touch(objId, slice);
        return sliceMask(objId, slice, mask);
      }),
    );
  }

  async correct(objId: number, slice: number, prompt: SlicePrompt): Promise<SliceMask> {
    const p = this.checkPrompt(objId, slice, prompt);
    return this.serial(() => {
      if (!this.objs.has(objId))
        throw new MedsamError(
          `object ${objId} does not exist`,
          `add a prompt for it first (objects: ${[...this.objs.keys()].join(', ') || 'none'})`,
        );
      return this.record({ kind: 'correct', objId, slice, prompt: p }, async () => {
        await this.giveEdit(objId, slice);
        const mask = await this.tracker.prompt(objId, slice, p, { replace: false, correction: true });
        this.dropEdit(objId, slice);
        this.touch(objId, slice);
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
        const total = ids.length * (range[1] - range[0] + 1);
        let done = 0;
        try {
          const objects: PropagationSummary['objects'] = [];
          for (const objId of ids) {
            if (ctl.signal.aborted) throw new PropagationCancelled();
            // Edits become that slice's mask prompt, so propagation starts from what the person drew.
            for (const slice of [...(this.edits.get(objId)?.keys() ?? [])]) await this.giveEdit(objId, slice);
            // What streams is what the Session shows: an edited slice keeps its literal mask.
            const edited = this.edits.get(objId);
            const onSlice =
              opts.onSlice && (edited ? (o: number, f: number, m: Uint8Array) => opts.onSlice!(o, f, edited.get(f) ?? m) : opts.onSlice);
            const before = onSlice ? new Map(this.tracker.masks(objId)) : undefined;
            const sent = new Map<number, Uint8Array>();
            const r = await this.tracker.propagate(objId, {
              range: [range[0], range[1]],
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
          return { objects, slicesEncoded: this.tracker.framesEncoded, seconds: (performance.now() - t0) / 1000 };
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
    const after = this.tracker.masks(objId);
    const frames = new Set(sent.keys());
    for (const f of new Set([...before.keys(), ...after.keys()])) if (before.get(f) !== after.get(f)) frames.add(f);
    for (const f of [...frames].sort((x, y) => x - y)) {
      const now = after.get(f);
      if (sameMask(now, sent.has(f) ? sent.get(f) : before.get(f))) continue;
      onSlice(objId, f, now ?? new Uint8Array(this.rows * this.cols));
    }
  }

  removeObject(objId: number): Promise<void> {
    return this.serial(() => {
      if (!this.objs.has(objId))
        throw new MedsamError(`object ${objId} does not exist`, `objects: ${[...this.objs.keys()].join(', ') || 'none'}`);
      return this.record({ kind: 'remove', objId }, async () => {
        this.tracker.removeObject(objId);
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
  edit(objId: number, slice: number, e: MaskEdit): Promise<SliceMask> {
    if (this.closed) return Promise.reject(new MedsamError('the session is closed', 'open a new session'));
    if (!Number.isInteger(objId) || objId < 1 || objId > 255)
      return Promise.reject(new MedsamError(`object id ${objId} is not an integer 1..255`, 'give objId 1..255'));
    if (!Number.isInteger(slice) || slice < 0 || slice >= this.numSlices)
      return Promise.reject(
        new MedsamError(`slice ${slice} is outside the stack (0..${this.numSlices - 1})`, 'give a slice index along the session axis'),
      );
    const px = this.rows * this.cols;
    if (e.mask && e.mask.length !== px)
      return Promise.reject(
        new MedsamError(`the edit's mask has ${e.mask.length} pixels, the slice ${this.rows}x${this.cols}`, 'send a rows x cols mask'),
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
      const current = this.masksOf(objId).get(slice);
      const mask = e.mask ? Uint8Array.from(e.mask, (v) => (v ? 1 : 0)) : applyStroke(current, this.rows, this.cols, e.stroke!);
      return this.record({ kind: 'edit', objId, slice, mask }, async () => {
        this.edits = new Map(this.edits);
        this.edits.set(objId, new Map(this.edits.get(objId)).set(slice, mask));
        this.pending = new Set(this.pending).add(`${objId}:${slice}`);
        this.touch(objId, slice);
        return sliceMask(objId, slice, mask);
      });
    });
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
    if (!this.volume) throw new MedsamError('labelMap() needs a volume session', 'use sliceLabels() for video');
    const labels = new Uint8Array(voxelCount(this.volume));
    const touched = new Set<number>();
    const objects: { objId: number; slices: number }[] = [];
    for (const objId of this.objs.keys()) {
      const occupied = addObjectToLabelMap(
        labels,
        this.volume,
        this.axis,
        objId,
        this.masksOf(objId),
        this.largestComponent,
        this.edits.get(objId),
      );
      occupied.forEach((k) => touched.add(k));
      objects.push({ objId, slices: occupied.length });
    }
    return { mask: labelMapVolume(labels, this.volume), objects, slicesSegmented: touched.size };
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
    this.tracker.dispose();
    this.lease.release();
    await this.ownPool?.drain();
  }

  // ----------------------------------------------------------------------------------------------

  private checkPrompt(objId: number, slice: number, prompt: SlicePrompt): SlicePrompt {
    if (this.closed) throw new MedsamError('the session is closed', 'open a new session');
    const [v] = validatePrompts([{ objId, slice, box: prompt?.box, points: prompt?.points, mask: prompt?.mask, recist: prompt?.recist }], {
      width: this.cols,
      height: this.rows,
      count: this.numSlices,
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
    const base = this.tracker.masks(objId);
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
    const reached = this.tracker.masks(objId).has(slice);
    await this.tracker.prompt(objId, slice, { mask }, { replace: true, correction: reached });
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
    return { tracker: this.tracker.snapshot(), objects: new Map(this.objs), edits: this.edits, pending: this.pending };
  }

  private restoreTo(s: Snapshot): void {
    this.tracker.restore(s.tracker);
    this.objs = new Map(s.objects);
    this.edits = s.edits;
    this.pending = s.pending;
  }

  private touch(objId: number, slice: number): void {
    const o = this.objs.get(objId);
    this.objs.set(objId, { keys: new Set([...(o?.keys ?? []), slice]), propagated: false });
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

/** Binary masks equal by content; absent (undefined) equals all zero. */
function sameMask(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === b) return true;
  const n = a?.length ?? b!.length;
  for (let i = 0; i < n; i++) if ((a ? a[i]! !== 0 : false) !== (b ? b[i]! !== 0 : false)) return false;
  return true;
}
