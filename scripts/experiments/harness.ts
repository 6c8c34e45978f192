// Shared experiment harness: cached embeddings, GT, metrics.
import { readFileSync, readdirSync } from 'node:fs';
import { resolveModel } from '../../src/models/registry.js';
import { Sam1Engine, type Sam1Embedding } from '../../src/engine/sam1Engine.js';
import { samFrame } from '../../src/preprocess/samImage.js';
import { boxFromMask, type Box } from '../../src/predictor/prompts.js';
import { readNpzLite } from './npzLite.js';

export const eng = await Sam1Engine.create(resolveModel('default'), { threads: 2 });
export const bin = (l: Float32Array, t = 0) => { const m = new Uint8Array(l.length); for (let i = 0; i < l.length; i++) m[i] = l[i]! > t ? 1 : 0; return m; };
export const dsc = (a: ArrayLike<number>, b: ArrayLike<number>) => { let i = 0, s = 0; for (let k = 0; k < a.length; k++) { const g = b[k] ? 1 : 0, p = a[k] ? 1 : 0; i += p & g; s += p + g; } return s ? 2 * i / s : 1; };
export const area = (a: ArrayLike<number>) => { let s = 0; for (let k = 0; k < a.length; k++) s += a[k] ? 1 : 0; return s; };
export interface Case { name: string; D: number; H: number; W: number; img: (k: number) => Uint8Array; gt: (k: number) => Uint8Array; emb: (k: number) => Sam1Embedding; key: number; keyBox: Box; gtVol: Uint8Array }
export function loadCases(): Case[] {
  const dir = '../shared/data/ct-lesion';
  return readdirSync(dir).filter((f) => f.endsWith('.npz')).sort().map((f) => {
    const d = readNpzLite(`${dir}/${f}`);
    const [D, H, W] = d.imgs!.shape as [number, number, number];
    const gts = d.gts!.data as Uint8Array, imgs = d.imgs!.data as Uint8Array;
    const cache = new Map<number, Sam1Embedding>();
    const emb = (k: number): Sam1Embedding => { let e = cache.get(k); if (!e) { const b = readFileSync(`/tmp/h6_emb/${f}_${k}.f32`); e = { data: new Float32Array(b.buffer, b.byteOffset, b.length / 4), dims: [1, 256, 64, 64], frame: samFrame(H, W, 1024) }; cache.set(k, e); } return e; };
    const gt = (k: number) => gts.subarray(k * H * W, (k + 1) * H * W);
    let key = 0; for (let k = 0; k < D; k++) if (area(gt(k)) > area(gt(key))) key = k;
    return { name: f.slice(0, 17), D, H, W, img: (k) => imgs.subarray(k * H * W, (k + 1) * H * W), gt, emb, key, keyBox: boxFromMask(gt(key), W, H)!, gtVol: gts };
  });
}
export function dsc3d(c: Case, masks: (Uint8Array | undefined)[]) {
  let i = 0, s = 0; const n = c.H * c.W;
  for (let k = 0; k < c.D; k++) { const g = c.gt(k); const m = masks[k]; for (let p = 0; p < n; p++) { const gg = g[p] ? 1 : 0, mm = m && m[p] ? 1 : 0; i += gg & mm; s += gg + mm; } }
  return 2 * i / s;
}
