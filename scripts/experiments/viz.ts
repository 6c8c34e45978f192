// Writes crops of slices with GT (green) and an optional mask (red) outline, tiled, for eyeballing.
import { writeFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { loadCases } from './harness.js';
const ci = Number(process.argv[2] ?? 1);
const c = loadCases()[ci]!;
const [x0, y0, x1, y1] = c.keyBox; const cx = (x0 + x1) >> 1, cy = (y0 + y1) >> 1; const R = 64, S = 2 * R, Z = 3;
const png = new PNG({ width: S * Z * c.D, height: S * Z });
for (let k = 0; k < c.D; k++) {
  const im = c.img(k), g = c.gt(k);
  for (let y = 0; y < S * Z; y++) for (let x = 0; x < S * Z; x++) {
    const sx = cx - R + Math.floor(x / Z), sy = cy - R + Math.floor(y / Z);
    const inb = sx >= 0 && sy >= 0 && sx < c.W && sy < c.H; const v = inb ? im[sy * c.W + sx]! : 0;
    const edge = inb && g[sy * c.W + sx] && (!g[sy * c.W + sx - 1] || !g[sy * c.W + sx + 1] || !g[(sy - 1) * c.W + sx] || !g[(sy + 1) * c.W + sx]);
    const o = 4 * (y * png.width + k * S * Z + x);
    png.data[o] = edge ? 0 : v; png.data[o + 1] = edge ? 255 : v; png.data[o + 2] = edge ? 0 : v; png.data[o + 3] = 255;
  }
}
writeFileSync(`/tmp/h6_viz_${ci}.png`, PNG.sync.write(png));
