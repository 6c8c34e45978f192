// Objectness signals (stability, box-perturbation consistency, logit strength) given the TRUE neighbour mask.
import { readFileSync, readdirSync } from 'node:fs';
import { resolveModel } from '../../src/models/registry.js';
import { Sam1Engine, type Sam1Embedding } from '../../src/engine/sam1Engine.js';
import { samFrame } from '../../src/preprocess/samImage.js';
import { boxFromMask, expandBox, type Box } from '../../src/predictor/prompts.js';
import { readNpzLite } from './npzLite.js';

const dir = '../shared/data/ct-lesion';
const eng = await Sam1Engine.create(resolveModel('default'), { threads: 2 });
const bin = (l: Float32Array, t = 0) => { const m = new Uint8Array(l.length); for (let i = 0; i < l.length; i++) m[i] = l[i]! > t ? 1 : 0; return m; };
const dsc = (a: ArrayLike<number>, b: ArrayLike<number>) => { let i = 0, s = 0; for (let k = 0; k < a.length; k++) { const g = b[k] ? 1 : 0, p = a[k] ? 1 : 0; i += p & g; s += p + g; } return s ? 2 * i / s : 1; };
const area = (a: ArrayLike<number>) => { let s = 0; for (let k = 0; k < a.length; k++) s += a[k] ? 1 : 0; return s; };
const f2 = (x: number) => x.toFixed(2);
for (const f of readdirSync(dir).filter((f) => f.endsWith('.npz')).sort()) {
  const d = readNpzLite(`${dir}/${f}`);
  const [D, H, W] = d.imgs!.shape as [number, number, number];
  const gts = d.gts!.data as Uint8Array;
  const emb = (k: number): Sam1Embedding => { const b = readFileSync(`/tmp/h6_emb/${f}_${k}.f32`); return { data: new Float32Array(b.buffer, b.byteOffset, b.length / 4), dims: [1, 256, 64, 64], frame: samFrame(H, W, 1024) }; };
  const gt = (k: number) => gts.subarray(k * H * W, (k + 1) * H * W);
  let key = 0; for (let k = 0; k < D; k++) if (area(gt(k)) > area(gt(key))) key = k;
  console.log(f, 'key', key);
  for (let k = 0; k < D; k++) {
    for (const n of [k - 1, k + 1]) {
      if (n < 0 || n >= D || !area(gt(n)) || Math.abs(k - key) <= Math.abs(n - key)) continue;
      const prev = gt(n); const pb = boxFromMask(prev, W, H)!;
      const prevDec = await eng.decode(emb(n), { box: pb });
      const e = emb(k);
      const sz = Math.max(pb[2] - pb[0], pb[3] - pb[1]);
      const r = await eng.decode(e, { box: pb }); const m = bin(r.logits);
      const stab = area(bin(r.logits, 1)) / Math.max(1, area(bin(r.logits, -1)));
      let ls = 0; for (let i = 0; i < m.length; i++) if (m[i]) ls += r.logits[i]!; ls /= Math.max(1, area(m));
      const big = await eng.decode(e, { box: expandBox(pb, 0.25 * sz, W, H) }); const mbig = bin(big.logits);
      const small = await eng.decode(e, { box: expandBox(pb, -0.15 * sz, W, H) as Box }); const msmall = bin(small.logits);
      const mi = await eng.decode(e, { box: pb }, prevDec.lowRes); const mmi = bin(mi.logits);
      const mo = await eng.decode(e, {}, prevDec.lowRes); const mmo = bin(mo.logits);
      console.log(`  z${k}<${n} gt=${area(gt(k))} box a=${area(m)} dsc=${f2(dsc(m, gt(k)))} iou=${f2(r.iou)} stab=${f2(stab)} meanLogit=${f2(ls)}` +
        ` | big a=${area(mbig)} vsTight=${f2(dsc(mbig, m))} iou=${f2(big.iou)} | small a=${area(msmall)} dsc=${f2(dsc(msmall, gt(k)))} vsTight=${f2(dsc(msmall, m))}` +
        ` | box+mi a=${area(mmi)} dsc=${f2(dsc(mmi, gt(k)))} iou=${f2(mi.iou)} | mi-only a=${area(mmo)} dsc=${f2(dsc(mmo, gt(k)))} iou=${f2(mo.iou)}`);
    }
  }
}
