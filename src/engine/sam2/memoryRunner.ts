import { MedsamError } from '../../common/errors.js';
import type { WeightStore } from '../../models/onnx/weightStore.js';
import type { MemoryModulesConfig } from '../../models/sam2/graphs/memoryConfig.js';
import { buildMemoryAttentionGraph, MEMORY_ATTENTION_IO } from '../../models/sam2/graphs/memoryAttention.js';
import { buildMemoryEncoderGraph, MEMORY_ENCODER_IO } from '../../models/sam2/graphs/memoryEncoder.js';
import { buildObjPtrTposGraph, OBJ_PTR_TPOS_IO } from '../../models/sam2/graphs/objPtrTpos.js';
import { OrtSession, type OrtSessionOptions } from '../ortSession.js';
import type { MemoryAttentionInput, MemoryEncodeInput, MemoryEncodeResult, Sam2Modules } from './types.js';

/** ONNX bytes of the three memory-side graphs. */
export interface MemoryGraphs {
  memoryEncoder: Uint8Array;
  memoryAttention: Uint8Array;
  /** Absent when the config adds no temporal encoding to object pointers. */
  objPtrTpos?: Uint8Array;
}

export function buildMemoryGraphs(cfg: MemoryModulesConfig, ws: WeightStore): MemoryGraphs {
  return {
    memoryEncoder: buildMemoryEncoderGraph(cfg, ws),
    memoryAttention: buildMemoryAttentionGraph(cfg, ws),
    objPtrTpos: cfg.addTposEncToObjPtrs ? buildObjPtrTposGraph(cfg, ws) : undefined,
  };
}

type MemoryPart = Pick<Sam2Modules, 'encodeMemory' | 'attendMemory' | 'objPtrTemporalEncoding'>;

/** Runs the memory encoder, memory attention and object-pointer temporal encoding graphs (batch 1). */
export class Sam2MemoryRunner implements MemoryPart {
  private constructor(
    private readonly cfg: MemoryModulesConfig,
    private readonly encoder: OrtSession,
    private readonly attention: OrtSession,
    private readonly tpos: OrtSession | undefined,
  ) {}

  static async create(graphs: MemoryGraphs, cfg: MemoryModulesConfig, opts: OrtSessionOptions = {}): Promise<Sam2MemoryRunner> {
    if (cfg.addTposEncToObjPtrs && !graphs.objPtrTpos) {
      throw new MedsamError(
        'the object-pointer temporal encoding graph is missing',
        'build the graphs with buildMemoryGraphs(cfg, weights)',
      );
    }
    const [enc, att, tpos] = await Promise.all([
      OrtSession.create(graphs.memoryEncoder, { ...opts, module: 'memory_encoder' }),
      OrtSession.create(graphs.memoryAttention, { ...opts, module: 'memory_attention' }),
      graphs.objPtrTpos ? OrtSession.create(graphs.objPtrTpos, { ...opts, module: 'obj_ptr_tpos' }) : Promise.resolve(undefined),
    ]);
    return new Sam2MemoryRunner(cfg, enc, att, tpos);
  }

  private get side(): number {
    return this.cfg.imageSize / this.cfg.backboneStride;
  }

  async encodeMemory(input: MemoryEncodeInput): Promise<MemoryEncodeResult> {
    const s = this.side;
    const C = this.cfg.hiddenDim;
    expectLength('pixFeat', input.pixFeat, C * s * s, `[1,${C},${s},${s}]`);
    const ms = Math.round(Math.sqrt(input.lowResMasks.length));
    if (ms * ms !== input.lowResMasks.length) {
      throw new MedsamError(
        `lowResMasks has ${input.lowResMasks.length} values, not a square [1,1,H,H] mask`,
        'pass the decoder low-res logits [1,1,4h,4w]',
      );
    }
    expectLength('objectScoreLogits', input.objectScoreLogits, 1, '[1,1]');
    const io = MEMORY_ENCODER_IO;
    const r = await this.encoder.runFloat32(
      {
        [io.pixFeat]: { data: input.pixFeat, dims: [1, C, s, s] },
        [io.lowResMasks]: { data: input.lowResMasks, dims: [1, 1, ms, ms] },
        [io.objectScoreLogits]: { data: input.objectScoreLogits, dims: [1, 1] },
        [io.binarize]: { data: Float32Array.of(input.binarize ? 1 : 0), dims: [1] },
      },
      [io.features, io.posEnc],
    );
    return { maskmemFeatures: r[io.features]!.data, maskmemPosEnc: r[io.posEnc]!.data };
  }

  async attendMemory(input: MemoryAttentionInput): Promise<Float32Array> {
    const hw = this.side * this.side;
    const C = this.cfg.hiddenDim;
    const Cm = this.cfg.memDim;
    const M = input.numMemoryTokens;
    const P = input.numObjPtrTokens;
    expectLength('curr', input.curr, hw * C, `[${hw},1,${C}]`);
    expectLength('currPos', input.currPos, hw * C, `[${hw},1,${C}]`);
    expectLength('memory', input.memory, M * Cm, `[${M},1,${Cm}]`);
    expectLength('memoryPos', input.memoryPos, M * Cm, `[${M},1,${Cm}]`);
    if (!Number.isInteger(P) || P < 0 || P >= M || (M - P) % hw !== 0) {
      throw new MedsamError(
        `memory has ${M} tokens with ${P} object-pointer tokens; the rest must be whole ${hw}-token memory frames`,
        'this is a bug in the predictor; please report it',
      );
    }
    const io = MEMORY_ATTENTION_IO;
    const r = await this.attention.runFloat32({
      [io.curr]: { data: input.curr, dims: [hw, 1, C] },
      [io.currPos]: { data: input.currPos, dims: [hw, 1, C] },
      [io.memory]: { data: input.memory, dims: [M, 1, Cm] },
      [io.memoryPos]: { data: input.memoryPos, dims: [M, 1, Cm] },
      [io.numObjPtrTokens]: { data: Float32Array.of(P), dims: [1] },
    });
    return r[io.out]!.data;
  }

  async objPtrTemporalEncoding(relPos: readonly number[], tDiffMax: number): Promise<Float32Array> {
    const K = relPos.length;
    if (K === 0) return new Float32Array(0);
    if (!this.tpos) return new Float32Array(K * this.cfg.memDim);
    if (!(tDiffMax > 0))
      throw new MedsamError(`t_diff_max ${tDiffMax} must be positive`, 'a video needs at least 2 frames for object pointers');
    const io = OBJ_PTR_TPOS_IO;
    const r = await this.tpos.runFloat32({
      [io.relPos]: { data: Float32Array.from(relPos), dims: [K] },
      [io.tDiffMax]: { data: Float32Array.of(tDiffMax), dims: [1] },
    });
    return r[io.out]!.data;
  }

  async release(): Promise<void> {
    await Promise.all([this.encoder.release(), this.attention.release(), this.tpos?.release()]);
  }
}

function expectLength(name: string, a: Float32Array, n: number, shape: string): void {
  if (a.length !== n)
    throw new MedsamError(`${name} has ${a.length} values, expected ${n} for ${shape}`, 'this is a bug in the predictor; please report it');
}
