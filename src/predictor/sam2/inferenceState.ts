import type { FeatureCache } from './featureCache.js';
import type { SelfSortingMemoryBank } from './selfSortingMemory.js';

/** Normalised model-input frames: frame(i) returns [1,3,S,S] float32 (upstream `images[i].float()`). */
export interface Sam2FrameSource {
  readonly numFrames: number;
  frame(index: number): Float32Array | Promise<Float32Array>;
}

/** One object's output on one frame (upstream per-object slice of a "compact" output dict). */
export interface ObjOutput {
  /** [m·m] low-res mask logits, m = S/4 (after hole filling when enabled). */
  predMasks: Float32Array;
  /** [C] object pointer. */
  objPtr: Float32Array;
  objectScoreLogit: number;
  /** [Cm·h·w] memory features rounded to bfloat16 (null until the memory encoder ran). */
  maskmemFeatures: Float32Array | null;
  /** IoU of the selected mask from the call that computed it (1 for mask-as-output; NaN if none). */
  bestIou: number;
  /** All predicted IoUs of that call. */
  ious: Float32Array | null;
  /** Set on consolidation placeholders of objects with no output on the frame. */
  placeholder?: boolean;
}

/** Consolidated output of all objects on one frame; objs[objIdx]. */
export interface FrameOutput {
  objs: ObjOutput[];
}

export interface OutputDict<T> {
  cond: Map<number, T>;
  nonCond: Map<number, T>;
}

export type StorageKey = keyof OutputDict<unknown>;

/** Clicks on one frame for one object, in the S×S model frame (before the prompt encoder's +0.5). */
export interface PointInputs {
  /** [N·2] (x, y). */
  coords: Float32Array;
  /** [N]: 1 fg, 0 bg, 2/3 box corners. */
  labels: Int32Array;
}

/** Everything one video session holds (upstream `inference_state`). */
export interface Sam2InferenceState {
  frames: Sam2FrameSource;
  numFrames: number;
  videoHeight: number;
  videoWidth: number;
  features: FeatureCache;
  /** maskmem_pos_enc[-1] [Cm·h·w], identical for every frame and object (upstream "constants"). */
  maskmemPosEnc: Float32Array | null;
  objIdToIdx: Map<number, number>;
  objIdxToId: Map<number, number>;
  objIds: number[];
  pointInputsPerObj: Map<number, Map<number, PointInputs>>;
  /** [S·S] binary masks in the model frame. */
  maskInputsPerObj: Map<number, Map<number, Float32Array>>;
  outputDict: OutputDict<FrameOutput>;
  outputDictPerObj: Map<number, OutputDict<ObjOutput>>;
  tempOutputDictPerObj: Map<number, OutputDict<ObjOutput>>;
  consolidatedFrameInds: { cond: Set<number>; nonCond: Set<number> };
  trackingHasStarted: boolean;
  framesAlreadyTracked: Map<number, { reverse: boolean }>;
  /** Per-object banks for `memory: 'self-sorting'`, rebuilt on every propagate call. */
  selfSortingBanks: Map<number, SelfSortingMemoryBank>;
}

export function emptyOutputDict<T>(): OutputDict<T> {
  return { cond: new Map(), nonCond: new Map() };
}
