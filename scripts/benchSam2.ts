/**
 * SAM2 / MedSAM2 sections of `npm run bench` (registered in scripts/bench.ts).
 *
 * Runs the tiny512 parity fixture model (random weights, official SAM2.1-tiny-512 architecture) on
 * the fixture's l1 volume: image encoder ms/frame, SAM heads ms/prompt, the `box_bidir` flow end to
 * end (box on the middle slice, forward + reverse) with the per-stage split from the engine's
 * cumulative timers, and how time and RSS grow from 16 to 200 slices. The official PyTorch timing
 * of the same flow on the same machine is quoted from the fixture README for the ratio.
 * Fixtures: MEDSAM2_SAM2_FIXTURES (default ../shared/fixtures/sam2).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openNpz } from '../src/io/npzFile.js';
import { Sam2Engine, type Sam2Stage } from '../src/engine/sam2/sam2Engine.js';
import { loadSam2Compiled } from '../src/models/sam2/graphCache.js';
import { framesFromU8 } from '../src/predictor/sam2/frameSource.js';
import { Sam2VideoPredictor } from '../src/predictor/sam2/videoPredictor.js';

/** Official PyTorch reference on this machine (fixture README "Timing anchor"). */
const OFFICIAL_BOX_BIDIR_S = 26.1;
const OFFICIAL_ENCODER_S_PER_FRAME = 0.86;
/** Same default as the volume pipeline (sam2Volume featureCacheMiB); env MEDSAM2_BENCH_CACHE_MIB overrides. */
const FEATURE_CACHE_MIB = Number(process.env.MEDSAM2_BENCH_CACHE_MIB ?? 1024);

interface Ctx {
  runs: number;
  e2eRuns: number;
  threads: number;
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
export async function boxBidir(engine: Sam2Engine, vol: Volume, box: number[]): Promise<{ ms: number; frames: number; stages: Record<Sam2Stage, { ms: number; calls: number }> }> {
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

async function openTiny(ctx: Ctx): Promise<{ engine: Sam2Engine; files: ReturnType<typeof fixtureFiles>; loadMs: number }> {
  const files = fixtureFiles();
  const t = performance.now();
  const { model } = await loadSam2Compiled({ checkpointPath: files.checkpoint, configPath: files.config });
  const engine = await Sam2Engine.create(model, { threads: ctx.threads });
  return { engine, files, loadMs: performance.now() - t };
}

const sam2Tiny = {
  name: 'sam2-tiny512',
  description: 'MedSAM2 / SAM2.1-tiny 512 px (fixture weights): encoder, SAM heads, box_bidir flow with stage split, vs official PyTorch',
  async run(ctx: Ctx): Promise<Metrics> {
    const { engine, files, loadMs } = await openTiny(ctx);
    const vol = loadVolume(files.input);
    const box = files.manifest.info.gt_mid_box as number[];
    const frames = framesFromU8(vol.u8, vol.n, vol.h, vol.w, engine.imageSize);
    const img = await frames.frame(vol.n >> 1);

    let feats = await engine.encodeImage(img); // warm-up
    const enc: number[] = [];
    for (let i = 0; i < ctx.runs; i++) {
      const t = performance.now();
      feats = await engine.encodeImage(img);
      enc.push(performance.now() - t);
    }
    const C = engine.hiddenDim;
    const hw = feats.visionFeatures.length / C;
    const pix = new Float32Array(feats.visionFeatures.length);
    for (let c = 0; c < C; c++) for (let i = 0; i < hw; i++) pix[c * hw + i] = feats.visionFeatures[c * hw + i]! + engine.params.noMemEmbed[c]!;
    const S = engine.imageSize;
    const boxInput = {
      pixFeat: pix, highRes0: feats.highRes0, highRes1: feats.highRes1,
      pointCoords: Float32Array.from(box.map((v, i) => (v / (i % 2 ? vol.h : vol.w)) * S)), pointLabels: Int32Array.of(2, 3),
      multimaskOutput: true,
    };
    await engine.runSamHeads(boxInput);
    const dec: number[] = [];
    for (let i = 0; i < Math.max(ctx.runs, 10); i++) {
      const t = performance.now();
      await engine.runSamHeads(boxInput);
      dec.push(performance.now() - t);
    }

    await boxBidir(engine, vol, box); // warm-up
    const runs = [];
    for (let i = 0; i < Math.max(3, ctx.e2eRuns); i++) runs.push(await boxBidir(engine, vol, box));
    runs.sort((a, b) => a.ms - b.ms);
    const med = runs[runs.length >> 1]!;
    await engine.release();

    const m: Metrics = {
      'graphs load + sessions ms': Math.round(loadMs),
      'image encoder ms/frame': Math.round(median(enc)),
      'official encoder ms/frame': OFFICIAL_ENCODER_S_PER_FRAME * 1000,
      'SAM heads (box, multimask) ms/prompt': +median(dec).toFixed(1),
      'box_bidir s (median)': +(med.ms / 1000).toFixed(2),
      'box_bidir runs s': runs.map((r) => (r.ms / 1000).toFixed(2)).join(' / '),
      'box_bidir official s': OFFICIAL_BOX_BIDIR_S,
      'speed-up vs official': +(OFFICIAL_BOX_BIDIR_S / (med.ms / 1000)).toFixed(2),
      'frames output': med.frames,
    };
    for (const s of STAGES) {
      const st = med.stages[s];
      if (st.calls === 0) continue;
      m[`  ${s} s (calls, ms/call)`] = `${(st.ms / 1000).toFixed(2)} (${st.calls}, ${(st.ms / st.calls).toFixed(1)})`;
    }
    const inStages = STAGES.reduce((a, s) => a + med.stages[s].ms, 0);
    m['  predictor JS + glue s'] = +((med.ms - inStages) / 1000).toFixed(2);
    m['peak RSS MB (process so far)'] = peakRssMb();
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
      m[`${n} slices: encoder s (calls) / mem-attn s (calls)`] = `${(enc.ms / 1000).toFixed(1)} (${enc.calls}) / ${(att.ms / 1000).toFixed(1)} (${att.calls})`;
      m[`${n} slices: RSS MB now / peak`] = `${rssMb()} / ${peakRssMb()}`;
    }
    m['feature cache MiB per frame'] = +((4 * engine.hiddenDim * (engine.imageSize / 16) ** 2 * 4) / 2 ** 20).toFixed(1);
    await engine.release();
    return m;
  },
};

/** Sections appended to scripts/bench.ts SECTIONS (structurally its BenchSection). */
export const sam2Sections = [sam2Tiny, sam2Scaling];
