/**
 * Per-op-type profile of one ONNX model under ONNX Runtime: its `enableProfiling` JSON trace,
 * aggregated by node op type, with the FLOPs of every GEMM-like node (MatMul, Gemm, FusedGemm, FusedMatMul,
 * DynamicQuantizeMatMul, Conv) counted from the input/output shapes the trace records. Used by
 * `npm run bench -- --profile`; runnable on its own with random inputs (symbolic dims = 1):
 *   node --import tsx scripts/ortProfile.ts model.onnx [runs] [threads]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';

export interface OpTypeProfile {
  opType: string;
  /** ms per run summed over the nodes of this type (kernel time). */
  ms: number;
  nodes: number;
  /** GFLOP per run (multiply-add = 2) for GEMM-like ops, else 0. */
  gflop: number;
}

export interface ModelProfile {
  /** Sum of kernel times per run. */
  ms: number;
  gflop: number;
  ops: OpTypeProfile[];
}

interface TraceEvent {
  cat?: string;
  name?: string;
  dur?: number;
  args?: { op_name?: string; input_type_shape?: Record<string, number[]>[]; output_type_shape?: Record<string, number[]>[] };
}

const prod = (d: readonly number[]): number => d.reduce((a, b) => a * b, 1);
const shapeOf = (x: Record<string, number[]> | undefined): number[] => (x ? (Object.values(x)[0] ?? []) : []);

/**
 * 2·(output elements)·K for products, K = the first input's last dim (none of our graphs use transA).
 * Conv: 2·(output elements)·(weight elements / output channels).
 */
function nodeFlops(e: TraceEvent): number {
  const op = e.args?.op_name ?? '';
  const ins = e.args?.input_type_shape ?? [];
  const out = shapeOf(e.args?.output_type_shape?.[0]);
  if (!out.length) return 0;
  if (
    op === 'MatMul' ||
    op === 'Gemm' ||
    op === 'FusedGemm' ||
    op === 'FusedMatMul' ||
    op === 'DynamicQuantizeMatMul' ||
    op === 'MatMulInteger' ||
    op === 'MatMulIntegerToFloat'
  ) {
    const a = shapeOf(ins[0]);
    return 2 * prod(out) * (a[a.length - 1] ?? 0);
  }
  if (op === 'Conv' || op === 'FusedConv' || op === 'NhwcFusedConv') {
    const w = shapeOf(ins[1]);
    return w.length ? (2 * prod(out) * prod(w)) / w[0]! : 0;
  }
  return 0;
}

/** Runs `feeds` `runs` times after one uncounted warm-up and aggregates kernel times per op type. */
export async function profileByOpType(
  model: Uint8Array | string,
  feeds: Record<string, ort.Tensor>,
  runs: number,
  threads: number,
): Promise<ModelProfile> {
  const dir = mkdtempSync(join(tmpdir(), 'medsam2-prof-'));
  try {
    const opts: ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionProviders: ['cpu'],
      enableProfiling: true,
      profileFilePrefix: join(dir, 'p'),
    };
    const s = typeof model === 'string' ? await ort.InferenceSession.create(model, opts) : await ort.InferenceSession.create(model, opts);
    for (let i = 0; i < runs + 1; i++) await s.run(feeds);
    (s as unknown as { endProfiling(): void }).endProfiling();
    await s.release();
    const file = readdirSync(dir).find((f) => f.endsWith('.json'));
    if (!file) throw new Error('onnxruntime wrote no profile');
    const events = (JSON.parse(readFileSync(join(dir, file), 'utf8')) as TraceEvent[]).filter(
      (e) => e.cat === 'Node' && e.name?.endsWith('_kernel_time'),
    );
    const counted = events.slice(Math.round(events.length / (runs + 1))); // drop the warm-up run
    const byType = new Map<string, { us: number; flops: number; names: Set<string> }>();
    for (const e of counted) {
      const t = e.args?.op_name ?? '?';
      const a = byType.get(t) ?? { us: 0, flops: 0, names: new Set<string>() };
      a.us += e.dur ?? 0;
      a.flops += nodeFlops(e);
      a.names.add(e.name!);
      byType.set(t, a);
    }
    const ops = [...byType.entries()]
      .map(([opType, a]) => ({ opType, ms: a.us / runs / 1000, nodes: a.names.size, gflop: a.flops / runs / 1e9 }))
      .sort((x, y) => y.ms - x.ms);
    return { ms: ops.reduce((t, o) => t + o.ms, 0), gflop: ops.reduce((t, o) => t + o.gflop, 0), ops };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Text table: op type, ms/run, share, GFLOP and GFLOP/s where the op does arithmetic we count. */
export function formatProfile(p: ModelProfile, top = 12): string {
  const rows = p.ops.slice(0, top).map((o) => {
    const rate = o.gflop > 0 ? `${o.gflop.toFixed(2).padStart(7)} GFLOP ${(o.gflop / (o.ms / 1000)).toFixed(0).padStart(5)} GFLOP/s` : '';
    return `    ${o.opType.padEnd(26)} ${o.ms.toFixed(1).padStart(7)} ms ${((100 * o.ms) / p.ms).toFixed(1).padStart(5)} %  ${String(o.nodes).padStart(3)} nodes ${rate}`;
  });
  rows.push(
    `    ${'all kernels'.padEnd(26)} ${p.ms.toFixed(1).padStart(7)} ms          ${p.gflop.toFixed(2).padStart(7)} GFLOP ${(p.gflop / (p.ms / 1000)).toFixed(0).padStart(5)} GFLOP/s`,
  );
  return rows.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [path, runsArg, threadsArg] = process.argv.slice(2);
  if (!path) throw new Error('usage: ortProfile.ts model.onnx [runs] [threads]');
  const s = await ort.InferenceSession.create(path);
  const meta = (s as unknown as { inputMetadata: { name: string; shape: (number | string)[] }[] }).inputMetadata;
  const feeds: Record<string, ort.Tensor> = {};
  for (const m of meta) {
    const dims = m.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
    feeds[m.name] = new ort.Tensor(
      'float32',
      Float32Array.from({ length: prod(dims) }, (_, i) => Math.sin(i * 0.01)),
      dims,
    );
  }
  await s.release();
  console.log(formatProfile(await profileByOpType(path, feeds, Number(runsArg ?? 3), Number(threadsArg ?? 2)), 30));
}
