// Node-free: .npz from and to bytes; the path forms are in npzFile.ts.
import { MedsamError } from '../common/errors.js';
import type { NdArray } from './ndarray.js';
import { encodeNpy, isNpyTextDescr, parseNpy, parseNpyHeader } from './npy.js';
import { encodeNpyText, parseNpyText } from './npyText.js';
import type { ReadLimits } from './readLimits.js';
import { ZipArchive, buildZip } from './zip.js';

/** An opened .npz whose members are decoded on demand (fixture archives hold many keys). */
export interface NpzFile {
  /** Array names, without the `.npy` suffix, in archive order. */
  keys(): string[];
  has(key: string): boolean;
  /** Decode one array; throws MedsamError naming the available keys when it is absent. */
  get(key: string): NdArray;
  /** Whether a member is a text array (numpy '<U<n>'), read with strings() rather than get(). */
  isText(key: string): boolean;
  /** Decode a 1-D text array (npyText.ts); throws like get() when absent or not text. */
  strings(key: string): string[];
}

function memberName(key: string): string {
  return key.endsWith('.npy') ? key : `${key}.npy`;
}

/** Open a .npz from bytes (label names it in errors) without decoding any array yet. */
export function openNpzBytes(bytes: Uint8Array, label = '.npz data', limits?: ReadLimits): NpzFile {
  const zip = ZipArchive.open(bytes, label, '.npz archive', limits);
  const keys = zip
    .names()
    .filter((n) => n.endsWith('.npy'))
    .map((n) => n.slice(0, -4));
  // The member isText() read, kept until the next get()/strings() so isText(k) then get(k) inflates it once (readNpzBytes).
  let last: { key: string; bytes: Uint8Array } | undefined;
  const member = (key: string): Uint8Array => {
    if (!zip.has(memberName(key))) {
      const shown = keys.slice(0, 20).join(', ') + (keys.length > 20 ? ', …' : '');
      throw new MedsamError(`${label} has no array '${key}' (it has: ${shown || 'nothing'})`, 'pass one of the listed keys');
    }
    const bytes = last?.key === key ? last.bytes : zip.read(memberName(key));
    last = undefined;
    return bytes;
  };
  return {
    keys: () => [...keys],
    has: (key) => zip.has(memberName(key)),
    get: (key) => parseNpy(member(key), `${label}:${key}`, limits),
    isText: (key) => {
      const bytes = member(key);
      last = { key, bytes };
      return isNpyTextDescr(parseNpyHeader(bytes, `${label}:${key}`).descr);
    },
    strings: (key) => parseNpyText(member(key), `${label}:${key}`),
  };
}

/**
 * Every numeric array of a .npz (numpy.savez or savez_compressed) given as bytes; keys have no `.npy`
 * suffix. Text arrays (e.g. the `names` of a video session's masks.npz) are not numbers and are left
 * out here: read them with openNpzBytes(...).strings(key).
 */
export function readNpzBytes(bytes: Uint8Array, label = '.npz data', limits?: ReadLimits): Record<string, NdArray> {
  const f = openNpzBytes(bytes, label, limits);
  const out: Record<string, NdArray> = {};
  for (const k of f.keys()) if (!f.isText(k)) out[k] = f.get(k);
  return out;
}

/** Encode arrays as .npz bytes (deflated when `compress`, as numpy.savez_compressed; else stored, as numpy.savez). */
export function encodeNpz(
  arrays: Record<string, NdArray>,
  opts: { compress?: boolean; text?: Record<string, readonly string[]> } = {},
): Uint8Array {
  const members: Record<string, Uint8Array> = {};
  for (const [k, a] of Object.entries(arrays)) members[memberName(k)] = encodeNpy(a);
  // Text arrays (numpy '<U<n>'), loadable without pickle.
  for (const [k, t] of Object.entries(opts.text ?? {})) members[memberName(k)] = encodeNpyText(t);
  return buildZip(members, opts.compress ?? false);
}
