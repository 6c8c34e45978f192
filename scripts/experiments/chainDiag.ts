import { eng, bin, dsc, area, loadCases, type Case } from './harness.js';
import { boxFromMask, expandBox, type Box } from '../../src/predictor/prompts.js';
const shrink = Number(process.argv[2] ?? 0.1);
for (const c of loadCases()) {
  const k0 = await eng.decode(c.emb(c.key), { box: c.keyBox });
  console.log(c.name, 'key', c.key, 'iou', k0.iou.toFixed(2));
  for (const dir of [-1, 1]) {
    let prev = bin(k0.logits);
    for (let k = c.key + dir; k >= 0 && k < c.D; k += dir) {
      const b = boxFromMask(prev, c.W, c.H)!; const sz = Math.max(b[2] - b[0], b[3] - b[1]);
      const r = await eng.decode(c.emb(k), { box: expandBox(b, -shrink * sz, c.W, c.H) as Box });
      const m = bin(r.logits);
      const stab = area(bin(r.logits, 1)) / Math.max(1, area(bin(r.logits, -1)));
      let ls = 0; for (let i = 0; i < m.length; i++) if (m[i]) ls += r.logits[i]!; ls /= Math.max(1, area(m));
      let inter = 0; for (let i = 0; i < m.length; i++) inter += m[i]! & prev[i]!;
      console.log(`  z${k} gt=${area(c.gt(k))} a=${area(m)} dsc=${dsc(m, c.gt(k)).toFixed(2)} iou=${r.iou.toFixed(2)} stab=${stab.toFixed(2)} logit=${ls.toFixed(1)} dscPrev=${dsc(m, prev).toFixed(2)} inPrev=${(inter / area(m)).toFixed(2)} ratio=${(area(m) / area(prev)).toFixed(2)}`);
      if (!area(m)) break; prev = m;
    }
  }
}
