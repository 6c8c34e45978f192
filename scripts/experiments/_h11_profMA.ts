import * as ort from 'onnxruntime-node';
import { readFileSync, writeFileSync } from 'node:fs';
import { loadSam2Compiled } from '../../src/models/sam2/graphCache.js';
const which = process.argv[2] ?? 'tiny512';
const dir = '/work/shared/fixtures/sam2';
const ckpt = which === 'tiny512' ? 'tiny512_fp16.pt' : 'micro512.pt';
const { model } = await loadSam2Compiled({ checkpointPath: `${dir}/${ckpt}`, configPath: `${dir}/${which}.yaml` });
const bytes = process.argv[3] ? readFileSync(process.argv[3]) : model.graphs.memoryAttention;
const prof = process.env.PROF === '1';
const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 2, interOpNumThreads: 1, graphOptimizationLevel: 'all', enableProfiling: prof, profileFilePrefix: '/tmp/h11/ma' , optimizedModelFilePath: '/tmp/h11/ma_opt.onnx'} as any);
const C = model.configs.memory.hiddenDim, Cm = model.configs.memory.memDim;
const hw = 1024; const nf = Number(process.env.NF ?? 7); const P = 64; const M = nf * hw + P;
const r = (n: number) => { const a = new Float32Array(n); for (let i = 0; i < n; i++) a[i] = Math.sin(i * 0.37) ; return a; };
const feeds = { curr: new ort.Tensor('float32', r(hw*C), [hw,1,C]), curr_pos: new ort.Tensor('float32', r(hw*C), [hw,1,C]), memory: new ort.Tensor('float32', r(M*Cm), [M,1,Cm]), memory_pos: new ort.Tensor('float32', r(M*Cm), [M,1,Cm]), num_obj_ptr_tokens: new ort.Tensor('float32', Float32Array.of(P), [1]) };
await s.run(feeds);
const ts: number[] = [];
for (let i = 0; i < 5; i++) { const t = performance.now(); await s.run(feeds); ts.push(performance.now() - t); }
console.log(which, 'M', M, 'ms', ts.map((x) => x.toFixed(0)).join(' '));
if (prof) { const f = s.endProfiling(); console.log('profile', f); }
