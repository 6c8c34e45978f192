// Per-slice diagnostics of naive propagation on cached embeddings.
import { readFileSync, readdirSync } from 'node:fs';
import { resolveModel } from '../../src/models/registry.js';
import { Sam1Engine, type Sam1Embedding } from '../../src/engine/sam1Engine.js';
import { samFrame } from '../../src/preprocess/samImage.js';
import { boxFromMask } from '../../src/predictor/prompts.js';
import { readNpzLite } from './npzLite.js';

const dir = '../shared/data/ct-lesion';
const eng = await Sam1Engine.create(resolveModel('default'), { threads: 2 });
const bin = (l: Float32Array) => { const m = new Uint8Array(l.length); for (let i = 0; i < l.length; i++) m[i] = l[i]! > 0 ? 1 : 0; return m; };
const dsc = (a: Uint8Array, b: ArrayLike<number>) => { let i = 0, s = 0; for (let k = 0; k < a.length; k++) { const g = b[k] ? 1 : 0; i += a[k]! & g; s += a[k]! + g; } return s ? 2 * i / s : 1; };
const area = (a: ArrayLike<number>) => { let s = 0; for (let k = 0; k < a.length; k++) s += a[k] ? 1 : 0; return s; };
for (const f of readdirSync(dir).filter((f) => f.endsWith('.npz')).sort()) {
  const d = readNpzLite(`${dir}/${f}`);
  const [D, H, W] = d.imgs!.shape as [number, number, number];
  const gts = d.gts!.data as Uint8Array;
  const emb = (k: number): Sam1Embedding => { const b = readFileSync(`/tmp/h6_emb/${f}_${k}.f32`); return { data: new Float32Array(b.buffer, b.byteOffset, b.length / 4), dims: [1, 256, 64, 64], frame: samFrame(H, W, 1024) }; };
  const gt = (k: number) => gts.subarray(k * H * W, (k + 1) * H * W);
  let key = 0; for (let k = 0; k < D; k++) if (area(gt(k)) > area(gt(key))) key = k;
  console.log(f);
  for (let k = 0; k < D; k++) {
    const g = gt(k); const a = area(g);
    const row: string[] = [`z${k} gt=${a}`];
    if (a) { const r = await eng.decode(emb(k), { box: boxFromMask(g, W, H)! }); row.push(`oracle dsc=${dsc(bin(r.logits), g).toFixed(3)} iou=${r.iou.toFixed(3)}`); }
    // box from the neighbour's GT (what perfect propagation would give)
    for (const n of [k - 1, k + 1]) {
      if (n < 0 || n >= D || !area(gt(n))) continue;
      const r = await eng.decode(emb(k), { box: boxFromMask(gt(n), W, H)! });
      const m = bin(r.logits);
      row.push(`nb${n > k ? '+' : '-'} area=${area(m)} dsc=${dsc(m, g).toFixed(3)} iou=${r.iou.toFixed(3)} ovPrev=${dsc(m, gt(n)).toFixed(2)}`);
    }
    console.log(row.join(' | '));
  }
}
