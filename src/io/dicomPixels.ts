import { createRequire } from 'node:module';
import { MedsamError, errorMessage } from '../common/errors.js';
import { dicomParser, TAG, type DataSet } from './dicomLib.js';
import type { NumericArray } from './ndarray.js';

const UNCOMPRESSED = new Set(['1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.1.99', '1.2.840.10008.1.2.2']);
const JPEG2000 = new Set(['1.2.840.10008.1.2.4.90', '1.2.840.10008.1.2.4.91', '1.2.840.10008.1.2.4.201', '1.2.840.10008.1.2.4.202', '1.2.840.10008.1.2.4.203']);
const RLE = '1.2.840.10008.1.2.5';

export interface PixelFormat {
  rows: number;
  columns: number;
  bitsAllocated: number;
  bitsStored: number;
  signed: boolean;
  transferSyntax: string;
}

export function pixelFormat(ds: DataSet, path: string): PixelFormat {
  const rows = ds.uint16(TAG.rows) ?? 0;
  const columns = ds.uint16(TAG.columns) ?? 0;
  if (!(rows > 0 && columns > 0)) throw new MedsamError(`DICOM file ${path} has no image size (Rows/Columns missing or 0)`, 'this is not an image object');
  const spp = ds.uint16(TAG.samplesPerPixel) ?? 1;
  if (spp !== 1) throw new MedsamError(`DICOM file ${path} is a colour image (${spp} samples per pixel, ${ds.string(TAG.photometric) ?? ''})`, 'only grayscale (MONOCHROME) series are supported');
  const bitsAllocated = ds.uint16(TAG.bitsAllocated) ?? 16;
  if (![8, 16, 32].includes(bitsAllocated)) throw new MedsamError(`DICOM file ${path} has BitsAllocated=${bitsAllocated}`, 'only 8/16/32-bit images are supported');
  return {
    rows,
    columns,
    bitsAllocated,
    bitsStored: ds.uint16(TAG.bitsStored) ?? bitsAllocated,
    signed: (ds.uint16(TAG.pixelRepresentation) ?? 0) === 1,
    transferSyntax: (ds.string(TAG.transferSyntax) ?? '1.2.840.10008.1.2').trim(),
  };
}

interface OpenJpegModule {
  J2KDecoder: new () => {
    getEncodedBuffer(n: number): Uint8Array;
    decode(): void;
    getDecodedBuffer(): Uint8Array;
    getFrameInfo(): { width: number; height: number; bitsPerSample: number; componentCount: number; isSigned: boolean };
    delete(): void;
  };
}
let openjpeg: Promise<OpenJpegModule> | undefined;
/** OpenJPEG reports decode errors on its stderr hook rather than by throwing; keep the last one. */
let openjpegLastError = '';

/** The OpenJPEG WebAssembly decoder, loaded once; its [INFO] lines are silenced. */
function loadOpenJpeg(): Promise<OpenJpegModule> {
  if (!openjpeg) {
    const require = createRequire(import.meta.url);
    const factory = require('@cornerstonejs/codec-openjpeg/decodewasmjs') as (arg: object) => Promise<OpenJpegModule>;
    openjpeg = factory({
      print: (): void => {},
      printErr: (m: string): void => { if (/error/i.test(m)) openjpegLastError = m.replace(/^\[ERROR\]\s*/, '').trim(); },
    });
  }
  return openjpeg;
}

/** Decode frame `index` of a dataset's pixel data into a typed array of rows*columns samples. */
export async function decodeFrame(ds: DataSet, index: number, numFrames: number, fmt: PixelFormat, path: string): Promise<NumericArray> {
  const el = ds.elements[TAG.pixelData];
  if (!el) throw new MedsamError(`DICOM file ${path} has no pixel data`, 'this is not an image object');
  const n = fmt.rows * fmt.columns;
  const bytesPer = fmt.bitsAllocated / 8;
  const ts = fmt.transferSyntax;
  let bytes: Uint8Array;
  if (UNCOMPRESSED.has(ts)) {
    if (el.encapsulatedPixelData) throw new MedsamError(`DICOM file ${path} has encapsulated pixel data under an uncompressed transfer syntax`, 'the file is corrupt; re-export it');
    const start = el.dataOffset + index * n * bytesPer;
    const available = Math.min(el.dataOffset + el.length, ds.byteArray.length) - start;
    if (available < n * bytesPer) {
      throw new MedsamError(`DICOM file ${path} is truncated (frame ${index} needs ${n * bytesPer} bytes of pixel data, got ${Math.max(0, available)})`, 're-export the series');
    }
    bytes = ds.byteArray.slice(start, start + n * bytesPer);
    if (ts === '1.2.840.10008.1.2.2' && bytesPer > 1) for (let i = 0; i < bytes.length; i += bytesPer) bytes.subarray(i, i + bytesPer).reverse();
  } else {
    const frame = encapsulatedFrame(ds, index, numFrames, path);
    if (JPEG2000.has(ts)) bytes = await decodeJpeg2000(frame, fmt, path);
    else if (ts === RLE) bytes = decodeRle(frame, fmt, path);
    else {
      throw new MedsamError(`DICOM file ${path} uses transfer syntax ${ts}, which this reader cannot decode (JPEG 2000, RLE and uncompressed are supported)`, 'decompress the series first, e.g. `gdcmconv --raw` or `dcmdjpeg`');
    }
    if (bytes.length < n * bytesPer) throw new MedsamError(`DICOM file ${path}: frame ${index} decoded to ${bytes.length} bytes, expected ${n * bytesPer}`, 'the compressed data is corrupt; re-export the series');
  }
  const data = typed(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + n * bytesPer) as ArrayBuffer, fmt);
  if (fmt.signed && fmt.bitsStored < fmt.bitsAllocated) signExtend(data as Int16Array | Int32Array | Int8Array, fmt.bitsStored);
  return data;
}

function typed(buf: ArrayBuffer, fmt: PixelFormat): NumericArray {
  switch (fmt.bitsAllocated) {
    case 8: return fmt.signed ? new Int8Array(buf) : new Uint8Array(buf);
    case 16: return fmt.signed ? new Int16Array(buf) : new Uint16Array(buf);
    default: return fmt.signed ? new Int32Array(buf) : new Uint32Array(buf);
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
    throw new MedsamError(`DICOM file ${path}: cannot read compressed frame ${index} (${dicomErrorMessage(e)})`, 'the file is truncated or corrupt; re-export the series');
  }
  throw new MedsamError(`DICOM file ${path} has ${numFrames} compressed frames in ${fragments.length} fragments and no offset table`, 'decompress it first, e.g. `gdcmconv --raw`');
}

async function decodeJpeg2000(frame: Uint8Array, fmt: PixelFormat, path: string): Promise<Uint8Array> {
  const lib = await loadOpenJpeg();
  const dec = new lib.J2KDecoder();
  openjpegLastError = '';
  try {
    dec.getEncodedBuffer(frame.length).set(frame);
    dec.decode();
    const info = dec.getFrameInfo();
    if (info.width === 0 || info.height === 0 || openjpegLastError) {
      throw new MedsamError(`DICOM file ${path}: JPEG 2000 decoding failed (${openjpegLastError || 'unreadable codestream header'})`, 'the compressed data is corrupt; re-export the series');
    }
    if (info.width !== fmt.columns || info.height !== fmt.rows || info.componentCount !== 1) {
      throw new MedsamError(`DICOM file ${path}: JPEG 2000 frame is ${info.width}x${info.height}x${info.componentCount}, header says ${fmt.columns}x${fmt.rows}x1`, 'the file is inconsistent; re-export the series');
    }
    return dec.getDecodedBuffer().slice();
  } catch (e) {
    if (e instanceof MedsamError) throw e;
    throw new MedsamError(`DICOM file ${path}: JPEG 2000 decoding failed (${errorMessage(e)})`, 'the compressed data is corrupt; re-export the series');
  } finally {
    dec.delete();
  }
}

/**
 * DICOM RLE Lossless (PS3.5 Annex G): a 64-byte table of segment offsets, one PackBits segment per
 * byte plane, most significant plane first. No maintained npm decoder exists, and it is 30 lines.
 */
function decodeRle(frame: Uint8Array, fmt: PixelFormat, path: string): Uint8Array {
  const n = fmt.rows * fmt.columns;
  const bytesPer = fmt.bitsAllocated / 8;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (frame.length < 64) throw new MedsamError(`DICOM file ${path}: RLE frame is truncated`, 're-export the series');
  const segments = view.getUint32(0, true);
  if (segments !== bytesPer) throw new MedsamError(`DICOM file ${path}: RLE frame has ${segments} segments, expected ${bytesPer}`, 'the file is corrupt; re-export the series');
  const out = new Uint8Array(n * bytesPer);
  for (let s = 0; s < segments; s++) {
    const start = view.getUint32(4 + 4 * s, true);
    const end = s + 1 < segments ? view.getUint32(8 + 4 * s, true) : frame.length;
    const plane = bytesPer - 1 - s; // little-endian output: the first segment is the high byte
    let i = start;
    let o = 0;
    while (i < end && o < n) {
      const h = (frame[i++] << 24) >> 24;
      if (h >= 0) {
        for (let k = 0; k <= h && o < n; k++) out[(o++) * bytesPer + plane] = frame[i++];
      } else if (h !== -128) {
        const v = frame[i++];
        for (let k = 0; k < 1 - h && o < n; k++) out[(o++) * bytesPer + plane] = v;
      }
    }
    if (o < n) throw new MedsamError(`DICOM file ${path}: RLE segment ${s} decodes to ${o} of ${n} pixels`, 'the compressed data is truncated; re-export the series');
  }
  return out;
}

/** dicom-parser throws strings or {exception} objects as well as Errors. */
export function dicomErrorMessage(e: unknown): string {
  if (typeof e === 'object' && e !== null && 'exception' in e) return String((e as { exception: unknown }).exception);
  return errorMessage(e);
}
