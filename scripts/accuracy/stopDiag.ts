// Why propagation stopped, per label: stops and per-slice pred/ref areas and DSC.
// Usage: PROP='{}' node --import tsx scripts/accuracy/stopDiag.ts <image> <labelfile> <label,...>
import { nodePlatform } from '../../src/platform/node.js';
import { setPlatform } from '../../src/platform/platform.js';
import { readVolume } from '../../src/io/readVolume.js';
import { ObjectSegmenter } from '../../src/pipelines/objectSegmenter.js';
import { promptFromReference } from '../../src/pipelines/referencePrompt.js';
import { selectLabel } from '../../src/metrics/segmentationMetrics.js';
import { dice } from '../../src/metrics/dice.js';
import { extractSlice } from '../../src/preprocess/slices.js';
import { toUint8 } from '../../src/preprocess/intensity.js';

setPlatform(nodePlatform);

const [imgPath, labPath, labels] = process.argv.slice(2) as [string, string, string];
const img = await readVolume(imgPath),
  lab = await readVolume(labPath);
const dims = img.dims;
const seg = await ObjectSegmenter.open({
  threads: 2,
  embeddingCacheDir: '/tmp/acc/emb',
  propagation: process.env.PROP ? JSON.parse(process.env.PROP) : {},
});
const cs = seg.forCase(img, toUint8(img), 2);
for (const l of labels.split(',').map(Number)) {
  const ref = selectLabel(lab.data, l);
  const prompt = promptFromReference('key-box', { reference: ref, dims });
  const r = await cs.segment([prompt]);
  const per = Array.from({ length: dims[2] }, (_, k) => {
    const a = extractSlice(r.mask, dims, 2, k),
      b = extractSlice(ref, dims, 2, k);
    const sa = a.reduce((s, v) => s + v, 0),
      sb = b.reduce((s, v) => s + v, 0);
    return sa + sb ? `${k}:${sa}/${sb}/${dice(a, b).toFixed(2)}` : '';
  })
    .filter(Boolean)
    .join(' ');
  const s = r.stops![0]! as { key: number; down: string; up: string; separability?: number };
  console.log(
    `label ${l} DSC ${dice(r.mask, ref).toFixed(3)} key ${s.key} down ${s.down} up ${s.up} sep ${s.separability?.toFixed(2)}\n  ${per}`,
  );
}
await seg.release();
