import type { Direction, KeyStop, OpenedModel, SlicePrompt, TrackerOptions } from '../families/family.js';
import type { Precision } from '../models/precision.js';
import type { Volume } from '../io/volume.js';
import type { ModelEntry } from '../models/registry.js';
import type { SliceAxis } from '../preprocess/slices.js';
import type { BrushStroke } from './brushStroke.js';

/**
 * The public shapes of the long-lived interactive Session and the ModelPool (src/session/session.ts,
 * src/session/modelPool.ts). Servers and UIs code against these; docs/sessions.md explains them.
 */

export type { Direction, KeyStop, SlicePrompt } from '../families/family.js';
export type { BrushStroke } from './brushStroke.js';

/** RGB video frames (interleaved, row-major height × width × 3), e.g. a LoadedFrames. */
export interface VideoInput {
  width: number;
  height: number;
  frames: Uint8Array[];
}

/** What a Session runs on: a volume (sliced along `axis`) or a video. */
export type SessionInput = Volume | VideoInput;

export interface SessionOptions {
  /** Registry id or alias (default 'minisam'), or an entry (e.g. a family under test). */
  model?: string | ModelEntry;
  /** Volumes: slice axis of the x-fastest volume; default 2. */
  axis?: SliceAxis;
  /** Volumes: Volume → x-fastest uint8 of the same dims; default the data if uint8, else the auto window. */
  intensity?: (v: Volume) => Uint8Array;
  /** Where the ORT sessions come from; default a private pool closed with the Session. */
  pool?: ModelPoolApi;
  /** ONNX Runtime threads (only used when this Session's lease opens the model). */
  threads?: number;
  /** 'int8' = fast mode; default 'fp32' (exact). Part of the pool key: the two never share sessions. */
  precision?: Precision;
  /** Graph cache root for SAM2-family models. */
  cacheDir?: string;
  /** Memory budget for cached per-slice image features, MiB; default 1024. */
  featureBudgetMiB?: number;
  /** Family tuning (SAM1 propagation, SAM2 workflow). */
  family?: Omit<TrackerOptions, 'featureBudgetMiB'>;
  /**
   * Volumes: the model sees a plane whose rows and columns differ in spacing (a coronal/sagittal
   * plane of a thick-slice scan) upsampled to square pixels, masks mapped back to the voxel grid
   * (src/families/planeTracker.ts). Default true; false = the voxel grid as is.
   */
  resamplePlanes?: boolean;
  /** Volumes: keep only each object's largest 3D connected component in labelMap(). Default true. */
  largestComponent?: boolean;
  /** A caller-chosen id (e.g. the server's); default a random UUID. */
  id?: string;
  log?: (message: string) => void;
}

/** One object's mask on one slice/frame. */
export interface SliceMask {
  objId: number;
  slice: number;
  /** Binary row-major rows × cols. */
  mask: Uint8Array;
  /** Foreground pixels. */
  area: number;
}

export interface ObjectInfo {
  objId: number;
  /** Slices carrying a prompt or correction, ascending. */
  keys: number[];
  /** Slices (along the session's axis) where the object currently has a mask, ascending. */
  slices: number[];
  /** The axis the object's own slices (keys, masks) are cut along: the view it was started on. */
  axis: SliceAxis;
  /** Whether everything prompted so far has been propagated. */
  propagated: boolean;
}

export interface PropagateOptions {
  /** Objects to propagate; default all. */
  objIds?: number[];
  /** Inclusive slice range; default the whole stack. */
  range?: [number, number];
  /** Default 'both'. */
  direction?: Direction;
  /**
   * Default false: redo only what changed since the last propagation (new keys, corrections).
   * true: recompute the range from every key.
   */
  full?: boolean;
  signal?: AbortSignal;
  /** Progress: slices decided so far of an upper bound. */
  onProgress?: (done: number, total: number, objId: number) => void;
  /**
   * Streaming: the object's binary mask (row-major rows × cols, all zero = absent there) each time
   * a slice is decided or its value changes while this call runs (SAM2 volumes: again when the
   * reverse pass ORs into it). The last call for a slice equals mask(objId, slice) once propagate()
   * resolves (absent = all zero). Values are provisional: a cancelled or failed run restores the
   * previous state. Do not mutate the array.
   */
  onSlice?: (objId: number, slice: number, mask: Uint8Array) => void;
}

export interface PropagationSummary {
  objects: { objId: number; slicesRun: number; stops: KeyStop[] }[];
  /** Distinct slices encoded by this Session so far. */
  slicesEncoded: number;
  seconds: number;
}

/**
 * One recorded interaction. JSON-safe through interactionToJson / interactionFromJson (masks as
 * base64); Session.fromHistory replays a list deterministically (crash recovery).
 */
export type Interaction =
  | { kind: 'prompt'; objId: number; slice: number; prompt: SlicePrompt; replace: boolean; axis?: SliceAxis }
  | { kind: 'correct'; objId: number; slice: number; prompt: SlicePrompt; axis?: SliceAxis }
  | { kind: 'propagate'; objIds?: number[]; range?: [number, number]; direction?: Direction; full?: boolean }
  | { kind: 'remove'; objId: number }
  /** A literal (brush/eraser) edit: the object's mask on that slice becomes `mask` (rows × cols, 0/1). */
  | { kind: 'edit'; objId: number; slice: number; mask: Uint8Array; axis?: SliceAxis };

/** What a volume Session's label map is made of: each object (in creation order) with its masks and literal edits. */
export interface LabelMapParts {
  dims: [number, number, number];
  largestComponent: boolean;
  /** Per object: its slice masks, literal edits and the slices a person prompted (kept by the 3D filter). */
  objects: { objId: number; axis: SliceAxis; masks: [number, Uint8Array][]; literal: [number, Uint8Array][]; keys: number[] }[];
}

/** What a Session offers (implemented by the Session class). */
export interface SessionApi {
  readonly id: string;
  readonly modelId: string;
  readonly family: string;
  readonly kind: 'volume' | 'video';
  readonly numSlices: number;
  readonly rows: number;
  readonly cols: number;
  readonly objects: ObjectInfo[];
  /** Prompt an object (new or existing) on a slice; resolves to its mask there. */
  addPrompt(objId: number, slice: number, prompt: SlicePrompt, opts?: { replace?: boolean; axis?: SliceAxis }): Promise<SliceMask>;
  propagate(opts?: PropagateOptions): Promise<PropagationSummary>;
  /** A correction on a slice (typically clicks); the next propagate() redoes what it affects. */
  correct(objId: number, slice: number, prompt: SlicePrompt, opts?: { axis?: SliceAxis }): Promise<SliceMask>;
  removeObject(objId: number): Promise<void>;
  /** A literal mask edit on a slice: the new mask, or a brush/eraser stroke on the current one. */
  edit(objId: number, slice: number, e: { mask: Uint8Array } | { stroke: BrushStroke }, opts?: { axis?: SliceAxis }): Promise<SliceMask>;
  /** Undo the last interaction; false when there is none. */
  undo(): Promise<boolean>;
  /** Redo the last undone interaction; false when there is none (any new interaction clears them). */
  redo(): Promise<boolean>;
  history(): Interaction[];
  /** The undone interactions redo() would bring back, in redo order. */
  redoable(): Interaction[];
  /** One object's raw mask on a slice (undefined when absent). */
  mask(objId: number, slice: number): Uint8Array | undefined;
  /** Volumes: every object in one uint8 label map on the input grid. */
  labelMap(): Volume;
  /** Volumes: what labelMap() is built from, so it can be built elsewhere (a worker thread: buildLabelMap). */
  labelMapParts?(): LabelMapParts;
  /** Per slice/frame label maps (rows × cols). */
  sliceLabels(): Uint8Array[];
  /** Abort a running propagation (its promise rejects; state stays as before it). */
  cancel(): void;
  close(): Promise<void>;
}

/** A lease on an opened model: release() when the Session is done with it. */
export interface ModelLease {
  readonly model: OpenedModel;
  release(): void;
}

export interface ModelPoolApi {
  /** One open per model id (+ threads), reference counted; a second acquire reuses the open sessions. */
  acquire(
    model: string | ModelEntry,
    opts?: { threads?: number; precision?: Precision; cacheDir?: string; log?: (m: string) => void },
  ): Promise<ModelLease>;
  /** How many times a model was actually opened (for tests and metrics). */
  readonly openCount: number;
  /** Close every idle model now. */
  drain(): Promise<void>;
}
