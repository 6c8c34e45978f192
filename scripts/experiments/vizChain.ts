// Visualise the ensemble chain result (red) vs GT (green) on crops around the key box.
import { writeFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { eng, bin, loadCases } from './harness.js';
import { boxFromMask, expandBox, type Box } from '../../src/predictor/prompts.js';
const ci = Number(process.argv[2] ?? 2);
const c = loadCases()[ci]!;
const mean = (ls: Float32Array[]) => { const o = new Float32Array(ls[0]!.length); for (const l of ls) for (let i = 0; i < o.length; i++) o[i]! += l[i]! / ls.length; return o; };
const masks: Uint8Array[] = [];
const k0 = await eng.decode(c.emb(c.key), { box: c.keyBox }); masks[c.key] = bin(k0.logits);
for (const dir of [-1, 1]) {
  let prev = masks[c.key]!, low = k0.lowRes;
  for (let k = c.key + dir; k >= 0 && k < c.D; k += dir) {
    const b = boxFromMask(prev, c.W, c.H); if (!b) break; const sz = Math.max(b[2] - b[0], b[3] - b[1]);
    const rs = []; for (const s of [0, 0.1, 0.2]) rs.push(await eng.decode(c.emb(k), { box: expandBox(b, -s * sz, c.W, c.H) as Box }, low));
    masks[k] = bin(mean(rs.map((r) => r.logits))); low = mean(rs.map((r) => r.lowRes)); prev = masks[k]!;
  }
}
const [x0, y0, x1, y1] = c.keyBox; const cx = (x0 + x1) >> 1, cy = (y0 + y1) >> 1; const R = 48, S = 2 * R, Z = 3, cols = 7;
const rows = Math.ceil(c.D / cols);
const png = new PNG({ width: S * Z * cols, height: S * Z * rows });
const edge = (m: Uint8Array | undefined, x: number, y: number) => !!m && !!m[y * c.W + x] && (!m[y * c.W + x - 1] || !m[y * c.W + x + 1] || !m[(y - 1) * c.W + x] || !m[(y + 1) * c.W + x]);
for (let k = 0; k < c.D; k++) {
  const im = c.img(k), g = c.gt(k), ox = (k % cols) * S * Z, oy = Math.floor(k / cols) * S * Z;
  for (let y = 0; y < S * Z; y++) for (let x = 0; x < S * Z; x++) {
    const sx = cx - R + Math.floor(x / Z), sy = cy - R + Math.floor(y / Z);
    const v = im[sy * c.W + sx]!; const ge = edge(g, sx, sy), pe = edge(masks[k], sx, sy);
    const o = 4 * ((oy + y) * png.width + ox + x);
    png.data[o] = pe ? 255 : ge ? 0 : v; png.data[o + 1] = ge ? 255 : pe ? 0 : v; png.data[o + 2] = ge || pe ? 0 : v; png.data[o + 3] = 255;
  }
}
writeFileSync(`/tmp/h6_chain_${ci}.png`, PNG.sync.write(png));
