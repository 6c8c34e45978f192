// Per-click diagnostics of the simulated-click protocol on one case: which slice, which kind, the
// error region's size, the clicked slice's mask before/after, and which slices the re-propagation
// changed (DSC per slice before -> after). PROP='{...}' sets Sam1PropagationOptions.
// Usage: node --import tsx scripts/accuracy/clickDiag.ts <case.npz|image> [K] [labelfile label]
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
  embeddingCacheDir: process.env.EMB ?? '/tmp/acc/emb',
  propagation: process.env.PROP ? JSON.parse(process.env.PROP) : {},
});
const cs = seg.forCase(c.image, toUint8(c.image), 2);
const prompt = promptFromReference('key-box', { reference: ref, dims });
let prompts = [prompt];
let cur = await cs.segment(prompts);
const area = (m: Uint8Array) => m.reduce((s, v) => s + v, 0);
const perSlice = (m: Uint8Array) =>
  Array.from({ length: dims[2] }, (_, k) => {
    const a = extractSlice(m, dims, 2, k),
      b = extractSlice(ref, dims, 2, k);
    return { a: area(a), b: area(b), d: dice(a, b), m: a };
  });
const fmt = (m: Uint8Array) =>
  perSlice(m)
    .map((s, k) => (s.a + s.b ? `${k}:${s.a}/${s.b}/${s.d.toFixed(2)}` : ''))
    .filter(Boolean)
    .join(' ');
console.log(`key slice ${prompt.slice} box ${JSON.stringify(prompt.box)}`);
console.log('box', dice(cur.mask, ref).toFixed(3), JSON.stringify(cur.stops), fmt(cur.mask));
for (let k = 1; k <= K; k++) {
  const click = nextClick(cur.mask, ref, dims);
  if (!click) break;
  const before = perSlice(cur.mask);
  const r = await cs.correct(prompts, cur, click);
  prompts = r.prompts;
  const after = perSlice(r.result.mask);
  const changed = after
    .map((s, j) => {
      const b = before[j]!;
      let diff = 0;
      for (let i = 0; i < s.m.length; i++) if (s.m[i] !== b.m[i]) diff++;
      return diff ? `${j}:${b.d.toFixed(2)}->${s.d.toFixed(2)}(${b.a}->${s.a}/${s.b})` : '';
    })
    .filter(Boolean)
    .join(' ');
  const cb = before[click.slice]!,
    ca = after[click.slice]!;
  console.log(
    `click ${k} ${click.label ? '+' : '-'} slice ${click.slice} (${click.x},${click.y}) region ${click.region} px; ` +
      `slice ${cb.a}->${ca.a} px (ref ${cb.b}) DSC ${cb.d.toFixed(2)}->${ca.d.toFixed(2)}; 3D ${dice(cur.mask, ref).toFixed(3)}->${dice(r.result.mask, ref).toFixed(3)}`,
  );
  console.log(`  changed ${changed}`);
  console.log(`  stops ${JSON.stringify(r.result.stops)} keys ${prompts.map((p) => p.slice).join(',')}`);
  cur = r.result;
}
console.log('final', dice(cur.mask, ref).toFixed(3), fmt(cur.mask));
await seg.release();
