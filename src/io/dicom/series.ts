/**
 * DICOM image series → Volume, from bytes only: the browser-safe core (no `node:` imports). The Node
 * layer (`../dicomSeries.ts`) walks folders and hands the file bytes here; a web app or the DICOMweb
 * client passes what it downloaded. Slices are sorted along the normal (ITK/GDCM order), checked for
 * one orientation, size and even spacing, decoded through `../dicomPixels.ts`, and rescaled to HU.
 */
import { MedsamError } from '../../common/errors.js';
import { cross, dot, fromColumns, normalize, type Vec3 } from '../geometry.js';
import { dsNumbers, firstItem, isImage, NON_IMAGE_MODALITIES, parseDicomBytes, TAG, type DataSet } from '../dicomLib.js';
import { decodeFrame, pixelFormat, type ColourMode, type PixelFormat } from '../dicomPixels.js';
import type { NumericArray } from '../ndarray.js';
import type { Volume } from '../volume.js';

/** One input file: a name for messages (path, URL or instance UID) and its Part-10 bytes. */
export interface DicomInput {
  name: string;
  bytes: Uint8Array;
}

export interface DicomSeriesOptions {
  /** Pick one series when the input holds several: SeriesInstanceUID, a unique suffix of it, or its index (0, 1, …) in the listing. */
  series?: string;
  /** @deprecated alias of `series`. */
  seriesUid?: string;
  /** Colour images: 'luminance' (default) reads Y of RGB/YBR as the scalar image; 'refuse' errors. */
  colour?: ColourMode;
  /** Receives non-fatal remarks (gantry tilt, tiny spacing jitter); default prints to stderr. */
  onWarning?: (message: string) => void;
}

/** Patient/study attributes a derived object (SEG, RTSTRUCT) copies from its source (PS3.3 C.7.1.1, C.7.2.1). */
export interface DicomIdentity {
  PatientName?: string;
  PatientID?: string;
  PatientBirthDate?: string;
  PatientSex?: string;
  StudyInstanceUID?: string;
  StudyDate?: string;
  StudyTime?: string;
  StudyID?: string;
  AccessionNumber?: string;
  ReferringPhysicianName?: string;
  FrameOfReferenceUID?: string;
  PositionReferenceIndicator?: string;
  Modality?: string;
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
  sopClassUids: string[];
  /** ImagePositionPatient of each slice, in slice order (LPS mm). */
  positions: Vec3[];
  /** Frame index inside its file (0 for classic single-frame slices). */
  frames: number[];
  identity: DicomIdentity;
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

/** Last path or URL component, for messages (node:path is not available in browsers). */
function basename(p: string): string {
  return p.split(/[\\/]/).pop() ?? p;
}

const SPACING_TOLERANCE = 0.01; // relative jitter between slice gaps we accept as one spacing

/**
 * Read one series from Part-10 files given as bytes. Non-DICOM inputs and non-image objects
 * (SEG, RTSTRUCT, SR) are skipped; `where` names the collection in messages (folder, URL).
 */
export async function readDicomSeries(inputs: DicomInput[], opts: DicomSeriesOptions = {}, where = 'the input'): Promise<Volume> {
  if (inputs.length === 0) throw new MedsamError(`DICOM input ${where} is empty`, 'pass the folder that holds the .dcm slices');
  const images: { file: string; ds: DataSet }[] = [];
  let nonDicom = 0;
  let nonImage = 0;
  for (const { name, bytes } of inputs) {
    const ds = parseDicomBytes(bytes, name, true);
    if (!ds) {
      nonDicom++;
      continue;
    }
    if (!isImage(ds)) {
      assertNotTruncated(ds, name);
      nonImage++;
      continue;
    }
    images.push({ file: name, ds });
  }
  if (images.length === 0) {
    throw new MedsamError(
      `DICOM input ${where} has no DICOM image slices (${inputs.length} files: ${nonDicom} not DICOM, ${nonImage} non-image objects such as SEG/RTSTRUCT)`,
      'pass the folder of the image series',
    );
  }
  const series = new Map<string, { file: string; ds: DataSet }[]>();
  for (const im of images) {
    const uid = im.ds.string(TAG.seriesUid) ?? '(no SeriesInstanceUID)';
    series.set(uid, [...(series.get(uid) ?? []), im]);
  }
  const uid = chooseSeries(series, where, opts.series ?? opts.seriesUid);
  const slices = series.get(uid)!.flatMap(({ file, ds }) => slicesOf(ds, file));
  return assemble(slices, uid, where, opts);
}

/** One Part-10 object: an enhanced multi-frame image (one volume) or one classic slice (nz = 1). */
export async function readDicomObject(input: DicomInput, opts: DicomSeriesOptions = {}): Promise<Volume> {
  const ds = parseDicomBytes(input.bytes, input.name, false)!;
  assertNotTruncated(ds, input.name);
  if (!isImage(ds))
    throw new MedsamError(
      `DICOM file ${input.name} is a ${ds.string(TAG.modality) ?? 'non-image'} object, not an image`,
      'pass the image series it refers to',
    );
  return assemble(slicesOf(ds, input.name), ds.string(TAG.seriesUid) ?? '', input.name, opts);
}

/** Image attributes without pixel data: dicom-parser stops quietly at the cut of a truncated file. */
function assertNotTruncated(ds: DataSet, file: string): void {
  const modality = (ds.string(TAG.modality) ?? '').toUpperCase();
  if (!ds.elements[TAG.pixelData] && ds.uint16(TAG.rows) && ds.uint16(TAG.columns) && !NON_IMAGE_MODALITIES.has(modality)) {
    throw new MedsamError(
      `DICOM file ${file} is truncated (image attributes but no pixel data)`,
      'remove it from the folder or re-export the series',
    );
  }
}

function chooseSeries(series: Map<string, { file: string; ds: DataSet }[]>, where: string, wanted?: string): string {
  const uids = [...series.keys()];
  const describe = (): string =>
    [...series]
      .map(
        ([uid, v], i) =>
          `[${i}] ${uid} (${v[0].ds.string(TAG.modality) ?? '?'}, ${v.length} files${v[0].ds.string(TAG.seriesDescription) ? ', "' + v[0].ds.string(TAG.seriesDescription) + '"' : ''})`,
      )
      .join('; ');
  if (wanted !== undefined && wanted !== '') {
    if (/^\d+$/.test(wanted) && Number(wanted) < uids.length && !uids.includes(wanted)) return uids[Number(wanted)];
    const hits = uids.filter((u) => u === wanted || u.endsWith(wanted));
    if (hits.length !== 1)
      throw new MedsamError(
        `series ${wanted} ${hits.length ? 'is ambiguous' : 'is not'} in DICOM input ${where}; it holds ${describe()}`,
        'pass one of those SeriesInstanceUIDs or indices with --series',
      );
    return hits[0];
  }
  if (series.size > 1)
    throw new MedsamError(
      `DICOM input ${where} mixes ${series.size} series: ${describe()}`,
      'choose one with --series <SeriesInstanceUID or index>',
    );
  return uids[0];
}

function identityOf(ds: DataSet): DicomIdentity {
  const s = (tag: string): string | undefined => ds.string(tag)?.trim() || undefined;
  return {
    PatientName: s('x00100010'),
    PatientID: s('x00100020'),
    PatientBirthDate: s('x00100030'),
    PatientSex: s('x00100040'),
    StudyInstanceUID: s(TAG.studyUid),
    StudyDate: s('x00080020'),
    StudyTime: s('x00080030'),
    StudyID: s('x00200010'),
    AccessionNumber: s('x00080050'),
    ReferringPhysicianName: s('x00080090'),
    FrameOfReferenceUID: s(TAG.frameOfReference),
    PositionReferenceIndicator: s('x00201040'),
    Modality: s(TAG.modality),
  };
}

/** Geometry and scaling of each plane, from classic tags or enhanced functional groups. */
function slicesOf(ds: DataSet, file: string): DicomSlice[] {
  const fmt = pixelFormat(ds, file);
  const numFrames = Math.max(1, Number(ds.string(TAG.numberOfFrames) ?? 1) || 1);
  const perFrame = ds.elements[TAG.perFrameGroups]?.items;
  const shared = firstItem(ds, TAG.sharedGroups);
  if (numFrames > 1 && !perFrame) {
    throw new MedsamError(
      `DICOM file ${file} has ${numFrames} frames but no per-frame positions (cine/ultrasound style)`,
      'only slice series and enhanced multi-frame CT/MR are supported',
    );
  }
  const out: DicomSlice[] = [];
  for (let f = 0; f < numFrames; f++) {
    const item = perFrame?.[f]?.dataSet;
    // A functional group may sit in the per-frame item or in the shared one.
    const group = (seq: string): DataSet | undefined => firstItem(item, seq) ?? firstItem(shared, seq);
    const position = dsNumbers(group(TAG.planePositionSeq), TAG.imagePosition, 3) ?? dsNumbers(ds, TAG.imagePosition, 3);
    const orientation = dsNumbers(group(TAG.planeOrientationSeq), TAG.imageOrientation, 6) ?? dsNumbers(ds, TAG.imageOrientation, 6);
    const spacing =
      dsNumbers(group(TAG.pixelMeasuresSeq), TAG.pixelSpacing, 2) ??
      dsNumbers(ds, TAG.pixelSpacing, 2) ??
      dsNumbers(ds, TAG.imagerPixelSpacing, 2);
    const transform = group(TAG.pixelValueTransformSeq);
    const slope = dsNumbers(transform, TAG.rescaleSlope, 1)?.[0] ?? dsNumbers(ds, TAG.rescaleSlope, 1)?.[0] ?? 1;
    const intercept = dsNumbers(transform, TAG.rescaleIntercept, 1)?.[0] ?? dsNumbers(ds, TAG.rescaleIntercept, 1)?.[0] ?? 0;
    if (!position || !orientation) {
      throw new MedsamError(
        `DICOM file ${file}${numFrames > 1 ? ` frame ${f}` : ''} has no ImagePositionPatient/ImageOrientationPatient`,
        'only images with patient geometry (CT, MR, PET, …) can be stacked into a volume',
      );
    }
    out.push({
      file,
      ds,
      frame: f,
      numFrames,
      position: position as Vec3,
      orientation,
      pixelSpacing: (spacing ?? [1, 1]) as [number, number],
      slope: slope || 1,
      intercept,
      fmt,
    });
  }
  return out;
}

async function assemble(slices: DicomSlice[], seriesUid: string, where: string, opts: DicomSeriesOptions): Promise<Volume> {
  const warn = opts.onWarning ?? ((m: string) => console.warn(`warning: ${m}`));
  const first = slices[0];
  const row = normalize(first.orientation.slice(0, 3) as Vec3);
  const col = normalize(first.orientation.slice(3, 6) as Vec3);
  const normal = normalize(cross(row, col));
  for (const s of slices) {
    const r2 = normalize(s.orientation.slice(0, 3) as Vec3);
    const c2 = normalize(s.orientation.slice(3, 6) as Vec3);
    if (dot(r2, row) < 0.9999 || dot(c2, col) < 0.9999) {
      throw new MedsamError(
        `DICOM series in ${where} mixes slice orientations (${basename(first.file)} vs ${basename(s.file)})`,
        'it is a localizer or multi-plane series; pick a single-plane series',
      );
    }
    if (s.fmt.rows !== first.fmt.rows || s.fmt.columns !== first.fmt.columns) {
      throw new MedsamError(
        `DICOM series in ${where} mixes image sizes (${first.fmt.columns}x${first.fmt.rows} in ${basename(first.file)}, ${s.fmt.columns}x${s.fmt.rows} in ${basename(s.file)})`,
        'pick a series whose slices share one size',
      );
    }
  }
  // ITK/GDCM order: ascending position along the slice normal.
  const keyed = slices.map((s) => ({ s, d: dot(s.position, normal) })).sort((a, b) => a.d - b.d);
  for (let i = 1; i < keyed.length; i++) {
    if (Math.abs(keyed[i].d - keyed[i - 1].d) < 1e-4) {
      throw new MedsamError(
        `DICOM series in ${where} has two slices at the same position (${label(keyed[i - 1].s)} and ${label(keyed[i].s)})`,
        'the series holds several echoes/phases/duplicates; export one 3D stack',
      );
    }
  }
  let dz = 1;
  if (keyed.length > 1) {
    const gaps = keyed.slice(1).map((k, i) => k.d - keyed[i].d);
    dz = (keyed[keyed.length - 1].d - keyed[0].d) / (keyed.length - 1);
    const worst = gaps.reduce((w, g, i) => (Math.abs(g - dz) > Math.abs(gaps[w] - dz) ? i : w), 0);
    if (Math.abs(gaps[worst] - dz) > SPACING_TOLERANCE * dz + 1e-3) {
      throw new MedsamError(
        `DICOM series in ${where} is unevenly spaced: the gap between ${label(keyed[worst].s)} and ${label(keyed[worst + 1].s)} is ${gaps[worst].toFixed(3)} mm, the mean is ${dz.toFixed(3)} mm`,
        'slices are missing or the series mixes stacks; re-export the complete series',
      );
    }
    const along = normalize([0, 1, 2].map((k) => keyed[keyed.length - 1].s.position[k] - keyed[0].s.position[k]) as Vec3);
    if (dot(along, normal) < 0.9999)
      warn(
        `DICOM series in ${where} is tilted (gantry tilt ${((Math.acos(Math.min(1, dot(along, normal))) * 180) / Math.PI).toFixed(2)}°); the volume is stacked along the slice normal without shear correction`,
      );
  } else {
    const st = dsNumbers(first.ds, TAG.spacingBetweenSlices, 1)?.[0] ?? dsNumbers(first.ds, TAG.sliceThickness, 1)?.[0];
    if (st && st > 0) dz = st;
  }

  const nx = first.fmt.columns;
  const ny = first.fmt.rows;
  const nz = keyed.length;
  const planes: NumericArray[] = [];
  for (const { s } of keyed) planes.push(await decodeFrame(s.ds, s.frame, s.numFrames, s.fmt, s.file, opts.colour));
  const data = rescale(
    planes,
    keyed.map((k) => k.s),
    nx * ny,
  );
  const header: DicomHeader = {
    kind: 'dicom',
    seriesInstanceUid: seriesUid,
    studyInstanceUid: first.ds.string(TAG.studyUid),
    frameOfReferenceUid: first.ds.string(TAG.frameOfReference),
    seriesDescription: first.ds.string(TAG.seriesDescription),
    files: keyed.map((k) => k.s.file),
    sopInstanceUids: keyed.map((k) => k.s.ds.string(TAG.sopInstance) ?? ''),
    sopClassUids: keyed.map((k) => k.s.ds.string(TAG.sopClass) ?? ''),
    positions: keyed.map((k) => [...k.s.position] as Vec3),
    frames: keyed.map((k) => k.s.frame),
    identity: identityOf(first.ds),
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
  const out: NumericArray = !integral
    ? new Float32Array(n)
    : min >= -32768 && max <= 32767
      ? new Int16Array(n)
      : min >= 0 && max <= 65535
        ? new Uint16Array(n)
        : min >= -2147483648 && max <= 2147483647
          ? new Int32Array(n)
          : new Float32Array(n);
  planes.forEach((p, z) => {
    const { slope, intercept } = slices[z];
    const base = z * perPlane;
    if (slope === 1 && intercept === 0 && p.constructor === out.constructor) (out as Int16Array).set(p as Int16Array, base);
    else for (let i = 0; i < perPlane; i++) out[base + i] = Number(p[i]) * slope + intercept;
  });
  return out;
}
