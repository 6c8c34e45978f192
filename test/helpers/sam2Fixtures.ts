import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * Discovers SAM2 parity fixture cases from the `*.json` manifests in MEDSAM2_SAM2_FIXTURES
 * (default ../shared/fixtures/sam2). Nothing about fixture names or sizes is hard-coded:
 * config, checkpoint and inputs come from each manifest.
 */
export function fixtureDir(): string {
  return resolve(process.env.MEDSAM2_SAM2_FIXTURES ?? '../shared/fixtures/sam2');
}

export interface FixtureCase {
  /** Manifest file stem, e.g. "micro512_box_bidir". */
  id: string;
  manifestPath: string;
  npzPath: string;
  configPath: string;
  checkpointPath: string;
  inputPath: string;
  manifest: any;
}

export function listFixtureCases(filter?: (c: FixtureCase) => boolean): FixtureCase[] {
  const dir = fixtureDir();
  if (!existsSync(dir)) return [];
  const out: FixtureCase[] = [];
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith('.json') || f === 'inputs_index.json') continue;
    const manifest = JSON.parse(readFileSync(join(dir, f), 'utf8'));
    if (!manifest.steps || !manifest.config || !manifest.checkpoint) continue;
    const id = f.slice(0, -5);
    const input = String(manifest.input);
    const config = String(manifest.config);
    const indexed = inputsIndex(dir)[input]?.file;
    out.push({
      id,
      manifestPath: join(dir, f),
      npzPath: join(dir, `${id}.npz`),
      configPath: join(dir, /\.ya?ml$/.test(config) ? config : `${config}.yaml`),
      checkpointPath: join(dir, String(manifest.checkpoint)),
      inputPath: join(dir, indexed ?? (input.endsWith('.npz') ? input : `inputs_${input}.npz`)),
      manifest,
    });
  }
  return filter ? out.filter(filter) : out;
}

/** inputs_index.json maps a manifest's `input` name to its npz file and video size. */
export function inputsIndex(
  dir = fixtureDir(),
): Record<string, { file: string; video_height: number; video_width: number; num_frames: number }> {
  const p = join(dir, 'inputs_index.json');
  return existsSync(p) ? JSON.parse(readFileSync(p, 'utf8')) : {};
}

/** Cases that carry per-module tensors (mod_* keys). */
export function moduleFixtureCases(): FixtureCase[] {
  return listFixtureCases((c) => c.manifest.module_tensors && Object.keys(c.manifest.module_tensors).length > 0);
}

/** Model name of a case's checkpoint (e.g. "micro512"), used to pick tolerances by stored precision. */
export function isHalfStored(c: FixtureCase, key: string): boolean {
  const e = c.manifest.module_tensors?.[key];
  return e?.stored_dtype === 'float16';
}

/** The module-tensor case with the smallest checkpoint: fast graph tests without naming a fixture. */
export function smallestModuleCase(): FixtureCase | undefined {
  return moduleFixtureCases().sort((a, b) => statSync(a.checkpointPath).size - statSync(b.checkpointPath).size)[0];
}

/** Deterministic pseudo-random values in [-0.5, 0.5) (LCG), for synthetic graph inputs. */
export function seededRandom(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 32 - 0.5;
  }
  return a;
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
