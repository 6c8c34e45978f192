import '../helpers/nodePlatform.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MedsamError } from '../../src/common/errors.js';
import { loadCheckpoint } from '../../src/models/checkpoint/index.js';
import {
  canonicalSam2ConfigJson,
  parseSam2Config,
  sam2ConfigHash,
  withVideoPredictorOverrides,
  type Sam2Config,
} from '../../src/models/sam2/config.js';
import {
  BUILTIN_CONFIG_IDS,
  builtinConfigYaml,
  builtinSam2Config,
  loadSam2Config,
  normalizeConfigId,
} from '../../src/models/sam2/configs/builtin.js';
import { SAM2_ZOO, findZooEntry, identifyCheckpoint } from '../../src/models/zoo.js';

const FIX = process.env.MEDSAM2_SAM2_FIXTURES ?? '../shared/fixtures/sam2';
const MICRO = join(FIX, 'micro512.yaml');
const TINY = join(FIX, 'tiny512.yaml');
const skip = !existsSync(MICRO) && 'needs ../shared/fixtures/sam2';
const isErr = (re: RegExp) => (e: unknown) => e instanceof MedsamError && re.test(e.message) && !e.message.includes('\n');

test('micro512.yaml parses, including its two extra keys, with upstream defaults elsewhere', { skip }, () => {
  const c = parseSam2Config(readFileSync(MICRO, 'utf8'), MICRO);
  assert.equal(c.imageSize, 512);
  assert.equal(c.memoryEncoder.inDim, 64);
  assert.equal(c.memoryEncoder.maskDownsampler.embedDim, 64);
  assert.equal(c.memoryEncoder.outDim, 16);
  assert.deepEqual(c.imageEncoder.trunk.stages, [1, 2, 7, 2]);
  assert.deepEqual(c.imageEncoder.trunk.windowSpec, [8, 4, 14, 7]); // Hiera default
  assert.equal(c.imageEncoder.trunk.qPool, 3); // Hiera default
  assert.deepEqual(c.derived.stageDims, [16, 32, 64, 128]);
  assert.deepEqual(c.derived.stageHeads, [1, 2, 4, 8]);
  assert.equal(c.derived.hiddenDim, 64);
  assert.equal(c.derived.memDim, 16);
  assert.equal(c.derived.samImageEmbeddingSize, 32);
  assert.equal(c.memoryAttention.layer.selfAttention.kvInDim, 64); // defaults to embedding_dim
  assert.equal(c.memoryAttention.layer.crossAttention.kvInDim, 16);
  assert.equal(c.memoryAttention.layer.crossAttention.ropeKRepeat, true);
  assert.equal(c.memoryAttention.layer.selfAttention.ropeKRepeat, false);
  assert.equal(c.maxObjPtrsInEncoder, 16); // SAM2Base default
  assert.equal(c.backboneStride, 16);
  assert.equal(c.softNoObjPtr, false);
  assert.equal(c.binarizeMaskFromPtsForMemEnc, false);
  assert.equal(c.memoryEncoder.maskDownsampler.totalStride, 16);
  assert.equal(c.memoryEncoder.maskDownsampler.numLayers, 4);
  assert.equal(c.memoryEncoder.fuser.layer.layerScaleInitValue, 1e-6);
  assert.equal(c.imageEncoder.neck.positionEncoding.scale, 2 * Math.PI);
  assert.deepEqual(c.samMaskDecoderExtraArgs, {
    dynamicMultimaskViaStability: false,
    dynamicMultimaskStabilityDelta: 0.05,
    dynamicMultimaskStabilityThresh: 0.98,
  });
});

test('tiny512.yaml parses and equals the built-in sam2.1_hiera_t512', { skip }, async () => {
  const c = parseSam2Config(readFileSync(TINY, 'utf8'), TINY);
  assert.equal(c.memoryEncoder.inDim, 256); // MemoryEncoder default
  assert.equal(c.memoryEncoder.maskDownsampler.embedDim, 256); // MaskDownSampler default
  assert.deepEqual(c.derived.stageDims, [96, 192, 384, 768]);
  assert.equal(c.derived.memDim, 64);
  const b = builtinSam2Config('sam2.1_hiera_t512');
  assert.deepEqual(b, c);
  assert.equal(canonicalSam2ConfigJson(b), canonicalSam2ConfigJson(c));
  assert.equal(await sam2ConfigHash(b), await sam2ConfigHash(c));
  // The micro config really is a different model.
  assert.notEqual(await sam2ConfigHash(parseSam2Config(readFileSync(MICRO, 'utf8'))), await sam2ConfigHash(c));
});

test('config and checkpoint agree: derived widths match micro512.pt tensor shapes', {
  skip: (skip || !existsSync(join(FIX, 'micro512.pt'))) && 'needs ../shared/fixtures/sam2',
}, async () => {
  const c = parseSam2Config(readFileSync(MICRO, 'utf8'));
  const t = (await loadCheckpoint(join(FIX, 'micro512.pt'))).tensors;
  const shape = (k: string) => t.get(k)?.shape;
  const d = c.derived;
  assert.deepEqual(shape('maskmem_tpos_enc'), [c.numMaskmem, 1, 1, d.memDim]);
  assert.deepEqual(shape('no_obj_embed_spatial'), [1, d.memDim]);
  assert.deepEqual(shape('obj_ptr_tpos_proj.weight'), [d.memDim, d.hiddenDim]);
  assert.deepEqual(shape('image_encoder.trunk.patch_embed.proj.weight'), [d.stageDims[0], 3, 7, 7]);
  const nBlocks = c.imageEncoder.trunk.stages.reduce((a, b) => a + b, 0);
  assert.ok(t.has(`image_encoder.trunk.blocks.${nBlocks - 1}.attn.qkv.weight`));
  assert.ok(!t.has(`image_encoder.trunk.blocks.${nBlocks}.attn.qkv.weight`));
  assert.deepEqual(shape(`image_encoder.trunk.blocks.${nBlocks - 1}.attn.qkv.weight`), [3 * d.stageDims[3], d.stageDims[3]]);
  assert.deepEqual(shape('memory_encoder.out_proj.weight'), [c.memoryEncoder.outDim, c.memoryEncoder.inDim, 1, 1]);
  assert.deepEqual(shape('sam_mask_decoder.transformer.layers.0.mlp.layers.0.weight'), [d.samHeads.transformerMlpDim, d.hiddenDim]);
  assert.deepEqual(shape('sam_prompt_encoder.mask_downscaling.0.weight'), [d.samHeads.maskInChans / 4, 1, 2, 2]);
});

test('all built-in configs parse with the expected trunks', async () => {
  const expect: Record<string, [number, number[], number, number[]]> = {
    'sam2.1_hiera_t': [96, [1, 2, 7, 2], 1024, [5, 7, 9]],
    'sam2.1_hiera_s': [96, [1, 2, 11, 2], 1024, [7, 10, 13]],
    'sam2.1_hiera_b+': [112, [2, 3, 16, 3], 1024, [12, 16, 20]],
    'sam2.1_hiera_l': [144, [2, 6, 36, 4], 1024, [23, 33, 43]],
    'sam2.1_hiera_t512': [96, [1, 2, 7, 2], 512, [5, 7, 9]],
  };
  const hashes = new Set<string>();
  for (const id of BUILTIN_CONFIG_IDS) {
    const c = builtinSam2Config(id);
    const [e, stages, size, glob] = expect[id];
    assert.equal(c.imageEncoder.trunk.embedDim, e, id);
    assert.deepEqual(c.imageEncoder.trunk.stages, stages, id);
    assert.deepEqual(c.imageEncoder.trunk.globalAttBlocks, glob, id);
    assert.equal(c.imageSize, size, id);
    assert.deepEqual(c.memoryAttention.layer.selfAttention.featSizes, [size / 16, size / 16], id);
    assert.equal(c.derived.memDim, 64);
    hashes.add(await sam2ConfigHash(c));
    assert.doesNotMatch(builtinConfigYaml(id), /#/); // our own text, no upstream comments
  }
  assert.equal(hashes.size, 5);
  assert.deepEqual(builtinSam2Config('sam2.1_hiera_b+').imageEncoder.trunk.windowPosEmbedBkgSpatialSize, [14, 14]);
  assert.deepEqual(builtinSam2Config('sam2.1_hiera_l').imageEncoder.trunk.windowSpec, [8, 4, 16, 8]);
  assert.equal(normalizeConfigId('configs/sam2.1/sam2.1_hiera_t.yaml'), 'sam2.1_hiera_t');
  assert.equal(normalizeConfigId('sam2.1_hiera_base_plus'), 'sam2.1_hiera_b+');
  assert.equal((await loadSam2Config('sam2.1_hiera_t512.yaml')).imageSize, 512);
  await assert.rejects(loadSam2Config('nope.yaml'), isErr(/neither a built-in config nor an existing file/));
});

test('loadSam2Config reads a path; canonical JSON ignores YAML key order', { skip }, async () => {
  const c = await loadSam2Config(MICRO);
  assert.equal(c.derived.hiddenDim, 64);
  // Reverse the order of the top-level model keys: same config, same canonical JSON.
  const text = readFileSync(MICRO, 'utf8');
  const reordered = text.replace(/  num_maskmem: 7\n  image_size: 512\n/, '  image_size: 512\n  num_maskmem: 7\n');
  assert.notEqual(reordered, text);
  assert.equal(canonicalSam2ConfigJson(parseSam2Config(reordered)), canonicalSam2ConfigJson(c));
});

test('video predictor overrides are applied as build_sam2_video_predictor_npz does', async () => {
  const base = builtinSam2Config('sam2.1_hiera_t512');
  const v = withVideoPredictorOverrides(base, 0);
  assert.equal(v.samMaskDecoderExtraArgs.dynamicMultimaskViaStability, true);
  assert.equal(v.binarizeMaskFromPtsForMemEnc, true);
  assert.equal(v.videoPredictor.fillHoleArea, 0);
  assert.equal(withVideoPredictorOverrides(base).videoPredictor.fillHoleArea, 8);
  assert.equal(base.binarizeMaskFromPtsForMemEnc, false); // not mutated
  assert.notEqual(await sam2ConfigHash(v), await sam2ConfigHash(base));
  // The same overrides written into the YAML (hydra ++ style) give the same config.
  const yaml = builtinConfigYaml('sam2.1_hiera_t512').replace(
    'model:\n  _target_: sam2.modeling.sam2_base.SAM2Base\n',
    'model:\n  _target_: sam2.sam2_video_predictor_npz.SAM2VideoPredictorNPZ\n  binarize_mask_from_pts_for_mem_enc: true\n  fill_hole_area: 0\n' +
      '  sam_mask_decoder_extra_args:\n    dynamic_multimask_via_stability: true\n    dynamic_multimask_stability_delta: 0.05\n    dynamic_multimask_stability_thresh: 0.98\n',
  );
  const fromYaml: Sam2Config = parseSam2Config(yaml);
  assert.equal(fromYaml.target, 'sam2.sam2_video_predictor_npz.SAM2VideoPredictorNPZ');
  assert.deepEqual({ ...fromYaml, target: v.target }, v);
});

test('bad configs fail with one-line MedsamErrors naming the YAML path', () => {
  const y = builtinConfigYaml('sam2.1_hiera_t512');
  assert.throws(
    () => parseSam2Config(y.replace('sam2.modeling.backbones.hieradet.Hiera', 'sam2.modeling.backbones.vitdet.ViT'), 'x.yaml'),
    isErr(
      /^x\.yaml: 'model\.image_encoder\.trunk\._target_' is sam2\.modeling\.backbones\.vitdet\.ViT, which medsam2\.js does not implement/,
    ),
  );
  assert.throws(
    () => parseSam2Config(y.replace('_target_: sam2.modeling.sam2_base.SAM2Base', '_target_: training.model.sam2.SAM2Train')),
    isErr(/'model\._target_' is training\.model\.sam2\.SAM2Train/),
  );
  assert.throws(
    () => parseSam2Config(y.replace('      embed_dim: 96\n', '      embed_dimm: 96\n')),
    isErr(/'model\.image_encoder\.trunk\.embed_dimm' is not a parameter/),
  );
  assert.throws(() => parseSam2Config(y.replace('    out_dim: 64\n', '')), isErr(/'model\.memory_encoder\.out_dim' is missing/));
  assert.throws(() => parseSam2Config(y.replace('num_maskmem: 7', 'num_maskmem: seven')), isErr(/'model\.num_maskmem' is not a number/));
  assert.throws(
    () => parseSam2Config(y.replace('backbone_channel_list: [768, 384, 192, 96]', 'backbone_channel_list: [768, 384, 192, 48]')),
    isErr(/backbone_channel_list \[768,384,192,48\] does not match the trunk's stage widths \[768,384,192,96\]/),
  );
  assert.throws(
    () => parseSam2Config(y.replace('      d_model: 256\n      backbone', '      d_model: 64\n      backbone')),
    isErr(/memory_encoder\.in_dim \(256\) must equal the neck d_model \(64\)/),
  );
  assert.throws(
    () => parseSam2Config(y.replace('num_maskmem: 7', 'num_maskmem: ${scratch.num_maskmem}')),
    isErr(/unresolved interpolation/),
  );
  assert.throws(() => parseSam2Config('model: [1, 2'), isErr(/is not valid YAML/));
  assert.throws(() => parseSam2Config('foo: 1'), isErr(/has no 'model:' section/));
  assert.throws(
    () => parseSam2Config(y.replace('activation: relu', 'activation: swish')),
    isErr(/activation' is "swish"; supported: relu, gelu, glu/),
  );
});

test('model zoo: every entry names a built-in config; checkpoints are identified by sha256 and size', () => {
  assert.equal(SAM2_ZOO.length, 9);
  assert.equal(new Set(SAM2_ZOO.map((e) => e.id)).size, SAM2_ZOO.length);
  for (const e of SAM2_ZOO) {
    assert.ok((BUILTIN_CONFIG_IDS as readonly string[]).includes(e.configId), e.id);
    assert.ok(e.sha256 === null || /^[0-9a-f]{64}$/.test(e.sha256), e.id);
    assert.ok(e.url.endsWith(`/${e.fileName}`), e.id);
    assert.equal(e.family, 'sam2');
  }
  const latest = identifyCheckpoint('C92743B99F00D078BF32A3AFCC38AAA9FAF1C1692DFFE3EAA7A90938C1991060', 156040129);
  assert.equal(latest?.fileName, 'MedSAM2_latest.pt');
  assert.equal(latest?.configId, 'sam2.1_hiera_t512');
  assert.equal(identifyCheckpoint('7402e0d864fa82708a20fbd15bc84245c2f26dff0eb43a4b5b93452deb34be69')?.configId, 'sam2.1_hiera_t');
  assert.equal(identifyCheckpoint('7402e0d864fa82708a20fbd15bc84245c2f26dff0eb43a4b5b93452deb34be69', 123), undefined); // size mismatch
  assert.equal(identifyCheckpoint('0'.repeat(64)), undefined);
  assert.equal(findZooEntry('/models/MedSAM2_CTLesion.pt')?.configId, 'sam2.1_hiera_t512');
  assert.equal(findZooEntry('sam2.1_hiera_large')?.configId, 'sam2.1_hiera_l');
  assert.equal(findZooEntry('unknown.pt'), undefined);
});

test('the fixture checkpoints are random-weight models, not zoo entries', {
  skip: (skip || !existsSync(join(FIX, 'micro512_box_bidir.json'))) && 'needs ../shared/fixtures/sam2',
}, () => {
  const sha = JSON.parse(readFileSync(join(FIX, 'micro512_box_bidir.json'), 'utf8')).checkpoint_sha256;
  assert.match(sha, /^[0-9a-f]{64}$/);
  assert.equal(identifyCheckpoint(sha), undefined);
});
