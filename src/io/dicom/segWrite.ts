/**
 * Label map on a DICOM series' grid → one DICOM Segmentation (SEG) object, BINARY, one segment per
 * label, only the frames that hold the segment (PS3.3 A.51). The IOD is assembled here as a
 * naturalized dataset and encoded by dcmjs; dcmjs's own `derivations.Segmentation` copies the whole
 * source header and assumes Cornerstone image stacks, so we write the required modules explicitly.
 * Checked by dciodvfy (dicom3tools) in test/dicom/seg.test.ts. Browser-safe.
 */
import { copiedPatientStudy } from './patientStudy.js';
import { MedsamError } from '../../common/errors.js';
import type { Volume } from '../volume.js';
import { writeNatural, type NaturalDataset } from './dcmjs.js';
import type { CodeItem } from './segRead.js';
import { SEG_SOP_CLASS } from './segRead.js';
import type { DicomHeader } from './series.js';
import { dicomDateTime, newUid } from './uid.js';

export interface SegmentSpec {
  /** Label value in the mask. */
  label: number;
  name?: string;
  category?: CodeItem;
  type?: CodeItem;
  /** sRGB 0..255. */
  colour?: [number, number, number];
}

export interface SegWriteOptions {
  /** Model id (SegmentAlgorithmName) and version (SoftwareVersions). */
  algorithmName: string;
  algorithmVersion: string;
  segments?: SegmentSpec[];
  seriesDescription?: string;
  seriesNumber?: number;
  /**
   * SegmentAlgorithmType. A promptable model's mask is drawn with user input (a box, clicks, an
   * annotator's corrections), which DICOM calls SEMIAUTOMATIC ("calculated with user assistance");
   * AUTOMATIC is for a mask no person prompted.
   */
  algorithmType?: 'AUTOMATIC' | 'SEMIAUTOMATIC' | 'MANUAL';
  /** Fixed UIDs (tests); new ones by default. */
  seriesInstanceUid?: string;
  sopInstanceUid?: string;
}

const TISSUE: CodeItem = { CodeValue: '85756007', CodingSchemeDesignator: 'SCT', CodeMeaning: 'Tissue' };
/** Distinct colours for labels 1, 2, … (Slicer-like). */
const PALETTE: [number, number, number][] = [
  [241, 214, 145],
  [128, 174, 128],
  [216, 101, 79],
  [111, 184, 210],
  [183, 156, 220],
  [221, 130, 101],
  [144, 238, 144],
  [192, 104, 88],
];

/** The DICOM identity a mask needs to become a SEG: its image must come from a DICOM series. */
export function dicomSource(like: Volume | undefined, path: string): DicomHeader {
  const h = like?.header as DicomHeader | undefined;
  if (!like || like.source.format !== 'dicom' || h?.kind !== 'dicom' || !h.sopInstanceUids?.length) {
    throw new MedsamError(
      `cannot write ${path}: a DICOM SEG/RTSTRUCT must reference a DICOM image series, and the input ${like ? `is ${like.source.format} (${like.source.path})` : 'is unknown'} has no DICOM identity (study, series, frame of reference, SOP instances)`,
      'segment the DICOM series itself, or write .nii.gz / .nrrd instead',
    );
  }
  const missing = h.sopInstanceUids.findIndex((u, i) => !u || !h.sopClassUids[i]);
  if (missing >= 0 || !h.seriesInstanceUid || h.seriesInstanceUid.startsWith('(')) {
    throw new MedsamError(
      `cannot write ${path}: the source series lacks ${missing >= 0 ? `SOPInstanceUID/SOPClassUID (slice ${missing}, ${h.files[missing]})` : 'a SeriesInstanceUID'}, which a DICOM SEG/RTSTRUCT must reference`,
      'the series was anonymised without UIDs; give it UIDs (e.g. `dcmodify -gin`) or write .nii.gz instead',
    );
  }
  return h;
}

/** Build the SEG Part-10 bytes for `mask` (labels > 0) on the grid of `like`. */
export function buildSeg(mask: Volume, like: Volume, opts: SegWriteOptions, path = 'the SEG'): Uint8Array {
  const src = dicomSource(like, path);
  const [nx, ny, nz] = like.dims;
  if (mask.dims.some((d, i) => d !== like.dims[i]))
    throw new MedsamError(
      `cannot write ${path}: mask is ${mask.dims.join('x')} but the image is ${like.dims.join('x')}`,
      'build the mask on the image grid',
    );
  if (src.positions.length !== nz)
    throw new MedsamError(
      `cannot write ${path}: the image has ${nz} slices but ${src.positions.length} DICOM positions`,
      'read the series again',
    );
  const present = new Set<number>();
  for (let i = 0; i < mask.data.length; i++) {
    const v = Number(mask.data[i]);
    if (v !== 0) {
      if (!Number.isInteger(v) || v < 0 || v > 65535)
        throw new MedsamError(`cannot write ${path}: mask voxel ${i} is ${v}, not a label 1..65535`, 'threshold or round the mask first');
      present.add(v);
    }
  }
  const specs: SegmentSpec[] = (opts.segments ?? [...present].sort((a, b) => a - b).map((label) => ({ label }))).filter((s) => s.label > 0);
  if (specs.length === 0) specs.push({ label: 1 });

  const slice = nx * ny;
  const frameItems: NaturalDataset[] = [];
  const frameBits: { z: number; label: number }[] = [];
  specs.forEach((spec, si) => {
    let zs: number[] = [];
    for (let z = 0; z < nz; z++) {
      for (let i = z * slice; i < (z + 1) * slice; i++)
        if (Number(mask.data[i]) === spec.label) {
          zs.push(z);
          break;
        }
    }
    // A segment must own at least one frame; an empty result is written as its first slice, empty.
    if (zs.length === 0) zs = [0];
    for (const z of zs) {
      frameBits.push({ z, label: spec.label });
      frameItems.push({
        DerivationImageSequence: [
          {
            SourceImageSequence: [
              {
                ReferencedSOPClassUID: src.sopClassUids[z],
                ReferencedSOPInstanceUID: src.sopInstanceUids[z],
                ...(src.frames[z] > 0 || isMultiFrame(src) ? { ReferencedFrameNumber: src.frames[z] + 1 } : {}),
                PurposeOfReferenceCodeSequence: [
                  { CodeValue: '121322', CodingSchemeDesignator: 'DCM', CodeMeaning: 'Source image for image processing operation' },
                ],
              },
            ],
            DerivationCodeSequence: [{ CodeValue: '113076', CodingSchemeDesignator: 'DCM', CodeMeaning: 'Segmentation' }],
          },
        ],
        FrameContentSequence: [{ DimensionIndexValues: [si + 1, z + 1] }],
        PlanePositionSequence: [{ ImagePositionPatient: src.positions[z].map(ds) }],
        SegmentIdentificationSequence: [{ ReferencedSegmentNumber: si + 1 }],
      });
    }
  });

  // BINARY pixel data: 1 bit per pixel, LSB first, frames packed back to back.
  const bits = new Uint8Array(Math.ceil((frameBits.length * slice) / 8) + (Math.ceil((frameBits.length * slice) / 8) & 1));
  frameBits.forEach(({ z, label }, f) => {
    const base = z * slice;
    for (let p = 0; p < slice; p++) {
      if (Number(mask.data[base + p]) === label) {
        const b = f * slice + p;
        bits[b >> 3] |= 1 << (b & 7);
      }
    }
  });

  const { date, time } = dicomDateTime();
  const id = src.identity;
  const dimensionOrg = newUid();
  const row = [like.direction[0], like.direction[3], like.direction[6]];
  const col = [like.direction[1], like.direction[4], like.direction[7]];
  const studyUid = src.studyInstanceUid ?? id.StudyInstanceUID;
  if (!studyUid || !src.frameOfReferenceUid)
    throw new MedsamError(
      `cannot write ${path}: the source series has no StudyInstanceUID or FrameOfReferenceUID`,
      'the source DICOM is incomplete; a SEG cannot reference it',
    );
  const seg: NaturalDataset = {
    SpecificCharacterSet: 'ISO_IR 192',
    ImageType: ['DERIVED', 'PRIMARY'],
    SOPClassUID: SEG_SOP_CLASS,
    SOPInstanceUID: opts.sopInstanceUid ?? newUid(),
    SeriesDate: date,
    ContentDate: date,
    SeriesTime: time,
    ContentTime: time,
    Modality: 'SEG',
    Manufacturer: 'medsam2.js',
    SeriesDescription: opts.seriesDescription ?? `${opts.algorithmName} segmentation`,
    ManufacturerModelName: 'medsam2.js',
    ReferencedSeriesSequence: [
      {
        SeriesInstanceUID: src.seriesInstanceUid,
        ReferencedInstanceSequence: unique(src.sopInstanceUids.map((u, z) => `${src.sopClassUids[z]}|${u}`)).map((k) => {
          const [cls, uid] = k.split('|');
          return { ReferencedSOPClassUID: cls, ReferencedSOPInstanceUID: uid };
        }),
      },
    ],
    ...copiedPatientStudy(id),
    DeviceSerialNumber: '0',
    SoftwareVersions: opts.algorithmVersion,
    StudyInstanceUID: studyUid,
    SeriesInstanceUID: opts.seriesInstanceUid ?? newUid(),
    SeriesNumber: opts.seriesNumber ?? 300,
    InstanceNumber: 1,
    FrameOfReferenceUID: src.frameOfReferenceUid,
    DimensionOrganizationSequence: [{ DimensionOrganizationUID: dimensionOrg }],
    DimensionIndexSequence: [
      {
        DimensionOrganizationUID: dimensionOrg,
        DimensionIndexPointer: 0x0062000b,
        FunctionalGroupPointer: 0x0062000a,
        DimensionDescriptionLabel: 'ReferencedSegmentNumber',
      },
      {
        DimensionOrganizationUID: dimensionOrg,
        DimensionIndexPointer: 0x00200032,
        FunctionalGroupPointer: 0x00209113,
        DimensionDescriptionLabel: 'ImagePositionPatient',
      },
    ],
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    NumberOfFrames: frameItems.length,
    Rows: ny,
    Columns: nx,
    BitsAllocated: 1,
    BitsStored: 1,
    HighBit: 0,
    PixelRepresentation: 0,
    LossyImageCompression: '00',
    SegmentationType: 'BINARY',
    SegmentSequence: specs.map((s, i) => ({
      SegmentedPropertyCategoryCodeSequence: [s.category ?? TISSUE],
      SegmentNumber: i + 1,
      SegmentLabel: [...(s.name ?? `object ${s.label}`)].slice(0, 64).join(''), // 64 characters (LO), not UTF-16 units
      SegmentAlgorithmType: opts.algorithmType ?? 'SEMIAUTOMATIC',
      SegmentAlgorithmName: opts.algorithmName.slice(0, 64),
      RecommendedDisplayCIELabValue: rgbToDicomLab(s.colour ?? PALETTE[(s.label - 1) % PALETTE.length]),
      SegmentedPropertyTypeCodeSequence: [s.type ?? TISSUE],
    })),
    ContentLabel: 'MEDSAM2',
    ContentDescription: `${opts.algorithmName} ${opts.algorithmVersion}`.slice(0, 64),
    ContentCreatorName: '',
    SharedFunctionalGroupsSequence: [
      {
        PlaneOrientationSequence: [{ ImageOrientationPatient: [...row, ...col].map(ds) }],
        PixelMeasuresSequence: [
          {
            PixelSpacing: [ds(like.spacing[1]), ds(like.spacing[0])],
            SliceThickness: ds(like.spacing[2]),
            SpacingBetweenSlices: ds(like.spacing[2]),
          },
        ],
      },
    ],
    PerFrameFunctionalGroupsSequence: frameItems,
    PixelData: [bits.buffer],
    _vrMap: { PixelData: 'OB' },
  };
  return writeNatural(seg);
}

function isMultiFrame(h: DicomHeader): boolean {
  return new Set(h.sopInstanceUids).size < h.sopInstanceUids.length;
}

function unique<T>(a: T[]): T[] {
  return [...new Set(a)];
}

/** DS values: at most 16 characters (PS3.5 6.2). */
function ds(x: number): string {
  if (Number.isInteger(x)) return String(x);
  for (let p = 10; p > 0; p--) {
    const s = String(+x.toPrecision(p));
    if (s.length <= 16) return s;
  }
  return x.toExponential(6);
}

/** sRGB (0..255) → CIELab (D65) → DICOM scaled PCS values (L 0..100 → 0..65535, a/b −128..127 → 0..65535). */
export function rgbToDicomLab([r, g, b]: [number, number, number]): [number, number, number] {
  const lin = (c: number) => {
    const v = c / 255;
    return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  const [R, G, B] = [lin(r), lin(g), lin(b)];
  const X = (0.4124564 * R + 0.3575761 * G + 0.1804375 * B) / 0.95047;
  const Y = 0.2126729 * R + 0.7151522 * G + 0.072175 * B;
  const Z = (0.0193339 * R + 0.119192 * G + 0.9503041 * B) / 1.08883;
  const f = (t: number) => (t > 216 / 24389 ? Math.cbrt(t) : ((24389 / 27) * t + 16) / 116);
  const L = 116 * f(Y) - 16;
  const a = 500 * (f(X) - f(Y));
  const bb = 200 * (f(Y) - f(Z));
  const clamp = (v: number) => Math.max(0, Math.min(65535, Math.round(v)));
  return [clamp((L * 65535) / 100), clamp(((a + 128) * 65535) / 255), clamp(((bb + 128) * 65535) / 255)];
}
