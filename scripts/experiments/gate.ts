// Intensity-model gating experiment: key-slice fg/ring histograms → per-pixel likelihood ratio; SAM mask ∩ fg-like.
import { readFileSync, readdirSync, existsSync, writeFileSync } from 'node:fs';
import { readVolume } from '../../src/io/readVolume.js';
import { readNpzCase } from '../../src/io/npzFile.js';
import { dice } from '../../src/metrics/dice.js';
import { toUint8 } from '../../src/preprocess/intensity.js';
import { extractSlice, insertSlice, sliceShape } from '../../src/preprocess/slices.js';
import { boxFromMask, type Box } from '../../src/predictor/prompts.js';
import { resolveModel } from '../../src/models/registry.js';
import { Sam1Engine } from '../../src/engine/sam1Engine.js';
import { samFrame } from '../../src/preprocess/samImage.js';
import { binarise, dilate, interiorPoint, maskArea, keepComponentsOverlapping, labelComponents2d } from '../../src/predictor/sam1/maskOps.js';
import { largestComponent3d } from '../../src/predictor/sam1/components3d.js';
const engine = await Sam1Engine.create(resolveModel('default'), { threads: 2 });
const enc = async (s: Uint8Array, h: number, w: number) => {
  let key = 2166136261; for (let i = 0; i < s.length; i++) key = Math.imul(key ^ s[i]!, 16777619) >>> 0;
  const p = `/tmp/h6_emb2/${h}x${w}_${key.toString(16)}.f32`;
  if (existsSync(p)) { const b = readFileSync(p); return { data: new Float32Array(b.buffer, b.byteOffset, b.length / 4), dims: [1, 256, 64, 64], frame: samFrame(h, w, 1024) }; }
  const e = await engine.encode(s, h, w); writeFileSync(p, Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength)); return e;
};
const cfg = { insets: (process.env.INSETS ?? '0').split(',').map(Number), gate: process.env.GATE !== '0', tip: Number(process.env.TIP ?? 0.2), ba: Number(process.env.BA ?? 0.75), stopFrac: Number(process.env.STOPF ?? 0) };
const ins = (b: Box, f: number): Box => { const dx = f * (b[2] - b[0]), dy = f * (b[3] - b[1]); return [b[0] + dx, b[1] + dy, b[2] - dx, b[3] - dy]; };
function smooth3(img: Uint8Array, W: number, H: number) { const o = new Uint8Array(img.length); for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) { let s = 0, n = 0; for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) { const xx = x + dx, yy = y + dy; if (xx >= 0 && yy >= 0 && xx < W && yy < H) { s += img[yy * W + xx]!; n++; } } o[y * W + x] = Math.round(s / n); } return o; }
function fillHoles(m: Uint8Array, W: number, H: number) { const inv = Uint8Array.from(m, (v) => (v ? 0 : 1)); const { labels } = labelComponents2d(inv, W, H); const border = new Set<number>(); for (let x = 0; x < W; x++) { border.add(labels[x]!); border.add(labels[(H - 1) * W + x]!); } for (let y = 0; y < H; y++) { border.add(labels[y * W]!); border.add(labels[y * W + W - 1]!); } return Uint8Array.from(m, (v, i) => (v || (inv[i] && !border.has(labels[i]!)) ? 1 : 0)); }
async function run(name: string, img: Uint8Array, dims: [number, number, number], gt: Uint8Array) {
  const sh = sliceShape(dims, 2); const W = sh.cols, H = sh.rows;
  let key = 0, best = -1; for (let k = 0; k < sh.count; k++) { const a = maskArea(extractSlice(gt, dims, 2, k)); if (a > best) { best = a; key = k; } }
  const sl = (k: number) => smooth3(extractSlice(img, dims, 2, k), W, H);
  const k0 = await engine.decode(await enc(extractSlice(img, dims, 2, key), H, W), { box: boxFromMask(extractSlice(gt, dims, 2, key), W, H)! }); const km = binarise(k0.logits);
  const r = Math.max(3, Math.round(0.5 * Math.sqrt(maskArea(km) / Math.PI)));
  const ring = dilate(km, W, H, r); for (let i = 0; i < ring.length; i++) if (km[i]) ring[i] = 0;
  const B = 32, hf = new Float64Array(B).fill(1), hb = new Float64Array(B).fill(1); const ks = sl(key);
  for (let i = 0; i < ks.length; i++) { if (km[i]) hf[ks[i]! >> 3]!++; else if (ring[i]) hb[ks[i]! >> 3]!++; }
  const sf = hf.reduce((a, b) => a + b), sb = hb.reduce((a, b) => a + b); let fgLike = new Uint8Array(B); for (let b = 0; b < B; b++) fgLike[b] = hf[b]! / sf > hb[b]! / sb ? 1 : 0;
  const keyHf = hf.slice(), keyHb = hb.slice();
  const refit = (k: number, m: Uint8Array, mode: string) => { const s2 = sl(k); const rr = dilate(m, W, H, r); const f2 = mode === 'cum' ? hf : new Float64Array(B).fill(1), b2 = mode === 'cum' ? hb : new Float64Array(B).fill(1); for (let i = 0; i < s2.length; i++) { if (m[i]) f2[s2[i]! >> 3]!++; else if (rr[i]) b2[s2[i]! >> 3]!++; } if (mode === 'prevkey') { for (let b = 0; b < B; b++) { f2[b]! += keyHf[b]!; b2[b]! += keyHb[b]!; } } const a = f2.reduce((x, y) => x + y), c = b2.reduce((x, y) => x + y); const nl = new Uint8Array(B); for (let b = 0; b < B; b++) nl[b] = f2[b]! / a > b2[b]! / c ? 1 : 0; return nl; };
  const keyLike = fgLike.slice();
  let tp = 0, nf = 0, tn = 0, nb = 0; for (let i = 0; i < ks.length; i++) { if (km[i]) { nf++; tp += fgLike[ks[i]! >> 3]!; } else if (ring[i]) { nb++; tn += 1 - fgLike[ks[i]! >> 3]!; } }
  const ba = (tp / nf + tn / nb) / 2; const gate = cfg.gate && ba >= cfg.ba;
  const ka = maskArea(km); const out = new Uint8Array(gt.length); insertSlice(out, dims, 2, key, km);
  const info: string[] = [];
  for (const dir of [-1, 1]) {
    let prev = km, low = k0.lowRes; let n = 0; fgLike = keyLike.slice(); hf.set(keyHf); hb.set(keyHb);
    for (let k = key + dir; k >= 0 && k < sh.count; k += dir) {
      const e = await enc(extractSlice(img, dims, 2, k), H, W); const b = boxFromMask(prev, W, H)!; const ip = interiorPoint(prev, W, H)!;
      if (process.env.CANDSEL && gate) {
        const s = sl(k); const fl = Uint8Array.from(s, (v) => fgLike[v >> 3]!);
        const reg = dilate(prev, W, H, r); let bestD = -1, bm: Uint8Array | undefined, bl: Float32Array | undefined, bfrac = 0;
        for (const sIn of (process.env.CANDS ?? '0,0.1,0.2,0.3').split(',').map(Number)) {
          const d = await engine.decode(e, { box: ins(b, sIn), points: [{ x: ip.x, y: ip.y, label: 1 }] }, low);
          const m = keepComponentsOverlapping(binarise(d.logits), prev, W, H);
          let inter = 0, sm = 0, sl2 = 0, fin = 0; for (let i = 0; i < m.length; i++) { if (!reg[i]) { if (m[i]) { sm++; } continue; } const a = m[i]! ? 1 : 0, c = fl[i]!; inter += a & c; sm += a; sl2 += c; }
          const dd = sm + sl2 ? 2 * inter / (sm + sl2) : 0; if (process.env.CV) console.log(`     z${k} inset ${sIn}: area ${sm} dsc ${(2 * [...m].reduce((q, v, i) => q + (v && gt[k * W * H + i] ? 1 : 0), 0) / (sm + maskArea(extractSlice(gt, dims, 2, k)))).toFixed(2)} agree ${dd.toFixed(2)} objFrac ${(sm ? inter / sm : 0).toFixed(2)} fgLikeInReg ${sl2}`); if (dd > bestD) { bestD = dd; bm = m; bl = d.lowRes; bfrac = sm ? inter / sm : 0; }
        }
        if (!bm || !maskArea(bm) || bfrac < cfg.stopFrac || maskArea(bm) < cfg.tip * ka) break;
        insertSlice(out, dims, 2, k, bm); prev = bm; low = bl!; n++; if (process.env.MODEL && process.env.MODEL !== 'key') fgLike = refit(k, bm, process.env.MODEL); continue;
      }
      const L = new Float32Array(W * H), LO = new Float32Array(65536);
      for (const s of cfg.insets) { const d = await engine.decode(e, { box: ins(b, s), points: [{ x: ip.x, y: ip.y, label: 1 }] }, low); for (let i = 0; i < L.length; i++) L[i]! += d.logits[i]! / cfg.insets.length; for (let i = 0; i < LO.length; i++) LO[i]! += d.lowRes[i]! / cfg.insets.length; }
      let m = keepComponentsOverlapping(binarise(L), prev, W, H); const a0 = maskArea(m);
      if (gate && a0) { const s = sl(k); const g = Uint8Array.from(m, (v, i) => (v && fgLike[s[i]! >> 3] ? 1 : 0)); const frac = maskArea(g) / a0; if (frac < cfg.stopFrac) break; m = keepComponentsOverlapping(fillHoles(g, W, H), prev, W, H); }
      const a = maskArea(m); if (!a || a < cfg.tip * ka) break;
      insertSlice(out, dims, 2, k, m); prev = m; low = LO; n++;
    }
    info.push(`${dir < 0 ? 'down' : 'up'} ${n}`);
  }
  const d = dice(largestComponent3d(out, dims), gt);
  console.log(`${name.padEnd(18)} DSC=${d.toFixed(3)} ba=${ba.toFixed(2)} gate=${gate} ${info.join(' ')}`);
  if (process.env.VERB) { const per = []; for (let k = 0; k < sh.count; k++) { const a = maskArea(extractSlice(out, dims, 2, k)), g = maskArea(extractSlice(gt, dims, 2, k)); per.push(a || g ? `${a}:${g}` : '-'); } console.log('   [' + per.join(' ') + ']'); }
  return d;
}
const les: number[] = [], gen: number[] = [];
for (const f of readdirSync('../shared/data/ct-lesion').sort()) { const c = await readNpzCase(`../shared/data/ct-lesion/${f}`); les.push(await run(f.slice(0, 17), c.image.data as Uint8Array, c.image.dims, Uint8Array.from(c.label!.data as Uint8Array, (v) => (v ? 1 : 0)))); }
if (!process.env.LESION_ONLY) {
  const ct = await readVolume('../shared/data/ct-organs/example_ct_sm.nii.gz'); const seg = await readVolume('../shared/data/ct-organs/example_ct_sm_seg.nii.gz');
  const ctU8 = toUint8(ct, { window: { level: 40, width: 400 } as never });
  for (const lab of [1, 2, 3, 5, 6, 20, 52, 86]) gen.push(await run(`organ ${lab}`, ctU8, ct.dims, Uint8Array.from(seg.data as Int16Array, (v) => (Number(v) === lab ? 1 : 0))));
  const b = await readVolume('../shared/data/mr-brain/brain1_image.nrrd'); const bl = await readVolume('../shared/data/mr-brain/brain1_label.nrrd');
  gen.push(await run('glioma', toUint8(b), b.dims, Uint8Array.from(bl.data as ArrayLike<number>, (v) => (v ? 1 : 0))));
}
console.log(`lesion mean ${(les.reduce((a, b) => a + b) / les.length).toFixed(3)}  general mean ${gen.length ? (gen.reduce((a, b) => a + b) / gen.length).toFixed(3) : '-'}  ${JSON.stringify(cfg)}`);
