import { createRequire } from 'node:module';
import type * as DicomParser from 'dicom-parser';

// dicom-parser ships a UMD bundle that Node's ESM loader sees as a CommonJS default export only;
// requiring it gives the named functions its type declarations describe.
const require = createRequire(import.meta.url);
export const dicomParser = require('dicom-parser') as typeof DicomParser;
export type DataSet = DicomParser.DataSet;
export type Element = DicomParser.Element;

/** DICOM tags are addressed as 'xGGGGEEEE' by dicom-parser. */
export const TAG = {
  transferSyntax: 'x00020010',
  sopClass: 'x00080016',
  sopInstance: 'x00080018',
  modality: 'x00080060',
  seriesDescription: 'x0008103e',
  studyUid: 'x0020000d',
  seriesUid: 'x0020000e',
  instanceNumber: 'x00200013',
  imagePosition: 'x00200032',
  imageOrientation: 'x00200037',
  frameOfReference: 'x00200052',
  samplesPerPixel: 'x00280002',
  photometric: 'x00280004',
  numberOfFrames: 'x00280008',
  rows: 'x00280010',
  columns: 'x00280011',
  pixelSpacing: 'x00280030',
  bitsAllocated: 'x00280100',
  bitsStored: 'x00280101',
  pixelRepresentation: 'x00280103',
  rescaleIntercept: 'x00281052',
  rescaleSlope: 'x00281053',
  sliceThickness: 'x00180050',
  spacingBetweenSlices: 'x00180088',
  imagerPixelSpacing: 'x00181164',
  pixelData: 'x7fe00010',
  sharedGroups: 'x52009229',
  perFrameGroups: 'x52009230',
  planePositionSeq: 'x00209113',
  planeOrientationSeq: 'x00209116',
  pixelMeasuresSeq: 'x00289110',
  pixelValueTransformSeq: 'x00289145',
  frameContentSeq: 'x00209111',
  stackId: 'x00209056',
  temporalPositionIndex: 'x00209128',
} as const;

/** Backslash-separated decimal strings (DS) as numbers; undefined if absent or malformed. */
export function dsNumbers(ds: DataSet | undefined, tag: string, n: number): number[] | undefined {
  const s = ds?.string(tag);
  if (!s) return undefined;
  const v = s.split('\\').map((x) => Number(x.trim()));
  return v.length >= n && v.slice(0, n).every(Number.isFinite) ? v.slice(0, n) : undefined;
}

/** First item's dataset of a sequence, if any. */
export function firstItem(ds: DataSet | undefined, tag: string): DataSet | undefined {
  return ds?.elements[tag]?.items?.[0]?.dataSet;
}
