/**
 * What Hiera's window padding costs, per config, and an interleaved encoder A/B against an older
 * graph builder (BENCHMARKS.md "Exact mode, fifth pass: window padding").
 *
 *   node --import tsx scripts/benchHieraPadding.ts                    # GFLOP table only
 *   node --import tsx scripts/benchHieraPadding.ts --old-src DIR --pairs 10 [--flow-pairs 3] [--threads 2]
 *
 * The table counts the trunk blocks' GEMM FLOPs (multiply-add = 2: qkv, shortcut proj, attention
 * products, proj, MLP) in three forms: upstream's MultiScaleBlock (tokens zero-padded to the window
 * before qkv, cropped after proj), our graphs up to sam2-graphs-7 (qkv and proj on the real tokens,
 * attention still over the padded windows) and now (attention without padded queries, padded keys
 * as one key; hieraBlock.ts paddedWindowAttention). Counted from the architecture (no checkpoint is
 * needed), for the SAM2.1 / MedSAM2 Hiera configs at 512 and 1024 px.
 * The A/B builds the tiny512 fixture encoder with this tree's builder and with DIR's (a copy of an
 * older src/, e.g. `git archive <commit> src | tar -x -C DIR`, with node_modules reachable from DIR)
 * and times them alternately in one process (ms/frame, medians); --flow-pairs also runs the bench's
 * `box_bidir` flow (scripts/benchSam2.ts) with all graphs compiled by each tree, alternately.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { nodePlatform } from '../src/platform/node.js';
import { setPlatform } from '../src/platform/platform.js';
import { loadCheckpoint } from '../src/models/checkpoint/index.js';
import { WeightStore } from '../src/models/onnx/weightStore.js';
import { imageEncoderConfigFromYaml, type HieraTrunkConfig } from '../src/models/sam2/graphs/hieraConfig.js';
import { hieraPlan } from '../src/models/sam2/graphs/hieraTrunk.js';
import { buildImageEncoderGraph, IMAGE_ENCODER_IO } from '../src/models/sam2/graphs/imageEncoder.js';
import { compileSam2, sam2ConfigsFromYaml } from '../src/models/sam2/compile.js';
import { Sam2Engine } from '../src/engine/sam2/sam2Engine.js';
import { boxBidir, fixtureFiles, loadVolume } from './benchSam2.js';

setPlatform(nodePlatform);

type Form = 'upstream' | 'graphs7' | 'now';

/** Real token counts of the windows along an axis of n tokens (window win). */
const axis = (n: number, win: number): number[] => Array.from({ length: Math.ceil(n / win) }, (_, i) => Math.min(win, n - i * win));

/** Trunk-block GEMM GFLOP of one frame in each form. */
export function trunkGflop(cfg: HieraTrunkConfig, imageSize: number): Record<Form, number> {
  const out: Record<Form, number> = { upstream: 0, graphs7: 0, now: 0 };
  let side = Math.floor((imageSize + 6 - 7) / 4) + 1;
  for (const b of hieraPlan(cfg).blocks) {
    const s = b.qStride?.[0] ?? 1;
    const so = Math.floor(side / s);
    const n = side * side;
    const no = so * so;
    const { dim: d, dimOut: D } = b;
    const win = b.windowSize;
    const common = (d !== D ? 2 * n * d * D : 0) + 16 * no * D * D; // shortcut proj, MLP
    const add = (f: Form, qkvRows: number, pairs: number, projRows: number) =>
      (out[f] += common + 2 * qkvRows * d * 3 * D + 4 * pairs * D + 2 * projRows * D * D);
    if (win === 0 || side % win === 0) {
      // no padding: all forms alike (global: one window of the whole map)
      const pairs = win === 0 ? no * n : (n / (win * win)) * (win / s) ** 2 * win * win;
      for (const f of ['upstream', 'graphs7', 'now'] as Form[]) add(f, n, pairs, no);
    } else {
      const nW = Math.ceil(side / win) ** 2;
      const P = nW * win * win;
      const padPairs = nW * (win / s) ** 2 * win * win;
      add('upstream', P, padPairs, nW * (win / s) ** 2);
      // q on the real tokens, k and v on the real tokens + one zero row (qkv rows averaged over thirds)
      add('graphs7', (n + 2 * (n + 1)) / 3, padPairs, no);
      const qa = axis(so, win / s);
      const ka = axis(side, win);
      const full: [number, number][] = [];
      const part: [number, number][] = [];
      qa.forEach((qy, i) => qa.forEach((qx, j) => (ka[i]! * ka[j]! === win * win ? full : part).push([qy * qx, ka[i]! * ka[j]!])));
      const grouped =
        full.reduce((t, [lq, lk]) => t + lq * lk, 0) +
        part.length * Math.max(0, ...part.map(([lq]) => lq)) * (Math.max(0, ...part.map(([, lk]) => lk)) + 1);
      add('now', (n + 2 * (n + 1)) / 3, grouped, no);
    }
    side = so;
  }
  return { upstream: out.upstream / 1e9, graphs7: out.graphs7 / 1e9, now: out.now / 1e9 };
}

const base = { numHeads: 1, qPool: 3, qStride: [2, 2] as [number, number], dimMul: 2, headMul: 2, windowSpec: [8, 4, 14, 7] };
/** SAM2.1 Hiera trunks (sam2/configs/sam2.1/*.yaml; MedSAM2 uses tiny at 512 px). */
const CONFIGS: Record<string, HieraTrunkConfig> = {
  tiny: { ...base, embedDim: 96, stages: [1, 2, 7, 2], globalAttBlocks: [5, 7, 9], windowPosEmbedBkgSpatialSize: [7, 7] },
  small: { ...base, embedDim: 96, stages: [1, 2, 11, 2], globalAttBlocks: [7, 10, 13], windowPosEmbedBkgSpatialSize: [7, 7] },
  'base+': {
    ...base,
    embedDim: 112,
    numHeads: 2,
    stages: [2, 3, 16, 3],
    globalAttBlocks: [12, 16, 20],
    windowPosEmbedBkgSpatialSize: [14, 14],
  },
  large: {
    ...base,
    embedDim: 144,
    numHeads: 2,
    stages: [2, 6, 36, 4],
    globalAttBlocks: [23, 33, 43],
    windowSpec: [8, 4, 16, 8],
    windowPosEmbedBkgSpatialSize: [7, 7],
  },
};

function printTable(): void {
  console.log('trunk-block GEMM GFLOP per frame: upstream (padded qkv/proj/attention) | sam2-graphs-7 | now; saved now vs 7, vs upstream');
  for (const size of [512, 1024])
    for (const [name, cfg] of Object.entries(CONFIGS)) {
      const f = trunkGflop(cfg, size);
      const pct = (a: number, b: number) => `${(a - b).toFixed(2)} (${(((a - b) / a) * 100).toFixed(1)} %)`;
      console.log(
        `  ${`${name} ${size}`.padEnd(12)} ${f.upstream.toFixed(2).padStart(7)} | ${f.graphs7.toFixed(2).padStart(7)} | ${f.now.toFixed(2).padStart(7)}   ${pct(f.graphs7, f.now).padStart(14)}   ${pct(f.upstream, f.now).padStart(14)}`,
      );
    }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function abEncoder(oldSrc: string, pairs: number, threads: number): Promise<void> {
  const dir = resolve(process.env.MEDSAM2_SAM2_FIXTURES ?? '../shared/fixtures/sam2');
  const cfg = imageEncoderConfigFromYaml(readFileSync(join(dir, 'tiny512.yaml'), 'utf8'));
  const ckpt = join(dir, 'tiny512_fp16.pt');
  const ws = new WeightStore((await loadCheckpoint(ckpt)).tensors, ckpt);
  const old = (await import(resolve(oldSrc, 'src/models/sam2/graphs/imageEncoder.ts'))) as {
    buildImageEncoderGraph: typeof buildImageEncoderGraph;
  };
  // no idle spinning: process CPU time then counts only work, which a shared machine can still measure
  const opts: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
  const sessions = {
    old: await ort.InferenceSession.create(old.buildImageEncoderGraph(cfg, ws), opts),
    new: await ort.InferenceSession.create(buildImageEncoderGraph(cfg, ws), opts),
  };
  const S = cfg.imageSize;
  const img = new Float32Array(3 * S * S);
  for (let i = 0; i < img.length; i++) img[i] = Math.sin(i * 0.37) * 2;
  const feeds = { [IMAGE_ENCODER_IO.image]: new ort.Tensor('float32', img, [1, 3, S, S]) };
  const outs: Record<string, Float32Array> = {};
  for (const [k, s] of Object.entries(sessions)) outs[k] = (await s.run(feeds))[IMAGE_ENCODER_IO.visionFeatures]!.data as Float32Array; // warm-up
  let maxDiff = 0;
  for (let i = 0; i < outs.old!.length; i++) maxDiff = Math.max(maxDiff, Math.abs(outs.old![i]! - outs.new![i]!));
  const ms: Record<'old' | 'new', number[]> = { old: [], new: [] };
  const cpu: Record<'old' | 'new', number[]> = { old: [], new: [] };
  for (let p = 0; p < pairs; p++)
    for (const k of (p % 2 ? ['new', 'old'] : ['old', 'new']) as ('old' | 'new')[]) {
      const c = process.cpuUsage();
      const t0 = performance.now();
      await sessions[k].run(feeds);
      ms[k].push(performance.now() - t0);
      const dc = process.cpuUsage(c);
      cpu[k].push((dc.user + dc.system) / 1000);
    }
  console.log(
    `tiny512 encoder, ${pairs} interleaved pairs, ${threads} threads: vision_features max |old - new| ${maxDiff.toExponential(2)}`,
  );
  for (const k of ['old', 'new'] as const)
    console.log(
      `  ${k}: wall median ${median(ms[k]).toFixed(1)} ms/frame (min ${Math.min(...ms[k]).toFixed(1)}), CPU median ${median(cpu[k]).toFixed(1)} ms/frame (min ${Math.min(...cpu[k]).toFixed(1)})`,
    );
  const ratio = (a: number[], b: number[]) => median(a.map((o, i) => o / b[i]!)).toFixed(3);
  console.log(`  old/new per pair, medians: wall ${ratio(ms.old, ms.new)}, CPU ${ratio(cpu.old, cpu.new)}`);
}

async function abFlow(oldSrc: string, pairs: number, threads: number): Promise<void> {
  const files = fixtureFiles();
  const ckpt = await loadCheckpoint(files.checkpoint);
  const configs = sam2ConfigsFromYaml(readFileSync(files.config, 'utf8'));
  const old = (await import(resolve(oldSrc, 'src/models/sam2/compile.ts'))) as { compileSam2: typeof compileSam2 };
  const engines = {
    old: await Sam2Engine.create(old.compileSam2(ckpt, configs), { threads }),
    new: await Sam2Engine.create(compileSam2(ckpt, configs), { threads }),
  };
  const vol = loadVolume(files.input);
  const box = files.manifest.info.gt_mid_box as number[];
  for (const e of Object.values(engines)) await boxBidir(e, vol, box); // warm-up
  const s: Record<'old' | 'new', number[]> = { old: [], new: [] };
  const enc: Record<'old' | 'new', number[]> = { old: [], new: [] };
  for (let p = 0; p < pairs; p++)
    for (const k of (p % 2 ? ['new', 'old'] : ['old', 'new']) as ('old' | 'new')[]) {
      const r = await boxBidir(engines[k], vol, box);
      s[k].push(r.ms / 1000);
      enc[k].push(r.stages.imageEncoder.ms / 1000);
    }
  console.log(`tiny512 box_bidir flow, ${pairs} interleaved pairs, ${threads} threads:`);
  for (const k of ['old', 'new'] as const)
    console.log(
      `  ${k}: median ${median(s[k]).toFixed(2)} s (${s[k].map((x) => x.toFixed(2)).join(' ')}), encoder stage median ${median(enc[k]).toFixed(2)} s`,
    );
  console.log(`  old/new per pair: median ${median(s.old.map((o, i) => o / s.new[i]!)).toFixed(3)}`);
}

const argv = process.argv.slice(2);
const arg = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
printTable();
const oldSrc = arg('--old-src');
const threads = Number(arg('--threads') ?? Math.min(2, availableParallelism()));
if (oldSrc) await abEncoder(oldSrc, Number(arg('--pairs') ?? 10), threads);
if (oldSrc && arg('--flow-pairs')) await abFlow(oldSrc, Number(arg('--flow-pairs')), threads);
