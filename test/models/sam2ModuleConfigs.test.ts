import '../helpers/nodePlatform.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load as loadYaml } from 'js-yaml';
import { MedsamError } from '../../src/common/errors.js';
import { sam2ConfigsFromYaml } from '../../src/models/sam2/compile.js';
import { BUILTIN_CONFIG_IDS, builtinConfigYaml } from '../../src/models/sam2/configs/builtin.js';
import { canonicalJson } from '../../src/common/canonicalJson.js';
import { samHeadsConfigFromModelNode } from '../../src/models/sam2/graphs/samHeadsConfig.js';
import { predictorConfigFromYaml } from '../../src/models/sam2/predictorConfig.js';

/**
 * The per-module configs are mappings from Sam2Config. These hashes were taken from the output of
 * the former per-module YAML readers (before they became mappings); the graph cache key hashes the
 * same JSON, so a change here means cached graphs change too: update the hash AND bump BUILDER_VERSION.
 */
const PINNED: Record<string, string> = {
  'sam2.1_hiera_t': 'f19bad9744f521e6',
  'sam2.1_hiera_s': '6493033683f843a7',
  'sam2.1_hiera_b+': '0bfa3925a410176b',
  'sam2.1_hiera_l': '10156546d3b48346',
  'sam2.1_hiera_t512': '3004e925b65c1ddc',
  'micro512.yaml': '220e1abc5e6d9d22',
  'tiny512.yaml': '3004e925b65c1ddc',
};

const FIX = process.env.MEDSAM2_SAM2_FIXTURES ?? '../shared/fixtures/sam2';
const hash = (v: unknown) => createHash('sha256').update(canonicalJson(v)).digest('hex').slice(0, 16);
const isErr = (re: RegExp) => (e: unknown) => e instanceof MedsamError && re.test(e.message);

test('module configs of every built-in config match the former readers', () => {
  for (const id of BUILTIN_CONFIG_IDS) assert.equal(hash(sam2ConfigsFromYaml(builtinConfigYaml(id))), PINNED[id], id);
});

for (const name of ['micro512.yaml', 'tiny512.yaml']) {
  const p = join(FIX, name);
  test(`module configs of fixture ${name} match the former readers`, { skip: !existsSync(p) && `needs ${FIX}/${name}` }, () => {
    assert.equal(hash(sam2ConfigsFromYaml(readFileSync(p, 'utf8'))), PINNED[name]);
  });
}

test('MedSAM2 video-predictor overrides reach the SAM heads and predictor views', () => {
  const text = builtinConfigYaml('sam2.1_hiera_t512');
  const c = sam2ConfigsFromYaml(text);
  assert.equal(c.samHeads.dynamicMultimaskViaStability, true);
  assert.equal(c.samHeads.dynamicMultimaskStabilityDelta, 0.05);
  assert.equal(c.samHeads.dynamicMultimaskStabilityThresh, 0.98);
  assert.equal(c.predictor.binarizeMaskFromPtsForMemEnc, true);
  // without the builder overrides the YAML (no sam_mask_decoder_extra_args) gives constructor defaults
  assert.equal(samHeadsConfigFromModelNode(loadYaml(text), { applyPostprocessing: false }).dynamicMultimaskViaStability, false);
  assert.equal(predictorConfigFromYaml(text, { applyPostprocessing: false }).binarizeMaskFromPtsForMemEnc, false);
  // derived values come from the one parsed config
  assert.deepEqual(c.imageEncoder.neck.topDownLevels, [2, 3]);
  assert.equal(c.memory.memDim, 64);
  assert.equal(c.samHeads.hiddenDim, 256);
});

test('features the graph builders lack are rejected with one-line errors', () => {
  const text = builtinConfigYaml('sam2.1_hiera_t512');
  const edit = (from: RegExp, to: string) => {
    const t = text.replace(from, to);
    assert.notEqual(t, text, String(from));
    return t;
  };
  assert.throws(
    () => sam2ConfigsFromYaml(edit(/fpn_interp_model: nearest/, 'fpn_interp_model: bicubic')),
    isErr(/fpn_interp_model: bicubic/),
  );
  assert.throws(() => sam2ConfigsFromYaml(edit(/activation: relu/, 'activation: glu')), isErr(/activation 'glu'/));
  assert.throws(() => sam2ConfigsFromYaml(edit(/num_maskmem: 7/, 'num_maskmem: 0')), isErr(/num_maskmem 0/));
  assert.throws(
    () => sam2ConfigsFromYaml(edit(/(_target_: sam2\.modeling\.backbones\.hieradet\.Hiera)/, '$1\n      return_interm_layers: false')),
    isErr(/return_interm_layers/),
  );
});
