// Per-click diagnostics of the simulated-click protocol on one npz case: which slice, which kind,
// per-slice DSC before/after. Usage: node --import tsx scripts/accuracy/clickDiag.ts <case.npz|image> [K] [labelfile label]
import { nodePlatform } from '../../src/platform/node.js';
import { setPlatform } from '../../src/platform/platform.js';
import { loadCase } from '../../src/pipelines/loadCase.js';
import { readVolume } from '../../src/io/readVolume.js';
import { ObjectSegmenter } from '../../src/pipelines/objectSegmenter.js';
import { nextClick } from '../../src/pipelines/clicks.js';
import { promptFromReference } from '../../src/pipelines/referencePrompt.js';
import { selectLabel } from '../../src/metrics/segmentationMetrics.js';
import { dice } from '../../src/metrics/dice.js';
import { extractSlice } from '../../src/preprocess/slices.js';
import { toUint8 } from '../../src/preprocess/intensity.js';

setPlatform(nodePlatform);

const path = process.argv[2]!,
  K = Number(process.argv[3] ?? 3);
const c = await loadCase(path);
const ref = process.argv[4]
  ? selectLabel((await readVolume(process.argv[4], { grid: c.image })).data, Number(process.argv[5]))
  : selectLabel(c.label!.data);
const dims = c.image.dims;
const seg = await ObjectSegmenter.open({
  threads: 2,
  embeddingCacheDir: '/tmp/acc/emb',
  propagation: process.env.PROP ? JSON.parse(process.env.PROP) : {},
});
const cs = seg.forCase(c.image, toUint8(c.image), 2);
const prompt = promptFromReference('key-box', { reference: ref, dims });
let prompts = [prompt];
let cur = await cs.segment(prompts);
const per = (m: Uint8Array) =>
  Array.from({ length: dims[2] }, (_, k) => {
    const a = extractSlice(m, dims, 2, k),
      b = extractSlice(ref, dims, 2, k);
    const sa = a.reduce((s, v) => s + v, 0),
      sb = b.reduce((s, v) => s + v, 0);
    return sa + sb ? `${k}:${sa}/${sb}/${dice(a, b).toFixed(2)}` : '';
  })
    .filter(Boolean)
    .join(' ');
console.log('box', dice(cur.mask, ref).toFixed(3), JSON.stringify(cur.stops), per(cur.mask));
for (let k = 1; k <= K; k++) {
  const click = nextClick(cur.mask, ref, dims)!;
  const r = await cs.correct(prompts, cur, click);
  prompts = r.prompts;
  cur = r.result;
  console.log(`click ${k}`, JSON.stringify(click), dice(cur.mask, ref).toFixed(3), JSON.stringify(cur.stops), per(cur.mask));
}
await seg.release();
