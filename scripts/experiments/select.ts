// True-state: for each shrink s, per-slice DSC and selection signals.
import { eng, bin, dsc, area, loadCases } from './harness.js';
import { boxFromMask, expandBox, type Box } from '../../src/predictor/prompts.js';
const S = [0, 0.05, 0.1, 0.15, 0.2, 0.3];
const boxIou = (a: Box, b: Box) => { const ix = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]) + 1), iy = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]) + 1); const ar = (x: Box) => (x[2] - x[0] + 1) * (x[3] - x[1] + 1); return ix * iy / (ar(a) + ar(b) - ix * iy); };
for (const c of loadCases()) {
  console.log(c.name);
  for (let k = 0; k < c.D; k++) for (const n of [k - 1, k + 1]) {
    if (n < 0 || n >= c.D || !area(c.gt(n)) || Math.abs(k - c.key) <= Math.abs(n - c.key)) continue;
    const b = boxFromMask(c.gt(n), c.W, c.H)!; const sz = Math.max(b[2] - b[0], b[3] - b[1]);
    const row: string[] = [];
    for (const s of S) {
      const pb = expandBox(b, -s * sz, c.W, c.H) as Box;
      const r = await eng.decode(c.emb(k), { box: pb }); const m = bin(r.logits);
      const mb = boxFromMask(m, c.W, c.H);
      const stab = area(bin(r.logits, 1)) / Math.max(1, area(bin(r.logits, -1)));
      row.push(`${dsc(m, c.gt(k)).toFixed(2)}(i${r.iou.toFixed(2)} f${mb ? boxIou(mb, pb).toFixed(2) : '-'} st${stab.toFixed(2)})`);
    }
    console.log(`  z${k} gt=${area(c.gt(k))}: ${row.join(' ')}`);
  }
}
