// Partial-volume "half-max" signal along a tight-box chain: t = (mean in mask - bg) / (fg - bg), fg/bg from the key slice.
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { readVolume } from '../../src/io/readVolume.js';
import { readNpzCase } from '../../src/io/npzFile.js';
import { toUint8 } from '../../src/preprocess/intensity.js';
import { extractSlice, sliceShape } from '../../src/preprocess/slices.js';
import { boxFromMask } from '../../src/predictor/prompts.js';
import { resolveModel } from '../../src/models/registry.js';
import { Sam1Engine } from '../../src/engine/sam1Engine.js';
import { samFrame } from '../../src/preprocess/samImage.js';
import { binarise, dilate, interiorPoint, maskArea, maskDice, keepComponentsOverlapping } from '../../src/predictor/sam1/maskOps.js';
const engine = await Sam1Engine.create(resolveModel('default'), { threads: 2 });
const enc = async (s: Uint8Array, h: number, w: number) => {
  let key = 2166136261; for (let i = 0; i < s.length; i++) key = Math.imul(key ^ s[i]!, 16777619) >>> 0;
  const p = `/tmp/h6_emb2/${h}x${w}_${key.toString(16)}.f32`;
  if (existsSync(p)) { const b = readFileSync(p); return { data: new Float32Array(b.buffer, b.byteOffset, b.length / 4), dims: [1, 256, 64, 64], frame: samFrame(h, w, 1024) }; }
  const e = await engine.encode(s, h, w); (await import('node:fs')).writeFileSync(p, Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength)); return e;
};
function stats(img: Uint8Array, m: ArrayLike<number>) { let s = 0, s2 = 0, n = 0; for (let i = 0; i < img.length; i++) if (m[i]) { s += img[i]!; s2 += img[i]! ** 2; n++; } const mu = s / n; return { mu, sd: Math.sqrt(Math.max(0, s2 / n - mu * mu)), n }; }
async function chain(name: string, img: Uint8Array, dims: [number, number, number], gt: Uint8Array) {
  const sh = sliceShape(dims, 2); const W = sh.cols, H = sh.rows;
  let key = 0, best = -1; for (let k = 0; k < sh.count; k++) { const a = maskArea(extractSlice(gt, dims, 2, k)); if (a > best) { best = a; key = k; } }
  const sl = (k: number) => extractSlice(img, dims, 2, k); const g = (k: number) => extractSlice(gt, dims, 2, k);
  const k0 = await engine.decode(await enc(sl(key), H, W), { box: boxFromMask(g(key), W, H)! }); const km = binarise(k0.logits);
  const r = Math.max(2, Math.round(0.25 * Math.sqrt(maskArea(km) / Math.PI)));
  const ring = dilate(km, W, H, r); for (let i = 0; i < ring.length; i++) if (km[i]) ring[i] = 0;
  const fg = stats(sl(key), km), bg = stats(sl(key), ring);
  const contrast = (fg.mu - bg.mu) / Math.sqrt((fg.sd ** 2 + bg.sd ** 2) / 2);
  console.log(`${name} key=${key} fg=${fg.mu.toFixed(0)}±${fg.sd.toFixed(0)} bg=${bg.mu.toFixed(0)}±${bg.sd.toFixed(0)} contrast=${contrast.toFixed(2)}`);
  for (const dir of [-1, 1]) {
    let prev = km, low = k0.lowRes; const row: string[] = [];
    for (let k = key + dir; k >= 0 && k < sh.count; k += dir) {
      const ip = interiorPoint(prev, W, H)!;
      const d = await engine.decode(await enc(sl(k), H, W), { box: boxFromMask(prev, W, H)!, points: [{ x: ip.x, y: ip.y, label: 1 }] }, low);
      const m = keepComponentsOverlapping(binarise(d.logits), prev, W, H); if (!maskArea(m)) { row.push(`z${k}:empty`); break; }
      const t = (stats(sl(k), m).mu - bg.mu) / (fg.mu - bg.mu);
      row.push(`z${k}:${maskArea(m)}/${maskArea(g(k))} d${maskDice(m, g(k)).toFixed(2)} t${t.toFixed(2)}`);
      prev = m; low = d.lowRes;
    }
    console.log('   ' + row.join(' | '));
  }
}
for (const f of readdirSync('../shared/data/ct-lesion').sort()) { const c = await readNpzCase(`../shared/data/ct-lesion/${f}`); await chain(f.slice(0, 17), c.image.data as Uint8Array, c.image.dims, Uint8Array.from(c.label!.data as Uint8Array, (v) => (v ? 1 : 0))); }
const ct = await readVolume('../shared/data/ct-organs/example_ct_sm.nii.gz'); const seg = await readVolume('../shared/data/ct-organs/example_ct_sm_seg.nii.gz');
const ctU8 = toUint8(ct, { window: { level: 40, width: 400 } as never });
for (const lab of [1, 2, 3, 5, 6, 20, 52, 86]) await chain(`organ ${lab}`, ctU8, ct.dims, Uint8Array.from(seg.data as Int16Array, (v) => (Number(v) === lab ? 1 : 0)));
const b = await readVolume('../shared/data/mr-brain/brain1_image.nrrd'); const bl = await readVolume('../shared/data/mr-brain/brain1_label.nrrd');
await chain('glioma', toUint8(b), b.dims, Uint8Array.from(bl.data as ArrayLike<number>, (v) => (v ? 1 : 0)));
