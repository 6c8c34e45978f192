// Hostile-input generator for test/hostile/hostile.test.ts (not a test file itself). Each case is
// written into its own folder: the input(s), the CLI arguments, what the one error line must say,
// and what must stay untouched. Classes follow issue #9: reads outside the input, inputs destroyed
// by outputs, impossible data, decompression bombs, messages that must point somewhere real.
import { createDeflate, createDeflateRaw, gzipSync, type Deflate, type DeflateRaw } from 'node:zlib';
import { mkdirSync, symlinkSync, writeFileSync, linkSync } from 'node:fs';
import { join } from 'node:path';
import { encode as encodePng } from 'fast-png';
import { concatBytes } from '../../src/io/bytes.js';
import { crc32 } from '../../src/io/zip.js';
import { buildNifti, bytesOf } from '../io/niftiBuilder.js';

export type HostileClass = 'outside-read' | 'input-destroyed' | 'impossible-data' | 'bomb' | 'message';

export interface HostileCase {
  name: string;
  klass: HostileClass;
  /** CLI arguments (paths absolute). */
  args: string[];
  /** The single `medsam2: error:` line must match this. */
  message: RegExp;
  /** Files that must be byte-identical afterwards. */
  inputs: string[];
  /** The case folder: nothing may appear in it or vanish from it. */
  dir: string;
  /**
   * Bombs: the decoded size the file declares and the reader may allocate (0 when it must refuse
   * before allocating anything); the CLI's peak RSS may exceed a baseline by at most 2x this.
   */
  declaredBytes?: number;
  env?: Record<string, string>;
}

const MiB = 1024 * 1024;

function put(dir: string, name: string, bytes: Uint8Array | string): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

/** `prefix` then `total` zero bytes as concatenated gzip members (valid gzip; cheap to build). */
function gzipBomb(prefix: Uint8Array, total: number): Uint8Array {
  const chunk = 64 * MiB;
  const zeros = new Uint8Array(chunk);
  const first = gzipSync(concatBytes([prefix, zeros]));
  const rest = gzipSync(zeros);
  const members = [first];
  for (let n = chunk; n < total; n += chunk) members.push(rest);
  return concatBytes(members);
}

/** One zlib (or raw deflate) stream of `prefix` + `total` zeros, built by streaming (no big buffer). */
async function deflateBomb(prefix: Uint8Array, total: number, raw: boolean): Promise<Uint8Array> {
  const z: Deflate | DeflateRaw = raw ? createDeflateRaw({ level: 9 }) : createDeflate({ level: 9 });
  const out: Uint8Array[] = [];
  z.on('data', (b: Buffer) => out.push(new Uint8Array(b)));
  const done = new Promise<void>((res, rej) => {
    z.on('end', res);
    z.on('error', rej);
  });
  const zeros = new Uint8Array(16 * MiB);
  z.write(prefix);
  for (let n = 0; n < total; n += zeros.length) {
    if (!z.write(zeros)) await new Promise((r) => z.once('drain', r));
  }
  z.end();
  await done;
  return concatBytes(out);
}

function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

function pngWith(width: number, height: number, idat: Uint8Array): Uint8Array {
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr[8] = 8;
  ihdr[9] = 0; // 8-bit gray
  return concatBytes([
    Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', idat),
    pngChunk('IEND', new Uint8Array(0)),
  ]);
}

/** A hand-built one-member ZIP whose central directory declares `size` for `data` (deflated). */
function zipDeclaring(name: string, data: Uint8Array, size: number): Uint8Array {
  const nameBytes = new TextEncoder().encode(name);
  const local = new Uint8Array(30 + nameBytes.length);
  let dv = new DataView(local.buffer);
  dv.setUint32(0, 0x04034b50, true);
  dv.setUint16(4, 20, true);
  dv.setUint16(8, 8, true);
  dv.setUint32(18, data.length, true);
  dv.setUint32(22, size, true);
  dv.setUint16(26, nameBytes.length, true);
  local.set(nameBytes, 30);
  const central = new Uint8Array(46 + nameBytes.length);
  dv = new DataView(central.buffer);
  dv.setUint32(0, 0x02014b50, true);
  dv.setUint16(4, 20, true);
  dv.setUint16(6, 20, true);
  dv.setUint16(10, 8, true);
  dv.setUint32(20, data.length, true);
  dv.setUint32(24, size, true);
  dv.setUint16(28, nameBytes.length, true);
  dv.setUint32(42, 0, true);
  central.set(nameBytes, 46);
  const eocd = new Uint8Array(22);
  dv = new DataView(eocd.buffer);
  dv.setUint32(0, 0x06054b50, true);
  dv.setUint16(8, 1, true);
  dv.setUint16(10, 1, true);
  dv.setUint32(12, central.length, true);
  dv.setUint32(16, local.length + data.length, true);
  return concatBytes([local, data, central, eocd]);
}

function npyHeader(shape: number[], descr = '|u1'): Uint8Array {
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')},), }`;
  const total = Math.ceil((10 + dict.length + 1) / 64) * 64;
  dict = dict.padEnd(total - 11, ' ') + '\n';
  const out = new Uint8Array(total);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  new DataView(out.buffer).setUint16(8, dict.length, true);
  for (let i = 0; i < dict.length; i++) out[10 + i] = dict.charCodeAt(i);
  return out;
}

const smallNifti = (over: Partial<Parameters<typeof buildNifti>[0]> = {}): Uint8Array =>
  buildNifti({
    dim: [3, 16, 16, 4],
    datatype: 4,
    bitpix: 16,
    pixdim: [1, 1, 1, 1],
    voxels: bytesOf(Int16Array.from({ length: 1024 }, (_, i) => ((i * 37) % 200) - 100)),
    ...over,
  });

const nrrdHead = (dataFile: string, extra = ''): string =>
  `NRRD0004\ntype: uchar\ndimension: 3\nsizes: 8 8 2\nencoding: raw\n${extra}data file: ${dataFile}\n`;
const mhdHead = (dataFile: string): string =>
  `ObjectType = Image\nNDims = 3\nDimSize = 8 8 2\nElementType = MET_UCHAR\nElementDataFile = ${dataFile}\n`;

/** The case-specific fields of a case; its name, class and folder come from `make`. */
type CaseBody = Omit<HostileCase, 'name' | 'klass' | 'dir'>;

/** `segment` of `scan` with a prompt that is fine for smallNifti(), writing `out` (plus `extra`). */
const segmentArgs = (scan: string, out: string, ...extra: string[]): string[] => [
  'segment',
  scan,
  '--slice',
  '1',
  '--box',
  '2,2,10,10',
  '-o',
  out,
  ...extra,
];

/**
 * Writes every hostile case under `root` (one folder each) and a `planted.raw` beside them: data
 * outside every case folder that a confined reader must never read. Returns the cases.
 */
export async function generateHostileCases(root: string): Promise<HostileCase[]> {
  const planted = put(root, 'planted.raw', new Uint8Array(128).fill(200));
  const cases: HostileCase[] = [];
  /** One case in its own folder: `build` writes the input(s) there and says the rest. */
  const make = async (name: string, klass: HostileClass, build: (dir: string) => CaseBody | Promise<CaseBody>): Promise<void> => {
    const dir = join(root, name);
    mkdirSync(dir);
    cases.push({ name, klass, dir, ...(await build(dir)) });
  };

  // 1. Reads outside the input folder (info reads the header; the planted file would change the result).
  for (const [name, header, text] of [
    ['nhdr-absolute', 'x.nhdr', () => nrrdHead(planted)],
    ['nhdr-dotdot', 'x.nhdr', () => nrrdHead('../planted.raw')],
    ['nhdr-list', 'x.nhdr', () => nrrdHead('LIST') + 'ok.raw\n../planted.raw\n'],
    ['nhdr-pattern', 'x.nhdr', () => nrrdHead('../plant%d.raw 1 2 1')],
    ['mhd-absolute', 'x.mhd', () => mhdHead(planted)],
    ['mhd-dotdot', 'x.mhd', () => mhdHead('../planted.raw')],
    ['mhd-list', 'x.mhd', () => mhdHead('LIST') + 'ok.raw\n../planted.raw\n'],
    ['mhd-symlink', 'x.mhd', () => mhdHead('link.raw')],
  ] as const) {
    await make(name, 'outside-read', (dir) => {
      const h = put(dir, header, text());
      const ok = put(dir, 'ok.raw', new Uint8Array(64).fill(7));
      if (name === 'mhd-symlink') symlinkSync(planted, join(dir, 'link.raw'));
      if (name === 'nhdr-pattern') {
        put(root, 'plant1.raw', new Uint8Array(64).fill(9));
        put(root, 'plant2.raw', new Uint8Array(64).fill(9));
      }
      return { args: ['info', h], message: /outside the header's folder/, inputs: [h, ok, planted] };
    });
  }

  // 2. Inputs destroyed by outputs (segment refuses before loading any model).
  await make('out-is-input', 'input-destroyed', (dir) => {
    const scan = put(dir, 'scan.nii', smallNifti());
    return { args: segmentArgs(scan, scan), message: /-o .*scan\.nii would overwrite the input file/, inputs: [scan] };
  });
  for (const [name, link] of [
    ['out-is-hardlink', linkSync],
    ['out-is-symlink', symlinkSync],
  ] as const) {
    await make(name, 'input-destroyed', (dir) => {
      const scan = put(dir, 'scan.nii', smallNifti());
      const mask = join(dir, 'mask.nii');
      link(scan, mask);
      return { args: segmentArgs(scan, mask), message: /-o .*mask\.nii would overwrite the input file/, inputs: [scan] };
    });
  }
  await make('preview-is-input', 'input-destroyed', (dir) => {
    const pic = put(dir, 'pic.png', encodePng({ width: 16, height: 16, data: new Uint8Array(256).fill(90), channels: 1, depth: 8 }));
    return {
      args: ['segment', pic, '--slice', '0', '--box', '2,2,10,10', '-o', join(dir, 'mask.png'), '--preview', pic],
      message: /--preview .*pic\.png would overwrite the input file/,
      inputs: [pic],
    };
  });
  // The .nhdr's data file is only known after reading the header: the guard runs again then.
  await make('out-is-detached-data', 'input-destroyed', (dir) => {
    const h = put(dir, 'y.nhdr', nrrdHead('y.nii'));
    const raw = put(dir, 'y.nii', new Uint8Array(128).fill(50));
    return {
      args: ['segment', h, '--slice', '0', '--box', '1,1,6,6', '-o', raw],
      message: /-o .*y\.nii would overwrite the input file/,
      inputs: [h, raw],
    };
  });
  await make('video-masks-is-input', 'input-destroyed', (dir) => {
    const frames = join(dir, 'masks');
    mkdirSync(frames);
    const inputs = [0, 1].map((i) =>
      put(frames, `0000${i}.png`, encodePng({ width: 16, height: 16, data: new Uint8Array(768).fill(40 * i), channels: 3, depth: 8 })),
    );
    return {
      args: ['video', frames, '--frame', '0', '--box', '2,2,10,10', '-o', dir],
      message: /-o .*masks would overwrite the (folder holding the input file|input folder)/,
      inputs,
    };
  });
  await make('two-outputs-same-file', 'input-destroyed', (dir) => {
    const scan = put(dir, 'scan.nii', smallNifti());
    const out = join(dir, 'same.png');
    return { args: segmentArgs(scan, out, '--preview', out), message: /are the same file/, inputs: [scan] };
  });

  // 3. Impossible data.
  await make('all-nan', 'impossible-data', (dir) => {
    const nan = put(
      dir,
      'nan.nii',
      buildNifti({ dim: [3, 8, 8, 2], datatype: 16, bitpix: 32, voxels: bytesOf(new Float32Array(128).fill(NaN)) }),
    );
    return { args: ['info', nan], message: /no finite voxel value/, inputs: [nan] };
  });
  for (const [name, prompt, message] of [
    ['zero-area-box', ['--box', '5,2,5,10'], /has zero width/],
    ['zero-length-recist', ['--recist', '6,6,6,6'], /RECIST line .* too short/],
  ] as const) {
    await make(name, 'impossible-data', (dir) => {
      const scan = put(dir, 'scan.nii', smallNifti());
      return { args: ['segment', scan, '--slice', '1', ...prompt, '-o', join(dir, 'm.nii')], message, inputs: [scan] };
    });
  }

  // 4. Decompression bombs: headers declare 32 MiB, the data inflates to 512 (gzip) / 256 MiB (zlib, deflate).
  // Each is `medsam2 info` of one file; declaredBytes 0 = refused before allocating anything.
  const declared = 32 * MiB;
  const npyBig = npyHeader([64, 512, 1024]); // 32 MiB uint8
  const bombs: [string, string, () => Promise<Uint8Array>, RegExp, number, Record<string, string>?][] = [
    [
      'nifti-gz-bomb',
      'bomb.nii.gz',
      // 512*512*64*2 = 32 MiB
      async () => gzipBomb(buildNifti({ dim: [3, 512, 512, 64], datatype: 4, bitpix: 16, voxels: new Uint8Array(0) }), 512 * MiB),
      /inflates past .* declares 512x512x64 int16/,
      declared,
    ],
    [
      'nrrd-gz-bomb',
      'bomb.nrrd',
      async () =>
        concatBytes([
          new TextEncoder().encode('NRRD0004\ntype: short\ndimension: 3\nsizes: 512 512 64\nencoding: gzip\nendian: little\n\n'),
          gzipBomb(new Uint8Array(0), 512 * MiB),
        ]),
      /inflates past .* declares 512x512x64 int16/,
      declared,
    ],
    [
      'mha-zlib-bomb',
      'bomb.mha',
      async () =>
        concatBytes([
          new TextEncoder().encode(
            'ObjectType = Image\nNDims = 3\nDimSize = 512 512 64\nElementType = MET_SHORT\nCompressedData = True\nElementDataFile = LOCAL\n',
          ),
          await deflateBomb(new Uint8Array(0), 256 * MiB, false),
        ]),
      /inflates past .* declares 512x512x64 int16/,
      declared,
    ],
    [
      'npz-bomb',
      'bomb.npz',
      async () => zipDeclaring('imgs.npy', await deflateBomb(npyBig, 256 * MiB, true), npyBig.length + declared),
      /member imgs\.npy: compressed data inflates past/,
      declared,
    ],
    [
      'png-idat-bomb',
      'bomb.png',
      async () => pngWith(4096, 4096, await deflateBomb(new Uint8Array(0), 256 * MiB, false)), // declares 16 MiB
      /image .*bomb\.png: compressed data inflates past/,
      16 * MiB,
    ],
    [
      'npz-declares-too-much',
      'big.npz',
      async () => zipDeclaring('imgs.npy', await deflateBomb(npyBig, 1 * MiB, true), npyBig.length + declared),
      /member imgs\.npy declares .* above the limit/,
      0,
      { MEDSAM2_MAX_VOXELS: '1000000' },
    ],
    [
      'nifti-absurd-dims',
      'huge.nii',
      async () => buildNifti({ dim: [3, 30000, 30000, 30000], datatype: 2, bitpix: 8, voxels: new Uint8Array(64) }),
      /declares 30000x30000x30000 = .* voxels, above the limit .*--max-voxels/,
      0,
    ],
  ];
  for (const [name, file, bytes, message, declaredBytes, env] of bombs) {
    await make(name, 'bomb', async (dir) => {
      const p = put(dir, file, await bytes());
      return { args: ['info', p], message, inputs: [p], declaredBytes, ...(env ? { env } : {}) };
    });
  }

  // 5. Messages that must point somewhere real and leak nothing.
  await make('huge-png', 'message', (dir) => {
    const p = put(dir, 'huge.png', pngWith(100000, 100000, new Uint8Array(0)));
    return { args: ['info', p], message: /huge\.png declares 100000x100000 = 10000000000 pixels, above the limit/, inputs: [p] };
  });
  const fmri = (dir: string): string =>
    put(dir, 'fmri.nii', buildNifti({ dim: [4, 4, 4, 2, 3], datatype: 4, bitpix: 16, voxels: new Uint8Array(4 * 4 * 2 * 3 * 2) }));
  await make('nifti-4d', 'message', (dir) => {
    const p = fmri(dir);
    return {
      args: ['segment', p, '--slice', '0', '--box', '0,0,3,3', '-o', join(dir, 'm.nii')],
      message: /is 4D \(3 volumes of 4x4x2\) — choose one volume with --volume N/,
      inputs: [p],
    };
  });
  await make('nifti-4d-bad-volume', 'message', (dir) => {
    const p = fmri(dir);
    return { args: ['info', p, '--volume', '7'], message: /volume 7 is out of range .* pass --volume between 0 and 2/, inputs: [p] };
  });
  await make('eval-corrupt-case', 'message', (dir) => {
    const cases = join(dir, 'cases');
    mkdirSync(cases);
    const p = put(cases, 'case1.npz', new Uint8Array([0x50, 0x4b, 0x03, 0x04, 1, 2, 3]));
    return { args: ['eval', cases, '--out', join(dir, 'report')], message: /case1\.npz is not a valid \.npz archive/, inputs: [p] };
  });
  // eval's output folders are checked before any case is read or model loaded: a file where a folder must be.
  for (const [name, flag, where, message] of [
    ['eval-previews-is-file', '--previews', 'taken', /--previews .*taken is a file, not a folder — give --previews a folder/],
    ['eval-out-under-file', '--out', 'taken/report', /cannot create --out folder .*taken\/report: .*taken is a file/],
    ['eval-cache-is-file', '--embedding-cache', 'taken', /--embedding-cache .*taken is a file, not a folder/],
  ] as const) {
    await make(name, 'message', (dir) => {
      const cases = join(dir, 'cases');
      mkdirSync(cases);
      const p = put(cases, 'case1.npz', new Uint8Array([0x50, 0x4b, 0x03, 0x04, 1, 2, 3]));
      const taken = put(dir, 'taken', 'a file of the user');
      const out = flag === '--out' ? [] : ['--out', join(dir, 'report')];
      return { args: ['eval', cases, ...out, flag, join(dir, where)], message, inputs: [p, taken] };
    });
  }
  return cases;
}
