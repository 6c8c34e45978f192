import '../helpers/nodePlatform.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OrtSession } from '../../src/engine/ortSession.js';
import { buildMemoryEncoderGraph, MEMORY_ENCODER_IO } from '../../src/models/sam2/graphs/memoryEncoder.js';
import { fixtureDir, moduleFixtureCases, type FixtureCase } from '../helpers/sam2Fixtures.js';
import {
  anyHalf,
  bf16Round,
  bf16UlpViolations,
  compare,
  describe,
  f32,
  firstTrackSession,
  loadMemoryCase,
  outputKeys,
  stateFrame,
  tokensToNchw,
} from '../helpers/sam2MemoryCase.js';

/**
 * Memory encoder parity (SAM2Base._encode_new_memory + MemoryEncoder) on the module tensors of every
 * fixture case that has them: c0 = the prompted frame (preflight, binarised consolidated mask),
 * c1 = the first tracked frame (sigmoid of the upsampled tracked logits). Each call is fed the
 * recorded low-res logits / object score and the recorded image features, and compared with the
 * module outputs and the bf16 state copy.
 */
const cases = moduleFixtureCases();
test('memory encoder parity fixtures', { skip: cases.length === 0 && `needs ${fixtureDir()} (SAM2 fixtures)` }, () => {
  assert.ok(cases.length > 0);
});

interface CallSetup {
  pixFeat: Float32Array;
  lowRes: Float32Array;
  score: Float32Array;
  binarize: boolean;
  halfInputs: boolean;
}

async function setup(c: FixtureCase, call: 0 | 1): Promise<CallSetup> {
  const mc = await loadMemoryCase(c);
  const sess = firstTrackSession(c);
  const frame = stateFrame(c, call);
  const keys = outputKeys(c, sess.propagateStep, frame);
  const side = mc.cfg.imageSize / mc.cfg.backboneStride;
  let pixFeat: Float32Array;
  let featKey: string;
  if (call === 0) {
    // The prompted frame's features: image encoder c0 backbone_fpn[2] (= vision_features).
    featKey = Object.keys(c.manifest.module_tensors).find((k) => {
      const e = c.manifest.module_tensors[k];
      return e.module === 'image_encoder' && e.call === 0 && e.position === 'backbone_fpn[2]';
    })!;
    assert.ok(featKey, 'image encoder c0 backbone_fpn[2] is listed');
    pixFeat = f32(mc, featKey);
  } else {
    // The tracked frame's features are not stored, but memory attention c0 runs on the same frame
    // and its `curr` input is those features as (HW,1,C) tokens.
    featKey = 'mod_memory_attention_c0_in_0';
    assert.equal(
      sess.yielded.find((f) => !sess.inputFrames.includes(f)),
      frame,
      'memory encoder c1 runs on the first tracked frame',
    );
    pixFeat = tokensToNchw(f32(mc, featKey), side * side, mc.cfg.hiddenDim);
  }
  return {
    pixFeat,
    lowRes: f32(mc, keys.lowres_logits!),
    score: f32(mc, keys.object_score_logits!),
    binarize: sess.inputFrames.includes(frame),
    halfInputs: anyHalf(c, [featKey, keys.lowres_logits!]),
  };
}

for (const c of cases) {
  for (const call of [0, 1] as const) {
    test(`${c.id}: memory encoder c${call}`, async () => {
      const mc = await loadMemoryCase(c);
      const s = await setup(c, call);
      assert.equal(s.binarize, call === 0, 'c0 is the prompted frame (binarised), c1 a tracked frame (sigmoid)');
      const r = await mc.runner.encodeMemory({
        pixFeat: s.pixFeat,
        lowResMasks: s.lowRes,
        objectScoreLogits: s.score,
        binarize: s.binarize,
      });
      const outKey = `mod_memory_encoder_c${call}_out_0`;
      const feats = compare(r.maskmemFeatures, f32(mc, outKey), s.halfInputs || anyHalf(c, [outKey]));
      const pos = compare(r.maskmemPosEnc, f32(mc, `mod_memory_encoder_c${call}_out_1`), anyHalf(c, [`mod_memory_encoder_c${call}_out_1`]));
      const statePos = compare(r.maskmemPosEnc, f32(mc, `mod_state_maskmem_c${call}_out_1`), false);
      console.log(describe(`${c.id} c${call} vision_features`, feats));
      console.log(describe(`${c.id} c${call} vision_pos_enc[0]`, pos));
      assert.ok(feats.maxErr <= feats.bound, describe('vision_features', feats));
      assert.ok(pos.maxErr <= pos.bound, describe('vision_pos_enc', pos));
      assert.ok(statePos.maxErr <= statePos.bound, describe('state maskmem_pos_enc', statePos));

      // The state copy is bf16(features + no_obj_embed_spatial·(1 − is_obj)); compare at bf16 precision.
      const stateRef = f32(mc, `mod_state_maskmem_c${call}_out_0`);
      const ours = bf16Round(r.maskmemFeatures);
      const v = bf16UlpViolations(ours, stateRef);
      console.log(
        `${c.id} c${call} maskmem_features(bf16): ${v.exactDiffering} of ${stateRef.length} elements differ, ${v.count} by more than 1 bf16 ulp`,
      );
      if (s.halfInputs) {
        // fp16-stored inputs perturb the fp32 result by more than bf16 rounding: per element, allow the
        // fp16 module tolerance plus the bf16 rounding of the reference (≤ 2⁻⁸·|b|).
        const feat = f32(mc, outKey);
        const tol = compare(r.maskmemFeatures, feat, true).bound;
        let worst = 0;
        for (let i = 0; i < stateRef.length; i++)
          worst = Math.max(worst, Math.abs(r.maskmemFeatures[i]! - stateRef[i]!) - 2 ** -8 * Math.abs(stateRef[i]!));
        assert.ok(worst <= tol, `state maskmem_features: excess error ${worst} > ${tol}`);
      } else {
        assert.equal(v.count, 0, 'bf16 state features within 1 bf16 ulp');
      }
    });
  }

  test(`${c.id}: memory encoder mask_for_mem (in-graph upsample + binarise) equals the recorded c0 mask`, async () => {
    const mc = await loadMemoryCase(c);
    const key = 'mod_memory_encoder_c0_in_1';
    if (!mc.npz[key]) return assert.fail(`${c.id}: ${key} not stored`);
    const s = await setup(c, 0);
    const side = mc.cfg.imageSize / mc.cfg.backboneStride;
    const ms = Math.round(Math.sqrt(s.lowRes.length));
    const sess = await OrtSession.create(buildMemoryEncoderGraph(mc.cfg, mc.ws, { debugMaskForMem: true }), { threads: 2 });
    const io = MEMORY_ENCODER_IO;
    const out = await sess.runFloat32(
      {
        [io.pixFeat]: { data: s.pixFeat, dims: [1, mc.cfg.hiddenDim, side, side] },
        [io.lowResMasks]: { data: s.lowRes, dims: [1, 1, ms, ms] },
        [io.objectScoreLogits]: { data: s.score, dims: [1, 1] },
        [io.binarize]: { data: Float32Array.of(1), dims: [1] },
      },
      [io.maskForMem],
    );
    await sess.release();
    const got = out[io.maskForMem]!.data;
    const ref = f32(mc, key);
    assert.equal(got.length, ref.length);
    let differing = 0;
    for (let i = 0; i < ref.length; i++) if (got[i] !== ref[i]) differing++;
    console.log(`${c.id} mask_for_mem c0: ${differing} of ${ref.length} pixels differ`);
    // Values are exactly ±10; only pixels whose upsampled logit is within float noise of 0 may flip.
    assert.ok(differing <= ref.length * 1e-4, `${differing} pixels differ`);
    assert.ok(ref.some((v) => v === 10) && ref.some((v) => v === -10), 'the recorded mask has both values (a real test)');
  });
}
