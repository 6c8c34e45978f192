import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { MedsamError } from '../common/errors.js';
import { readFileBytes } from './fileBytes.js';
import { cross, dot, fromColumns, normalize, type Vec3 } from './geometry.js';
import { dicomParser, dsNumbers, firstItem, TAG, type DataSet } from './dicomLib.js';
import { decodeFrame, dicomErrorMessage, pixelFormat, type PixelFormat } from './dicomPixels.js';
import type { NumericArray } from './ndarray.js';
import type { Volume } from './volume.js';

export interface DicomReadOptions {
  /** Pick one series when a folder holds several (SeriesInstanceUID, or a unique suffix of it). */
  seriesUid?: string;
  /** Receives non-fatal remarks (gantry tilt, tiny spacing jitter); default prints to stderr. */
  onWarning?: (message: string) => void;
}

export interface DicomHeader {
  kind: 'dicom';
  seriesInstanceUid: string;
  studyInstanceUid?: string;
  frameOfReferenceUid?: string;
  seriesDescription?: string;
  /** Files in slice order (one entry per slice; a multi-frame file repeats). */
  files: string[];
  sopInstanceUids: string[];
}

/** One 2D image plane: a single-frame file or one frame of an enhanced multi-frame file. */
interface DicomSlice {
  file: string;
  ds: DataSet;
  frame: number;
  numFrames: number;
  position: Vec3;
  orientation: number[];
  /** (row spacing, column spacing) = (y, x) mm. */
  pixelSpacing: [number, number];
  slope: number;
  intercept: number;
  fmt: PixelFormat;
}

/** SOP classes and modalities that are not image slices of a series (SEG, RTSTRUCT, SR, …). */
const NON_IMAGE_MODALITIES = new Set(['SEG', 'RTSTRUCT', 'RTPLAN', 'RTDOSE', 'SR', 'PR', 'KO', 'REG', 'DOC']);

const SPACING_TOLERANCE = 0.01; // relative jitter between slice gaps we accept as one spacing

/** Read a folder (searched recursively) holding one DICOM series, or a single DICOM file. */
export async function readDicom(path: string, opts: DicomReadOptions = {}): Promise<Volume> {
  if (!existsSync(path)) throw new MedsamError(`DICOM input ${path} does not exist`, 'check the path');
  return statSync(path).isDirectory() ? readDicomFolder(path, opts) : readDicomFile(path, opts);
}

export async function readDicomFolder(dir: string, opts: DicomReadOptions = {}): Promise<Volume> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new MedsamError(`DICOM folder ${dir} does not exist`, 'check the path');
  const files = listFiles(dir);
  if (files.length === 0) throw new MedsamError(`DICOM folder ${dir} is empty`, 'pass the folder that holds the .dcm slices');
  const images: { file: string; ds: DataSet }[] = [];
  let nonDicom = 0;
  let nonImage = 0;
  for (const file of files) {
    const ds = parseFile(file, true);
    if (!ds) { nonDicom++; continue; }
    if (!isImage(ds)) { assertNotTruncated(ds, file); nonImage++; continue; }
    images.push({ file, ds });
  }
  if (images.length === 0) {
    throw new MedsamError(`DICOM folder ${dir} has no DICOM image slices (${files.length} files: ${nonDicom} not DICOM, ${nonImage} non-image objects such as SEG/RTSTRUCT)`, 'pass the folder of the image series');
  }
  const series = new Map<string, { file: string; ds: DataSet }[]>();
  for (const im of images) {
    const uid = im.ds.string(TAG.seriesUid) ?? '(no SeriesInstanceUID)';
    series.set(uid, [...(series.get(uid) ?? []), im]);
  }
  const uid = chooseSeries(series, dir, opts.seriesUid);
  const chosen = series.get(uid)!;
  const slices = chosen.flatMap(({ file, ds }) => slicesOf(ds, file));
  return assemble(slices, uid, dir, opts);
}

/** A single file: an enhanced multi-frame object (one volume) or one classic slice (nz = 1). */
export async function readDicomFile(path: string, opts: DicomReadOptions = {}): Promise<Volume> {
  const ds = parseFile(path, false)!;
  assertNotTruncated(ds, path);
  if (!isImage(ds)) throw new MedsamError(`DICOM file ${path} is a ${ds.string(TAG.modality) ?? 'non-image'} object, not an image`, 'pass the image series it refers to');
  return assemble(slicesOf(ds, path), ds.string(TAG.seriesUid) ?? '', path, opts);
}

function listFiles(dir: string, depth = 0): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.') || name === 'DICOMDIR') continue;
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) { if (depth < 6) out.push(...listFiles(p, depth + 1)); } else if (st.size > 0) out.push(p);
  }
  return out;
}

/** Parse a Part-10 file; files without the DICM preamble are skipped in folders (undefined). */
function parseFile(file: string, lenient: boolean): DataSet | undefined {
  const bytes = readFileBytes(file, 'DICOM file');
  const magic = bytes.length >= 132 && String.fromCharCode(...bytes.subarray(128, 132)) === 'DICM';
  if (!magic) {
    if (lenient) return undefined;
    throw new MedsamError(`${file} is not a DICOM Part-10 file (no DICM marker)`, 'pass a .dcm file or a folder of them');
  }
  try {
    return dicomParser.parseDicom(bytes);
  } catch (e) {
    throw new MedsamError(`DICOM file ${file} is corrupt or truncated (${dicomErrorMessage(e)})`, 'remove it from the folder or re-export the series');
  }
}

function isImage(ds: DataSet): boolean {
  const modality = (ds.string(TAG.modality) ?? '').toUpperCase();
  return !!ds.elements[TAG.pixelData] && !NON_IMAGE_MODALITIES.has(modality);
}

/** Image attributes without pixel data: dicom-parser stops quietly at the cut of a truncated file. */
function assertNotTruncated(ds: DataSet, file: string): void {
  const modality = (ds.string(TAG.modality) ?? '').toUpperCase();
  if (!ds.elements[TAG.pixelData] && ds.uint16(TAG.rows) && ds.uint16(TAG.columns) && !NON_IMAGE_MODALITIES.has(modality)) {
    throw new MedsamError(`DICOM file ${file} is truncated (image attributes but no pixel data)`, 'remove it from the folder or re-export the series');
  }
}

function chooseSeries(series: Map<string, { file: string; ds: DataSet }[]>, dir: string, wanted?: string): string {
  const describe = (): string => [...series].map(([uid, v]) => `${uid} (${v[0].ds.string(TAG.modality) ?? '?'}, ${v.length} files${v[0].ds.string(TAG.seriesDescription) ? ', "' + v[0].ds.string(TAG.seriesDescription) + '"' : ''})`).join('; ');
  if (wanted) {
    const hits = [...series.keys()].filter((u) => u === wanted || u.endsWith(wanted));
    if (hits.length !== 1) throw new MedsamError(`series ${wanted} ${hits.length ? 'is ambiguous' : 'is not'} in DICOM folder ${dir}; it holds ${describe()}`, 'pass one of those SeriesInstanceUIDs');
    return hits[0];
  }
  if (series.size > 1) throw new MedsamError(`DICOM folder ${dir} mixes ${series.size} series: ${describe()}`, 'choose one with the seriesUid option (CLI --series)');
  return [...series.keys()][0];
}

/** Geometry and scaling of each plane, from classic tags or enhanced functional groups. */
function slicesOf(ds: DataSet, file: string): DicomSlice[] {
  const fmt = pixelFormat(ds, file);
  const numFrames = Math.max(1, Number(ds.string(TAG.numberOfFrames) ?? 1) || 1);
  const perFrame = ds.elements[TAG.perFrameGroups]?.items;
  const shared = firstItem(ds, TAG.sharedGroups);
  if (numFrames > 1 && !perFrame) {
    throw new MedsamError(`DICOM file ${file} has ${numFrames} frames but no per-frame positions (cine/ultrasound style)`, 'only slice series and enhanced multi-frame CT/MR are supported');
  }
  const out: DicomSlice[] = [];
  for (let f = 0; f < numFrames; f++) {
    const item = perFrame?.[f]?.dataSet;
    // A functional group may sit in the per-frame item or in the shared one.
    const group = (seq: string): DataSet | undefined => firstItem(item, seq) ?? firstItem(shared, seq);
    const position = dsNumbers(group(TAG.planePositionSeq), TAG.imagePosition, 3) ?? dsNumbers(ds, TAG.imagePosition, 3);
    const orientation = dsNumbers(group(TAG.planeOrientationSeq), TAG.imageOrientation, 6) ?? dsNumbers(ds, TAG.imageOrientation, 6);
    const spacing = dsNumbers(group(TAG.pixelMeasuresSeq), TAG.pixelSpacing, 2) ?? dsNumbers(ds, TAG.pixelSpacing, 2) ?? dsNumbers(ds, TAG.imagerPixelSpacing, 2);
    const transform = group(TAG.pixelValueTransformSeq);
    const slope = dsNumbers(transform, TAG.rescaleSlope, 1)?.[0] ?? dsNumbers(ds, TAG.rescaleSlope, 1)?.[0] ?? 1;
    const intercept = dsNumbers(transform, TAG.rescaleIntercept, 1)?.[0] ?? dsNumbers(ds, TAG.rescaleIntercept, 1)?.[0] ?? 0;
    if (!position || !orientation) {
      throw new MedsamError(`DICOM file ${file}${numFrames > 1 ? ` frame ${f}` : ''} has no ImagePositionPatient/ImageOrientationPatient`, 'only images with patient geometry (CT, MR, PET, …) can be stacked into a volume');
    }
    out.push({ file, ds, frame: f, numFrames, position: position as Vec3, orientation, pixelSpacing: (spacing ?? [1, 1]) as [number, number], slope: slope || 1, intercept, fmt });
  }
  return out;
}

async function assemble(slices: DicomSlice[], seriesUid: string, where: string, opts: DicomReadOptions): Promise<Volume> {
  const warn = opts.onWarning ?? ((m: string) => console.warn(`warning: ${m}`));
  const first = slices[0];
  const row = normalize(first.orientation.slice(0, 3) as Vec3);
  const col = normalize(first.orientation.slice(3, 6) as Vec3);
  const normal = normalize(cross(row, col));
  for (const s of slices) {
    const r2 = normalize(s.orientation.slice(0, 3) as Vec3);
    const c2 = normalize(s.orientation.slice(3, 6) as Vec3);
    if (dot(r2, row) < 0.9999 || dot(c2, col) < 0.9999) {
      throw new MedsamError(`DICOM series in ${where} mixes slice orientations (${basename(first.file)} vs ${basename(s.file)})`, 'it is a localizer or multi-plane series; pick a single-plane series');
    }
    if (s.fmt.rows !== first.fmt.rows || s.fmt.columns !== first.fmt.columns) {
      throw new MedsamError(`DICOM series in ${where} mixes image sizes (${first.fmt.columns}x${first.fmt.rows} in ${basename(first.file)}, ${s.fmt.columns}x${s.fmt.rows} in ${basename(s.file)})`, 'pick a series whose slices share one size');
    }
  }
  // ITK/GDCM order: ascending position along the slice normal.
  const keyed = slices.map((s) => ({ s, d: dot(s.position, normal) })).sort((a, b) => a.d - b.d);
  for (let i = 1; i < keyed.length; i++) {
    if (Math.abs(keyed[i].d - keyed[i - 1].d) < 1e-4) {
      throw new MedsamError(`DICOM series in ${where} has two slices at the same position (${label(keyed[i - 1].s)} and ${label(keyed[i].s)})`, 'the series holds several echoes/phases/duplicates; export one 3D stack');
    }
  }
  let dz = 1;
  if (keyed.length > 1) {
    const gaps = keyed.slice(1).map((k, i) => k.d - keyed[i].d);
    dz = (keyed[keyed.length - 1].d - keyed[0].d) / (keyed.length - 1);
    const worst = gaps.reduce((w, g, i) => (Math.abs(g - dz) > Math.abs(gaps[w] - dz) ? i : w), 0);
    if (Math.abs(gaps[worst] - dz) > SPACING_TOLERANCE * dz + 1e-3) {
      throw new MedsamError(`DICOM series in ${where} is unevenly spaced: the gap between ${label(keyed[worst].s)} and ${label(keyed[worst + 1].s)} is ${gaps[worst].toFixed(3)} mm, the mean is ${dz.toFixed(3)} mm`, 'slices are missing or the series mixes stacks; re-export the complete series');
    }
    const along = normalize([0, 1, 2].map((k) => keyed[keyed.length - 1].s.position[k] - keyed[0].s.position[k]) as Vec3);
    if (dot(along, normal) < 0.9999) warn(`DICOM series in ${where} is tilted (gantry tilt ${((Math.acos(Math.min(1, dot(along, normal))) * 180) / Math.PI).toFixed(2)}°); the volume is stacked along the slice normal without shear correction`);
  } else {
    const st = dsNumbers(first.ds, TAG.spacingBetweenSlices, 1)?.[0] ?? dsNumbers(first.ds, TAG.sliceThickness, 1)?.[0];
    if (st && st > 0) dz = st;
  }

  const nx = first.fmt.columns;
  const ny = first.fmt.rows;
  const nz = keyed.length;
  const planes: NumericArray[] = [];
  for (const { s } of keyed) planes.push(await decodeFrame(s.ds, s.frame, s.numFrames, s.fmt, s.file));
  const data = rescale(planes, keyed.map((k) => k.s), nx * ny);
  const header: DicomHeader = {
    kind: 'dicom',
    seriesInstanceUid: seriesUid,
    studyInstanceUid: first.ds.string(TAG.studyUid),
    frameOfReferenceUid: first.ds.string(TAG.frameOfReference),
    seriesDescription: first.ds.string(TAG.seriesDescription),
    files: keyed.map((k) => k.s.file),
    sopInstanceUids: keyed.map((k) => k.s.ds.string(TAG.sopInstance) ?? ''),
  };
  return {
    data,
    dims: [nx, ny, nz],
    spacing: [first.pixelSpacing[1], first.pixelSpacing[0], dz],
    origin: [...keyed[0].s.position] as Vec3,
    direction: fromColumns(row, col, normal),
    modality: first.ds.string(TAG.modality)?.trim() || undefined,
    source: { format: 'dicom', path: where },
    header,
  };
}

function label(s: DicomSlice): string {
  return s.numFrames > 1 ? `frame ${s.frame}` : basename(s.file);
}

/**
 * Stored values → modality values (HU for CT). Integer results keep an integer type (Int16 when it
 * fits, as ITK does for CT); a fractional slope or intercept gives Float32.
 */
function rescale(planes: NumericArray[], slices: DicomSlice[], perPlane: number): NumericArray {
  const integral = slices.every((s) => Number.isInteger(s.slope) && Number.isInteger(s.intercept));
  let min = Infinity;
  let max = -Infinity;
  planes.forEach((p, z) => {
    const { slope, intercept } = slices[z];
    for (let i = 0; i < perPlane; i++) {
      const v = Number(p[i]) * slope + intercept;
      if (v < min) min = v;
      if (v > max) max = v;
    }
  });
  const n = perPlane * planes.length;
  const out: NumericArray = !integral ? new Float32Array(n)
    : min >= -32768 && max <= 32767 ? new Int16Array(n)
    : min >= 0 && max <= 65535 ? new Uint16Array(n)
    : min >= -2147483648 && max <= 2147483647 ? new Int32Array(n) : new Float32Array(n);
  planes.forEach((p, z) => {
    const { slope, intercept } = slices[z];
    const base = z * perPlane;
    if (slope === 1 && intercept === 0 && p.constructor === out.constructor) (out as Int16Array).set(p as Int16Array, base);
    else for (let i = 0; i < perPlane; i++) out[base + i] = Number(p[i]) * slope + intercept;
  });
  return out;
}
