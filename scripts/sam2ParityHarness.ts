/**
 * SAM2 predictor parity harness shared by `npm run parity` (scripts/parity.ts) and
 * test/parity/predictor.test.ts: replays every step of a fixture manifest through our predictor
 * and compares every recorded output. Nothing about fixture names or sizes is assumed: config,
 * checkpoint, inputs, frames, prompts and tolerances come from the manifest and its npz.
 */
import { readFileSync } from 'node:fs';
import { openNpz, type NpzFile } from '../src/io/npzFile.js';
import { loadCheckpoint } from '../src/models/checkpoint/index.js';
import { compileSam2, sam2ConfigsFromYaml, type Sam2CompiledModel } from '../src/models/sam2/compile.js';
import { loadSam2Compiled } from '../src/models/sam2/graphCache.js';
import type { Precision } from '../src/models/precision.js';
import { Sam2Engine } from '../src/engine/sam2/sam2Engine.js';
import { framesFromU8 } from '../src/predictor/sam2/frameSource.js';
import { pilResizeBicubicU8 } from '../src/preprocess/pilResize.js';
import type { Sam2InferenceState } from '../src/predictor/sam2/inferenceState.js';
import { Sam2VideoPredictor, type Sam2FrameResult } from '../src/predictor/sam2/videoPredictor.js';
import type { FixtureCase } from '../test/helpers/sam2Fixtures.js';
import { type ImageFeatureMemo, withSharedImageFeatures } from './sharedImageFeatures.js';

export interface QuantityStat {
  /** Largest error seen, and the bound it was checked against there. */
  maxErr: number;
  bound: number;
  where: string;
  checked: number;
  failed: number;
  /** Sum of the errors checked (their mean is sum / checked). */
  sum: number;
}

export interface CaseReport {
  id: string;
  ok: boolean;
  failures: string[];
  stats: Record<string, QuantityStat>;
  outputs: number;
  /** Image-encoder calls the predictor made (with sharedImageFeatures: read from the memo or run). */
  encoderCalls: number;
  seconds: number;
  /** Resized 8-bit frames checked against the stored `resized_u8` (non-square inputs). */
  resizeMismatches?: number;
  /** Every error recorded, in replay order (HarnessOptions.trace). */
  trace?: { quantity: string; where: string; err: number }[];
}

export interface HarnessOptions {
  threads?: number;
  /** Use the on-disk graph cache (default: compile in memory, shared per checkpoint+config within the process). */
  graphCache?: boolean;
  cacheDir?: string;
  log?: (m: string) => void;
  /** Graph precision (default fp32, the exact graphs; 'int8' measures the fast mode's deviation). */
  precision?: Precision;
  /** Replay these compiled graphs instead (experiments on graph variants). */
  compiled?: Sam2CompiledModel;
  /** Keep every recorded error in CaseReport.trace (where a deviation starts, e.g. int8 flips). */
  trace?: boolean;
  /**
   * Share image features between the cases of this process (scripts/sharedImageFeatures.ts): a frame
   * tensor the same compiled model already encoded is not encoded again. Not with `compiled`.
   */
  sharedImageFeatures?: ImageFeatureMemo;
}

const compiled = new Map<string, Promise<Sam2CompiledModel>>();

function compiledKey(c: FixtureCase, o: HarnessOptions): string {
  return `${c.checkpointPath}|${c.configPath}|${o.graphCache ? 'cache' : 'mem'}|${o.precision ?? 'fp32'}`;
}

function compiledFor(c: FixtureCase, o: HarnessOptions): Promise<Sam2CompiledModel> {
  if (o.compiled) return Promise.resolve(o.compiled);
  const k = compiledKey(c, o);
  let p = compiled.get(k);
  if (!p) {
    p = o.graphCache
      ? loadSam2Compiled(
          { checkpointPath: c.checkpointPath, configPath: c.configPath },
          { cacheDir: o.cacheDir, log: o.log, precision: o.precision },
        ).then((r) => r.model)
      : (async () =>
          compileSam2(await loadCheckpoint(c.checkpointPath), sam2ConfigsFromYaml(readFileSync(c.configPath, 'utf8')), {
            precision: o.precision,
          }))();
    compiled.set(k, p);
  }
  return p;
}

const STORAGE: Record<string, Sam2FrameResult['storage']> = {
  'temp_output_dict_per_obj(consolidated)': 'temp',
  cond_frame_outputs: 'cond',
  non_cond_frame_outputs: 'nonCond',
};

/** Tracks per-quantity worst errors and the failures (each naming case, step and frame). */
class Checker {
  readonly stats: Record<string, QuantityStat> = {};
  readonly failures: string[] = [];
  constructor(
    private readonly id: string,
    readonly trace?: { quantity: string; where: string; err: number }[],
  ) {}

  record(q: string, where: string, err: number, bound: number): void {
    this.trace?.push({ quantity: q, where, err });
    const s = (this.stats[q] ??= { maxErr: 0, bound, where: '', checked: 0, failed: 0, sum: 0 });
    s.checked++;
    s.sum += err;
    // keep the entry closest to (or furthest past) its bound
    const ratio = Number.isNaN(err) ? Infinity : bound > 0 ? err / bound : err > 0 ? Infinity : 0;
    const worst = s.where === '' ? -1 : Number.isNaN(s.maxErr) ? Infinity : s.bound > 0 ? s.maxErr / s.bound : s.maxErr > 0 ? Infinity : 0;
    if (ratio > worst) {
      s.maxErr = err;
      s.bound = bound;
      s.where = where;
    }
    if (!(err <= bound)) {
      s.failed++;
      if (this.failures.length < 40) this.failures.push(`${this.id} ${where}: ${q} error ${fmt(err)} > ${fmt(bound)}`);
    }
  }

  fail(where: string, msg: string): void {
    if (this.failures.length < 40) this.failures.push(`${this.id} ${where}: ${msg}`);
    const s = (this.stats['structure'] ??= { maxErr: 0, bound: 0, where: '', checked: 0, failed: 0, sum: 0 });
    s.failed++;
  }
}

function fmt(x: number): string {
  return Number.isNaN(x) ? 'NaN' : x === 0 ? '0' : Math.abs(x) >= 0.01 && Math.abs(x) < 1e4 ? x.toPrecision(3) : x.toExponential(2);
}

function f32Of(npz: NpzFile, key: string): Float32Array {
  const a = npz.get(key).data;
  return a instanceof Float32Array ? a : Float32Array.from(a as ArrayLike<number>);
}

/** max |a−b| (NaN where exactly one side is NaN). */
function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return NaN;
  let m = 0;
  for (let i = 0; i < b.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (Number.isNaN(x) && Number.isNaN(y)) continue;
    const e = Math.abs(x - y);
    if (!(e <= m)) m = e;
  }
  return m;
}

function concat(arrs: Float32Array[]): Float32Array {
  const out = new Float32Array(arrs.reduce((n, a) => n + a.length, 0));
  let o = 0;
  for (const a of arrs) {
    out.set(a, o);
    o += a.length;
  }
  return out;
}

function compareOutput(
  chk: Checker,
  npz: NpzFile,
  ref: any,
  got: Sam2FrameResult,
  where: string,
  prompted: boolean,
  H: number,
  W: number,
): void {
  if (got.frameIdx !== ref.frame_idx) chk.fail(where, `frame ${got.frameIdx}, expected ${ref.frame_idx}`);
  if (JSON.stringify(got.objIds) !== JSON.stringify(ref.obj_ids)) chk.fail(where, `object ids [${got.objIds}], expected [${ref.obj_ids}]`);
  const storage = STORAGE[String(ref.storage)];
  if (storage && storage !== got.storage) chk.fail(where, `output from ${got.storage}, expected ${storage}`);
  if (typeof ref.recomputed === 'boolean' && ref.recomputed !== got.recomputed)
    chk.fail(where, `recomputed=${got.recomputed}, expected ${ref.recomputed}`);
  const keys = ref.keys ?? {};
  const nObj = got.objIds.length;

  if (keys.lowres_logits) {
    const b = f32Of(npz, keys.lowres_logits);
    const a = concat(got.lowResMasks);
    let maxRef = 0;
    for (let i = 0; i < b.length; i++) if (b[i] !== -1024) maxRef = Math.max(maxRef, Math.abs(b[i]!));
    const bound = prompted ? 1e-3 : Math.max(1e-2, 1e-3 * maxRef);
    chk.record(prompted ? 'lowres (prompted)' : 'lowres (propagated)', where, maxAbs(a, b), bound);
  }
  if (keys.object_score_logits)
    chk.record('object score', where, maxAbs(got.objectScoreLogits, f32Of(npz, keys.object_score_logits)), 1e-3);
  if (keys.obj_ptr) chk.record('obj_ptr', where, maxAbs(concat(got.objPtrs), f32Of(npz, keys.obj_ptr)), 1e-3);
  if (keys.best_iou) chk.record('best IoU', where, maxAbs(got.bestIous, f32Of(npz, keys.best_iou)), 1e-4);
  const px = H * W;
  if (keys.video_mask) {
    const m = npz.get(keys.video_mask).data as Uint8Array;
    for (let o = 0; o < nObj; o++) {
      const v = got.videoResMasks[o]!;
      let diff = 0;
      for (let i = 0; i < px; i++) if ((v[i]! > 0 ? 1 : 0) !== (m[o * px + i]! ? 1 : 0)) diff++;
      chk.record('video mask (fraction differing)', `${where} obj ${got.objIds[o]}`, diff / px, 1e-3);
    }
  }
  if (keys.video_logits) {
    const b = f32Of(npz, keys.video_logits);
    let worst = 0;
    for (let o = 0; o < nObj; o++) {
      const v = got.videoResMasks[o]!;
      for (let i = 0; i < px; i++) {
        const r = b[o * px + i]!;
        const e = Math.abs(v[i]! - r) / (1e-2 + 1e-3 * Math.abs(r));
        if (!(e <= worst)) worst = e;
      }
    }
    chk.record('video logits (err / (1e-2+1e-3|b|))', where, worst, 1);
  }
}

/** One bf16 ulp at |x| (bf16 keeps 8 significant bits). */
function bf16Ulp(x: number): number {
  const a = Math.abs(x);
  return a === 0 ? 2 ** -133 : 2 ** (Math.floor(Math.log2(a)) - 7);
}

/**
 * Module tensors tagged `state_maskmem` hold the bf16 maskmem_features (and maskmem_pos_enc) the
 * official predictor stored for a frame; compare ours once that frame is in our state.
 */
function checkStoredMemories(chk: Checker, man: any, npz: NpzFile, state: Sam2InferenceState, done: Set<string>, where: string): void {
  const mt: Record<string, any> = man.module_tensors ?? {};
  for (const [key, e] of Object.entries(mt)) {
    if (!key.startsWith('mod_state_maskmem_') || done.has(key) || e.stored === false || !npz.has(key)) continue;
    const storage = String(e.module).includes("'non_cond_frame_outputs'") ? 'nonCond' : 'cond';
    const out = state.outputDict[storage].get(Number(e.frame_idx));
    const mine = out?.objs[0]?.maskmemFeatures;
    if (!mine) continue;
    done.add(key);
    const ref = f32Of(npz, key);
    const at = `${where} frame ${e.frame_idx} (${key})`;
    if (String(e.position).startsWith('maskmem_features')) {
      // one bf16 ulp per element (a rounding-boundary flip), or fp32 noise on near-zero elements
      let maxRef = 0;
      for (const v of ref) maxRef = Math.max(maxRef, Math.abs(v));
      let worst = 0;
      for (let i = 0; i < ref.length; i++) {
        const allowed = Math.max(bf16Ulp(Math.max(Math.abs(mine[i]!), Math.abs(ref[i]!))), 1e-5 * maxRef);
        const u = Math.abs(mine[i]! - ref[i]!) / allowed;
        if (!(u <= worst)) worst = u;
      }
      chk.record('stored maskmem (err / max(1 bf16 ulp, 1e-5·max|b|))', at, worst, 1);
    } else if (state.maskmemPosEnc) {
      let maxRef = 0;
      for (const v of ref) maxRef = Math.max(maxRef, Math.abs(v));
      chk.record('maskmem pos enc', at, maxAbs(state.maskmemPosEnc, ref), 1e-4 * maxRef + 1e-5);
    }
  }
}

/** Replay one fixture case through the predictor and compare every output. */
export async function runParityCase(c: FixtureCase, o: HarnessOptions = {}): Promise<CaseReport> {
  const t0 = performance.now();
  const model = await compiledFor(c, o);
  const engine = await Sam2Engine.create(model, { threads: o.threads ?? 2 });
  const shared =
    o.sharedImageFeatures && !o.compiled ? withSharedImageFeatures(engine, compiledKey(c, o), o.sharedImageFeatures) : undefined;
  const modules = shared?.modules ?? engine;
  const chk = new Checker(c.id, o.trace ? [] : undefined);
  let outputs = 0;
  let resizeMismatches: number | undefined;
  try {
    const man = c.manifest;
    const npz = openNpz(c.npzPath);
    const inp = openNpz(c.inputPath);
    const S = model.configs.predictor.imageSize;
    const u8 = inp.get('frames_u8');
    const [N, H, W] = u8.shape as [number, number, number];
    const lut = f32Of(inp, 'frames_lut');
    const frames = framesFromU8(u8.data as Uint8Array, N, H, W, S, lut);
    if ((H !== S || W !== S) && inp.has('resized_u8')) {
      // our Pillow-bicubic port must reproduce the stored 8-bit resize exactly
      const rz = inp.get('resized_u8').data as Uint8Array;
      resizeMismatches = 0;
      for (let i = 0; i < N; i++) {
        const mine = pilResizeBicubicU8((u8.data as Uint8Array).subarray(i * H * W, (i + 1) * H * W), W, H, S, S);
        for (let k = 0; k < mine.length; k++) if (mine[k] !== rz[i * S * S + k]) resizeMismatches++;
      }
      chk.record('PIL bicubic resize (pixels differing)', 'inputs', resizeMismatches, 0);
    }
    const predictor = new Sam2VideoPredictor(modules, model.configs.predictor, { fillHoleArea: 0 });
    const refOutputs: any[] = man.outputs ?? [];
    let state: Sam2InferenceState | undefined;
    const checkedMem = new Set<string>();

    for (const step of man.steps as any[]) {
      const a = step.args ?? {};
      const refs = refOutputs.filter((r) => r.step === step.index).sort((x, y) => x.output_index - y.output_index);
      const got: Sam2FrameResult[] = [];
      const need = (): Sam2InferenceState => {
        if (!state) throw new Error(`step ${step.index} (${step.op}) before init_state`);
        return state;
      };
      switch (step.op) {
        case 'init_state':
          if (a.video_height !== undefined && (a.video_height !== H || a.video_width !== W)) {
            chk.fail(`step ${step.index}`, `video size ${a.video_height}x${a.video_width} differs from the input ${H}x${W}`);
          }
          state = await predictor.initState(frames, a.video_height ?? H, a.video_width ?? W);
          break;
        case 'add_new_points_or_box':
          got.push(
            await predictor.addNewPointsOrBox(need(), {
              frameIdx: a.frame_idx,
              objId: a.obj_id,
              points: a.points,
              labels: a.labels,
              clearOldPoints: a.clear_old_points ?? true,
              normalizeCoords: a.normalize_coords ?? true,
              box: a.box,
            }),
          );
          break;
        case 'add_new_mask': {
          const spec = String(a.mask);
          if (!spec.startsWith('npz:')) throw new Error(`step ${step.index}: mask '${spec}' is not an npz reference`);
          const m = npz.get(spec.slice(4));
          const [mh, mw] = m.shape as [number, number];
          got.push(
            await predictor.addNewMask(need(), {
              frameIdx: a.frame_idx,
              objId: a.obj_id,
              mask: m.data as ArrayLike<number>,
              height: mh,
              width: mw,
            }),
          );
          break;
        }
        case 'propagate_in_video':
          for await (const r of predictor.propagateInVideo(need(), {
            startFrameIdx: a.start_frame_idx,
            maxFrameNumToTrack: a.max_frame_num_to_track,
            reverse: a.reverse ?? false,
          }))
            got.push(r);
          checkStoredMemories(chk, man, npz, need(), checkedMem, `step ${step.index}`);
          if (Array.isArray(step.frames)) {
            const fr = got.map((g) => g.frameIdx);
            if (JSON.stringify(fr) !== JSON.stringify(step.frames))
              chk.fail(`step ${step.index}`, `yielded frames [${fr}], expected [${step.frames}]`);
          }
          break;
        case 'reset_state':
          predictor.resetState(need());
          break;
        default:
          chk.fail(`step ${step.index}`, `unknown op '${step.op}'`);
      }
      if (got.length !== refs.length) chk.fail(`step ${step.index} (${step.op})`, `${got.length} outputs, expected ${refs.length}`);
      const isAdd = step.op === 'add_new_points_or_box' || step.op === 'add_new_mask';
      for (let i = 0; i < Math.min(got.length, refs.length); i++) {
        const r = refs[i]!;
        // Prompted = computed without memory (initial prompts) or re-served from such a frame.
        const prompted = (isAdd && step.is_init_cond_frame !== false) || (!r.recomputed && r.storage === 'cond_frame_outputs');
        compareOutput(chk, npz, r, got[i]!, `step ${step.index} (${step.op}) frame ${r.frame_idx}`, prompted, H, W);
        outputs++;
      }
    }
  } finally {
    await engine.release();
  }
  return {
    id: c.id,
    ok: chk.failures.length === 0,
    failures: chk.failures,
    stats: chk.stats,
    outputs,
    encoderCalls: shared ? shared.requests() : engine.imageEncodeCount,
    seconds: (performance.now() - t0) / 1000,
    resizeMismatches,
    trace: chk.trace,
  };
}

/** A fixed-width text table of one case's worst errors. */
export function formatReport(r: CaseReport): string {
  const lines = [
    `${r.ok ? 'PASS' : 'FAIL'} ${r.id}: ${r.outputs} outputs, ${r.encoderCalls} image-encoder calls, ${r.seconds.toFixed(1)} s`,
  ];
  const rows = Object.entries(r.stats).map(([q, s]) => [q, fmt(s.maxErr), fmt(s.bound), `${s.failed}/${s.checked}`, s.where]);
  const head = ['quantity', 'max err', 'bound', 'failed', 'worst at'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (row: string[]) => '  ' + row.map((v, i) => v.padEnd(widths[i]!)).join('  ');
  lines.push(line(head));
  for (const row of rows) lines.push(line(row));
  for (const f of r.failures) lines.push(`  ✗ ${f}`);
  return lines.join('\n');
}
