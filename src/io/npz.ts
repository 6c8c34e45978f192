import { readFile } from 'node:fs/promises';
import { MedsamError } from '../common/errors.js';
import { writeFileAtomic } from './atomicWrite.js';
import { readFileBytes } from './fileBytes.js';
import type { NdArray } from './ndarray.js';
import { encodeNpy, parseNpy } from './npy.js';
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
export function openNpzBytes(bytes: Uint8Array, label = '.npz data'): NpzFile {
  const zip = ZipArchive.open(bytes, label, '.npz archive');
  const keys = zip.names().filter((n) => n.endsWith('.npy')).map((n) => n.slice(0, -4));
  return {
    keys: () => [...keys],
    has: (key) => zip.has(memberName(key)),
    get(key) {
      if (!zip.has(memberName(key))) {
        const shown = keys.slice(0, 20).join(', ') + (keys.length > 20 ? ', …' : '');
        throw new MedsamError(`${label} has no array '${key}' (it has: ${shown || 'nothing'})`, 'pass one of the listed keys');
      }
      return parseNpy(zip.read(memberName(key)), `${label}:${key}`);
    },
  };
}

/** Open a .npz file (synchronous read; arrays decoded on demand). */
export function openNpz(path: string): NpzFile {
  return openNpzBytes(readFileBytes(path, '.npz file'), path);
}

/** Read every array of a .npz (numpy.savez or savez_compressed); keys have no `.npy` suffix. */
export async function readNpz(pathOrBytes: string | Uint8Array): Promise<Record<string, NdArray>> {
  let f: NpzFile;
  if (typeof pathOrBytes === 'string') {
    const b = await readNpzFileBytes(pathOrBytes);
    f = openNpzBytes(b, pathOrBytes);
  } else {
    f = openNpzBytes(pathOrBytes);
  }
  const out: Record<string, NdArray> = {};
  for (const k of f.keys()) out[k] = f.get(k);
  return out;
}

async function readNpzFileBytes(path: string): Promise<Uint8Array> {
  try {
    const b = await readFile(path);
    if (b.length === 0) throw new MedsamError(`.npz file ${path} is empty (0 bytes)`, 're-export the file');
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    if (e instanceof MedsamError) throw e;
    return readFileBytes(path, '.npz file'); // turns ENOENT / EISDIR / EACCES into the usual one-line errors
  }
}

/** Encode arrays as .npz bytes (deflated when `compress`, as numpy.savez_compressed; else stored, as numpy.savez). */
export function encodeNpz(arrays: Record<string, NdArray>, opts: { compress?: boolean } = {}): Uint8Array {
  const members: Record<string, Uint8Array> = {};
  for (const [k, a] of Object.entries(arrays)) members[memberName(k)] = encodeNpy(a);
  return buildZip(members, opts.compress ?? false);
}

/** Write a .npz atomically (temp file + rename). */
export async function writeNpz(path: string, arrays: Record<string, NdArray>, opts: { compress?: boolean } = {}): Promise<void> {
  writeFileAtomic(path, encodeNpz(arrays, opts));
}
