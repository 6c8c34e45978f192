import { load as loadYaml } from 'js-yaml';
import { MedsamError } from '../../../common/errors.js';

/**
 * The config fields the memory graphs need (memory encoder, memory attention, object-pointer
 * temporal encoding), read from a SAM2 YAML `model:` node with the upstream constructor defaults
 * for omitted keys. Kept local until a shared Sam2Config covers them; `memoryConfigFromModelNode`
 * is the only place that knows the YAML layout.
 */
export interface RopeAttentionConfig {
  embeddingDim: number;
  numHeads: number;
  downsampleRate: number;
  /** Key/value input width (cross-attention reads memory tokens of width mem_dim). */
  kvInDim: number;
  ropeTheta: number;
  /** Upstream `feat_sizes` = [end_x, end_y] of the RoPE grid; replaced by √N × √N when N differs. */
  featSizes: [number, number];
  ropeKRepeat: boolean;
}

export interface MemoryAttentionConfig {
  dModel: number;
  posEncAtInput: boolean;
  numLayers: number;
  activation: 'relu' | 'gelu';
  dimFeedforward: number;
  posEncAtAttn: boolean;
  posEncAtCrossAttnKeys: boolean;
  posEncAtCrossAttnQueries: boolean;
  selfAttention: RopeAttentionConfig;
  crossAttention: RopeAttentionConfig;
}

export interface MemoryEncoderConfig {
  inDim: number;
  outDim: number;
  maskDownsampler: { embedDim: number; kernelSize: number; stride: number; padding: number; totalStride: number };
  fuser: { numLayers: number; dim: number; kernelSize: number; padding: number; useDwconv: boolean; inputProjection: boolean };
  posEnc: { numPosFeats: number; temperature: number; normalize: boolean; scale: number };
}

export interface MemoryModulesConfig {
  imageSize: number;
  backboneStride: number;
  /** neck d_model. */
  hiddenDim: number;
  /** Memory channel width: out_dim of the memory encoder when it projects, else hiddenDim. */
  memDim: number;
  sigmoidScaleForMemEnc: number;
  sigmoidBiasForMemEnc: number;
  noObjEmbedSpatial: boolean;
  addTposEncToObjPtrs: boolean;
  projTposEncInObjPtrs: boolean;
  /** Upper bound on object pointers attended to (t_diff_max = min(num_frames, this) − 1). */
  maxObjPtrsInEncoder: number;
  memoryEncoder: MemoryEncoderConfig;
  memoryAttention: MemoryAttentionConfig;
}

type Node = Record<string, unknown> | undefined;

function num(node: Node, key: string, dflt: number | undefined, where: string): number {
  const v = node?.[key];
  if (v === undefined || v === null) {
    if (dflt === undefined) throw new MedsamError(`SAM2 config has no '${where}.${key}'`, 'use a complete SAM2 model YAML (e.g. sam2.1_hiera_t512.yaml)');
    return dflt;
  }
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new MedsamError(`SAM2 config '${where}.${key}' is not a number (${String(v)})`, 'fix the model YAML');
  return n;
}

function bool(node: Node, key: string, dflt: boolean): boolean {
  const v = node?.[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') return /^true$/i.test(v);
  return Boolean(v);
}

function child(node: Node, key: string): Node {
  const v = node?.[key];
  return v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
}

function ropeConfig(node: Node, where: string): RopeAttentionConfig {
  if (!node) throw new MedsamError(`SAM2 config has no '${where}'`, 'use a complete SAM2 model YAML');
  const target = String(node['_target_'] ?? '');
  if (target && !target.endsWith('RoPEAttention')) {
    throw new MedsamError(`SAM2 config '${where}' is ${target}; only RoPEAttention memory attention is supported`, 'use a SAM2 / SAM2.1 model YAML');
  }
  const embeddingDim = num(node, 'embedding_dim', undefined, where);
  const fs = node['feat_sizes'];
  const featSizes: [number, number] = Array.isArray(fs) && fs.length === 2 ? [Number(fs[0]), Number(fs[1])] : [32, 32];
  return {
    embeddingDim,
    numHeads: num(node, 'num_heads', undefined, where),
    downsampleRate: num(node, 'downsample_rate', 1, where),
    kvInDim: num(node, 'kv_in_dim', embeddingDim, where),
    ropeTheta: num(node, 'rope_theta', 10000, where),
    featSizes,
    ropeKRepeat: bool(node, 'rope_k_repeat', false),
  };
}

/** Read the memory-related config from a parsed YAML document (`{ model: {...} }`) or its `model` node. */
export function memoryConfigFromModelNode(doc: unknown): MemoryModulesConfig {
  const root = doc as Node;
  const model = child(root, 'model') ?? root;
  const ie = child(model, 'image_encoder');
  const neck = child(ie, 'neck');
  const hiddenDim = num(neck, 'd_model', undefined, 'model.image_encoder.neck');

  const me = child(model, 'memory_encoder');
  if (!me) throw new MedsamError("SAM2 config has no 'model.memory_encoder'", 'use a complete SAM2 model YAML');
  const inDim = num(me, 'in_dim', 256, 'model.memory_encoder');
  const outDim = num(me, 'out_dim', undefined, 'model.memory_encoder');
  const md = child(me, 'mask_downsampler');
  const fuser = child(me, 'fuser');
  const cx = child(fuser, 'layer');
  const mpe = child(me, 'position_encoding');
  const fuserDim = num(cx, 'dim', undefined, 'model.memory_encoder.fuser.layer');
  const scale = mpe?.['scale'];

  const ma = child(model, 'memory_attention');
  if (!ma) throw new MedsamError("SAM2 config has no 'model.memory_attention'", 'use a complete SAM2 model YAML');
  const layer = child(ma, 'layer');
  const dModel = num(ma, 'd_model', undefined, 'model.memory_attention');
  const act = String(layer?.['activation'] ?? 'relu');
  if (act !== 'relu' && act !== 'gelu') throw new MedsamError(`SAM2 memory attention activation '${act}' is not supported`, "use 'relu' or 'gelu'");

  return {
    imageSize: num(model, 'image_size', 512, 'model'),
    backboneStride: num(model, 'backbone_stride', 16, 'model'),
    hiddenDim,
    // upstream: mem_dim = out_proj's width when the encoder projects (out_dim != in_dim), else hidden_dim
    memDim: outDim !== inDim ? outDim : hiddenDim,
    sigmoidScaleForMemEnc: num(model, 'sigmoid_scale_for_mem_enc', 1.0, 'model'),
    sigmoidBiasForMemEnc: num(model, 'sigmoid_bias_for_mem_enc', 0.0, 'model'),
    noObjEmbedSpatial: bool(model, 'no_obj_embed_spatial', false),
    addTposEncToObjPtrs: bool(model, 'add_tpos_enc_to_obj_ptrs', true),
    projTposEncInObjPtrs: bool(model, 'proj_tpos_enc_in_obj_ptrs', false),
    maxObjPtrsInEncoder: num(model, 'max_obj_ptrs_in_encoder', 16, 'model'),
    memoryEncoder: {
      inDim,
      outDim,
      maskDownsampler: {
        embedDim: num(md, 'embed_dim', 256, 'model.memory_encoder.mask_downsampler'),
        kernelSize: num(md, 'kernel_size', 4, 'model.memory_encoder.mask_downsampler'),
        stride: num(md, 'stride', 4, 'model.memory_encoder.mask_downsampler'),
        padding: num(md, 'padding', 0, 'model.memory_encoder.mask_downsampler'),
        totalStride: num(md, 'total_stride', 16, 'model.memory_encoder.mask_downsampler'),
      },
      fuser: {
        numLayers: num(fuser, 'num_layers', undefined, 'model.memory_encoder.fuser'),
        dim: fuserDim,
        kernelSize: num(cx, 'kernel_size', 7, 'model.memory_encoder.fuser.layer'),
        padding: num(cx, 'padding', 3, 'model.memory_encoder.fuser.layer'),
        useDwconv: bool(cx, 'use_dwconv', true),
        inputProjection: bool(fuser, 'input_projection', false),
      },
      posEnc: {
        numPosFeats: num(mpe, 'num_pos_feats', undefined, 'model.memory_encoder.position_encoding'),
        temperature: num(mpe, 'temperature', 10000, 'model.memory_encoder.position_encoding'),
        normalize: bool(mpe, 'normalize', true),
        scale: scale === undefined || scale === null ? 2 * Math.PI : Number(scale),
      },
    },
    memoryAttention: {
      dModel,
      posEncAtInput: bool(ma, 'pos_enc_at_input', false),
      numLayers: num(ma, 'num_layers', undefined, 'model.memory_attention'),
      activation: act,
      dimFeedforward: num(layer, 'dim_feedforward', undefined, 'model.memory_attention.layer'),
      posEncAtAttn: bool(layer, 'pos_enc_at_attn', false),
      posEncAtCrossAttnKeys: bool(layer, 'pos_enc_at_cross_attn_keys', false),
      posEncAtCrossAttnQueries: bool(layer, 'pos_enc_at_cross_attn_queries', false),
      selfAttention: ropeConfig(child(layer, 'self_attention'), 'model.memory_attention.layer.self_attention'),
      crossAttention: ropeConfig(child(layer, 'cross_attention'), 'model.memory_attention.layer.cross_attention'),
    },
  };
}

/** Parse a SAM2 model YAML text and read the memory-related config from it. */
export function memoryConfigFromYaml(text: string): MemoryModulesConfig {
  return memoryConfigFromModelNode(loadYaml(text));
}
