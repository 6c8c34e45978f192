// Throwaway: profile any graph with random float feeds (dynamic dims from env DIMS json).
import * as ort from 'onnxruntime-node';
import { readFileSync } from 'node:fs';
const s = await ort.InferenceSession.create(readFileSync(process.argv[2]!), { intraOpNumThreads: 2, interOpNumThreads: 1, graphOptimizationLevel: 'all', enableProfiling: true, profileFilePrefix: '/tmp/h11/ma' } as any);
const meta = (s as any).inputMetadata as { name: string; type: string; shape: (number | string)[] }[];
const over = JSON.parse(process.env.DIMS ?? '{}');
const feeds: Record<string, ort.Tensor> = {};
for (const m of meta) {
  const dims = (over[m.name] ?? m.shape).map((d: number | string) => (typeof d === 'number' ? d : 1));
  const n = dims.reduce((a: number, b: number) => a * b, 1);
  const a = new Float32Array(n); for (let i = 0; i < n; i++) a[i] = Math.sin(i * 0.3);
  if (m.name === 'num_obj_ptr_tokens') a[0] = 64;
  feeds[m.name] = m.type === 'int32' ? new ort.Tensor('int32', Int32Array.from(a, (v) => Math.round(v)), dims) : new ort.Tensor('float32', a, dims);
  console.log(m.name, m.type, dims);
}
for (let i = 0; i < 6; i++) await s.run(feeds);
s.endProfiling();
