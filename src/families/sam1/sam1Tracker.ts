import { MedsamError } from '../../common/errors.js';
import type { Sam1Engine } from '../../engine/sam1Engine.js';
import { SliceEmbeddings } from '../../predictor/sam1/embeddingCache.js';
import {
  type ClickSide,
  clickOnBothSides,
  propagateObject,
  type Sam1Decoder,
  type Sam1PropagationOptions,
  type StopReason,
} from '../../predictor/sam1Propagator.js';
import type { VolumePrompt } from '../../predictor/prompts.js';
import { keyWithClicks } from '../../predictor/sam1/correction.js';
import type {
  FamilyTracker,
  FrameStack,
  KeyStop,
  KeyStopReason,
  SlicePrompt,
  TrackerOptions,
  TrackerPropagateArgs,
  TrackerPropagation,
} from '../family.js';
import { PropagationCancelled } from '../cancelled.js';
import { CancelGate } from '../cancelGate.js';
import { SliceWindow } from './sliceWindow.js';

/**
 * Video defaults on top of the volume method: one tight box (no inset averaging). The volume
 * policy averages inset boxes because cross-sections shrink away from the key slice; a tracked
 * object in video keeps its size from frame to frame, and the insets shrink it every step
 * (measured on a sliding-window Kvasir clip, 7 frames, box on the middle one: mean DSC 0.48 with
 * insets [0, 0.1, 0.2], 0.88 with [0]; a second picture 0.74 vs 0.76). The volumes' refinement of
 * each propagated slice (refineSteps) was measured on volumes only, so videos keep the unrefined masks.
 */
export const VIDEO_PROPAGATION_DEFAULTS: Omit<Sam1PropagationOptions, 'onSlice'> = { boxInsets: [0], refineSteps: 0 };

/** Bytes of one SAM1 embedding at 1024 px ([1,256,64,64] float32). */
const EMBEDDING_BYTES = 256 * 64 * 64 * 4;

interface ObjectState {
  /** Key prompts by slice (the propagator's keys; corrections become keys too). */
  keys: Map<number, SlicePrompt>;
  masks: Map<number, Uint8Array>;
  /** Keys whose region has not been propagated since they last changed. */
  dirty: Set<number>;
  /** Corrected keys: the mask each was refined from (the propagator's priorMasks), by slice. */
  priors: Map<number, Uint8Array>;
  /** The user's first prompted slice: it keeps describing the object through corrections (mainKey). */
  main?: number;
  /**
   * Corrections whose outward trim is not in the masks yet (the propagator's newClicks), by slice,
   * with the sides not propagated since: every click made before a Propagate counts as new, and a
   * forward run leaves the side below its click new for a backward one.
   */
  newClicks: ReadonlyMap<number, ReadonlySet<ClickSide>>;
}

class Cancelled extends Error {}

/**
 * What is left of newClicks after runs over these windows: a click's trim is in the masks on a side
 * once a window reached past it there (or that side is the stack's end), and later runs treat its
 * key there as an older one.
 */
function carriedClicks(
  newClicks: ReadonlyMap<number, ReadonlySet<ClickSide>>,
  windows: readonly { lo: number; hi: number }[],
  numFrames: number,
): ReadonlyMap<number, ReadonlySet<ClickSide>> {
  const left = new Map<number, ReadonlySet<ClickSide>>();
  for (const [f, sides] of newClicks) {
    const rest = new Set(sides);
    for (const w of windows) {
      if (f < w.lo || f > w.hi) continue;
      if (w.lo < f || f === 0) rest.delete('down');
      if (w.hi > f || f === numFrames - 1) rest.delete('up');
    }
    if (rest.size) left.set(f, rest);
  }
  return left;
}

/**
 * SAM1-style session state: each object is a set of key slices carried through the stack by the
 * propagator (src/predictor/sam1Propagator.ts, a black box here). A new or changed key affects only
 * the slices between its neighbouring keys, so propagate() runs the propagator over just those spans
 * (SliceWindow), with the neighbours as the window's edges; embeddings are computed once per slice
 * for the whole session.
 */
export class Sam1Tracker implements FamilyTracker {
  readonly overlap;
  private readonly slices: SliceEmbeddings;
  private readonly propagation: Omit<Sam1PropagationOptions, 'onSlice'>;
  private objects = new Map<number, ObjectState>();
  /** Decodes prompts: the engine, or the same decoder elsewhere (TrackerOptions.sam1PromptDecoder). */
  private readonly promptDecoder: Sam1Decoder;
  /** A propagation's cancel takes effect before its next encode or decode, not only between slices. */
  private readonly gate = new CancelGate();
  /** The engine's decoder behind the gate (what propagate() runs). */
  private readonly decoder: Sam1Decoder;

  constructor(
    engine: Sam1Engine,
    private readonly stack: FrameStack,
    opts: TrackerOptions,
  ) {
    const rgb = stack.channels === 3;
    const raw = {
      entry: engine.entry,
      precision: engine.precision,
      rgb,
      encode: (pixels: Uint8Array, h: number, w: number) => (rgb ? engine.encodeRgb(pixels, h, w) : engine.encode(pixels, h, w)),
    };
    const encoder = opts.sam1Encoder ? opts.sam1Encoder(raw) : raw;
    this.decoder = { decode: this.gate.wrap(engine.decode.bind(engine)) };
    const capacity = Math.max(1, Math.floor(((opts.featureBudgetMiB ?? 1024) * 2 ** 20) / EMBEDDING_BYTES));
    // Crop embeddings (zoomed decoding, opt-in) are as large: a quarter of the budget again at most.
    const crops = Math.max(1, Math.floor(capacity / 4));
    this.slices = new SliceEmbeddings(encoder, (k) => stack.frame(k), stack.cols, stack.rows, stack.numFrames, capacity, undefined, crops);
    const promptDecoder = opts.sam1PromptDecoder ?? engine;
    this.promptDecoder = { decode: this.gate.wrap(promptDecoder.decode.bind(promptDecoder)) };
    this.propagation = stack.kind === 'video' ? { ...VIDEO_PROPAGATION_DEFAULTS, ...opts.sam1 } : { ...opts.sam1 };
    // Volumes: objects in prompt order, later ones win (segmentVolume); video: lower ids win (medsam2_infer_video.py).
    this.overlap = stack.kind === 'video' ? ('lower-id-wins' as const) : ('later-object-wins' as const);
  }

  get framesEncoded(): number {
    return this.slices.encoded;
  }

  private object(objId: number): ObjectState {
    let o = this.objects.get(objId);
    if (!o) this.objects.set(objId, (o = { keys: new Map(), masks: new Map(), dirty: new Set(), priors: new Map(), newClicks: new Map() }));
    return o;
  }

  prompt(
    objId: number,
    frame: number,
    p: SlicePrompt,
    opts: { replace: boolean; correction: boolean; signal?: AbortSignal },
  ): Promise<Uint8Array> {
    // Behind the gate like propagate(): the key slice's encode and each decode check the signal first.
    return this.gate.during(opts.signal, () => this.promptNow(objId, frame, p, opts));
  }

  private async promptNow(
    objId: number,
    frame: number,
    p: SlicePrompt,
    opts: { replace: boolean; correction: boolean },
  ): Promise<Uint8Array> {
    const prev = this.objects.get(objId);
    const old = prev?.keys.get(frame);
    const clicksOnly = !p.mask && !p.box && !p.recist;
    let key: SlicePrompt;
    let prior: Uint8Array | undefined;
    let correction = false;
    if (p.mask) {
      key = { mask: p.mask };
    } else if (clicksOnly && !opts.replace && (opts.correction || old?.mask || prev?.priors.has(frame))) {
      // A correction (clicks on a propagated slice, a key or a mask key): the correction path that
      // simulated clicks measure (keyWithClicks) — the slice's box there (or the nearest slice's),
      // the clicks, and SAM's iterative refinement of the mask the slice has now. A slice already
      // corrected (it has a prior) stays on that path: the next click there refines the mask shown,
      // instead of re-decoding the key without it (a negative click then grew the mask).

      correction = true;
      ({ key, prior } = keyWithClicks(old, p.points ?? [], frame, prev?.masks ?? new Map(), this.stack.cols, this.stack.rows));
    } else if (old && !opts.replace && !old.mask) {
      // More clicks (or a new box) on a key slice before it is corrected refine that key.
      key = {
        ...old,
        ...(p.box ? { box: p.box } : {}),
        ...(p.recist ? { recist: p.recist } : {}),
        points: [...(old.points ?? []), ...(p.points ?? [])],
      };
    } else {
      key = { ...p };
    }
    // The key mask exactly as propagation will produce it: the propagator run over this one slice.
    const res = await propagateObject(
      this.promptDecoder,
      new SliceWindow(this.slices, frame, 1, this.gate),
      [asVolumePrompt(objId, 0, key)],
      {
        ...this.propagation,
        ...(prior ? { priorMasks: new Map([[0, prior]]) } : {}),
        // The user's own key is the main key here too, as propagate() will tell the propagator: the
        // rules that treat it apart (a negative click's box kept, its collapse floor) must agree.
        ...(prev?.main === frame ? { mainKey: 0 } : {}),
      },
    );
    const mask = res.masks.get(0) ?? new Uint8Array(this.stack.rows * this.stack.cols);
    const o = this.cloneObject(objId);
    o.keys.set(frame, key);
    o.masks.set(frame, mask);
    o.dirty.add(frame);
    // A prompt refined without a prior (a new box, a mask, clicks before any correction) drops it.
    if (prior) o.priors.set(frame, prior);
    else o.priors.delete(frame);
    // As correctObject's newClicks: this click's trim is not in the masks beyond its slice yet.
    if (correction) o.newClicks = new Map([...o.newClicks, ...clickOnBothSides(frame)]);
    if (o.main === undefined && !opts.correction && !p.mask) o.main = frame;
    return mask;
  }

  /** Copy-on-write: snapshots keep the previous maps. */
  private cloneObject(objId: number): ObjectState {
    const o = this.object(objId);
    const c: ObjectState = {
      keys: new Map(o.keys),
      masks: new Map(o.masks),
      dirty: new Set(o.dirty),
      priors: new Map(o.priors),
      main: o.main,
      newClicks: o.newClicks,
    };
    this.objects.set(objId, c);
    return c;
  }

  async propagate(objId: number, a: TrackerPropagateArgs): Promise<TrackerPropagation> {
    const o = this.objects.get(objId);
    if (!o || o.keys.size === 0) throw new MedsamError(`object ${objId} has no prompt`, 'add a prompt for it first');
    const n = this.stack.numFrames;
    const keys = [...o.keys.keys()].sort((x, y) => x - y);
    const [r0, r1] = a.range;
    // What a key affects: the slices up to its neighbouring keys (or the volume's ends); the
    // propagator decides how two neighbouring keys share the slices between them. So each
    // affected span runs the propagator with the keys inside it, the neighbours at its edges.
    const spans: [number, number][] = [];
    if (a.full) {
      spans.push([r0, r1]);
    } else {
      for (const [i, k] of keys.entries()) {
        if (!o.dirty.has(k)) continue;
        const lo = i > 0 ? keys[i - 1]! : 0,
          hi = i < keys.length - 1 ? keys[i + 1]! : n - 1;
        const last = spans[spans.length - 1];
        if (last && lo <= last[1]) last[1] = Math.max(last[1], hi);
        else spans.push([lo, hi]);
      }
    }
    const results: { lo: number; hi: number; masks: Map<number, Uint8Array>; keys: number[] }[] = [];
    const stops: KeyStop[] = [];
    let framesRun = 0;
    for (const [slo, shi] of spans) {
      const inSpan = keys.filter((k) => k >= Math.max(slo, r0) && k <= Math.min(shi, r1));
      if (inSpan.length === 0) continue;
      const wlo = a.direction === 'forward' ? inSpan[0]! : Math.max(slo, r0);
      const whi = a.direction === 'backward' ? inSpan[inSpan.length - 1]! : Math.min(shi, r1);
      // Embeddings through the gate too: a cancel waits for no encode (SliceWindow).
      const window = new SliceWindow(this.slices, wlo, whi - wlo + 1, this.gate);
      // Corrected keys are re-decoded as they were answered (refined from their prior masks), and
      // the user's first key keeps describing the object, as in the simulated-click path (correctObject).
      const priorMasks = new Map<number, Uint8Array>();
      for (const [f, m] of o.priors) if (f >= wlo && f <= whi) priorMasks.set(f - wlo, m);
      // What the object was before this run: a positive click's carry keeps it beyond where it stops.
      const previousMasks = new Map<number, Uint8Array>();
      for (const [f, m] of o.masks) if (f >= wlo && f <= whi) previousMasks.set(f - wlo, m);
      const newClicks = new Map<number, ReadonlySet<ClickSide>>();
      for (const [f, sides] of o.newClicks) if (f >= wlo && f <= whi) newClicks.set(f - wlo, sides);
      const res = await this.gate
        .during(a.signal, () =>
          propagateObject(
            this.decoder,
            window,
            inSpan.map((k) => asVolumePrompt(objId, k - wlo, o.keys.get(k)!)),
            {
              ...this.propagation,
              ...(priorMasks.size ? { priorMasks } : {}),
              previousMasks,
              ...(o.main !== undefined && o.main >= wlo && o.main <= whi ? { mainKey: o.main - wlo } : {}),
              ...(newClicks.size ? { newClicks } : {}),
              onSlice: (j, mask) => {
                // Throwing from the callback unwinds the propagator; nothing has been committed yet.
                if (a.signal?.aborted) throw new Cancelled();
                framesRun++;
                a.onFrame?.(wlo + j, mask ?? new Uint8Array(this.stack.rows * this.stack.cols));
              },
            },
          ),
        )
        .catch((e: unknown) => {
          if (e instanceof Cancelled) throw new PropagationCancelled();
          throw e;
        });
      const masks = new Map<number, Uint8Array>();
      for (const [j, m] of res.masks) masks.set(wlo + j, m);
      // A window edge that is not the volume's end is a neighbouring key, or the range's limit.
      const edge = (reason: StopReason, end: number, volumeEnd: number): KeyStopReason => {
        if (reason !== 'volume-end' || end === volumeEnd) return reason;
        return o.keys.has(end) ? 'next-key' : 'limit';
      };
      for (const st of res.stops) {
        // A neighbouring key at the window's edge was only re-run on its inner side.
        const k = wlo + st.key;
        stops.push({
          key: k,
          down: a.direction === 'forward' || (k === wlo && k > 0) ? 'not-run' : edge(st.down, wlo, 0),
          up: a.direction === 'backward' || (k === whi && k < n - 1) ? 'not-run' : edge(st.up, whi, n - 1),
          intensityModel: st.intensityModel,
          separability: st.separability,
        });
      }
      const clean = a.direction === 'both' && wlo === slo && whi === shi;
      results.push({ lo: wlo, hi: whi, masks, keys: clean ? inSpan : [] });
    }
    if (a.signal?.aborted) throw new PropagationCancelled();
    // Commit all spans at once, so a cancelled or failed run leaves the object as it was.
    const c = this.cloneObject(objId);
    for (const r of results) {
      for (let f = r.lo; f <= r.hi; f++) c.masks.delete(f);
      for (const [f, m] of r.masks) c.masks.set(f, m);
      for (const k of r.keys) c.dirty.delete(k);
    }
    c.newClicks = carriedClicks(c.newClicks, results, n);
    return { framesRun, stops };
  }

  removeObject(objId: number): void {
    this.objects.delete(objId);
  }

  masks(objId: number): ReadonlyMap<number, Uint8Array> {
    return this.objects.get(objId)?.masks ?? new Map();
  }

  snapshot(): unknown {
    return new Map(this.objects);
  }

  restore(snapshot: unknown): void {
    this.objects = new Map(snapshot as Map<number, ObjectState>);
  }

  dispose(): void {
    this.objects.clear();
  }
}

function asVolumePrompt(objId: number, slice: number, p: SlicePrompt): VolumePrompt {
  return { objId, slice, box: p.box, points: p.points, mask: p.mask, recist: p.recist };
}
