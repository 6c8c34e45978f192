// Evaluates key-slice-box propagation on ../shared/data/ct-lesion (key = largest reference slice,
// key box = tight box of the reference there; the reference is used for nothing else).
//   node --import tsx scripts/experiments/evalCtLesion.ts          # real pipeline (encodes slices)
//   node --import tsx scripts/experiments/evalCtLesion.ts --cached # uses /tmp/h6_emb embeddings (cacheEmbeddings.ts)
import { readFileSync, readdirSync } from 'node:fs';
import { readNpzCase } from '../../src/io/npzFile.js';
import { dice } from '../../src/metrics/dice.js';
import { segmentVolume } from '../../src/pipelines/segmentVolume.js';
import { boxFromMask } from '../../src/predictor/prompts.js';
import { extractSlice } from '../../src/preprocess/slices.js';
import { samFrame } from '../../src/preprocess/samImage.js';
import { resolveModel } from '../../src/models/registry.js';
import { Sam1Engine } from '../../src/engine/sam1Engine.js';
import { SliceEmbeddings } from '../../src/predictor/sam1/embeddingCache.js';
import { propagateObject } from '../../src/predictor/sam1Propagator.js';
import { largestComponent3d } from '../../src/predictor/sam1/components3d.js';
import { insertSlice } from '../../src/preprocess/slices.js';

const cached = process.argv.includes('--cached');
const propagation = process.env.PROP ? JSON.parse(process.env.PROP) : {};
const dir = '../shared/data/ct-lesion';
const engine = cached ? await Sam1Engine.create(resolveModel('default'), { threads: 2 }) : undefined;
const scores: number[] = [];
for (const f of readdirSync(dir).filter((f) => f.endsWith('.npz')).sort()) {
  const c = await readNpzCase(`${dir}/${f}`);
  const gt = c.label!.data as Uint8Array;
  const [nx, ny, nz] = c.image.dims;
  let key = 0, best = -1;
  for (let k = 0; k < nz; k++) { const a = extractSlice(gt, c.image.dims, 2, k).reduce((s, v) => s + (v ? 1 : 0), 0); if (a > best) { best = a; key = k; } }
  const box = boxFromMask(extractSlice(gt, c.image.dims, 2, key), nx, ny)!;
  const t = performance.now();
  let pred: Uint8Array; let info = '';
  if (cached) {
    const enc = { encode: async (_s: Uint8Array, h: number, w: number) => { throw new Error('unused'); } };
    const slices = new SliceEmbeddings(enc as never, (k) => extractSlice(c.image.data as Uint8Array, c.image.dims, 2, k), nx, ny, nz);
    (slices as unknown as { get: (k: number) => Promise<unknown> }).get = async (k: number) => { const b = readFileSync(`/tmp/h6_emb/${f}_${k}.f32`); return { data: new Float32Array(b.buffer, b.byteOffset, b.length / 4), dims: [1, 256, 64, 64], frame: samFrame(ny, nx, 1024) }; };
    const r = await propagateObject(engine!, slices, [{ slice: key, box }], propagation);
    const m = new Uint8Array(gt.length); for (const [k, s] of r.masks) insertSlice(m, c.image.dims, 2, k, s);
    pred = largestComponent3d(m, c.image.dims); info = JSON.stringify(r.stops);
  } else {
    const r = await segmentVolume(c.image, [{ slice: key, box }], { threads: 2, propagation });
    pred = r.mask.data as Uint8Array; info = `${r.slicesSegmented} slices, ${r.slicesEncoded} encoded, ${r.seconds.toFixed(1)} s (${(r.seconds / r.slicesEncoded).toFixed(2)} s/slice) ${JSON.stringify(r.objects[0]!.stops)}`;
  }
  const d = dice(pred, gt); scores.push(d);
  const per = []; for (let k = 0; k < nz; k++) { const a = extractSlice(pred, c.image.dims, 2, k).reduce((s, v) => s + v, 0); const g = extractSlice(gt, c.image.dims, 2, k).reduce((s, v) => s + (v ? 1 : 0), 0); per.push(a || g ? `${a}:${g}` : '-'); }
  console.log(`${f} key=${key} box=[${box}] DSC=${d.toFixed(4)} ${((performance.now() - t) / 1000).toFixed(1)}s ${info}\n  [${per.join(' ')}]`);
}
console.log(`mean DSC ${(scores.reduce((a, b) => a + b) / scores.length).toFixed(4)}`);
