import { load as loadYaml } from 'js-yaml';
import { MedsamError } from '../../../common/errors.js';

/**
 * The config fields the SAM2 image encoder needs (Hiera trunk, FpnNeck, scalp, conv_s0/conv_s1),
 * read from a SAM2 YAML `model:` node with the upstream constructor defaults for omitted keys
 * (hieradet.Hiera, image_encoder.FpnNeck/ImageEncoder, PositionEmbeddingSine, SAM2Base).
 * Kept local until a shared Sam2Config covers them; this is the only place that knows the YAML layout.
 */
export interface HieraTrunkConfig {
  embedDim: number;
  numHeads: number;
  /** Blocks per stage. */
  stages: number[];
  /** Number of stage transitions that pool q (the first qPool ones). */
  qPool: number;
  qStride: [number, number];
  dimMul: number;
  headMul: number;
  /** pos_embed background grid (h, w), bicubically resized to the patch grid. */
  windowPosEmbedBkgSpatialSize: [number, number];
  /** Window size per stage (0 = global). */
  windowSpec: number[];
  /** Blocks with global attention (window 0). */
  globalAttBlocks: number[];
}

export interface SinePositionConfig {
  numPosFeats: number;
  temperature: number;
  normalize: boolean;
  scale: number;
}

export interface FpnNeckConfig {
  dModel: number;
  /** Trunk channels from lowest to highest resolution (upstream order). */
  backboneChannelList: number[];
  kernelSize: number;
  stride: number;
  padding: number;
  interpMode: 'nearest' | 'bilinear';
  fuseType: 'sum' | 'avg';
  /** Levels (0 = highest resolution) that receive top-down features. */
  topDownLevels: number[];
  positionEncoding: SinePositionConfig;
}

export interface ImageEncoderConfig {
  imageSize: number;
  backboneStride: number;
  /** Number of lowest-resolution FPN levels dropped. */
  scalp: number;
  useHighResFeaturesInSam: boolean;
  trunk: HieraTrunkConfig;
  neck: FpnNeckConfig;
}

type Node = Record<string, unknown> | undefined;

const hint = 'use a complete SAM2 model YAML (e.g. sam2.1_hiera_t512.yaml)';

function num(node: Node, key: string, dflt: number | undefined, where: string): number {
  const v = node?.[key];
  if (v === undefined || v === null) {
    if (dflt === undefined) throw new MedsamError(`SAM2 config has no '${where}.${key}'`, hint);
    return dflt;
  }
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new MedsamError(`SAM2 config '${where}.${key}' is not a number (${String(v)})`, 'fix the model YAML');
  return n;
}

function ints(node: Node, key: string, dflt: number[] | undefined, where: string): number[] {
  const v = node?.[key];
  if (v === undefined || v === null) {
    if (dflt === undefined) throw new MedsamError(`SAM2 config has no '${where}.${key}'`, hint);
    return [...dflt];
  }
  if (!Array.isArray(v) || v.some((e) => !Number.isInteger(Number(e)))) {
    throw new MedsamError(`SAM2 config '${where}.${key}' is not a list of integers (${JSON.stringify(v)})`, 'fix the model YAML');
  }
  return v.map(Number);
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

function pair(v: number[], where: string): [number, number] {
  if (v.length !== 2) throw new MedsamError(`SAM2 config '${where}' must have 2 entries, has ${v.length}`, 'fix the model YAML');
  return [v[0]!, v[1]!];
}

function checkTarget(node: Node, suffix: string, where: string): void {
  const target = String(node?.['_target_'] ?? '');
  if (target && !target.endsWith(suffix)) {
    throw new MedsamError(`SAM2 config '${where}' is ${target}; only ${suffix} is supported`, 'use a SAM2 / SAM2.1 Hiera model YAML');
  }
}

/** Read the image-encoder config from a parsed YAML document (`{ model: {...} }`) or its `model` node. */
export function imageEncoderConfigFromModelNode(doc: unknown): ImageEncoderConfig {
  const root = doc as Node;
  const model = child(root, 'model') ?? root;
  const ie = child(model, 'image_encoder');
  if (!ie) throw new MedsamError("SAM2 config has no 'model.image_encoder'", hint);
  const trunkNode = child(ie, 'trunk');
  const neckNode = child(ie, 'neck');
  if (!trunkNode || !neckNode) throw new MedsamError("SAM2 config has no 'model.image_encoder.trunk' / '.neck'", hint);
  checkTarget(trunkNode, 'Hiera', 'model.image_encoder.trunk');
  checkTarget(neckNode, 'FpnNeck', 'model.image_encoder.neck');
  const tw = 'model.image_encoder.trunk';
  const nw = 'model.image_encoder.neck';

  const stages = ints(trunkNode, 'stages', [2, 3, 16, 3], tw);
  const trunk: HieraTrunkConfig = {
    embedDim: num(trunkNode, 'embed_dim', 96, tw),
    numHeads: num(trunkNode, 'num_heads', 1, tw),
    stages,
    qPool: num(trunkNode, 'q_pool', 3, tw),
    qStride: pair(ints(trunkNode, 'q_stride', [2, 2], tw), `${tw}.q_stride`),
    dimMul: num(trunkNode, 'dim_mul', 2.0, tw),
    headMul: num(trunkNode, 'head_mul', 2.0, tw),
    windowPosEmbedBkgSpatialSize: pair(ints(trunkNode, 'window_pos_embed_bkg_spatial_size', [14, 14], tw), `${tw}.window_pos_embed_bkg_spatial_size`),
    windowSpec: ints(trunkNode, 'window_spec', [8, 4, 14, 7], tw),
    globalAttBlocks: ints(trunkNode, 'global_att_blocks', [12, 16, 20], tw),
  };
  if (trunk.windowSpec.length !== stages.length) {
    throw new MedsamError(`SAM2 config '${tw}.window_spec' has ${trunk.windowSpec.length} entries for ${stages.length} stages`, 'give one window size per stage');
  }
  if (trunkNode['return_interm_layers'] === false) {
    throw new MedsamError(`SAM2 config '${tw}.return_interm_layers: false' is not supported`, 'the FPN neck needs every stage output; remove the key');
  }

  const pe = child(neckNode, 'position_encoding');
  checkTarget(pe, 'PositionEmbeddingSine', `${nw}.position_encoding`);
  const scale = pe?.['scale'];
  const interp = String(neckNode['fpn_interp_model'] ?? 'bilinear');
  if (interp !== 'nearest' && interp !== 'bilinear') {
    throw new MedsamError(`SAM2 config '${nw}.fpn_interp_model: ${interp}' is not supported`, "use 'nearest' or 'bilinear'");
  }
  const fuse = String(neckNode['fuse_type'] ?? 'sum');
  if (fuse !== 'sum' && fuse !== 'avg') throw new MedsamError(`SAM2 config '${nw}.fuse_type: ${fuse}' is not supported`, "use 'sum' or 'avg'");
  const channels = ints(neckNode, 'backbone_channel_list', undefined, nw);
  const neck: FpnNeckConfig = {
    dModel: num(neckNode, 'd_model', undefined, nw),
    backboneChannelList: channels,
    kernelSize: num(neckNode, 'kernel_size', 1, nw),
    stride: num(neckNode, 'stride', 1, nw),
    padding: num(neckNode, 'padding', 0, nw),
    interpMode: interp,
    fuseType: fuse,
    // upstream default (None) = top-down on every level
    topDownLevels: ints(neckNode, 'fpn_top_down_levels', channels.map((_, i) => i), nw),
    positionEncoding: {
      numPosFeats: num(pe, 'num_pos_feats', undefined, `${nw}.position_encoding`),
      temperature: num(pe, 'temperature', 10000, `${nw}.position_encoding`),
      normalize: bool(pe, 'normalize', true),
      scale: scale === undefined || scale === null ? 2 * Math.PI : Number(scale),
    },
  };

  return {
    imageSize: num(model, 'image_size', 512, 'model'),
    backboneStride: num(model, 'backbone_stride', 16, 'model'),
    scalp: num(ie, 'scalp', 0, 'model.image_encoder'),
    useHighResFeaturesInSam: bool(model, 'use_high_res_features_in_sam', false),
    trunk,
    neck,
  };
}

/** Parse a SAM2 model YAML text and read the image-encoder config from it. */
export function imageEncoderConfigFromYaml(text: string): ImageEncoderConfig {
  return imageEncoderConfigFromModelNode(loadYaml(text));
}
