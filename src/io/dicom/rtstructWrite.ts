/**
 * Label map on a DICOM series' grid → RT Structure Set (PS3.3 A.19): per object one ROI, per slice
 * closed planar contours (marching squares, ./contours.ts) in patient coordinates (LPS mm), each
 * referencing its source image. Encoded by dcmjs; checked by dciodvfy in test/dicom/rtstruct.test.ts.
 */
import { copiedPatientStudy } from './patientStudy.js';
import { MedsamError } from '../../common/errors.js';
import type { Volume } from '../volume.js';
import { marchingSquares } from './contours.js';
import { writeNatural, type NaturalDataset } from './dcmjs.js';
import { dicomSource, type SegmentSpec, type SegWriteOptions } from './segWrite.js';
import { dicomDateTime, newUid } from './uid.js';

export const RTSTRUCT_SOP_CLASS = '1.2.840.10008.5.1.4.1.1.481.3';
const PALETTE: [number, number, number][] = [
  [241, 214, 145],
  [128, 174, 128],
  [216, 101, 79],
  [111, 184, 210],
  [183, 156, 220],
  [221, 130, 101],
];

export function buildRtStruct(mask: Volume, like: Volume, opts: SegWriteOptions, path = 'the RTSTRUCT'): Uint8Array {
  const src = dicomSource(like, path);
  const [nx, ny, nz] = like.dims;
  if (mask.dims.some((d, i) => d !== like.dims[i]))
    throw new MedsamError(
      `cannot write ${path}: mask is ${mask.dims.join('x')} but the image is ${like.dims.join('x')}`,
      'build the mask on the image grid',
    );
  const studyUid = src.studyInstanceUid ?? src.identity.StudyInstanceUID;
  if (!studyUid || !src.frameOfReferenceUid)
    throw new MedsamError(
      `cannot write ${path}: the source series has no StudyInstanceUID or FrameOfReferenceUID`,
      'the source DICOM is incomplete',
    );
  const present = new Set<number>();
  for (let i = 0; i < mask.data.length; i++) {
    const v = Number(mask.data[i]);
    if (v > 0) present.add(v);
  }
  const specs: SegmentSpec[] = opts.segments ?? [...present].sort((a, b) => a - b).map((label) => ({ label }));
  if (specs.length === 0)
    throw new MedsamError(
      `cannot write ${path}: the mask is empty`,
      'an RT structure set needs at least one contour; write .seg.dcm or .nii.gz instead',
    );
  const d = like.direction;
  const slice = nx * ny;
  // In-plane voxel (x, y) of slice z → LPS: the slice's own ImagePositionPatient + row/column steps.
  const toPatient = (x: number, y: number, z: number): number[] => {
    const p = src.positions[z];
    return [0, 1, 2].map((r) => p[r] + d[r * 3] * like.spacing[0] * x + d[r * 3 + 1] * like.spacing[1] * y);
  };
  const roiContours: NaturalDataset[] = [];
  const rois: NaturalDataset[] = [];
  const observations: NaturalDataset[] = [];
  specs.forEach((spec, i) => {
    const roi = i + 1;
    const contours: NaturalDataset[] = [];
    const bin = new Uint8Array(slice);
    for (let z = 0; z < nz; z++) {
      let any = false;
      for (let p = 0; p < slice; p++) {
        const on = Number(mask.data[z * slice + p]) === spec.label;
        bin[p] = on ? 1 : 0;
        any ||= on;
      }
      if (!any) continue;
      for (const loop of marchingSquares(bin, nx, ny)) {
        contours.push({
          ContourImageSequence: [{ ReferencedSOPClassUID: src.sopClassUids[z], ReferencedSOPInstanceUID: src.sopInstanceUids[z] }],
          ContourGeometricType: 'CLOSED_PLANAR',
          NumberOfContourPoints: loop.length,
          ContourData: loop.flatMap(([x, y]) => toPatient(x, y, z).map(ds)),
        });
      }
    }
    const name = [...(spec.name ?? `object ${spec.label}`)].slice(0, 64).join(''); // 64 characters (LO), not UTF-16 units: an emoji stays whole
    rois.push({
      ROINumber: roi,
      ReferencedFrameOfReferenceUID: src.frameOfReferenceUid,
      ROIName: name,
      ROIGenerationAlgorithm: 'SEMIAUTOMATIC', // a prompted model's contour (see segWrite's algorithmType)
      ROIGenerationDescription: `${opts.algorithmName} ${opts.algorithmVersion}`.slice(0, 64),
    });
    roiContours.push({
      ROIDisplayColor: spec.colour ?? PALETTE[(spec.label - 1) % PALETTE.length],
      ReferencedROINumber: roi,
      ...(contours.length ? { ContourSequence: contours } : {}),
    });
    observations.push({ ObservationNumber: roi, ReferencedROINumber: roi, RTROIInterpretedType: 'ORGAN', ROIInterpreter: '' });
  });
  const { date, time } = dicomDateTime();
  const id = src.identity;
  const rt: NaturalDataset = {
    SpecificCharacterSet: 'ISO_IR 192',
    SOPClassUID: RTSTRUCT_SOP_CLASS,
    SOPInstanceUID: opts.sopInstanceUid ?? newUid(),
    Modality: 'RTSTRUCT',
    Manufacturer: 'medsam2.js',
    SeriesDescription: opts.seriesDescription ?? `${opts.algorithmName} contours`,
    OperatorsName: '',
    ManufacturerModelName: 'medsam2.js',
    ...copiedPatientStudy(id),
    SoftwareVersions: opts.algorithmVersion,
    StudyInstanceUID: studyUid,
    SeriesInstanceUID: opts.seriesInstanceUid ?? newUid(),
    SeriesNumber: opts.seriesNumber ?? 301,
    InstanceNumber: 1,
    FrameOfReferenceUID: src.frameOfReferenceUid,
    StructureSetLabel: 'MEDSAM2',
    StructureSetDate: date,
    StructureSetTime: time,
    ReferencedFrameOfReferenceSequence: [
      {
        FrameOfReferenceUID: src.frameOfReferenceUid,
        RTReferencedStudySequence: [
          {
            ReferencedSOPClassUID: '1.2.840.10008.3.1.2.3.1',
            ReferencedSOPInstanceUID: studyUid,
            RTReferencedSeriesSequence: [
              {
                SeriesInstanceUID: src.seriesInstanceUid,
                ContourImageSequence: [...new Set(src.sopInstanceUids)].map((u) => ({
                  ReferencedSOPClassUID: src.sopClassUids[src.sopInstanceUids.indexOf(u)],
                  ReferencedSOPInstanceUID: u,
                })),
              },
            ],
          },
        ],
      },
    ],
    StructureSetROISequence: rois,
    ROIContourSequence: roiContours,
    RTROIObservationsSequence: observations,
    ApprovalStatus: 'UNAPPROVED',
  };
  return writeNatural(rt);
}

function ds(x: number): string {
  const s = String(+x.toFixed(4));
  return s.length <= 16 ? s : x.toExponential(8);
}
