import { Gunzip, Inflate, Unzlib } from 'fflate';
import { MedsamError, errorMessage } from '../common/errors.js';
import { formatBytes, isGzip } from './bytes.js';

/**
 * Inflate with an output limit, as a stream: the compressed bytes are fed in small pieces and
 * decoding stops as soon as the output passes `limit`, so a decompression bomb (8 MB that would
 * inflate to 8 GiB) is refused after producing at most `limit` + one piece's worth of output,
 * never the whole thing. fflate's streaming classes are used (browser-safe, synchronous, no
 * Node zlib), which also keeps every parser a plain synchronous function over bytes.
 */

export type CompressedFormat = 'gzip' | 'zlib' | 'deflate' | 'auto';

/**
 * An injected inflater for a whole stream: the output, or null when it would pass `limit` (it must
 * stop there, not inflate everything first); throws on corrupt data. The Node layer injects
 * native zlib with maxOutputLength (about 10x faster than fflate on big volumes, and it stops a
 * bomb inside C++ without JS garbage); without one, fflate's streaming classes are used.
 */
export type Inflater = (data: Uint8Array, format: 'gzip' | 'zlib' | 'deflate', limit: number) => Uint8Array | null;

export interface InflateOptions {
  format: CompressedFormat;
  /** Most bytes the output may have; more is refused (a bomb or a lying header). */
  limit: number;
  /** Names the file in messages. */
  label: string;
  /** What the header declared, for the message (e.g. "128x128x64 int16 = 2 MiB"). */
  declared?: string;
  /** Stop (without error) once at least this many bytes came out: for reading a header first. */
  prefix?: number;
  /** Whole-stream inflater to use instead of fflate (not for `prefix` reads). */
  inflater?: Inflater;
}

/**
 * Each push can inflate at most ~1032x its size (deflate's ceiling). The piece is sized so one
 * push's output stays under an eighth of the limit (4 KiB .. 1 MiB): peak memory is then about
 * the output buffer plus fflate's working copy of one push, under 2x the declared size. Small
 * pieces cost a little speed on small files, never memory.
 */
function pieceSize(limit: number): number {
  return Math.max(4 * 1024, Math.min(1024 * 1024, Math.floor(limit / 8256)));
}

class Enough extends Error {}

/** gzip / zlib / raw deflate bytes → the inflated bytes, refusing more than `limit`. */
export function inflateLimited(data: Uint8Array, opts: InflateOptions): Uint8Array {
  const format = opts.format === 'auto' ? (isGzip(data) ? 'gzip' : 'zlib') : opts.format;
  if (opts.inflater && opts.prefix === undefined) {
    let out: Uint8Array | null;
    try {
      out = opts.inflater(data, format, opts.limit);
    } catch (e) {
      return corrupt(opts.label, format, errorMessage(e));
    }
    if (out === null) overLimit(opts);
    return out;
  }
  // The declared size is known: allocate it once (untouched pages cost nothing until written).
  let out = new Uint8Array(Math.min(opts.limit, opts.prefix !== undefined ? Math.max(64 * 1024, opts.prefix) : opts.limit));
  const PIECE = pieceSize(Math.min(opts.limit, opts.prefix ?? Infinity));
  let n = 0;
  let over = false;
  const ondata = (chunk: Uint8Array): void => {
    if (n + chunk.length > opts.limit) {
      over = true;
      n += chunk.length;
      throw new Enough();
    }
    if (n + chunk.length > out.length) {
      const grown = new Uint8Array(Math.min(opts.limit, Math.max(out.length * 2, n + chunk.length)));
      grown.set(out.subarray(0, n));
      out = grown;
    }
    out.set(chunk, n);
    n += chunk.length;
    if (opts.prefix !== undefined && n >= opts.prefix) throw new Enough();
  };
  let members = 1;
  const stream = format === 'gzip' ? new Gunzip(ondata) : format === 'zlib' ? new Unzlib(ondata) : new Inflate(ondata);
  if (stream instanceof Gunzip)
    stream.onmember = () => {
      members++;
    };
  try {
    for (let p = 0; p < data.length; p += PIECE) {
      const end = Math.min(data.length, p + PIECE);
      stream.push(data.subarray(p, end), end === data.length);
    }
    if (data.length === 0) stream.push(new Uint8Array(0), true);
  } catch (e) {
    if (!(e instanceof Enough)) corrupt(opts.label, format, errorMessage(e));
    if (over) overLimit(opts);
  }
  // fflate does not check the gzip trailer: a cut inside it would pass. One member: ISIZE = length mod 2^32.
  if (format === 'gzip' && !over && (opts.prefix === undefined || n < opts.prefix)) {
    const tail = data.length >= 18 ? new DataView(data.buffer, data.byteOffset + data.length - 4, 4).getUint32(0, true) : -1;
    if (tail < 0 || (members === 1 && tail !== n % 2 ** 32)) corrupt(opts.label, format, 'the gzip trailer is missing or wrong');
  }
  return out.length === n ? out : out.subarray(0, n);
}

function overLimit(opts: InflateOptions): never {
  throw new MedsamError(
    `${opts.label}: compressed data inflates past ${formatBytes(opts.limit)}, but the header declares ${opts.declared ?? formatBytes(opts.limit)} (stopped reading there)`,
    'the file is corrupt or a decompression bomb; re-export it from the original',
  );
}

function corrupt(label: string, format: string, why: string): never {
  const what = format === 'gzip' ? ' is not valid gzip data' : ': compressed voxel data is corrupt';
  throw new MedsamError(`${label}${what} (${why}); the file is truncated or corrupt`, 're-export or re-download the file');
}

/** Slack allowed past the declared size: trailing padding some writers leave. */
export function inflateSlack(declared: number): number {
  return 64 * 1024 + Math.ceil(declared / 1024);
}
