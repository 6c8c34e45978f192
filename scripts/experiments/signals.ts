// Candidate stop signals at each slice, given the TRUE neighbour mask (ideal propagation state).
import { readFileSync, readdirSync } from 'node:fs';
import { resolveModel } from '../../src/models/registry.js';
import { Sam1Engine, type Sam1Embedding } from '../../src/engine/sam1Engine.js';
import { samFrame } from '../../src/preprocess/samImage.js';
import { boxFromMask } from '../../src/predictor/prompts.js';
import { readNpzLite } from './npzLite.js';

const dir = '../shared/data/ct-lesion';
const eng = await Sam1Engine.create(resolveModel('default'), { threads: 2 });
const bin = (l: Float32Array) => { const m = new Uint8Array(l.length); for (let i = 0; i < l.length; i++) m[i] = l[i]! > 0 ? 1 : 0; return m; };
const dsc = (a: ArrayLike<number>, b: ArrayLike<number>) => { let i = 0, s = 0; for (let k = 0; k < a.length; k++) { const g = b[k] ? 1 : 0, p = a[k] ? 1 : 0; i += p & g; s += p + g; } return s ? 2 * i / s : 1; };
const area = (a: ArrayLike<number>) => { let s = 0; for (let k = 0; k < a.length; k++) s += a[k] ? 1 : 0; return s; };
function interior(m: Uint8Array, W: number, H: number): [number, number] {
  const d = new Float32Array(W * H); const INF = 1e9;
  for (let i = 0; i < W * H; i++) d[i] = m[i] ? INF : 0;
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) { const i = y * W + x; if (!d[i]) continue; let v = d[i]!; if (x > 0) v = Math.min(v, d[i - 1]! + 1); else v = 1; if (y > 0) v = Math.min(v, d[i - W]! + 1); else v = Math.min(v, 1); d[i] = v; }
  for (let y = H - 1; y >= 0; y--) for (let x = W - 1; x >= 0; x--) { const i = y * W + x; if (!d[i]) continue; let v = d[i]!; if (x < W - 1) v = Math.min(v, d[i + 1]! + 1); else v = 1; if (y < H - 1) v = Math.min(v, d[i + W]! + 1); else v = Math.min(v, 1); d[i] = v; }
  let best = -1, bi = 0; for (let i = 0; i < W * H; i++) if (d[i]! > best) { best = d[i]!; bi = i; }
  return [bi % W, Math.floor(bi / W)];
}
function stats(img: Uint8Array, m: ArrayLike<number>) { let s = 0, s2 = 0, n = 0; for (let i = 0; i < img.length; i++) if (m[i]) { s += img[i]!; s2 += img[i]! ** 2; n++; } const mu = s / n; return { mu, sd: Math.sqrt(Math.max(1, s2 / n - mu * mu)) }; }
// embedding prototype: mean over 64x64 cells covered by mask (cell = 8 px at 512)
function proto(e: Sam1Embedding, m: ArrayLike<number>, W: number, H: number) {
  const g = 64, cell = W / 64; const w = new Float32Array(g * g);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if (m[y * W + x]) w[Math.floor(y / cell) * g + Math.floor(x / cell)]! += 1 / (cell * cell);
  const p = new Float32Array(256); let tot = 0; for (let c = 0; c < g * g; c++) tot += w[c]!;
  for (let ch = 0; ch < 256; ch++) { let s = 0; for (let c = 0; c < g * g; c++) if (w[c]) s += w[c]! * e.data[ch * g * g + c]!; p[ch] = s / tot; }
  return p;
}
const cos = (a: Float32Array, b: Float32Array) => { let s = 0, na = 0, nb = 0; for (let i = 0; i < a.length; i++) { s += a[i]! * b[i]!; na += a[i]! ** 2; nb += b[i]! ** 2; } return s / Math.sqrt(na * nb); };
function ring(m: Uint8Array, W: number, H: number, r: number) { const b = boxFromMask(m, W, H)!; const o = new Uint8Array(W * H); for (let y = Math.max(0, b[1] - r); y <= Math.min(H - 1, b[3] + r); y++) for (let x = Math.max(0, b[0] - r); x <= Math.min(W - 1, b[2] + r); x++) if (!m[y * W + x] && (x < b[0] || x > b[2] || y < b[1] || y > b[3])) o[y * W + x] = 1; return o; }

for (const f of readdirSync(dir).filter((f) => f.endsWith('.npz')).sort()) {
  const d = readNpzLite(`${dir}/${f}`);
  const [D, H, W] = d.imgs!.shape as [number, number, number];
  const gts = d.gts!.data as Uint8Array, imgs = d.imgs!.data as Uint8Array;
  const emb = (k: number): Sam1Embedding => { const b = readFileSync(`/tmp/h6_emb/${f}_${k}.f32`); return { data: new Float32Array(b.buffer, b.byteOffset, b.length / 4), dims: [1, 256, 64, 64], frame: samFrame(H, W, 1024) }; };
  const gt = (k: number) => gts.subarray(k * H * W, (k + 1) * H * W);
  const img = (k: number) => imgs.subarray(k * H * W, (k + 1) * H * W);
  let key = 0; for (let k = 0; k < D; k++) if (area(gt(k)) > area(gt(key))) key = k;
  const keyE = emb(key), keyM = gt(key);
  const pf = proto(keyE, keyM, W, H), pb = proto(keyE, ring(keyM, W, H, 16), W, H);
  const ks = stats(img(key), keyM);
  console.log(f, 'key', key, 'cos(pf,pb)', cos(pf, pb).toFixed(3), 'key mu/sd', ks.mu.toFixed(0), ks.sd.toFixed(0));
  for (let k = 0; k < D; k++) {
    for (const n of [k - 1, k + 1]) {
      if (n < 0 || n >= D || !area(gt(n)) || (n - key) * (k - n) < 0 || n === k) continue;
      if (Math.abs(k - key) < Math.abs(n - key)) continue;
      const prev = gt(n); const pbox = boxFromMask(prev, W, H)!;
      const e = emb(k);
      const rb = await eng.decode(e, { box: pbox }); const mb = bin(rb.logits);
      const [ix, iy] = interior(prev, W, H);
      const rp = await eng.decode(e, { points: [{ x: ix, y: iy, label: 1 }] }); const mp = bin(rp.logits);
      const rpb = await eng.decode(e, { box: pbox, points: [{ x: ix, y: iy, label: 1 }] }); const mpb = bin(rpb.logits);
      const st = stats(img(k), mb);
      const pc = proto(e, mb, W, H); const pr = proto(e, ring(mb, W, H, 16), W, H);
      console.log(`  z${k} from ${n} gt=${area(gt(k))} box: a=${area(mb)} dsc=${dsc(mb, gt(k)).toFixed(2)} iou=${rb.iou.toFixed(2)} ov=${dsc(mb, prev).toFixed(2)} ` +
        `| pt: a=${area(mp)} iou=${rp.iou.toFixed(2)} ov=${dsc(mp, prev).toFixed(2)} vsBox=${dsc(mp, mb).toFixed(2)} | pt+box a=${area(mpb)} iou=${rpb.iou.toFixed(2)} dsc=${dsc(mpb, gt(k)).toFixed(2)}` +
        ` | int dz=${((st.mu - ks.mu) / ks.sd).toFixed(2)} sd=${st.sd.toFixed(0)} | cosKeyFg=${cos(pc, pf).toFixed(3)} cosKeyBg=${cos(pc, pb).toFixed(3)} cosRing=${cos(pc, pr).toFixed(3)}`);
    }
  }
}
