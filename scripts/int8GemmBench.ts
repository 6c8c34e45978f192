/**
 * `node --import tsx scripts/int8GemmBench.ts [--threads 2] [--runs 15] [--shapes M,K,N;...] [--only REGEX] [--nbits B,BS;...] [--ort DIR]`
 *
 * Does ONNX Runtime's int8 GEMM reach what the CPU's integer units allow? One linear layer
 * y = x·W (x [M,K] float, W [K,N] constant) at the SAM2 encoder's and memory attention's shapes,
 * timed interleaved in one process (2 threads), as
 *  - fp32 `MatMul` (MLAS SGEMM),
 *  - `DynamicQuantizeMatMul` (what fast mode emits: x quantised to uint8 per tensor at run time,
 *    int8 W with per-column scales, rescaled to float),
 *  - `DynamicQuantizeLinear` + `MatMulIntegerToFloat` (the same split in two ops),
 *  - `MatMulInteger` on an already-uint8 x with int32 output (the bare integer GEMM: no
 *    quantisation of x, no rescale), u8·s8 and u8·u8,
 *  - `QLinearMatMul` on uint8 x with static scales (uint8 output),
 *  - `QuantizeLinear` with a static (calibrated) scale + `MatMulIntegerToFloat` (no min/max pass),
 *  - `MatMulNBits` (bits 8 or 4, block-wise weight scales) with `accuracy_level` 4: x quantised to
 *    int8 per row and block of K at run time (MLAS "SQNBitGemm" kernels).
 * `--only REGEX` keeps fp32 plus the variants whose name matches; `--nbits 8,32;4,32` picks the
 * MatMulNBits (bits, block size) pairs.
 * Prints GFLOP/s (fp32) and GOP/s (int8; multiply-add = 2 ops) per shape, from wall time and from
 * process CPU time (idle spinning off), the latter per core-second: what a busy machine can still measure. MLAS picks its integer
 * kernel (AVX2, AVX-512 VNNI, AMX) from CPUID at load time; this tells which class of speed we get.
 * Synthetic weights (speed does not depend on the values).
 */
import type * as Ort from 'onnxruntime-node';
import { GraphBuilder } from '../src/models/onnx/graphBuilder.js';
import { decodeOnnx, DT, encodeOnnx, type ProtoModel, type ProtoNode, type ProtoTensor } from '../src/models/onnx/onnxProto.js';
import { quantizeColumns, quantizeOnnxBytes } from '../src/models/onnx/quantize.js';
import { lcgFloats } from './seededRandom.js';

const bytes = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const tensor = (name: string, dataType: number, dims: number[], raw: Uint8Array): ProtoTensor => ({ name, dataType, dims, rawData: raw });
const node = (opType: string, input: string[], output: string[], domain = '', ints: Record<string, number> = {}): ProtoNode => ({
  opType,
  input,
  output,
  name: output[0],
  domain,
  attribute: Object.entries(ints).map(([name, i]) => ({ name, type: 2, i })),
});

/**
 * Block-wise symmetric weights of a row-major [k, n] matrix in `com.microsoft.MatMulNBits` layout:
 * B [n, kBlocks, blockSize·bits/8] uint8 (column n's k-th value in block k/blockSize; 4-bit values
 * two per byte, the even k in the low nibble), stored offset by the default zero point 2^(bits-1), and
 * one float scale per (column, block), n-major. A last partial block is padded with zeros.
 */
export function quantizeBlocks(
  w: Float32Array,
  k: number,
  n: number,
  bits: 4 | 8,
  blockSize: number,
): { b: Uint8Array; scale: Float32Array; kBlocks: number; blob: number } {
  const kBlocks = Math.ceil(k / blockSize);
  const blob = (blockSize * bits) / 8;
  const qmax = bits === 8 ? 127 : 7;
  const zp = bits === 8 ? 128 : 8;
  const b = new Uint8Array(n * kBlocks * blob);
  const scale = new Float32Array(n * kBlocks);
  for (let j = 0; j < n; j++) {
    for (let kb = 0; kb < kBlocks; kb++) {
      const k0 = kb * blockSize;
      const k1 = Math.min(k, k0 + blockSize);
      let amax = 0;
      for (let i = k0; i < k1; i++) amax = Math.max(amax, Math.abs(w[i * n + j]!));
      const s = amax > 0 ? amax / qmax : 1;
      scale[j * kBlocks + kb] = s;
      const base = (j * kBlocks + kb) * blob;
      for (let i = 0; i < blockSize; i++) {
        const v = k0 + i < k1 ? Math.max(-qmax, Math.min(qmax, Math.round(w[(k0 + i) * n + j]! / s))) + zp : zp;
        if (bits === 8) b[base + i] = v;
        else b[base + (i >> 1)]! |= i & 1 ? v << 4 : v;
      }
    }
  }
  return { b, scale, kBlocks, blob };
}

/** fp32 MatMul model (the base the others are derived from). */
function fp32Model(M: number, K: number, N: number): Uint8Array {
  const g = new GraphBuilder('gemm');
  const x = g.input('x', 'float', [M, K]);
  g.output(g.matmul(x, g.initializer(lcgFloats(K * N, 2), [K, N], 'w')), 'y', 'float', [M, N]);
  return g.toBytes();
}

/** Replace the graph of `base` (inputs/outputs/nodes/initializers) keeping its opsets, adding com.microsoft. */
function withGraph(
  base: Uint8Array,
  nodes: ProtoNode[],
  inits: ProtoTensor[],
  input: { name: string; elem: number; dims: number[] },
  output: { name: string; elem: number; dims: number[] },
): Uint8Array {
  const m = decodeOnnx(base) as ProtoModel;
  const vi = (name: string, elem: number, dims: number[]) =>
    ({ name, type: { tensorType: { elemType: elem, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } }) as unknown as {
      name?: string;
    };
  m.graph!.node = nodes;
  m.graph!.initializer = inits;
  m.graph!.input = [vi(input.name, input.elem, input.dims)];
  m.graph!.output = [vi(output.name, output.elem, output.dims)];
  if (!m.opsetImport.some((o) => o.domain === 'com.microsoft')) m.opsetImport.push({ domain: 'com.microsoft', version: 1 });
  return encodeOnnx(m);
}

function variants(M: number, K: number, N: number, nbits: [4 | 8, number][]): { name: string; model: Uint8Array; feed: Ort.Tensor }[] {
  const fp = fp32Model(M, K, N);
  const xf = new ort.Tensor('float32', lcgFloats(M * K, 1), [M, K]);
  const xu8 = new ort.Tensor(
    'uint8',
    Uint8Array.from(lcgFloats(M * K, 1), (v) => Math.round((v + 1) * 127)),
    [M, K],
  );
  const { q, scale } = quantizeColumns(lcgFloats(K * N, 2), K, N);
  const wq = tensor('wq', DT.int8, [K, N], bytes(q));
  const wu = tensor('wu', DT.uint8, [K, N], bytes(Uint8Array.from(q, (v) => v + 128)));
  const ws = tensor('ws', DT.float, [N], bytes(scale));
  const f = (name: string, v: number) => tensor(name, DT.float, [], bytes(Float32Array.of(v)));
  const u = (name: string, v: number) => tensor(name, DT.uint8, [], Uint8Array.of(v));
  const i8 = (name: string, v: number) => tensor(name, DT.int8, [], bytes(Int8Array.of(v)));
  const out = { name: 'y', elem: DT.float, dims: [M, N] };
  return [
    { name: 'fp32 MatMul', model: fp, feed: xf },
    { name: 'DynamicQuantizeMatMul', model: quantizeOnnxBytes(fp).bytes, feed: xf },
    {
      name: 'DQLinear + MatMulIntegerToFloat',
      model: withGraph(
        fp,
        [
          node('DynamicQuantizeLinear', ['x'], ['xq', 'xs', 'xz']),
          node('MatMulIntegerToFloat', ['xq', 'wq', 'xs', 'ws', 'xz'], ['y'], 'com.microsoft'),
        ],
        [wq, ws],
        { name: 'x', elem: DT.float, dims: [M, K] },
        out,
      ),
      feed: xf,
    },
    {
      // static activation scale (calibrated offline): no min/max pass over x at run time
      name: 'static QuantizeLinear + MMIntegerToFloat',
      model: withGraph(
        fp,
        [
          node('QuantizeLinear', ['x', 'xs', 'xz'], ['xq']),
          node('MatMulIntegerToFloat', ['xq', 'wq', 'xs', 'ws', 'xz'], ['y'], 'com.microsoft'),
        ],
        [wq, ws, f('xs', 2 / 255), u('xz', 128)],
        { name: 'x', elem: DT.float, dims: [M, K] },
        out,
      ),
      feed: xf,
    },
    ...nbits.map(([bits, bs]) => {
      const qb = quantizeBlocks(lcgFloats(K * N, 2), K, N, bits, bs);
      return {
        name: `MatMulNBits ${bits}b blk${bs} acc4`,
        model: withGraph(
          fp,
          [node('MatMulNBits', ['x', 'qb', 'qs'], ['y'], 'com.microsoft', { K, N, bits, block_size: bs, accuracy_level: 4 })],
          [tensor('qb', DT.uint8, [N, qb.kBlocks, qb.blob], qb.b), tensor('qs', DT.float, [N * qb.kBlocks], bytes(qb.scale))],
          { name: 'x', elem: DT.float, dims: [M, K] },
          out,
        ),
        feed: xf,
      };
    }),
    {
      name: 'MatMulInteger u8·s8 → i32',
      model: withGraph(
        fp,
        [node('MatMulInteger', ['x', 'wq', 'xz', 'wz'], ['y'])],
        [wq, u('xz', 128), i8('wz', 0)],
        { name: 'x', elem: DT.uint8, dims: [M, K] },
        { name: 'y', elem: DT.int32, dims: [M, N] },
      ),
      feed: xu8,
    },
    {
      name: 'MatMulInteger u8·u8 → i32',
      model: withGraph(
        fp,
        [node('MatMulInteger', ['x', 'wu', 'xz', 'wz'], ['y'])],
        [wu, u('xz', 128), u('wz', 128)],
        { name: 'x', elem: DT.uint8, dims: [M, K] },
        { name: 'y', elem: DT.int32, dims: [M, N] },
      ),
      feed: xu8,
    },
    {
      name: 'QLinearMatMul u8·s8 → u8',
      model: withGraph(
        fp,
        [node('QLinearMatMul', ['x', 'xs', 'xz', 'wq', 'wsc', 'wz', 'ys', 'yz'], ['y'])],
        [wq, f('xs', 0.01), u('xz', 128), f('wsc', 0.01), i8('wz', 0), f('ys', 0.1), u('yz', 128)],
        { name: 'x', elem: DT.uint8, dims: [M, K] },
        { name: 'y', elem: DT.uint8, dims: [M, N] },
      ),
      feed: xu8,
    },
  ];
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** The onnxruntime-node module (--ort DIR: another installed version, e.g. a newer one in a temp dir). */
let ort: typeof Ort;

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const arg = (k: string, d: string) => {
    const i = argv.indexOf(k);
    return i >= 0 ? argv[i + 1]! : d;
  };
  const ortDir = arg('--ort', '');
  ort = (await import(ortDir ? `${ortDir}/node_modules/onnxruntime-node/dist/index.js` : 'onnxruntime-node')) as typeof Ort;
  const threads = Number(arg('--threads', '2'));
  const runs = Number(arg('--runs', '15'));
  // encoder stage 3 (7 of the 12 blocks): qkv, MLP up, MLP down; stage 1 MLP up; memory attention FFN up
  const shapes = arg('--shapes', '1024,384,1152;1024,384,1536;1024,1536,384;16384,96,384;4096,192,768;1024,256,2048')
    .split(';')
    .map((s) => s.split(',').map(Number) as [number, number, number]);
  // MatMulNBits variants: bits and block size (accuracy_level 4: int8 activations, per-block scales)
  const nbits = arg('--nbits', '8,32;8,64;8,128;4,32')
    .split(';')
    .map((s) => s.split(',').map(Number) as [4 | 8, number]);
  const onlyArg = arg('--only', '');
  const only = onlyArg ? new RegExp(onlyArg) : undefined;
  const opts: Ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionProviders: ['cpu'],
    // no idle spinning: process CPU time then counts only work, which is what a shared machine can measure
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
  console.log(`onnxruntime-node ${ort.env.versions.common}, ${threads} threads, median of ${runs} interleaved runs`);
  for (const [M, K, N] of shapes) {
    const ops = 2 * M * K * N;
    const vs = variants(M, K, N, nbits).filter((v, i) => i === 0 || !only || only.test(v.name));
    const sessions = await Promise.all(vs.map((v) => ort.InferenceSession.create(v.model, opts)));
    const times = vs.map(() => [] as number[]);
    const cpu = vs.map(() => [] as number[]);
    // several inner repetitions per sample so small GEMMs are not dominated by call overhead
    const inner = Math.max(1, Math.round(2e9 / ops));
    for (let r = -2; r < runs; r++) {
      for (const [i, s] of sessions.entries()) {
        const t = performance.now();
        const c = process.cpuUsage();
        for (let k = 0; k < inner; k++) await s.run({ [s.inputNames[0]!]: vs[i]!.feed });
        const dc = process.cpuUsage(c);
        if (r >= 0) {
          times[i]!.push((performance.now() - t) / inner);
          cpu[i]!.push((dc.user + dc.system) / 1000 / inner);
        }
      }
    }
    console.log(`\n[${M}×${K}]·[${K}×${N}]  ${(ops / 1e9).toFixed(2)} GFLOP  (×${inner} per sample)`);
    const base = median(times[0]!);
    const baseCpu = median(cpu[0]!);
    for (const [i, v] of vs.entries()) {
      const ms = median(times[i]!);
      const cms = median(cpu[i]!);
      const unit = i ? 'GOP/s' : 'GFLOP/s';
      console.log(
        `  ${v.name.padEnd(34)} wall ${ms.toFixed(2).padStart(7)} ms ${(ops / 1e9 / (ms / 1000)).toFixed(0).padStart(5)} ${unit.padEnd(7)} ${(base / ms).toFixed(2)}×` +
          ` | CPU ${cms.toFixed(2).padStart(7)} ms ${(ops / 1e9 / (cms / 1000)).toFixed(0).padStart(5)} ${unit.padEnd(7)} per core-second ${(baseCpu / cms).toFixed(2)}×`,
      );
    }
    await Promise.all(sessions.map((s) => s.release()));
  }
}

void main();
