/**
 * DICOM Segmentation (SEG) objects → per-segment binary masks on an image grid. Frames are placed
 * by their PlanePositionSequence (projected onto the grid; must land on a slice), or else by the
 * SOP instance they were derived from. BINARY (1-bit, packed LSB first, frames back to back) and
 * FRACTIONAL (8-bit, thresholded at half the maximum) are read; segments may overlap (kept apart by
 * `mask(n)`, the label map gives the higher segment number priority). Masks are built on request from
 * the frames (a TotalSegmentator SEG holds 100+ segments; one full volume each would not fit).
 * Browser-safe: bytes in, arrays out.
 */
import { MedsamError, errorMessage } from '../../common/errors.js';
import { dicomParser } from '../dicomLib.js';
import { cross, dot, fromColumns, normalize, type Vec3 } from '../geometry.js';
import type { Volume } from '../volume.js';
import { readNatural, type NaturalDataset } from './dcmjs.js';
import type { DicomHeader, DicomInput } from './series.js';

export const SEG_SOP_CLASS = '1.2.840.10008.5.1.4.1.1.66.4';

export interface SegmentInfo {
  number: number;
  label: string;
  description?: string;
  algorithmType?: string;
  algorithmName?: string;
  category?: CodeItem;
  type?: CodeItem;
  /** DICOM scaled CIELab (0..65535), as stored. */
  cielab?: [number, number, number];
}

export interface CodeItem {
  CodeValue: string;
  CodingSchemeDesignator: string;
  CodeMeaning: string;
}

export interface SegOnGrid {
  segments: SegmentInfo[];
  /** One segment's 0/1 voxels on the grid (x-fastest, as Volume.data), built on request. */
  mask(segmentNumber: number): Uint8Array;
  /** All segments as one label map (the highest number wins where segments overlap) and how many voxels more than one segment claims. */
  labelMap(): { data: Uint8Array | Uint16Array; overlapVoxels: number };
  grid: Pick<Volume, 'dims' | 'spacing' | 'origin' | 'direction'>;
  seriesInstanceUid: string;
  referencedSeriesUid?: string;
}

/** Part-10 bytes whose file meta says Segmentation Storage (MediaStorageSOPClassUID). */
export function isSegmentation(bytes: Uint8Array): boolean {
  if (bytes.length < 132 || String.fromCharCode(...bytes.subarray(128, 132)) !== 'DICM') return false;
  try {
    return dicomParser.readPart10Header(bytes).string('x00020002')?.trim() === SEG_SOP_CLASS;
  } catch {
    return false;
  }
}

const asArray = <T>(v: unknown): T[] => (v === undefined || v === null ? [] : Array.isArray(v) ? (v as T[]) : [v as T]);
const first = (v: unknown): NaturalDataset | undefined => asArray<NaturalDataset>(v)[0];
const nums = (v: unknown): number[] | undefined => {
  const a = asArray<unknown>(v).map(Number);
  return a.length && a.every(Number.isFinite) ? a : undefined;
};

function parseSeg(input: DicomInput): NaturalDataset {
  let ds: NaturalDataset;
  try {
    ds = readNatural(input.bytes);
  } catch (e) {
    throw new MedsamError(`DICOM SEG ${input.name} is corrupt or truncated (${errorMessage(e)})`, 're-export the segmentation');
  }
  if (ds.SOPClassUID !== SEG_SOP_CLASS)
    throw new MedsamError(`${input.name} is not a DICOM SEG (SOP class ${String(ds.SOPClassUID)})`, 'pass a Segmentation Storage object');
  return ds;
}

function codeOf(v: unknown): CodeItem | undefined {
  const c = first(v);
  return c
    ? {
        CodeValue: String(c.CodeValue ?? ''),
        CodingSchemeDesignator: String(c.CodingSchemeDesignator ?? ''),
        CodeMeaning: String(c.CodeMeaning ?? ''),
      }
    : undefined;
}

/** Read a SEG onto `grid` (an image volume; a DICOM one also lets frames be matched by SOP instance). Without a grid the SEG spans its own frames. */
export function readSeg(input: DicomInput, grid?: Volume): SegOnGrid {
  const ds = parseSeg(input);
  const name = input.name;
  const rows = Number(ds.Rows);
  const cols = Number(ds.Columns);
  const nFrames = Number(ds.NumberOfFrames ?? 1);
  const type = String(ds.SegmentationType ?? 'BINARY');
  if (type !== 'BINARY' && type !== 'FRACTIONAL')
    throw new MedsamError(`DICOM SEG ${name} has SegmentationType ${type}`, 'only BINARY and FRACTIONAL segmentations are supported');
  const ts = String((ds._meta as NaturalDataset | undefined)?.TransferSyntaxUID ?? '');
  if (!['1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.1.99', '1.2.840.10008.1.2.2'].includes(ts)) {
    throw new MedsamError(
      `DICOM SEG ${name} uses transfer syntax ${ts}`,
      'only uncompressed SEG objects are read; decompress it with `dcmconv +te` or `gdcmconv --raw`',
    );
  }
  const segments: SegmentInfo[] = asArray<NaturalDataset>(ds.SegmentSequence).map((s) => ({
    number: Number(s.SegmentNumber),
    label: String(s.SegmentLabel ?? `segment ${String(s.SegmentNumber)}`),
    description: s.SegmentDescription !== undefined ? String(s.SegmentDescription) : undefined,
    algorithmType: s.SegmentAlgorithmType !== undefined ? String(s.SegmentAlgorithmType) : undefined,
    algorithmName: s.SegmentAlgorithmName !== undefined ? String(s.SegmentAlgorithmName) : undefined,
    category: codeOf(s.SegmentedPropertyCategoryCodeSequence),
    type: codeOf(s.SegmentedPropertyTypeCodeSequence),
    cielab: nums(s.RecommendedDisplayCIELabValue) as [number, number, number] | undefined,
  }));
  if (segments.length === 0) throw new MedsamError(`DICOM SEG ${name} has no SegmentSequence`, 'the object is incomplete; re-export it');

  const shared = first(ds.SharedFunctionalGroupsSequence);
  const perFrame = asArray<NaturalDataset>(ds.PerFrameFunctionalGroupsSequence);
  if (perFrame.length !== nFrames)
    throw new MedsamError(
      `DICOM SEG ${name} has ${nFrames} frames but ${perFrame.length} per-frame functional group items`,
      'the object is inconsistent; re-export it',
    );
  const group = (f: number, key: string): NaturalDataset | undefined => first(perFrame[f]?.[key]) ?? first(shared?.[key]);
  const frames = perFrame.map((_, f) => {
    const segNo = Number(group(f, 'SegmentIdentificationSequence')?.ReferencedSegmentNumber);
    const position = nums(group(f, 'PlanePositionSequence')?.ImagePositionPatient) as Vec3 | undefined;
    const orientation = nums(group(f, 'PlaneOrientationSequence')?.ImageOrientationPatient);
    const source = first(first(group(f, 'DerivationImageSequence')?.SourceImageSequence) ?? undefined);
    const sop = source?.ReferencedSOPInstanceUID !== undefined ? String(source.ReferencedSOPInstanceUID) : undefined;
    const frameNo = source?.ReferencedFrameNumber !== undefined ? Number(source.ReferencedFrameNumber) : undefined;
    if (!segments.some((s) => s.number === segNo))
      throw new MedsamError(
        `DICOM SEG ${name} frame ${f + 1} refers to segment ${segNo}, which is not in its SegmentSequence`,
        'the object is inconsistent; re-export it',
      );
    return { segNo, position, orientation, sop, frameNo };
  });

  let pixels = pixelBytes(ds, name);
  // Big endian OW pixel data holds 16-bit words: swap back to the little-endian byte stream the bits are packed in.
  if (ts === '1.2.840.10008.1.2.2' && ds._vrMap?.PixelData === 'OW') {
    pixels = pixels.slice();
    for (let i = 0; i + 1 < pixels.length; i += 2) {
      const t = pixels[i];
      pixels[i] = pixels[i + 1];
      pixels[i + 1] = t;
    }
  }
  const perFramePixels = rows * cols;
  const bitsAllocated = Number(ds.BitsAllocated ?? 1);
  const need = type === 'BINARY' ? Math.ceil((nFrames * perFramePixels) / 8) : nFrames * perFramePixels;
  if ((type === 'BINARY' && bitsAllocated !== 1) || (type === 'FRACTIONAL' && bitsAllocated !== 8)) {
    throw new MedsamError(`DICOM SEG ${name}: ${type} with BitsAllocated ${bitsAllocated}`, 'the object is inconsistent; re-export it');
  }
  if (pixels.length < need)
    throw new MedsamError(`DICOM SEG ${name} is truncated (${pixels.length} of ${need} pixel bytes)`, 're-export the segmentation');
  const threshold = type === 'FRACTIONAL' ? Number(ds.MaximumFractionalValue ?? 255) / 2 : 0.5;
  const isSet =
    type === 'BINARY'
      ? (f: number, p: number) => {
          const bit = f * perFramePixels + p;
          return (pixels[bit >> 3] >> (bit & 7)) & 1;
        }
      : (f: number, p: number) => (pixels[f * perFramePixels + p] > threshold ? 1 : 0);

  const g = grid ?? ownGrid(frames, shared, rows, cols, name);
  const [nx, ny, nz] = g.dims;
  if (nx !== cols || ny !== rows) {
    throw new MedsamError(
      `DICOM SEG ${name} frames are ${cols}x${rows} but the image slices are ${nx}x${ny}`,
      'pass the image series the segmentation was drawn on',
    );
  }
  const place = framePlacer(g, grid?.header as DicomHeader | undefined, name);
  const slices = frames.map((fr, f) => ({ segNo: fr.segNo, z: place(fr, f), f }));
  const n = nx * ny * nz;
  const mask = (segNo: number): Uint8Array => {
    if (!segments.some((s) => s.number === segNo))
      throw new MedsamError(
        `DICOM SEG ${name} has no segment ${segNo} (it has ${segments.map((s) => s.number).join(', ')})`,
        'pick one of those segment numbers',
      );
    const m = new Uint8Array(n);
    for (const { segNo: s, z, f } of slices) {
      if (s !== segNo) continue;
      const base = z * perFramePixels;
      for (let p = 0; p < perFramePixels; p++) if (isSet(f, p)) m[base + p] = 1;
    }
    return m;
  };
  const labelMap = (): { data: Uint8Array | Uint16Array; overlapVoxels: number } => {
    const max = Math.max(...segments.map((s) => s.number));
    const data = max <= 255 ? new Uint8Array(n) : new Uint16Array(n);
    let claimed: Uint8Array | undefined;
    let overlapVoxels = 0;
    for (const { segNo, z, f } of [...slices].sort((a, b) => a.segNo - b.segNo)) {
      const base = z * perFramePixels;
      for (let p = 0; p < perFramePixels; p++) {
        if (!isSet(f, p)) continue;
        const i = base + p;
        if (data[i] !== 0 && data[i] !== segNo) {
          claimed ??= new Uint8Array(n);
          if (!claimed[i]) {
            claimed[i] = 1;
            overlapVoxels++;
          }
        }
        data[i] = segNo;
      }
    }
    return { data, overlapVoxels };
  };
  const refSeries = first(ds.ReferencedSeriesSequence)?.SeriesInstanceUID;
  return {
    segments,
    mask,
    labelMap,
    grid: { dims: g.dims, spacing: g.spacing, origin: g.origin, direction: g.direction },
    seriesInstanceUid: String(ds.SeriesInstanceUID ?? ''),
    referencedSeriesUid: refSeries !== undefined ? String(refSeries) : undefined,
  };
}

/** A SEG as one label map Volume (segment numbers as labels; where segments overlap the highest number wins). */
export function readSegAsLabelMap(input: DicomInput, grid?: Volume): Volume {
  const seg = readSeg(input, grid);
  const { data, overlapVoxels } = seg.labelMap();
  return {
    data,
    dims: [...seg.grid.dims] as Volume['dims'],
    spacing: [...seg.grid.spacing] as Volume['spacing'],
    origin: [...seg.grid.origin] as Volume['origin'],
    direction: [...seg.grid.direction] as Volume['direction'],
    modality: 'SEG',
    source: { format: 'dicom', path: input.name },
    header: {
      kind: 'dicom-seg',
      segments: seg.segments,
      overlapVoxels,
      seriesInstanceUid: seg.seriesInstanceUid,
      referencedSeriesUid: seg.referencedSeriesUid,
    },
  };
}

function pixelBytes(ds: NaturalDataset, name: string): Uint8Array {
  const pd = ds.PixelData;
  const buf = Array.isArray(pd) ? pd[0] : pd;
  if (buf instanceof ArrayBuffer) return new Uint8Array(buf);
  if (ArrayBuffer.isView(buf)) return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  throw new MedsamError(`DICOM SEG ${name} has no pixel data`, 'the object is incomplete; re-export it');
}

type Frame = { segNo: number; position?: Vec3; orientation?: number[]; sop?: string; frameNo?: number };
type Grid = Pick<Volume, 'dims' | 'spacing' | 'origin' | 'direction'>;

/** Slice index of each frame on the grid: by position (must sit on a slice, in plane), else by source SOP instance. */
function framePlacer(g: Grid, header: DicomHeader | undefined, name: string): (fr: Frame, f: number) => number {
  const col = (c: number): Vec3 => [g.direction[c], g.direction[3 + c], g.direction[6 + c]];
  const [ex, ey, ez] = [col(0), col(1), col(2)];
  const sopIndex = new Map<string, number>();
  header?.sopInstanceUids?.forEach((u, z) => {
    if (header.kind === 'dicom') sopIndex.set(`${u}#${header.frames?.[z] ?? 0}`, z);
  });
  return (fr, f) => {
    if (fr.orientation) {
      const r = normalize(fr.orientation.slice(0, 3) as Vec3);
      const c = normalize(fr.orientation.slice(3, 6) as Vec3);
      if (dot(r, ex) < 0.9999 || dot(c, ey) < 0.9999) {
        throw new MedsamError(
          `DICOM SEG ${name} frame ${f + 1} is oriented [${fr.orientation.join(', ')}], not in the image's slice plane`,
          'pass the image series the segmentation was drawn on',
        );
      }
    }
    if (fr.position) {
      const d = [0, 1, 2].map((k) => fr.position![k] - g.origin[k]) as Vec3;
      const i = dot(d, ex) / g.spacing[0];
      const j = dot(d, ey) / g.spacing[1];
      const k = dot(d, ez) / g.spacing[2];
      const z = Math.round(k);
      if (Math.abs(i) > 0.01 || Math.abs(j) > 0.01 || Math.abs(k - z) > 0.05 || z < 0 || z >= g.dims[2]) {
        throw new MedsamError(
          `DICOM SEG ${name} frame ${f + 1} at [${fr.position.map((x) => +x.toFixed(3)).join(', ')}] is not on a slice of the image (voxel ${i.toFixed(2)}, ${j.toFixed(2)}, ${k.toFixed(2)})`,
          'pass the image series the segmentation was drawn on',
        );
      }
      return z;
    }
    const z = fr.sop !== undefined ? sopIndex.get(`${fr.sop}#${(fr.frameNo ?? 1) - 1}`) : undefined;
    if (z === undefined)
      throw new MedsamError(
        `DICOM SEG ${name} frame ${f + 1} has no position and its source image is not in the series given`,
        'pass the image series the segmentation was drawn on',
      );
    return z;
  };
}

/** With no image given: a grid spanning the SEG's own frames (slice gap from SpacingBetweenSlices, else the smallest gap). */
function ownGrid(frames: Frame[], shared: NaturalDataset | undefined, rows: number, cols: number, name: string): Grid {
  const measures = first(shared?.PixelMeasuresSequence);
  const orientation = frames.find((f) => f.orientation)?.orientation;
  const ps = nums(measures?.PixelSpacing);
  if (!orientation || !ps || frames.some((f) => !f.position)) {
    throw new MedsamError(
      `DICOM SEG ${name} does not carry its own geometry (plane positions, orientation, pixel spacing)`,
      'read it together with its image series (e.g. as --mask for that series)',
    );
  }
  const row = normalize(orientation.slice(0, 3) as Vec3);
  const colv = normalize(orientation.slice(3, 6) as Vec3);
  const normal = normalize(cross(row, colv));
  const ds = [...new Set(frames.map((f) => +dot(f.position!, normal).toFixed(4)))].sort((a, b) => a - b);
  const gaps = ds.slice(1).map((d, i) => d - ds[i]);
  const dz =
    Number(nums(measures?.SpacingBetweenSlices)?.[0]) ||
    (gaps.length ? Math.min(...gaps) : Number(nums(measures?.SliceThickness)?.[0]) || 1);
  const lowest = frames.reduce((a, b) => (dot(b.position!, normal) < dot(a.position!, normal) ? b : a)).position!;
  const nz = Math.round((ds[ds.length - 1] - ds[0]) / dz) + 1;
  if (!(nz > 0) || nz > 10000 || cols * rows * nz > 2 ** 31) {
    throw new MedsamError(
      `DICOM SEG ${name} frames span ${nz} slices of ${dz} mm`,
      'read it together with its image series (e.g. as --mask for that series)',
    );
  }
  return {
    dims: [cols, rows, nz],
    spacing: [ps[1], ps[0], dz],
    origin: [...lowest] as Vec3,
    direction: fromColumns(row, colv, normal),
  };
}
