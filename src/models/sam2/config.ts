import { load as loadYaml } from 'js-yaml';
import { canonicalJson } from '../../common/canonicalJson.js';
import { MedsamError, errorMessage } from '../../common/errors.js';
import { sha256Hex } from '../../platform/platform.js';
import { ConfigNode } from './configNode.js';

/**
 * Everything the SAM2 graph builders and the video predictor need from a hydra-style SAM2 YAML
 * (sam2/configs/sam2.1/*.yaml, MedSAM2's sam2.1_hiera_t512.yaml), with the upstream constructor
 * defaults (sam2 @ 2b90b9f, identical in MedSAM2 @ 332f30d) filled in for omitted keys.
 * Field names are the YAML names in camelCase. Dropout / drop-path values are kept only so the
 * canonical JSON distinguishes configs; inference ignores them.
 */

export interface SinePositionEncodingConfig {
  /** As in the YAML: the total channel count (the sine/cosine halves each use numPosFeats/2). */
  numPosFeats: number;
  temperature: number;
  normalize: boolean;
  /** Resolved: the YAML's `scale`, or 2π when it is null (upstream default). */
  scale: number;
}

export interface HieraConfig {
  embedDim: number;
  numHeads: number;
  dropPathRate: number;
  /** Number of stage transitions (the first qPool) that max-pool the queries. */
  qPool: number;
  qStride: [number, number];
  /** Blocks per stage. */
  stages: number[];
  dimMul: number;
  headMul: number;
  /** Background pos-embed grid (h, w), bicubically resized to the patch grid. */
  windowPosEmbedBkgSpatialSize: [number, number];
  /** Window size per stage (blocks listed in globalAttBlocks use global attention instead). */
  windowSpec: number[];
  globalAttBlocks: number[];
}

export interface FpnNeckConfig {
  dModel: number;
  /** Trunk channels, lowest resolution first (upstream order). */
  backboneChannelList: number[];
  kernelSize: number;
  stride: number;
  padding: number;
  fpnInterpModel: 'nearest' | 'bilinear' | 'bicubic' | 'area';
  fuseType: 'sum' | 'avg';
  /** Output levels that receive top-down features; null = all levels (upstream default). */
  fpnTopDownLevels: number[] | null;
  positionEncoding: SinePositionEncodingConfig;
}

export interface ImageEncoderConfig {
  /** Number of lowest-resolution FPN levels dropped. */
  scalp: number;
  trunk: HieraConfig;
  neck: FpnNeckConfig;
}

export interface RoPEAttentionConfig {
  embeddingDim: number;
  numHeads: number;
  downsampleRate: number;
  dropout: number;
  /** Resolved: the YAML's kv_in_dim, or embeddingDim when absent (upstream default). */
  kvInDim: number;
  ropeTheta: number;
  ropeKRepeat: boolean;
  /** [w, h] of the RoPE grid the frequencies are precomputed for. */
  featSizes: [number, number];
}

export interface MemoryAttentionLayerConfig {
  activation: 'relu' | 'gelu' | 'glu';
  dModel: number;
  dimFeedforward: number;
  dropout: number;
  posEncAtAttn: boolean;
  posEncAtCrossAttnKeys: boolean;
  posEncAtCrossAttnQueries: boolean;
  selfAttention: RoPEAttentionConfig;
  crossAttention: RoPEAttentionConfig;
}

export interface MemoryAttentionConfig {
  dModel: number;
  posEncAtInput: boolean;
  numLayers: number;
  batchFirst: boolean;
  layer: MemoryAttentionLayerConfig;
}

export interface MaskDownSamplerConfig {
  embedDim: number;
  kernelSize: number;
  stride: number;
  padding: number;
  totalStride: number;
  /** log(totalStride)/log(stride) conv layers, each multiplying channels by stride². */
  numLayers: number;
}

export interface CXBlockConfig {
  dim: number;
  kernelSize: number;
  padding: number;
  dropPath: number;
  layerScaleInitValue: number;
  useDwconv: boolean;
}

export interface FuserConfig {
  numLayers: number;
  dim: number | null;
  inputProjection: boolean;
  layer: CXBlockConfig;
}

export interface MemoryEncoderConfig {
  outDim: number;
  inDim: number;
  positionEncoding: SinePositionEncodingConfig;
  maskDownsampler: MaskDownSamplerConfig;
  fuser: FuserConfig;
}

export interface MaskDecoderExtraArgs {
  dynamicMultimaskViaStability: boolean;
  dynamicMultimaskStabilityDelta: number;
  dynamicMultimaskStabilityThresh: number;
}

/** Video-predictor options (SAM2VideoPredictor / MedSAM2's SAM2VideoPredictorNPZ kwargs). */
export interface VideoPredictorOptions {
  fillHoleArea: number;
  nonOverlapMasks: boolean;
  clearNonCondMemAroundInput: boolean;
  clearNonCondMemForMultiObj: boolean;
  addAllFramesToCorrectAsCond: boolean;
}

export interface Sam2Config {
  /** The model `_target_` (SAM2Base or a video-predictor subclass). */
  target: string;
  imageSize: number;
  backboneStride: number;
  imageEncoder: ImageEncoderConfig;
  memoryAttention: MemoryAttentionConfig;
  memoryEncoder: MemoryEncoderConfig;
  numMaskmem: number;
  sigmoidScaleForMemEnc: number;
  sigmoidBiasForMemEnc: number;
  binarizeMaskFromPtsForMemEnc: boolean;
  useMaskInputAsOutputWithoutSam: boolean;
  maxCondFramesInAttn: number;
  directlyAddNoMemEmbed: boolean;
  useHighResFeaturesInSam: boolean;
  multimaskOutputInSam: boolean;
  multimaskMinPtNum: number;
  multimaskMaxPtNum: number;
  multimaskOutputForTracking: boolean;
  useMultimaskTokenForObjPtr: boolean;
  iouPredictionUseSigmoid: boolean;
  memoryTemporalStrideForEval: number;
  nonOverlapMasksForMemEnc: boolean;
  useObjPtrsInEncoder: boolean;
  maxObjPtrsInEncoder: number;
  addTposEncToObjPtrs: boolean;
  projTposEncInObjPtrs: boolean;
  useSignedTposEncToObjPtrs: boolean;
  onlyObjPtrsInThePastForEval: boolean;
  predObjScores: boolean;
  predObjScoresMlp: boolean;
  fixedNoObjPtr: boolean;
  softNoObjPtr: boolean;
  useMlpForObjPtrProj: boolean;
  noObjEmbedSpatial: boolean;
  compileImageEncoder: boolean;
  /** Resolved MaskDecoder kwargs (constructor defaults when the YAML has none). */
  samMaskDecoderExtraArgs: MaskDecoderExtraArgs;
  videoPredictor: VideoPredictorOptions;
  /** Values the upstream code derives from the above. */
  derived: {
    /** neck d_model: width of the SAM heads, memory attention and object pointers. */
    hiddenDim: number;
    /** Memory width: memory encoder out_dim when it projects (out_dim ≠ in_dim), else hiddenDim. */
    memDim: number;
    /** image_size / backbone_stride (the SAM image-embedding grid). */
    samImageEmbeddingSize: number;
    /** Trunk channels per stage, highest resolution first. */
    stageDims: number[];
    stageHeads: number[];
    /** SAM prompt encoder / mask decoder widths, hard-coded in SAM2Base._build_sam_heads (not configurable). */
    samHeads: SamHeadsFixed;
  };
}

export interface SamHeadsFixed {
  maskInChans: number;
  numMultimaskOutputs: number;
  transformerDepth: number;
  transformerMlpDim: number;
  transformerNumHeads: number;
  attentionDownsampleRate: number;
  iouHeadDepth: number;
  iouHeadHiddenDim: number;
}

const SAM_HEADS: SamHeadsFixed = {
  maskInChans: 16,
  numMultimaskOutputs: 3,
  transformerDepth: 2,
  transformerMlpDim: 2048,
  transformerNumHeads: 8,
  attentionDownsampleRate: 2,
  iouHeadDepth: 3,
  iouHeadHiddenDim: 256,
};

const MODEL_TARGETS = [
  'sam2.modeling.sam2_base.SAM2Base',
  'sam2.sam2_video_predictor.SAM2VideoPredictor',
  'sam2.sam2_video_predictor_npz.SAM2VideoPredictorNPZ',
] as const;

const T = {
  imageEncoder: ['sam2.modeling.backbones.image_encoder.ImageEncoder'],
  hiera: ['sam2.modeling.backbones.hieradet.Hiera'],
  fpn: ['sam2.modeling.backbones.image_encoder.FpnNeck'],
  sine: ['sam2.modeling.position_encoding.PositionEmbeddingSine'],
  memAttn: ['sam2.modeling.memory_attention.MemoryAttention'],
  memAttnLayer: ['sam2.modeling.memory_attention.MemoryAttentionLayer'],
  rope: ['sam2.modeling.sam.transformer.RoPEAttention'],
  memEnc: ['sam2.modeling.memory_encoder.MemoryEncoder'],
  maskDown: ['sam2.modeling.memory_encoder.MaskDownSampler'],
  fuser: ['sam2.modeling.memory_encoder.Fuser'],
  cx: ['sam2.modeling.memory_encoder.CXBlock'],
};

function pair(v: number[]): [number, number] {
  return [v[0], v[1]];
}

function sine(n: ConfigNode): SinePositionEncodingConfig {
  n.target(T.sine);
  const numPosFeats = n.int('num_pos_feats');
  const temperature = n.num('temperature', 10000);
  const normalize = n.bool('normalize', true);
  const scale = n.numOrNull('scale');
  n.done(['warmup_cache', 'image_size', 'strides']);
  if (numPosFeats % 2 !== 0) throw new MedsamError(`${n.path}.num_pos_feats must be even (got ${numPosFeats})`, 'fix the model YAML');
  if (scale !== null && !normalize)
    throw new MedsamError(`${n.path}: scale is set but normalize is false`, 'set normalize: true or scale: null');
  return { numPosFeats, temperature, normalize, scale: scale ?? 2 * Math.PI };
}

function hiera(n: ConfigNode): HieraConfig {
  n.target(T.hiera);
  const c: HieraConfig = {
    embedDim: n.int('embed_dim', 96),
    numHeads: n.int('num_heads', 1),
    dropPathRate: n.num('drop_path_rate', 0),
    qPool: n.int('q_pool', 3),
    qStride: pair(n.ints('q_stride', [2, 2], 2)),
    stages: n.ints('stages', [2, 3, 16, 3]),
    dimMul: n.num('dim_mul', 2),
    headMul: n.num('head_mul', 2),
    windowPosEmbedBkgSpatialSize: pair(n.ints('window_pos_embed_bkg_spatial_size', [14, 14], 2)),
    windowSpec: n.ints('window_spec', [8, 4, 14, 7]),
    globalAttBlocks: n.ints('global_att_blocks', [12, 16, 20]),
  };
  n.done(['weights_path', 'return_interm_layers']);
  if (n.raw.return_interm_layers === false)
    throw new MedsamError(
      `${n.path}.return_interm_layers: false is not supported`,
      'remove the key: the FPN neck needs every stage output',
    );
  if (c.windowSpec.length !== c.stages.length)
    throw new MedsamError(`${n.path}: window_spec has ${c.windowSpec.length} entries for ${c.stages.length} stages`, 'fix the model YAML');
  if (c.qPool >= c.stages.length)
    throw new MedsamError(
      `${n.path}: q_pool (${c.qPool}) must be less than the number of stages (${c.stages.length})`,
      'fix the model YAML',
    );
  return c;
}

function rope(n: ConfigNode): RoPEAttentionConfig {
  n.target(T.rope);
  const embeddingDim = n.int('embedding_dim');
  const c: RoPEAttentionConfig = {
    embeddingDim,
    numHeads: n.int('num_heads'),
    downsampleRate: n.int('downsample_rate', 1),
    dropout: n.num('dropout', 0),
    kvInDim: n.int('kv_in_dim', embeddingDim),
    ropeTheta: n.num('rope_theta', 10000),
    ropeKRepeat: n.bool('rope_k_repeat', false),
    featSizes: pair(n.ints('feat_sizes', [32, 32], 2)),
  };
  n.done();
  const internal = c.embeddingDim / c.downsampleRate;
  if (!Number.isInteger(internal) || internal % c.numHeads !== 0)
    throw new MedsamError(
      `${n.path}: num_heads (${c.numHeads}) must divide embedding_dim/downsample_rate (${internal})`,
      'fix the model YAML',
    );
  if ((internal / c.numHeads) % 4 !== 0)
    throw new MedsamError(
      `${n.path}: the per-head width ${internal / c.numHeads} must be a multiple of 4 for axial RoPE`,
      'fix the model YAML',
    );
  return c;
}

function memoryAttention(n: ConfigNode): MemoryAttentionConfig {
  n.target(T.memAttn);
  const l = n.child('layer');
  l.target(T.memAttnLayer);
  const layer: MemoryAttentionLayerConfig = {
    activation: l.str('activation', ['relu', 'gelu', 'glu'] as const),
    dModel: l.int('d_model'),
    dimFeedforward: l.int('dim_feedforward'),
    dropout: l.num('dropout'),
    posEncAtAttn: l.bool('pos_enc_at_attn'),
    posEncAtCrossAttnKeys: l.bool('pos_enc_at_cross_attn_keys'),
    posEncAtCrossAttnQueries: l.bool('pos_enc_at_cross_attn_queries'),
    selfAttention: rope(l.child('self_attention')),
    crossAttention: rope(l.child('cross_attention')),
  };
  l.done();
  const c: MemoryAttentionConfig = {
    dModel: n.int('d_model'),
    posEncAtInput: n.bool('pos_enc_at_input'),
    numLayers: n.int('num_layers'),
    batchFirst: n.bool('batch_first', true),
    layer,
  };
  n.done();
  return c;
}

function memoryEncoder(n: ConfigNode): MemoryEncoderConfig {
  n.target(T.memEnc);
  const md = n.child('mask_downsampler');
  md.target(T.maskDown);
  const stride = md.int('stride', 4);
  const totalStride = md.int('total_stride', 16);
  const maskDownsampler: MaskDownSamplerConfig = {
    embedDim: md.int('embed_dim', 256),
    kernelSize: md.int('kernel_size', 4),
    stride,
    padding: md.int('padding', 0),
    totalStride,
    numLayers: Math.floor(Math.log2(totalStride) / Math.log2(stride)),
  };
  md.done(['activation']);
  if (stride ** maskDownsampler.numLayers !== totalStride)
    throw new MedsamError(`${md.path}: total_stride ${totalStride} is not a power of stride ${stride}`, 'fix the model YAML');
  const f = n.child('fuser');
  f.target(T.fuser);
  const cx = f.child('layer');
  cx.target(T.cx);
  const layer: CXBlockConfig = {
    dim: cx.int('dim'),
    kernelSize: cx.int('kernel_size', 7),
    padding: cx.int('padding', 3),
    dropPath: cx.num('drop_path', 0),
    layerScaleInitValue: cx.num('layer_scale_init_value', 1e-6),
    useDwconv: cx.bool('use_dwconv', true),
  };
  cx.done();
  const fuser: FuserConfig = {
    numLayers: f.int('num_layers'),
    dim: f.has('dim') ? f.int('dim') : f.numOrNull('dim'),
    inputProjection: f.bool('input_projection', false),
    layer,
  };
  f.done();
  if (fuser.inputProjection && fuser.dim === null) throw new MedsamError(`${f.path}: input_projection needs dim`, 'fix the model YAML');
  const c: MemoryEncoderConfig = {
    outDim: n.int('out_dim'),
    inDim: n.int('in_dim', 256),
    positionEncoding: sine(n.child('position_encoding')),
    maskDownsampler,
    fuser,
  };
  n.done();
  return c;
}

function imageEncoder(n: ConfigNode): ImageEncoderConfig {
  n.target(T.imageEncoder);
  const trunk = hiera(n.child('trunk'));
  const nk = n.child('neck');
  nk.target(T.fpn);
  const neck: FpnNeckConfig = {
    dModel: nk.int('d_model'),
    backboneChannelList: nk.ints('backbone_channel_list'),
    kernelSize: nk.int('kernel_size', 1),
    stride: nk.int('stride', 1),
    padding: nk.int('padding', 0),
    fpnInterpModel: nk.str('fpn_interp_model', ['nearest', 'bilinear', 'bicubic', 'area'] as const, 'bilinear'),
    fuseType: nk.str('fuse_type', ['sum', 'avg'] as const, 'sum'),
    fpnTopDownLevels: nk.intsOrNull('fpn_top_down_levels'),
    positionEncoding: sine(nk.child('position_encoding')),
  };
  nk.done();
  const c: ImageEncoderConfig = { scalp: n.int('scalp', 0), trunk, neck };
  n.done();
  return c;
}

/** Build a typed config from a parsed YAML document (`{ model: {...} }`). */
export function sam2ConfigFromDocument(doc: unknown, source = 'SAM2 config'): Sam2Config {
  const m = ConfigNode.root(doc, source);
  const target = m.target(MODEL_TARGETS);
  const ie = imageEncoder(m.child('image_encoder'));
  const memoryAttentionCfg = memoryAttention(m.child('memory_attention'));
  const memoryEncoderCfg = memoryEncoder(m.child('memory_encoder'));
  const extra = m.optionalChild('sam_mask_decoder_extra_args');
  const samMaskDecoderExtraArgs: MaskDecoderExtraArgs = {
    dynamicMultimaskViaStability: extra?.bool('dynamic_multimask_via_stability', false) ?? false,
    dynamicMultimaskStabilityDelta: extra?.num('dynamic_multimask_stability_delta', 0.05) ?? 0.05,
    dynamicMultimaskStabilityThresh: extra?.num('dynamic_multimask_stability_thresh', 0.98) ?? 0.98,
  };
  extra?.done();
  const imageSize = m.int('image_size', 512);
  const backboneStride = m.int('backbone_stride', 16);
  const cfg: Sam2Config = {
    target,
    imageSize,
    backboneStride,
    imageEncoder: ie,
    memoryAttention: memoryAttentionCfg,
    memoryEncoder: memoryEncoderCfg,
    numMaskmem: m.int('num_maskmem', 7),
    sigmoidScaleForMemEnc: m.num('sigmoid_scale_for_mem_enc', 1),
    sigmoidBiasForMemEnc: m.num('sigmoid_bias_for_mem_enc', 0),
    binarizeMaskFromPtsForMemEnc: m.bool('binarize_mask_from_pts_for_mem_enc', false),
    useMaskInputAsOutputWithoutSam: m.bool('use_mask_input_as_output_without_sam', false),
    maxCondFramesInAttn: m.int('max_cond_frames_in_attn', -1),
    directlyAddNoMemEmbed: m.bool('directly_add_no_mem_embed', false),
    useHighResFeaturesInSam: m.bool('use_high_res_features_in_sam', false),
    multimaskOutputInSam: m.bool('multimask_output_in_sam', false),
    multimaskMinPtNum: m.int('multimask_min_pt_num', 1),
    multimaskMaxPtNum: m.int('multimask_max_pt_num', 1),
    multimaskOutputForTracking: m.bool('multimask_output_for_tracking', false),
    useMultimaskTokenForObjPtr: m.bool('use_multimask_token_for_obj_ptr', false),
    iouPredictionUseSigmoid: m.bool('iou_prediction_use_sigmoid', false),
    memoryTemporalStrideForEval: m.int('memory_temporal_stride_for_eval', 1),
    nonOverlapMasksForMemEnc: m.bool('non_overlap_masks_for_mem_enc', false),
    useObjPtrsInEncoder: m.bool('use_obj_ptrs_in_encoder', false),
    maxObjPtrsInEncoder: m.int('max_obj_ptrs_in_encoder', 16),
    addTposEncToObjPtrs: m.bool('add_tpos_enc_to_obj_ptrs', true),
    projTposEncInObjPtrs: m.bool('proj_tpos_enc_in_obj_ptrs', false),
    useSignedTposEncToObjPtrs: m.bool('use_signed_tpos_enc_to_obj_ptrs', false),
    onlyObjPtrsInThePastForEval: m.bool('only_obj_ptrs_in_the_past_for_eval', false),
    predObjScores: m.bool('pred_obj_scores', false),
    predObjScoresMlp: m.bool('pred_obj_scores_mlp', false),
    fixedNoObjPtr: m.bool('fixed_no_obj_ptr', false),
    softNoObjPtr: m.bool('soft_no_obj_ptr', false),
    useMlpForObjPtrProj: m.bool('use_mlp_for_obj_ptr_proj', false),
    noObjEmbedSpatial: m.bool('no_obj_embed_spatial', false),
    compileImageEncoder: m.bool('compile_image_encoder', false),
    samMaskDecoderExtraArgs,
    videoPredictor: {
      fillHoleArea: m.int('fill_hole_area', 0),
      nonOverlapMasks: m.bool('non_overlap_masks', false),
      clearNonCondMemAroundInput: m.bool('clear_non_cond_mem_around_input', false),
      clearNonCondMemForMultiObj: m.bool('clear_non_cond_mem_for_multi_obj', false),
      addAllFramesToCorrectAsCond: m.bool('add_all_frames_to_correct_as_cond', false),
    },
    derived: { hiddenDim: 0, memDim: 0, samImageEmbeddingSize: 0, stageDims: [], stageHeads: [], samHeads: SAM_HEADS },
  };
  m.done();
  cfg.derived = derive(cfg, source);
  return cfg;
}

function derive(cfg: Sam2Config, source: string): Sam2Config['derived'] {
  const bad = (why: string): never => {
    throw new MedsamError(`${source}: ${why}`, 'fix the model YAML');
  };
  const t = cfg.imageEncoder.trunk;
  const stageDims: number[] = [];
  const stageHeads: number[] = [];
  let dim = t.embedDim;
  let heads = t.numHeads;
  for (let i = 0; i < t.stages.length; i++) {
    if (i > 0) {
      dim = Math.trunc(dim * t.dimMul);
      heads = Math.trunc(heads * t.headMul);
    }
    stageDims.push(dim);
    stageHeads.push(heads);
  }
  const neck = cfg.imageEncoder.neck;
  const expected = [...stageDims].reverse();
  if (expected.join(',') !== neck.backboneChannelList.join(',')) {
    bad(`neck backbone_channel_list [${neck.backboneChannelList}] does not match the trunk's stage widths [${expected}]`);
  }
  const hiddenDim = neck.dModel;
  const me = cfg.memoryEncoder;
  if (me.inDim !== hiddenDim)
    bad(`memory_encoder.in_dim (${me.inDim}) must equal the neck d_model (${hiddenDim}); add 'in_dim: ${hiddenDim}'`);
  if (me.maskDownsampler.embedDim !== hiddenDim)
    bad(`memory_encoder.mask_downsampler.embed_dim (${me.maskDownsampler.embedDim}) must equal the neck d_model (${hiddenDim})`);
  if (cfg.imageSize % cfg.backboneStride !== 0)
    bad(`image_size ${cfg.imageSize} is not a multiple of backbone_stride ${cfg.backboneStride}`);
  if (cfg.fixedNoObjPtr && !(cfg.predObjScores && cfg.useObjPtrsInEncoder))
    bad('fixed_no_obj_ptr needs pred_obj_scores and use_obj_ptrs_in_encoder');
  if (cfg.projTposEncInObjPtrs && !cfg.addTposEncToObjPtrs) bad('proj_tpos_enc_in_obj_ptrs needs add_tpos_enc_to_obj_ptrs');
  return {
    hiddenDim,
    memDim: me.outDim !== me.inDim ? me.outDim : hiddenDim,
    samImageEmbeddingSize: cfg.imageSize / cfg.backboneStride,
    stageDims,
    stageHeads,
    samHeads: { ...SAM_HEADS },
  };
}

/** Parse SAM2 YAML text (hydra `# @package _global_` header and comments are fine). */
export function parseSam2Config(yamlText: string, source = 'SAM2 config'): Sam2Config {
  let doc: unknown;
  try {
    doc = loadYaml(yamlText);
  } catch (e) {
    throw new MedsamError(`${source} is not valid YAML: ${errorMessage(e).split('\n')[0]}`, 'fix the YAML syntax');
  }
  return sam2ConfigFromDocument(doc, source);
}

/**
 * The overrides MedSAM2's / SAM2's `build_sam2_video_predictor[_npz]` apply on top of the YAML:
 * dynamic multimask fallback (0.05 / 0.98), binarised click masks for the memory encoder, and hole
 * filling (`fillHoleArea`, 8 upstream; 0 reproduces CPU runs without the CUDA extension).
 */
export function withVideoPredictorOverrides(cfg: Sam2Config, fillHoleArea = 8): Sam2Config {
  const out = structuredClone(cfg);
  out.samMaskDecoderExtraArgs = {
    dynamicMultimaskViaStability: true,
    dynamicMultimaskStabilityDelta: 0.05,
    dynamicMultimaskStabilityThresh: 0.98,
  };
  out.binarizeMaskFromPtsForMemEnc = true;
  out.videoPredictor = { ...out.videoPredictor, fillHoleArea };
  return out;
}

/** Stable JSON of a config (sorted keys, no whitespace): equal configs give equal strings. */
export function canonicalSam2ConfigJson(cfg: Sam2Config): string {
  return canonicalJson(cfg);
}

/** Short hash of the canonical JSON, for cache keys and file names. */
export async function sam2ConfigHash(cfg: Sam2Config): Promise<string> {
  return (await sha256Hex(canonicalSam2ConfigJson(cfg))).slice(0, 16);
}
