// Full chains for a step variant, then offline evaluation of stop rules (truncate at first failing slice).
import { eng, bin, dsc, area, loadCases, dsc3d, type Case } from './harness.js';
import { boxFromMask, expandBox, type Box } from '../../src/predictor/prompts.js';
const mean = (ls: Float32Array[]) => { const o = new Float32Array(ls[0]!.length); for (const l of ls) for (let i = 0; i < o.length; i++) o[i]! += l[i]! / ls.length; return o; };
const set = (process.argv[2] ?? '0,0.1,0.2').split(',').map(Number); const mi = process.argv[3] !== 'nomi';
type Rec = { k: number; m: Uint8Array; a: number; iou: number; dPrev: number };
const cases = loadCases();
const chains: { c: Case; key: Uint8Array; dirs: Rec[][] }[] = [];
for (const c of cases) {
  const k0 = await eng.decode(c.emb(c.key), { box: c.keyBox }); const km = bin(k0.logits);
  const dirs: Rec[][] = [];
  for (const dir of [-1, 1]) {
    const recs: Rec[] = []; let prev = km, low = k0.lowRes;
    for (let k = c.key + dir; k >= 0 && k < c.D; k += dir) {
      const b = boxFromMask(prev, c.W, c.H); if (!b) break; const sz = Math.max(b[2] - b[0], b[3] - b[1]);
      const rs = []; for (const s of set) rs.push(await eng.decode(c.emb(k), { box: expandBox(b, -s * sz, c.W, c.H) as Box }, mi ? low : undefined));
      const m = bin(mean(rs.map((r) => r.logits))); low = mean(rs.map((r) => r.lowRes));
      recs.push({ k, m, a: area(m), iou: rs.reduce((s, r) => s + r.iou, 0) / rs.length, dPrev: dsc(m, prev) }); prev = m;
    }
    dirs.push(recs);
  }
  chains.push({ c, key: km, dirs });
}
type Rule = (r: Rec, keyA: number, prevA: number) => boolean; // true = keep going
const rules: Record<string, Rule> = { none: () => true };
for (const f of [0.1, 0.15, 0.2, 0.25, 0.3]) rules[`key<${f}`] = (r, ka) => r.a >= f * ka;
for (const f of [0.3, 0.5]) rules[`prev<${f}`] = (r, ka, pa) => r.a >= f * pa;
for (const f of [0.5, 0.6, 0.7]) rules[`dPrev<${f}`] = (r) => r.dPrev >= f;
for (const f of [0.15, 0.2]) for (const g of [0.5, 0.6]) rules[`key<${f}&dPrev<${g}`] = (r, ka) => r.a >= f * ka && r.dPrev >= g;
for (const [name, rule] of Object.entries(rules)) {
  const per = chains.map(({ c, key, dirs }) => {
    const masks: (Uint8Array | undefined)[] = new Array(c.D); masks[c.key] = key; const ka = area(key);
    for (const recs of dirs) { let pa = ka; for (const r of recs) { if (!r.a || !rule(r, ka, pa)) break; masks[r.k] = r.m; pa = r.a; } }
    return dsc3d(c, masks);
  });
  console.log(`${name.padEnd(18)} mean ${(per.reduce((a, b) => a + b) / 3).toFixed(3)}  [${per.map((x) => x.toFixed(3)).join(' ')}]`);
}
for (const { c, dirs } of chains) console.log(c.name, dirs.map((recs) => recs.map((r) => `${r.k}:${r.a}/${area(c.gt(r.k))} i${r.iou.toFixed(2)} d${r.dPrev.toFixed(2)}`).join(', ')).join(' || '));
