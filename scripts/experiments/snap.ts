// Snap test: repeat the inset-ensemble step on the same slice, re-centred on its own output, and watch the area.
import { eng, bin, dsc, area, loadCases } from './harness.js';
import { boxFromMask, type Box } from '../../src/predictor/prompts.js';
import { interiorPoint } from '../../src/predictor/sam1/maskOps.js';
const ins = (b: Box, f: number): Box => { const dx = f * (b[2] - b[0]), dy = f * (b[3] - b[1]); return [b[0] + dx, b[1] + dy, b[2] - dx, b[3] - dy]; };
async function pass(c: any, e: any, m: Uint8Array, low: Float32Array) {
  const b = boxFromMask(m, c.W, c.H)!; const ip = interiorPoint(m, c.W, c.H)!; const L = new Float32Array(c.W * c.H), LO = new Float32Array(65536);
  for (const s of [0, 0.1, 0.2]) { const r = await eng.decode(e, { box: ins(b, s), points: [{ x: ip.x, y: ip.y, label: 1 }] }, low); for (let i = 0; i < L.length; i++) L[i]! += r.logits[i]! / 3; for (let i = 0; i < LO.length; i++) LO[i]! += r.lowRes[i]! / 3; }
  return { m: bin(L), low: LO };
}
for (const c of loadCases()) {
  console.log(c.name);
  const k0 = await eng.decode(c.emb(c.key), { box: c.keyBox });
  for (const dir of [-1, 1]) {
    let prev = bin(k0.logits), low = k0.lowRes;
    for (let k = c.key + dir; k >= 0 && k < c.D; k += dir) {
      const areas: string[] = []; let cur = prev, cl = low; let first: any;
      for (let t = 0; t < 4; t++) { if (!area(cur)) break; const r = await pass(c, c.emb(k), cur, cl); cur = r.m; cl = r.low; if (!t) first = r; areas.push(`${area(cur)}(${dsc(cur, c.gt(k)).toFixed(2)})`); }
      console.log(`  z${k} gt=${area(c.gt(k))} ${areas.join(' → ')}`);
      if (!first || !area(first.m)) break; prev = first.m; low = first.low;
    }
  }
}
