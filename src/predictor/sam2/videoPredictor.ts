import { MedsamError } from '../../common/errors.js';
import { NO_OBJ_SCORE } from '../../engine/sam2/samHeadsSelection.js';
import type { Sam2Modules } from '../../engine/sam2/types.js';
import { resizeBilinear, resizeBilinearAntialias } from '../../preprocess/torchInterpolate.js';
import { FeatureCache, type FeatureWait } from './featureCache.js';
import { fillHolesInMaskScores } from './fillHoles.js';
import {
  emptyOutputDict,
  type FrameOutput,
  type ObjOutput,
  type PointInputs,
  type Sam2FrameSource,
  type Sam2InferenceState,
  type StorageKey,
} from './inferenceState.js';
import { Sam2Base, type MemoryMode, type TrackStepArgs } from './sam2Base.js';
import type { Sam2PredictorConfig } from '../../models/sam2/predictorConfig.js';
import { SelfSortingMemoryBank } from './selfSortingMemory.js';

/**
 * The MedSAM2 / SAM2 video predictor: upstream SAM2VideoPredictorNPZ (sam2_video_predictor_npz.py,
 * MedSAM2 @ 332f30d), the session state machine over the tracking maths of Sam2Base (sam2Base.ts,
 * upstream SAM2Base: track_step, _prepare_memory_conditioned_features, _use_mask_as_output,
 * _encode_new_memory) and the ONNX module runners of `Sam2Modules`. Same state machine, same numbers; differences:
 *  - objects run one at a time through batch-1 graphs (upstream batches them; the maths is per object);
 *  - image features live in an LRU cache, so a frame is encoded once per session (no frame-0 warm-up);
 *  - optional `memory: 'self-sorting'` (Medical-SAM2) bank instead of the most recent frames.
 */

export type { MemoryMode } from './sam2Base.js';

export interface Sam2PredictorOptions {
  /** Fill background holes of at most this many low-res pixels (upstream builder: 8; 0 = off). */
  fillHoleArea?: number;
  /** Keep only the highest-scoring object per pixel in video-resolution outputs. */
  nonOverlapMasks?: boolean;
  clearNonCondMemAroundInput?: boolean;
  clearNonCondMemForMultiObj?: boolean;
  addAllFramesToCorrectAsCond?: boolean;
  /**
   * 'recent' (upstream): conditioning frames + the num_maskmem−1 most recent tracked frames.
   * 'self-sorting' (Medical-SAM2): conditioning frames + the adjacent tracked frame + a bank of
   * num_maskmem−2 earlier tracked frames kept diverse and confident (see selfSortingMemory.ts).
   */
  memory?: MemoryMode;
  /** Frames whose image features stay cached (LRU; FeatureCache documents the per-frame cost). Default 64. */
  featureCacheFrames?: number;
  /**
   * How a frame's encode is waited for (e.g. a cancel gate that stops waiting). The encode itself
   * is never dropped: its features land in the cache for the next call (FeatureCache).
   */
  featureWait?: FeatureWait;
  /** Compute video-resolution logits for every output (default true). */
  outputVideoRes?: boolean;
  /** Receives upstream's UserWarnings (e.g. a box added after tracking started). */
  onWarning?: (message: string) => void;
}

/** What every add/propagate/clear call returns for one frame. */
export interface Sam2FrameResult {
  frameIdx: number;
  objIds: number[];
  /** Per object [H·W] logits at video resolution (empty when outputVideoRes is false). */
  videoResMasks: Float32Array[];
  /** Per object [m·m] low-res logits; NO_OBJ_SCORE for objects without an output on this frame. */
  lowResMasks: Float32Array[];
  /** [numObj]; 10 for objects without an output (upstream placeholder). */
  objectScoreLogits: Float32Array;
  /** Per object [C]; NO_OBJ_SCORE-filled for objects without an output. */
  objPtrs: Float32Array[];
  /** [numObj] IoU of the selected mask where this session computed one, else NaN. */
  bestIous: Float32Array;
  /** Where the frame's output lives: temporary (add_* before propagation), cond or non-cond memory. */
  storage: 'temp' | StorageKey;
  /** false when propagation re-served an already-consolidated prompted frame. */
  recomputed: boolean;
}

export interface AddPointsArgs {
  frameIdx: number;
  objId: number;
  /** [[x, y], …] in video pixels (or 0..1 when normalizeCoords is false). */
  points?: ArrayLike<number>[] | null;
  /** 1 fg, 0 bg per point. */
  labels?: ArrayLike<number> | null;
  clearOldPoints?: boolean;
  normalizeCoords?: boolean;
  /** [x0, y0, x1, y1]; becomes two points with labels 2, 3 before any clicks. */
  box?: ArrayLike<number> | null;
}

export interface AddMaskArgs {
  frameIdx: number;
  objId: number;
  /** Row-major mask, non-zero = object. */
  mask: ArrayLike<number>;
  /** Mask size; default the video size. */
  height?: number;
  width?: number;
}

export interface PropagateArgs {
  startFrameIdx?: number | null;
  maxFrameNumToTrack?: number | null;
  reverse?: boolean;
}

const f32 = Math.fround;

export class Sam2VideoPredictor {
  readonly fillHoleArea: number;
  readonly nonOverlapMasks: boolean;
  readonly clearNonCondMemAroundInput: boolean;
  readonly clearNonCondMemForMultiObj: boolean;
  readonly addAllFramesToCorrectAsCond: boolean;
  readonly memory: MemoryMode;
  readonly featureCacheFrames: number;
  readonly outputVideoRes: boolean;
  private readonly maskSide: number; // m = 4h
  private readonly onWarning: (m: string) => void;
  private readonly featureWait: FeatureWait | undefined;
  private readonly featureCaches = new WeakMap<Sam2FrameSource, FeatureCache>();
  private readonly base: Sam2Base;

  constructor(
    readonly modules: Sam2Modules,
    readonly cfg: Sam2PredictorConfig,
    opts: Sam2PredictorOptions = {},
  ) {
    this.fillHoleArea = opts.fillHoleArea ?? 8;
    this.nonOverlapMasks = opts.nonOverlapMasks ?? false;
    this.clearNonCondMemAroundInput = opts.clearNonCondMemAroundInput ?? false;
    this.clearNonCondMemForMultiObj = opts.clearNonCondMemForMultiObj ?? false;
    this.addAllFramesToCorrectAsCond = opts.addAllFramesToCorrectAsCond ?? false;
    this.memory = opts.memory ?? 'recent';
    this.featureCacheFrames = opts.featureCacheFrames ?? 64;
    this.outputVideoRes = opts.outputVideoRes ?? true;
    this.onWarning = opts.onWarning ?? (() => {});
    this.featureWait = opts.featureWait;
    if (!(this.fillHoleArea >= 0))
      throw new MedsamError(`fillHoleArea ${this.fillHoleArea} must be >= 0`, 'pass 0 to disable hole filling');
    if (this.memory !== 'recent' && this.memory !== 'self-sorting') {
      throw new MedsamError(`memory mode '${String(this.memory)}' is unknown`, "use 'recent' or 'self-sorting'");
    }
    if (this.memory === 'self-sorting' && cfg.numMaskmem < 3) {
      throw new MedsamError(`self-sorting memory needs num_maskmem >= 3 (model has ${cfg.numMaskmem})`, "use memory: 'recent'");
    }
    if (modules.imageSize !== cfg.imageSize) {
      throw new MedsamError(
        `SAM2 modules run at ${modules.imageSize} px but the config says image_size ${cfg.imageSize}`,
        'build the modules from the same config',
      );
    }
    this.base = new Sam2Base(modules, cfg, this.memory);
    this.maskSide = this.base.maskSide;
  }

  // ---------------------------------------------------------------- session

  /** upstream init_state: a fresh session over normalised frames (features are encoded lazily). */
  async initState(frames: Sam2FrameSource, videoHeight: number, videoWidth: number): Promise<Sam2InferenceState> {
    if (!Number.isInteger(frames.numFrames) || frames.numFrames < 1) {
      throw new MedsamError(`video has ${frames.numFrames} frames`, 'pass at least one frame');
    }
    for (const [n, v] of [
      ['height', videoHeight],
      ['width', videoWidth],
    ] as const) {
      if (!Number.isInteger(v) || v < 1)
        throw new MedsamError(`video ${n} ${v} is not a positive integer`, 'pass the original frame size in pixels');
    }
    const S = this.cfg.imageSize;
    // A new state over the same frame source (e.g. after reset + init) reuses the encoded features.
    let features = this.featureCaches.get(frames);
    if (!features) {
      features = new FeatureCache(
        this.featureCacheFrames,
        async (i) => {
          const img = await frames.frame(i);
          if (img.length !== 3 * S * S) {
            throw new MedsamError(
              `frame ${i} has ${img.length} values, the model needs [1,3,${S},${S}]`,
              `resize and normalise frames to ${S}x${S}`,
            );
          }
          return this.modules.encodeImage(img);
        },
        this.featureWait,
      );
      this.featureCaches.set(frames, features);
    }
    return {
      frames,
      numFrames: frames.numFrames,
      videoHeight,
      videoWidth,
      features,
      maskmemPosEnc: null,
      objIdToIdx: new Map(),
      objIdxToId: new Map(),
      objIds: [],
      pointInputsPerObj: new Map(),
      maskInputsPerObj: new Map(),
      outputDict: emptyOutputDict(),
      outputDictPerObj: new Map(),
      tempOutputDictPerObj: new Map(),
      consolidatedFrameInds: { cond: new Set(), nonCond: new Set() },
      trackingHasStarted: false,
      framesAlreadyTracked: new Map(),
      selfSortingBanks: new Map(),
    };
  }

  private objIdToIdx(state: Sam2InferenceState, objId: number): number {
    const known = state.objIdToIdx.get(objId);
    if (known !== undefined) return known;
    if (state.trackingHasStarted) {
      throw new MedsamError(
        `cannot add new object id ${objId} after tracking starts (existing ids: ${state.objIds.join(', ')})`,
        'call resetState first to start over with all objects',
      );
    }
    const idx = state.objIdToIdx.size;
    state.objIdToIdx.set(objId, idx);
    state.objIdxToId.set(idx, objId);
    state.objIds = [...state.objIdToIdx.keys()];
    state.pointInputsPerObj.set(idx, new Map());
    state.maskInputsPerObj.set(idx, new Map());
    state.outputDictPerObj.set(idx, emptyOutputDict());
    state.tempOutputDictPerObj.set(idx, emptyOutputDict());
    return idx;
  }

  private checkFrame(state: Sam2InferenceState, frameIdx: number): void {
    if (!Number.isInteger(frameIdx) || frameIdx < 0 || frameIdx >= state.numFrames) {
      throw new MedsamError(`frame index ${frameIdx} is outside the video (0..${state.numFrames - 1})`, 'pass a valid frame index');
    }
  }

  // ---------------------------------------------------------------- prompts

  /** upstream add_new_points_or_box. */
  async addNewPointsOrBox(state: Sam2InferenceState, a: AddPointsArgs): Promise<Sam2FrameResult> {
    this.checkFrame(state, a.frameIdx);
    const clearOldPoints = a.clearOldPoints ?? true;
    const normalizeCoords = a.normalizeCoords ?? true;
    const hasPoints = a.points !== undefined && a.points !== null;
    const hasLabels = a.labels !== undefined && a.labels !== null;
    if (hasPoints !== hasLabels) throw new MedsamError('points and labels must be provided together', 'pass one label per point');
    const hasBox = a.box !== undefined && a.box !== null;
    if (!hasPoints && !hasBox) throw new MedsamError('a point prompt needs points or a box', 'pass points+labels and/or a box');
    const pts = hasPoints ? a.points! : [];
    const lbs = hasLabels ? Array.from(a.labels!) : [];
    if (pts.length !== lbs.length) throw new MedsamError(`${pts.length} points but ${lbs.length} labels`, 'pass one label per point');
    const xy: number[] = [];
    const labels: number[] = [];
    if (hasBox) {
      const b = Array.from(a.box!);
      if (b.length !== 4 || b.some((v) => !Number.isFinite(v)))
        throw new MedsamError(`box [${b.join(', ')}] is not [x0, y0, x1, y1]`, 'pass four finite numbers');
      if (!clearOldPoints) {
        throw new MedsamError(
          'cannot add a box without clearing old points (a box must come before any clicks)',
          'pass clearOldPoints: true with a box',
        );
      }
      if (state.trackingHasStarted) {
        this.onWarning(
          'a box was added after tracking started; SAM2 may not use a box for refinement (reset the state to use it as an initial prompt)',
        );
      }
      xy.push(f32(b[0]!), f32(b[1]!), f32(b[2]!), f32(b[3]!));
      labels.push(2, 3);
    }
    for (let i = 0; i < pts.length; i++) {
      const p = pts[i]!;
      if (p.length !== 2 || !Number.isFinite(p[0]!) || !Number.isFinite(p[1]!))
        throw new MedsamError(`point ${i} is not [x, y]`, 'pass points as [[x, y], …]');
      xy.push(f32(p[0]!), f32(p[1]!));
      const l = lbs[i]!;
      if (!Number.isInteger(l)) throw new MedsamError(`label ${l} of point ${i} is not an integer`, 'use 1 (foreground) or 0 (background)');
      labels.push(l);
    }
    const S = this.cfg.imageSize;
    const coords = new Float32Array(xy.length);
    for (let i = 0; i < xy.length; i++) {
      // float32 like upstream: points / tensor([W, H]) * image_size
      const v = normalizeCoords ? f32(xy[i]! / (i % 2 === 0 ? state.videoWidth : state.videoHeight)) : xy[i]!;
      coords[i] = f32(v * S);
    }

    const objIdx = this.objIdToIdx(state, a.objId);
    const pointsPerFrame = state.pointInputsPerObj.get(objIdx)!;
    const old = clearOldPoints ? undefined : pointsPerFrame.get(a.frameIdx);
    const pointInputs: PointInputs = old
      ? { coords: concatF32(old.coords, coords), labels: Int32Array.from([...old.labels, ...labels]) }
      : { coords, labels: Int32Array.from(labels) };
    pointsPerFrame.set(a.frameIdx, pointInputs);
    state.maskInputsPerObj.get(objIdx)!.delete(a.frameIdx);

    const tracked = state.framesAlreadyTracked.get(a.frameIdx);
    const isInitCondFrame = tracked === undefined;
    const reverse = tracked?.reverse ?? false;
    const isCond = isInitCondFrame || this.addAllFramesToCorrectAsCond;
    const key: StorageKey = isCond ? 'cond' : 'nonCond';
    const objOut = state.outputDictPerObj.get(objIdx)!;
    const objTemp = state.tempOutputDictPerObj.get(objIdx)!;

    // Feed the latest mask logits on this frame back with the new clicks (clamped like upstream).
    const prevOut = objTemp[key].get(a.frameIdx) ?? objOut.cond.get(a.frameIdx) ?? objOut.nonCond.get(a.frameIdx);
    const prevSamMaskLogits = prevOut ? clamp(prevOut.predMasks, -32, 32) : undefined;
    const current = await this.runSingleFrameInference(state, {
      objIdx,
      frameIdx: a.frameIdx,
      isInitCondFrame,
      pointInputs,
      outputs: objOut,
      reverse,
      runMemEncoder: false,
      prevSamMaskLogits,
      forceRecent: true,
    });
    objTemp[key].set(a.frameIdx, current);
    return this.consolidatedResult(state, a.frameIdx, isCond);
  }

  /** upstream add_new_mask. */
  async addNewMask(state: Sam2InferenceState, a: AddMaskArgs): Promise<Sam2FrameResult> {
    this.checkFrame(state, a.frameIdx);
    const H = a.height ?? state.videoHeight;
    const W = a.width ?? state.videoWidth;
    if (a.mask.length !== H * W) {
      throw new MedsamError(`mask has ${a.mask.length} values, expected ${H}×${W}`, 'pass a row-major mask of the given (or video) size');
    }
    const S = this.cfg.imageSize;
    let mask: Float32Array = new Float32Array(H * W);
    for (let i = 0; i < mask.length; i++) mask[i] = a.mask[i] ? 1 : 0;
    if (H !== S || W !== S) {
      mask = resizeBilinearAntialias(mask, H, W, S, S);
      for (let i = 0; i < mask.length; i++) mask[i] = mask[i]! >= 0.5 ? 1 : 0;
    }
    const objIdx = this.objIdToIdx(state, a.objId);
    state.maskInputsPerObj.get(objIdx)!.set(a.frameIdx, mask);
    state.pointInputsPerObj.get(objIdx)!.delete(a.frameIdx);

    const tracked = state.framesAlreadyTracked.get(a.frameIdx);
    const isInitCondFrame = tracked === undefined;
    const reverse = tracked?.reverse ?? false;
    const isCond = isInitCondFrame || this.addAllFramesToCorrectAsCond;
    const key: StorageKey = isCond ? 'cond' : 'nonCond';
    const current = await this.runSingleFrameInference(state, {
      objIdx,
      frameIdx: a.frameIdx,
      isInitCondFrame,
      maskInputs: mask,
      outputs: state.outputDictPerObj.get(objIdx)!,
      reverse,
      runMemEncoder: false,
      forceRecent: true,
    });
    state.tempOutputDictPerObj.get(objIdx)![key].set(a.frameIdx, current);
    return this.consolidatedResult(state, a.frameIdx, isCond);
  }

  /** upstream clear_all_prompts_in_frame. */
  async clearAllPromptsInFrame(
    state: Sam2InferenceState,
    frameIdx: number,
    objId: number,
    needOutput = true,
  ): Promise<Sam2FrameResult | undefined> {
    this.checkFrame(state, frameIdx);
    const objIdx = this.objIdToIdx(state, objId);
    state.pointInputsPerObj.get(objIdx)!.delete(frameIdx);
    state.maskInputsPerObj.get(objIdx)!.delete(frameIdx);
    const temp = state.tempOutputDictPerObj;
    temp.get(objIdx)!.cond.delete(frameIdx);
    temp.get(objIdx)!.nonCond.delete(frameIdx);

    const B = state.objIdToIdx.size;
    let frameHasInput = false;
    for (let o = 0; o < B; o++) {
      if (state.pointInputsPerObj.get(o)!.has(frameIdx) || state.maskInputsPerObj.get(o)!.has(frameIdx)) {
        frameHasInput = true;
        break;
      }
    }
    if (!frameHasInput) {
      state.consolidatedFrameInds.cond.delete(frameIdx);
      state.consolidatedFrameInds.nonCond.delete(frameIdx);
      const out = state.outputDict.cond.get(frameIdx);
      if (out !== undefined) {
        // No longer a conditioning frame: downgrade its output to non-conditioning memory.
        state.outputDict.cond.delete(frameIdx);
        state.outputDict.nonCond.set(frameIdx, out);
        state.framesAlreadyTracked.delete(frameIdx);
      }
      for (let o = 0; o < B; o++) {
        const d = state.outputDictPerObj.get(o)!;
        const objOut = d.cond.get(frameIdx);
        if (objOut !== undefined) {
          d.cond.delete(frameIdx);
          d.nonCond.set(frameIdx, objOut);
        }
      }
      if (state.outputDict.cond.size === 0) this.resetTrackingResults(state);
    }
    if (!needOutput) return undefined;
    const isCond = [...temp.values()].some((d) => d.cond.has(frameIdx));
    return this.consolidatedResult(state, frameIdx, isCond);
  }

  /** upstream reset_state: drop all prompts, outputs and objects (cached image features stay). */
  resetState(state: Sam2InferenceState): void {
    this.resetTrackingResults(state);
    state.objIdToIdx.clear();
    state.objIdxToId.clear();
    state.objIds = [];
    state.pointInputsPerObj.clear();
    state.maskInputsPerObj.clear();
    state.outputDictPerObj.clear();
    state.tempOutputDictPerObj.clear();
    state.selfSortingBanks.clear();
  }

  private resetTrackingResults(state: Sam2InferenceState): void {
    for (const m of state.pointInputsPerObj.values()) m.clear();
    for (const m of state.maskInputsPerObj.values()) m.clear();
    for (const d of state.outputDictPerObj.values()) {
      d.cond.clear();
      d.nonCond.clear();
    }
    for (const d of state.tempOutputDictPerObj.values()) {
      d.cond.clear();
      d.nonCond.clear();
    }
    state.outputDict.cond.clear();
    state.outputDict.nonCond.clear();
    state.consolidatedFrameInds.cond.clear();
    state.consolidatedFrameInds.nonCond.clear();
    state.trackingHasStarted = false;
    state.framesAlreadyTracked.clear();
  }

  /** upstream remove_object; returns the remaining ids and re-rendered outputs of the removed object's prompted frames. */
  async removeObject(
    state: Sam2InferenceState,
    objId: number,
    strict = false,
    needOutput = true,
  ): Promise<{ objIds: number[]; updatedFrames: Sam2FrameResult[] }> {
    const oldIdx = state.objIdToIdx.get(objId);
    const updatedFrames: Sam2FrameResult[] = [];
    if (oldIdx === undefined) {
      if (!strict) return { objIds: [...state.objIds], updatedFrames };
      throw new MedsamError(
        `cannot remove object id ${objId}: it does not exist (existing ids: ${state.objIds.join(', ')})`,
        'pass an existing object id',
      );
    }
    if (state.objIdToIdx.size === 1) {
      this.resetState(state);
      return { objIds: [...state.objIds], updatedFrames };
    }
    const inputFrames = new Set<number>([...state.pointInputsPerObj.get(oldIdx)!.keys(), ...state.maskInputsPerObj.get(oldIdx)!.keys()]);
    for (const f of inputFrames) await this.clearAllPromptsInFrame(state, f, objId, false);

    const oldIds = state.objIds;
    const remainOld = oldIds.map((_, i) => i).filter((i) => i !== oldIdx);
    const newIds = remainOld.map((i) => oldIds[i]!);
    state.objIdToIdx = new Map(newIds.map((id, i) => [id, i]));
    state.objIdxToId = new Map(newIds.map((id, i) => [i, id]));
    state.objIds = newIds;
    const remap = <T>(m: Map<number, T>): Map<number, T> => new Map(remainOld.map((o, i) => [i, m.get(o)!]));
    state.pointInputsPerObj = remap(state.pointInputsPerObj);
    state.maskInputsPerObj = remap(state.maskInputsPerObj);
    state.outputDictPerObj = remap(state.outputDictPerObj);
    state.tempOutputDictPerObj = remap(state.tempOutputDictPerObj);
    state.selfSortingBanks = new Map(
      remainOld.flatMap((o, i) => (state.selfSortingBanks.has(o) ? [[i, state.selfSortingBanks.get(o)!] as const] : [])),
    );
    for (const key of ['cond', 'nonCond'] as const) {
      for (const [f, out] of state.outputDict[key]) {
        const sliced: FrameOutput = { objs: remainOld.map((o) => out.objs[o]!) };
        state.outputDict[key].set(f, sliced);
        this.addOutputPerObject(state, f, sliced, key);
      }
    }
    if (needOutput) {
      for (const f of inputFrames) {
        const isCond = [...state.tempOutputDictPerObj.values()].some((d) => d.cond.has(f));
        updatedFrames.push(await this.consolidatedResult(state, f, isCond));
      }
    }
    return { objIds: [...state.objIds], updatedFrames };
  }

  // ---------------------------------------------------------------- propagation

  /** upstream propagate_in_video_preflight: consolidate prompted frames into memory. */
  async propagateInVideoPreflight(state: Sam2InferenceState): Promise<void> {
    state.trackingHasStarted = true;
    const B = state.objIdToIdx.size;
    for (const isCond of [false, true]) {
      const key: StorageKey = isCond ? 'cond' : 'nonCond';
      const frames = new Set<number>();
      for (const d of state.tempOutputDictPerObj.values()) for (const f of d[key].keys()) frames.add(f);
      // upstream iterates a Python set of small ints, i.e. ascending order
      const ordered = [...frames].sort((x, y) => x - y);
      for (const f of ordered) state.consolidatedFrameInds[key].add(f);
      for (const f of ordered) {
        const out = await this.consolidateTempOutput(state, f, isCond, true);
        state.outputDict[key].set(f, out);
        this.addOutputPerObject(state, f, out, key);
        if (this.clearNonCondMemAroundInput && (this.clearNonCondMemForMultiObj || B <= 1)) this.clearNonCondMemAround(state, f);
      }
      for (const d of state.tempOutputDictPerObj.values()) d[key].clear();
    }
    for (const f of state.outputDict.cond.keys()) state.outputDict.nonCond.delete(f);
    for (const d of state.outputDictPerObj.values()) for (const f of d.cond.keys()) d.nonCond.delete(f);
    for (const f of state.consolidatedFrameInds.cond) {
      if (!state.outputDict.cond.has(f))
        throw new MedsamError(`internal: consolidated frame ${f} has no conditioning output`, 'this is a bug; please report it');
      state.consolidatedFrameInds.nonCond.delete(f);
    }
    const consolidated = new Set([...state.consolidatedFrameInds.cond, ...state.consolidatedFrameInds.nonCond]);
    const inputs = new Set<number>();
    for (const m of state.pointInputsPerObj.values()) for (const f of m.keys()) inputs.add(f);
    for (const m of state.maskInputsPerObj.values()) for (const f of m.keys()) inputs.add(f);
    if (consolidated.size !== inputs.size || [...inputs].some((f) => !consolidated.has(f))) {
      throw new MedsamError('internal: prompted frames and consolidated frames differ', 'this is a bug; please report it');
    }
  }

  /** upstream propagate_in_video: yields one result per frame in processing order. */
  async *propagateInVideo(state: Sam2InferenceState, a: PropagateArgs = {}): AsyncGenerator<Sam2FrameResult> {
    await this.propagateInVideoPreflight(state);
    const reverse = a.reverse ?? false;
    const B = state.objIdToIdx.size;
    if (state.outputDict.cond.size === 0)
      throw new MedsamError('no prompts were added before propagation', 'add points, a box or a mask first');
    const clearNonCond = this.clearNonCondMemAroundInput && (this.clearNonCondMemForMultiObj || B <= 1);
    const start = a.startFrameIdx ?? Math.min(...state.outputDict.cond.keys());
    this.checkFrame(state, start);
    const maxN = a.maxFrameNumToTrack ?? state.numFrames;
    const order: number[] = [];
    if (reverse) {
      const end = Math.max(start - maxN, 0);
      if (start > 0) for (let f = start; f >= end; f--) order.push(f);
    } else {
      const end = Math.min(start + maxN, state.numFrames - 1);
      for (let f = start; f <= end; f++) order.push(f);
    }
    if (this.memory === 'self-sorting') {
      state.selfSortingBanks.clear();
      for (let o = 0; o < B; o++) state.selfSortingBanks.set(o, new SelfSortingMemoryBank(this.cfg.numMaskmem - 2));
    }

    for (const f of order) {
      let key: StorageKey;
      let out: FrameOutput;
      let recomputed = false;
      if (state.consolidatedFrameInds.cond.has(f)) {
        key = 'cond';
        out = state.outputDict.cond.get(f)!;
        if (clearNonCond) this.clearNonCondMemAround(state, f);
      } else if (state.consolidatedFrameInds.nonCond.has(f)) {
        key = 'nonCond';
        out = state.outputDict.nonCond.get(f)!;
      } else {
        key = 'nonCond';
        const objs: ObjOutput[] = [];
        for (let o = 0; o < B; o++) {
          objs.push(
            await this.runSingleFrameInference(state, {
              objIdx: o,
              frameIdx: f,
              isInitCondFrame: false,
              outputs: state.outputDictPerObj.get(o)!,
              reverse,
              runMemEncoder: true,
            }),
          );
        }
        out = { objs };
        state.outputDict.nonCond.set(f, out);
        recomputed = true;
      }
      this.addOutputPerObject(state, f, out, key);
      state.framesAlreadyTracked.set(f, { reverse });
      if (this.memory === 'self-sorting' && key === 'nonCond') {
        out.objs.forEach((o, i) => {
          if (o.maskmemFeatures) state.selfSortingBanks.get(i)?.offer(f, o.maskmemFeatures, Number.isNaN(o.bestIou) ? 0 : o.bestIou);
        });
      }
      yield this.frameResult(state, f, out.objs, key, recomputed);
    }
  }

  // ---------------------------------------------------------------- internals

  private addOutputPerObject(state: Sam2InferenceState, frameIdx: number, out: FrameOutput, key: StorageKey): void {
    for (const [o, d] of state.outputDictPerObj) d[key].set(frameIdx, out.objs[o]!);
  }

  private clearNonCondMemAround(state: Sam2InferenceState, frameIdx: number): void {
    const r = this.cfg.memoryTemporalStrideForEval;
    const begin = frameIdx - r * this.cfg.numMaskmem;
    const end = frameIdx + r * this.cfg.numMaskmem;
    for (let t = begin; t <= end; t++) {
      state.outputDict.nonCond.delete(t);
      for (const d of state.outputDictPerObj.values()) d.nonCond.delete(t);
    }
  }

  /**
   * upstream _consolidate_temp_output_across_obj at low resolution: each object's temporary output
   * on the frame, else its stored output, else placeholders; with runMemEncoder, the memory
   * encoder runs on the binarised consolidated masks (prompted frames).
   */
  private async consolidateTempOutput(
    state: Sam2InferenceState,
    frameIdx: number,
    isCond: boolean,
    runMemEncoder: boolean,
  ): Promise<FrameOutput> {
    const key: StorageKey = isCond ? 'cond' : 'nonCond';
    const m = this.maskSide;
    const C = this.modules.hiddenDim;
    const objs: ObjOutput[] = [];
    let emptyMaskPtr: Float32Array | undefined;
    for (let o = 0; o < state.objIdToIdx.size; o++) {
      const out = this.lookupObjOutput(state, o, frameIdx, key);
      if (out) {
        objs.push({ ...out, maskmemFeatures: null });
        continue;
      }
      let objPtr = new Float32Array(C).fill(NO_OBJ_SCORE);
      if (runMemEncoder) {
        emptyMaskPtr ??= await this.emptyMaskPtr(state, frameIdx);
        objPtr = emptyMaskPtr.slice();
      }
      objs.push({
        predMasks: new Float32Array(m * m).fill(NO_OBJ_SCORE),
        objPtr,
        objectScoreLogit: 10,
        maskmemFeatures: null,
        bestIou: NaN,
        ious: null,
        placeholder: true,
      });
    }
    if (runMemEncoder) {
      const feats = await state.features.get(frameIdx);
      for (const ob of objs) {
        ob.maskmemFeatures = await this.base.encodeMemory(
          state,
          feats,
          ob.predMasks,
          ob.objectScoreLogit,
          this.cfg.binarizeMaskFromPtsForMemEnc,
        );
      }
    }
    return { objs };
  }

  private lookupObjOutput(state: Sam2InferenceState, objIdx: number, frameIdx: number, key: StorageKey): ObjOutput | undefined {
    const temp = state.tempOutputDictPerObj.get(objIdx)!;
    const stored = state.outputDictPerObj.get(objIdx)!;
    return temp[key].get(frameIdx) ?? stored.cond.get(frameIdx) ?? stored.nonCond.get(frameIdx);
  }

  /** Result of an add/clear call: the consolidated temporary outputs (upstream consolidate_at_video_res). */
  private async consolidatedResult(state: Sam2InferenceState, frameIdx: number, isCond: boolean): Promise<Sam2FrameResult> {
    const out = await this.consolidateTempOutput(state, frameIdx, isCond, false);
    return this.frameResult(state, frameIdx, out.objs, 'temp', true);
  }

  private frameResult(
    state: Sam2InferenceState,
    frameIdx: number,
    objs: ObjOutput[],
    storage: 'temp' | StorageKey,
    recomputed: boolean,
  ): Sam2FrameResult {
    const m = this.maskSide;
    const H = state.videoHeight;
    const W = state.videoWidth;
    let videoResMasks: Float32Array[] = [];
    if (this.outputVideoRes) {
      // upstream: placeholders are filled at video resolution; real masks are resized from m×m
      videoResMasks = objs.map((o) =>
        o.placeholder ? new Float32Array(H * W).fill(NO_OBJ_SCORE) : resizeBilinear(o.predMasks, m, m, H, W),
      );
      if (this.nonOverlapMasks) videoResMasks = applyNonOverlappingConstraints(videoResMasks);
    }
    return {
      frameIdx,
      objIds: [...state.objIds],
      videoResMasks,
      lowResMasks: objs.map((o) => o.predMasks),
      objectScoreLogits: Float32Array.from(objs.map((o) => o.objectScoreLogit)),
      objPtrs: objs.map((o) => o.objPtr),
      bestIous: Float32Array.from(objs.map((o) => o.bestIou)),
      storage,
      recomputed,
    };
  }

  /** upstream _get_empty_mask_ptr: the pointer of an empty mask prompt on this frame. */
  private async emptyMaskPtr(state: Sam2InferenceState, frameIdx: number): Promise<Float32Array> {
    const S = this.cfg.imageSize;
    const out = await this.base.trackStep(state, {
      objIdx: -1,
      frameIdx,
      isInitCondFrame: true,
      maskInputs: new Float32Array(S * S),
      outputs: emptyOutputDict(),
      reverse: false,
      runMemEncoder: false,
      forceRecent: true,
    });
    return out.objPtr;
  }

  /** upstream _run_single_frame_inference for one object: track_step, bf16 memory, hole filling. */
  private async runSingleFrameInference(state: Sam2InferenceState, a: TrackStepArgs): Promise<ObjOutput> {
    if (a.pointInputs && a.maskInputs)
      throw new MedsamError('internal: points and a mask on the same frame', 'this is a bug; please report it');
    const out = await this.base.trackStep(state, a);
    if (this.fillHoleArea > 0) out.predMasks = fillHolesInMaskScores(out.predMasks, this.maskSide, this.maskSide, this.fillHoleArea);
    return out;
  }
}

function clamp(a: Float32Array, lo: number, hi: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = Math.min(Math.max(a[i]!, lo), hi);
  return out;
}

function concatF32(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** upstream _apply_non_overlapping_constraints: non-winning objects are clamped to at most −10 per pixel. */
export function applyNonOverlappingConstraints(masks: Float32Array[]): Float32Array[] {
  if (masks.length <= 1) return masks;
  const n = masks[0]!.length;
  const out = masks.map((m) => m.slice());
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let o = 1; o < masks.length; o++) if (masks[o]![i]! > masks[best]![i]!) best = o;
    for (let o = 0; o < masks.length; o++) if (o !== best) out[o]![i] = Math.min(out[o]![i]!, -10);
  }
  return out;
}
