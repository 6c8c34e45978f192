import type { Precision } from '../models/precision.js';
import type { ModelEntry } from '../models/registry.js';
import type { Box, PointPrompt } from '../predictor/prompts.js';
import type { Sam1Decoder, StopReason } from '../predictor/sam1Propagator.js';
import type { Sam1Encoder } from '../predictor/sam1/embeddingCache.js';

/**
 * The contract between a Session and a model family (SAM1-style propagator, SAM2 video predictor,
 * any later one). A family opens a model's ORT sessions once (pooled across Sessions) and starts a
 * tracker per Session; the tracker owns the family's per-session state (cached image features,
 * per-object keys or memory banks). The Session above it owns validation, history, undo, cancel and
 * label maps, so a new family implements only what is model-specific.
 */

/** The 8-bit frames a Session runs on: the windowed slices of a volume, or the RGB frames of a video. */
export interface FrameStack {
  readonly kind: 'volume' | 'video';
  readonly numFrames: number;
  readonly rows: number;
  readonly cols: number;
  /** 1 = gray (volume slices), 3 = interleaved RGB (video frames). */
  readonly channels: 1 | 3;
  /** Frame i, row-major rows × cols × channels. Called lazily; the family caches what it derives. */
  frame(i: number): Uint8Array;
}

/** A prompt on one slice/frame, in its pixel coordinates (x = column, y = row). */
export interface SlicePrompt {
  box?: Box;
  points?: PointPrompt[];
  /** Row-major rows × cols mask, non-zero = object. */
  mask?: Uint8Array;
  /** RECIST long-axis line [x0, y0, x1, y1]. */
  recist?: Box;
}

/** Why propagation stopped on one side of a key slice (SAM1's stop rules; SAM2 always runs to 'volume-end'; 'not-run' when that side was not propagated). */
export type KeyStopReason = StopReason | 'not-run';

export interface KeyStop {
  key: number;
  down: KeyStopReason;
  up: KeyStopReason;
  intensityModel?: boolean;
  separability?: number;
}

export type Direction = 'both' | 'forward' | 'backward';

/** How objects are merged where they overlap when per-frame label maps are assembled. */
export type OverlapRule = 'later-object-wins' | 'lower-id-wins' | 'highest-logit';

/** Family-specific tuning; each family reads its own part and ignores the rest. */
export interface TrackerOptions {
  /** Memory budget for cached per-slice image features, MiB (default 1024). */
  featureBudgetMiB?: number;
  /** SAM1 family: propagation tuning (see Sam1PropagationOptions). */
  sam1?: {
    boxInsets?: number[];
    useMaskInput?: boolean;
    anchorPoint?: boolean;
    intensityModel?: boolean;
    minSeparability?: number;
    minObjectFraction?: number;
    minAreaFraction?: number;
    maxSlices?: number;
    /** Refinement decodes of each propagated slice (0 = off; default 1 for volumes, 0 for videos). */
    refineSteps?: number;
    /** Slices carried from a positive correction keep what they had plus the carry (default off; Sam1PropagationOptions). */
    positiveCarryAdds?: boolean;
  };
  /**
   * SAM1 family: what decodes prompts (clicks) instead of the model's own engine — the same
   * decoder run elsewhere, e.g. on the server's worker threads. Propagation keeps the engine.
   */
  sam1PromptDecoder?: Sam1Decoder;
  /**
   * SAM1 family: wraps the engine's encoder before the tracker uses it, e.g. a disk cache of slice
   * embeddings (pipelines' DiskCachedEncoder). `inner` names the model (its entry: id and files, so a
   * wrapper can key by the encoder's bytes) and precision, and `rgb` says
   * whether it encodes gray slices or colour frames, so a wrapper can key what it keeps by all three.
   */
  sam1Encoder?: (
    inner: Sam1Encoder & { entry: Pick<ModelEntry, 'id' | 'files' | 'inputSize' | 'normalisation'>; precision: string; rgb: boolean },
  ) => Sam1Encoder;
  /** SAM2 family: MedSAM2 workflow options (see Sam2VolumeOptions). */
  sam2?: {
    keySlice?: 'prompt' | 'mask';
    fillHoleArea?: number;
    memory?: 'recent' | 'self-sorting';
    onWarning?: (message: string) => void;
  };
}

export interface TrackerPropagateArgs {
  /** Inclusive frame range to (re)compute; default the whole stack. */
  range: [number, number];
  direction: Direction;
  /**
   * true: recompute every key's frames inside the range; false: only what changed since the last
   * propagation (new or corrected keys), as the family defines it.
   */
  full: boolean;
  signal?: AbortSignal;
  /**
   * Called once per frame decided (progress). `mask`, when given, is the object's binary mask on
   * that frame as it stands now (all zero = absent), for streaming: the family passes it whenever
   * the frame's value is decided or changes (SAM2 volumes: again when the reverse pass ORs into it).
   * It is provisional until propagate() resolves (a cancelled run keeps the previous state); never
   * mutated afterwards.
   */
  onFrame?: (frame: number, mask?: Uint8Array) => void;
}

export interface TrackerPropagation {
  /** Frames (re)computed in this call. */
  framesRun: number;
  stops: KeyStop[];
}

/**
 * One family's per-Session state. All methods may assume validated arguments (the Session checks
 * ids, frame indices and prompt geometry). Masks are binary row-major rows × cols Uint8Arrays that
 * the tracker never mutates after handing them out.
 */
export interface FamilyTracker {
  readonly overlap: OverlapRule;
  /**
   * Add (replace: true → replace) the prompt of `objId` on `frame` and return the object's mask
   * there at once. `correction` marks a prompt on a frame already reached by propagation: the
   * family folds it into its state (SAM1: a new key; SAM2: clicks on a tracked frame) so the next
   * propagate() redoes only what it affects. `signal`: a cancel takes effect before the prompt's next
   * model call (encode, decode), as in propagate(); the tracker's state is then as before the call.
   */
  prompt(
    objId: number,
    frame: number,
    prompt: SlicePrompt,
    opts: { replace: boolean; correction: boolean; signal?: AbortSignal },
  ): Promise<Uint8Array>;
  /** Carry one object from its keys through the stack. On abort it throws and leaves the state as before the call. */
  propagate(objId: number, args: TrackerPropagateArgs): Promise<TrackerPropagation>;
  removeObject(objId: number): void;
  /** The object's current masks by frame (frames where it is present). */
  masks(objId: number): ReadonlyMap<number, Uint8Array>;
  /** Video-resolution logits of the object on a frame, for 'highest-logit' merging. */
  logits?(objId: number, frame: number): Float32Array | undefined;
  /** An opaque copy of the whole state, for undo; restore() puts it back. */
  snapshot(): unknown;
  restore(snapshot: unknown): void;
  /** Distinct frames run through the image encoder by this tracker. */
  readonly framesEncoded: number;
  /** Drops cached features; the tracker is unusable afterwards. */
  dispose(): void;
}

export interface FamilyOpenOptions {
  /** ONNX Runtime intra-op threads; default = logical cores. */
  threads?: number;
  /** 'int8' = fast mode (linear layers as dynamic int8 GEMMs); default 'fp32' (exact). */
  precision?: Precision;
  /** Graph cache root (families that compile graphs). */
  cacheDir?: string;
  log?: (message: string) => void;
}

/** A model's opened ORT sessions: shared by every Session that leases it from a ModelPool. */
export interface OpenedModel {
  readonly entry: ModelEntry;
  readonly family: string;
  startTracker(stack: FrameStack, opts: TrackerOptions): FamilyTracker;
  /** Closes the ORT sessions (the pool calls it when the last lease is gone). */
  release(): Promise<void>;
}

export interface ModelFamily {
  /** Matches ModelEntry.family. */
  readonly id: string;
  open(entry: ModelEntry, opts: FamilyOpenOptions): Promise<OpenedModel>;
  /** Refuse prompt combinations the family cannot take (before any model opens); `where` names the prompt. */
  checkPrompt?(p: SlicePrompt, where: string): void;
}
