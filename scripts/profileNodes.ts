/**
 * Per-node ORT profile (session 16) of the compiled tiny512 int8 (or fp32) image encoder on the fixture's middle
 * slice, or of memory attention at `--frames` memory frames + `--ptr` object-pointer tokens (synthetic values):
 * kernel ms per op type, optionally per node-name group (`--group REGEX`, first capture), and the top nodes.
 * `--unrows` profiles memory attention as it was before SAM2_INT8_RECIPE cross-rows-1 (no row blocks);
 * `--chunk N` applies quantize.ts chunkAttentionRows with N blocks on top. Shares are what a shared machine keeps.
 *   node --import tsx scripts/profileNodes.ts [--module imageEncoder|memoryAttention] [--precision int8|fp32]
 *     [--frames 7] [--ptr 32] [--runs 5] [--top 40] [--group REGEX] [--unrows] [--chunk N]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { nodePlatform } from '../src/platform/node.js';
import { setPlatform } from '../src/platform/platform.js';
import { loadSam2Compiled } from '../src/models/sam2/graphCache.js';
import { IMAGE_ENCODER_IO } from '../src/models/sam2/graphs/imageEncoder.js';
import { framesFromU8 } from '../src/predictor/sam2/frameSource.js';
import { fixtureFiles, loadVolume } from './benchSam2.js';
import { memoryAttentionFeed } from './memoryAttentionFeed.js';

setPlatform(nodePlatform);
const argv = process.argv.slice(2);
const arg = (k: string, d: string) => (argv.includes(k) ? argv[argv.indexOf(k) + 1]! : d);
const runs = Number(arg('--runs', '5'));
const top = Number(arg('--top', '40'));
const mod = arg('--module', 'imageEncoder');
const precision = arg('--precision', 'int8') as 'int8' | 'fp32';
const files = fixtureFiles();
const { model } = await loadSam2Compiled(
  { checkpointPath: files.checkpoint, configPath: files.config },
  precision === 'int8' ? { precision: 'int8' } : {},
);
const S = model.configs.predictor.imageSize;
let feed: Record<string, ort.Tensor>;
let bytes: Uint8Array;
if (mod === 'memoryAttention') {
  bytes = model.graphs.memoryAttention;
  feed = memoryAttentionFeed(model.configs, Number(arg('--frames', '7')), Number(arg('--ptr', '32')));
} else {
  bytes = model.graphs.imageEncoder;
  const vol = loadVolume(files.input);
  const img = await framesFromU8(vol.u8, vol.n, vol.h, vol.w, S).frame(vol.n >> 1);
  feed = { [IMAGE_ENCODER_IO.image]: new ort.Tensor('float32', img, [1, 3, S, S]) };
}
if (argv.includes('--unrows')) {
  const { quantizeOnnxBytes } = await import('../src/models/onnx/quantize.js');
  const { model: fp } = await loadSam2Compiled({ checkpointPath: files.checkpoint, configPath: files.config }, {});
  bytes = quantizeOnnxBytes(fp.graphs.memoryAttention, { attentionScores: true, attentionValues: true }).bytes; // main's (before cross-rows-1)
}
const chunk = Number(arg('--chunk', '0'));
if (chunk) {
  const { chunkAttentionRows } = await import('../src/models/onnx/quantize.js');
  const { decodeOnnx, encodeOnnx } = await import('../src/models/onnx/onnxProto.js');
  const m = decodeOnnx(bytes);
  console.log(`chunked ${chunkAttentionRows(m, chunk, 1024)} chains`);
  bytes = encodeOnnx(m);
}
const dir = mkdtempSync(join(tmpdir(), 'f18-prof-'));
const s = await ort.InferenceSession.create(bytes, {
  intraOpNumThreads: 2,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  executionProviders: ['cpu'],
  enableProfiling: true,
  profileFilePrefix: join(dir, 'p'),
  extra: { session: { intra_op: { allow_spinning: '0' } } },
});
const cpu0 = process.cpuUsage();
for (let i = 0; i < runs + 1; i++) await s.run(feed);
const cpu = process.cpuUsage(cpu0);
(s as unknown as { endProfiling(): void }).endProfiling();
await s.release();
const file = readdirSync(dir).find((f) => f.endsWith('.json'))!;
type Ev = { cat?: string; name?: string; dur?: number; args?: { op_name?: string; output_type_shape?: Record<string, number[]>[] } };
const ev = (JSON.parse(readFileSync(join(dir, file), 'utf8')) as Ev[]).filter((e) => e.cat === 'Node' && e.name?.endsWith('_kernel_time'));
rmSync(dir, { recursive: true, force: true });
const counted = ev.slice(Math.round(ev.length / (runs + 1)));
const by = new Map<string, { us: number; op: string; shape: string }>();
for (const e of counted) {
  const n = e.name!.replace(/_kernel_time$/, '');
  const a = by.get(n) ?? {
    us: 0,
    op: e.args?.op_name ?? '?',
    shape: JSON.stringify(Object.values(e.args?.output_type_shape?.[0] ?? {})[0] ?? []),
  };
  a.us += e.dur ?? 0;
  by.set(n, a);
}
const rows = [...by.entries()].map(([n, a]) => ({ n, ms: a.us / runs / 1000, op: a.op, shape: a.shape })).sort((x, y) => y.ms - x.ms);
const total = rows.reduce((t, r) => t + r.ms, 0);
console.log(
  `${mod} ${precision}: ${total.toFixed(1)} ms kernel per run, process CPU ${((cpu.user + cpu.system) / 1000 / (runs + 1)).toFixed(0)} ms per run (incl. warm-up), load ${(await import('node:os')).loadavg()[0]!.toFixed(1)}`,
);
const byOp = new Map<string, number>();
for (const r of rows) byOp.set(r.op, (byOp.get(r.op) ?? 0) + r.ms);
console.log(
  [...byOp.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([o, m]) => `  ${o.padEnd(28)} ${m.toFixed(2).padStart(7)} ms ${((100 * m) / total).toFixed(1).padStart(5)} %`)
    .join('\n'),
);
const groupRe = arg('--group', '');
if (groupRe) {
  const re = new RegExp(groupRe);
  const byG = new Map<string, number>();
  for (const r of rows) {
    const m = r.n.match(re);
    const k = m ? (m[1] ?? m[0]) : '(other)';
    byG.set(k, (byG.get(k) ?? 0) + r.ms);
  }
  console.log('groups:');
  console.log(
    [...byG.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([o, m]) => `  ${o.padEnd(40)} ${m.toFixed(2).padStart(7)} ms`)
      .join('\n'),
  );
}
console.log('top nodes:');
for (const r of rows.slice(0, top)) console.log(`  ${r.ms.toFixed(2).padStart(7)} ms ${r.op.padEnd(24)} ${r.shape.padEnd(18)} ${r.n}`);
