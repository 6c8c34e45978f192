import './nodePlatform.js';
import { readFileSync } from 'node:fs';
import type { NdArray } from '../../src/io/ndarray.js';
import { roundToBfloat16InPlace } from '../../src/common/halfFloat.js';
import { readNpz } from '../../src/io/npzFile.js';
import { loadCheckpoint } from '../../src/models/checkpoint/index.js';
import { WeightStore } from '../../src/models/onnx/weightStore.js';
import { memoryConfigFromYaml, type MemoryModulesConfig } from '../../src/models/sam2/graphs/memoryConfig.js';
import { buildMemoryGraphs, Sam2MemoryRunner } from '../../src/engine/sam2/memoryRunner.js';
import { inputsIndex, isHalfStored, type FixtureCase } from './sam2Fixtures.js';

/**
 * Shared loading and case arithmetic for the memory-module parity tests. Everything (frames,
 * npz keys, sizes) is derived from the manifest so held-out fixtures work unchanged.
 */
export interface MemoryCase {
  cfg: MemoryModulesConfig;
  ws: WeightStore;
  npz: Record<string, NdArray>;
  runner: Sam2MemoryRunner;
}

const cache = new Map<string, Promise<MemoryCase>>();

export function loadMemoryCase(c: FixtureCase): Promise<MemoryCase> {
  let p = cache.get(c.id);
  if (!p) {
    p = (async () => {
      const cfg = memoryConfigFromYaml(readFileSync(c.configPath, 'utf8'));
      const [ckpt, npz] = await Promise.all([loadCheckpoint(c.checkpointPath), readNpz(c.npzPath)]);
      const ws = new WeightStore(ckpt.tensors, c.checkpointPath);
      const runner = await Sam2MemoryRunner.create(buildMemoryGraphs(cfg, ws), cfg, { threads: 2 });
      return { cfg, ws, npz, runner };
    })();
    cache.set(c.id, p);
  }
  return p;
}

export function f32(mc: MemoryCase, key: string): Float32Array {
  const a = mc.npz[key];
  if (!a) throw new Error(`fixture npz has no '${key}'`);
  if (!(a.data instanceof Float32Array)) throw new Error(`fixture '${key}' is ${a.dtype}, expected a float array`);
  return a.data;
}

export interface Comparison {
  maxErr: number;
  maxRef: number;
  bound: number;
  half: boolean;
}

/** max|a−b| against the README tolerance: fp32 1e-4·max|b| + 1e-5, fp16-stored 2e-3·max|b| + 1e-3. */
export function compare(got: Float32Array, ref: Float32Array, half: boolean): Comparison {
  if (got.length !== ref.length) throw new Error(`length ${got.length} vs reference ${ref.length}`);
  let maxErr = 0;
  let maxRef = 0;
  for (let i = 0; i < ref.length; i++) {
    const e = Math.abs(got[i]! - ref[i]!);
    if (!(e <= maxErr)) maxErr = e; // NaN propagates as a failure
    maxRef = Math.max(maxRef, Math.abs(ref[i]!));
  }
  const bound = half ? 2e-3 * maxRef + 1e-3 : 1e-4 * maxRef + 1e-5;
  return { maxErr, maxRef, bound, half };
}

export function describe(name: string, r: Comparison): string {
  return `${name}: max|err| ${r.maxErr.toExponential(3)} (bound ${r.bound.toExponential(3)}, max|ref| ${r.maxRef.toFixed(4)}, ${r.half ? 'fp16' : 'fp32'} tolerance)`;
}

/** Whether any of the keys is stored as float16 (then fp16 tolerances apply downstream). */
export function anyHalf(c: FixtureCase, keys: readonly string[]): boolean {
  return keys.some((k) => isHalfStored(c, k));
}

/** torch's float32 → bfloat16 cast (round to nearest, ties to even), kept as float32; a copy. */
export function bf16Round(x: Float32Array): Float32Array {
  return roundToBfloat16InPlace(Float32Array.from(x));
}

/** Elements whose bf16 values differ by more than one bf16 ulp (of the reference). */
export function bf16UlpViolations(gotBf16: Float32Array, refBf16: Float32Array): { count: number; exactDiffering: number } {
  let count = 0;
  let exactDiffering = 0;
  for (let i = 0; i < refBf16.length; i++) {
    const a = gotBf16[i]!;
    const b = refBf16[i]!;
    if (a === b) continue;
    exactDiffering++;
    const ulp = b === 0 ? 2 ** -133 : 2 ** (Math.floor(Math.log2(Math.abs(b))) - 7);
    if (!(Math.abs(a - b) <= ulp * 1.0000001)) count++;
  }
  return { count, exactDiffering };
}

// ---- case arithmetic (from the manifest steps) ----

export interface TrackSession {
  /** Index of the first propagate_in_video step. */
  propagateStep: number;
  reverse: boolean;
  /** Frames given user input in the session before that propagate, in call order (conditioning frames). */
  inputFrames: number[];
  /** Frames yielded by that propagate, in order. */
  yielded: number[];
}

export function firstTrackSession(c: FixtureCase): TrackSession {
  const steps = c.manifest.steps as { index: number; op: string; args?: any; is_init_cond_frame?: boolean; frames?: number[] }[];
  const p = steps.findIndex((s) => s.op === 'propagate_in_video');
  if (p < 0) throw new Error(`${c.id}: no propagate_in_video step`);
  let start = 0;
  for (let i = p; i >= 0; i--)
    if (steps[i]!.op === 'init_state' || steps[i]!.op === 'reset_state') {
      start = i;
      break;
    }
  const inputFrames: number[] = [];
  for (let i = start; i < p; i++) {
    const s = steps[i]!;
    if (s.op.startsWith('add_') && s.is_init_cond_frame !== false && !inputFrames.includes(s.args.frame_idx))
      inputFrames.push(s.args.frame_idx);
  }
  const ps = steps[p]!;
  return { propagateStep: ps.index, reverse: Boolean(ps.args?.reverse), inputFrames, yielded: ps.frames ?? [] };
}

/** The frame a `mod_<tag>_c<call>` state tensor belongs to. */
export function stateFrame(c: FixtureCase, call: number): number {
  const e = c.manifest.module_tensors?.[`mod_state_maskmem_c${call}_out_0`];
  if (!e || typeof e.frame_idx !== 'number') throw new Error(`${c.id}: no frame_idx for mod_state_maskmem_c${call}_out_0`);
  return e.frame_idx;
}

/** npz keys of the output a step produced for a frame (e.g. lowres_logits, object_score_logits). */
export function outputKeys(c: FixtureCase, step: number, frame: number): Record<string, string> {
  const o = (c.manifest.outputs as { step: number; frame_idx: number; keys: Record<string, string> }[]).find(
    (x) => x.step === step && x.frame_idx === frame,
  );
  if (!o) throw new Error(`${c.id}: no output of step ${step} for frame ${frame}`);
  return o.keys;
}

export function numFrames(c: FixtureCase): number {
  const n = inputsIndex()[String(c.manifest.input)]?.num_frames;
  if (typeof n !== 'number') throw new Error(`${c.id}: inputs_index.json has no num_frames for '${c.manifest.input}'`);
  return n;
}

/** (HW,1,C) tokens → [1,C,h,w] (upstream permute(1,2,0).view). */
export function tokensToNchw(tokens: Float32Array, hw: number, ch: number): Float32Array {
  const out = new Float32Array(hw * ch);
  for (let n = 0; n < hw; n++) for (let k = 0; k < ch; k++) out[k * hw + n] = tokens[n * ch + k]!;
  return out;
}
