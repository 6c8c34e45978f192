/**
 * `node --import tsx scripts/int8Variants.ts [--runs 9] [--threads 2] [--module imageEncoder|memoryAttention|memoryEncoder] [--variants a,b,...]`
 *
 * Fast-mode graph variants of the tiny512 fixture model's image encoder (on the fixture's middle
 * slice), memory attention (a synthetic full-memory call) or memory encoder (the slice's features
 * and a synthetic mask), timed interleaved in one process: fp32
 * and the int8 variants named in --variants (see `all` below; a `+quick` / `+exact` / `+tanh`
 * suffix also runs the MLP GELUs after int8 GEMMs as that kind, quantize.ts geluAfterInt8, and
 * `+quick1` runs QuickGelu with its α folded into the GEMMs, foldQuickGeluAlpha;
 * `static` = the recipe with static activation scales, staticScalesVariant; `pv`, `pvdq` =
 * memory attention's probability × value products in int8 with row-scaled probabilities, the
 * rejected forms of quantize.ts quantizeAttentionValues, `pvexp` the adopted one). The
 * measured-and-rejected passes live here, not in src/. Reports wall ms and
 * process CPU ms per frame (idle spinning off; CPU time is what a shared machine can still
 * compare) and the output error against fp32.
 */
import * as ort from 'onnxruntime-node';
import { nodePlatform } from '../src/platform/node.js';
import { setPlatform } from '../src/platform/platform.js';
import {
  decodeOnnx,
  DT,
  encodeOnnx,
  floatValues,
  toNumber,
  type ProtoGraph,
  type ProtoModel,
  type ProtoNode,
} from '../src/models/onnx/onnxProto.js';
import {
  chunkAttentionRows,
  geluAfterInt8,
  graphLinks,
  spliceNodes,
  quantizeAttentionScores,
  quantizeAttentionValues,
  quantizeModel,
  quantizeOnnxBytes,
  type QuantizeOptions,
  type QuantizeReport,
  type ValueProductStep,
} from '../src/models/onnx/quantize.js';
import { loadSam2Compiled } from '../src/models/sam2/graphCache.js';
import { IMAGE_ENCODER_IO } from '../src/models/sam2/graphs/imageEncoder.js';
import { MEMORY_ATTENTION_IO } from '../src/models/sam2/graphs/memoryAttention.js';
import { MEMORY_ENCODER_IO } from '../src/models/sam2/graphs/memoryEncoder.js';
import { framesFromU8 } from '../src/predictor/sam2/frameSource.js';
import { fixtureFiles, loadVolume } from './benchSam2.js';
import { channelLayerNorms } from './channelLayerNorm.js';
import { memoryAttentionFeed } from './memoryAttentionFeed.js';

setPlatform(nodePlatform);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const arg = (k: string, d: string) => (argv.includes(k) ? argv[argv.indexOf(k) + 1]! : d);
  const runs = Number(arg('--runs', '9'));
  const threads = Number(arg('--threads', '2'));
  const files = fixtureFiles();
  const { model } = await loadSam2Compiled({ checkpointPath: files.checkpoint, configPath: files.config }, {});
  const mod = arg('--module', 'imageEncoder');
  const ma = mod === 'memoryAttention';
  const me = mod === 'memoryEncoder';
  const fp = ma ? model.graphs.memoryAttention : me ? model.graphs.memoryEncoder : model.graphs.imageEncoder;
  const last = model.configs.imageEncoder.trunk.stages.reduce((a, b) => a + b, 0) - 1;
  const tail = (name: string) => [`trunk/blocks.${last}/`, 'neck/', 'conv_s0/', 'conv_s1/'].some((p) => name.startsWith(p));
  const tailSkip: QuantizeOptions['skip'] = (n) => tail(n.name ?? '');
  const tailW = (n: ProtoNode, int8: string[]) =>
    (n.name ?? '').startsWith(`trunk/blocks.${last}/`) ? !int8.some((w) => (n.input[1] ?? '').includes(w)) : tail(n.name ?? '');
  const globals = model.configs.imageEncoder.trunk.globalAttBlocks.filter((b) => b !== last);
  const globalBlock = (n: ProtoNode) => globals.some((b) => (n.name ?? '').startsWith(`trunk/blocks.${b}/`));
  const all: Record<string, [string, QuantizeOptions]> = {
    dqmm: ['int8 DQMM, all linear layers', {}],
    recipe1: ['int8 DQMM, last block + neck fp32 (fp32-tail-1)', { skip: tailSkip }],
    narrow: ['int8 DQMM, that + narrow GEMMs fp32', { skip: (n, k, nn) => tail(n.name ?? '') || k < 128 || nn < 128 }],
    // the encoder's attention scores q·kᵀ in int8 too: every block's, or the global blocks' only
    escores: ["fp32-tail-1 + every block's scores q·kᵀ int8", { skip: tailSkip, attentionScores: (n) => !tail(n.name ?? '') }],
    gscores: ["fp32-tail-1 + global blocks' scores q·kᵀ int8 (global-scores-1)", { skip: tailSkip, attentionScores: globalBlock }],
    gpv: [
      "gscores + global blocks' P·V int8 (exp(s − max), quantizeAttentionValues)",
      { skip: tailSkip, attentionScores: globalBlock, attentionValues: globalBlock },
    ],
    // parts of the last block back in int8 (by weight name), the rest of the tail fp32
    gkv: [
      "gscores + last block's k, v int8",
      { skip: (n) => tailW(n, ['attn.qkv.weight.k', 'attn.qkv.weight.v']), attentionScores: globalBlock },
    ],
    gpvf2: [
      "gpv + last block's fc2 int8",
      { skip: (n) => tailW(n, ['mlp.layers.1']), attentionScores: globalBlock, attentionValues: globalBlock },
    ],
    gqkvp: ["gscores + last block's qkv, proj int8", { skip: (n) => tailW(n, ['attn.qkv', 'attn.proj']), attentionScores: globalBlock }],
    gqkvpf1: [
      "gscores + last block's qkv, proj, fc1 int8",
      { skip: (n) => tailW(n, ['attn.qkv', 'attn.proj', 'mlp.layers.0']), attentionScores: globalBlock },
    ],
    // memory attention
    scores: ['int8 linear + scores q·kᵀ (int8-scores-1)', { attentionScores: true }],
    // memory encoder: its fuser's pointwise linear layers in int8
    melin: ["int8 DQMM, the fuser's linear layers", {}],
    // probability × value products in int8 too (ROW_SCALED_WEIGHTS below; measured slower, not used)
    pv: ['int8 linear + scores + P·V (row-scaled P, QuantizeLinear)', {}],
    pvdq: ['int8 linear + scores + P·V (row-scaled P, DQMM)', {}],
    // the adopted construction (pv-exp, quantize.ts quantizeAttentionValues), all products or cross-attention's only
    pvexp: ['int8 linear + scores + P·V (exp(s − max), static 1/255; pv-exp-1)', { attentionScores: true, attentionValues: true }],
    // session 16: memory attention's 64-wide input projections (the cross-attention keys, K = 64) left fp32
    pvexpk64: ['pv-exp-1 + K = 64 projections fp32', { attentionScores: true, attentionValues: true, skip: (_n, k) => k === 64 }],
    pvexpx: [
      'int8 linear + scores + cross-attention P·V (exp(s − max))',
      { attentionScores: true, attentionValues: (n) => (n.name ?? '').includes('cross_attn') },
    ],
  };
  const pick = arg('--variants', ma ? 'scores,pv,pvdq,pvexp' : me ? 'melin,melin+quick' : 'recipe1+quick,gscores+quick').split(',');
  const names = pick.filter((k) => k !== 'static');
  const variants: [string, Uint8Array][] = [['fp32', fp]];
  for (const full of names) {
    // `+ln2d`: LayerNorm2d's as channels-last LayerNormalizations after the rest (channelLayerNorm.ts, not adopted)
    const ln2d = full.endsWith('+ln2d');
    // `+chunkN`: memory attention's score → exp → P·X chains in N blocks of query rows (quantize.ts chunkAttentionRows, session 16)
    const chunkM = full.match(/\+(x?)chunk(\d+)/);
    const chunk = Number(chunkM?.[2] ?? 0);
    const crossOnly = chunkM?.[1] === 'x';
    // `+mlpN` / `+mlp12N`: int8 MLPs in N blocks of token rows, all or stages 1–2 only (chunkMlpRows, session 16)
    const mlpM = full.match(/\+mlp(12)?x(\d+)/);
    const key = full
      .replace(/\+ln2d$/, '')
      .replace(/\+x?chunk\d+/, '')
      .replace(/\+mlp(12)?x\d+/, '');
    const v = all[key.replace(/\+(exact|quick1|quick|tanh)$/, '')];
    if (!v) throw new Error(`unknown variant ${key}; one of ${Object.keys(all).join(', ')}`);
    const pvMode = ({ pv: 'rowscale', pvdq: 'dqmm' } as const)[key as 'pv'];
    let r = pvMode ? pvVariant(fp, pvMode) : quantizeOnnxBytes(fp, v[1]);
    const geluKey = key.match(/\+(exact|quick1|quick|tanh)$/)?.[1];
    const gelu = (geluKey === 'quick1' ? 'quick' : geluKey) as 'exact' | 'quick' | 'tanh' | undefined;
    let extra = '';
    if (gelu) {
      const m = decodeOnnx(r.bytes);
      extra = `, ${geluAfterInt8(m, gelu)} GELUs ${gelu} with the bias in the GEMM`;
      if (geluKey === 'quick1') extra += `, ${foldQuickGeluAlpha(m)} with α folded into the GEMMs`;
      r = { ...r, bytes: encodeOnnx(m) };
    }
    if (chunk) {
      const m = decodeOnnx(r.bytes);
      const only = crossOnly ? (dq: ProtoNode) => (dq.input[0] ?? '').includes('cross_attn') : undefined;
      extra += `, ${chunkAttentionRows(m, chunk, 1024, only)} exp chains in ${chunk} row blocks`;
      r = { ...r, bytes: encodeOnnx(m) };
    }
    if (mlpM) {
      const m = decodeOnnx(r.bytes);
      const early = mlpM[1] ? (n: ProtoNode) => /^trunk\/blocks\.[0-3]\//.test(n.name ?? '') : undefined;
      extra += `, ${chunkMlpRows(m, Number(mlpM[2]), early)} MLPs in ${mlpM[2]} row blocks`;
      r = { ...r, bytes: encodeOnnx(m) };
    }
    if (ln2d) {
      const m = decodeOnnx(r.bytes);
      extra += `, ${channelLayerNorms(m)} LayerNorm2d channels-last`;
      r = { ...r, bytes: encodeOnnx(m) };
    }
    variants.push([`${v[0]}${extra} (${r.report.quantized} int8 GEMMs, ${r.report.scores + r.report.values} products)`, r.bytes]);
  }

  const S = model.configs.predictor.imageSize;
  const outName = ma ? MEMORY_ATTENTION_IO.out : me ? MEMORY_ENCODER_IO.features : IMAGE_ENCODER_IO.visionFeatures;
  let feed: Record<string, ort.Tensor>;
  if (me) {
    // one memory-encoder call: the fixture slice's backbone features and a synthetic blob mask
    const enc = await ort.InferenceSession.create(model.graphs.imageEncoder);
    const vol = loadVolume(files.input);
    const img = await framesFromU8(vol.u8, vol.n, vol.h, vol.w, S).frame(vol.n >> 1);
    const pix = (await enc.run({ [IMAGE_ENCODER_IO.image]: new ort.Tensor('float32', img, [1, 3, S, S]) }))[
      IMAGE_ENCODER_IO.visionFeatures
    ]!;
    await enc.release();
    const m = S / 4;
    const logits = new Float32Array(m * m);
    for (let y = 0; y < m; y++) for (let x = 0; x < m; x++) logits[y * m + x] = 8 - Math.hypot(y - m / 2, x - m / 3) / 2;
    feed = {
      [MEMORY_ENCODER_IO.pixFeat]: pix,
      [MEMORY_ENCODER_IO.lowResMasks]: new ort.Tensor('float32', logits, [1, 1, m, m]),
      [MEMORY_ENCODER_IO.objectScoreLogits]: new ort.Tensor('float32', Float32Array.of(5), [1, 1]),
      [MEMORY_ENCODER_IO.binarize]: new ort.Tensor('float32', Float32Array.of(1), [1]),
    };
  } else if (ma) {
    // a synthetic call: --frames memory frames of (S/16)² tokens (default 7: full memory) + 32 object-pointer tokens
    feed = memoryAttentionFeed(model.configs, Number(arg('--frames', '7')), 32);
  } else {
    const vol = loadVolume(files.input);
    const img = await framesFromU8(vol.u8, vol.n, vol.h, vol.w, S).frame(vol.n >> 1);
    feed = { [IMAGE_ENCODER_IO.image]: new ort.Tensor('float32', img, [1, 3, S, S]) };
  }
  const opts: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionProviders: ['cpu'],
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
  if (pick.includes('static')) variants.push(await staticScalesVariant(fp, feed, tailSkip, opts));
  const sessions = [];
  for (const [, bytes] of variants) sessions.push(await ort.InferenceSession.create(bytes, opts));
  const wall = variants.map(() => [] as number[]);
  const cpu = variants.map(() => [] as number[]);
  const outs: Float32Array[] = [];
  for (let r = -1; r < runs; r++) {
    for (const [i, s] of sessions.entries()) {
      const t = performance.now();
      const c = process.cpuUsage();
      const o = await s.run(feed);
      const dc = process.cpuUsage(c);
      if (r < 0) outs[i] = o[outName]!.data as Float32Array;
      else {
        wall[i]!.push(performance.now() - t);
        cpu[i]!.push((dc.user + dc.system) / 1000);
      }
    }
  }
  console.log(
    `tiny512 ${ma ? 'memory attention (full memory)' : me ? 'memory encoder' : 'image encoder'}, ${threads} threads, median of ${runs} interleaved runs (load ${(await import('node:os')).loadavg()[0]!.toFixed(1)})`,
  );
  for (const [i, [name]] of variants.entries()) {
    let e = 0;
    let n = 0;
    for (let k = 0; k < outs[0]!.length; k++) {
      e += (outs[i]![k]! - outs[0]![k]!) ** 2;
      n += outs[0]![k]! ** 2;
    }
    console.log(
      `  ${name.padEnd(48)} wall ${median(wall[i]!).toFixed(0).padStart(6)} ms (${(median(wall[0]!) / median(wall[i]!)).toFixed(2)}× fp32)` +
        `  CPU ${median(cpu[i]!).toFixed(0).padStart(6)} ms (${(median(cpu[0]!) / median(cpu[i]!)).toFixed(2)}× fp32${i > 1 ? `; median of per-run ratios to the first variant ${median(cpu[i]!.map((c, r) => c / cpu[1]![r]!)).toFixed(3)}` : ''})  output rel. RMS error ${Math.sqrt(e / n).toExponential(2)}`,
    );
  }
  for (const s of sessions) await s.release();
}

/**
 * The recipe with static activation scales: every int8 GEMM's input quantised by a QuantizeLinear
 * with a constant scale and zero point (its min/max over a calibration run of the fp32 graph), then
 * MatMulIntegerToFloat — no run-time min/max pass. Calibrated on the timed input itself, so this is
 * the speed such a recipe could reach (its accuracy on other inputs is not what this measures).
 */
async function staticScalesVariant(
  fp: Uint8Array,
  feed: Record<string, ort.Tensor>,
  skip: QuantizeOptions['skip'],
  opts: ort.InferenceSession.SessionOptions,
): Promise<[string, Uint8Array]> {
  const q = decodeOnnx(quantizeOnnxBytes(fp, { skip }).bytes);
  const dq = q.graph!.node.filter((n) => n.opType === 'DynamicQuantizeMatMul');
  const acts = [...new Set(dq.map((n) => n.input[0]!))];
  // calibration: the fp32 graph with every int8 GEMM input as an extra output
  const cal = decodeOnnx(fp);
  cal.graph!.output.push(...acts.map((name) => ({ name }) as ProtoGraph['output'][number]));
  const s = await ort.InferenceSession.create(encodeOnnx(cal), opts);
  const o = await s.run(feed);
  await s.release();
  const inits = q.graph!.initializer;
  const nodes: ProtoNode[] = [];
  const quantized = new Map<string, [string, string, string]>();
  for (const n of q.graph!.node) {
    if (n.opType === 'DynamicQuantizeMatMul') {
      const x = n.input[0]!;
      let qx = quantized.get(x);
      if (!qx) {
        const d = o[x]!.data as Float32Array;
        let lo = 0;
        let hi = 0;
        for (const v of d) {
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
        const scale = (hi - lo) / 255 || 1;
        const zp = Math.min(255, Math.max(0, Math.round(-lo / scale)));
        const sName = `${x}.static_scale`;
        const zName = `${x}.static_zp`;
        inits.push(
          { name: sName, dataType: DT.float, dims: [], rawData: new Uint8Array(Float32Array.of(scale).buffer) },
          { name: zName, dataType: DT.uint8, dims: [], rawData: Uint8Array.of(zp) },
        );
        qx = [`${x}.static_q`, sName, zName];
        nodes.push({ opType: 'QuantizeLinear', input: [x, sName, zName], output: [qx[0]], name: qx[0], domain: '', attribute: [] });
        quantized.set(x, qx);
      }
      const [, w, ws, , bias] = n.input;
      n.opType = 'MatMulIntegerToFloat';
      n.input = [qx[0], w!, qx[1], ws!, qx[2], '', ...(bias ? [bias] : [])];
    }
    nodes.push(n);
  }
  q.graph!.node = nodes;
  return [`int8 static activation scales (QuantizeLinear + MatMulIntegerToFloat), tail fp32 (${dq.length} int8 GEMMs)`, encodeOnnx(q)];
}

/** Memory attention with its linear layers, scores and P·V products in int8 (values pass first: it reads the softmax's float inputs). */
function pvVariant(fp: Uint8Array, mode: 'rowscale' | 'dqmm'): { bytes: Uint8Array; report: QuantizeReport } {
  const m = decodeOnnx(fp);
  const report = quantizeModel(m, {});
  const values = quantizeRowScaledValues(m, mode);
  report.scores = quantizeAttentionScores(m) + values;
  return { bytes: encodeOnnx(m), report };
}

const bytes = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/**
 * The rejected weights × values steps of quantize.ts quantizeAttentionValues (measured slower than
 * its EXP_WEIGHTS on both VMs; BENCHMARKS "Fast mode, fourth pass" and "session 14"): they read the
 * softmax's own output P, scale each row to max 255, then either one per-tensor QuantizeLinear
 * (`rowscale`; ORT's per-row QuantizeLinear is a scalar loop, 9× slower) or DynamicQuantizeMatMul's
 * own per-tensor quantisation (`dqmm`, MLAS's vectorised path).
 */
const ROW_SCALED_WEIGHTS: Record<'rowscale' | 'dqmm', ValueProductStep> = {
  rowscale: {
    readsSoftmax: true,
    build(k, rows, qx, axis) {
      const u8zero = k.constT(DT.uint8, [], Uint8Array.of(0));
      const scale = k.mk('Div', [k.constF(255), k.mk('Max', [k.reduceMax(rows, axis, 1), k.constF(1e-30)])]);
      const pq = k.mk('QuantizeLinear', [k.mk('Mul', [rows, scale]), k.constF(1), u8zero]);
      return k.mk('MatMulIntegerToFloat', [pq, qx.xq, k.constF(1), qx.sx, u8zero], [], 'com.microsoft');
    },
  },
  dqmm: {
    readsSoftmax: true,
    build(k, rows, qx, axis) {
      const pq = k.mk('Mul', [rows, k.mk('Div', [k.constF(255), k.mk('Max', [k.reduceMax(rows, axis, 1), k.constF(1e-30)])])]);
      return k.mk('DynamicQuantizeMatMul', [pq, qx.xq, qx.sx], [], 'com.microsoft');
    },
  },
};

function quantizeRowScaledValues(model: ProtoModel, mode: 'rowscale' | 'dqmm'): number {
  return quantizeAttentionValues(model, undefined, ROW_SCALED_WEIGHTS[mode]);
}

/**
 * `QuickGelu` x·σ(αx) between two int8 GEMMs, with α moved into them: the first GEMM's column
 * scales and bias are multiplied by α, so it yields z = αx, the activation runs as z·σ(z) = α·x·σ(αx)
 * (ORT's kernel skips its scaling pass when α = 1: one pass over the wide hidden tensor instead of
 * two before the sigmoid), and every GEMM reading it gets its column scales divided by α. The int8
 * weights stay as they are and the next GEMM's per-tensor input quantisation is scale-invariant, so
 * only float rounding changes. Measured and not adopted (session 14): ORT's QuickGelu kernel is no
 * faster with α = 1 (one kernel at the encoder's MLP shapes, 60 interleaved runs: 11.5 vs 12.5,
 * 4.75 vs 4.66, 2.29 vs 2.20 CPU ms), the scaling pass runs on L1-resident blocks. Applies where the QuickGelu reads a `DynamicQuantizeMatMul` with a
 * bias (geluAfterInt8) that nothing else reads, and only `DynamicQuantizeMatMul`s read its output,
 * each scale and bias tensor being used by that one node. Returns how many were rewritten.
 */
function foldQuickGeluAlpha(model: ProtoModel): number {
  const g = model.graph!;
  const inits = new Map(g.initializer.map((t) => [t.name ?? '', t]));
  const { producer, consumers, graphOutputs } = graphLinks(g);
  const soleUse = (t: string, n: ProtoNode) => inits.has(t) && consumers.get(t)?.length === 1 && consumers.get(t)![0] === n;
  const isDqmm = (n: ProtoNode | undefined): n is ProtoNode => n?.opType === 'DynamicQuantizeMatMul' && n.domain === 'com.microsoft';
  const scaleInit = (name: string, by: number): void => {
    const t = inits.get(name)!;
    const v = floatValues(t)!;
    for (let i = 0; i < v.length; i++) v[i] = v[i]! * by;
    t.rawData = bytes(v);
    t.floatData = [];
  };
  let count = 0;
  for (const n of g.node) {
    if (n.opType !== 'QuickGelu' || n.domain !== 'com.microsoft') continue;
    const alpha = n.attribute.find((a) => a.name === 'alpha')?.f ?? 1.702;
    if (alpha === 1 || !(alpha > 0)) continue;
    const x = n.input[0]!;
    const p = producer.get(x);
    const next = consumers.get(n.output[0]!) ?? [];
    if (!isDqmm(p) || consumers.get(x)?.length !== 1 || graphOutputs.has(x) || graphOutputs.has(n.output[0]!) || !next.length) continue;
    const [, , pScale, pZero, pBias] = p.input;
    if (!pScale || pZero || !pBias || !soleUse(pScale, p) || !soleUse(pBias, p) || !floatValues(inits.get(pScale)!)) continue;
    if (!floatValues(inits.get(pBias)!)) continue;
    if (!next.every((c) => isDqmm(c) && c.input[0] === n.output[0] && !c.input.slice(1).includes(n.output[0]!))) continue;
    if (!next.every((c) => soleUse(c.input[2] ?? '', c) && floatValues(inits.get(c.input[2]!)!))) continue;
    scaleInit(pScale, alpha);
    scaleInit(pBias, alpha);
    for (const c of next) scaleInit(c.input[2]!, 1 / alpha);
    n.attribute = [...n.attribute.filter((a) => a.name !== 'alpha'), { name: 'alpha', type: 1, f: 1 }];
    count++;
  }
  return count;
}

if (import.meta.url === `file://${process.argv[1]}`) void main();

/**
 * Session 16 (scratch): an int8 MLP (DynamicQuantizeMatMul → QuickGelu → DynamicQuantizeMatMul) run in `chunks` blocks of
 * token rows (Split on the input, Concat on the output), so each block's wide hidden tensor (16384 × 384 floats = 25 MB in
 * Hiera's stage 1) stays cache-resident between the GEMM, the GELU and the next GEMM's quantisation. `only` picks by the
 * first GEMM's node name. Returns how many MLPs were rewritten.
 */
export function chunkMlpRows(model: ProtoModel, chunks: number, only?: (fc1: ProtoNode) => boolean): number {
  const g = model.graph!;
  const { producer, consumers, graphOutputs } = graphLinks(g);
  let uid = 0;
  const added = new Map<ProtoNode, ProtoNode[]>();
  const drop = new Set<ProtoNode>();
  let count = 0;
  for (const act of g.node) {
    if (act.opType !== 'QuickGelu') continue;
    const fc1 = producer.get(act.input[0]!);
    const next = consumers.get(act.output[0]!) ?? [];
    const fc2 = next[0];
    if (
      fc1?.opType !== 'DynamicQuantizeMatMul' ||
      next.length !== 1 ||
      fc2?.opType !== 'DynamicQuantizeMatMul' ||
      fc2.input[0] !== act.output[0]
    )
      continue;
    if (
      consumers.get(fc1.output[0]!)?.length !== 1 ||
      graphOutputs.has(fc1.output[0]!) ||
      graphOutputs.has(act.output[0]!) ||
      (only && !only(fc1))
    )
      continue;
    const seq: ProtoNode[] = [];
    const mk = (opType: string, input: string[], attribute: ProtoNode['attribute'] = [], domain = '', outs = 1): string[] => {
      const n: ProtoNode = {
        opType,
        input,
        output: Array.from({ length: outs }, () => `mlpchunk_t${uid++}`),
        name: `mlpchunk_n${uid++}`,
        domain,
        attribute,
      };
      seq.push(n);
      return n.output;
    };
    const opset = toNumber(model.opsetImport.find((x) => (x.domain ?? '') === '')?.version);
    const splitAttrs = [{ name: 'axis', type: 2, i: 0 }, ...(opset >= 18 ? [{ name: 'num_outputs', type: 2, i: chunks }] : [])];
    const parts = mk('Split', [fc1.input[0]!], splitAttrs, '', chunks);
    const outs = parts.map((p) => {
      const h = mk('DynamicQuantizeMatMul', [p, ...fc1.input.slice(1)], fc1.attribute, fc1.domain ?? '')[0]!;
      const a = mk('QuickGelu', [h], act.attribute, act.domain ?? '')[0]!;
      return mk('DynamicQuantizeMatMul', [a, ...fc2.input.slice(1)], fc2.attribute, fc2.domain ?? '')[0]!;
    });
    mk('Concat', outs, [{ name: 'axis', type: 2, i: 0 }]);
    seq[seq.length - 1]!.output = [fc2.output[0]!];
    added.set(fc2, seq);
    for (const n of [fc1, act, fc2]) drop.add(n);
    count++;
  }
  if (count) spliceNodes(g, added, drop);
  return count;
}
