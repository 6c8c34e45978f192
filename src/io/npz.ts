// Node-free: .npz from and to bytes; the path forms are in npzFile.ts.
import { MedsamError } from '../common/errors.js';
import type { NdArray } from './ndarray.js';
import { encodeNpy, parseNpy } from './npy.js';
import type { ReadLimits } from './readLimits.js';
import { ZipArchive, buildZip } from './zip.js';

/** An opened .npz whose members are decoded on demand (fixture archives hold many keys). */
export interface NpzFile {
  /** Array names, without the `.npy` suffix, in archive order. */
  keys(): string[];
  has(key: string): boolean;
  /** Decode one array; throws MedsamError naming the available keys when it is absent. */
  get(key: string): NdArray;
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
  return {
    keys: () => [...keys],
    has: (key) => zip.has(memberName(key)),
    get(key) {
      if (!zip.has(memberName(key))) {
        const shown = keys.slice(0, 20).join(', ') + (keys.length > 20 ? ', …' : '');
        throw new MedsamError(`${label} has no array '${key}' (it has: ${shown || 'nothing'})`, 'pass one of the listed keys');
      }
      return parseNpy(zip.read(memberName(key)), `${label}:${key}`, limits);
    },
  };
}

/** Every array of a .npz (numpy.savez or savez_compressed) given as bytes; keys have no `.npy` suffix. */
export function readNpzBytes(bytes: Uint8Array, label = '.npz data', limits?: ReadLimits): Record<string, NdArray> {
  const f = openNpzBytes(bytes, label, limits);
  const out: Record<string, NdArray> = {};
  for (const k of f.keys()) out[k] = f.get(k);
  return out;
}

/** Encode arrays as .npz bytes (deflated when `compress`, as numpy.savez_compressed; else stored, as numpy.savez). */
export function encodeNpz(arrays: Record<string, NdArray>, opts: { compress?: boolean } = {}): Uint8Array {
  const members: Record<string, Uint8Array> = {};
  for (const [k, a] of Object.entries(arrays)) members[memberName(k)] = encodeNpy(a);
  return buildZip(members, opts.compress ?? false);
}
