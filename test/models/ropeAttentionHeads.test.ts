import '../helpers/nodePlatform.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../../src/models/onnx/graphBuilder.js';
import { WeightStore } from '../../src/models/onnx/weightStore.js';
import type { NdArray } from '../../src/io/ndarray.js';
import type { RopeAttentionConfig } from '../../src/models/sam2/graphs/memoryConfig.js';
import { axialRopeTables, ropeAttention, ropeKeyTables, ropeTableConstants } from '../../src/models/sam2/graphs/ropeAttention.js';
import { seededRandom } from '../helpers/sam2Fixtures.js';

/**
 * The fixture models have one-head RoPE attention; this checks the graph against a float64
 * rendering of upstream RoPEAttention.forward with several heads, both value paths (values
 * narrower than a head: folded value/output projection; wider: plain), repeated memory frames
 * and unrotated trailing tokens — the generality the held-out configs may need.
 */

const C = 32;
const grid: [number, number] = [4, 3];
const N = grid[0] * grid[1];

function weights(kvIn: number, seed: number): Map<string, NdArray> {
  const m = new Map<string, NdArray>();
  const add = (k: string, shape: number[], s: number) =>
    m.set(k, {
      dtype: 'float32',
      shape,
      data: seededRandom(
        shape.reduce((a, b) => a * b, 1),
        s,
      ),
    });
  add('a.q_proj.weight', [C, C], seed + 1);
  add('a.q_proj.bias', [C], seed + 2);
  add('a.k_proj.weight', [C, kvIn], seed + 3);
  add('a.k_proj.bias', [C], seed + 4);
  add('a.v_proj.weight', [C, kvIn], seed + 5);
  add('a.v_proj.bias', [C], seed + 6);
  add('a.out_proj.weight', [C, C], seed + 7);
  add('a.out_proj.bias', [C], seed + 8);
  return m;
}

/** x [rows, in] · Wᵀ + b in float64. */
function lin(x: Float64Array, rows: number, w: Float32Array, b: Float32Array, inp: number, out: number): Float64Array {
  const y = new Float64Array(rows * out);
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < out; o++) {
      let s = b[o]!;
      for (let i = 0; i < inp; i++) s += x[r * inp + i]! * w[o * inp + i]!;
      y[r * out + o] = s;
    }
  return y;
}

/** Upstream RoPEAttention (batch 1) in float64: the last `unrotated` keys keep their values. */
function reference(
  ws: Map<string, NdArray>,
  heads: number,
  kvIn: number,
  q: Float32Array,
  kv: Float32Array,
  M: number,
  unrotated: number,
): Float64Array {
  const w = (k: string) => ws.get(`a.${k}`)!.data as Float32Array;
  const dh = C / heads;
  const qp = lin(Float64Array.from(q), N, w('q_proj.weight'), w('q_proj.bias'), C, C);
  const kp = lin(Float64Array.from(kv), M, w('k_proj.weight'), w('k_proj.bias'), kvIn, C);
  const vp = lin(Float64Array.from(kv), M, w('v_proj.weight'), w('v_proj.bias'), kvIn, C);
  const { cos, sin } = axialRopeTables(dh, grid[0], grid[1], 10000);
  const rot = (x: Float64Array, t: number, h: number, pos: number) => {
    for (let j = 0; j < dh; j += 2) {
      const o = t * C + h * dh + j;
      const [a, b] = [x[o]!, x[o + 1]!];
      const [c, s] = [cos[pos * dh + j]!, sin[pos * dh + j + 1]!];
      x[o] = a * c - b * s;
      x[o + 1] = a * s + b * c;
    }
  };
  for (let h = 0; h < heads; h++) {
    for (let t = 0; t < N; t++) rot(qp, t, h, t);
    for (let t = 0; t < M - unrotated; t++) rot(kp, t, h, t % N);
  }
  const merged = new Float64Array(N * C);
  const p = new Float64Array(M);
  for (let h = 0; h < heads; h++) {
    for (let n = 0; n < N; n++) {
      let mx = -Infinity;
      for (let t = 0; t < M; t++) {
        let s = 0;
        for (let d = 0; d < dh; d++) s += qp[n * C + h * dh + d]! * kp[t * C + h * dh + d]!;
        p[t] = s / Math.sqrt(dh);
        mx = Math.max(mx, p[t]!);
      }
      let sum = 0;
      for (let t = 0; t < M; t++) sum += p[t] = Math.exp(p[t]! - mx);
      for (let d = 0; d < dh; d++) {
        let s = 0;
        for (let t = 0; t < M; t++) s += p[t]! * vp[t * C + h * dh + d]!;
        merged[n * C + h * dh + d] = s / sum;
      }
    }
  }
  return lin(merged, N, w('out_proj.weight'), w('out_proj.bias'), C, C);
}

for (const heads of [2, 4]) {
  for (const kvIn of [8, 32]) {
    test(`RoPE attention, ${heads} heads, ${kvIn}-d values (${kvIn <= C / heads ? 'folded value/output projection' : 'plain'}): float64 reference`, async () => {
      const cfg: RopeAttentionConfig = {
        embeddingDim: C,
        numHeads: heads,
        downsampleRate: 1,
        kvInDim: kvIn,
        ropeTheta: 10000,
        featSizes: grid,
        ropeKRepeat: true,
      };
      const wmap = weights(kvIn, 10 * heads + kvIn);
      const g = new GraphBuilder('rope_attention_test');
      const q = g.input('q', 'float', [N, C]);
      const kv = g.input('kv', 'float', ['m', kvIn]);
      const nPtr = g.input('n_ptr', 'int64', [1]);
      const rope = ropeTableConstants(g, cfg, N);
      const keyRope = ropeKeyTables(g, rope, g.op1('Shape', [kv], { start: 0, end: 1 }), nPtr);
      g.output(ropeAttention(g, new WeightStore(wmap), 'a', cfg, q, kv, kv, rope, keyRope), 'out', 'float', [N, C]);
      const session = await ort.InferenceSession.create(g.toBytes(), { intraOpNumThreads: 1 });
      try {
        const unrotated = 3;
        const M = 2 * N + unrotated;
        const qd = seededRandom(N * C, 1);
        const kvd = seededRandom(M * kvIn, 2).map((v) => 2 * v);
        const r = await session.run({
          q: new ort.Tensor('float32', qd, [N, C]),
          kv: new ort.Tensor('float32', kvd, [M, kvIn]),
          n_ptr: new ort.Tensor('int64', BigInt64Array.of(BigInt(unrotated)), [1]),
        });
        const got = r.out!.data as Float32Array;
        const want = reference(wmap, heads, kvIn, qd, kvd, M, unrotated);
        let err = 0;
        let mx = 0;
        for (let i = 0; i < got.length; i++) {
          err = Math.max(err, Math.abs(got[i]! - want[i]!));
          mx = Math.max(mx, Math.abs(want[i]!));
        }
        assert.ok(mx > 0.1, 'reference output is not trivially small');
        assert.ok(err <= 1e-5 * mx + 1e-6, `max|err| ${err} vs float64 reference (max|ref| ${mx})`);
        // The unrotated tail matters: rotating it too (no identity rows) changes the result.
        const all = await session.run({
          q: new ort.Tensor('float32', qd, [N, C]),
          kv: new ort.Tensor('float32', kvd.subarray(0, 2 * N * kvIn), [2 * N, kvIn]),
          n_ptr: new ort.Tensor('int64', BigInt64Array.of(0n), [1]),
        });
        const ref2 = reference(wmap, heads, kvIn, qd, kvd.subarray(0, 2 * N * kvIn), 2 * N, 0);
        const got2 = all.out!.data as Float32Array;
        let err2 = 0;
        for (let i = 0; i < got2.length; i++) err2 = Math.max(err2, Math.abs(got2[i]! - ref2[i]!));
        assert.ok(err2 <= 1e-5 * mx + 1e-6, `no unrotated keys: max|err| ${err2}`);
      } finally {
        await session.release();
      }
    });
  }
}
