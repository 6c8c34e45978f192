/**
 * One fuzz case: read a mutated input and classify what happened. `ok` is a volume with whole
 * positive dims matching its data and finite spacing/origin/direction, decoded video frames of one
 * whole size and a finite rate (or a non-volume result, e.g. SEG frames); `clear` is a MedsamError (the product's one-line refusal); anything else
 * thrown, an ok read with impossible geometry, or a read past the time budget is a `finding`.
 */
import { MedsamError } from '../../src/common/errors.js';
import type { ReadLimits } from '../../src/io/readLimits.js';
import type { VideoFrames } from '../../src/io/video.js';
import type { Volume } from '../../src/io/volume.js';
import { mutate } from './mutations.js';
import { mulberry32 } from '../seededRandom.js';
import type { ReaderSeed } from './readerSeeds.js';

export type Outcome = 'ok' | 'clear' | 'finding';

export interface CaseResult {
  index: number;
  format: string;
  outcome: Outcome;
  /** What was done to the seed. */
  what: string;
  /** The error's first line (class: message), or the geometry problem. */
  detail?: string;
  ms: number;
}

/** Limits every fuzz read runs under: small, so bombs and lying headers are refused fast. */
export const FUZZ_LIMITS: ReadLimits = { maxVoxels: 2 ** 20 };

/** A message longer than this (message and hint together) is not one clear line. */
export const MAX_LINE = 2100;

/** Reads slower than this are findings (a hang in the making); a worker watchdog catches real hangs. */
export const SLOW_MS = 5000;

/** Why a read volume is not valid, or undefined. */
export function geometryProblem(v: Volume): string | undefined {
  if (v.dims.length !== 3 || v.dims.some((d) => !Number.isInteger(d) || d < 1)) return `dims ${v.dims.join('x')}`;
  if (v.dims[0] * v.dims[1] * v.dims[2] !== v.data.length) return `dims ${v.dims.join('x')} but ${v.data.length} voxels`;
  for (const [k, a, n] of [
    ['spacing', v.spacing, 3],
    ['origin', v.origin, 3],
    ['direction', v.direction, 9],
  ] as const) {
    if (a.length !== n || a.some((x) => !Number.isFinite(x))) return `${k} (${a.join(', ')})`;
  }
  if (v.spacing.some((s) => !(s > 0))) return `spacing (${v.spacing.join(', ')})`;
  return undefined;
}

/** Why decoded video frames are not valid, or undefined. */
export function videoProblem(v: VideoFrames): string | undefined {
  if (!Number.isInteger(v.width) || !Number.isInteger(v.height) || v.width < 1 || v.height < 1) return `frame size ${v.width}x${v.height}`;
  if (!(v.fps > 0) || !Number.isFinite(v.fps)) return `fps ${v.fps}`;
  if (v.frames.length < 1) return 'no frames';
  const bad = v.frames.findIndex((f) => f.length !== v.width * v.height * 3);
  if (bad >= 0) return `frame ${bad} has ${v.frames[bad]!.length} bytes, not ${v.width}x${v.height}x3`;
  return undefined;
}

function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The case `index` of a run with `seed`: which seed it damages and how is a function of (seed, index) alone. */
export function caseInput(
  seeds: readonly ReaderSeed[],
  runSeed: number,
  index: number,
): { seed: ReaderSeed; bytes: Uint8Array; what: string } {
  // Mixed (murmur3's finaliser): mulberry32 seeded with a plain (runSeed, index) sum gave first and
  // second draws that moved together, so the format a case drew fixed the kinds of damage it could get.
  const rng = mulberry32(fmix32(fmix32(runSeed >>> 0) ^ index));
  const seed = seeds[Math.floor(rng() * seeds.length)];
  const m = mutate(seed, rng);
  return { seed, bytes: m.bytes, what: m.what };
}

export async function runCase(
  seeds: readonly ReaderSeed[],
  runSeed: number,
  index: number,
  limits: ReadLimits = FUZZ_LIMITS,
): Promise<CaseResult> {
  const { seed, bytes, what } = caseInput(seeds, runSeed, index);
  const t0 = performance.now();
  let outcome: Outcome;
  let detail: string | undefined;
  try {
    const r = await seed.read(bytes, limits);
    detail = 'volume' in r ? geometryProblem(r.volume) : 'video' in r ? videoProblem(r.video) : undefined;
    outcome = detail ? 'finding' : 'ok';
    if (detail) detail = `read ok with invalid geometry: ${detail}`;
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const flaw = !(e instanceof MedsamError)
      ? undefined
      : /[\n\r\u2028\u2029]/.test(message)
        ? 'multi-line MedsamError'
        : message.length > MAX_LINE
          ? `MedsamError of ${message.length} characters`
          : undefined;
    outcome = e instanceof MedsamError && !flaw ? 'clear' : 'finding';
    detail = `${flaw ? `${flaw}: ` : ''}${e instanceof Error ? e.name : 'thrown'}: ${message.split(/[\n\r]/)[0].slice(0, 300)}`;
  }
  const ms = performance.now() - t0;
  if (ms > SLOW_MS && outcome !== 'finding') {
    outcome = 'finding';
    detail = `slow: ${Math.round(ms)} ms (${detail ?? 'ok'})`;
  }
  return { index, format: seed.format, outcome, what, detail, ms };
}
