import type { Checkpoint } from '../checkpoint/index.js';
import type { ProtoNode } from '../onnx/onnxProto.js';
import { quantizeOnnxBytes, type QuantizeOptions } from '../onnx/quantize.js';
import { WeightStore } from '../onnx/weightStore.js';
import type { Precision } from '../precision.js';
import type { AttentionImpl } from './graphs/hieraAttention.js';
import { parseSam2Config, withVideoPredictorOverrides, type Sam2Config } from './config.js';
import { imageEncoderConfig, type ImageEncoderConfig } from './graphs/hieraConfig.js';
import { buildImageEncoderGraph } from './graphs/imageEncoder.js';
import { buildMemoryAttentionGraph } from './graphs/memoryAttention.js';
import { memoryConfig, type MemoryModulesConfig } from './graphs/memoryConfig.js';
import { buildMemoryEncoderGraph } from './graphs/memoryEncoder.js';
import { buildObjPtrTposGraph } from './graphs/objPtrTpos.js';
import { buildMaskDownsampleGraph, buildSamHeadsGraph } from './graphs/samHeads.js';
import { samHeadsConfig, type SamHeadsConfig } from './graphs/samHeadsConfig.js';
import { predictorConfig, type Sam2PredictorConfig } from './predictorConfig.js';

/**
 * Compile a SAM2 / MedSAM2 checkpoint + model YAML into the ONNX graphs the engine runs (our own
 * graph builders, no Python) plus the few learned tensors the predictor applies in JS.
 */

/** Bump whenever any graph builder changes its output, so cached graphs are rebuilt. */
export const BUILDER_VERSION = 'sam2-graphs-8';

export interface Sam2ModelConfigs {
  predictor: Sam2PredictorConfig;
  imageEncoder: ImageEncoderConfig;
  samHeads: SamHeadsConfig;
  memory: MemoryModulesConfig;
}

export interface Sam2CompileOptions {
  /** Attention emission in the image encoder ('matmul' default, 'mha' = ORT contrib kernel). */
  attention?: AttentionImpl;
  /**
   * 'fp32' (default, exact: the parity-checked graphs) or 'int8': the image encoder's, memory
   * attention's and the memory encoder's linear layers as dynamic int8 GEMMs (models/onnx/quantize.ts,
   * SAM2_INT8_RECIPE), faster, not exact.
   */
  precision?: Precision;
}

/** All per-module views of one parsed config (pure mapping; no overrides applied here). */
export function sam2ModelConfigs(cfg: Sam2Config): Sam2ModelConfigs {
  return {
    predictor: predictorConfig(cfg),
    imageEncoder: imageEncoderConfig(cfg),
    samHeads: samHeadsConfig(cfg),
    memory: memoryConfig(cfg),
  };
}

/**
 * All config views of one SAM2 model YAML: parsed once (upstream defaults for omitted keys), with
 * the MedSAM2 video-predictor builder overrides (dynamic multimask via stability, binarised click
 * masks for the memory encoder) applied as `build_sam2_video_predictor_npz` does.
 */
export function sam2ConfigsFromYaml(text: string): Sam2ModelConfigs {
  return sam2ModelConfigs(withVideoPredictorOverrides(parseSam2Config(text, 'SAM2 model YAML')));
}

/** Learned tensors used by the predictor directly (Sam2PredictorParams) and by the SAM-heads selection. */
export interface Sam2Params {
  noMemEmbed: Float32Array;
  noMemPosEnc: Float32Array;
  maskmemTposEnc: Float32Array;
  noObjPtr: Float32Array;
}

export interface Sam2Graphs {
  imageEncoder: Uint8Array;
  samHeads: Uint8Array;
  maskDownsample?: Uint8Array;
  memoryEncoder: Uint8Array;
  memoryAttention: Uint8Array;
  objPtrTpos?: Uint8Array;
}

export interface Sam2CompiledModel {
  configs: Sam2ModelConfigs;
  graphs: Sam2Graphs;
  params: Sam2Params;
  /** sha256 of the checkpoint file the graphs were built from. */
  checkpointSha256: string;
  /** Checkpoint keys no graph read (an architecture mismatch shows up here). */
  unusedKeys: string[];
}

export function sam2Dims(configs: Sam2ModelConfigs): { imageSize: number; hiddenDim: number; memDim: number; numMaskmem: number } {
  return {
    imageSize: configs.predictor.imageSize,
    hiddenDim: configs.memory.hiddenDim,
    memDim: configs.memory.memDim,
    numMaskmem: configs.predictor.numMaskmem,
  };
}

export function readSam2Params(configs: Sam2ModelConfigs, ws: WeightStore): Sam2Params {
  const { hiddenDim: C, memDim: Cm, numMaskmem } = sam2Dims(configs);
  const needsNoObjPtr = configs.samHeads.predObjScores && configs.samHeads.useObjPtrsInEncoder;
  return {
    noMemEmbed: ws.get('no_mem_embed', [1, 1, C]).data,
    noMemPosEnc: ws.get('no_mem_pos_enc', [1, 1, C]).data,
    maskmemTposEnc: ws.get('maskmem_tpos_enc', [numMaskmem, 1, 1, Cm]).data,
    noObjPtr: needsNoObjPtr ? ws.get('no_obj_ptr', [1, C]).data : new Float32Array(C),
  };
}

/**
 * Fast mode's (int8) recipe, versioned with the SAM2 int8 graph-cache key:
 * - fp32-tail: the last trunk block, the FPN neck and conv_s0/conv_s1 stay fp32. They produce the
 *   image embedding and the high-res features the SAM heads read directly; the neck reads the
 *   trunk's un-normalised residual stream, which one per-tensor uint8 scale resolves poorly. With
 *   them in int8, the fixtures' near-tied multimask choices flipped on 4 of 12 cases (up to 92 % of
 *   a frame's pixels); per-layer sensitivity (BENCHMARKS.md, "Fast mode, third pass"): the neck
 *   alone in fp32 fixed the micro512 flips, the neck + last block all of them (session 13: the last
 *   block's MLP is the part that must stay fp32; its attention GEMMs in int8 flip nothing but save
 *   nothing measurable either). Version 2: the last block's fc2 (the MLP's output layer, reading
 *   the GELU output) runs int8: no fixture flips, where fc1 in int8 flips tiny512_mask_prompt
 *   ("Fast mode, session 15").
 * - quickgelu: the int8 MLPs' GELUs run as QuickGelu x·σ(1.702x) with the bias moved into the GEMM
 *   ("Fast mode, fourth pass").
 * - global-scores: the trunk's global-attention blocks' scores q·kᵀ (1024 × 1024 per head at 512 px)
 *   run in int8 with per-key scales (quantizeAttentionScores); the windowed blocks' products are
 *   too small for the run-time quantisation to pay ("Fast mode, session 13").
 * - memenc: the memory encoder's fuser linear layers (ConvNeXt pointwise convolutions) run as int8
 *   GEMMs; its convolutions stay fp32. Version 2: their GELUs run as QuickGelu like the encoder's.
 * - pv-exp: memory attention's probability × value products run in int8 on exp(s − row max)
 *   instead of the softmax (quantizeAttentionValues; "Fast mode, session 14").
 * - global-pv: the same pass on the trunk's global-attention blocks' P·V (4 × 1024 × 1024 weights
 *   per block at 512 px), with one int8 scale per head and value column ("Fast mode, session 15").
 * - cross-rows: memory attention's cross-attention score → exp → P·X chains run in 8 blocks of query
 *   rows (chunkAttentionRows), so a block's [128, M] scores stay in the cache between the
 *   element-wise passes; each block's queries get their own int8 scale ("Fast mode, session 16").
 */
export const SAM2_INT8_RECIPE = 'fp32-tail-2+quickgelu-1+global-scores-1+memenc-2+pv-exp-1+global-pv-1+cross-rows-1';

/** The int8 image encoder's and memory encoder's GELUs after an int8 GEMM run as QuickGelu (SAM2_INT8_RECIPE). */
const SAM2_INT8_GELU: QuantizeOptions['gelu'] = 'quick';

const lastTrunkBlock = (configs: Sam2ModelConfigs): number => configs.imageEncoder.trunk.stages.reduce((a, b) => a + b, 0) - 1;

function int8EncoderSkip(configs: Sam2ModelConfigs): QuantizeOptions['skip'] {
  const last = `trunk/blocks.${lastTrunkBlock(configs)}/`;
  const keep = [last, 'neck/', 'conv_s0/', 'conv_s1/'];
  // the last block's fc2 (MLP output layer) runs int8: fp32-tail-2
  const fc2 = `trunk.blocks.${lastTrunkBlock(configs)}.mlp.layers.1.weight`;
  return (node) =>
    keep.some((p) => (node.name ?? '').startsWith(p)) && !((node.name ?? '').startsWith(last) && (node.input[1] ?? '').includes(fc2));
}

/** The attention products (scores and P·V) of the trunk's global-attention blocks (outside the fp32 tail). */
function int8EncoderGlobalAttention(configs: Sam2ModelConfigs): (node: ProtoNode) => boolean {
  const last = lastTrunkBlock(configs);
  const blocks = configs.imageEncoder.trunk.globalAttBlocks.filter((b) => b !== last).map((b) => `trunk/blocks.${b}/`);
  return (node) => blocks.some((p) => (node.name ?? '').startsWith(p));
}

/** Memory attention's cross-attention chains run in this many blocks of query rows (SAM2_INT8_RECIPE cross-rows). */
export const SAM2_INT8_CROSS_ROW_BLOCKS = 8;

/** Memory attention's query tokens: the image embedding's grid. */
const memoryQueryTokens = (configs: Sam2ModelConfigs): number => (configs.memory.imageSize / configs.memory.backboneStride) ** 2;

/** The score product of memory attention's cross-attention (its query is the cross_attn_image projection). */
const crossAttentionScores = (scores: ProtoNode): boolean => (scores.input[0] ?? '').includes('cross_attn');

/** Build every graph from an already-loaded checkpoint (a few seconds; see graphCache.ts to reuse them). */
export function compileSam2(checkpoint: Checkpoint, configs: Sam2ModelConfigs, opts: Sam2CompileOptions = {}): Sam2CompiledModel {
  const ws = new WeightStore(checkpoint.tensors, 'SAM2 checkpoint');
  const params = readSam2Params(configs, ws);
  // int8: the three modules that hold almost all of the per-frame GEMM work (the SAM heads are
  // small and feed the masks directly; they stay exact). Memory attention's scores q·kᵀ (7200
  // memory keys at full memory) and probability × value products, and the encoder's global
  // blocks' scores and probability × value products run in int8 too.
  const q = (onnx: Uint8Array, o: QuantizeOptions): Uint8Array => (opts.precision === 'int8' ? quantizeOnnxBytes(onnx, o).bytes : onnx);
  const graphs: Sam2Graphs = {
    imageEncoder: q(buildImageEncoderGraph(configs.imageEncoder, ws, { attention: opts.attention }), {
      skip: int8EncoderSkip(configs),
      gelu: SAM2_INT8_GELU,
      attentionScores: int8EncoderGlobalAttention(configs),
      attentionValues: int8EncoderGlobalAttention(configs),
    }),
    samHeads: buildSamHeadsGraph(configs.samHeads, ws),
    maskDownsample: configs.samHeads.useObjPtrsInEncoder ? buildMaskDownsampleGraph(configs.samHeads, ws) : undefined,
    memoryEncoder: q(buildMemoryEncoderGraph(configs.memory, ws), { gelu: SAM2_INT8_GELU }),
    memoryAttention: q(buildMemoryAttentionGraph(configs.memory, ws), {
      attentionScores: true,
      attentionValues: true,
      rowBlocks: { blocks: SAM2_INT8_CROSS_ROW_BLOCKS, rows: memoryQueryTokens(configs), only: crossAttentionScores },
    }),
    objPtrTpos: configs.memory.addTposEncToObjPtrs ? buildObjPtrTposGraph(configs.memory, ws) : undefined,
  };
  return { configs, graphs, params, checkpointSha256: checkpoint.sha256, unusedKeys: ws.unusedKeys() };
}
