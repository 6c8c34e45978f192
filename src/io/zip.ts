import { zipSync, type Zippable } from 'fflate';
import { MedsamError } from '../common/errors.js';
import { formatBytes } from './bytes.js';
import { inflateLimited } from './inflateLimited.js';
import { checkByteCount, type ReadLimits } from './readLimits.js';

/**
 * Minimal ZIP reader for .npz and PyTorch .pt archives.
 * The central directory is parsed by hand (rather than fflate's unzipSync) so that stored
 * members are zero-copy views into the file (a 156 MB checkpoint is not copied twice), members
 * are decoded only when asked for, ZIP64 records (numpy writes them) are handled, and
 * truncation is reported precisely. Deflate itself is fflate's, streamed with the member's declared
 * size as the output limit (a zip bomb stops there). Node-free: CRC-32 is a small table loop
 * below because fflate does not export its own and Node's zlib.crc32 is Node-only.
 */
export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflate. */
  method: number;
  compressedSize: number;
  size: number;
  crc32: number;
  localHeaderOffset: number;
}

const EOCD_SIG = 0x06054b50;
const EOCD64_LOCATOR_SIG = 0x07064b50;
const EOCD64_SIG = 0x06064b50;
const CDIR_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;

let crcTables: Int32Array | undefined;

/** CRC-32 (IEEE, as ZIP and gzip use), slicing-by-8: eight table lookups per 8 input bytes. */
export function crc32(data: Uint8Array): number {
  if (!crcTables) {
    crcTables = new Int32Array(256 * 8);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTables[n] = c;
    }
    for (let n = 0; n < 256; n++) {
      for (let t = 1; t < 8; t++)
        crcTables[t * 256 + n] = (crcTables[(t - 1) * 256 + n] >>> 8) ^ crcTables[crcTables[(t - 1) * 256 + n] & 0xff];
    }
  }
  const T = crcTables;
  let c = -1;
  let i = 0;
  const n8 = data.length - (data.length % 8);
  for (; i < n8; i += 8) {
    const a = c ^ (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24));
    c =
      T[1792 + (a & 0xff)] ^
      T[1536 + ((a >>> 8) & 0xff)] ^
      T[1280 + ((a >>> 16) & 0xff)] ^
      T[1024 + (a >>> 24)] ^
      T[768 + data[i + 4]] ^
      T[512 + data[i + 5]] ^
      T[256 + data[i + 6]] ^
      T[data[i + 7]];
  }
  for (; i < data.length; i++) c = T[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

export class ZipArchive {
  readonly entries: ReadonlyMap<string, ZipEntry>;

  private constructor(
    private readonly bytes: Uint8Array,
    readonly label: string,
    entries: Map<string, ZipEntry>,
    private readonly limits?: ReadLimits,
  ) {
    this.entries = entries;
  }

  /** Parse the central directory; `label` names the file in error messages; `limits` bounds each decoded member. */
  static open(bytes: Uint8Array, label: string, what = 'zip archive', limits?: ReadLimits): ZipArchive {
    const fail = (why: string): never => {
      throw new MedsamError(`${label} is not a valid ${what}: ${why}`, 're-download or re-export the file');
    };
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length < 22) fail(`only ${bytes.length} bytes`);
    // The end-of-central-directory record sits in the last 22..65557 bytes (it may carry a comment).
    let eocd = -1;
    for (let p = bytes.length - 22; p >= Math.max(0, bytes.length - 22 - 0xffff); p--) {
      if (dv.getUint32(p, true) === EOCD_SIG) {
        eocd = p;
        break;
      }
    }
    if (eocd < 0) fail(isLocalHeader(dv, 0) ? 'end of archive missing (the file is truncated)' : 'no ZIP signature found');
    let count = dv.getUint16(eocd + 10, true);
    let cdSize = dv.getUint32(eocd + 12, true);
    let cdOffset = dv.getUint32(eocd + 16, true);
    if (
      (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) &&
      eocd >= 20 &&
      dv.getUint32(eocd - 20, true) === EOCD64_LOCATOR_SIG
    ) {
      const z64 = Number(dv.getBigUint64(eocd - 12, true));
      if (z64 + 56 > bytes.length || dv.getUint32(z64, true) !== EOCD64_SIG) fail('ZIP64 end record is corrupt');
      count = Number(dv.getBigUint64(z64 + 32, true));
      cdSize = Number(dv.getBigUint64(z64 + 40, true));
      cdOffset = Number(dv.getBigUint64(z64 + 48, true));
    }
    if (cdOffset + cdSize > bytes.length) fail('central directory lies past the end of the file (truncated)');
    const entries = new Map<string, ZipEntry>();
    let p = cdOffset;
    const dec = new TextDecoder();
    for (let i = 0; i < count; i++) {
      if (p + 46 > bytes.length || dv.getUint32(p, true) !== CDIR_SIG) fail(`central directory entry ${i} is corrupt`);
      const method = dv.getUint16(p + 10, true);
      const crc32 = dv.getUint32(p + 16, true);
      let compressedSize = dv.getUint32(p + 20, true);
      let size = dv.getUint32(p + 24, true);
      const nameLen = dv.getUint16(p + 28, true);
      const extraLen = dv.getUint16(p + 30, true);
      const commentLen = dv.getUint16(p + 32, true);
      let localHeaderOffset = dv.getUint32(p + 42, true);
      if (p + 46 + nameLen + extraLen > bytes.length) fail(`central directory entry ${i} is truncated`);
      const name = dec.decode(bytes.subarray(p + 46, p + 46 + nameLen));
      // ZIP64 extra field: only the fields saturated in the fixed record are present, in this order.
      for (let q = p + 46 + nameLen; q + 4 <= p + 46 + nameLen + extraLen; ) {
        const id = dv.getUint16(q, true);
        const len = dv.getUint16(q + 2, true);
        if (id === 0x0001) {
          let r = q + 4;
          if (size === 0xffffffff) {
            size = Number(dv.getBigUint64(r, true));
            r += 8;
          }
          if (compressedSize === 0xffffffff) {
            compressedSize = Number(dv.getBigUint64(r, true));
            r += 8;
          }
          if (localHeaderOffset === 0xffffffff) {
            localHeaderOffset = Number(dv.getBigUint64(r, true));
          }
        }
        q += 4 + len;
      }
      entries.set(name, { name, method, compressedSize, size, crc32, localHeaderOffset });
      p += 46 + nameLen + extraLen + commentLen;
    }
    return new ZipArchive(bytes, label, entries, limits);
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** Raw stored bytes of a member, without decompression (for callers that read only a slice). */
  private memberData(e: ZipEntry): Uint8Array {
    const dv = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    const h = e.localHeaderOffset;
    if (h + 30 > this.bytes.length || !isLocalHeader(dv, h)) {
      throw new MedsamError(
        `${this.label}: member ${e.name} is missing or corrupt (the file is truncated or damaged)`,
        're-download or re-export the file',
      );
    }
    const start = h + 30 + dv.getUint16(h + 26, true) + dv.getUint16(h + 28, true);
    if (start + e.compressedSize > this.bytes.length) {
      throw new MedsamError(
        `${this.label}: member ${e.name} is truncated (needs ${start + e.compressedSize} bytes, file has ${this.bytes.length})`,
        're-download or re-export the file',
      );
    }
    return this.bytes.subarray(start, start + e.compressedSize);
  }

  /**
   * Decoded bytes of one member. Stored members are views into the archive (no copy).
   * `verify` checks the CRC-32. A deflated member is inflated with its declared size as the limit.
   */
  read(name: string, verify = true): Uint8Array {
    const e = this.entries.get(name);
    if (!e) throw new MedsamError(`${this.label} has no member ${name}`, 'check that the file is the right kind of archive');
    const raw = this.memberData(e);
    let out: Uint8Array;
    if (e.method === 0) {
      out = raw;
    } else if (e.method === 8) {
      checkByteCount(this.label, `member ${e.name}`, e.size, this.limits);
      out = inflateLimited(raw, {
        format: 'deflate',
        limit: e.size,
        label: `${this.label}: member ${e.name}`,
        declared: formatBytes(e.size),
        inflater: this.limits?.inflate,
      });
    } else {
      throw new MedsamError(
        `${this.label}: member ${e.name} uses ZIP compression method ${e.method}; only stored and deflate are supported`,
        're-save it with numpy.savez / savez_compressed or torch.save',
      );
    }
    if (out.length !== e.size) {
      throw new MedsamError(
        `${this.label}: member ${e.name} decoded to ${out.length} bytes, expected ${e.size}`,
        're-download or re-export the file',
      );
    }
    if (verify && crc32(out) !== e.crc32) {
      throw new MedsamError(
        `${this.label}: member ${e.name} fails its CRC-32 check (the file is corrupt)`,
        're-download or re-export the file',
      );
    }
    return out;
  }
}

function isLocalHeader(dv: DataView, p: number): boolean {
  return dv.byteLength >= p + 4 && dv.getUint32(p, true) === LOCAL_SIG;
}

export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

/** Build a ZIP archive in memory (fflate): deflate level 6 when `compress`, else stored. */
export function buildZip(members: Record<string, Uint8Array>, compress: boolean): Uint8Array {
  const z: Zippable = {};
  for (const [name, data] of Object.entries(members)) z[name] = [data, { level: compress ? 6 : 0 }];
  return zipSync(z, { mtime: new Date('2000-01-01T12:00:00Z') });
}
