/**
 * Pixel data of one DICOM frame → a typed array of rows*columns scalar samples (stored values;
 * rescale happens in the series reader). Native syntaxes are read in place (big endian swapped);
 * encapsulated frames go through ./dicomCodecs.ts. Colour frames become one luminance channel
 * (Y of YBR, or ITU-R BT.601 luma of RGB) because the models segment a scalar image.
 */
import { MedsamError } from '../common/errors.js';
import { decodeCompressedFrame, NATIVE_SYNTAXES, TS, type DecodedFrame } from './dicomCodecs.js';
import { dicomErrorText, dicomParser, TAG, type DataSet } from './dicomLib.js';
import type { NumericArray } from './ndarray.js';

export type ColourMode = 'luminance' | 'refuse';

export interface PixelFormat {
  rows: number;
  columns: number;
  bitsAllocated: number;
  bitsStored: number;
  signed: boolean;
  transferSyntax: string;
  samplesPerPixel: number;
  photometric: string;
  /** 0 = interleaved (R1G1B1R2…), 1 = planar (all R, then G, then B); native colour only. */
  planarConfiguration: number;
}

export function pixelFormat(ds: DataSet, path: string): PixelFormat {
  const rows = ds.uint16(TAG.rows) ?? 0;
  const columns = ds.uint16(TAG.columns) ?? 0;
  if (!(rows > 0 && columns > 0))
    throw new MedsamError(`DICOM file ${path} has no image size (Rows/Columns missing or 0)`, 'this is not an image object');
  const spp = ds.uint16(TAG.samplesPerPixel) ?? 1;
  const photometric = (ds.string(TAG.photometric) ?? (spp === 1 ? 'MONOCHROME2' : 'RGB')).trim().toUpperCase();
  if (spp !== 1 && spp !== 3)
    throw new MedsamError(
      `DICOM file ${path} has ${spp} samples per pixel (${photometric})`,
      'only grayscale and RGB/YBR images are supported',
    );
  if (spp === 1 && photometric === 'PALETTE COLOR')
    throw new MedsamError(`DICOM file ${path} is a palette-colour image`, 'convert it to grayscale or RGB first');
  const bitsAllocated = ds.uint16(TAG.bitsAllocated) ?? 16;
  if (![8, 16, 32].includes(bitsAllocated))
    throw new MedsamError(`DICOM file ${path} has BitsAllocated=${bitsAllocated}`, 'only 8/16/32-bit images are supported');
  if (spp === 3 && bitsAllocated !== 8)
    throw new MedsamError(`DICOM file ${path} is a ${bitsAllocated}-bit colour image`, 'only 8-bit colour images are supported');
  return {
    rows,
    columns,
    bitsAllocated,
    bitsStored: ds.uint16(TAG.bitsStored) ?? bitsAllocated,
    signed: (ds.uint16(TAG.pixelRepresentation) ?? 0) === 1,
    transferSyntax: (ds.string(TAG.transferSyntax) ?? TS.implicitLE).trim(),
    samplesPerPixel: spp,
    photometric,
    planarConfiguration: ds.uint16('x00280006') ?? 0,
  };
}

/** Decode frame `index` of a dataset's pixel data into rows*columns scalar samples. */
export async function decodeFrame(
  ds: DataSet,
  index: number,
  numFrames: number,
  fmt: PixelFormat,
  path: string,
  colour: ColourMode = 'luminance',
): Promise<NumericArray> {
  const el = ds.elements[TAG.pixelData];
  if (!el) throw new MedsamError(`DICOM file ${path} has no pixel data`, 'this is not an image object');
  if (fmt.samplesPerPixel === 3 && colour === 'refuse')
    throw new MedsamError(
      `DICOM file ${path} is a colour image (${fmt.photometric})`,
      'only grayscale (MONOCHROME) series are accepted here',
    );
  const spp = fmt.samplesPerPixel;
  const n = fmt.rows * fmt.columns;
  const bytesPer = fmt.bitsAllocated / 8;
  const frameBytes = n * bytesPer * spp;
  const ts = fmt.transferSyntax;
  let decoded: DecodedFrame;
  if (NATIVE_SYNTAXES.has(ts)) {
    if (el.encapsulatedPixelData)
      throw new MedsamError(
        `DICOM file ${path} has encapsulated pixel data under an uncompressed transfer syntax`,
        'the file is corrupt; re-export it',
      );
    if (fmt.photometric.startsWith('YBR') && fmt.photometric !== 'YBR_FULL')
      throw new MedsamError(
        `DICOM file ${path} stores uncompressed ${fmt.photometric} (chroma-subsampled) pixels`,
        'convert it to RGB first, e.g. `dcmconv` / `gdcmconv --raw`',
      );
    const start = el.dataOffset + index * frameBytes;
    const available = Math.min(el.dataOffset + el.length, ds.byteArray.length) - start;
    if (available < frameBytes) {
      throw new MedsamError(
        `DICOM file ${path} is truncated (frame ${index} needs ${frameBytes} bytes of pixel data, got ${Math.max(0, available)})`,
        're-export the series',
      );
    }
    const bytes = ds.byteArray.slice(start, start + frameBytes);
    if (ts === TS.explicitBE && bytesPer > 1) for (let i = 0; i < bytes.length; i += bytesPer) bytes.subarray(i, i + bytesPer).reverse();
    decoded = { bytes, components: spp, planar: fmt.planarConfiguration === 1, rgb: false };
  } else {
    decoded = await decodeCompressedFrame(encapsulatedFrame(ds, index, numFrames, path), ts, fmt, path);
    if (decoded.bytes.length < frameBytes)
      throw new MedsamError(
        `DICOM file ${path}: frame ${index} decoded to ${decoded.bytes.length} bytes, expected ${frameBytes}`,
        'the compressed data is corrupt; re-export the series',
      );
  }
  if (spp === 3) return luminance(decoded, fmt, n);
  const data = typed(decoded.bytes.buffer.slice(decoded.bytes.byteOffset, decoded.bytes.byteOffset + n * bytesPer) as ArrayBuffer, fmt);
  if (fmt.signed && fmt.bitsStored < fmt.bitsAllocated) signExtend(data as Int16Array | Int32Array | Int8Array, fmt.bitsStored);
  return data;
}

/** 8-bit colour → one 8-bit channel: Y of YBR_FULL (stored as is), BT.601 luma of RGB. */
function luminance(f: DecodedFrame, fmt: PixelFormat, n: number): Uint8Array {
  const out = new Uint8Array(n);
  const b = f.bytes;
  const at = f.planar ? (i: number, c: number) => b[c * n + i] : (i: number, c: number) => b[i * 3 + c];
  if (!f.rgb && fmt.photometric === 'YBR_FULL') {
    for (let i = 0; i < n; i++) out[i] = at(i, 0);
  } else {
    for (let i = 0; i < n; i++) out[i] = Math.round(0.299 * at(i, 0) + 0.587 * at(i, 1) + 0.114 * at(i, 2));
  }
  return out;
}

function typed(buf: ArrayBuffer, fmt: PixelFormat): NumericArray {
  switch (fmt.bitsAllocated) {
    case 8:
      return fmt.signed ? new Int8Array(buf) : new Uint8Array(buf);
    case 16:
      return fmt.signed ? new Int16Array(buf) : new Uint16Array(buf);
    default:
      return fmt.signed ? new Int32Array(buf) : new Uint32Array(buf);
  }
}

/** Values stored in fewer bits than allocated may not carry their sign in the high bits. */
function signExtend(a: Int8Array | Int16Array | Int32Array, bits: number): void {
  const shift = 32 - bits;
  for (let i = 0; i < a.length; i++) a[i] = (a[i] << shift) >> shift;
}

function encapsulatedFrame(ds: DataSet, index: number, numFrames: number, path: string): Uint8Array {
  const el = ds.elements[TAG.pixelData];
  const fragments = el.fragments ?? [];
  try {
    if (el.basicOffsetTable && el.basicOffsetTable.length > 0) return dicomParser.readEncapsulatedImageFrame(ds, el, index);
    if (numFrames === 1) return dicomParser.readEncapsulatedPixelDataFromFragments(ds, el, 0, fragments.length);
    if (fragments.length === numFrames) return dicomParser.readEncapsulatedPixelDataFromFragments(ds, el, index, 1);
  } catch (e) {
    throw new MedsamError(
      `DICOM file ${path}: cannot read compressed frame ${index} (${dicomErrorText(e)})`,
      'the file is truncated or corrupt; re-export the series',
    );
  }
  throw new MedsamError(
    `DICOM file ${path} has ${numFrames} compressed frames in ${fragments.length} fragments and no offset table`,
    'decompress it first, e.g. `gdcmconv --raw`',
  );
}
