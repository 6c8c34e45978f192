import { resolveModel } from '../../src/models/registry.js';
import { Sam1Engine } from '../../src/engine/sam1Engine.js';
import { readNpzLite } from './npzLite.js';

const d = readNpzLite('../shared/data/ct-lesion/CT_Lesion_000001_02_01_008-023.npz');
const [D, H, W] = d.imgs!.shape as [number, number, number];
const eng = await Sam1Engine.create(resolveModel('default'), { threads: 2 });
const k = 9;
const img = (d.imgs!.data as Uint8Array).subarray(k * H * W, (k + 1) * H * W);
const gt = (d.gts!.data as Uint8Array).subarray(k * H * W, (k + 1) * H * W);
let x0 = W, y0 = H, x1 = -1, y1 = -1;
for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if (gt[y * W + x]) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
let t = performance.now();
const emb = await eng.encode(img, H, W);
console.log('encode ms', performance.now() - t, emb.dims);
t = performance.now();
const r = await eng.decode(emb, { box: [x0, y0, x1, y1] });
console.log('decode ms', performance.now() - t, 'iou', r.iou);
let inter = 0, a = 0, b = 0;
for (let i = 0; i < H * W; i++) { const p = r.logits[i]! > 0 ? 1 : 0; const g = gt[i] ? 1 : 0; inter += p & g; a += p; b += g; }
console.log('2D DSC', 2 * inter / (a + b), a, b, [x0, y0, x1, y1], D);
