import '../helpers/nodePlatform.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildMemoryGraphs, Sam2MemoryRunner } from '../../src/engine/sam2/memoryRunner.js';
import type { MemoryModulesConfig } from '../../src/models/sam2/graphs/memoryConfig.js';
import { axialRopeTables, ropeGrid } from '../../src/models/sam2/graphs/ropeAttention.js';
import { fixtureDir, maxAbsDiff, seededRandom, smallestModuleCase } from '../helpers/sam2Fixtures.js';
import { loadMemoryCase } from '../helpers/sam2MemoryCase.js';

/**
 * Behaviour the single-memory-frame fixtures cannot show: several memory frames (rope_k_repeat
 * tiling), other image sizes (1024 px: 64×64 grid, RoPE falls back to √N×√N like upstream), and the
 * RoPE tables against their float64 definition.
 */

test('axial RoPE tables: first dim/4 pairs rotate by column, last dim/4 by row, pairs interleaved', () => {
  const dim = 8;
  const [ex, ey] = [5, 3];
  const { cos, sin } = axialRopeTables(dim, ex, ey, 10000);
  assert.equal(cos.length, ex * ey * dim);
  for (let t = 0; t < ex * ey; t++) {
    const [tx, ty] = [t % ex, Math.floor(t / ex)];
    for (let j = 0; j < dim / 2; j++) {
      const f = 1 / 10000 ** ((4 * (j % (dim / 4))) / dim);
      const a = (j < dim / 4 ? tx : ty) * f;
      for (const [got, want] of [
        [cos[t * dim + 2 * j]!, Math.cos(a)],
        [cos[t * dim + 2 * j + 1]!, Math.cos(a)],
        [sin[t * dim + 2 * j]!, -Math.sin(a)],
        [sin[t * dim + 2 * j + 1]!, Math.sin(a)],
      ] as const) {
        assert.ok(Math.abs(got - want) < 1e-6, `t=${t} j=${j}: ${got} vs ${want}`);
      }
    }
  }
  const rc = {
    embeddingDim: 64,
    numHeads: 1,
    downsampleRate: 1,
    kvInDim: 64,
    ropeTheta: 1e4,
    featSizes: [32, 32] as [number, number],
    ropeKRepeat: false,
  };
  assert.deepEqual(ropeGrid(rc, 1024), [32, 32]);
  assert.deepEqual(ropeGrid(rc, 4096), [64, 64]);
  assert.throws(() => ropeGrid(rc, 1000), /not a square grid/);
});

// The smallest-checkpoint module case keeps this fast (no fixture names hard-coded).
const smallest = smallestModuleCase();
const skip = !smallest && `needs ${fixtureDir()} (SAM2 fixtures)`;

async function checkRepeatInvariance(runner: Sam2MemoryRunner, cfg: MemoryModulesConfig): Promise<void> {
  const side = cfg.imageSize / cfg.backboneStride;
  const hw = side * side;
  const C = cfg.hiddenDim;
  const Cm = cfg.memDim;
  const curr = seededRandom(hw * C, 1);
  const currPos = seededRandom(hw * C, 2);
  const frame = seededRandom(hw * Cm, 3);
  const framePos = seededRandom(hw * Cm, 4);
  const two = (x: Float32Array) => {
    const o = new Float32Array(2 * x.length);
    o.set(x);
    o.set(x, x.length);
    return o;
  };
  const one = await runner.attendMemory({ curr, currPos, memory: frame, memoryPos: framePos, numMemoryTokens: hw, numObjPtrTokens: 0 });
  const dup = await runner.attendMemory({
    curr,
    currPos,
    memory: two(frame),
    memoryPos: two(framePos),
    numMemoryTokens: 2 * hw,
    numObjPtrTokens: 0,
  });
  assert.equal(one.length, hw * C);
  assert.ok(one.every(Number.isFinite));
  // Attending to two identical memory frames equals attending to one only if both copies get the
  // same per-token rotation (upstream repeats the query grid's frequencies per memory frame).
  const d = maxAbsDiff(one, dup);
  assert.ok(d < 1e-4, `duplicated memory frame changed the output by ${d}`);
  // A shifted second copy (different rotation per token) must change it: the check above is not vacuous.
  const shifted = two(frame);
  shifted.copyWithin(hw * Cm, hw * Cm + Cm);
  const s = await runner.attendMemory({
    curr,
    currPos,
    memory: shifted,
    memoryPos: two(framePos),
    numMemoryTokens: 2 * hw,
    numObjPtrTokens: 0,
  });
  assert.ok(maxAbsDiff(one, s) > 1e-3, 'a different second frame changes the output');
}

test('memory attention: two identical memory frames act as one (rope_k_repeat tiling)', { skip }, async () => {
  const mc = await loadMemoryCase(smallest!);
  await checkRepeatInvariance(mc.runner, mc.cfg);
});

test('memory graphs build and run at image_size 1024 (64×64 grid, 256² low-res masks)', { skip }, async () => {
  const mc = await loadMemoryCase(smallest!);
  const cfg: MemoryModulesConfig = { ...mc.cfg, imageSize: 1024 };
  const runner = await Sam2MemoryRunner.create(buildMemoryGraphs(cfg, mc.ws), cfg, { threads: 2 });
  try {
    const side = 64;
    const enc = await runner.encodeMemory({
      pixFeat: seededRandom(cfg.hiddenDim * side * side, 5),
      lowResMasks: seededRandom(256 * 256, 6).map((v) => 8 * v),
      objectScoreLogits: Float32Array.of(-1),
      binarize: false,
    });
    assert.equal(enc.maskmemFeatures.length, cfg.memDim * side * side);
    assert.equal(enc.maskmemPosEnc.length, cfg.memDim * side * side);
    assert.ok(enc.maskmemFeatures.every(Number.isFinite));
    // One memory frame plus one object pointer (C/Cm tokens); the repeat tiling is checked at 512 above.
    const hw = side * side;
    const P = cfg.hiddenDim / cfg.memDim;
    const out = await runner.attendMemory({
      curr: seededRandom(hw * cfg.hiddenDim, 7),
      currPos: seededRandom(hw * cfg.hiddenDim, 8),
      memory: seededRandom((hw + P) * cfg.memDim, 9),
      memoryPos: seededRandom((hw + P) * cfg.memDim, 10),
      numMemoryTokens: hw + P,
      numObjPtrTokens: P,
    });
    assert.equal(out.length, hw * cfg.hiddenDim);
    assert.ok(out.every(Number.isFinite));
  } finally {
    await runner.release();
  }
});

test('memory encoder adds no_obj_embed_spatial exactly when the object score is <= 0', { skip }, async () => {
  const mc = await loadMemoryCase(smallest!);
  const cfg = mc.cfg;
  assert.ok(cfg.noObjEmbedSpatial, 'fixture config uses no_obj_embed_spatial');
  const side = cfg.imageSize / cfg.backboneStride;
  const hw = side * side;
  const lowRes = seededRandom(16 * hw, 11).map((v) => 8 * v);
  const base = { pixFeat: seededRandom(cfg.hiddenDim * hw, 12), lowResMasks: lowRes, binarize: true };
  const present = await mc.runner.encodeMemory({ ...base, objectScoreLogits: Float32Array.of(0.5) });
  const emb = mc.ws.get('no_obj_embed_spatial').data;
  for (const score of [0, -3]) {
    const absent = await mc.runner.encodeMemory({ ...base, objectScoreLogits: Float32Array.of(score) });
    let worst = 0;
    for (let c = 0; c < cfg.memDim; c++) {
      for (let i = 0; i < hw; i++)
        worst = Math.max(worst, Math.abs(absent.maskmemFeatures[c * hw + i]! - present.maskmemFeatures[c * hw + i]! - emb[c]!));
    }
    assert.ok(worst < 1e-5, `score ${score}: features − no-object features differ from no_obj_embed_spatial by ${worst}`);
  }
});
