import { eng, bin, dsc, area, loadCases, dsc3d, type Case } from './harness.js';
import { boxFromMask, expandBox, type Box } from '../../src/predictor/prompts.js';

type Strat = { name: string; shrink: number; maskInput: boolean };
async function run(c: Case, s: Strat) {
  const masks: (Uint8Array | undefined)[] = new Array(c.D);
  const k0 = await eng.decode(c.emb(c.key), { box: c.keyBox });
  masks[c.key] = bin(k0.logits);
  for (const dir of [-1, 1]) {
    let prev = masks[c.key]!, prevLow = k0.lowRes;
    for (let k = c.key + dir; k >= 0 && k < c.D; k += dir) {
      const b = boxFromMask(prev, c.W, c.H); if (!b) break;
      const sz = Math.max(b[2] - b[0], b[3] - b[1]);
      const box = expandBox(b, -s.shrink * sz, c.W, c.H) as Box;
      const r = await eng.decode(c.emb(k), { box }, s.maskInput ? prevLow : undefined);
      const m = bin(r.logits); if (!area(m)) break;
      masks[k] = m; prev = m; prevLow = r.lowRes;
    }
  }
  return masks;
}
const cases = loadCases();
for (const s of [{ name: 'tight', shrink: 0, maskInput: false }, { name: 'shrink5', shrink: 0.05, maskInput: false }, { name: 'shrink10', shrink: 0.1, maskInput: false }, { name: 'tight+mi', shrink: 0, maskInput: true }, { name: 'shrink5+mi', shrink: 0.05, maskInput: true }]) {
  const res: string[] = []; let full = 0, trunc = 0;
  for (const c of cases) {
    const m = await run(c, s);
    const t = m.map((x, k) => (area(c.gt(k)) ? x : undefined));
    const a = dsc3d(c, m), b = dsc3d(c, t); full += a / 3; trunc += b / 3;
    res.push(`${c.name} ${a.toFixed(3)}/${b.toFixed(3)} [${m.map((x, k) => (x ? `${area(x)}:${area(c.gt(k))}` : '-')).join(' ')}]`);
  }
  console.log(`${s.name}: mean ${full.toFixed(3)} (perfect-stop ${trunc.toFixed(3)})\n  ` + res.join('\n  '));
}
