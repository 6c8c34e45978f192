// Key-slice 2D DSC (box = tight reference box) on the generalisation set, plus oracle-box-every-slice 3D DSC.
import { readVolume } from '../../src/io/readVolume.js';
import { dice } from '../../src/metrics/dice.js';
import { toUint8 } from '../../src/preprocess/intensity.js';
import { extractSlice, insertSlice, sliceShape } from '../../src/preprocess/slices.js';
import { boxFromMask } from '../../src/predictor/prompts.js';
import { resolveModel } from '../../src/models/registry.js';
import { Sam1Engine } from '../../src/engine/sam1Engine.js';
import { largestComponent3d } from '../../src/predictor/sam1/components3d.js';
import { binarise } from '../../src/predictor/sam1/maskOps.js';
import { existsSync, readFileSync } from 'node:fs';
import { samFrame } from '../../src/preprocess/samImage.js';
const engine = await Sam1Engine.create(resolveModel('default'), { threads: 2 });
const enc = async (s: Uint8Array, h: number, w: number) => {
  let key = 2166136261; for (let i = 0; i < s.length; i++) key = Math.imul(key ^ s[i]!, 16777619) >>> 0;
  const p = `/tmp/h6_emb2/${h}x${w}_${key.toString(16)}.f32`;
  if (existsSync(p)) { const b = readFileSync(p); return { data: new Float32Array(b.buffer, b.byteOffset, b.length / 4), dims: [1, 256, 64, 64], frame: samFrame(h, w, 1024) }; }
  return engine.encode(s, h, w);
};
async function check(name: string, img: Uint8Array, dims: [number, number, number], gt: Uint8Array) {
  const sh = sliceShape(dims, 2); let key = 0, best = -1; const areas: number[] = [];
  for (let k = 0; k < sh.count; k++) { const a = extractSlice(gt, dims, 2, k).reduce((s, v) => s + (v ? 1 : 0), 0); areas.push(a); if (a > best) { best = a; key = k; } }
  const m = new Uint8Array(gt.length); let keyD = 0;
  for (let k = 0; k < sh.count; k++) {
    const g = extractSlice(gt, dims, 2, k); const b = boxFromMask(g, sh.cols, sh.rows); if (!b) continue;
    const e = await enc(extractSlice(img, dims, 2, k), sh.rows, sh.cols); const d = await engine.decode(e, { box: b }); const mm = binarise(d.logits);
    insertSlice(m, dims, 2, k, mm); if (k === key) keyD = dice(mm, g);
  }
  console.log(`${name.padEnd(14)} key=${key} keyArea=${best} key2D=${keyD.toFixed(3)} oracle3D=${dice(m, gt).toFixed(3)} areas=[${areas.join(',')}]`);
}
const ct = await readVolume('../shared/data/ct-organs/example_ct_sm.nii.gz'); const seg = await readVolume('../shared/data/ct-organs/example_ct_sm_seg.nii.gz');
const ctU8 = toUint8(ct, { window: { level: 40, width: 400 } as never });
for (const lab of [1, 2, 3, 5, 6, 20, 52, 86]) await check(`organ ${lab}`, ctU8, ct.dims, Uint8Array.from(seg.data as Int16Array, (v) => (Number(v) === lab ? 1 : 0)));
const b = await readVolume('../shared/data/mr-brain/brain1_image.nrrd'); const bl = await readVolume('../shared/data/mr-brain/brain1_label.nrrd');
await check('glioma', toUint8(b), b.dims, Uint8Array.from(bl.data as ArrayLike<number>, (v) => (v ? 1 : 0)));
const f = await readVolume('../shared/data/mr-brain/FLAIR.nii.gz'); const fl = await readVolume('../shared/data/mr-brain/FLAIR_lesion.nii.gz');
await check('flair', toUint8(f), f.dims, largestComponent3d(Uint8Array.from(fl.data as ArrayLike<number>, (v) => (v ? 1 : 0)), fl.dims));
