import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Precision } from '../models/precision.js';
import { MedsamError, errorMessage } from '../common/errors.js';
import { writeFileAtomic } from '../io/atomicWrite.js';
import { readVolume } from '../io/readVolume.js';
import type { Volume } from '../io/volume.js';
import { writeMask } from '../io/writeMask.js';
import { DEFAULT_NSD_TOLERANCE_MM, segmentationMetrics, selectLabel } from '../metrics/segmentationMetrics.js';
import { toUint8, type WindowSpec } from '../preprocess/intensity.js';
import { sameGrid } from '../io/geometry.js';
import { loadCase } from './loadCase.js';
import { promptFromReference, type PromptPolicy } from './referencePrompt.js';
import { segmentVolume } from './segmentVolume.js';

/**
 * Folder evaluation: each case is segmented from ONE prompt simulated from its reference mask on
 * the key slice, then scored with DSC, NSD and HD95 — MedSAM2's evaluation protocol.
 */

export interface EvalCase {
  name: string;
  image: string;
  /** Separate label file; undefined for a .npz that carries `gts`. */
  label?: string;
}

export interface CaseResult {
  case: string;
  dsc: number;
  nsd: number;
  /** mm; null when exactly one of prediction/reference is empty (HD95 is infinite). */
  hd95: number | null;
  seconds: number;
}

export interface EvaluationReport {
  cases: CaseResult[];
  /** Means over cases; hd95 over the cases where it is finite (null if none). */
  mean: { dsc: number; nsd: number; hd95: number | null };
}

export interface EvaluateOptions {
  outDir: string;
  prompt?: PromptPolicy;
  /** Reference label to evaluate; default every non-zero label as one object. */
  label?: number;
  model?: string;
  threads?: number;
  /** 'int8' = fast mode; default 'fp32' (exact). */
  precision?: Precision;
  /** NSD tolerance in mm (default 2). */
  tolerance?: number;
  window?: WindowSpec | 'auto';
  /** Also write each prediction as <outDir>/masks/<case>.nii.gz. */
  saveMasks?: boolean;
  onCaseStart?: (c: EvalCase, index: number, total: number) => void;
  onCase?: (r: CaseResult, index: number, total: number) => void;
  onProgress?: (done: number, total: number, stage: string) => void;
  /** Cases skipped (no reference, or the label is absent), with the reason. */
  onSkip?: (c: EvalCase, reason: string) => void;
}

const IMAGE_EXT = /\.(nii\.gz|nii|nrrd|nhdr|mha|mhd)$/i;
const LABEL_SUFFIXES = ['_seg', '_label', '_labels', '_mask', '_gt'];
const IMAGE_SUFFIXES = ['_image', '_img'];

/**
 * Cases in a folder: every MedSAM2 `.npz` (imgs + gts), and every image with a label file next to
 * it: `x.nii.gz` + `x_seg.nii.gz` (also _label/_labels/_mask/_gt, any supported extension), or
 * `x_image.nrrd` + `x_label.nrrd`. Sorted by name.
 */
export function findCases(dir: string): EvalCase[] {
  if (!existsSync(dir)) throw new MedsamError(`evaluation folder ${dir} does not exist`, 'check the path');
  if (!statSync(dir).isDirectory()) throw new MedsamError(`${dir} is not a folder`, 'give a folder of cases (.npz, or image + x_seg label pairs)');
  const files = readdirSync(dir).filter((f) => !f.startsWith('.') && statSync(join(dir, f)).isFile()).sort();
  const stemOf = (f: string) => f.replace(IMAGE_EXT, '');
  const byStem = new Map<string, string>();
  for (const f of files) if (IMAGE_EXT.test(f)) byStem.set(stemOf(f), f);
  const labelFiles = new Set<string>();
  const cases: EvalCase[] = [];
  for (const f of files) {
    if (!IMAGE_EXT.test(f)) continue;
    const stem = stemOf(f);
    if (LABEL_SUFFIXES.some((s) => stem.endsWith(s) && byStem.has(stem.slice(0, -s.length)))) continue; // x_seg next to x
    const bases = [stem, ...IMAGE_SUFFIXES.filter((s) => stem.endsWith(s)).map((s) => stem.slice(0, -s.length))];
    const label = bases.flatMap((b) => LABEL_SUFFIXES.map((s) => byStem.get(b + s))).find((x) => x !== undefined && x !== f);
    if (!label) continue;
    labelFiles.add(label);
    cases.push({ name: bases[bases.length - 1]!, image: join(dir, f), label: join(dir, label) });
  }
  for (const f of files) if (/\.npz$/i.test(f)) cases.push({ name: f.replace(/\.npz$/i, ''), image: join(dir, f) });
  // A DICOM series folder `x/` beside `x.seg.dcm`, its DICOM SEG reference.
  for (const f of readdirSync(dir).sort()) {
    if (!f.startsWith('.') && statSync(join(dir, f)).isDirectory() && files.includes(`${f}.seg.dcm`)) cases.push({ name: f, image: join(dir, f), label: join(dir, `${f}.seg.dcm`) });
  }
  if (cases.length === 0) {
    throw new MedsamError(`no evaluation cases in ${dir}`, 'put MedSAM2 .npz files (imgs + gts), image + label pairs (x.nii.gz + x_seg.nii.gz) or DICOM series folders with a SEG beside them (x/ + x.seg.dcm) there');
  }
  return cases.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function labelsPresent(ref: Volume['data']): number[] {
  const seen = new Set<number>();
  for (let i = 0; i < ref.length; i++) { const v = Number(ref[i]); if (v !== 0) seen.add(v); }
  return [...seen].sort((a, b) => a - b);
}

function finite(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

export function summarise(cases: CaseResult[]): EvaluationReport {
  const hd = cases.map((c) => c.hd95).filter((x): x is number => x !== null);
  return {
    cases,
    mean: { dsc: mean(cases.map((c) => c.dsc)), nsd: mean(cases.map((c) => c.nsd)), hd95: hd.length ? mean(hd) : null },
  };
}

/** report.csv: one row per case, then a `mean` row; empty hd95 for infinite. */
export function reportCsv(r: EvaluationReport): string {
  const q = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const num = (x: number | null) => (x === null || Number.isNaN(x) ? '' : String(+x.toFixed(6)));
  const rows = ['case,dsc,nsd,hd95,seconds'];
  for (const c of r.cases) rows.push([q(c.case), num(c.dsc), num(c.nsd), num(c.hd95), num(c.seconds)].join(','));
  rows.push(['mean', num(r.mean.dsc), num(r.mean.nsd), num(r.mean.hd95), ''].join(','));
  return rows.join('\n') + '\n';
}

/** A fixed-width table for the terminal. */
export function formatReportTable(r: EvaluationReport): string {
  const w = Math.max(4, ...r.cases.map((c) => c.case.length));
  const f = (x: number | null, d: number) => (x === null || Number.isNaN(x) ? '—' : x.toFixed(d));
  const line = (name: string, cells: string[]) => name.padEnd(w) + cells.map((c) => c.padStart(9)).join('');
  const out = [line('case', ['DSC', 'NSD', 'HD95 mm', 'seconds']), '-'.repeat(w + 36)];
  for (const c of r.cases) out.push(line(c.case, [f(c.dsc, 4), f(c.nsd, 4), f(c.hd95, 2), f(c.seconds, 1)]));
  out.push('-'.repeat(w + 36), line('mean', [f(r.mean.dsc, 4), f(r.mean.nsd, 4), f(r.mean.hd95, 2), '']));
  return out.join('\n');
}

/** Writes report.csv and report.json into `outDir` (created if missing), each atomically. */
export function writeReport(outDir: string, r: EvaluationReport): void {
  if (existsSync(outDir) && !statSync(outDir).isDirectory()) throw new MedsamError(`report folder ${outDir} is a file`, 'give a folder for --out');
  try {
    mkdirSync(outDir, { recursive: true });
  } catch (e) {
    throw new MedsamError(`cannot create report folder ${outDir}: ${errorMessage(e)}`, 'choose a writable --out folder');
  }
  const json = { cases: r.cases.map((c) => ({ case: c.case, dsc: c.dsc, nsd: c.nsd, hd95: c.hd95, seconds: c.seconds })), mean: r.mean };
  writeFileAtomic(join(outDir, 'report.json'), new TextEncoder().encode(JSON.stringify(json, null, 2) + '\n'));
  writeFileAtomic(join(outDir, 'report.csv'), new TextEncoder().encode(reportCsv(r)));
}

/** Loads a case's image and its binary reference (selected label), checking they share a grid. */
async function loadWithReference(c: EvalCase, label?: number): Promise<{ image: Volume; ref: Uint8Array; recist?: Uint8Array } | string> {
  const loaded = await loadCase(c.image);
  let refVol = loaded.label;
  if (c.label) {
    refVol = await readVolume(c.label, { grid: loaded.image }); // a DICOM SEG reference is placed on the image grid
    if (!sameGrid(refVol, loaded.image, 1e-3)) {
      throw new MedsamError(`${c.label} is not on the grid of ${c.image} (dims ${refVol.dims.join('x')} vs ${loaded.image.dims.join('x')}, or spacing/origin/direction differ)`,
        'resample the label onto the image grid');
    }
  }
  if (!refVol) return 'no reference mask (gts) in the file';
  const present = labelsPresent(refVol.data);
  if (present.length === 0) return 'the reference mask is empty';
  if (label !== undefined && !present.includes(label)) return `label ${label} is absent (labels present: ${present.join(', ')})`;
  const recist = loaded.recist ? selectLabel(loaded.recist.data, label !== undefined && labelsPresent(loaded.recist.data).includes(label) ? label : undefined) : undefined;
  return { image: loaded.image, ref: selectLabel(refVol.data, label), recist };
}

/**
 * Evaluates every case in `dir` and writes report.csv / report.json into `opts.outDir`.
 * Per-case seconds = wall time of segmentVolume (model load, encoding, propagation).
 */
export async function evaluateFolder(dir: string, opts: EvaluateOptions): Promise<EvaluationReport> {
  const cases = findCases(dir);
  const policy = opts.prompt ?? 'key-box';
  const results: CaseResult[] = [];
  for (const [i, c] of cases.entries()) {
    opts.onCaseStart?.(c, i, cases.length);
    const loaded = await loadWithReference(c, opts.label);
    if (typeof loaded === 'string') {
      opts.onSkip?.(c, loaded);
      continue;
    }
    const { image, ref, recist } = loaded;
    const prompt = promptFromReference(policy, { reference: ref, dims: image.dims, recist });
    const t0 = performance.now();
    const seg = await segmentVolume(image, [prompt], {
      model: opts.model,
      threads: opts.threads,
      precision: opts.precision,
      intensity: (v) => toUint8(v, { window: opts.window }),
      onProgress: opts.onProgress,
    });
    const seconds = (performance.now() - t0) / 1000;
    const pred = selectLabel(seg.mask.data);
    const m = segmentationMetrics(pred, ref, image.dims, image.spacing, { toleranceMm: opts.tolerance ?? DEFAULT_NSD_TOLERANCE_MM });
    if (opts.saveMasks) {
      mkdirSync(join(opts.outDir, 'masks'), { recursive: true });
      await writeMask(join(opts.outDir, 'masks', `${basename(c.name)}.nii.gz`), seg.mask, image);
    }
    const r: CaseResult = { case: c.name, dsc: m.dsc, nsd: m.nsd, hd95: finite(m.hd95), seconds };
    results.push(r);
    opts.onCase?.(r, i, cases.length);
  }
  if (results.length === 0) {
    throw new MedsamError(`none of the ${cases.length} case(s) in ${dir} has a usable reference mask`, 'check the label files / --label');
  }
  const report = summarise(results);
  writeReport(opts.outDir, report);
  return report;
}
