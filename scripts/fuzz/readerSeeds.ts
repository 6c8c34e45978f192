/**
 * Small valid inputs for the reader fuzzer (scripts/fuzzReaders.ts), one per format and layout the
 * readers accept, each with the call that reads it. Built in memory with the repo's own writers
 * where one exists (NIfTI, NRRD, npz, zip, PNG), hand-typed text headers where the format is text
 * (NRRD variants, MetaImage), and tiny real files from ../shared/data for what cannot be built
 * cheaply here (DICOM slices, an enhanced multi-frame object, a SEG, a JPEG). Nothing is copied
 * into the repo; a seed whose file is absent is simply left out.
 */
import { MedsamError } from '../../src/common/errors.js';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { encodeNiftiImage } from '../../src/io/niftiWrite.js';
import { encodeNrrd } from '../../src/io/nrrdWrite.js';
import { encodeNpz } from '../../src/io/npz.js';
import { buildZip, ZipArchive } from '../../src/io/zip.js';
import { encodePngMask } from '../../src/io/image2d.js';
import { readVolumeBytes } from '../../src/io/volumeBytes.js';
import { readDicomObject, readDicomSeries, type DicomInput } from '../../src/io/dicom/series.js';
import { readSeg } from '../../src/io/dicom/segRead.js';
import { IDENTITY_DIRECTION, type Volume } from '../../src/io/volume.js';
import type { ReadLimits } from '../../src/io/readLimits.js';
import type { VideoFrames } from '../../src/io/video.js';

/**
 * What a read produced: a volume (checked for finite geometry), decoded video frames (checked for a
 * whole frame size and rate, every frame its size), or `other` for a non-volume result (SEG frames).
 */
export type ReadResult = { volume: Volume } | { video: VideoFrames } | { other: string };

export interface ReaderSeed {
  /** Format family, for the summary (e.g. 'nifti', 'nrrd-detached'). */
  format: string;
  /** File name handed to the reader (its extension picks the format). */
  name: string;
  bytes: Uint8Array;
  /** Bytes where the header lives (mutations favour it); the rest is payload. */
  headerLength: number;
  /** Text header (NRRD, MetaImage): numbers and values in it are mutation targets. */
  text?: boolean;
  /** gzip payload at this offset: mutations may also damage the inflated bytes and recompress. */
  gzipAt?: number;
  /** A zip archive: mutations may also damage one member and rebuild a well-formed archive. */
  zip?: boolean;
  read(bytes: Uint8Array, limits: ReadLimits): Promise<ReadResult>;
}

const SHARED = process.env.MEDSAM2_SHARED_DATA ?? join(import.meta.dirname, '../../../shared/data');
/** The smallest Kvasir picture (a real baseline JPEG). */
const SMALLEST_JPEG = 'cju0qx73cjw570799j4n5cjze.jpg';
const quiet = (): void => {};

function smallVolume(dims: [number, number, number], data: Volume['data']): Volume {
  return {
    dims,
    spacing: [0.8, 0.9, 2.5],
    origin: [-10, 20, 30],
    direction: [...IDENTITY_DIRECTION],
    data,
    source: { format: 'nifti', path: 'seed' },
  };
}

function ramp(n: number): Int16Array {
  return Int16Array.from({ length: n }, (_, i) => ((i * 37) % 400) - 200);
}

const bytesRead =
  (name: string, extra: Record<string, Uint8Array> = {}) =>
  async (bytes: Uint8Array, limits: ReadLimits): Promise<ReadResult> => ({
    volume: readVolumeBytes(bytes, name, {
      ...limits,
      onWarning: quiet,
      readDataFile: (n) => {
        const b = extra[n];
        // As the path layer's confined reader refuses a name that is not there.
        if (!b) throw new MedsamError(`data file ${n} does not exist beside ${name}`, "check the header's data file line");
        return b;
      },
    }),
  });

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const o = new Uint8Array(a.length + b.length);
  o.set(a);
  o.set(b, a.length);
  return o;
};
const rawOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));

function shared(rel: string): Uint8Array | undefined {
  const p = join(SHARED, rel);
  return existsSync(p) ? new Uint8Array(readFileSync(p)) : undefined;
}

/** The seeds available on this machine (DICOM, SEG and JPEG need ../shared/data). */
export async function readerSeeds(): Promise<ReaderSeed[]> {
  const dims: [number, number, number] = [6, 5, 4];
  const n = dims[0] * dims[1] * dims[2];
  const vox = ramp(n);
  const seeds: ReaderSeed[] = [];

  const nii = encodeNiftiImage(smallVolume(dims, vox), 'fuzz seed');
  seeds.push({ format: 'nifti', name: 'seed.nii', bytes: nii, headerLength: 352, read: bytesRead('seed.nii') });
  seeds.push({
    format: 'nifti-gz',
    name: 'seed.nii.gz',
    bytes: gzipSync(nii),
    headerLength: 32,
    gzipAt: 0,
    read: bytesRead('seed.nii.gz'),
  });

  const nrrdGz = encodeNrrd(
    {
      ...smallVolume(
        dims,
        Uint8Array.from(vox, (x) => x & 7),
      ),
      source: { format: 'nrrd', path: 's' },
    },
    'seed.nrrd',
  );
  const gzStart = nrrdGz.findIndex((b, i) => b === 0x1f && nrrdGz[i + 1] === 0x8b);
  seeds.push({
    format: 'nrrd-gzip',
    name: 'seed.nrrd',
    bytes: nrrdGz,
    headerLength: gzStart,
    text: true,
    gzipAt: gzStart,
    read: bytesRead('seed.nrrd'),
  });
  const nrrdHead = (encoding: string, dataFile?: string): string =>
    [
      'NRRD0004',
      'type: short',
      'dimension: 3',
      'space: left-posterior-superior',
      `sizes: ${dims.join(' ')}`,
      'space directions: (0.8,0,0) (0,0.9,0) (0,0,2.5)',
      'kinds: domain domain domain',
      'endian: little',
      `encoding: ${encoding}`,
      'space origin: (-10,20,30)',
      ...(dataFile ? [`data file: ${dataFile}`] : []),
      '',
      '',
    ].join('\n');
  const rawHead = enc(nrrdHead('raw'));
  seeds.push({
    format: 'nrrd-raw',
    name: 'seed.nrrd',
    bytes: concat(rawHead, rawOf(vox)),
    headerLength: rawHead.length,
    text: true,
    read: bytesRead('seed.nrrd'),
  });
  const detached = enc(nrrdHead('raw', 'seed.raw'));
  seeds.push({
    format: 'nrrd-detached',
    name: 'seed.nhdr',
    bytes: detached,
    headerLength: detached.length,
    text: true,
    read: bytesRead('seed.nhdr', { 'seed.raw': rawOf(vox) }),
  });
  const detachedGz = enc(nrrdHead('gzip', 'seed.raw.gz'));
  seeds.push({
    format: 'nrrd-detached',
    name: 'seed.nhdr',
    bytes: detachedGz,
    headerLength: detachedGz.length,
    text: true,
    read: bytesRead('seed.nhdr', { 'seed.raw.gz': gzipSync(rawOf(vox)) }),
  });

  const mhaHead = (dataFile: string, compressed = false, size?: number): string =>
    [
      'ObjectType = Image',
      'NDims = 3',
      'BinaryData = True',
      'BinaryDataByteOrderMSB = False',
      `CompressedData = ${compressed ? 'True' : 'False'}`,
      ...(size !== undefined ? [`CompressedDataSize = ${size}`] : []),
      'TransformMatrix = 1 0 0 0 1 0 0 0 1',
      'Offset = -10 20 30',
      'CenterOfRotation = 0 0 0',
      'AnatomicalOrientation = RAI',
      'ElementSpacing = 0.8 0.9 2.5',
      `DimSize = ${dims.join(' ')}`,
      'ElementType = MET_SHORT',
      `ElementDataFile = ${dataFile}`,
      '',
    ].join('\n');
  const mha = enc(mhaHead('LOCAL'));
  seeds.push({
    format: 'metaimage',
    name: 'seed.mha',
    bytes: concat(mha, rawOf(vox)),
    headerLength: mha.length,
    text: true,
    read: bytesRead('seed.mha'),
  });
  const z = (await import('node:zlib')).deflateSync(rawOf(vox));
  const mhaZ = enc(mhaHead('LOCAL', true, z.length));
  seeds.push({
    format: 'metaimage-zlib',
    name: 'seed.mha',
    bytes: concat(mhaZ, z),
    headerLength: mhaZ.length,
    text: true,
    read: bytesRead('seed.mha'),
  });
  const mhd = enc(mhaHead('seed.raw'));
  seeds.push({
    format: 'metaimage-detached',
    name: 'seed.mhd',
    bytes: mhd,
    headerLength: mhd.length,
    text: true,
    read: bytesRead('seed.mhd', { 'seed.raw': rawOf(vox) }),
  });

  const npzArrays = {
    imgs: { dtype: 'int16' as const, shape: [dims[2], dims[1], dims[0]], data: vox },
    gts: { dtype: 'uint8' as const, shape: [dims[2], dims[1], dims[0]], data: Uint8Array.from(vox, (x) => (x > 0 ? 1 : 0)) },
    spacing: { dtype: 'float64' as const, shape: [3], data: Float64Array.from([0.8, 0.9, 2.5]) },
  };
  for (const compress of [false, true]) {
    const npz = encodeNpz(npzArrays, { compress });
    seeds.push({
      format: compress ? 'npz-deflate' : 'npz',
      name: 'seed.npz',
      bytes: npz,
      headerLength: 256,
      zip: true,
      read: bytesRead('seed.npz'),
    });
  }

  const png = encodePngMask(
    {
      ...smallVolume(
        [12, 9, 1],
        Uint8Array.from({ length: 108 }, (_, i) => i % 3),
      ),
      source: { format: 'png', path: 's' },
    },
    'seed.png',
  );
  seeds.push({ format: 'png', name: 'seed.png', bytes: png, headerLength: 64, read: bytesRead('seed.png') });
  const jpeg = shared(`endoscopy/kvasir/images/${SMALLEST_JPEG}`);
  if (jpeg) seeds.push({ format: 'jpeg', name: 'seed.jpg', bytes: jpeg, headerLength: 640, read: bytesRead('seed.jpg') });

  // DICOM: the 3-slice implicit-VR CT (one slice damaged per case) and an enhanced multi-frame MR.
  const slices = ['01.dcm', '02.dcm', '03.dcm'].map((f) => shared(`dicom/seg-ct-3slice/${f}`));
  if (slices.every((s) => s !== undefined)) {
    const [a, b, c] = slices as Uint8Array[];
    const series = (bytes: Uint8Array): DicomInput[] => [
      { name: '01.dcm', bytes: a },
      { name: '02.dcm', bytes },
      { name: '03.dcm', bytes: c },
    ];
    seeds.push({
      format: 'dicom-series',
      name: '02.dcm',
      bytes: b,
      headerLength: dicomPixelStart(b),
      read: async (bytes) => ({ volume: await readDicomSeries(series(bytes), { onWarning: quiet }) }),
    });
    const zipped = buildZip({ 'ct/01.dcm': a, 'ct/02.dcm': b, 'ct/03.dcm': c }, true);
    seeds.push({
      format: 'dicom-zip',
      name: 'ct.zip',
      bytes: zipped,
      headerLength: 2048,
      zip: true,
      read: async (bytes, limits) => {
        // As the server reads a DICOM zip: the archive's members, then the series reader.
        const zip = ZipArchive.open(bytes, 'ct.zip', 'zip archive', limits);
        const inputs = zip
          .names()
          .filter((m) => !m.endsWith('/'))
          .map((m) => ({ name: m, bytes: zip.read(m) }));
        return { volume: await readDicomSeries(inputs, { onWarning: quiet }) };
      },
    });
    const segBytes = shared('dicom/seg-ct-3slice/liver.seg.dcm');
    if (segBytes) {
      const grid = await readDicomSeries(series(b), { onWarning: quiet });
      seeds.push({
        format: 'dicom-seg',
        name: 'liver.seg.dcm',
        bytes: segBytes,
        headerLength: dicomPixelStart(segBytes),
        read: async (bytes) => {
          const s = readSeg({ name: 'liver.seg.dcm', bytes }, grid);
          return { other: `${s.segments.length} segments` };
        },
      });
    }
  }
  const enhanced = shared('formats/enhanced_mr.dcm');
  if (enhanced)
    seeds.push({
      format: 'dicom-file',
      name: 'enhanced_mr.dcm',
      bytes: enhanced,
      headerLength: dicomPixelStart(enhanced),
      read: async (bytes) => ({ volume: await readDicomObject({ name: 'enhanced_mr.dcm', bytes }, { onWarning: quiet }) }),
    });
  // Plain Uint8Array copies: a Node Buffer's slice() is a view, so mutating a "copy" of one damaged the seed itself.
  return seeds.map((s) => ({ ...s, bytes: Uint8Array.from(s.bytes) }));
}

/** Offset of the Pixel Data element (7FE0,0010), or the first 4 KiB when not found: where the header ends. */
function dicomPixelStart(b: Uint8Array): number {
  for (let i = 132; i + 4 <= b.length; i++) if (b[i] === 0xe0 && b[i + 1] === 0x7f && b[i + 2] === 0x10 && b[i + 3] === 0x00) return i + 12;
  return Math.min(b.length, 4096);
}
