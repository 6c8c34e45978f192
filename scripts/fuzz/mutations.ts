/**
 * Seeded damage for the reader fuzzer: each mutation takes a valid seed and returns one damaged
 * copy plus a short description (enough to rebuild the case by hand). Kinds: bit flips, byte runs
 * set to 0x00/0xFF/random, binary header fields set to extremes (0, -1, 2^31-1, NaN/Inf floats),
 * truncation, a duplicated chunk, text header numbers/values set to extremes or made overlong,
 * damage inside a gzip payload (recompressed, so it reaches the parser), a gzip bomb, and damage
 * inside one zip member (the archive rebuilt, CRCs valid). Hand-written: no fuzzing library drives
 * typed readers in-process with a fixed seed and format-aware mutations.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { buildZip, ZipArchive } from '../../src/io/zip.js';
import type { ReaderSeed } from './readerSeeds.js';

export interface Mutant {
  bytes: Uint8Array;
  what: string;
}

type Rng = () => number;

const int = (rng: Rng, n: number): number => Math.floor(rng() * n);
const pick = <T>(rng: Rng, a: readonly T[]): T => a[int(rng, a.length)];

/** An offset, mostly inside the header. */
function offset(rng: Rng, seed: { headerLength: number }, len: number): number {
  const h = Math.min(len, Math.max(1, seed.headerLength));
  return rng() < 0.8 ? int(rng, h) : int(rng, len);
}

function bitFlips(b: Uint8Array, rng: Rng, s: ReaderSeed): Mutant {
  const out = b.slice();
  const k = 1 + int(rng, 8);
  const at: number[] = [];
  for (let i = 0; i < k; i++) {
    const p = offset(rng, s, out.length);
    out[p] ^= 1 << int(rng, 8);
    at.push(p);
  }
  return { bytes: out, what: `bit flips at ${at.join(',')}` };
}

function byteRun(b: Uint8Array, rng: Rng, s: ReaderSeed): Mutant {
  const out = b.slice();
  const p = offset(rng, s, out.length);
  const n = 1 + int(rng, 32);
  const fill = pick(rng, [0x00, 0xff, -1]);
  for (let i = p; i < Math.min(out.length, p + n); i++) out[i] = fill < 0 ? int(rng, 256) : fill;
  return { bytes: out, what: `${n} bytes at ${p} set to ${fill < 0 ? 'random' : `0x${fill.toString(16)}`}` };
}

const INT_EXTREMES = [0, -1, 1, 2 ** 31 - 1, -(2 ** 31), 2 ** 15 - 1, -(2 ** 15), 65535, 0x7fff_fff0];
const FLOAT_EXTREMES = [Number.NaN, Infinity, -Infinity, 0, -0, 1e38, -1e38, 1e-45];

/** A binary field (int16/int32/float32/float64, either byte order) at an aligned header offset set to an extreme. */
function headerField(b: Uint8Array, rng: Rng, s: ReaderSeed): Mutant {
  const out = b.slice();
  const kind = pick(rng, ['i16', 'i32', 'f32', 'f64', 'u64'] as const);
  const size = kind === 'i16' ? 2 : kind === 'f64' || kind === 'u64' ? 8 : 4;
  const p = Math.min(Math.max(0, out.length - size), offset(rng, s, out.length) & ~(size - 1));
  if (p + size > out.length) return bitFlips(b, rng, s);
  const le = rng() < 0.75;
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let v: number | bigint;
  if (kind === 'i16') dv.setInt16(p, ((v = pick(rng, INT_EXTREMES)) << 16) >> 16, le);
  else if (kind === 'i32') dv.setInt32(p, (v = pick(rng, INT_EXTREMES)) | 0, le);
  else if (kind === 'f32') dv.setFloat32(p, (v = pick(rng, FLOAT_EXTREMES)), le);
  else if (kind === 'f64') dv.setFloat64(p, (v = pick(rng, FLOAT_EXTREMES)), le);
  else dv.setBigUint64(p, (v = pick(rng, [0n, 2n ** 63n - 1n, 2n ** 64n - 1n, 2n ** 40n])), le);
  return { bytes: out, what: `${kind} ${le ? 'LE' : 'BE'} at ${p} = ${String(v)}` };
}

function truncate(b: Uint8Array, rng: Rng, s: ReaderSeed): Mutant {
  const at = rng() < 0.5 ? offset(rng, s, b.length) : int(rng, b.length);
  return { bytes: b.slice(0, at), what: `truncated at ${at} of ${b.length}` };
}

function duplicate(b: Uint8Array, rng: Rng, s: ReaderSeed): Mutant {
  const from = offset(rng, s, b.length);
  const n = 1 + int(rng, Math.min(512, b.length - from));
  const at = offset(rng, s, b.length);
  const out = new Uint8Array(b.length + n);
  out.set(b.subarray(0, at));
  out.set(b.subarray(from, from + n), at);
  out.set(b.subarray(at), at + n);
  return { bytes: out, what: `${n} bytes from ${from} duplicated at ${at}` };
}

const TEXT_EXTREMES = [
  '0',
  '-1',
  '2147483647',
  '-2147483648',
  '4294967296',
  '1e308',
  '-1e308',
  'NaN',
  'nan',
  'inf',
  '-inf',
  'Infinity',
  '1e-320',
  '0x10',
  '3.5',
  '99999999999999999999',
  '',
];

/** In a text header: a number set to an extreme, a value replaced by another line's, or a value made overlong. */
function textField(b: Uint8Array, rng: Rng, s: ReaderSeed): Mutant {
  const head = new TextDecoder('latin1').decode(b.subarray(0, s.headerLength));
  const tail = b.subarray(s.headerLength);
  const nums = [...head.matchAll(/-?\d+(\.\d+)?(e[-+]?\d+)?/gi)];
  const lines = [...head.matchAll(/^([^:=\n]+)([:=]=?\s*)(.*)$/gm)];
  const mode = int(rng, 4);
  let h = head,
    what: string;
  if (mode <= 1 && nums.length) {
    const m = pick(rng, nums);
    const v = pick(rng, TEXT_EXTREMES);
    h = head.slice(0, m.index) + v + head.slice(m.index! + m[0].length);
    what = `text number '${m[0]}' at ${m.index} -> '${v}'`;
  } else if (mode === 2 && lines.length > 1) {
    const a = pick(rng, lines),
      c = pick(rng, lines);
    h = head.slice(0, a.index) + a[1] + a[2] + c[3] + head.slice(a.index! + a[0].length);
    what = `text value of '${a[1].trim()}' -> '${c[3].slice(0, 40)}'`;
  } else if (lines.length) {
    const a = pick(rng, lines);
    const long = pick(rng, ['9', 'x', ' 1', '(1,']).repeat(50_000 + int(rng, 100_000));
    h = head.slice(0, a.index) + a[1] + a[2] + long + head.slice(a.index! + a[0].length);
    what = `text value of '${a[1].trim()}' made ${long.length} chars`;
  } else return byteRun(b, rng, s);
  const hb = Uint8Array.from(h, (c) => c.charCodeAt(0) & 0xff);
  const out = new Uint8Array(hb.length + tail.length);
  out.set(hb);
  out.set(tail, hb.length);
  return { bytes: out, what };
}

/** Damage the inflated payload of a gzip stream and recompress it (a valid stream of bad content), or cut/bomb the stream. */
function insideGzip(b: Uint8Array, rng: Rng, s: ReaderSeed): Mutant {
  const at = s.gzipAt!;
  let inner: Uint8Array;
  try {
    inner = new Uint8Array(gunzipSync(b.subarray(at)));
  } catch {
    return bitFlips(b, rng, s);
  }
  const mode = int(rng, 4);
  let damaged: Mutant;
  if (mode === 0) {
    // A bomb: the stream inflates to far more than anything the header declares.
    const size = pick(rng, [16, 64]) * 1024 * 1024;
    damaged = { bytes: concatAll([inner, new Uint8Array(size)]), what: `gzip payload padded with ${size / 2 ** 20} MiB of zeros (bomb)` };
  } else {
    const innerSeed = { ...s, headerLength: at === 0 ? Math.min(inner.length, 352) : 0, gzipAt: undefined };
    damaged = pick(rng, [bitFlips, byteRun, headerField, truncate])(inner, rng, innerSeed as ReaderSeed);
    damaged.what = `inside gzip: ${damaged.what}`;
  }
  return { bytes: concatAll([b.subarray(0, at), new Uint8Array(gzipSync(damaged.bytes, { level: 1 }))]), what: damaged.what };
}

/** Damage one member of a zip and rebuild the archive (so the damage reaches the member's parser), or add a bomb member. */
function insideZip(b: Uint8Array, rng: Rng, s: ReaderSeed): Mutant {
  let zip: ZipArchive;
  try {
    zip = ZipArchive.open(b, 'seed');
  } catch {
    return bitFlips(b, rng, s);
  }
  const members: Record<string, Uint8Array> = {};
  for (const n of zip.names()) members[n] = zip.read(n);
  const names = Object.keys(members);
  const victim = pick(rng, names);
  let what: string;
  let compress = rng() < 0.5;
  if (rng() < 0.15) {
    // A bomb is small only deflated: a stored 64 MiB member is just a big file.
    compress = true;
    const size = pick(rng, [16, 64]) * 1024 * 1024;
    members[victim] = concatAll([members[victim], new Uint8Array(size)]);
    what = `zip member ${victim} padded with ${size / 2 ** 20} MiB of zeros (bomb)`;
  } else if (rng() < 0.1) {
    delete members[victim];
    what = `zip member ${victim} removed`;
  } else {
    const memberSeed = { ...s, headerLength: victim.endsWith('.npy') ? 128 : 2048, zip: false, text: false };
    const m = pick(rng, [bitFlips, byteRun, headerField, truncate, duplicate])(members[victim], rng, memberSeed as ReaderSeed);
    members[victim] = m.bytes;
    what = `zip member ${victim}: ${m.what}`;
  }
  return { bytes: buildZip(members, compress), what };
}

function concatAll(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** One seeded mutation of `seed`, chosen among the kinds that fit it. */
export function mutate(seed: ReaderSeed, rng: Rng): Mutant {
  const kinds = [bitFlips, byteRun, headerField, truncate, duplicate];
  if (seed.text) kinds.push(textField, textField, textField);
  if (seed.gzipAt !== undefined) kinds.push(insideGzip, insideGzip);
  if (seed.zip) kinds.push(insideZip, insideZip, insideZip);
  const m = pick(rng, kinds)(seed.bytes, rng, seed);
  // Sometimes a second kind on top of the first.
  if (rng() < 0.2) {
    const m2 = pick(rng, [bitFlips, byteRun, headerField, truncate])(m.bytes, rng, seed);
    return { bytes: m2.bytes, what: `${m.what}; ${m2.what}` };
  }
  return m;
}
