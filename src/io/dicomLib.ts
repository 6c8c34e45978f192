import * as dicomParserNs from 'dicom-parser';
import type * as DicomParser from 'dicom-parser';
import { Inflate } from 'fflate';
import { MedsamError, errorMessage } from '../common/errors.js';

// dicom-parser ships a UMD bundle: Node's ESM loader exposes it as a CommonJS default export only,
// bundlers as named exports. Either way this module imports nothing from `node:` (browser-safe).
export const dicomParser = ((dicomParserNs as unknown as { default?: typeof DicomParser }).default ?? dicomParserNs) as typeof DicomParser;
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

/** Modalities whose objects are not image slices of a series (SEG, RTSTRUCT, SR, …). */
export const NON_IMAGE_MODALITIES = new Set(['SEG', 'RTSTRUCT', 'RTPLAN', 'RTDOSE', 'SR', 'PR', 'KO', 'REG', 'DOC']);

/** Whether a parsed object is an image slice (pixel data, not a SEG/RTSTRUCT/SR/… object). */
export function isImage(ds: DataSet): boolean {
  const modality = (ds.string(TAG.modality) ?? '').toUpperCase();
  return !!ds.elements[TAG.pixelData] && !NON_IMAGE_MODALITIES.has(modality);
}

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

/** Deflated datasets (1.2.840.10008.1.2.1.99) inflate to at most this many bytes (a zip-bomb guard). */
export const MAX_INFLATED_BYTES = 2 ** 30;

/** Parse Part-10 bytes; without the DICM preamble: undefined when `lenient` (folders skip them), else an error. */
export function parseDicomBytes(bytes: Uint8Array, name: string, lenient: boolean): DataSet | undefined {
  const magic = bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
  if (!magic) {
    if (lenient) return undefined;
    throw new MedsamError(`${name} is not a DICOM Part-10 file (no DICM marker)`, 'pass a .dcm file or a folder of them');
  }
  let ds: DataSet;
  try {
    ds = dicomParser.parseDicom(bytes, {
      inflater: (arr: Uint8Array, position: number) => inflateDataset(arr, position, name),
    } as DicomParser.ParseDicomOptions);
  } catch (e) {
    if (e instanceof MedsamError) throw e;
    throw new MedsamError(
      `DICOM file ${name} is corrupt or truncated (${dicomErrorText(e)})`,
      'remove it from the folder or re-export the series',
    );
  }
  const past = elementPastEnd(ds, ds.byteArray.length);
  if (past)
    throw new MedsamError(
      `DICOM file ${name} is corrupt or truncated (element ${past} runs past the end of its ${ds.byteArray.length} bytes)`,
      'remove it from the folder or re-export the series',
    );
  return ds;
}

/**
 * dicom-parser stops at the end of the bytes without checking that the last element's declared
 * length fits, and only throws (a bare string) when that element is read later; so every element,
 * sequence item and pixel fragment is checked once here, where the file can still be named.
 */
function elementPastEnd(ds: DataSet, size: number): string | undefined {
  for (const [tag, el] of Object.entries(ds.elements)) {
    const where = `(${tag.slice(1, 5)},${tag.slice(5)})`;
    // Short native pixel data is left to the pixel reader, whose message says how many bytes a frame needs.
    if (!el.hadUndefinedLength && tag !== TAG.pixelData && el.dataOffset + el.length > size) return where;
    for (const f of el.fragments ?? []) if (f.position + f.length > size) return `${where} fragment`;
    for (const item of el.items ?? []) {
      const inner = item.dataSet ? elementPastEnd(item.dataSet, size) : undefined;
      if (inner) return `${inner} in ${where}`;
    }
  }
  return undefined;
}

/** Deflated explicit VR little endian: raw deflate after the file meta group (PS3.5 A.5), via fflate, bounded. */
function inflateDataset(arr: Uint8Array, position: number, name: string): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const inf = new Inflate((chunk) => {
    total += chunk.length;
    if (total > MAX_INFLATED_BYTES)
      throw new MedsamError(
        `DICOM file ${name} inflates to more than ${MAX_INFLATED_BYTES} bytes`,
        'refusing a possible decompression bomb; decompress it yourself if it is genuine',
      );
    chunks.push(chunk);
  });
  try {
    const body = arr.subarray(position);
    for (let i = 0; i < body.length; i += 1 << 20)
      inf.push(body.subarray(i, Math.min(body.length, i + (1 << 20))), i + (1 << 20) >= body.length);
  } catch (e) {
    if (e instanceof MedsamError) throw e;
    throw new MedsamError(`DICOM file ${name}: deflated dataset is corrupt (${errorMessage(e)})`, 're-export the file');
  }
  const out = new Uint8Array(position + total);
  out.set(arr.subarray(0, position));
  let o = position;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** dicom-parser throws strings or {exception} objects as well as Errors. */
export function dicomErrorText(e: unknown): string {
  if (typeof e === 'object' && e !== null && 'exception' in e) return String((e as { exception: unknown }).exception);
  return errorMessage(e);
}
