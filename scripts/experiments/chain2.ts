import { eng, bin, dsc, area, loadCases, dsc3d, type Case } from './harness.js';
import { boxFromMask, expandBox, type Box } from '../../src/predictor/prompts.js';
import type { Sam1Embedding } from '../../src/engine/sam1Engine.js';

type State = { mask: Uint8Array; low: Float32Array; keyArea: number };
type Step = (c: Case, e: Sam1Embedding, s: State) => Promise<{ mask: Uint8Array; low: Float32Array } | undefined>;
const shrunk = (c: Case, m: Uint8Array, s: number) => { const b = boxFromMask(m, c.W, c.H)!; const sz = Math.max(b[2] - b[0], b[3] - b[1]); return expandBox(b, -s * sz, c.W, c.H) as Box; };
const avg = (a: Float32Array, b: Float32Array) => { const o = new Float32Array(a.length); for (let i = 0; i < a.length; i++) o[i] = (a[i]! + b[i]!) / 2; return o; };
const steps: Record<string, Step> = {};
for (const s of [0.1, 0.15, 0.2, 0.25]) {
  steps[`s${s}`] = async (c, e, st) => { const r = await eng.decode(e, { box: shrunk(c, st.mask, s) }); return { mask: bin(r.logits), low: r.lowRes }; };
  steps[`s${s}+mi`] = async (c, e, st) => { const r = await eng.decode(e, { box: shrunk(c, st.mask, s) }, st.low); return { mask: bin(r.logits), low: r.lowRes }; };
  steps[`s${s}ens`] = async (c, e, st) => { const b = shrunk(c, st.mask, s); const r1 = await eng.decode(e, { box: b }); const r2 = await eng.decode(e, { box: b }, st.low); return { mask: bin(avg(r1.logits, r2.logits)), low: avg(r1.lowRes, r2.lowRes) }; };
}
const mean = (ls: Float32Array[]) => { const o = new Float32Array(ls[0]!.length); for (const l of ls) for (let i = 0; i < o.length; i++) o[i]! += l[i]! / ls.length; return o; };
for (const set of [[0, 0.1, 0.2], [0, 0.05, 0.1, 0.15, 0.2], [0, 0.1, 0.2, 0.3], [0.05, 0.15, 0.25]]) {
  for (const mi of [false, true]) {
    steps[`ens${set.join('_')}${mi ? '+mi' : ''}`] = async (c, e, st) => {
      const rs = []; for (const s of set) rs.push(await eng.decode(e, { box: shrunk(c, st.mask, s) }, mi ? st.low : undefined));
      return { mask: bin(mean(rs.map((r) => r.logits))), low: mean(rs.map((r) => r.lowRes)) };
    };
  }
}
async function run(c: Case, step: Step) {
  const masks: (Uint8Array | undefined)[] = new Array(c.D);
  const k0 = await eng.decode(c.emb(c.key), { box: c.keyBox });
  masks[c.key] = bin(k0.logits);
  for (const dir of [-1, 1]) {
    let st: State = { mask: masks[c.key]!, low: k0.lowRes, keyArea: area(masks[c.key]!) };
    for (let k = c.key + dir; k >= 0 && k < c.D; k += dir) {
      const r = await step(c, c.emb(k), st); if (!r || !area(r.mask)) break;
      masks[k] = r.mask; st = { ...st, mask: r.mask, low: r.low };
    }
  }
  return masks;
}
const cases = loadCases();
const only = process.argv.slice(2);
for (const [name, step] of Object.entries(steps)) {
  if (only.length && !only.some((o) => name.startsWith(o))) continue;
  const res: string[] = []; let full = 0, trunc = 0;
  for (const c of cases) {
    const m = await run(c, step);
    const t = m.map((x, k) => (area(c.gt(k)) ? x : undefined));
    const a = dsc3d(c, m), b = dsc3d(c, t); full += a / 3; trunc += b / 3;
    res.push(`${a.toFixed(3)}/${b.toFixed(3)} [${m.map((x, k) => (x ? `${area(x)}:${area(c.gt(k))}` : '-')).join(' ')}]`);
  }
  console.log(`${name}: mean ${full.toFixed(3)} (perfect-stop ${trunc.toFixed(3)})\n  ` + res.join('\n  '));
}
