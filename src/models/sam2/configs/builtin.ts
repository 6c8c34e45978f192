import { MedsamError } from '../../../common/errors.js';
import { getPlatform } from '../../../platform/platform.js';
import { parseSam2Config, type Sam2Config } from '../config.js';

/**
 * Built-in SAM2.1 Hiera configs (tiny/small/base_plus/large at 1024 px) and MedSAM2's t512,
 * shipped inside the package so no upstream files are read at run time. The values are those of
 * facebookresearch/sam2 @ 2b90b9f `sam2/configs/sam2.1/*.yaml` and bowang-lab/MedSAM2 @ 332f30d
 * `sam2/configs/sam2.1_hiera_t512.yaml`; the five differ only in the trunk, the neck's channel
 * list, the image size and the RoPE grid, so one template renders them all.
 */
export const BUILTIN_CONFIG_IDS = ['sam2.1_hiera_t', 'sam2.1_hiera_s', 'sam2.1_hiera_b+', 'sam2.1_hiera_l', 'sam2.1_hiera_t512'] as const;
export type BuiltinConfigId = (typeof BUILTIN_CONFIG_IDS)[number];

interface Variant {
  imageSize: number;
  /** Trunk keys exactly as the upstream YAML sets them (others take Hiera defaults). */
  trunk: string[];
  channels: number[];
}

const list = (xs: number[]) => `[${xs.join(', ')}]`;

const VARIANTS: Record<BuiltinConfigId, Variant> = {
  'sam2.1_hiera_t': {
    imageSize: 1024,
    trunk: [
      'embed_dim: 96',
      'num_heads: 1',
      'stages: [1, 2, 7, 2]',
      'global_att_blocks: [5, 7, 9]',
      'window_pos_embed_bkg_spatial_size: [7, 7]',
    ],
    channels: [768, 384, 192, 96],
  },
  'sam2.1_hiera_s': {
    imageSize: 1024,
    trunk: [
      'embed_dim: 96',
      'num_heads: 1',
      'stages: [1, 2, 11, 2]',
      'global_att_blocks: [7, 10, 13]',
      'window_pos_embed_bkg_spatial_size: [7, 7]',
    ],
    channels: [768, 384, 192, 96],
  },
  'sam2.1_hiera_b+': {
    imageSize: 1024,
    trunk: ['embed_dim: 112', 'num_heads: 2'],
    channels: [896, 448, 224, 112],
  },
  'sam2.1_hiera_l': {
    imageSize: 1024,
    trunk: [
      'embed_dim: 144',
      'num_heads: 2',
      'stages: [2, 6, 36, 4]',
      'global_att_blocks: [23, 33, 43]',
      'window_pos_embed_bkg_spatial_size: [7, 7]',
      'window_spec: [8, 4, 16, 8]',
    ],
    channels: [1152, 576, 288, 144],
  },
  'sam2.1_hiera_t512': {
    imageSize: 512,
    trunk: [
      'embed_dim: 96',
      'num_heads: 1',
      'stages: [1, 2, 7, 2]',
      'global_att_blocks: [5, 7, 9]',
      'window_pos_embed_bkg_spatial_size: [7, 7]',
    ],
    channels: [768, 384, 192, 96],
  },
};

function render(v: Variant): string {
  const grid = v.imageSize / 16; // the RoPE grid is the stride-16 feature map: 64 at 1024 px, 32 at 512 px
  const feat = list([grid, grid]);
  return `model:
  _target_: sam2.modeling.sam2_base.SAM2Base
  image_size: ${v.imageSize}
  num_maskmem: 7
  image_encoder:
    _target_: sam2.modeling.backbones.image_encoder.ImageEncoder
    scalp: 1
    trunk:
      _target_: sam2.modeling.backbones.hieradet.Hiera
${v.trunk.map((l) => `      ${l}`).join('\n')}
    neck:
      _target_: sam2.modeling.backbones.image_encoder.FpnNeck
      d_model: 256
      backbone_channel_list: ${list(v.channels)}
      fpn_top_down_levels: [2, 3]
      fpn_interp_model: nearest
      position_encoding:
        _target_: sam2.modeling.position_encoding.PositionEmbeddingSine
        num_pos_feats: 256
        normalize: true
        scale: null
        temperature: 10000
  memory_attention:
    _target_: sam2.modeling.memory_attention.MemoryAttention
    d_model: 256
    pos_enc_at_input: true
    num_layers: 4
    layer:
      _target_: sam2.modeling.memory_attention.MemoryAttentionLayer
      activation: relu
      d_model: 256
      dim_feedforward: 2048
      dropout: 0.1
      pos_enc_at_attn: false
      pos_enc_at_cross_attn_keys: true
      pos_enc_at_cross_attn_queries: false
      self_attention:
        _target_: sam2.modeling.sam.transformer.RoPEAttention
        embedding_dim: 256
        num_heads: 1
        downsample_rate: 1
        dropout: 0.1
        rope_theta: 10000.0
        feat_sizes: ${feat}
      cross_attention:
        _target_: sam2.modeling.sam.transformer.RoPEAttention
        embedding_dim: 256
        num_heads: 1
        downsample_rate: 1
        dropout: 0.1
        kv_in_dim: 64
        rope_theta: 10000.0
        rope_k_repeat: true
        feat_sizes: ${feat}
  memory_encoder:
    _target_: sam2.modeling.memory_encoder.MemoryEncoder
    out_dim: 64
    position_encoding:
      _target_: sam2.modeling.position_encoding.PositionEmbeddingSine
      num_pos_feats: 64
      normalize: true
      scale: null
      temperature: 10000
    mask_downsampler:
      _target_: sam2.modeling.memory_encoder.MaskDownSampler
      kernel_size: 3
      stride: 2
      padding: 1
    fuser:
      _target_: sam2.modeling.memory_encoder.Fuser
      num_layers: 2
      layer:
        _target_: sam2.modeling.memory_encoder.CXBlock
        dim: 256
        kernel_size: 7
        padding: 3
        layer_scale_init_value: 1.0e-6
        use_dwconv: true
  sigmoid_scale_for_mem_enc: 20.0
  sigmoid_bias_for_mem_enc: -10.0
  use_mask_input_as_output_without_sam: true
  directly_add_no_mem_embed: true
  no_obj_embed_spatial: true
  use_high_res_features_in_sam: true
  multimask_output_in_sam: true
  iou_prediction_use_sigmoid: true
  use_obj_ptrs_in_encoder: true
  add_tpos_enc_to_obj_ptrs: true
  proj_tpos_enc_in_obj_ptrs: true
  use_signed_tpos_enc_to_obj_ptrs: true
  only_obj_ptrs_in_the_past_for_eval: true
  pred_obj_scores: true
  pred_obj_scores_mlp: true
  fixed_no_obj_ptr: true
  multimask_output_for_tracking: true
  use_multimask_token_for_obj_ptr: true
  multimask_min_pt_num: 0
  multimask_max_pt_num: 1
  use_mlp_for_obj_ptr_proj: true
  compile_image_encoder: false
`;
}

export function isBuiltinConfigId(id: string): id is BuiltinConfigId {
  return (BUILTIN_CONFIG_IDS as readonly string[]).includes(id);
}

/** YAML text of a built-in config (the same shape as the upstream files, without comments). */
export function builtinConfigYaml(id: BuiltinConfigId): string {
  return render(VARIANTS[id]);
}

export function builtinSam2Config(id: BuiltinConfigId): Sam2Config {
  return parseSam2Config(builtinConfigYaml(id), `built-in config ${id}`);
}

/**
 * A SAM2 YAML file by path (a resource of the platform: a file path in Node, a URL or added File
 * on the web), else a built-in config by id (upstream spellings such as
 * `configs/sam2.1/sam2.1_hiera_t.yaml` or `sam2.1_hiera_tiny` are accepted).
 */
export async function loadSam2Config(idOrPath: string): Promise<Sam2Config> {
  const platform = getPlatform();
  const info = await platform.resourceInfo(idOrPath);
  if (info && !info.isFolder)
    return parseSam2Config(new TextDecoder().decode(await platform.readResource(idOrPath, 'model config')), idOrPath);
  const id = normalizeConfigId(idOrPath);
  if (id) return builtinSam2Config(id);
  throw new MedsamError(
    `config ${idOrPath} is neither a built-in config nor an existing file`,
    `use one of ${BUILTIN_CONFIG_IDS.join(', ')} or a path to a SAM2 YAML`,
  );
}

const ALIASES: Record<string, BuiltinConfigId> = {
  'sam2.1_hiera_tiny': 'sam2.1_hiera_t',
  'sam2.1_hiera_small': 'sam2.1_hiera_s',
  'sam2.1_hiera_base_plus': 'sam2.1_hiera_b+',
  'sam2.1_hiera_large': 'sam2.1_hiera_l',
};

/** Map an id, alias or upstream config name (folders and `.yaml` dropped) to a built-in id. */
export function normalizeConfigId(s: string): BuiltinConfigId | undefined {
  const base = s.replace(/^.*[\\/]/, '').replace(/\.ya?ml$/, '');
  return isBuiltinConfigId(base) ? base : ALIASES[base];
}
