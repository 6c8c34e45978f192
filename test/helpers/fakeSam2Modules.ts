import type {
  MemoryAttentionInput,
  MemoryEncodeInput,
  Sam2ImageFeatures,
  Sam2Modules,
  SamHeadsInput,
  SamHeadsResult,
} from '../../src/engine/sam2/types.js';
import type { Sam2PredictorConfig } from '../../src/models/sam2/predictorConfig.js';
import type { Sam2FrameSource } from '../../src/predictor/sam2/inferenceState.js';

/**
 * A deterministic stand-in for the ONNX modules, recording every call, so the predictor's control
 * flow (memory selection, pointers, storage, consolidation) can be tested without a model.
 * Frame i's image is filled with the value i; features carry that value, so calls can be traced
 * back to frames.
 */
export const FAKE = { S: 64, stride: 16, C: 8, Cm: 4, numMaskmem: 7 };

export function fakeConfig(over: Partial<Sam2PredictorConfig> = {}): Sam2PredictorConfig {
  return {
    imageSize: FAKE.S,
    backboneStride: FAKE.stride,
    numMaskmem: FAKE.numMaskmem,
    directlyAddNoMemEmbed: true,
    useMaskInputAsOutputWithoutSam: true,
    multimaskOutputInSam: true,
    multimaskMinPtNum: 0,
    multimaskMaxPtNum: 1,
    multimaskOutputForTracking: true,
    memoryTemporalStrideForEval: 1,
    maxCondFramesInAttn: -1,
    binarizeMaskFromPtsForMemEnc: true,
    nonOverlapMasksForMemEnc: false,
    useObjPtrsInEncoder: true,
    maxObjPtrsInEncoder: 16,
    addTposEncToObjPtrs: true,
    useSignedTposEncToObjPtrs: true,
    onlyObjPtrsInThePastForEval: true,
    predObjScores: true,
    fixedNoObjPtr: true,
    softNoObjPtr: false,
    ...over,
  };
}

export function fakeFrames(n: number): Sam2FrameSource & { reads: number[] } {
  const reads: number[] = [];
  return {
    numFrames: n,
    reads,
    frame(i: number) {
      reads.push(i);
      return new Float32Array(3 * FAKE.S * FAKE.S).fill(i);
    },
  };
}

export interface FakeCalls {
  encode: number[];
  heads: SamHeadsInput[];
  memEnc: MemoryEncodeInput[];
  attend: MemoryAttentionInput[];
  tpos: { relPos: number[]; tDiffMax: number }[];
  downsample: number;
}

export class FakeSam2Modules implements Sam2Modules {
  readonly imageSize = FAKE.S;
  readonly hiddenDim = FAKE.C;
  readonly memDim = FAKE.Cm;
  readonly params = {
    noMemEmbed: new Float32Array(FAKE.C).fill(0.5),
    noMemPosEnc: new Float32Array(FAKE.C),
    maskmemTposEnc: Float32Array.from({ length: FAKE.numMaskmem * FAKE.Cm }, (_, i) => Math.floor(i / FAKE.Cm) * 100),
    noObjPtr: new Float32Array(FAKE.C).fill(-7),
  };
  readonly calls: FakeCalls = { encode: [], heads: [], memEnc: [], attend: [], tpos: [], downsample: 0 };
  /** Object score the heads report (set < 0 to simulate an absent object). */
  score = 2;
  /** Optional override of the low-res logits returned by the heads. */
  masks?: (input: SamHeadsInput) => Float32Array;
  private readonly side = FAKE.S / FAKE.stride;

  async encodeImage(image: Float32Array): Promise<Sam2ImageFeatures> {
    const v = image[0]!;
    this.calls.encode.push(v);
    const hw = this.side * this.side;
    return {
      visionFeatures: new Float32Array(FAKE.C * hw).fill(v),
      visionPosEnc: new Float32Array(FAKE.C * hw).fill(1),
      highRes0: new Float32Array((FAKE.C / 8) * 16 * hw).fill(v),
      highRes1: new Float32Array((FAKE.C / 4) * 4 * hw).fill(v),
    };
  }

  async runSamHeads(input: SamHeadsInput): Promise<SamHeadsResult> {
    this.calls.heads.push(input);
    const m = 4 * this.side;
    const n = input.pointLabels?.length ?? 0;
    const M = input.multimaskOutput ? 3 : 1;
    // logits: a fixed pattern shifted by the mean feature, so outputs differ per frame
    const base = input.pixFeat[0]!;
    const low = this.masks ? this.masks(input) : Float32Array.from({ length: m * m }, (_, i) => (i % m) - m / 2 + base * 0.01 + n);
    const isObj = this.score > 0;
    const lowResMasks = isObj ? low : new Float32Array(m * m).fill(-1024);
    const objPtr = isObj ? new Float32Array(FAKE.C).fill(base + 0.25) : this.params.noObjPtr.slice();
    return {
      lowResMultimasks: new Float32Array(M * m * m),
      ious: new Float32Array(M).fill(0.5),
      lowResMasks,
      objPtr,
      objectScoreLogits: Float32Array.of(this.score),
      numMasks: M,
      bestIou: 0.5 + 0.01 * n,
    };
  }

  async downsampleMask(mask: Float32Array): Promise<Float32Array> {
    this.calls.downsample++;
    const m = 4 * this.side;
    return new Float32Array(m * m).fill(mask.some((v) => v > 0) ? 1 : 0);
  }

  async encodeMemory(input: MemoryEncodeInput) {
    this.calls.memEnc.push(input);
    const hw = this.side * this.side;
    // encode the source frame (pix feat value) and the object score into the features
    return {
      maskmemFeatures: new Float32Array(FAKE.Cm * hw).fill(input.pixFeat[0]! + 0.001 * input.objectScoreLogits[0]!),
      maskmemPosEnc: new Float32Array(FAKE.Cm * hw).fill(3),
    };
  }

  async attendMemory(input: MemoryAttentionInput): Promise<Float32Array> {
    this.calls.attend.push(input);
    return input.curr.slice();
  }

  async objPtrTemporalEncoding(relPos: readonly number[], tDiffMax: number): Promise<Float32Array> {
    this.calls.tpos.push({ relPos: [...relPos], tDiffMax });
    return Float32Array.from({ length: relPos.length * FAKE.Cm }, (_, i) => relPos[Math.floor(i / FAKE.Cm)]!);
  }
}

/** Frame values (= frame indices) of the spatial memories in an attention call, in order. */
export function memoryFrames(a: MemoryAttentionInput): number[] {
  const hw = (FAKE.S / FAKE.stride) ** 2;
  const frames = (a.numMemoryTokens - a.numObjPtrTokens) / hw;
  return Array.from({ length: frames }, (_, k) => Math.round(a.memory[k * hw * FAKE.Cm]!));
}

/** maskmem_tpos_enc rows used per spatial memory (the fake table row r = 100·r, pos enc 3). */
export function memoryTposRows(a: MemoryAttentionInput): number[] {
  const hw = (FAKE.S / FAKE.stride) ** 2;
  const frames = (a.numMemoryTokens - a.numObjPtrTokens) / hw;
  return Array.from({ length: frames }, (_, k) => Math.round((a.memoryPos[k * hw * FAKE.Cm]! - 3) / 100));
}
