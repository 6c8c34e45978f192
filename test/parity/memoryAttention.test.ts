import '../helpers/nodePlatform.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MemoryModulesConfig } from '../../src/models/sam2/graphs/memoryConfig.js';
import { objPtrTposDim } from '../../src/models/sam2/graphs/objPtrTpos.js';
import { fixtureDir, moduleFixtureCases, type FixtureCase } from '../helpers/sam2Fixtures.js';
import { anyHalf, compare, describe, f32, firstTrackSession, loadMemoryCase, numFrames, stateFrame } from '../helpers/sam2MemoryCase.js';

/**
 * Memory attention parity (RoPE self/cross attention, object-pointer tokens excluded from RoPE)
 * on the recorded inputs of the first tracked frame, and the object-pointer temporal encoding
 * checked against the pointer rows of the recorded memory_pos.
 */
const cases = moduleFixtureCases();
test('memory attention parity fixtures', { skip: cases.length === 0 && `needs ${fixtureDir()} (SAM2 fixtures)` }, () => {
  assert.ok(cases.length > 0);
});

const IN = (i: number) => `mod_memory_attention_c0_in_${i}`;

function numObjPtrTokens(c: FixtureCase): number {
  const n = c.manifest.module_tensors?.['mod_memory_attention_c0_in_scalars']?.num_obj_ptr_tokens;
  assert.equal(typeof n, 'number', 'num_obj_ptr_tokens recorded');
  return n as number;
}

/**
 * Pointer positions SAM2Base._prepare_memory_conditioned_features uses on the first tracked frame
 * (README behaviour 5): conditioning frames in the past (or future when reversed), signed distance,
 * then earlier tracked frames at distance 1..max−1; scale t_diff_max = min(num_frames, max_ptrs) − 1.
 */
function pointerPositions(c: FixtureCase, cfg: MemoryModulesConfig): { relPos: number[]; tDiffMax: number; frame: number } {
  const sess = firstTrackSession(c);
  const cur = stateFrame(c, 1); // memory attention c0 and memory encoder c1 run on the same tracked frame
  const sign = sess.reverse ? -1 : 1;
  const relPos = sess.inputFrames.filter((t) => (sess.reverse ? t >= cur : t <= cur)).map((t) => (cur - t) * sign);
  const n = numFrames(c);
  const maxPtrs = Math.min(n, cfg.maxObjPtrsInEncoder);
  const trackedBefore = sess.yielded.slice(0, sess.yielded.indexOf(cur)).filter((f) => !sess.inputFrames.includes(f));
  for (let d = 1; d < maxPtrs; d++) {
    const t = sess.reverse ? cur + d : cur - d;
    if (t < 0 || t >= n) break;
    if (trackedBefore.includes(t)) relPos.push(d);
  }
  return { relPos, tDiffMax: maxPtrs - 1, frame: cur };
}

for (const c of cases) {
  test(`${c.id}: memory attention c0`, async () => {
    const mc = await loadMemoryCase(c);
    const Cm = mc.cfg.memDim;
    const memory = f32(mc, IN(2));
    const M = memory.length / Cm;
    const P = numObjPtrTokens(c);
    assert.ok(P > 0 && (M - P) % (mc.cfg.imageSize / mc.cfg.backboneStride) ** 2 === 0, `memory of ${M} tokens with ${P} pointer tokens`);
    const out = await mc.runner.attendMemory({
      curr: f32(mc, IN(0)),
      currPos: f32(mc, IN(1)),
      memory,
      memoryPos: f32(mc, IN(3)),
      numMemoryTokens: M,
      numObjPtrTokens: P,
    });
    const ref = f32(mc, 'mod_memory_attention_c0_out_0');
    const r = compare(out, ref, anyHalf(c, [IN(0), IN(1), IN(2), IN(3), 'mod_memory_attention_c0_out_0']));
    console.log(describe(`${c.id} memory attention c0 (M=${M}, ${P} pointer tokens)`, r));
    assert.ok(r.maxErr <= r.bound, describe('memory attention', r));

    // Without the pointer tokens the output must move well beyond the tolerance (they are really attended to).
    {
      const noPointers = await mc.runner.attendMemory({
        curr: f32(mc, IN(0)),
        currPos: f32(mc, IN(1)),
        memory: memory.slice(0, (M - P) * Cm),
        memoryPos: f32(mc, IN(3)).slice(0, (M - P) * Cm),
        numMemoryTokens: M - P,
        numObjPtrTokens: 0,
      });
      const d = compare(noPointers, ref, false);
      assert.ok(d.maxErr > 10 * d.bound, `dropping the pointer tokens changes the output (by ${d.maxErr})`);
    }
  });

  test(`${c.id}: object-pointer temporal encoding equals the pointer rows of the recorded memory_pos`, async () => {
    const mc = await loadMemoryCase(c);
    const Cm = mc.cfg.memDim;
    const C = mc.cfg.hiddenDim;
    const memPos = f32(mc, IN(3));
    const M = memPos.length / Cm;
    const P = numObjPtrTokens(c);
    const tokensPerPtr = C > Cm ? C / Cm : 1;
    const { relPos, tDiffMax, frame } = pointerPositions(c, mc.cfg);
    assert.equal(relPos.length * tokensPerPtr, P, `frame ${frame}: pointers at ${JSON.stringify(relPos)} give ${P} tokens`);
    const tpos = await mc.runner.objPtrTemporalEncoding(relPos, tDiffMax);
    assert.equal(tpos.length, relPos.length * Cm);
    // Each pointer's encoding is repeat_interleave'd over its tokens.
    const expected = new Float32Array(P * Cm);
    for (let j = 0; j < P; j++)
      expected.set(tpos.subarray(Math.floor(j / tokensPerPtr) * Cm, Math.floor(j / tokensPerPtr + 1) * Cm), j * Cm);
    const r = compare(expected, memPos.subarray((M - P) * Cm), anyHalf(c, [IN(3)]));
    console.log(describe(`${c.id} obj-ptr tpos (frame ${frame}, rel ${JSON.stringify(relPos)}, t_diff_max ${tDiffMax})`, r));
    assert.ok(r.maxErr <= r.bound, describe('obj-ptr tpos', r));
  });

  test(`${c.id}: object-pointer temporal encoding matches a float64 reference for signed positions`, async () => {
    const mc = await loadMemoryCase(c);
    const cfg = mc.cfg;
    const relPos = [1, 2, 5, -3, 15, -15, 0];
    const tDiffMax = Math.min(numFrames(c), cfg.maxObjPtrsInEncoder) - 1;
    const got = await mc.runner.objPtrTemporalEncoding(relPos, tDiffMax);
    const dim = objPtrTposDim(cfg);
    const w = cfg.projTposEncInObjPtrs ? mc.ws.get('obj_ptr_tpos_proj.weight').data : undefined;
    const b = cfg.projTposEncInObjPtrs ? mc.ws.get('obj_ptr_tpos_proj.bias').data : undefined;
    const ref = new Float32Array(relPos.length * cfg.memDim);
    relPos.forEach((p, k) => {
      const half = dim / 2;
      const pe = new Float64Array(dim);
      for (let d = 0; d < half; d++) {
        const a = p / tDiffMax / 10000 ** ((2 * Math.floor(d / 2)) / half);
        pe[d] = Math.sin(a);
        pe[half + d] = Math.cos(a);
      }
      for (let o = 0; o < cfg.memDim; o++) {
        let acc = b ? b[o]! : 0;
        if (w) for (let i = 0; i < dim; i++) acc += w[o * dim + i]! * pe[i]!;
        else acc = pe[o]!;
        ref[k * cfg.memDim + o] = acc;
      }
    });
    const r = compare(got, ref, false);
    console.log(describe(`${c.id} obj-ptr tpos vs float64 reference`, r));
    assert.ok(r.maxErr <= r.bound, describe('obj-ptr tpos vs reference', r));
  });
}
