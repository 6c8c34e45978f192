/**
 * Per-op-type profile of one ONNX model under ONNX Runtime (its `enableProfiling` JSON trace,
 * aggregated by node op type): used by `npm run bench -- --profile` and runnable on its own:
 *   node --import tsx scripts/ortProfile.ts model.onnx [runs] [threads]   (random float inputs)
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';

export interface OpTypeProfile {
  opType: string;
  /** Mean ms per run summed over nodes of this type. */
  msPerRun: number;
  nodes: number;
  share: number;
}

interface TraceEvent { cat?: string; name?: string; dur?: number; args?: { op_name?: string } }

/** Runs `feeds` `runs` times (after one warm-up that is not counted) and aggregates node times per op type. */
export async function profileByOpType(
  model: Uint8Array | string, feeds: Record<string, ort.Tensor>, runs: number, threads: number,
): Promise<{ total: number; ops: OpTypeProfile[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'medsam2-prof-'));
  try {
    const opts: ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionProviders: ['cpu'],
      enableProfiling: true, profileFilePrefix: join(dir, 'p'),
    };
    const s = typeof model === 'string' ? await ort.InferenceSession.create(model, opts) : await ort.InferenceSession.create(model, opts);
    for (let i = 0; i < runs + 1; i++) await s.run(feeds);
    (s as unknown as { endProfiling(): void }).endProfiling();
    await s.release();
    const { readdirSync } = await import('node:fs');
    const file = readdirSync(dir).find((f) => f.endsWith('.json'));
    if (!file) throw new Error('ORT wrote no profile');
    const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as TraceEvent[];
    // Node events: cat "Node", name "<node>_kernel_time", args.op_name. Skip the first (warm-up) run.
    const runEvents = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
    const byType = new Map<string, { us: number; names: Set<string> }>();
    const nodeEvents = events.filter((e) => e.cat === 'Node' && e.name?.endsWith('_kernel_time'));
    const perRun = nodeEvents.length / (runs + 1);
    nodeEvents.slice(Math.round(perRun)).forEach((e) => {
      const t = e.args?.op_name ?? '?';
      const a = byType.get(t) ?? { us: 0, names: new Set<string>() };
      a.us += e.dur ?? 0;
      a.names.add(e.name!);
      byType.set(t, a);
    });
    const total = [...byType.values()].reduce((s2, a) => s2 + a.us, 0) / runs / 1000;
    const ops = [...byType.entries()].map(([opType, a]) => ({ opType, msPerRun: a.us / runs / 1000, nodes: a.names.size, share: a.us / runs / 1000 / total }))
      .sort((x, y) => y.msPerRun - x.msPerRun);
    void runEvents;
    return { total, ops };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatProfile(p: { total: number; ops: OpTypeProfile[] }, top = 12): string {
  return p.ops.slice(0, top).map((o) => `${o.opType.padEnd(28)} ${o.msPerRun.toFixed(1).padStart(8)} ms ${(100 * o.share).toFixed(1).padStart(5)} %  (${o.nodes} nodes)`).join('\n')
    + `\n${'sum of node times'.padEnd(28)} ${p.total.toFixed(1).padStart(8)} ms`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [path, runsArg, threadsArg] = process.argv.slice(2);
  if (!path) throw new Error('usage: ortProfile.ts model.onnx [runs] [threads]');
  const s = await ort.InferenceSession.create(path);
  const meta = (s as unknown as { inputMetadata: { name: string; shape: (number | string)[] }[] }).inputMetadata;
  const feeds: Record<string, ort.Tensor> = {};
  for (const m of meta) {
    const dims = m.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
    const n = dims.reduce((a, b) => a * b, 1);
    feeds[m.name] = new ort.Tensor('float32', Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.01)), dims);
  }
  await s.release();
  console.log(formatProfile(await profileByOpType(path, feeds, Number(runsArg ?? 3), Number(threadsArg ?? 2)), 30));
}
