import { MedsamError } from '../../common/errors.js';
import type { Sam2ImageFeatures, Sam2Modules } from '../../engine/sam2/types.js';
import { roundToBfloat16InPlace } from '../../common/halfFloat.js';
import type { Sam2PredictorConfig } from '../../models/sam2/predictorConfig.js';
import { resizeBilinearAntialias } from '../../preprocess/torchInterpolate.js';
import type { ObjOutput, OutputDict, PointInputs, Sam2InferenceState } from './inferenceState.js';
import {
  selectClosestCondFrames,
  selectObjectPointers,
  selectRecentMemories,
  type CondSelection,
  type SpatialMemoryRef,
} from './memorySelection.js';

/**
 * The SAM2 tracking maths of one object on one frame, as upstream's SAM2Base (sam2_base.py:
 * track_step, _prepare_memory_conditioned_features, _use_mask_as_output, _encode_new_memory) over
 * the ONNX module runners. The video predictor (videoPredictor.ts, upstream
 * sam2_video_predictor.py) keeps the session state machine and calls into this.
 */

export type MemoryMode = 'recent' | 'self-sorting';

export interface TrackStepArgs {
  objIdx: number;
  frameIdx: number;
  isInitCondFrame: boolean;
  pointInputs?: PointInputs;
  maskInputs?: Float32Array;
  outputs: OutputDict<ObjOutput>;
  reverse: boolean;
  runMemEncoder: boolean;
  prevSamMaskLogits?: Float32Array;
  /** Use the upstream recent-frame rule even in self-sorting mode (corrections, dummy pointers). */
  forceRecent?: boolean;
}

const f32 = Math.fround;

export class Sam2Base {
  private readonly side: number; // h = w = S / stride
  readonly maskSide: number; // m = 4h
  /**
   * Token-major copies of arrays that memory attention reads on many frames (each memory frame's
   * features, the shared positional encodings), made once instead of re-transposed per frame.
   * Weak keys: a copy lives as long as the array it was made from.
   */
  private readonly tokenMajorCopies = new WeakMap<Float32Array, Float32Array>();

  constructor(
    readonly modules: Sam2Modules,
    readonly cfg: Sam2PredictorConfig,
    readonly memory: MemoryMode,
  ) {
    this.side = cfg.imageSize / cfg.backboneStride;
    this.maskSide = 4 * this.side;
  }

  async encodeMemory(
    state: Sam2InferenceState,
    feats: Sam2ImageFeatures,
    lowResMasks: Float32Array,
    score: number,
    binarize: boolean,
  ): Promise<Float32Array> {
    const r = await this.modules.encodeMemory({
      pixFeat: feats.visionFeatures,
      lowResMasks,
      objectScoreLogits: Float32Array.of(score),
      binarize,
    });
    state.maskmemPosEnc ??= r.maskmemPosEnc;
    // bf16 storage cast of upstream _run_single_frame_inference (round to nearest even)
    return roundToBfloat16InPlace(Float32Array.from(r.maskmemFeatures));
  }

  /** SAM2Base.track_step for one object (memory encoding included when runMemEncoder). */
  async trackStep(state: Sam2InferenceState, a: TrackStepArgs): Promise<ObjOutput> {
    const feats = await state.features.get(a.frameIdx);
    let lowRes: Float32Array;
    let objPtr: Float32Array;
    let score: number;
    let bestIou: number;
    let ious: Float32Array;
    if (a.maskInputs && this.cfg.useMaskInputAsOutputWithoutSam) {
      ({ lowRes, objPtr, score } = await this.useMaskAsOutput(feats, a.maskInputs));
      bestIou = 1;
      ious = Float32Array.of(1);
    } else {
      const pixFeat = await this.memoryConditionedFeatures(state, feats, a);
      let maskInputs = a.prevSamMaskLogits ?? a.maskInputs;
      if (maskInputs && maskInputs.length !== this.maskSide * this.maskSide) {
        const S = this.cfg.imageSize;
        maskInputs = resizeBilinearAntialias(maskInputs, S, S, this.maskSide, this.maskSide);
      }
      const numPts = a.pointInputs ? a.pointInputs.labels.length : 0;
      const multimaskOutput =
        this.cfg.multimaskOutputInSam &&
        (a.isInitCondFrame || this.cfg.multimaskOutputForTracking) &&
        this.cfg.multimaskMinPtNum <= numPts &&
        numPts <= this.cfg.multimaskMaxPtNum;
      const sam = await this.modules.runSamHeads({
        pixFeat,
        highRes0: feats.highRes0,
        highRes1: feats.highRes1,
        pointCoords: a.pointInputs?.coords,
        pointLabels: a.pointInputs?.labels,
        maskInputs,
        multimaskOutput,
      });
      lowRes = sam.lowResMasks;
      objPtr = sam.objPtr;
      score = sam.objectScoreLogits[0]!;
      bestIou = sam.bestIou;
      ious = sam.ious;
    }
    let maskmemFeatures: Float32Array | null = null;
    if (a.runMemEncoder) {
      const binarize = this.cfg.binarizeMaskFromPtsForMemEnc && a.pointInputs !== undefined;
      maskmemFeatures = await this.encodeMemory(state, feats, lowRes, score, binarize);
    }
    return { predMasks: lowRes, objPtr, objectScoreLogit: score, maskmemFeatures, bestIou, ious };
  }

  /** SAM2Base._use_mask_as_output: the binary mask becomes ±10 logits; the pointer still comes from the decoder. */
  private async useMaskAsOutput(
    feats: Sam2ImageFeatures,
    mask: Float32Array,
  ): Promise<{ lowRes: Float32Array; objPtr: Float32Array; score: number }> {
    const S = this.cfg.imageSize;
    const high = new Float32Array(S * S);
    let appearing = false;
    for (let i = 0; i < high.length; i++) {
      high[i] = f32(f32(mask[i]! * 20) - 10);
      if (mask[i]! > 0) appearing = true;
    }
    const lowRes = resizeBilinearAntialias(high, S, S, this.maskSide, this.maskSide);
    const C = this.modules.hiddenDim;
    let objPtr = new Float32Array(C);
    if (this.cfg.useObjPtrsInEncoder) {
      const down = await this.modules.downsampleMask(mask);
      const sam = await this.modules.runSamHeads({
        pixFeat: feats.visionFeatures,
        highRes0: feats.highRes0,
        highRes1: feats.highRes1,
        maskInputs: down,
        multimaskOutput: false,
      });
      objPtr = sam.objPtr.slice();
    }
    const lambda = appearing ? 1 : 0;
    const score = 20 * lambda - 10;
    if (this.cfg.predObjScores) {
      const noObj = this.modules.params.noObjPtr;
      for (let c = 0; c < C; c++) {
        let v = objPtr[c]!;
        if (this.cfg.fixedNoObjPtr) v = f32(lambda * v);
        objPtr[c] = f32(v + f32((1 - lambda) * noObj[c]!));
      }
    }
    return { lowRes, objPtr, score };
  }

  private tokenMajor(x: Float32Array, C: number, n: number): Float32Array {
    let t = this.tokenMajorCopies.get(x);
    if (!t) {
      t = transposeToTokens(x, C, n);
      this.tokenMajorCopies.set(x, t);
    }
    return t;
  }

  /** SAM2Base._prepare_memory_conditioned_features for one object → pix_feat [1,C,h,w]. */
  private async memoryConditionedFeatures(state: Sam2InferenceState, feats: Sam2ImageFeatures, a: TrackStepArgs): Promise<Float32Array> {
    const C = this.modules.hiddenDim;
    const Cm = this.modules.memDim;
    const hw = this.side * this.side;
    const vf = feats.visionFeatures;
    const p = this.modules.params;
    if (a.isInitCondFrame) {
      if (!this.cfg.directlyAddNoMemEmbed) {
        throw new MedsamError(
          'this SAM2 config attends to a no-memory token on prompted frames (directly_add_no_mem_embed: false), which is not supported',
          'use a SAM2.1 / MedSAM2 config',
        );
      }
      const out = new Float32Array(C * hw);
      for (let c = 0; c < C; c++) {
        const e = p.noMemEmbed[c]!;
        for (let i = 0; i < hw; i++) out[c * hw + i] = vf[c * hw + i]! + e;
      }
      return out;
    }
    if (a.outputs.cond.size === 0) throw new MedsamError('internal: tracking a frame without any conditioning frame', 'add a prompt first');
    const cond = selectClosestCondFrames(a.frameIdx, a.outputs.cond, this.cfg.maxCondFramesInAttn);
    const spatial =
      this.memory === 'self-sorting' && !a.forceRecent
        ? this.selfSortingMemories(state, a, cond)
        : selectRecentMemories({
            frameIdx: a.frameIdx,
            cond,
            nonCond: a.outputs.nonCond,
            numMaskmem: this.cfg.numMaskmem,
            stride: this.cfg.memoryTemporalStrideForEval,
            reverse: a.reverse,
          });
    const pointers = this.cfg.useObjPtrsInEncoder
      ? selectObjectPointers({
          frameIdx: a.frameIdx,
          cond,
          nonCond: a.outputs.nonCond,
          numFrames: state.numFrames,
          maxObjPtrsInEncoder: this.cfg.maxObjPtrsInEncoder,
          reverse: a.reverse,
          onlyPast: this.cfg.onlyObjPtrsInThePastForEval,
          signed: this.cfg.useSignedTposEncToObjPtrs,
        })
      : { refs: [], tDiffMax: 1 };

    const posEnc = state.maskmemPosEnc;
    const spatialUsable = spatial.filter((s) => s.out.maskmemFeatures !== null);
    if (spatialUsable.length !== spatial.length || (spatial.length > 0 && !posEnc)) {
      throw new MedsamError(`internal: a memory frame of frame ${a.frameIdx} has no encoded memory`, 'this is a bug; please report it');
    }
    const split = Cm < C ? C / Cm : 1;
    if (Cm < C && C % Cm !== 0)
      throw new MedsamError(`hidden dim ${C} is not a multiple of memory dim ${Cm}`, 'use a consistent SAM2 config');
    const K = pointers.refs.length;
    const numPtrTokens = K * split;
    const M = spatial.length * hw + numPtrTokens;
    const memory = new Float32Array(M * Cm);
    const memoryPos = new Float32Array(M * Cm);
    spatial.forEach((s, k) => {
      const feat = this.tokenMajor(s.out.maskmemFeatures!, Cm, hw);
      const pos = this.tokenMajor(posEnc!, Cm, hw);
      const tpos = p.maskmemTposEnc.subarray(s.tposIndex * Cm, (s.tposIndex + 1) * Cm);
      const base = k * hw * Cm;
      memory.set(feat, base);
      for (let i = 0; i < hw; i++) {
        const o = i * Cm;
        for (let c = 0; c < Cm; c++) memoryPos[base + o + c] = pos[o + c]! + tpos[c]!;
      }
    });
    if (K > 0) {
      const tpos = this.cfg.addTposEncToObjPtrs
        ? await this.modules.objPtrTemporalEncoding(
            pointers.refs.map((r) => r.pos),
            pointers.tDiffMax,
          )
        : new Float32Array(K * Cm);
      const base = spatial.length * hw * Cm;
      pointers.refs.forEach((r, k) => {
        // (C) pointer → C/Cm tokens of width Cm, each with the pointer's temporal encoding
        for (let s = 0; s < split; s++) {
          const tok = base + (k * split + s) * Cm;
          memory.set(r.out.objPtr.subarray(s * Cm, (s + 1) * Cm), tok);
          memoryPos.set(tpos.subarray(k * Cm, (k + 1) * Cm), tok);
        }
      });
    }
    if (M === 0) throw new MedsamError(`internal: frame ${a.frameIdx} has no memory to attend to`, 'this is a bug; please report it');
    const curr = transposeToTokens(vf, C, hw);
    const currPos = this.tokenMajor(feats.visionPosEnc, C, hw);
    const attended = await this.modules.attendMemory({
      curr,
      currPos,
      memory,
      memoryPos,
      numMemoryTokens: M,
      numObjPtrTokens: numPtrTokens,
    });
    return transposeToChannels(attended, C, hw);
  }

  /**
   * Self-sorting selection: conditioning frames, the adjacent previous frame, and the object's
   * bank (Medical-SAM2 rule), nearest first for the temporal encoding rows.
   */
  private selfSortingMemories(state: Sam2InferenceState, a: TrackStepArgs, cond: CondSelection<ObjOutput>): SpatialMemoryRef<ObjOutput>[] {
    const N = this.cfg.numMaskmem;
    const refs: SpatialMemoryRef<ObjOutput>[] = [];
    for (const [t, out] of cond.selected) refs.push({ frameIdx: t, out, tposIndex: N - 1, isCond: true });
    const lookup = (t: number) => a.outputs.nonCond.get(t) ?? cond.unselected.get(t);
    const chosen = new Set<number>();
    const adjacent = a.reverse ? a.frameIdx + 1 : a.frameIdx - 1;
    if (lookup(adjacent)) chosen.add(adjacent);
    const bank = state.selfSortingBanks.get(a.objIdx);
    for (const e of bank?.list() ?? []) {
      if (chosen.size >= N - 1) break;
      if (e.frameIdx !== a.frameIdx && lookup(e.frameIdx)) chosen.add(e.frameIdx);
    }
    [...chosen]
      .sort((x, y) => Math.abs(x - a.frameIdx) - Math.abs(y - a.frameIdx) || x - y)
      .forEach((t, rank) => refs.push({ frameIdx: t, out: lookup(t)!, tposIndex: rank, isCond: false }));
    return refs;
  }
}

/** [C, n] channel-major → [n, C] token-major. */
function transposeToTokens(x: Float32Array, C: number, n: number): Float32Array {
  const out = new Float32Array(C * n);
  for (let c = 0; c < C; c++) for (let i = 0; i < n; i++) out[i * C + c] = x[c * n + i]!;
  return out;
}

/** [n, C] token-major → [C, n] channel-major. */
function transposeToChannels(x: Float32Array, C: number, n: number): Float32Array {
  const out = new Float32Array(C * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < C; c++) out[c * n + i] = x[i * C + c]!;
  return out;
}
