import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import type { Precision } from '../models/precision.js';
import { MedsamError, errorMessage } from '../common/errors.js';
import { writeFileAtomic } from '../io/atomicWrite.js';
import { StagedFolder } from '../io/stagedFolder.js';
import { PropagationCancelled, throwIfCancelled } from '../families/cancelled.js';
import { readVolume } from '../io/readVolume.js';
import type { Volume } from '../io/volume.js';
import { writeMask } from '../io/writeMask.js';
import { DEFAULT_NSD_TOLERANCE_MM, segmentationMetrics, selectLabel } from '../metrics/segmentationMetrics.js';
import { toUint8, type WindowSpec } from '../preprocess/intensity.js';
import { sliceShape, type SliceAxis } from '../preprocess/slices.js';
import type { Sam1PropagationOptions } from '../predictor/sam1Propagator.js';
import { sameGrid } from '../io/geometry.js';
import { reorientToGrid } from '../io/reorientToGrid.js';
import { simulateClicks } from './clicks.js';
import { labelMapVolume } from '../session/labelMap.js';
import { loadCase } from './loadCase.js';
import { ObjectSegmenter, type CaseSegmenter } from './objectSegmenter.js';
import { writeMontage } from './preview.js';
import { promptFromReference, type PromptPolicy } from './referencePrompt.js';
import { findPictureFolderPairs, pictureColours, pictureMaskLabels } from './pictureReference.js';
import { hasNominalSpacing } from '../io/image2d.js';

/**
 * Evaluation: each object of each case is segmented from ONE prompt simulated from its reference
 * mask on the key slice, then scored with DSC, NSD, HD95 and the slice-extent error — MedSAM2's
 * evaluation protocol. A multi-label reference is evaluated per label, each label its own object.
 * Optionally a simulated user then clicks K times (see clicks.ts) and DSC is reported per click.
 */

export interface EvalCase {
  name: string;
  /** Image file or DICOM series folder. */
  image: string;
  /** Separate label file; undefined for a .npz that carries `gts`. */
  label?: string;
  /** Labels to evaluate for this case (manifest); default: the run's `labels`. */
  labels?: number[];
}

/**
 * NSD tolerance for pictures without a real spacing, in pixels. 2 mm (MedSAM2's 3D default) is 2-4
 * voxels of a CT; on a 500-1300 px endoscopy or ultrasound frame a hand-drawn polyp outline (and a
 * JPEG mask's edge) is uncertain by several pixels, so 2 px would score annotation noise: 5 px is
 * about 1 % of the frame's width.
 */
export const DEFAULT_NSD_TOLERANCE_PX = 5;

/** Distance unit of a row: mm, or px for a picture whose spacing is nominal (PNG, JPEG). */
export type DistanceUnit = 'mm' | 'px';

export interface ClickResult {
  k: number;
  dsc: number;
}

export interface CaseResult {
  case: string;
  /** Reference label evaluated (absent in reports made before per-label evaluation). */
  label?: number;
  dsc: number;
  nsd: number;
  /** In `unit`; null when exactly one of prediction/reference is empty (HD95 is infinite). */
  hd95: number | null;
  /** Unit of hd95 and of the NSD tolerance (absent in older reports: mm). */
  unit?: DistanceUnit;
  /** NSD tolerance used for this row, in `unit`. */
  nsdTolerance?: number;
  /** First/last slice (along the axis) of the reference and of the prediction (null when empty). */
  refSlices?: [number, number];
  predSlices?: [number, number] | null;
  /** Predicted minus reference first/last slice; null when the prediction is empty. */
  extentError?: { first: number; last: number } | null;
  /** Slices the prediction runs past the reference's extent, the worse end (0 = none). */
  overshoot?: number;
  seconds: number;
  /** DSC after each simulated click (`--clicks K`). */
  clicks?: ClickResult[];
  noc85?: number;
  noc90?: number;
}

export interface EvaluationReport {
  cases: CaseResult[];
  /** Distance unit of hd95 and the NSD tolerance when every row shares it ('mixed' otherwise). */
  unit?: DistanceUnit | 'mixed';
  /** The NSD tolerance, in `unit`, when every row shares it. */
  nsdTolerance?: number;
  /**
   * Means over rows; hd95 over the rows where it is finite (null if none). With extents: mean
   * |extent error| over both ends, the largest overshoot and how many rows overshoot by > 2 slices.
   * With clicks: mean DSC after click 1..K and mean NoC@85/90.
   */
  mean: {
    dsc: number;
    nsd: number;
    hd95: number | null;
    extentError?: number;
    maxOvershoot?: number;
    overshootOver2?: number;
    dscAfterClicks?: number[];
    noc85?: number;
    noc90?: number;
  };
}

export interface EvaluateOptions {
  outDir: string;
  prompt?: PromptPolicy;
  /** Reference labels to evaluate, each as its own object: 'all' (default) or a list. */
  labels?: 'all' | number[];
  /** @deprecated one label; same as labels: [label]. */
  label?: number;
  model?: string;
  threads?: number;
  /** 'int8' = fast mode; default 'fp32' (exact). */
  precision?: Precision;
  /** NSD tolerance in the case's unit: mm (default 2), or px for a PNG/JPEG picture (default 5). */
  tolerance?: number;
  window?: WindowSpec | 'auto';
  /** Also write each prediction as <outDir>/masks/<case>[_label<n>].nii.gz. */
  saveMasks?: boolean;
  /** Simulated clicks after the first prompt (0 = none). */
  clicks?: number;
  /** Write a montage PNG per evaluated object into this folder. */
  previewsDir?: string;
  /** SAM1 models: keep slice embeddings here across runs (a cache; safe to delete). */
  embeddingCacheDir?: string;
  /** SAM1 propagation options (experiments; the defaults are the measured method). */
  propagation?: Omit<Sam1PropagationOptions, 'onSlice'>;
  onCaseStart?: (c: EvalCase, index: number, total: number) => void;
  onCase?: (r: CaseResult, index: number, total: number) => void;
  onProgress?: (done: number, total: number, stage: string) => void;
  /** Cases or labels skipped (no reference, or the label is absent), with the reason. */
  onSkip?: (c: EvalCase, reason: string) => void;
  /**
   * Stops the evaluation (PropagationCancelled) before its next case, object, click or slice; then
   * nothing is written (masks and previews are staged and moved in only with the report).
   */
  signal?: AbortSignal;
}

const IMAGE_EXT = /\.(nii\.gz|nii|nrrd|nhdr|mha|mhd|png|jpe?g)$/i;
/** Label-file suffixes after the image's stem: x_seg.nii.gz, x_label.nrrd, 3D Slicer's x-label.nrrd and x.seg.nrrd, … */
const LABEL_SUFFIXES = ['_seg', '_label', '_labels', '_mask', '_gt', '-label', '-seg', '.seg', '_segmentation', '-segmentation'];
const IMAGE_SUFFIXES = ['_image', '_img', '-image'];

/** Cases found in a folder or manifest, and every file that was not used, with why. */
export interface FoundCases {
  cases: EvalCase[];
  skipped: { file: string; reason: string }[];
}

/**
 * Cases in a folder: every MedSAM2 `.npz` (imgs + gts), and every image (or DICOM series folder)
 * with a label file next to it: `x.nii.gz` + `x_seg.nii.gz` (also _label/_labels/_mask/_gt/
 * _segmentation, 3D Slicer's `x-label.nrrd` and `x.seg.nrrd`, any supported extension),
 * `x_image.nrrd` + `x_label.nrrd`, or a folder `x/` + `x_seg.nii.gz`. Sorted by name.
 * `dir` may instead be a manifest (.json) listing the cases (see readManifest).
 */
export function findCases(dir: string): EvalCase[] {
  return findCasesDetailed(dir).cases;
}

export function findCasesDetailed(dir: string): FoundCases {
  if (!existsSync(dir)) throw new MedsamError(`evaluation folder ${dir} does not exist`, 'check the path');
  if (statSync(dir).isFile() && /\.json$/i.test(dir)) return { cases: readManifest(dir), skipped: [] };
  if (!statSync(dir).isDirectory())
    throw new MedsamError(`${dir} is not a folder`, 'give a folder of cases (.npz, or image + x_seg label pairs) or a manifest .json');
  const entries = readdirSync(dir)
    .filter((f) => !f.startsWith('.'))
    .sort();
  const isDir = (f: string) => statSync(join(dir, f)).isDirectory();
  const files = entries.filter((f) => statSync(join(dir, f)).isFile());
  const pictures = findPictureFolderPairs(dir, LABEL_SUFFIXES);
  const folders = entries.filter((f) => isDir(f) && !pictures?.folders.includes(f));
  const stemOf = (f: string) => f.replace(IMAGE_EXT, '');
  const byStem = new Map<string, string>();
  for (const f of files) if (IMAGE_EXT.test(f)) byStem.set(stemOf(f), f);
  const used = new Set<string>(pictures?.folders);
  const cases: EvalCase[] = [...(pictures?.cases ?? [])];
  const labelFor = (bases: string[], self: string) =>
    bases.flatMap((b) => LABEL_SUFFIXES.map((s) => byStem.get(b + s))).find((x) => x !== undefined && x !== self);
  for (const f of files) {
    if (!IMAGE_EXT.test(f)) continue;
    const stem = stemOf(f);
    if (
      LABEL_SUFFIXES.some((s) => stem.endsWith(s) && (byStem.has(stem.slice(0, -s.length)) || folders.includes(stem.slice(0, -s.length))))
    )
      continue; // x_seg next to x
    const bases = [stem, ...IMAGE_SUFFIXES.filter((s) => stem.endsWith(s)).map((s) => stem.slice(0, -s.length))];
    const label = labelFor(bases, f);
    if (!label) continue;
    used.add(f).add(label);
    cases.push({ name: bases[bases.length - 1]!, image: join(dir, f), label: join(dir, label) });
  }
  for (const d of folders) {
    // A DICOM series folder `x/` beside its label file, or beside `x.seg.dcm` (its DICOM SEG reference).
    const label = labelFor([d], d) ?? (files.includes(`${d}.seg.dcm`) ? `${d}.seg.dcm` : undefined);
    if (!label) continue;
    used.add(d).add(label);
    cases.push({ name: d, image: join(dir, d), label: join(dir, label) });
  }
  for (const f of files) {
    if (!/\.npz$/i.test(f)) continue;
    used.add(f);
    cases.push({ name: f.replace(/\.npz$/i, ''), image: join(dir, f) });
  }
  const skipped: FoundCases['skipped'] = [...(pictures?.skipped ?? [])];
  for (const f of entries) {
    if (used.has(f)) continue;
    const stem = stemOf(f);
    const reason = isDir(f)
      ? `folder without a label file next to it (expected ${f}_seg.nii.gz, ${f}-label.nrrd or ${f}.seg.dcm)`
      : !IMAGE_EXT.test(f)
        ? 'not an image, picture or .npz case'
        : LABEL_SUFFIXES.some((s) => stem.endsWith(s))
          ? 'a label file whose image was not found'
          : `no label file next to it (expected ${stem}_seg${f.slice(stem.length)}, ${stem}-label.nrrd, …; or list the pair in a manifest)`;
    skipped.push({ file: f, reason });
  }
  if (cases.length === 0) {
    throw new MedsamError(
      `no evaluation cases in ${dir}`,
      'put MedSAM2 .npz files (imgs + gts), image + label pairs (x.nii.gz + x_seg.nii.gz, x.nrrd + x-label.nrrd, x.png + x_mask.png, or pictures in images/ with masks in masks/) or DICOM series folders with a label or SEG beside them (x/ + x_seg.nii.gz or x.seg.dcm) there, or give a manifest .json',
    );
  }
  return { cases: cases.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)), skipped };
}

/**
 * A manifest for data that does not follow one naming scheme:
 * `{"cases": [{"image": "mr-brain/FLAIR.nii.gz", "label": "mr-brain/FLAIR_lesion.nii.gz", "name": "flair", "labels": [1, 2]}, …]}`.
 * Paths are relative to the manifest's folder; `name` defaults to the image's stem; `label` may be
 * left out for a .npz with `gts`; `labels` restricts the labels evaluated for that case.
 */
export function readManifest(path: string): EvalCase[] {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new MedsamError(`manifest ${path} is not valid JSON: ${errorMessage(e)}`, 'write {"cases": [{"image": "...", "label": "..."}]}');
  }
  const list = Array.isArray(json) ? json : (json as { cases?: unknown }).cases;
  if (!Array.isArray(list) || list.length === 0)
    throw new MedsamError(`manifest ${path} lists no cases`, 'write {"cases": [{"image": "...", "label": "..."}]}');
  const base = dirname(resolve(path));
  const at = (p: string) => (isAbsolute(p) ? p : join(base, p));
  return list.map((c: unknown, i) => {
    const e = c as { image?: unknown; label?: unknown; name?: unknown; labels?: unknown };
    const bad = (what: string) =>
      new MedsamError(
        `manifest ${path}, case ${i + 1}: ${what}`,
        'each case needs "image" (and "label" unless it is a .npz with gts); "labels" is a list of integers',
      );
    if (typeof e.image !== 'string') throw bad('"image" is missing');
    if (e.label !== undefined && typeof e.label !== 'string') throw bad('"label" is not a path');
    if (e.labels !== undefined && !(Array.isArray(e.labels) && e.labels.every((l) => Number.isInteger(l) && l > 0)))
      throw bad('"labels" is not a list of positive integers');
    for (const p of [e.image, e.label]) if (typeof p === 'string' && !existsSync(at(p))) throw bad(`${at(p)} does not exist`);
    const name =
      typeof e.name === 'string'
        ? e.name
        : basename(e.image)
            .replace(IMAGE_EXT, '')
            .replace(/\.npz$/i, '');
    return {
      name,
      image: at(e.image),
      label: typeof e.label === 'string' ? at(e.label) : undefined,
      labels: e.labels as number[] | undefined,
    };
  });
}

function labelsPresent(ref: Volume['data']): number[] {
  const seen = new Set<number>();
  for (let i = 0; i < ref.length; i++) {
    const v = Number(ref[i]);
    if (v !== 0) seen.add(v);
  }
  return [...seen].sort((a, b) => a - b);
}

function finite(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

/** First and last slice (along `axis`) holding any voxel of `m`; null when empty. */
export function sliceExtent(m: ArrayLike<number>, dims: readonly [number, number, number], axis: SliceAxis = 2): [number, number] | null {
  const [nx, ny] = dims;
  let lo = Infinity,
    hi = -1;
  for (let i = 0; i < m.length; i++) {
    if (!m[i]) continue;
    const k = axis === 2 ? Math.floor(i / (nx * ny)) : axis === 1 ? Math.floor(i / nx) % ny : i % nx;
    if (k < lo) lo = k;
    if (k > hi) hi = k;
  }
  return hi < 0 ? null : [lo, hi];
}

/** Slice-extent fields of a row: predicted vs reference first/last slice. */
export function extentFields(
  pred: ArrayLike<number>,
  ref: ArrayLike<number>,
  dims: readonly [number, number, number],
  axis: SliceAxis = 2,
): Pick<CaseResult, 'refSlices' | 'predSlices' | 'extentError' | 'overshoot'> {
  const r = sliceExtent(ref, dims, axis)!;
  const p = sliceExtent(pred, dims, axis);
  return {
    refSlices: r,
    predSlices: p,
    extentError: p ? { first: p[0] - r[0], last: p[1] - r[1] } : null,
    overshoot: p ? Math.max(0, r[0] - p[0], p[1] - r[1]) : 0,
  };
}

export function summarise(cases: CaseResult[]): EvaluationReport {
  const hd = cases.map((c) => c.hd95).filter((x): x is number => x !== null);
  const m: EvaluationReport['mean'] = {
    dsc: mean(cases.map((c) => c.dsc)),
    nsd: mean(cases.map((c) => c.nsd)),
    hd95: hd.length ? mean(hd) : null,
  };
  const withExtent = cases.filter((c) => c.extentError);
  if (withExtent.length) {
    m.extentError = mean(withExtent.flatMap((c) => [Math.abs(c.extentError!.first), Math.abs(c.extentError!.last)]));
    m.maxOvershoot = Math.max(...withExtent.map((c) => c.overshoot ?? 0));
    m.overshootOver2 = withExtent.filter((c) => (c.overshoot ?? 0) > 2).length;
  }
  const withClicks = cases.filter((c) => c.clicks?.length);
  if (withClicks.length) {
    const K = Math.max(...withClicks.map((c) => c.clicks!.length));
    m.dscAfterClicks = Array.from({ length: K }, (_, k) => mean(withClicks.map((c) => c.clicks![Math.min(k, c.clicks!.length - 1)]!.dsc)));
    m.noc85 = mean(withClicks.map((c) => c.noc85!));
    m.noc90 = mean(withClicks.map((c) => c.noc90!));
  }
  const units = [...new Set(cases.map((c) => c.unit ?? 'mm'))];
  const tolerances = [...new Set(cases.map((c) => c.nsdTolerance))];
  return {
    cases,
    ...(cases.some((c) => c.unit) ? { unit: units.length === 1 ? units[0] : 'mixed' } : {}),
    ...(tolerances.length === 1 && tolerances[0] !== undefined ? { nsdTolerance: tolerances[0] } : {}),
    mean: m,
  };
}

/** "px", "mm" or "mm/px" for table headers and messages. */
export function unitText(r: EvaluationReport): string {
  return r.unit === 'mixed' ? 'mm/px' : (r.unit ?? 'mm');
}

/** report.csv: one row per (case, label), then a `mean` row; empty hd95 for infinite. Columns appear when some row has them. */
export function reportCsv(r: EvaluationReport): string {
  const q = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const num = (x: number | null | undefined) => (x === null || x === undefined || Number.isNaN(x) ? '' : String(+x.toFixed(6)));
  const hasLabel = r.cases.some((c) => c.label !== undefined);
  const hasExtent = r.cases.some((c) => c.refSlices);
  const K = Math.max(0, ...r.cases.map((c) => c.clicks?.length ?? 0));
  const hasPx = r.cases.some((c) => c.unit === 'px');
  const head = [
    'case',
    ...(hasLabel ? ['label'] : []),
    'dsc',
    'nsd',
    'hd95',
    ...(hasExtent ? ['ref_first', 'ref_last', 'pred_first', 'pred_last', 'overshoot'] : []),
    ...Array.from({ length: K }, (_, k) => `dsc_click${k + 1}`),
    ...(K ? ['noc85', 'noc90'] : []),
    'seconds',
    ...(hasPx ? ['unit'] : []),
  ];
  const rows = [head.join(',')];
  for (const c of r.cases) {
    rows.push(
      [
        q(c.case),
        ...(hasLabel ? [num(c.label)] : []),
        num(c.dsc),
        num(c.nsd),
        num(c.hd95),
        ...(hasExtent
          ? [num(c.refSlices?.[0]), num(c.refSlices?.[1]), num(c.predSlices?.[0]), num(c.predSlices?.[1]), num(c.overshoot)]
          : []),
        ...Array.from({ length: K }, (_, k) => num(c.clicks?.[k]?.dsc)),
        ...(K ? [num(c.noc85), num(c.noc90)] : []),
        num(c.seconds),
        ...(hasPx ? [c.unit ?? 'mm'] : []),
      ].join(','),
    );
  }
  const m = r.mean;
  rows.push(
    [
      'mean',
      ...(hasLabel ? [''] : []),
      num(m.dsc),
      num(m.nsd),
      num(m.hd95),
      ...(hasExtent ? ['', '', '', '', num(m.maxOvershoot)] : []),
      ...Array.from({ length: K }, (_, k) => num(m.dscAfterClicks?.[k])),
      ...(K ? [num(m.noc85), num(m.noc90)] : []),
      '',
      ...(hasPx ? [unitText(r)] : []),
    ].join(','),
  );
  return rows.join('\n') + '\n';
}

/** A fixed-width table for the terminal. */
export function formatReportTable(r: EvaluationReport): string {
  const nameOf = (c: CaseResult) => (c.label !== undefined ? `${c.case} #${c.label}` : c.case);
  const w = Math.max(4, ...r.cases.map((c) => nameOf(c).length));
  const f = (x: number | null | undefined, d: number) => (x === null || x === undefined || Number.isNaN(x) ? '—' : x.toFixed(d));
  const hasExtent = r.cases.some((c) => c.refSlices);
  const K = Math.max(0, ...r.cases.map((c) => c.clicks?.length ?? 0));
  const cols = [
    'DSC',
    'NSD',
    `HD95 ${unitText(r)}`,
    ...(hasExtent ? ['ref z', 'pred z', 'over'] : []),
    ...(K ? [`DSC@${K}`, 'NoC85', 'NoC90'] : []),
    'seconds',
  ];
  const width = 10;
  const line = (name: string, cells: string[]) => name.padEnd(w) + cells.map((c) => c.padStart(width)).join('');
  const rule = '-'.repeat(w + width * cols.length);
  const out = [line('case', cols), rule];
  for (const c of r.cases) {
    out.push(
      line(nameOf(c), [
        f(c.dsc, 4),
        f(c.nsd, 4),
        f(c.hd95, 2),
        ...(hasExtent
          ? [
              c.refSlices ? `${c.refSlices[0]}-${c.refSlices[1]}` : '—',
              c.predSlices ? `${c.predSlices[0]}-${c.predSlices[1]}` : '—',
              String(c.overshoot ?? '—'),
            ]
          : []),
        ...(K ? [f(c.clicks?.[c.clicks.length - 1]?.dsc, 4), String(c.noc85 ?? '—'), String(c.noc90 ?? '—')] : []),
        f(c.seconds, 1),
      ]),
    );
  }
  const m = r.mean;
  out.push(
    rule,
    line('mean', [
      f(m.dsc, 4),
      f(m.nsd, 4),
      f(m.hd95, 2),
      ...(hasExtent ? ['', `±${f(m.extentError, 2)}`, `max ${m.maxOvershoot}`] : []),
      ...(K ? [f(m.dscAfterClicks?.[K - 1], 4), f(m.noc85, 2), f(m.noc90, 2)] : []),
      '',
    ]),
  );
  return out.join('\n');
}

/** Writes report.csv and report.json into `outDir` (created if missing), each atomically. */
export function writeReport(outDir: string, r: EvaluationReport): void {
  if (existsSync(outDir) && !statSync(outDir).isDirectory())
    throw new MedsamError(`report folder ${outDir} is a file`, 'give a folder for --out');
  try {
    mkdirSync(outDir, { recursive: true });
  } catch (e) {
    throw new MedsamError(`cannot create report folder ${outDir}: ${errorMessage(e)}`, 'choose a writable --out folder');
  }
  const row = (c: CaseResult) => {
    const o: Record<string, unknown> = { case: c.case };
    if (c.label !== undefined) o.label = c.label;
    Object.assign(o, { dsc: c.dsc, nsd: c.nsd, hd95: c.hd95 });
    if (c.unit) Object.assign(o, { unit: c.unit, nsdTolerance: c.nsdTolerance });
    if (c.refSlices)
      Object.assign(o, { refSlices: c.refSlices, predSlices: c.predSlices, extentError: c.extentError, overshoot: c.overshoot });
    o.seconds = c.seconds;
    if (c.clicks) Object.assign(o, { clicks: c.clicks, noc85: c.noc85, noc90: c.noc90 });
    return o;
  };
  const json = {
    ...(r.unit ? { unit: r.unit } : {}),
    ...(r.nsdTolerance !== undefined ? { nsdTolerance: r.nsdTolerance } : {}),
    cases: r.cases.map(row),
    mean: r.mean,
  };
  writeFileAtomic(join(outDir, 'report.json'), new TextEncoder().encode(JSON.stringify(json, null, 2) + '\n'));
  writeFileAtomic(join(outDir, 'report.csv'), new TextEncoder().encode(reportCsv(r)));
}

interface LoadedReference {
  image: Volume;
  /** The reference as read (label map or binary). */
  ref: Volume['data'];
  /** Labels to evaluate, and the labels asked for but absent. */
  labels: number[];
  absent: number[];
  recist?: Volume['data'];
  /** A colour picture case's RGB pixels (.npz), for its preview. */
  rgb?: Uint8Array;
}

/** A case's image and its reference on the image grid, or why the case has no usable reference. */
interface CaseReference {
  image: Volume;
  ref: Volume['data'];
  /** Label values in the reference, ascending. */
  present: number[];
  recist?: Volume['data'];
  rgb?: Uint8Array;
}

/** Loads a case's image and its reference, checking they share a grid; a string says why the case is skipped. */
async function readReference(c: EvalCase): Promise<CaseReference | string> {
  const loaded = await loadCase(c.image);
  let refVol = loaded.label;
  if (c.label) {
    refVol = await readVolume(c.label, { grid: loaded.image }); // a DICOM SEG reference is placed on the image grid
    if (refVol.source.format === 'png' || refVol.source.format === 'jpeg') {
      const r = pictureReference(c, loaded.image, refVol);
      return typeof r === 'string' ? r : { ...r, rgb: loaded.rgb?.data };
    }
    // A label map saved with flipped/permuted axes (e.g. RAS NIfTI from a DICOM series) holds the
    // same voxel centres: re-express it on the image grid exactly, no interpolation.
    if (!sameGrid(refVol, loaded.image, 1e-3)) {
      try {
        refVol = reorientToGrid(refVol, loaded.image);
      } catch {
        /* not the same voxels: refused below */
      }
    }
    if (!sameGrid(refVol, loaded.image, 1e-3)) {
      throw new MedsamError(
        `${c.label} is not on the grid of ${c.image} (dims ${refVol.dims.join('x')} vs ${loaded.image.dims.join('x')}, or spacing/origin/direction differ)`,
        'resample the label onto the image grid',
      );
    }
  }
  if (!refVol) return 'no reference mask (gts) in the file';
  const present = labelsPresent(refVol.data);
  if (present.length === 0) return 'the reference mask is empty';
  return { image: loaded.image, ref: refVol.data, present, recist: loaded.recist?.data, rgb: loaded.rgb?.data };
}

/**
 * A mask picture as the reference of a picture (or one-slice image): same width and height
 * required, then binarised or read as labels by its histogram (pictureMaskLabels). It takes the
 * image's geometry, so a 2D DICOM with a PixelSpacing keeps mm. An empty mask is skipped with why,
 * as an empty 3D reference is: endoscopy and ultrasound sets hold negative frames (no polyp, no
 * lesion) that a box prompt cannot be scored on; a run where every case is empty is still refused.
 */
function pictureReference(c: EvalCase, image: Volume, mask: Volume): CaseReference | string {
  const [w, h, d] = image.dims;
  if (d !== 1 || mask.dims[0] !== w || mask.dims[1] !== h)
    throw new MedsamError(
      `the mask ${c.label} is ${mask.dims[0]}x${mask.dims[1]} px but its image is ${d === 1 ? `${w}x${h} px` : `a volume of ${w}x${h}x${d}`}`,
      'give the mask made for that image (same width and height), or fix the pairing (a manifest)',
    );
  const ref = pictureMaskLabels(mask, c.label!);
  const present = labelsPresent(ref);
  if (present.length === 0) return `the mask ${c.label} is empty (no pixel above mid-grey: a negative frame)`;
  return { image, ref, present };
}

/** The labels of a case to evaluate, and those asked for but absent; a string says why the case is skipped. */
function chooseLabels(c: EvalCase, r: CaseReference | string, wanted: 'all' | number[]): LoadedReference | string {
  if (typeof r === 'string') return r;
  const asked = c.labels ?? (wanted === 'all' ? r.present : wanted);
  const labels = asked.filter((l) => r.present.includes(l));
  const absent = asked.filter((l) => !r.present.includes(l));
  if (labels.length === 0)
    return `label${absent.length > 1 ? 's' : ''} ${absent.join(', ')} absent (labels present: ${r.present.join(', ')})`;
  return { image: r.image, ref: r.ref, labels, absent, recist: r.recist, rgb: r.rgb };
}

const plural = (n: number, one: string, many: string) => (n === 1 ? one : many);

/** A case whose image or reference cannot be read (or do not share a grid): one line naming the case. */
function caseUnreadable(c: EvalCase, e: unknown): MedsamError {
  if (e instanceof PropagationCancelled) return e;
  if (!(e instanceof MedsamError))
    return new MedsamError(`case ${c.name}: ${errorMessage(e)}`, 'fix or replace that file, or leave the case out');
  const what = e.hint ? e.message.slice(0, -(e.hint.length + 3)) : e.message; // the message without its " — hint"
  return new MedsamError(`case ${c.name}: ${what}`, e.hint ?? 'fix or replace that file, or leave the case out');
}

/**
 * Checks that need no model, made before it is opened (loading it is the slow part; a bad case
 * found after it, or hours into a run, wasted that): every case's image and reference are read
 * here once (and again case by case during the run, since holding every volume would not fit a
 * large folder in memory). An unreadable image or reference, or a reference off its image's grid,
 * is a MedsamError naming the case; so is a run where no case has a usable reference (each case
 * named with why; a case without one among others that have one is skipped during the run, as a
 * folder of mixed files needs). Labels asked for by value: a label a manifest asks of a case
 * whose reference lacks it, or a `labels` value that no case's reference holds (a typo, another
 * dataset's numbering), is a MedsamError naming the label(s), the case(s) and the labels present;
 * a label present in some cases and absent in others is skipped where absent (onSkip), as
 * multi-organ folders need.
 */
async function checkCasesBeforeModel(
  dir: string,
  cases: readonly EvalCase[],
  wanted: 'all' | number[],
  signal?: AbortSignal,
): Promise<void> {
  const byCase: { c: EvalCase; present: number[] }[] = [];
  const unusable: string[] = [];
  for (const c of cases) {
    throwIfCancelled(signal);
    let r: CaseReference | string;
    try {
      r = await readReference(c);
    } catch (e) {
      throw caseUnreadable(c, e);
    }
    if (typeof r === 'string') {
      unusable.push(`${c.name}: ${r}`);
      continue; // skipped during the run, with this reason
    }
    if (c.labels) {
      const absent = c.labels.filter((l) => !r.present.includes(l));
      if (absent.length)
        throw new MedsamError(
          `${plural(absent.length, 'label', 'labels')} ${absent.join(', ')} asked of case ${c.name} by the manifest ${plural(absent.length, 'is', 'are')} not in its reference (labels present: ${r.present.join(', ')})`,
          `list only labels present in its "labels", e.g. [${r.present.join(', ')}]`,
        );
    } else byCase.push({ c, present: r.present });
  }
  if (unusable.length === cases.length)
    throw new MedsamError(
      `none of the ${cases.length} case(s) in ${dir} has a usable reference mask (${unusable.slice(0, 3).join('; ')}${unusable.length > 3 ? `; … ${unusable.length - 3} more` : ''})`,
      'give each case its reference: a .npz with gts, or a label file beside the image (x_seg.nii.gz, x-label.nrrd) or in the manifest',
    );
  if (wanted === 'all' || byCase.length === 0) return;
  const nowhere = wanted.filter((l) => !byCase.some((x) => x.present.includes(l)));
  if (nowhere.length === 0) return;
  const union = [...new Set(byCase.flatMap((x) => x.present))].sort((a, b) => a - b);
  const where =
    byCase.length === 1
      ? `the reference of case ${byCase[0]!.c.name} (labels present: ${union.join(', ')})`
      : `any of the ${byCase.length} cases' references (labels present: ${byCase
          .slice(0, 3)
          .map((x) => `${x.c.name}: ${x.present.join(', ')}`)
          .join('; ')}${byCase.length > 3 ? `; … ${byCase.length - 3} more` : ''})`;
  throw new MedsamError(
    `${plural(nowhere.length, 'label', 'labels')} ${nowhere.join(', ')} ${plural(nowhere.length, 'is', 'are')} not in ${where}`,
    `ask for labels present, e.g. --labels ${union.slice(0, 8).join(',')}, or --labels all`,
  );
}

/**
 * Evaluates every case of `dir` (a folder or a manifest), each reference label as its own object,
 * and writes report.csv / report.json into `opts.outDir`. Per-row seconds = wall time of that
 * object's segmentation (the first object of a case also pays the slice encoding). Masks and
 * previews are written to a staging folder as each object finishes and moved into place with the
 * report, so a failure or a cancel part-way leaves the output folders as they were.
 */
export async function evaluateFolder(dir: string, opts: EvaluateOptions): Promise<EvaluationReport> {
  const { cases, skipped } = findCasesDetailed(dir);
  for (const s of skipped) opts.onSkip?.({ name: s.file, image: join(dir, s.file) }, s.reason);
  const policy = opts.prompt ?? 'key-box';
  const wanted: 'all' | number[] = opts.labels ?? (opts.label !== undefined ? [opts.label] : 'all');
  const K = opts.clicks ?? 0;
  if (!Number.isInteger(K) || K < 0 || K > 50) throw new MedsamError(`clicks ${K} is not an integer in 0..50`, 'use e.g. --clicks 5');
  const axis: SliceAxis = 2;
  const results: CaseResult[] = [];
  const signal = opts.signal;
  throwIfCancelled(signal);
  await checkCasesBeforeModel(dir, cases, wanted, signal);
  const masksOut = new StagedFolder(join(opts.outDir, 'masks'));
  const previewsOut = opts.previewsDir ? new StagedFolder(opts.previewsDir) : undefined;
  const segmenter = await ObjectSegmenter.open({
    model: opts.model,
    threads: opts.threads,
    precision: opts.precision,
    embeddingCacheDir: opts.embeddingCacheDir,
    propagation: opts.propagation,
    signal,
  });
  try {
    for (const [i, c] of cases.entries()) {
      throwIfCancelled(signal);
      opts.onCaseStart?.(c, i, cases.length);
      const loaded = chooseLabels(c, await readReference(c), wanted);
      if (typeof loaded === 'string') {
        opts.onSkip?.(c, loaded);
        continue;
      }
      const { image, ref, labels, absent, recist } = loaded;
      // A colour picture is previewed in its colours (the model sees its luminance); volumes stay grey.
      const rgb = previewsOut && image.dims[2] === 1 ? (loaded.rgb ?? pictureColours(image)) : undefined;
      if (absent.length) opts.onSkip?.(c, `label${absent.length > 1 ? 's' : ''} ${absent.join(', ')} absent`);
      // A binary reference is one object named by the case alone; a label map gives one row per label.
      const multi = labels.length > 1 || labels[0] !== 1 || c.labels !== undefined || wanted !== 'all';
      const image8 = toUint8(image, { window: opts.window });
      const sh = sliceShape(image.dims, axis);
      let done = 0;
      const total = labels.length * sh.count * (1 + K);
      const seg = cancellable(
        segmenter.forCase(image, image8, axis, () => {
          throwIfCancelled(signal);
          opts.onProgress?.(Math.min(++done, total), total, 'propagating');
        }),
        signal,
      );
      for (const label of labels) {
        const refBin = selectLabel(ref, multi ? label : undefined);
        const recistBin =
          recist && multi
            ? labelsPresent(recist).includes(label)
              ? selectLabel(recist, label)
              : undefined
            : recist
              ? selectLabel(recist)
              : undefined;
        const prompt = promptFromReference(policy, { reference: refBin, dims: image.dims, recist: recistBin });
        const t0 = performance.now();
        const first = await seg.segment([prompt]);
        // A PNG/JPEG's 1 mm spacing is nominal: its distances are pixels, and so is the tolerance.
        const unit: DistanceUnit = hasNominalSpacing(image) ? 'px' : 'mm';
        const nsdTolerance = opts.tolerance ?? (unit === 'px' ? DEFAULT_NSD_TOLERANCE_PX : DEFAULT_NSD_TOLERANCE_MM);
        const m = segmentationMetrics(first.mask, refBin, image.dims, image.spacing, { toleranceMm: nsdTolerance });
        const r: CaseResult = {
          case: c.name,
          ...(multi ? { label } : {}),
          dsc: m.dsc,
          nsd: m.nsd,
          hd95: finite(m.hd95),
          unit,
          nsdTolerance,
          // One slice has no extent to get wrong.
          ...(sh.count > 1 ? extentFields(first.mask, refBin, image.dims, axis) : {}),
          seconds: 0,
        };
        if (K > 0) {
          const run = await simulateClicks(seg, [prompt], first, refBin, image.dims, K, axis);
          r.clicks = run.clicks.map((x) => ({ k: x.k, dsc: x.dsc }));
          r.noc85 = run.noc85;
          r.noc90 = run.noc90;
        }
        r.seconds = (performance.now() - t0) / 1000;
        const stem = multi ? `${basename(c.name)}_label${label}` : basename(c.name);
        if (opts.saveMasks) await writeMask(masksOut.path(`${stem}.nii.gz`), labelMapVolume(first.mask, image), image);
        // A picture's preview is the whole picture at its own size (up to 1024 px), not a cropped 192 px tile.
        const whole = sh.count === 1 ? { crop: false, tile: Math.min(1024, Math.max(sh.rows, sh.cols)) } : {};
        if (previewsOut)
          writeMontage(previewsOut.path(`${stem}.png`), image8, image.dims, first.mask, refBin, { axis, prompts: [prompt], ...whole, rgb });
        results.push(r);
        opts.onCase?.(r, i, cases.length);
      }
    }
    if (results.length === 0) {
      throw new MedsamError(
        `none of the ${cases.length} case(s) in ${dir} has a usable reference mask`,
        'check the label files / --labels',
      );
    }
    throwIfCancelled(signal);
    const report = summarise(results);
    masksOut.commit();
    previewsOut?.commit();
    writeReport(opts.outDir, report);
    return report;
  } finally {
    masksOut.discard();
    previewsOut?.discard();
    await segmenter.release();
  }
}

/** A case's segmenter that checks the signal before each segmentation and each click's correction. */
function cancellable(seg: CaseSegmenter, signal: AbortSignal | undefined): CaseSegmenter {
  if (!signal) return seg;
  return {
    segment: (prompts) => {
      throwIfCancelled(signal);
      return seg.segment(prompts);
    },
    correct: (prompts, current, click) => {
      throwIfCancelled(signal);
      return seg.correct(prompts, current, click);
    },
  };
}
