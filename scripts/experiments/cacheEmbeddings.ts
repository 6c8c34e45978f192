// Encodes every slice of the ct-lesion volumes once and stores the embeddings in /tmp for fast decode experiments.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { resolveModel } from '../../src/models/registry.js';
import { Sam1Engine } from '../../src/engine/sam1Engine.js';
import { readNpzLite } from './npzLite.js';

const dir = '../shared/data/ct-lesion';
const outDir = '/tmp/h6_emb';
mkdirSync(outDir, { recursive: true });
const eng = await Sam1Engine.create(resolveModel('default'), { threads: 2 });
for (const f of readdirSync(dir).filter((f) => f.endsWith('.npz')).sort()) {
  const d = readNpzLite(`${dir}/${f}`);
  const [D, H, W] = d.imgs!.shape as [number, number, number];
  for (let k = 0; k < D; k++) {
    const p = `${outDir}/${f}_${k}.f32`;
    if (existsSync(p)) continue;
    const emb = await eng.encode((d.imgs!.data as Uint8Array).subarray(k * H * W, (k + 1) * H * W), H, W);
    writeFileSync(p, Buffer.from(emb.data.buffer, emb.data.byteOffset, emb.data.byteLength));
  }
  console.log(f, D);
}
