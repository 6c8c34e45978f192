// Throwaway A/B timing of ONNX graphs with memory-attention I/O (interleaved runs, min and median).
import * as ort from 'onnxruntime-node';
import { readFileSync } from 'node:fs';
const [C, Cm, nf, reps] = [Number(process.env.C ?? 256), Number(process.env.CM ?? 64), Number(process.env.NF ?? 7), Number(process.env.REPS ?? 7)];
const files = process.argv.slice(2);
const sessions = await Promise.all(files.map((f) => ort.InferenceSession.create(readFileSync(f), { intraOpNumThreads: 2, interOpNumThreads: 1, graphOptimizationLevel: 'all' })));
const hw = 1024; const P = 64; const M = nf * hw + P;
const r = (n: number, s: number) => { const a = new Float32Array(n); for (let i = 0; i < n; i++) a[i] = Math.sin(i * s); return a; };
const feeds = { curr: new ort.Tensor('float32', r(hw * C, 0.37), [hw, 1, C]), curr_pos: new ort.Tensor('float32', r(hw * C, 0.11), [hw, 1, C]), memory: new ort.Tensor('float32', r(M * Cm, 0.23), [M, 1, Cm]), memory_pos: new ort.Tensor('float32', r(M * Cm, 0.05), [M, 1, Cm]), num_obj_ptr_tokens: new ort.Tensor('float32', Float32Array.of(P), [1]) };
const outs = [];
for (const s of sessions) outs.push(((await s.run(feeds)).pix_feat_with_mem as ort.Tensor).data as Float32Array);
for (let i = 1; i < outs.length; i++) { let m = 0, mx = 0; for (let j = 0; j < outs[0]!.length; j++) { m = Math.max(m, Math.abs(outs[i]![j]! - outs[0]![j]!)); mx = Math.max(mx, Math.abs(outs[0]![j]!)); } console.log(`${files[i]} vs ${files[0]}: max|diff| ${m.toExponential(3)} (max|ref| ${mx.toFixed(3)})`); }
const ts: number[][] = files.map(() => []);
for (let k = 0; k < reps; k++) for (let i = 0; i < sessions.length; i++) { const t = performance.now(); await sessions[i]!.run(feeds); ts[i]!.push(performance.now() - t); }
files.forEach((f, i) => { const s = [...ts[i]!].sort((a, b) => a - b); console.log(`${f}: M=${M} min ${s[0]!.toFixed(0)} ms, median ${s[s.length >> 1]!.toFixed(0)} ms`); });
