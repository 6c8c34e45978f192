import { MedsamError } from '../../common/errors.js';
import type { Sam2Engine } from '../../engine/sam2/sam2Engine.js';
import type { Sam2Modules } from '../../engine/sam2/types.js';
import type { Sam2CompiledModel } from '../../models/sam2/compile.js';
import { recistToBox } from '../../predictor/prompts.js';
import type { FeatureCache } from '../../predictor/sam2/featureCache.js';
import type { Sam2FrameSource, Sam2InferenceState } from '../../predictor/sam2/inferenceState.js';
import { Sam2VideoPredictor } from '../../predictor/sam2/videoPredictor.js';
import { PropagationCancelled } from '../cancelled.js';
import { CancelGate } from '../cancelGate.js';
import type {
  Direction,
  FamilyTracker,
  FrameStack,
  KeyStop,
  OverlapRule,
  SlicePrompt,
  TrackerOptions,
  TrackerPropagateArgs,
  TrackerPropagation,
} from '../family.js';
import { stackFrameSource } from './frameSources.js';
import { featureCacheFrames } from './openModel.js';

/**
 * SAM2 / MedSAM2 session state over the video predictor. Each object is tracked in two inference
 * states, as MedSAM2 does: a forward pass from its first key and a reverse pass from its last key
 * (volumes: the passes are OR-ed; video, medsam2_infer_video.py's recipe: both start at the first
 * prompted frame, each frame taken from the pass that reaches it, objects merged by highest logit).
 * A correction adds clicks (or a mask) on a tracked frame in both states and the next propagate()
 * re-propagates from that frame in both directions, as upstream's interactive demo does; frames
 * beyond it take the re-propagated pass. Inference states are not copyable, so undo and cancel
 * restore the outputs and rebuild the states lazily by replaying the object's operation log.
 */

type Op =
  | { kind: 'passes'; range: [number, number]; direction: Direction }
  | { kind: 'correct'; frame: number; prompt: SlicePrompt; replace: boolean }
  | { kind: 'repropagate'; frame: number; range: [number, number] };

interface ObjectState {
  /** Prompts before tracking, merged per frame, in the order they were given. */
  prompts: Map<number, SlicePrompt>;
  fwd?: Sam2InferenceState;
  rev?: Sam2InferenceState;
  /** false: fwd/rev must be rebuilt from `log` before they are used. */
  statesValid: boolean;
  /** Operations since the first propagation (copied on write, so snapshots can compare by reference). */
  log: readonly Op[];
  fwdOut: Map<number, Float32Array>;
  revOut: Map<number, Float32Array>;
  /** Outputs of prompts before tracking. */
  preview: Map<number, Float32Array>;
  /** Corrected frames not yet re-propagated. */
  pending: readonly number[];
  masks: Map<number, Uint8Array>;
}

export class Sam2Tracker implements FamilyTracker {
  readonly overlap: OverlapRule;
  private readonly predictor: Sam2VideoPredictor;
  private readonly frames: Sam2FrameSource;
  private readonly video: boolean;
  private readonly keySliceMask: boolean;
  private features: FeatureCache | undefined;
  private objects = new Map<number, ObjectState>();
  /** A propagation's cancel takes effect before the frame's next module call (encoder, memory attention, heads, memory encoder). */
  private readonly gate = new CancelGate();

  constructor(
    model: Sam2CompiledModel,
    engine: Sam2Engine,
    private readonly stack: FrameStack,
    opts: TrackerOptions,
  ) {
    this.video = stack.kind === 'video';
    // Video: build_sam2_video_predictor without post-processing (medsam2_infer_video.py): no hole
    // filling, no binarised point masks for the memory encoder. Volumes: the MedSAM2 3D builder.
    const cfg = this.video ? { ...model.configs.predictor, binarizeMaskFromPtsForMemEnc: false } : model.configs.predictor;
    this.predictor = new Sam2VideoPredictor(gatedModules(engine, this.gate), cfg, {
      fillHoleArea: this.video ? 0 : (opts.sam2?.fillHoleArea ?? 8),
      memory: opts.sam2?.memory,
      featureCacheFrames: featureCacheFrames(model, stack.numFrames, opts.featureBudgetMiB),
      // A cancel stops the wait for a frame's encode, not the encode: its features stay cached (in
      // the feature budget) for the next propagate, as SAM1's slice embeddings do.
      featureWait: (run) => this.gate.wrap(run)(),
      onWarning: opts.sam2?.onWarning,
    });
    this.frames = stackFrameSource(stack, cfg.imageSize);
    this.keySliceMask = !this.video && opts.sam2?.keySlice === 'mask';
    this.overlap = this.video ? 'highest-logit' : 'later-object-wins';
  }

  get framesEncoded(): number {
    return this.features?.encodeCount ?? 0;
  }

  private async newState(): Promise<Sam2InferenceState> {
    const s = await this.predictor.initState(this.frames, this.stack.rows, this.stack.cols);
    this.features ??= s.features;
    return s;
  }

  private object(objId: number): ObjectState {
    let o = this.objects.get(objId);
    if (!o) {
      o = {
        prompts: new Map(),
        statesValid: true,
        log: [],
        fwdOut: new Map(),
        revOut: new Map(),
        preview: new Map(),
        pending: [],
        masks: new Map(),
      };
      this.objects.set(objId, o);
    }
    return o;
  }

  /** The predictor call for one prompt; returns the object's video-resolution logits on that frame. */
  private async add(
    state: Sam2InferenceState,
    objId: number,
    frame: number,
    p: SlicePrompt,
    clearOldPoints: boolean,
  ): Promise<Float32Array> {
    if (p.mask) {
      const r = await this.predictor.addNewMask(state, {
        frameIdx: frame,
        objId,
        mask: p.mask,
        height: state.videoHeight,
        width: state.videoWidth,
      });
      return r.videoResMasks[0]!;
    }
    // RECIST → MedSAM2's square box (get_diameter_bbox, shift 0) unless a box is given too.
    const box = p.box ?? (p.recist ? recistToBox(p.recist, state.videoWidth, state.videoHeight) : undefined);
    const pts = p.points ?? [];
    const r = await this.predictor.addNewPointsOrBox(state, {
      frameIdx: frame,
      objId,
      box: box ?? null,
      points: pts.length ? pts.map((q) => [q.x, q.y]) : null,
      labels: pts.length ? pts.map((q) => q.label) : null,
      clearOldPoints: clearOldPoints || box !== undefined,
    });
    return r.videoResMasks[0]!;
  }

  prompt(
    objId: number,
    frame: number,
    p: SlicePrompt,
    opts: { replace: boolean; correction: boolean; signal?: AbortSignal },
  ): Promise<Uint8Array> {
    // Behind the gate like propagate(): each module call (encode, heads, memory) checks the signal first.
    return this.gate.during(opts.signal, () => this.promptNow(objId, frame, p, opts));
  }

  private async promptNow(
    objId: number,
    frame: number,
    p: SlicePrompt,
    opts: { replace: boolean; correction: boolean },
  ): Promise<Uint8Array> {
    const o = this.object(objId);
    const tracked = o.log.length > 0;
    if (!tracked) {
      const old = o.prompts.get(frame);
      const merged: SlicePrompt =
        p.mask || !old || opts.replace || old.mask
          ? { ...p }
          : {
              ...old,
              ...(p.box ? { box: p.box } : {}),
              ...(p.recist ? { recist: p.recist } : {}),
              points: [...(old.points ?? []), ...(p.points ?? [])],
            };
      // Before tracking a prompted frame is an initial conditioning frame: its output does not depend on other frames.
      const logits = await this.add(await this.newState(), objId, frame, merged, true);
      const prompts = new Map(o.prompts);
      // Re-insert so the merged prompt keeps its first position (the one-shot flow adds them in the given order).
      prompts.set(frame, merged);
      const preview = new Map(o.preview).set(frame, logits);
      this.commit(objId, { ...o, prompts, preview });
      return this.masks(objId).get(frame)!;
    }
    await this.ensureStates(objId);
    const op: Op = { kind: 'correct', frame, prompt: { ...p }, replace: opts.replace };
    const out = await this.applyCorrection(objId, this.objects.get(objId)!, op);
    this.commit(objId, { ...out, log: [...o.log, op] });
    return this.masks(objId).get(frame)!;
  }

  private async applyCorrection(objId: number, o: ObjectState, op: Op & { kind: 'correct' }): Promise<ObjectState> {
    const fwdOut = new Map(o.fwdOut),
      revOut = new Map(o.revOut);
    if (o.fwd) fwdOut.set(op.frame, await this.add(o.fwd, objId, op.frame, op.prompt, op.replace));
    if (o.rev) revOut.set(op.frame, await this.add(o.rev, objId, op.frame, op.prompt, op.replace));
    return { ...o, fwdOut, revOut, pending: [...o.pending, op.frame] };
  }

  async propagate(objId: number, a: TrackerPropagateArgs): Promise<TrackerPropagation> {
    const o = this.objects.get(objId);
    if (!o || o.prompts.size === 0) throw new MedsamError(`object ${objId} has no prompt`, 'add a prompt for it first');
    const counter = { frames: 0 };
    try {
      await this.gate.during(a.signal, () => this.runPropagation(objId, o, a, counter));
    } catch (e) {
      // The inference states may be half-way through a pass: drop them (rebuilt from the log when needed).
      const cur = this.objects.get(objId);
      if (cur) this.objects.set(objId, { ...cur, fwd: undefined, rev: undefined, statesValid: false });
      throw e;
    }
    const keys = [...o.prompts.keys()].sort((x, y) => x - y);
    const stops: KeyStop[] = keys.map((key) => ({
      key,
      down: a.direction === 'forward' ? 'not-run' : a.range[0] === 0 ? 'volume-end' : 'limit',
      up: a.direction === 'backward' ? 'not-run' : a.range[1] === this.stack.numFrames - 1 ? 'volume-end' : 'limit',
    }));
    return { framesRun: counter.frames, stops };
  }

  /** propagate()'s work; commits only when it completes. */
  private async runPropagation(objId: number, o: ObjectState, a: TrackerPropagateArgs, counter: { frames: number }): Promise<void> {
    let op: Op | undefined;
    let next: ObjectState;
    if (a.full || o.log.length === 0) {
      op = { kind: 'passes', range: a.range, direction: a.direction };
      next = await this.runPasses(objId, o, op, a, counter);
    } else {
      await this.ensureStates(objId);
      next = this.objects.get(objId)!;
      const ops: Op[] = [];
      for (const frame of next.pending) {
        const r: Op = { kind: 'repropagate', frame, range: a.range };
        next = await this.repropagate(objId, next, r, a, counter);
        ops.push(r);
      }
      next = { ...next, log: [...next.log, ...ops] };
    }
    if (op) next = { ...next, log: [...o.log, op] };
    this.commit(objId, next);
  }

  /** Fresh forward and/or reverse states with every prompt, propagated (the one-shot MedSAM2 flow). */
  private async runPasses(
    objId: number,
    o: ObjectState,
    op: Op & { kind: 'passes' },
    a: Partial<TrackerPropagateArgs>,
    counter: { frames: number },
  ): Promise<ObjectState> {
    const prompts = new Map(o.prompts);
    // Corrections made so far become prompts of the fresh passes.
    for (const c of o.log) {
      if (c.kind !== 'correct') continue;
      const old = prompts.get(c.frame);
      prompts.set(
        c.frame,
        !old || c.replace || c.prompt.mask || old.mask ? c.prompt : { ...old, points: [...(old.points ?? []), ...(c.prompt.points ?? [])] },
      );
    }
    const keys = [...prompts.keys()].sort((x, y) => x - y);
    // 'mask' flow (medsam2_infer_CT_lesion_npz_recist.py): box/points segmented first, that key mask re-added in both passes.
    const keyMasks = new Map<number, Uint8Array>();
    if (this.keySliceMask) {
      const scratch = await this.newState();
      for (const [f, p] of prompts) {
        if (p.mask) continue;
        keyMasks.set(
          f,
          Uint8Array.from(await this.add(scratch, objId, f, p, true), (v) => (v > 0 ? 1 : 0)),
        );
      }
    }
    const [r0, r1] = op.range;
    let fwd: Sam2InferenceState | undefined, rev: Sam2InferenceState | undefined;
    const fwdOut = new Map<number, Float32Array>(),
      revOut = new Map<number, Float32Array>();
    for (const reverse of [false, true]) {
      if (op.direction === (reverse ? 'forward' : 'backward')) continue;
      // Video: both passes start at the first prompted frame (the reverse one skips it); volumes: at the outer keys.
      const start = reverse && !this.video ? keys[keys.length - 1]! : keys[0]!;
      if (reverse && this.video && start === 0) continue;
      const state = await this.newState();
      for (const [f, p] of prompts) {
        const km = keyMasks.get(f);
        await this.add(state, objId, f, km ? { mask: km } : p, true);
      }
      const out = reverse ? revOut : fwdOut;
      const maxFrameNumToTrack = reverse ? start - r0 : r1 - start;
      if (maxFrameNumToTrack >= 0) {
        for await (const r of this.predictor.propagateInVideo(state, { startFrameIdx: start, reverse, maxFrameNumToTrack })) {
          if (a.signal?.aborted) throw new PropagationCancelled();
          const kept = !(reverse && this.video && r.frameIdx === start);
          if (kept) out.set(r.frameIdx, r.videoResMasks[0]!);
          counter.frames++;
          a.onFrame?.(r.frameIdx, kept ? this.frameMask(fwdOut.get(r.frameIdx), revOut.get(r.frameIdx)) : undefined);
        }
      }
      if (reverse) rev = state;
      else fwd = state;
    }
    if (a.signal?.aborted) throw new PropagationCancelled();
    return { ...o, fwd, rev, statesValid: true, fwdOut, revOut, pending: [] };
  }

  /** Re-propagate from a corrected frame in both directions; frames beyond it take the new pass. */
  private async repropagate(
    _objId: number,
    o: ObjectState,
    op: Op & { kind: 'repropagate' },
    a: Partial<TrackerPropagateArgs>,
    counter: { frames: number },
  ): Promise<ObjectState> {
    const c = op.frame;
    const [r0, r1] = op.range;
    const fwdOut = new Map(o.fwdOut),
      revOut = new Map(o.revOut);
    for (const [state, reverse] of [
      [o.fwd, false],
      [o.rev, true],
    ] as const) {
      if (!state) continue;
      const maxFrameNumToTrack = reverse ? c - r0 : r1 - c;
      if (maxFrameNumToTrack < 0) continue;
      for await (const r of this.predictor.propagateInVideo(state, { startFrameIdx: c, reverse, maxFrameNumToTrack })) {
        if (a.signal?.aborted) throw new PropagationCancelled();
        const f = r.frameIdx;
        (reverse ? revOut : fwdOut).set(f, r.videoResMasks[0]!);
        counter.frames++;
        // As commit() will see it: past the correction only the pass that carried it counts.
        const both = !!(o.fwd && o.rev);
        a.onFrame?.(f, this.frameMask(both && f < c ? undefined : fwdOut.get(f), both && f > c ? undefined : revOut.get(f)));
      }
    }
    // The correction is the newest information: past it, only the pass that carried it counts.
    if (o.fwd && o.rev) {
      for (const f of [...revOut.keys()]) if (f > c && f <= r1) revOut.delete(f);
      for (const f of [...fwdOut.keys()]) if (f < c && f >= r0) fwdOut.delete(f);
    }
    return { ...o, fwdOut, revOut, pending: o.pending.filter((f) => f !== c) };
  }

  /** Rebuild the inference states of an object by replaying its log (after undo or cancel). */
  private async ensureStates(objId: number): Promise<void> {
    const o = this.objects.get(objId)!;
    if (o.statesValid) return;
    let s: ObjectState = { ...o, fwd: undefined, rev: undefined, pending: [] };
    const counter = { frames: 0 };
    for (const op of o.log) {
      if (op.kind === 'passes') s = await this.runPasses(objId, s, op, {}, counter);
      else if (op.kind === 'correct') s = await this.applyCorrection(objId, s, op);
      else s = await this.repropagate(objId, s, op, {}, counter);
    }
    // The outputs are unchanged (the replay is deterministic); keep the restored ones and the pending list.
    this.objects.set(objId, { ...o, fwd: s.fwd, rev: s.rev, statesValid: true });
  }

  /** A frame's binary mask from its forward/reverse logits, by commit()'s rule (video: forward first; volume: OR). */
  private frameMask(fwd: Float32Array | undefined, rev: Float32Array | undefined): Uint8Array {
    const m = new Uint8Array(this.stack.rows * this.stack.cols);
    for (const l of this.video ? [fwd ?? rev] : [fwd, rev]) if (l) for (let i = 0; i < m.length; i++) if (l[i]! > 0) m[i] = 1;
    return m;
  }

  private commit(objId: number, o: ObjectState): void {
    const masks = new Map<number, Uint8Array>();
    const bin = (l: Float32Array) => Uint8Array.from(l, (v) => (v > 0 ? 1 : 0));
    if (o.log.length === 0 && o.fwdOut.size === 0 && o.revOut.size === 0) {
      for (const [f, l] of o.preview) masks.set(f, bin(l));
    } else if (this.video) {
      for (const f of new Set([...o.fwdOut.keys(), ...o.revOut.keys()])) masks.set(f, bin(o.fwdOut.get(f) ?? o.revOut.get(f)!));
    } else {
      // MedSAM2: logits > 0 OR-ed over both passes.
      for (const f of new Set([...o.fwdOut.keys(), ...o.revOut.keys()])) {
        const m = new Uint8Array(this.stack.rows * this.stack.cols);
        for (const l of [o.fwdOut.get(f), o.revOut.get(f)]) if (l) for (let i = 0; i < m.length; i++) if (l[i]! > 0) m[i] = 1;
        masks.set(f, m);
      }
    }
    this.objects.set(objId, { ...o, masks });
  }

  removeObject(objId: number): void {
    this.objects.delete(objId);
  }

  masks(objId: number): ReadonlyMap<number, Uint8Array> {
    return this.objects.get(objId)?.masks ?? new Map();
  }

  logits(objId: number, frame: number): Float32Array | undefined {
    const o = this.objects.get(objId);
    if (!o) return undefined;
    return o.fwdOut.get(frame) ?? o.revOut.get(frame) ?? (o.log.length === 0 ? o.preview.get(frame) : undefined);
  }

  snapshot(): unknown {
    return new Map(this.objects);
  }

  restore(snapshot: unknown): void {
    const snap = snapshot as Map<number, ObjectState>;
    const next = new Map<number, ObjectState>();
    for (const [id, s] of snap) {
      const cur = this.objects.get(id);
      // States are shared with the snapshot and mutated since; keep them only if nothing ran on them.
      const same = cur !== undefined && cur.log === s.log && cur.statesValid && cur.pending === s.pending && cur.fwdOut === s.fwdOut;
      next.set(id, same ? cur : { ...s, fwd: undefined, rev: undefined, statesValid: s.log.length === 0 });
    }
    this.objects = next;
  }

  dispose(): void {
    this.objects.clear();
    this.features?.clear();
  }
}

/** The engine's module calls behind the tracker's cancel gate (the predictor sees only Sam2Modules), the image encoder excepted. */
function gatedModules(m: Sam2Modules, gate: CancelGate): Sam2Modules {
  return {
    imageSize: m.imageSize,
    hiddenDim: m.hiddenDim,
    memDim: m.memDim,
    params: m.params,
    // Not gated here: the feature cache starts encodes and waits for them behind the gate (featureWait).
    encodeImage: (image) => m.encodeImage(image),
    runSamHeads: gate.wrap((input) => m.runSamHeads(input)),
    downsampleMask: gate.wrap((mask) => m.downsampleMask(mask)),
    encodeMemory: gate.wrap((input) => m.encodeMemory(input)),
    attendMemory: gate.wrap((input) => m.attendMemory(input)),
    objPtrTemporalEncoding: gate.wrap((relPos, tDiffMax) => m.objPtrTemporalEncoding(relPos, tDiffMax)),
  };
}
