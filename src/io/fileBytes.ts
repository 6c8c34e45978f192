// Node layer: reading input files by path. The parsers themselves take bytes and never touch fs.
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { MedsamError, errorMessage } from '../common/errors.js';
import { formatBytes } from './bytes.js';
import { nativeInflate } from './nativeInflate.js';
import { DEFAULT_MAX_VOXELS, maxBytesOf, type ReadLimits } from './readLimits.js';

/**
 * Read a whole input file, turning the usual filesystem failures into one-line MedsamErrors.
 * A file larger than the byte budget (`limits`, see readLimits.ts) is refused before reading.
 */
export function readFileBytes(path: string, what = 'file', limits?: ReadLimits): Uint8Array {
  if (!existsSync(path)) throw new MedsamError(`${what} ${path} does not exist`, 'check the path');
  const st = statSync(path);
  if (st.isDirectory()) throw new MedsamError(`${what} ${path} is a folder, not a file`, 'pass a file path');
  if (!st.isFile()) throw new MedsamError(`${what} ${path} is not a regular file`, 'pass a file saved on disk');
  if (st.size === 0) throw new MedsamError(`${what} ${path} is empty (0 bytes)`, 're-export the file');
  const max = maxBytesOf(limits);
  if (st.size > max) {
    throw new MedsamError(
      `${what} ${path} is ${formatBytes(st.size)}, above the limit of ${formatBytes(max)}`,
      'if the image is real, raise the limit with --max-voxels N (or MEDSAM2_MAX_VOXELS=N)',
    );
  }
  try {
    const b = readFileSync(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    throw new MedsamError(`cannot read ${what} ${path}: ${errorMessage(e)}`, 'check the file permissions');
  }
}

/** The first `n` bytes of a file (fewer if it is shorter). */
export function readFileHead(path: string, n: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const buf = new Uint8Array(n);
    const got = readSync(fd, buf, 0, n, 0);
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/**
 * The voxel limit for reads by path: opts.maxVoxels, else MEDSAM2_MAX_VOXELS, else the default
 * (2^29). A malformed variable is an error rather than silently no limit.
 */
export function limitsFromEnv(opts: ReadLimits = {}): ReadLimits {
  const inflate = opts.inflate ?? nativeInflate;
  if (opts.maxVoxels !== undefined) return { ...opts, inflate };
  const env = process.env.MEDSAM2_MAX_VOXELS;
  if (env === undefined || env === '') return { ...opts, inflate, maxVoxels: DEFAULT_MAX_VOXELS };
  const v = Number(env);
  if (!Number.isSafeInteger(v) || v < 1)
    throw new MedsamError(
      `MEDSAM2_MAX_VOXELS='${env}' is not a whole number >= 1`,
      `unset it (default ${DEFAULT_MAX_VOXELS}) or give a voxel count, e.g. MEDSAM2_MAX_VOXELS=1000000000`,
    );
  return { ...opts, inflate, maxVoxels: v };
}
