// Generalisation check (NOT used for tuning decisions beyond sanity): single key-slice box propagation on
// organs (ct-organs, TotalSegmentator labels), an MR glioma (brain1) and the largest FLAIR lesion.
// Embeddings are cached on disk in /tmp/h6_emb2 so variants can be compared quickly.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readVolume } from '../../src/io/readVolume.js';
import { dice } from '../../src/metrics/dice.js';
import { toUint8 } from '../../src/preprocess/intensity.js';
import { extractSlice, insertSlice, sliceShape } from '../../src/preprocess/slices.js';
import { boxFromMask } from '../../src/predictor/prompts.js';
import { resolveModel } from '../../src/models/registry.js';
import { Sam1Engine } from '../../src/engine/sam1Engine.js';
import { SliceEmbeddings } from '../../src/predictor/sam1/embeddingCache.js';
import { propagateObject } from '../../src/predictor/sam1Propagator.js';
import { largestComponent3d } from '../../src/predictor/sam1/components3d.js';
import type { Volume } from '../../src/io/volume.js';

const propagation = process.env.PROP ? JSON.parse(process.env.PROP) : {};
const engine = await Sam1Engine.create(resolveModel('default'), { threads: 2 });
mkdirSync('/tmp/h6_emb2', { recursive: true });
// Disk cache keyed by slice content hash.
const enc = { encode: async (s: Uint8Array, h: number, w: number) => {
  let key = 2166136261; for (let i = 0; i < s.length; i++) key = Math.imul(key ^ s[i]!, 16777619) >>> 0;
  const p = `/tmp/h6_emb2/${h}x${w}_${key.toString(16)}.f32`;
  if (existsSync(p)) { const b = readFileSync(p); const { samFrame } = await import('../../src/preprocess/samImage.js'); return { data: new Float32Array(b.buffer, b.byteOffset, b.length / 4), dims: [1, 256, 64, 64], frame: samFrame(h, w, 1024) }; }
  const e = await engine.encode(s, h, w); writeFileSync(p, Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength)); return e;
} };
async function evalObject(name: string, img: Uint8Array, dims: [number, number, number], gt: Uint8Array, axis: 0 | 1 | 2 = 2) {
  const sh = sliceShape(dims, axis);
  let key = 0, best = -1;
  for (let k = 0; k < sh.count; k++) { const a = extractSlice(gt, dims, axis, k).reduce((s, v) => s + (v ? 1 : 0), 0); if (a > best) { best = a; key = k; } }
  const box = boxFromMask(extractSlice(gt, dims, axis, key), sh.cols, sh.rows)!;
  const slices = new SliceEmbeddings(enc, (k) => extractSlice(img, dims, axis, k), sh.cols, sh.rows, sh.count);
  const r = await propagateObject(engine, slices, [{ slice: key, box }], propagation);
  const m = new Uint8Array(gt.length); for (const [k, s] of r.masks) insertSlice(m, dims, axis, k, s);
  const pred = largestComponent3d(m, dims);
  let gtSlices = 0; for (let k = 0; k < sh.count; k++) if (extractSlice(gt, dims, axis, k).some((v) => v)) gtSlices++;
  const d = dice(pred, gt);
  console.log(`${name.padEnd(16)} DSC=${d.toFixed(3)} slices pred=${r.masks.size} gt=${gtSlices} stops=${JSON.stringify(r.stops[0])}`);
  return d;
}
const res: number[] = [];
const ct = await readVolume('../shared/data/ct-organs/example_ct_sm.nii.gz');
const seg = await readVolume('../shared/data/ct-organs/example_ct_sm_seg.nii.gz');
const ctU8 = toUint8(ct, { window: { level: 40, width: 400 } as never });
for (const lab of [1, 2, 3, 5, 6, 20, 52, 86]) {
  const gt = Uint8Array.from(seg.data as Int16Array, (v) => (Number(v) === lab ? 1 : 0));
  res.push(await evalObject(`ct-organ ${lab}`, ctU8, ct.dims, gt));
}
const b = await readVolume('../shared/data/mr-brain/brain1_image.nrrd'); const bl = await readVolume('../shared/data/mr-brain/brain1_label.nrrd');
res.push(await evalObject('mr glioma', toUint8(b), b.dims, Uint8Array.from(bl.data as ArrayLike<number>, (v) => (v ? 1 : 0))));
const f = await readVolume('../shared/data/mr-brain/FLAIR.nii.gz'); const fl = await readVolume('../shared/data/mr-brain/FLAIR_lesion.nii.gz');
const flBin = largestComponent3d(Uint8Array.from(fl.data as ArrayLike<number>, (v) => (v ? 1 : 0)), fl.dims);
res.push(await evalObject('flair lesion', toUint8(f), f.dims, flBin));
console.log(`mean DSC ${(res.reduce((a, b) => a + b) / res.length).toFixed(3)}`);
