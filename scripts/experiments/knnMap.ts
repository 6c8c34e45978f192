// Coarse label propagation by k-NN over SAM encoder cell features (key slice as reference).
import { area, loadCases, type Case } from './harness.js';
const G = 64;
function cellLabels(c: Case, m: Uint8Array) { const cell = c.W / G; const l = new Float32Array(G * G); for (let y = 0; y < c.H; y++) for (let x = 0; x < c.W; x++) if (m[y * c.W + x]) l[Math.floor(y / cell) * G + Math.floor(x / cell)]! += 1 / (cell * cell); return l; }
function feats(c: Case, k: number) { const e = c.emb(k).data; const f = new Float32Array(G * G * 256); for (let i = 0; i < G * G; i++) { let n = 0; for (let ch = 0; ch < 256; ch++) { const v = e[ch * G * G + i]!; f[i * 256 + ch] = v; n += v * v; } n = Math.sqrt(n) || 1; for (let ch = 0; ch < 256; ch++) f[i * 256 + ch]! /= n; } return f; }
const topk = Number(process.env.K ?? 10), tau = Number(process.env.TAU ?? 0.05), rad = Number(process.env.R ?? 12);
for (const c of loadCases()) {
  const kf = feats(c, c.key), kl = cellLabels(c, c.gt(c.key));
  const b = c.keyBox; const cell = c.W / G;
  const cx0 = Math.max(0, Math.floor(b[0] / cell) - 8), cx1 = Math.min(G - 1, Math.floor(b[2] / cell) + 8), cy0 = Math.max(0, Math.floor(b[1] / cell) - 8), cy1 = Math.min(G - 1, Math.floor(b[3] / cell) + 8);
  const rows: string[] = [];
  for (let k = 0; k < c.D; k++) {
    const tf = feats(c, k), gl = cellLabels(c, c.gt(k));
    let sumP = 0, inter = 0, sp = 0, sg = 0;
    for (let y = cy0; y <= cy1; y++) for (let x = cx0; x <= cx1; x++) {
      const i = y * G + x; const sims: [number, number][] = [];
      for (let yy = Math.max(0, y - rad); yy <= Math.min(G - 1, y + rad); yy++) for (let xx = Math.max(0, x - rad); xx <= Math.min(G - 1, x + rad); xx++) {
        const j = yy * G + xx; let s = 0; for (let ch = 0; ch < 256; ch++) s += tf[i * 256 + ch]! * kf[j * 256 + ch]!; sims.push([s, kl[j]!]);
      }
      sims.sort((a, b) => b[0] - a[0]); let wsum = 0, p = 0; const mx = sims[0]![0];
      for (const [s, l] of sims.slice(0, topk)) { const w = Math.exp((s - mx) / tau); wsum += w; p += w * l; }
      p /= wsum; sumP += p; const pb = p > 0.5 ? 1 : 0, gb = gl[i]! > 0.5 ? 1 : 0; inter += pb & gb; sp += pb; sg += gb;
    }
    rows.push(`z${k}: gtCells=${sg} predCells=${sp} sumP=${sumP.toFixed(1)} dsc=${sp + sg ? (2 * inter / (sp + sg)).toFixed(2) : '-'}`);
  }
  console.log(c.name, 'key', c.key, '\n  ' + rows.join('\n  '));
}
