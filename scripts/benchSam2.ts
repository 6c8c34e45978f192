/**
 * SAM2 / MedSAM2 sections of `npm run bench` (registered in scripts/bench.ts).
 *
 * Runs the tiny512 parity fixture model (random weights, official SAM2.1-tiny-512 architecture) on
 * the fixture's l1 volume in exact (fp32) and fast (int8) mode, interleaved run by run: image
 * encoder ms/frame and GFLOP/s (FLOPs counted from the graph), memory attention at full memory
 * (the flow's last call) ms/call and GFLOP/s, SAM heads ms/prompt, the `box_bidir`
 * flow end to end (box on the middle slice, forward + reverse) with the per-stage split from the
 * engine's cumulative timers, per-op-type profiles (--profile), and how time and RSS grow from 16
 * to 200 slices. The ratio to the official PyTorch code is printed only for a fair official time
 * measured on the same machine and passed as --official-seconds.
 * Fixtures: MEDSAM2_SAM2_FIXTURES (default ../shared/fixtures/sam2).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openNpz } from '../src/io/npzFile.js';
import { Sam2Engine, type Sam2Stage } from '../src/engine/sam2/sam2Engine.js';
import * as ort from 'onnxruntime-node';
import type { MemoryAttentionInput } from '../src/engine/sam2/types.js';
import type { Precision } from '../src/models/precision.js';
import type { Sam2CompiledModel } from '../src/models/sam2/compile.js';
import { loadSam2Compiled } from '../src/models/sam2/graphCache.js';
import { IMAGE_ENCODER_IO } from '../src/models/sam2/graphs/imageEncoder.js';
import { MEMORY_ATTENTION_IO } from '../src/models/sam2/graphs/memoryAttention.js';
import { formatProfile, profileByOpType, type ModelProfile } from './ortProfile.js';
import { framesFromU8 } from '../src/predictor/sam2/frameSource.js';
import { Sam2VideoPredictor } from '../src/predictor/sam2/videoPredictor.js';

/** Same default as the volume pipeline (sam2Volume featureCacheMiB); env MEDSAM2_BENCH_CACHE_MIB overrides. */
const FEATURE_CACHE_MIB = Number(process.env.MEDSAM2_BENCH_CACHE_MIB ?? 1024);

interface Ctx {
  runs: number;
  e2eRuns: number;
  threads: number;
  /** Precisions to measure, exact first (default fp32 and int8). */
  precisions: Precision[];
  /** Fair official box_bidir seconds measured on this machine (--official-seconds), for the ratio. */
  officialSeconds?: number;
  /** Print per-op-type profiles (--profile). */
  profile: boolean;
  /** Nominal fp32 peak GFLOP/s of the threads used (from /proc/cpuinfo), when known. */
  peakGflops?: number;
}
type Metrics = Record<string, number | string>;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const rssMb = () => Math.round(process.memoryUsage().rss / 2 ** 20);
const peakRssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);

export function fixtureFiles(): { dir: string; manifest: any; config: string; checkpoint: string; input: string } {
  const dir = resolve(process.env.MEDSAM2_SAM2_FIXTURES ?? '../shared/fixtures/sam2');
  const mp = join(dir, 'tiny512_box_bidir.json');
  if (!existsSync(mp)) throw new Error(`SAM2 bench needs ${mp} (set MEDSAM2_SAM2_FIXTURES)`);
  const manifest = JSON.parse(readFileSync(mp, 'utf8'));
  const cfg = String(manifest.config);
  return {
    dir,
    manifest,
    config: join(dir, /\.ya?ml$/.test(cfg) ? cfg : `${cfg}.yaml`),
    checkpoint: join(dir, String(manifest.checkpoint)),
    input: join(dir, `inputs_${manifest.input}.npz`),
  };
}

interface Volume {
  u8: Uint8Array;
  n: number;
  h: number;
  w: number;
}

export function loadVolume(path: string): Volume {
  const f = openNpz(path);
  const a = f.get('frames_u8');
  const [n, h, w] = a.shape as number[];
  return { u8: a.data as Uint8Array, n: n!, h: h!, w: w! };
}

/** N slices from the source volume by linear interpolation along z (a longer scan of the same anatomy). */
function resampleVolume(v: Volume, n: number): Volume {
  const px = v.h * v.w;
  const out = new Uint8Array(n * px);
  for (let k = 0; k < n; k++) {
    const z = n === 1 ? 0 : (k * (v.n - 1)) / (n - 1);
    const z0 = Math.floor(z);
    const z1 = Math.min(v.n - 1, z0 + 1);
    const t = z - z0;
    const a = v.u8.subarray(z0 * px, (z0 + 1) * px);
    const b = v.u8.subarray(z1 * px, (z1 + 1) * px);
    const o = k * px;
    for (let i = 0; i < px; i++) out[o + i] = Math.round(a[i]! * (1 - t) + b[i]! * t);
  }
  return { u8: out, n, h: v.h, w: v.w };
}

const STAGES: Sam2Stage[] = ['imageEncoder', 'memoryAttention', 'samHeads', 'memoryEncoder', 'maskDownsample', 'objPtrTpos'];

/** The fixture box_bidir flow: box on mid, propagate forward, reset, box again, propagate in reverse. */
export async function boxBidir(
  engine: Sam2Engine,
  vol: Volume,
  box: number[],
): Promise<{ ms: number; frames: number; stages: Record<Sam2Stage, { ms: number; calls: number }> }> {
  const cfg = engine.compiled.configs.predictor;
  const bytesPerFrame = 4 * engine.hiddenDim * (engine.imageSize / 16) ** 2 * 4;
  const featureCacheFrames = Math.max(1, Math.min(vol.n, Math.floor((FEATURE_CACHE_MIB * 2 ** 20) / bytesPerFrame)));
  const predictor = new Sam2VideoPredictor(engine, cfg, { fillHoleArea: 0, featureCacheFrames });
  const frames = framesFromU8(vol.u8, vol.n, vol.h, vol.w, engine.imageSize);
  const mid = vol.n >> 1;
  engine.resetStageTimes();
  const t0 = performance.now();
  let count = 0;
  for (const reverse of [false, true]) {
    const state = await predictor.initState(frames, vol.h, vol.w);
    await predictor.addNewPointsOrBox(state, { frameIdx: mid, objId: 1, box });
    for await (const _ of predictor.propagateInVideo(state, { startFrameIdx: mid, reverse })) count++;
    predictor.resetState(state);
  }
  const ms = performance.now() - t0;
  return { ms, frames: count, stages: structuredClone(engine.stageTimes) };
}

async function openTiny(
  ctx: Ctx,
  precision: Precision = 'fp32',
): Promise<{ engine: Sam2Engine; files: ReturnType<typeof fixtureFiles>; loadMs: number; compiled: Sam2CompiledModel }> {
  const files = fixtureFiles();
  const t = performance.now();
  const { model } = await loadSam2Compiled({ checkpointPath: files.checkpoint, configPath: files.config }, { precision });
  const engine = await Sam2Engine.create(model, { threads: ctx.threads });
  return { engine, files, loadMs: performance.now() - t, compiled: model };
}

/** Memory-attention feeds of a real call (the flow's last, full-memory one), for the op profile. */
function memoryAttentionFeeds(engine: Sam2Engine, input: MemoryAttentionInput): Record<string, ort.Tensor> {
  const hw = (engine.imageSize / 16) ** 2;
  const io = MEMORY_ATTENTION_IO;
  const M = input.numMemoryTokens;
  return {
    [io.curr]: new ort.Tensor('float32', input.curr, [hw, 1, engine.hiddenDim]),
    [io.currPos]: new ort.Tensor('float32', input.currPos, [hw, 1, engine.hiddenDim]),
    [io.memory]: new ort.Tensor('float32', input.memory, [M, 1, engine.memDim]),
    [io.memoryPos]: new ort.Tensor('float32', input.memoryPos, [M, 1, engine.memDim]),
    [io.numObjPtrTokens]: new ort.Tensor('float32', Float32Array.of(input.numObjPtrTokens), [1]),
  };
}

const fmtS = (ms: number) => (ms / 1000).toFixed(2);

const sam2Tiny = {
  name: 'sam2-tiny512',
  description:
    'MedSAM2 / SAM2.1-tiny 512 px (fixture weights): encoder, SAM heads, box_bidir flow with stage split, exact (fp32) vs fast (int8) interleaved',
  async run(ctx: Ctx): Promise<Metrics> {
    const precisions = ctx.precisions;
    const open = [];
    for (const p of precisions) open.push({ precision: p, ...(await openTiny(ctx, p)) });
    const { files } = open[0]!;
    const vol = loadVolume(files.input);
    const box = files.manifest.info.gt_mid_box as number[];
    const frames = framesFromU8(vol.u8, vol.n, vol.h, vol.w, open[0]!.engine.imageSize);
    const img = await frames.frame(vol.n >> 1);
    const m: Metrics = {};
    for (const o of open) m[`${o.precision}: graphs load + sessions ms`] = Math.round(o.loadMs);

    // Image encoder: the precisions interleaved run by run, so machine drift hits all alike.
    let feats = await open[0]!.engine.encodeImage(img);
    for (const o of open.slice(1)) await o.engine.encodeImage(img); // warm-up
    const enc = open.map(() => [] as number[]);
    for (let i = 0; i < ctx.runs; i++) {
      for (const [k, o] of open.entries()) {
        const t = performance.now();
        const f = await o.engine.encodeImage(img);
        enc[k]!.push(performance.now() - t);
        if (k === 0) feats = f;
      }
    }
    // Encoder FLOPs counted from the graph (GEMM/conv node shapes in an ORT profile of one frame).
    const encFeeds = {
      [IMAGE_ENCODER_IO.image]: new ort.Tensor('float32', img, [1, 3, open[0]!.engine.imageSize, open[0]!.engine.imageSize]),
    };
    const profiles: Record<string, ModelProfile> = {};
    for (const o of open)
      profiles[`${o.precision} image encoder`] = await profileByOpType(
        o.compiled.graphs.imageEncoder,
        encFeeds,
        ctx.profile ? 3 : 1,
        ctx.threads,
      );
    const gflop = profiles[`${open[0]!.precision} image encoder`]!.gflop;
    m['image encoder GFLOP/frame (counted from the graph)'] = +gflop.toFixed(1);
    for (const [k, o] of open.entries()) {
      const med = median(enc[k]!);
      m[`${o.precision}: image encoder ms/frame (median of ${ctx.runs})`] = Math.round(med);
      m[`${o.precision}: image encoder GFLOP/s`] = Math.round(gflop / (med / 1000));
    }
    if (ctx.peakGflops)
      m['image encoder fp32 share of nominal peak'] = `${((100 * gflop) / (median(enc[0]!) / 1000) / ctx.peakGflops).toFixed(0)} %`;

    // SAM heads (identical in both precisions): exact engine.
    const exact = open[0]!.engine;
    const C = exact.hiddenDim;
    const hw = feats.visionFeatures.length / C;
    const pix = new Float32Array(feats.visionFeatures.length);
    for (let c = 0; c < C; c++)
      for (let i = 0; i < hw; i++) pix[c * hw + i] = feats.visionFeatures[c * hw + i]! + exact.params.noMemEmbed[c]!;
    const S = exact.imageSize;
    const boxInput = {
      pixFeat: pix,
      highRes0: feats.highRes0,
      highRes1: feats.highRes1,
      pointCoords: Float32Array.from(box.map((v, i) => (v / (i % 2 ? vol.h : vol.w)) * S)),
      pointLabels: Int32Array.of(2, 3),
      multimaskOutput: true,
    };
    await exact.runSamHeads(boxInput);
    const dec: number[] = [];
    for (let i = 0; i < Math.max(ctx.runs, 10); i++) {
      const t = performance.now();
      await exact.runSamHeads(boxInput);
      dec.push(performance.now() - t);
    }
    m['SAM heads (box, multimask) ms/prompt'] = +median(dec).toFixed(1);

    // box_bidir: one warm-up each, then the precisions interleaved run by run.
    let lastAttend: MemoryAttentionInput | undefined;
    for (const o of open) {
      const orig = o.engine.attendMemory.bind(o.engine);
      o.engine.attendMemory = (input) => {
        lastAttend = input;
        return orig(input);
      };
      await boxBidir(o.engine, vol, box);
    }
    const runs = open.map(() => [] as Awaited<ReturnType<typeof boxBidir>>[]);
    for (let i = 0; i < Math.max(3, ctx.e2eRuns); i++)
      for (const [k, o] of open.entries()) runs[k]!.push(await boxBidir(o.engine, vol, box));
    const medRun = runs.map((r) => [...r].sort((a, b) => a.ms - b.ms)[r.length >> 1]!);
    for (const [k, o] of open.entries()) {
      const med = medRun[k]!;
      const p = o.precision;
      m[`${p}: box_bidir s (median)`] = +fmtS(med.ms);
      m[`${p}: box_bidir runs s`] = runs[k]!.map((r) => fmtS(r.ms)).join(' / ');
      if (ctx.officialSeconds)
        m[`${p}: speed-up vs official ${ctx.officialSeconds} s (given)`] = +(ctx.officialSeconds / (med.ms / 1000)).toFixed(2);
      for (const s of STAGES) {
        const st = med.stages[s];
        if (st.calls === 0) continue;
        m[`${p}:   ${s} s (calls, ms/call)`] = `${fmtS(st.ms)} (${st.calls}, ${(st.ms / st.calls).toFixed(1)})`;
      }
      const inStages = STAGES.reduce((a, s) => a + med.stages[s].ms, 0);
      m[`${p}:   predictor JS + glue s`] = +fmtS(med.ms - inStages);
    }
    // Memory attention at full memory (the flow's last call: 7 memory frames + object pointers),
    // interleaved like the encoder; FLOPs counted from the exact graph's profile.
    if (lastAttend) {
      const input = lastAttend;
      const att = open.map(() => [] as number[]);
      for (const o of open) await o.engine.attendMemory(input);
      for (let i = 0; i < Math.max(ctx.runs, 5); i++)
        for (const [k, o] of open.entries()) {
          const t = performance.now();
          await o.engine.attendMemory(input);
          att[k]!.push(performance.now() - t);
        }
      const maGflop = (await profileByOpType(open[0]!.compiled.graphs.memoryAttention, memoryAttentionFeeds(exact, input), 1, ctx.threads))
        .gflop;
      m[`memory attention GFLOP/call at full memory (${input.numMemoryTokens} tokens)`] = +maGflop.toFixed(1);
      for (const [k, o] of open.entries()) {
        const med = median(att[k]!);
        m[`${o.precision}: memory attention full-memory ms/call (median of ${att[k]!.length})`] = Math.round(med);
        m[`${o.precision}: memory attention GFLOP/s`] = Math.round(maGflop / (med / 1000));
      }
      if (ctx.peakGflops)
        m['memory attention fp32 share of nominal peak'] = `${((100 * maGflop) / (median(att[0]!) / 1000) / ctx.peakGflops).toFixed(0)} %`;
      if (open.length > 1) m['int8 / fp32 memory attention speed-up'] = +(median(att[0]!) / median(att[1]!)).toFixed(2);
    }
    if (open.length > 1) {
      m['int8 / fp32 box_bidir speed-up (same runs, interleaved)'] = +(medRun[0]!.ms / medRun[1]!.ms).toFixed(2);
      m['int8 / fp32 image encoder speed-up'] = +(median(enc[0]!) / median(enc[1]!)).toFixed(2);
    }
    if (!ctx.officialSeconds) m['ratio to the official code'] = 'pass --official-seconds S (fair official box_bidir on this machine)';
    m['frames output'] = medRun[0]!.frames;
    m['peak RSS MB (process so far)'] = peakRssMb();

    if (ctx.profile && lastAttend) {
      const feeds = memoryAttentionFeeds(exact, lastAttend);
      for (const o of open)
        profiles[`${o.precision} memory attention (${lastAttend.numMemoryTokens} memory tokens)`] = await profileByOpType(
          o.compiled.graphs.memoryAttention,
          feeds,
          5,
          ctx.threads,
        );
      for (const [name, p] of Object.entries(profiles)) m[`profile: ${name}`] = '\n' + formatProfile(p, 14);
    }
    for (const o of open) await o.engine.release();
    return m;
  },
};

const sam2Scaling = {
  name: 'sam2-tiny512-scaling',
  description: `box_bidir on the l1 volume resampled to 16/50/100/200 slices (one run each; feature cache ${FEATURE_CACHE_MIB} MiB budget; env MEDSAM2_BENCH_SLICES, MEDSAM2_BENCH_CACHE_MIB)`,
  async run(ctx: Ctx): Promise<Metrics> {
    const { engine, files } = await openTiny(ctx);
    const src = loadVolume(files.input);
    const box = files.manifest.info.gt_mid_box as number[];
    const m: Metrics = {};
    const sizes = (process.env.MEDSAM2_BENCH_SLICES ?? '16,50,100,200').split(',').map(Number);
    for (const n of sizes) {
      const r = await boxBidir(engine, n === src.n ? src : resampleVolume(src, n), box);
      const enc = r.stages.imageEncoder;
      const att = r.stages.memoryAttention;
      m[`${n} slices: s, s/slice`] = `${(r.ms / 1000).toFixed(1)}, ${(r.ms / 1000 / n).toFixed(3)}`;
      m[`${n} slices: encoder s (calls) / mem-attn s (calls)`] =
        `${(enc.ms / 1000).toFixed(1)} (${enc.calls}) / ${(att.ms / 1000).toFixed(1)} (${att.calls})`;
      m[`${n} slices: RSS MB now / peak`] = `${rssMb()} / ${peakRssMb()}`;
    }
    m['feature cache MiB per frame'] = +((4 * engine.hiddenDim * (engine.imageSize / 16) ** 2 * 4) / 2 ** 20).toFixed(1);
    await engine.release();
    return m;
  },
};

/** Sections appended to scripts/bench.ts SECTIONS (structurally its BenchSection). */
export const sam2Sections = [sam2Tiny, sam2Scaling];
