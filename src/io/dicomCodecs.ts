/**
 * Compressed DICOM frames → raw little-endian samples, through the codecs published on npm:
 * libjpeg-turbo (JPEG baseline 8-bit), jpeg-lossless-decoder-js (JPEG lossless, processes 14 / SV1),
 * CharLS (JPEG-LS), OpenJPEG (JPEG 2000), OpenJPH (HTJ2K), all WebAssembly builds from
 * @cornerstonejs, loaded lazily by dynamic import (no `node:` imports: browser-safe). RLE has no
 * maintained npm decoder; it is 30 lines of PackBits below (PS3.5 Annex G).
 */
import { MedsamError, errorMessage } from '../common/errors.js';

export const TS = {
  implicitLE: '1.2.840.10008.1.2',
  explicitLE: '1.2.840.10008.1.2.1',
  deflatedLE: '1.2.840.10008.1.2.1.99',
  explicitBE: '1.2.840.10008.1.2.2',
  jpegBaseline: '1.2.840.10008.1.2.4.50',
  jpegExtended: '1.2.840.10008.1.2.4.51',
  jpegLossless14: '1.2.840.10008.1.2.4.57',
  jpegLosslessSV1: '1.2.840.10008.1.2.4.70',
  jpegLsLossless: '1.2.840.10008.1.2.4.80',
  jpegLsNearLossless: '1.2.840.10008.1.2.4.81',
  j2kLossless: '1.2.840.10008.1.2.4.90',
  j2k: '1.2.840.10008.1.2.4.91',
  htj2kLossless: '1.2.840.10008.1.2.4.201',
  htj2kLosslessRpcl: '1.2.840.10008.1.2.4.202',
  htj2k: '1.2.840.10008.1.2.4.203',
  rle: '1.2.840.10008.1.2.5',
} as const;

export const NATIVE_SYNTAXES = new Set<string>([TS.implicitLE, TS.explicitLE, TS.deflatedLE, TS.explicitBE]);

/** What a decoder hands back: interleaved samples (colour: RGB after the codec's own colour transform, or planar for RLE). */
export interface DecodedFrame {
  bytes: Uint8Array;
  components: number;
  /** RLE keeps one plane per component; the JPEG family interleaves. */
  planar: boolean;
  /** True when the codec already turned YBR into RGB (JPEG baseline). */
  rgb: boolean;
}

export interface FrameFormat {
  rows: number;
  columns: number;
  bitsAllocated: number;
  samplesPerPixel: number;
  signed: boolean;
}

/** Every encapsulated transfer syntax we decode, for messages and the README table. */
export const COMPRESSED_SUPPORTED = 'JPEG baseline 8-bit, JPEG lossless (14 and SV1), JPEG-LS, JPEG 2000, HTJ2K, RLE';

interface WasmDecoder {
  getEncodedBuffer(n: number): Uint8Array;
  decode(): void;
  getDecodedBuffer(): Uint8Array;
  getFrameInfo(): { width: number; height: number; bitsPerSample: number; componentCount: number; isSigned: boolean };
  delete(): void;
}
type DecoderClass = new () => WasmDecoder;

/** Emscripten modules report errors through printErr; keep the last one for our message. */
let lastCodecError = '';
const loaded = new Map<string, Promise<Record<string, unknown>>>();
function loadCodec(key: string, importer: () => Promise<{ default: (arg: object) => Promise<unknown> }>): Promise<Record<string, unknown>> {
  let p = loaded.get(key);
  if (!p) {
    p = importer().then((m) =>
      m.default({
        print: (): void => {},
        printErr: (msg: string): void => {
          if (/error|fail/i.test(msg)) lastCodecError = msg.replace(/^\[ERROR\]\s*/, '').trim();
        },
      }),
    ) as Promise<Record<string, unknown>>;
    loaded.set(key, p);
  }
  return p;
}

async function decoderClass(ts: string): Promise<{ cls: DecoderClass; name: string }> {
  if (ts === TS.jpegBaseline) {
    const m = await loadCodec('jpeg', () => import('@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs'));
    return { cls: m.JPEGDecoder as DecoderClass, name: 'JPEG baseline' };
  }
  if (ts === TS.jpegLsLossless || ts === TS.jpegLsNearLossless) {
    const m = await loadCodec('jpegls', () => import('@cornerstonejs/codec-charls/decodewasmjs'));
    return { cls: m.JpegLSDecoder as DecoderClass, name: 'JPEG-LS' };
  }
  if (ts === TS.htj2kLossless || ts === TS.htj2kLosslessRpcl || ts === TS.htj2k) {
    const m = await loadCodec('htj2k', () => import('@cornerstonejs/codec-openjph/wasmjs'));
    return { cls: m.HTJ2KDecoder as DecoderClass, name: 'HTJ2K' };
  }
  const m = await loadCodec('j2k', () => import('@cornerstonejs/codec-openjpeg/decodewasmjs'));
  return { cls: m.J2KDecoder as DecoderClass, name: 'JPEG 2000' };
}

export function isCompressedSupported(ts: string): boolean {
  return [
    TS.jpegBaseline,
    TS.jpegLossless14,
    TS.jpegLosslessSV1,
    TS.jpegLsLossless,
    TS.jpegLsNearLossless,
    TS.j2kLossless,
    TS.j2k,
    TS.htj2kLossless,
    TS.htj2kLosslessRpcl,
    TS.htj2k,
    TS.rle,
  ].includes(ts as never);
}

/** Decode one encapsulated frame; `path` names the file in messages. */
export async function decodeCompressedFrame(frame: Uint8Array, ts: string, fmt: FrameFormat, path: string): Promise<DecodedFrame> {
  if (ts === TS.rle) return { bytes: decodeRle(frame, fmt, path), components: fmt.samplesPerPixel, planar: true, rgb: false };
  if (ts === TS.jpegLossless14 || ts === TS.jpegLosslessSV1) return decodeJpegLossless(frame, fmt, path);
  if (!isCompressedSupported(ts)) {
    const hint =
      ts === TS.jpegExtended
        ? 'no WebAssembly 12-bit lossy JPEG decoder is published on npm; decompress it first, e.g. `dcmdjpeg in.dcm out.dcm` or `gdcmconv --raw`'
        : 'decompress the series first, e.g. `gdcmconv --raw in.dcm out.dcm` or `dcmdjpeg`';
    throw new MedsamError(
      `DICOM file ${path} uses transfer syntax ${ts}${ts === TS.jpegExtended ? ' (JPEG extended 12-bit)' : ''}, which this reader cannot decode (supported: uncompressed, deflate, big endian, ${COMPRESSED_SUPPORTED})`,
      hint,
    );
  }
  const { cls, name } = await decoderClass(ts);
  const dec = new cls();
  lastCodecError = '';
  try {
    dec.getEncodedBuffer(frame.length).set(frame);
    dec.decode();
    const info = dec.getFrameInfo();
    if (info.width === 0 || info.height === 0 || lastCodecError) {
      throw new MedsamError(
        `DICOM file ${path}: ${name} decoding failed (${lastCodecError || 'unreadable codestream header'})`,
        'the compressed data is corrupt; re-export the series',
      );
    }
    if (info.width !== fmt.columns || info.height !== fmt.rows || info.componentCount !== fmt.samplesPerPixel) {
      throw new MedsamError(
        `DICOM file ${path}: ${name} frame is ${info.width}x${info.height}x${info.componentCount}, header says ${fmt.columns}x${fmt.rows}x${fmt.samplesPerPixel}`,
        'the file is inconsistent; re-export the series',
      );
    }
    return { bytes: dec.getDecodedBuffer().slice(), components: info.componentCount, planar: false, rgb: ts === TS.jpegBaseline };
  } catch (e) {
    if (e instanceof MedsamError) throw e;
    throw new MedsamError(
      `DICOM file ${path}: ${name} decoding failed (${errorMessage(e)})`,
      'the compressed data is corrupt; re-export the series',
    );
  } finally {
    dec.delete();
  }
}

async function decodeJpegLossless(frame: Uint8Array, fmt: FrameFormat, path: string): Promise<DecodedFrame> {
  const { Decoder } = await import('jpeg-lossless-decoder-js');
  const bytesPer = fmt.bitsAllocated <= 8 ? 1 : 2;
  let out: Uint8Array | Uint16Array;
  try {
    const copy = frame.slice();
    out = new Decoder().decode(copy.buffer, 0, copy.length, bytesPer);
  } catch (e) {
    throw new MedsamError(
      `DICOM file ${path}: JPEG lossless decoding failed (${errorMessage(e)})`,
      'the compressed data is corrupt; re-export the series',
    );
  }
  const n = fmt.rows * fmt.columns * fmt.samplesPerPixel;
  if (!out || out.length < n)
    throw new MedsamError(
      `DICOM file ${path}: JPEG lossless frame decoded to ${out?.length ?? 0} samples, expected ${n}`,
      'the file is inconsistent; re-export the series',
    );
  return { bytes: new Uint8Array(out.buffer, out.byteOffset, n * bytesPer), components: fmt.samplesPerPixel, planar: false, rgb: false };
}

/**
 * DICOM RLE Lossless (PS3.5 Annex G): a 64-byte table of segment offsets, one PackBits segment per
 * byte plane per sample, most significant byte first. Output: planar, little-endian samples.
 */
function decodeRle(frame: Uint8Array, fmt: FrameFormat, path: string): Uint8Array {
  const n = fmt.rows * fmt.columns;
  const bytesPer = fmt.bitsAllocated / 8;
  const spp = fmt.samplesPerPixel;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (frame.length < 64) throw new MedsamError(`DICOM file ${path}: RLE frame is truncated`, 're-export the series');
  const segments = view.getUint32(0, true);
  if (segments !== bytesPer * spp)
    throw new MedsamError(
      `DICOM file ${path}: RLE frame has ${segments} segments, expected ${bytesPer * spp}`,
      'the file is corrupt; re-export the series',
    );
  const out = new Uint8Array(n * bytesPer * spp);
  for (let s = 0; s < segments; s++) {
    const start = view.getUint32(4 + 4 * s, true);
    const end = s + 1 < segments ? view.getUint32(8 + 4 * s, true) : frame.length;
    const sample = Math.floor(s / bytesPer);
    const plane = bytesPer - 1 - (s % bytesPer); // little-endian output: the first segment of a sample is its high byte
    const base = sample * n * bytesPer;
    let i = start;
    let o = 0;
    while (i < end && o < n) {
      const h = (frame[i++] << 24) >> 24;
      if (h >= 0) {
        for (let k = 0; k <= h && o < n; k++) out[base + o++ * bytesPer + plane] = frame[i++];
      } else if (h !== -128) {
        const v = frame[i++];
        for (let k = 0; k < 1 - h && o < n; k++) out[base + o++ * bytesPer + plane] = v;
      }
    }
    if (o < n)
      throw new MedsamError(
        `DICOM file ${path}: RLE segment ${s} decodes to ${o} of ${n} pixels`,
        'the compressed data is truncated; re-export the series',
      );
  }
  return out;
}
