import { MedsamError } from '../../common/errors.js';
import type { WeightStore } from '../../models/onnx/weightStore.js';
import { embeddingSize, type SamHeadsConfig } from '../../models/sam2/graphs/samHeadsConfig.js';
import { buildMaskDownsampleGraph, buildSamHeadsGraph } from '../../models/sam2/graphs/samHeads.js';
import { numMaskTokens } from '../../models/sam2/graphs/maskDecoder.js';
import { OrtSession, type OrtSessionOptions } from '../ortSession.js';
import { selectSamHeadsOutputs, type SamHeadsSelection, type SamHeadsSelectionParams } from './samHeadsSelection.js';
import type { Sam2Modules, SamHeadsInput } from './types.js';

/** ONNX bytes of the SAM-heads graphs. */
export interface SamHeadsGraphs {
  samHeads: Uint8Array;
  /** Absent when the model has no mask_downsample (no object pointers). */
  maskDownsample?: Uint8Array;
}

export function buildSamHeadsGraphs(cfg: SamHeadsConfig, ws: WeightStore): SamHeadsGraphs {
  return {
    samHeads: buildSamHeadsGraph(cfg, ws),
    maskDownsample: cfg.useObjPtrsInEncoder ? buildMaskDownsampleGraph(cfg, ws) : undefined,
  };
}

/** Learned tensors the selection step needs (no_obj_ptr [1,C]), read from the checkpoint. */
export function samHeadsParams(cfg: SamHeadsConfig, ws: WeightStore): { noObjPtr?: Float32Array } {
  const needs = cfg.predObjScores && cfg.useObjPtrsInEncoder;
  return { noObjPtr: needs ? ws.get('no_obj_ptr', [1, cfg.hiddenDim]).data : undefined };
}

type SamHeadsPart = Pick<Sam2Modules, 'runSamHeads' | 'downsampleMask'>;

/** Runs the SAM-heads graph and applies upstream's output selection (batch 1). */
export class SamHeadsRunner implements SamHeadsPart {
  private readonly selection: SamHeadsSelectionParams;

  private constructor(
    private readonly cfg: SamHeadsConfig,
    private readonly heads: OrtSession,
    private readonly downsample: OrtSession | undefined,
    noObjPtr: Float32Array | undefined,
  ) {
    this.selection = {
      dynamicMultimaskViaStability: cfg.dynamicMultimaskViaStability,
      dynamicMultimaskStabilityDelta: cfg.dynamicMultimaskStabilityDelta,
      dynamicMultimaskStabilityThresh: cfg.dynamicMultimaskStabilityThresh,
      useMultimaskTokenForObjPtr: cfg.useMultimaskTokenForObjPtr,
      predObjScores: cfg.predObjScores,
      softNoObjPtr: cfg.softNoObjPtr,
      fixedNoObjPtr: cfg.fixedNoObjPtr,
      noObjPtr,
    };
  }

  static async create(
    graphs: SamHeadsGraphs,
    cfg: SamHeadsConfig,
    params: { noObjPtr?: Float32Array },
    opts: OrtSessionOptions = {},
  ): Promise<SamHeadsRunner> {
    if (cfg.predObjScores && cfg.useObjPtrsInEncoder && !params.noObjPtr) {
      throw new MedsamError('no_obj_ptr is missing for the SAM heads', 'pass samHeadsParams(cfg, weights)');
    }
    const [heads, down] = await Promise.all([
      OrtSession.create(graphs.samHeads, { ...opts, module: 'prompt_mask_decoder' }),
      graphs.maskDownsample ? OrtSession.create(graphs.maskDownsample, { ...opts, module: 'mask_downsample' }) : Promise.resolve(undefined),
    ]);
    return new SamHeadsRunner(cfg, heads, down, params.noObjPtr);
  }

  /** Build the graphs from checkpoint weights and open them. */
  static async fromWeights(cfg: SamHeadsConfig, ws: WeightStore, opts: OrtSessionOptions = {}): Promise<SamHeadsRunner> {
    return SamHeadsRunner.create(buildSamHeadsGraphs(cfg, ws), cfg, samHeadsParams(cfg, ws), opts);
  }

  async runSamHeads(input: SamHeadsInput): Promise<SamHeadsSelection> {
    const s = embeddingSize(this.cfg);
    const C = this.cfg.hiddenDim;
    const m = 4 * s;
    expectLength('pixFeat', input.pixFeat, C * s * s, `[1,${C},${s},${s}]`);

    // No points: upstream feeds one padding point (0,0) with label -1.
    let coords = input.pointCoords ?? new Float32Array(2);
    let labels: ArrayLike<number> = input.pointLabels ?? Int32Array.of(-1);
    if (!input.pointCoords !== !input.pointLabels) {
      throw new MedsamError(
        'SAM heads got point coordinates without labels (or labels without coordinates)',
        'pass both pointCoords [N,2] and pointLabels [N]',
      );
    }
    const n = labels.length;
    if (n === 0) {
      coords = new Float32Array(2);
      labels = Int32Array.of(-1);
    }
    expectLength('pointCoords', coords, 2 * Math.max(n, 1), `[${Math.max(n, 1)},2]`);
    const np = Math.max(n, 1);

    const feeds: Parameters<OrtSession['runFloat32']>[0] = {
      pix_feat: { data: input.pixFeat, dims: [1, C, s, s] },
      point_coords: { data: coords, dims: [1, np, 2] },
      point_labels: { data: Float32Array.from(labels), dims: [1, np] },
      mask_input: { data: input.maskInputs ?? new Float32Array(m * m), dims: [1, 1, m, m] },
      has_mask_input: { data: Float32Array.of(input.maskInputs ? 1 : 0), dims: [1] },
    };
    if (input.maskInputs) expectLength('maskInputs', input.maskInputs, m * m, `[1,1,${m},${m}] (the prompt encoder's mask_input_size)`);
    if (this.cfg.useHighResFeaturesInSam) {
      const c0 = this.heads.inputs.find((i) => i.name === 'high_res_0')?.shape[1];
      const c1 = this.heads.inputs.find((i) => i.name === 'high_res_1')?.shape[1];
      const n0 = typeof c0 === 'number' ? c0 : input.highRes0.length / (m * m);
      const n1 = typeof c1 === 'number' ? c1 : input.highRes1.length / ((m / 2) * (m / 2));
      expectLength('highRes0', input.highRes0, n0 * m * m, `[1,${n0},${m},${m}]`);
      expectLength('highRes1', input.highRes1, n1 * (m / 2) * (m / 2), `[1,${n1},${m / 2},${m / 2}]`);
      feeds.high_res_0 = { data: input.highRes0, dims: [1, n0, m, m] };
      feeds.high_res_1 = { data: input.highRes1, dims: [1, n1, m / 2, m / 2] };
    }
    const r = await this.heads.runFloat32(feeds, ['masks', 'iou_pred', 'mask_tokens_out', 'object_score_logits', 'obj_ptr_tokens']);
    const T = numMaskTokens(this.cfg);
    const sel = selectSamHeadsOutputs(
      {
        masks: r.masks!.data,
        iouPred: r.iou_pred!.data,
        maskTokensOut: r.mask_tokens_out!.data,
        objPtrTokens: r.obj_ptr_tokens!.data,
        objectScoreLogit: r.object_score_logits!.data[0]!,
        numTokens: T,
        maskSide: m,
        channels: C,
      },
      input.multimaskOutput,
      this.selection,
    );
    sel.debug = { masks: sel.decoderMasks, sam_tokens_out: sel.samTokensOut, all_masks: r.masks!.data, all_iou_pred: r.iou_pred!.data };
    return sel;
  }

  async downsampleMask(mask: Float32Array): Promise<Float32Array> {
    if (!this.downsample) {
      throw new MedsamError(
        'this SAM2 model has no mask_downsample (use_obj_ptrs_in_encoder is off)',
        'mask prompts need a model with object pointers',
      );
    }
    const S = this.cfg.imageSize;
    expectLength('mask', mask, S * S, `[1,1,${S},${S}]`);
    const r = await this.downsample.runFloat32({ mask: { data: mask, dims: [1, 1, S, S] } });
    return r.mask_low_res!.data;
  }

  async release(): Promise<void> {
    await Promise.all([this.heads.release(), this.downsample?.release()]);
  }
}

function expectLength(name: string, a: ArrayLike<number>, n: number, shape: string): void {
  if (a.length !== n) {
    throw new MedsamError(
      `SAM heads input ${name} has ${a.length} values, expected ${n} for ${shape}`,
      'this is a bug in the caller; please report it',
    );
  }
}
