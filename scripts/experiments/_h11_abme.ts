// Throwaway A/B of memory-encoder graphs (interleaved, min/median), tiny sizes.
import * as ort from 'onnxruntime-node';
import { readFileSync } from 'node:fs';
const files = process.argv.slice(2);
const ss = await Promise.all(files.map((f) => ort.InferenceSession.create(readFileSync(f), { intraOpNumThreads: 2, interOpNumThreads: 1, graphOptimizationLevel: 'all' })));
const r = (n: number, s: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * s) * 3);
const feeds = { pix_feat: new ort.Tensor('float32', r(256 * 1024, 0.3), [1, 256, 32, 32]), low_res_masks: new ort.Tensor('float32', r(128 * 128, 0.01), [1, 1, 128, 128]), object_score_logits: new ort.Tensor('float32', Float32Array.of(1), [1, 1]), binarize: new ort.Tensor('float32', Float32Array.of(0), [1]) };
const outs: Float32Array[] = [];
for (const s of ss) outs.push((await s.run(feeds)).maskmem_features!.data as Float32Array);
for (let i = 1; i < outs.length; i++) { let m = 0; for (let j = 0; j < outs[0]!.length; j++) m = Math.max(m, Math.abs(outs[i]![j]! - outs[0]![j]!)); console.log(`diff ${files[i]}: ${m.toExponential(3)}`); }
const ts: number[][] = files.map(() => []);
for (let k = 0; k < 15; k++) for (let i = 0; i < ss.length; i++) { const t = performance.now(); await ss[i]!.run(feeds); ts[i]!.push(performance.now() - t); }
files.forEach((f, i) => { const s = [...ts[i]!].sort((a, b) => a - b); console.log(`${f}: min ${s[0]!.toFixed(1)} ms, median ${s[s.length >> 1]!.toFixed(1)} ms`); });
