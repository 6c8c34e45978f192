// Step variants (full chains), evaluated with no stop, perfect stop and key-area stop rules.
import { eng, bin, dsc, area, loadCases, dsc3d, type Case } from './harness.js';
import { boxFromMask, expandBox, type Box } from '../../src/predictor/prompts.js';
import { keepComponentsOverlapping, interiorPoint, dilate } from '../../src/predictor/sam1/maskOps.js';
import type { Sam1Embedding, Sam1Prompt } from '../../src/engine/sam1Engine.js';
const mean = (ls: Float32Array[]) => { const o = new Float32Array(ls[0]!.length); for (const l of ls) for (let i = 0; i < o.length; i++) o[i]! += l[i]! / ls.length; return o; };
type V = { insets: number[]; mi: boolean; cc?: boolean; refine?: boolean; point?: boolean; dil?: number; thr?: number; neg?: boolean };
const variants: Record<string, V> = {
  base: { insets: [0, 0.1, 0.2], mi: true },
  cc: { insets: [0, 0.1, 0.2], mi: true, cc: true },
  refine: { insets: [0, 0.1, 0.2], mi: true, refine: true },
  point: { insets: [0, 0.1, 0.2], mi: true, point: true },
  dil10: { insets: [0, 0.1, 0.2], mi: true, dil: 10 },
  thr1: { insets: [0, 0.1, 0.2], mi: true, thr: 1 },
  pointNoMi: { insets: [0, 0.1, 0.2], mi: false, point: true },
  point0_3: { insets: [0, 0.1, 0.2, 0.3], mi: true, point: true },
  point0_1: { insets: [0, 0.1], mi: true, point: true },
  point05_15: { insets: [0.05, 0.15], mi: true, point: true },
  point5: { insets: [0, 0.05, 0.1, 0.15, 0.2], mi: true, point: true },
  pointThr1: { insets: [0, 0.1, 0.2], mi: true, point: true, thr: 1 },
  pointNeg: { insets: [0, 0.1, 0.2], mi: true, point: true, neg: true },
};
const only = process.argv.slice(2);
const cases = loadCases();
async function step(c: Case, e: Sam1Embedding, prev: Uint8Array, low: Float32Array, v: V) {
  const b = boxFromMask(prev, c.W, c.H)!; const sz = Math.max(b[2] - b[0], b[3] - b[1]);
  const ip = v.point ? interiorPoint(prev, c.W, c.H) : undefined;
  const rs = [];
  for (const s of v.insets) {
    const p: Sam1Prompt = { box: expandBox(b, -s * sz, c.W, c.H) as Box };
    if (ip) p.points = [{ x: ip.x, y: ip.y, label: 1 }];
    if (v.neg) { const g = expandBox(b, 0.25 * sz, c.W, c.H); p.points!.push({ x: g[0], y: g[1], label: 0 }, { x: g[2], y: g[1], label: 0 }, { x: g[0], y: g[3], label: 0 }, { x: g[2], y: g[3], label: 0 }); }
    rs.push(await eng.decode(e, p, v.mi ? low : undefined));
  }
  let lg = mean(rs.map((r) => r.logits)); let lo = mean(rs.map((r) => r.lowRes));
  let m = bin(lg, v.thr ?? 0);
  if (v.refine && area(m)) { const r = await eng.decode(e, { box: boxFromMask(m, c.W, c.H)! }, lo); lg = r.logits; lo = r.lowRes; m = bin(lg); }
  if (v.dil) { const d = dilate(prev, c.W, c.H, v.dil); for (let i = 0; i < m.length; i++) m[i]! &= d[i]!; }
  if (v.cc) m = keepComponentsOverlapping(m, prev, c.W, c.H);
  return { m, lo };
}
for (const [name, v] of Object.entries(variants)) {
  if (only.length && !only.includes(name)) continue;
  const res: Record<string, number[]> = { none: [], perfect: [], 'key<0.15': [], 'key<0.2': [], 'key<0.25': [] };
  const lines: string[] = [];
  for (const c of cases) {
    const k0 = await eng.decode(c.emb(c.key), { box: c.keyBox }); const km = bin(k0.logits); const ka = area(km);
    const all: (Uint8Array | undefined)[] = new Array(c.D); all[c.key] = km;
    const stopAt: Record<string, (Uint8Array | undefined)[]> = {};
    for (const f of [0.15, 0.2, 0.25]) { stopAt[`key<${f}`] = new Array(c.D); stopAt[`key<${f}`]![c.key] = km; }
    for (const dir of [-1, 1]) {
      let prev = km, low = k0.lowRes; const alive: Record<string, boolean> = { 'key<0.15': true, 'key<0.2': true, 'key<0.25': true };
      for (let k = c.key + dir; k >= 0 && k < c.D; k += dir) {
        const { m, lo } = await step(c, c.emb(k), prev, low, v); const a = area(m); if (!a) break;
        all[k] = m; prev = m; low = lo;
        for (const f of [0.15, 0.2, 0.25]) { const n = `key<${f}`; if (alive[n] && a >= f * ka) stopAt[n]![k] = m; else alive[n] = false; }
      }
    }
    res.none!.push(dsc3d(c, all)); res.perfect!.push(dsc3d(c, all.map((x, k) => (area(c.gt(k)) ? x : undefined))));
    for (const n of Object.keys(stopAt)) res[n]!.push(dsc3d(c, stopAt[n]!));
    lines.push(`${c.name} [${all.map((x, k) => (x ? `${area(x)}:${area(c.gt(k))}` : '-')).join(' ')}]`);
  }
  console.log(name, Object.entries(res).map(([n, xs]) => `${n}=${(xs.reduce((a, b) => a + b) / xs.length).toFixed(3)}(${xs.map((x) => x.toFixed(2)).join(',')})`).join(' '));
  if (process.env.V) console.log('  ' + lines.join('\n  '));
}
